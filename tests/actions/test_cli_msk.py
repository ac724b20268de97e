"""``kafkaops msk`` end to end, in process: the describe goes to moto, the operations (which
moto lacks) to a Stubber-validated client through the CLI's ``_api_factory``."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kafkaops.actions.msk import MskApi
from kafkaops.cli import msk as cli

NOW = datetime.now(UTC)
OP = "arn:aws:kafka:eu-west-1:123456789012:cluster-operation/prod-msk/x/op-1"


def _config(tmp_path: Path, arn: str, aws: str, extra: str = "") -> Path:
    path = tmp_path / "kafkaops.yaml"
    path.write_text(
        f"store:\n  url: sqlite:///{tmp_path / 'h.db'}\n"
        "actions:\n  storage_step_gib: 100\n  storage_cap_gib: 1200\n  poll_interval: 1ms\n"
        f"  msk:\n    prod:\n      cluster_arn: {arn}\n      endpoint_url: {aws}\n" + extra
    )
    return path


def _ops(stub, arn: str, *ops: dict) -> None:
    stub.add_response("list_cluster_operations_v2", {"ClusterOperationInfoList": list(ops)},
                      {"ClusterArn": arn, "MaxResults": 50})  # fmt: skip


@pytest.fixture
def wired(msk_cluster, stubbed, monkeypatch, aws, tmp_path):
    kafka, arn = msk_cluster
    client, stub = stubbed
    monkeypatch.setattr(cli, "_api_factory", lambda _t: MskApi(kafka, client))
    return arn, stub, _config(tmp_path, arn, aws)


def _run(*args: str):
    return CliRunner().invoke(cli.msk_app, list(args), catch_exceptions=False)


def test_dry_run_prints_the_exact_request_and_sends_nothing(wired) -> None:
    arn, stub, cfg = wired
    _ops(stub, arn)  # only the read: an update_broker_storage would fail the Stubber
    r = _run("scale", "storage", "--by", "100", "-c", str(cfg), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["applied"] is False
    assert out["request"]["TargetBrokerEBSVolumeInfo"] == [
        {"KafkaBrokerNodeId": "All", "VolumeSizeGB": 1100}
    ]
    assert out["request"]["CurrentVersion"] == "1.0"


def test_refusal_names_the_reason_and_is_audited(wired) -> None:
    arn, stub, cfg = wired
    recent = {"OperationArn": "arn:op:0", "OperationType": "UPDATE_BROKER_STORAGE",
              "OperationState": "UPDATE_COMPLETE", "StartTime": NOW - timedelta(hours=2),
              "EndTime": NOW - timedelta(hours=1)}  # fmt: skip
    _ops(stub, arn, recent)
    r = _run("scale", "storage", "--by", "100", "-c", str(cfg), "--apply")
    assert r.exit_code == 3
    # NOW is taken at import: in a long run the CLI's clock is minutes later than it.
    assert re.search(r"refused: the last storage update ended 1h\d\dm ago; MSK needs 6h00m",
                     r.stderr), r.stderr  # fmt: skip
    _ops(stub, arn)
    r = _run("scale", "storage", "--to", "2TiB", "-c", str(cfg))
    assert r.exit_code == 3 and "above the configured cap of 1200 GiB" in r.stderr
    audit = _run("audit", "-c", str(cfg), "--json")
    rows = json.loads(audit.stdout)
    assert [x["result"] for x in rows] == ["refused", "refused"]


def test_apply_polls_and_audits(wired) -> None:
    arn, stub, cfg = wired
    _ops(stub, arn)
    volume = [{"KafkaBrokerNodeId": "All", "VolumeSizeGB": 1100}]
    req = {"ClusterArn": arn, "CurrentVersion": "1.0", "TargetBrokerEBSVolumeInfo": volume}
    stub.add_response("update_broker_storage", {"ClusterOperationArn": OP}, req)
    for state in ("PENDING", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"):
        stub.add_response(
            "describe_cluster_operation_v2",
            {
                "ClusterOperationInfo": {
                    "OperationArn": OP,
                    "OperationState": state,
                    "OperationType": "UPDATE_BROKER_STORAGE",
                }
            },
            {"ClusterOperationArn": OP},
        )
    r = _run("scale", "storage", "--by", "100", "-c", str(cfg), "--apply", "--json")
    # moto's cluster does not grow, so the verification reports the mismatch: result failed.
    out = json.loads(r.stdout)
    assert [line.split("  ")[1] for line in r.stderr.splitlines()] == [
        "PENDING", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]  # fmt: skip
    assert out["operation"]["state"] == "UPDATE_COMPLETE"
    assert out["problems"] == ["volume 1000 GiB, expected 1100 GiB"]
    assert r.exit_code == 3
    rows = json.loads(_run("audit", "-c", str(cfg), "--json").stdout)
    assert [x["result"] for x in rows] == ["started", "failed"]
    assert rows[-1]["operation_arn"] == OP


def test_bad_input_is_one_line(wired, tmp_path) -> None:
    _arn, _stub, cfg = wired
    r = _run("scale", "storage", "--by", "lots", "-c", str(cfg))
    assert r.exit_code == 3 and r.stderr.startswith("error: --by 'lots'")
    r = _run("scale", "brokers", "--count", "6", "-c", str(cfg), "--cluster", "nope")
    assert r.exit_code == 3 and "actions.msk.nope: no MSK cluster configured" in r.stderr


def test_relative_sizes_share_of_storage_and_brokers_per_az(wired) -> None:
    """``--by 10%`` of the described 1000 GiB and ``--add-per-az 1`` over 3 AZs (the presets
    storage-grow-20pct / brokers-add-per-az use these)."""
    arn, stub, cfg = wired
    _ops(stub, arn)
    r = _run("scale", "storage", "--by", "10%", "-c", str(cfg), "--json")
    assert r.exit_code == 0, r.output
    volume = json.loads(r.stdout)["request"]["TargetBrokerEBSVolumeInfo"]
    assert volume == [{"KafkaBrokerNodeId": "All", "VolumeSizeGB": 1100}]
    _ops(stub, arn)
    r = _run("scale", "brokers", "--add-per-az", "1", "-c", str(cfg), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["request"]["TargetNumberOfBrokerNodes"] == 6
    r = _run("scale", "storage", "--by", "lots%", "-c", str(cfg))
    assert r.exit_code == 3 and "--by: 'lots%' is not a size" in r.stderr
