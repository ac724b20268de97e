"""Apply: the call, the poll of the cluster operation (PENDING → UPDATE_IN_PROGRESS →
UPDATE_COMPLETE, and one that fails), the verification and the audit rows in the store.

The operation calls go through botocore's Stubber (moto lacks them): every request is checked
against the real API model and the order of calls is enforced.  The describe before planning is
moto's; the describe after the operation is stubbed too (moto's cluster never changes size).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kafkaops.actions import guardrails as g
from kafkaops.actions.apply import ActionFailed, execute
from kafkaops.actions.audit import AuditLog
from kafkaops.actions.msk import MskApi

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OP = "arn:aws:kafka:eu-west-1:123456789012:cluster-operation/prod-msk/x/op-1"


def _op(state: str, steps: list[tuple[str, str]] = (), error: dict | None = None) -> dict:
    info = {
        "ClusterArn": "arn",
        "OperationArn": OP,
        "OperationType": "UPDATE_BROKER_STORAGE",
        "OperationState": state,
        "StartTime": NOW,
        "Provisioned": {"OperationSteps": [
            {"StepName": n, "StepInfo": {"StepStatus": s}} for n, s in steps]},
    }  # fmt: skip
    if error:
        info["ErrorInfo"] = error
    return {"ClusterOperationInfo": info}


def _describe(arn: str, size: int) -> dict:
    return {
        "ClusterInfo": {
            "ClusterArn": arn,
            "ClusterName": "prod-msk",
            "ClusterType": "PROVISIONED",
            "State": "ACTIVE",
            "CurrentVersion": "2.0",
            "Provisioned": {
                "BrokerNodeGroupInfo": {
                    "InstanceType": "kafka.m5.large",
                    "ClientSubnets": ["a", "b", "c"],
                    "StorageInfo": {"EbsStorageInfo": {"VolumeSize": size}},
                },
                "NumberOfBrokerNodes": 3,
            },
        }
    }


@pytest.fixture
def plan(msk_cluster) -> g.Plan:
    kafka, arn = msk_cluster
    return g.plan_storage(MskApi(kafka).describe(arn), [], NOW, by_gib=100)


def test_applied_storage_polls_to_completion_and_audits(plan, stubbed, tmp_path) -> None:
    client, stub = stubbed
    stub.add_response("update_broker_storage", {"ClusterArn": plan.arn,
                      "ClusterOperationArn": OP}, plan.request)  # fmt: skip
    for state, steps in (
        ("PENDING", []),
        ("UPDATE_IN_PROGRESS", [("UPDATE_STORAGE", "IN_PROGRESS")]),
        ("UPDATE_IN_PROGRESS", [("UPDATE_STORAGE", "IN_PROGRESS")]),
        ("UPDATE_COMPLETE", [("UPDATE_STORAGE", "SUCCESS")]),
    ):
        stub.add_response("describe_cluster_operation_v2", _op(state, steps),
                          {"ClusterOperationArn": OP})  # fmt: skip
    stub.add_response("describe_cluster_v2", _describe(plan.arn, 1100), {"ClusterArn": plan.arn})
    seen: list[str] = []
    sleeps: list[float] = []
    with AuditLog.open(f"sqlite:///{tmp_path / 'a.db'}") as audit:
        outcome = execute(
            plan, MskApi(client), audit, interval_s=15, timeout_s=3600,
            progress=lambda op, _t: seen.append(op.state), sleep=sleeps.append,
            health=lambda: (True, "healthy"),
        )  # fmt: skip
        rows = audit.list("prod-msk")
    assert outcome.result == "succeeded", outcome.problems
    assert seen == ["PENDING", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]  # changes only
    assert sleeps == [15, 15, 15]
    assert "health: healthy" in outcome.verification
    assert [r["result"] for r in rows] == ["started", "succeeded"]
    last = rows[-1]
    assert last["operation"] == "scale_storage" and last["operation_arn"] == OP
    assert "@" in last["who"] and last["at"].endswith("Z")
    assert last["detail"]["request"]["TargetBrokerEBSVolumeInfo"][0]["VolumeSizeGB"] == 1100


def test_failed_operation_is_reported_and_audited(plan, stubbed, tmp_path) -> None:
    client, stub = stubbed
    stub.add_response("update_broker_storage", {"ClusterOperationArn": OP}, plan.request)
    stub.add_response("describe_cluster_operation_v2", _op("PENDING"), {"ClusterOperationArn": OP})
    stub.add_response(
        "describe_cluster_operation_v2",
        _op("UPDATE_FAILED", error={"ErrorCode": "InternalError", "ErrorString": "EBS busy"}),
        {"ClusterOperationArn": OP},
    )
    with AuditLog.open(f"sqlite:///{tmp_path / 'a.db'}") as audit:
        outcome = execute(plan, MskApi(client), audit, interval_s=1, timeout_s=60,
                          sleep=lambda _s: None)  # fmt: skip
        rows = audit.list()
    assert outcome.result == "failed"
    assert outcome.problems == ["operation UPDATE_FAILED: InternalError: EBS busy"]
    assert [r["result"] for r in rows] == ["started", "failed"]


def test_timeout_leaves_the_operation_running(plan, stubbed, tmp_path) -> None:
    client, stub = stubbed
    stub.add_response("update_broker_storage", {"ClusterOperationArn": OP}, plan.request)
    stub.add_response("describe_cluster_operation_v2", _op("UPDATE_IN_PROGRESS"),
                      {"ClusterOperationArn": OP})  # fmt: skip
    with AuditLog.open(f"sqlite:///{tmp_path / 'a.db'}") as audit:
        outcome = execute(plan, MskApi(client), audit, interval_s=1, timeout_s=0)
        assert audit.list()[-1]["result"] == "timed_out"
    assert outcome.result == "timed_out"


def test_aws_rejection_is_one_line_and_audited(plan, stubbed, tmp_path) -> None:
    client, stub = stubbed
    stub.add_client_error("update_broker_storage", "BadRequestException",
                          "The request does not have a valid CurrentVersion", 400)  # fmt: skip
    with AuditLog.open(f"sqlite:///{tmp_path / 'a.db'}") as audit:
        with pytest.raises(ActionFailed, match="valid CurrentVersion"):
            execute(plan, MskApi(client), audit, interval_s=1, timeout_s=1)
        assert [r["result"] for r in audit.list()] == ["started", "failed"]


def test_audit_on_postgres_and_sqlite(store_url: str) -> None:
    with AuditLog.open(store_url) as audit:
        audit.record(cluster="c", operation="reboot", result="refused", summary="x",
                     detail={"reason": "URP"}, at=NOW - timedelta(minutes=1))  # fmt: skip
        audit.record(cluster="d", operation="reboot", result="dry_run", summary="y")
        assert [r["cluster"] for r in audit.list()] == ["c", "d"]
        assert audit.list("c")[0]["detail"] == {"reason": "URP"}
