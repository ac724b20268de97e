"""MSK Replicator state (botocore Stubber against the real API model — moto has no Replicator
API — and moto's CloudWatch for its metrics) and the Route 53 endpoint switch (moto)."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from kafkaops.dr.msk import policy_from_replicator, replicator_facts
from kafkaops.dr.route53 import switch_record
from kafkaops.dr.settings import EndpointSwitch

ARN = (
    "arn:aws:kafka:eu-west-1:123456789012:replicator/prod-to-dr/"
    "1a2b3c4d-5678-90ab-cdef-1234567890ab-s2"
)


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


def _describe(state: str) -> dict:
    return {
        "ReplicatorArn": ARN,
        "ReplicatorName": "prod-to-dr",
        "ReplicatorState": state,
        "StateInfo": {"Code": "X", "Message": "replicator failed: auth"},
        "ReplicationInfoList": [
            {
                "SourceKafkaClusterAlias": "prod",
                "TargetKafkaClusterAlias": "dr",
                "TargetCompressionType": "NONE",
                "TopicReplication": {
                    "TopicsToReplicate": [".*"],
                    "TopicNameConfiguration": {"Type": "IDENTICAL"},
                },
                "ConsumerGroupReplication": {"ConsumerGroupsToReplicate": [".*"]},
            }
        ],
    }


def test_replicator_state_and_metrics(aws_env) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    kafka = boto3.client("kafka", region_name="eu-west-1")
    with mock_aws():
        cw = boto3.client("cloudwatch", region_name="eu-west-1")
        dims = [{"Name": "ReplicatorName", "Value": "prod-to-dr"}]
        cw.put_metric_data(
            Namespace="AWS/Kafka",
            MetricData=[
                {"MetricName": "ReplicationLatency", "Dimensions": dims, "Value": 4200.0,
                 "Unit": "Milliseconds", "Timestamp": now - dt.timedelta(seconds=30)},
                {"MetricName": "MessageLag", "Dimensions": dims, "Value": 17.0,
                 "Unit": "Count", "Timestamp": now - dt.timedelta(seconds=30)},
            ],
        )  # fmt: skip
        with Stubber(kafka) as stub:
            stub.add_response("describe_replicator", _describe("FAILED"), {"ReplicatorArn": ARN})
            facts = replicator_facts(ARN, kafka=kafka, cloudwatch=cw, now=now)
            stub.assert_no_pending_responses()
    assert facts["state"] == "FAILED" and facts["name"] == "prod-to-dr"
    assert facts["replication_latency_ms"] == 4200.0 and facts["message_lag"] == 17.0
    assert facts["state_info"] == "replicator failed: auth"
    assert policy_from_replicator(facts) == "identity"


def test_replicator_api_error_is_a_reason(aws_env) -> None:
    kafka = boto3.client("kafka", region_name="eu-west-1")
    with Stubber(kafka) as stub:
        stub.add_client_error("describe_replicator", "NotFoundException", "no such replicator")
        facts = replicator_facts(ARN, kafka=kafka, cloudwatch=object())
    assert facts["state"] == "UNKNOWN" and "NotFoundException" in str(facts["error"])


def test_route53_switch_is_idempotent_with_rollback(aws_env) -> None:
    with mock_aws():
        r53 = boto3.client("route53")
        zone = r53.create_hosted_zone(Name="example.internal.", CallerReference="t")["HostedZone"]
        zid = zone["Id"].split("/")[-1]
        sw = EndpointSwitch(
            type="route53", hosted_zone_id=zid, record_name="kafka.example.internal"
        )
        status, detail, _ = switch_record(
            sw, "b-1.primary:9092,b-2.primary:9092", apply=True, client=r53
        )
        assert status == "done" and "CNAME None -> b-1.primary" in detail
        status, detail, _ = switch_record(sw, "b-1.dr:9092", apply=False, client=r53)
        assert status == "planned"
        status, detail, rollback = switch_record(sw, "b-1.dr:9092", apply=True, client=r53)
        assert status == "done" and rollback == "UPSERT kafka.example.internal. CNAME b-1.primary"
        status, _, _ = switch_record(sw, "b-1.dr:9092", apply=True, client=r53)
        assert status == "already"
        rr = r53.list_resource_record_sets(HostedZoneId=zid)["ResourceRecordSets"]
        cname = next(r for r in rr if r["Type"] == "CNAME")
        assert cname["ResourceRecords"] == [{"Value": "b-1.dr"}]
