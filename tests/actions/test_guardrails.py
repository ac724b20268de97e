"""Each guardrail refuses with its reason before any AWS write; the accepted plans carry the
exact request, validated against the real ``kafka`` API model by botocore."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from kafkaops.actions import guardrails as g
from kafkaops.actions.msk import MskApi, Operation
from tests.actions.conftest import set_state

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _storage_op(hours_ago: float, state: str = "UPDATE_COMPLETE") -> Operation:
    start = NOW - timedelta(hours=hours_ago)
    return Operation("arn:op", "UPDATE_BROKER_STORAGE", state, start, start + timedelta(minutes=20))


def _validate(stub: Stubber, plan: g.Plan) -> None:
    """botocore validates the planned request against the service model on send."""
    stub.add_response(plan.api, {"ClusterArn": plan.arn, "ClusterOperationArn": "arn:op"},
                      plan.request)  # fmt: skip


def test_storage_plan_exact_request(msk_cluster, stubbed) -> None:
    kafka, arn = msk_cluster
    info = MskApi(kafka).describe(arn)
    plan = g.plan_storage(info, [_storage_op(7)], NOW, by_gib=100, step_gib=100, cap_gib=1100)
    assert plan.request == {
        "ClusterArn": arn,
        "CurrentVersion": "1.0",
        "TargetBrokerEBSVolumeInfo": [{"KafkaBrokerNodeId": "All", "VolumeSizeGB": 1100}],
    }
    assert "--target-broker-ebs-volume-info" in plan.cli()
    assert "--current-version 1.0" in plan.cli()
    client, stub = stubbed
    _validate(stub, plan)
    client.update_broker_storage(**plan.request)


@pytest.mark.parametrize(
    ("kwargs", "ops", "reason"),
    [
        ({"to_gib": 900}, [], "storage only grows: 1000 GiB per broker now, 900 GiB asked"),
        ({"to_gib": 1000}, [], "storage only grows"),
        ({"to_gib": 17000}, [], "above MSK's maximum of 16384 GiB"),
        ({"by_gib": 200, "step_gib": 100}, [], "more than the configured step of +100 GiB"),
        ({"to_gib": 1100, "cap_gib": 1000}, [], "above the configured cap of 1000 GiB"),
        ({"by_gib": 100}, [_storage_op(2)], "MSK needs 6h00m between two"),
        ({"by_gib": 100}, [_storage_op(1, "UPDATE_IN_PROGRESS")], "still UPDATE_IN_PROGRESS"),
        ({"to_gib": 1100, "by_gib": 100}, [], "exactly one of --to SIZE or --by SIZE"),
    ],
)
def test_storage_refusals(msk_cluster, kwargs, ops, reason) -> None:
    kafka, arn = msk_cluster
    info = MskApi(kafka).describe(arn)
    with pytest.raises(g.Refused, match=re.escape(reason)):
        g.plan_storage(info, ops, NOW, **kwargs)


def test_failed_storage_update_does_not_start_the_cooldown(msk_cluster) -> None:
    kafka, arn = msk_cluster
    info = MskApi(kafka).describe(arn)
    plan = g.plan_storage(info, [_storage_op(1, "UPDATE_FAILED")], NOW, by_gib=100)
    assert plan.request["TargetBrokerEBSVolumeInfo"][0]["VolumeSizeGB"] == 1100


def test_not_active_is_refused(msk_cluster) -> None:
    kafka, arn = msk_cluster
    set_state(arn, "CREATING")
    info = MskApi(kafka).describe(arn)
    with pytest.raises(g.Refused, match="cluster state is CREATING, not ACTIVE"):
        g.plan_storage(info, [], NOW, by_gib=100)


def test_broker_count(msk_cluster, stubbed) -> None:
    kafka, arn = msk_cluster
    info = MskApi(kafka).describe(arn)
    with pytest.raises(g.Refused, match="4 brokers is not a multiple of the 3 availability zones"):
        g.plan_brokers(info, [], 4)
    with pytest.raises(g.Refused, match=r"removing brokers \(3 → 2\) needs their partitions"):
        g.plan_brokers(info, [], 2)
    with pytest.raises(g.Refused, match="already has 3 brokers"):
        g.plan_brokers(info, [], 3)
    plan = g.plan_brokers(info, [], 6)
    assert plan.request == {"ClusterArn": arn, "CurrentVersion": "1.0",
                            "TargetNumberOfBrokerNodes": 6}  # fmt: skip
    client, stub = stubbed
    _validate(stub, plan)
    client.update_broker_count(**plan.request)


def test_broker_type(msk_cluster, stubbed) -> None:
    kafka, arn = msk_cluster
    info = MskApi(kafka).describe(arn)
    with pytest.raises(g.Refused, match=r"already are kafka\.m5\.large"):
        g.plan_type(info, [], "kafka.m5.large")
    with pytest.raises(g.Refused, match="not an MSK instance type"):
        g.plan_type(info, [], "m7g.xlarge")
    with pytest.raises(g.Refused, match=r"exceed kafka\.t3\.small's maximum of 300"):
        g.plan_type(info, [], "kafka.t3.small", partitions_per_broker=900)
    plan = g.plan_type(info, [], "kafka.m7g.xlarge", partitions_per_broker=900)
    client, stub = stubbed
    _validate(stub, plan)
    client.update_broker_type(**plan.request)


def test_reboot(msk_cluster, stubbed) -> None:
    kafka, arn = msk_cluster
    info = MskApi(kafka).describe(arn)
    with pytest.raises(g.Refused, match="2 partitions are under-replicated"):
        g.plan_reboot(info, [], 1, under_replicated=2)
    with pytest.raises(g.Refused, match="cannot check under-replicated"):
        g.plan_reboot(info, [], 1, under_replicated=None)
    with pytest.raises(g.Refused, match=r"brokers 1\.\.3"):
        g.plan_reboot(info, [], 4, under_replicated=0)
    running = Operation("arn:op", "REBOOT_NODE", "UPDATE_IN_PROGRESS", NOW)
    with pytest.raises(g.Refused, match="REBOOT_NODE is still UPDATE_IN_PROGRESS"):
        g.plan_reboot(info, [running], 2, under_replicated=0)
    plan = g.plan_reboot(info, [], 2, under_replicated=0)
    assert plan.request == {"ClusterArn": arn, "BrokerIds": ["2"]}
    client, stub = stubbed
    _validate(stub, plan)
    client.reboot_broker(**plan.request)


def test_configuration(msk_cluster) -> None:
    kafka, arn = msk_cluster
    info = MskApi(kafka).describe(arn)
    with pytest.raises(g.Refused, match="line 2: 'oops' is not key=value"):
        g.plan_configuration(info, [], "a=1\noops\n", name="c", source="cfg.properties")
    plan = g.plan_configuration(info, [], "# x\nauto.create.topics.enable=false\n", name="c")
    body = b"# x\nauto.create.topics.enable=false\n"
    assert plan.prepare == {"Name": "c", "KafkaVersions": ["3.6.0"], "ServerProperties": body}
