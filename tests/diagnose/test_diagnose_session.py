"""``kafkaops jvm`` and ``kafkaops producers --source cloudwatch`` on the session cluster."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import yaml

from kafkaops.sandbox.cluster import Sandbox
from tests.aws import put_kafka_metric
from tests.conftest import run_cli

pytestmark = pytest.mark.integration
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def test_jvm_reports_every_node_against_the_runbook(sandbox: Sandbox) -> None:
    proc = run_cli("jvm", "--dir", str(sandbox.root), "--window", "1", "--json")
    assert proc.returncode == 1, proc.stderr  # P2: the sandbox runs SerialGC on small heaps
    report = json.loads(proc.stdout)
    nodes = {n["node_id"]: n for n in report["nodes"]}
    assert {1, 2, 3} <= set(nodes)  # brokers, and the controller too
    assert len(nodes) == 4, nodes.keys()
    for n in nodes.values():
        assert n["error"] is None, n
        assert n["gc"] == "Serial" and 0 < n["heap_max_bytes"] <= 512 * 1024**2
        assert n["gc_time_percent"] is not None and n["runtime"]
    codes = {(f["subject"], f["code"]) for f in report["findings"]}
    assert ("node 1", "gc_not_g1") in codes and ("node 1", "heap_small") in codes
    text = run_cli("jvm", "--dir", str(sandbox.root), "--window", "1")
    assert text.returncode == 1, text.stderr
    assert all(len(line) <= 80 for line in text.stdout.splitlines()), text.stdout
    assert "MaxGCPauseMillis" in text.stdout  # what the exporter cannot show is named


def test_producers_from_cloudwatch_for_a_cluster_without_jmx(
    sandbox: Sandbox, moto_url: str, unique_name: str, tmp_path: Path
) -> None:
    cluster = "sbx-" + unique_name[-8:]
    cw = boto3.client("cloudwatch", region_name="eu-west-1", endpoint_url=moto_url,
                      aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    at = datetime.now(UTC) - timedelta(minutes=2)
    for broker in ("1", "2", "3"):
        slow = broker == "3"
        for metric, value in (
            ("ProduceTotalTimeMsMean", 180.0 if slow else 3.0),
            ("ProduceRequestQueueTimeMsMean", 150.0 if slow else 0.5),
            ("ProduceLocalTimeMsMean", 20.0 if slow else 1.5),
            ("ProduceResponseQueueTimeMsMean", 0.1),
            ("ProduceResponseSendTimeMsMean", 0.1),
            ("RequestHandlerAvgIdlePercent", 0.05 if slow else 0.9),
        ):
            put_kafka_metric(cw, cluster, at, metric, value, "None", broker=broker)
    cfg = {"clusters": {cluster: {
        "bootstrap": sandbox.bootstrap(),
        "metrics": {"cloudwatch": {"cluster_name": cluster, "region": "eu-west-1",
                                   "endpoint_url": moto_url, "lookback": "15m"}},
    }}}  # fmt: skip
    path = tmp_path / "kafkaops.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = run_cli("producers", "-c", str(path), "--json", env=AWS_ENV)
    assert proc.returncode == 1, proc.stderr  # P2
    report = json.loads(proc.stdout)
    assert report["source"] == "cloudwatch"
    [cause] = [c for c in report["causes"] if c["subject"] == "broker 3"]
    assert cause["code"] == "queue_time" and not cause["client_side"]
    assert "idle 5%" in " ".join(cause["evidence"])
    assert not [c for c in report["causes"] if c["subject"] != "broker 3"]
    text = run_cli("producers", "-c", str(path), env=AWS_ENV)
    assert "CloudWatch" in text.stdout and "testing" not in text.stdout + text.stderr
