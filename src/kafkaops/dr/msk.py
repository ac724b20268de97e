"""Amazon MSK Replicator state: ``kafka:DescribeReplicator`` and its CloudWatch metrics.

The runbook calls ``aws kafka describe-replication``, which does not exist: the operation is
``describe-replicator`` (``DescribeReplicator``) and the state field is ``ReplicatorState``
(RUNNING, CREATING, UPDATING, DELETING, FAILED).  Lag comes from CloudWatch, namespace
``AWS/Kafka``, dimension ``ReplicatorName``: ``ReplicationLatency`` (ms, Maximum) and
``MessageLag`` (records the replicator is behind the *source*, Sum).

moto does not implement the Replicator API (its Kafka backend has clusters only), so the
describe call is tested with botocore's Stubber against the real API model, and the metrics
with moto's CloudWatch.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.config import Config as BotoConfig

_BOTO = BotoConfig(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})


def region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 4 and parts[3] else None


def replicator_facts(
    arn: str,
    *,
    kafka: Any = None,
    cloudwatch: Any = None,
    now: dt.datetime | None = None,
    window_s: int = 300,
) -> dict[str, object]:
    """State and lag of one MSK Replicator; errors become ``state: UNKNOWN`` with the reason."""
    import boto3

    region = region_of(arn)
    facts: dict[str, object] = {"kind": "msk-replicator", "arn": arn}
    try:
        kafka = kafka or boto3.client("kafka", region_name=region, config=_BOTO)
        d = kafka.describe_replicator(ReplicatorArn=arn)
    except Exception as exc:  # botocore ClientError, NoCredentialsError, EndpointConnectionError
        facts.update(state="UNKNOWN", error=f"describe_replicator: {type(exc).__name__}: {exc}")
        return facts
    name = d.get("ReplicatorName", "")
    facts.update(name=name, state=d.get("ReplicatorState", "UNKNOWN"))
    if d.get("StateInfo"):
        facts["state_info"] = d["StateInfo"].get("Message") or d["StateInfo"].get("Code")
    infos = d.get("ReplicationInfoList") or []
    if infos:
        tn = (infos[0].get("TopicReplication") or {}).get("TopicNameConfiguration") or {}
        facts["topic_name_configuration"] = tn.get("Type")
    end = now or dt.datetime.now(dt.UTC)
    try:
        cloudwatch = cloudwatch or boto3.client("cloudwatch", region_name=region, config=_BOTO)
        for metric, stat, key in (
            ("ReplicationLatency", "Maximum", "replication_latency_ms"),
            ("MessageLag", "Sum", "message_lag"),
        ):
            r = cloudwatch.get_metric_statistics(
                Namespace="AWS/Kafka",
                MetricName=metric,
                Dimensions=[{"Name": "ReplicatorName", "Value": name}],
                StartTime=end - dt.timedelta(seconds=window_s),
                EndTime=end,
                Period=60,
                Statistics=[stat],
            )
            points = sorted(r.get("Datapoints", []), key=lambda p: p["Timestamp"])
            facts[key] = points[-1][stat] if points else None
    except Exception as exc:
        facts["metrics_error"] = f"{type(exc).__name__}: {exc}"
    return facts


def policy_from_replicator(facts: dict[str, object]) -> str | None:
    """MSK's topic name configuration as a replication policy name."""
    kind = facts.get("topic_name_configuration")
    if kind == "IDENTICAL":
        return "identity"
    if kind == "PREFIXED_WITH_SOURCE_CLUSTER_ALIAS":
        return "default"
    return None
