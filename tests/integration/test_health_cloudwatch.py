"""``kafkaops health`` with CloudWatch *and* Prometheus configured on one cluster (issue 5).

The Kafka cluster is the real sandbox; CloudWatch is moto in server mode on loopback (no AWS
account exists here), loaded with AWS/Kafka datapoints as MSK would publish them.  Checks that
the configured order decides (CloudWatch first → its CPU wins), that a value CloudWatch does not
publish (failed produce requests) falls through to Prometheus, and that EstimatedMaxTimeLag
(seconds in CloudWatch) becomes the runbook's milliseconds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import yaml

from tests import kafka_helpers as kh
from tests.aws import put_kafka_metric
from tests.conftest import run_cli

REGION = "eu-west-1"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def test_cloudwatch_first_then_prometheus(
    sandbox, bootstrap, unique_name, moto_url, tmp_path: Path
):
    cluster = "sbx-" + unique_name[-8:]
    topic, group = unique_name, f"{unique_name}-billing"
    kh.create_topic(bootstrap, topic, partitions=1, rf=3)
    kh.produce(bootstrap, topic, 20, 1)
    kh.commit(bootstrap, group, {(topic, 0): 5})

    cw = boto3.client(
        "cloudwatch",
        region_name=REGION,
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    at = datetime.now(UTC) - timedelta(minutes=2)
    for broker in ("1", "2", "3"):
        put_kafka_metric(cw, cluster, at, "CpuUser", 60.0, "Percent", broker=broker)
        put_kafka_metric(cw, cluster, at, "CpuSystem", 35.0, "Percent", broker=broker)
        put_kafka_metric(cw, cluster, at, "MemoryUsed", 3e9, "Bytes", broker=broker)
        put_kafka_metric(cw, cluster, at, "MemoryFree", 5e9, "Bytes", broker=broker)
    lag = {"group": group, "topic": topic}
    put_kafka_metric(cw, cluster, at, "EstimatedMaxTimeLag", 420.0, "Seconds", **lag)

    prometheus = sandbox.prometheus_settings().model_dump(mode="json", exclude_defaults=True)
    prometheus.update(window="3s", timeout="2s")
    cfg = {
        "clusters": {
            cluster: {
                "bootstrap": sandbox.bootstrap(),
                # Offset lag only: the group's time lag must come from CloudWatch.
                "time_lag_method": "none",
                "metrics": {
                    "sources": ["admin", "cloudwatch", "prometheus"],
                    "cloudwatch": {
                        "cluster_name": cluster,
                        "region": REGION,
                        "endpoint_url": moto_url,
                        "lookback": "15m",
                    },
                    "prometheus": prometheus,
                    "network_bandwidth": "1Gbps",
                },
            }
        }
    }
    path = tmp_path / "kafkaops.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = run_cli("health", "--json", "--config", str(path), env=AWS_ENV)
    assert proc.stdout, proc.stderr
    report = json.loads(proc.stdout)

    cpu = [c for c in report["checks"] if c["rule"] == "broker_cpu"]
    assert {c["subject"] for c in cpu} == {"broker 1", "broker 2", "broker 3"}
    assert all(c["value"] == 95.0 and c["source"].startswith("cloudwatch") for c in cpu)
    assert all(c["status"] == "triggered" for c in cpu)
    memory = [c for c in report["checks"] if c["rule"] == "broker_memory"]
    assert all(c["value"] == 37.5 and c["source"].startswith("cloudwatch") for c in memory)
    [errors] = [c for c in report["checks"] if c["rule"] == "producer_error_rate"]
    assert errors["source"].startswith("prometheus"), errors
    [lag] = [f for f in report["findings"] if f["rule"] == "consumer_lag"]
    assert lag["subject"] == group and lag["value"] == 420_000 and lag["severity"] == "P1"
    assert lag["source"].startswith("cloudwatch")
    sources = [s["source"] for s in report["summary"]["metrics_sources"]]
    assert sources == ["cloudwatch", "prometheus"]
    assert "testing" not in proc.stdout + proc.stderr
