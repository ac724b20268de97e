"""CloudWatchSource against moto in server mode: real boto3, real HTTP, no AWS account.

The datapoints are what MSK publishes for a 3-broker cluster at DEFAULT/PER_BROKER level
(names, dimensions and units of the MSK developer guide), so every conversion is checked on
the path a production collection takes: CBOR over HTTP to CloudWatch and back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
import pytest

from kafkaops.collect.cloudwatch import (
    MAX_QUERIES_PER_CALL,
    CloudWatchSource,
    build_queries,
    query_window,
)
from kafkaops.collect.settings import CloudWatchSettings
from kafkaops.core.errors import ConfigError
from kafkaops.core.model import Broker, ClusterSnapshot, ConsumerGroup, PartitionLag
from tests.aws import put_kafka_metric
from tests.conftest import free_port

REGION = "eu-west-1"
CLUSTER = "prod-msk"
SECRET = "s3cr3t-must-never-appear"
QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def cw(moto_url: str, aws_env: None) -> Any:
    """A CloudWatch client on a freshly reset moto server."""
    httpx.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    return boto3.client("cloudwatch", region_name=REGION, endpoint_url=moto_url)


def settings(endpoint: str, **extra: Any) -> CloudWatchSettings:
    data = {"cluster_name": CLUSTER, "region": REGION, "endpoint_url": endpoint, **extra}
    return CloudWatchSettings.model_validate(data)


def snapshot(broker_ids: tuple[int, ...], groups: Mapping[str, tuple[str, ...]]) -> ClusterSnapshot:
    brokers = tuple(
        Broker(i, f"b-{i}.{CLUSTER}.abc123.c2.kafka.{REGION}.amazonaws.com", 9098)
        for i in broker_ids
    )
    cgroups = tuple(
        ConsumerGroup(
            group_id=g,
            state="Stable",
            protocol_type="consumer",
            coordinator=broker_ids[0],
            members=(),
            partitions=tuple(PartitionLag(t, 0, 10, 0, 20, 10) for t in topics),
        )
        for g, topics in groups.items()
    )
    return ClusterSnapshot(
        cluster_name=CLUSTER,
        bootstrap=f"{brokers[0].host}:9098",
        taken_at_ms=int(time.time() * 1000),
        duration_ms=5,
        cluster_id="abc",
        controller_id=None,
        quorum_leader_id=None,
        quorum_voters=(),
        brokers=brokers,
        topics=(),
        groups=cgroups,
        log_dirs=(),
    )


def put(cw: Any, at: datetime, metric: str, value: float, unit: str, **dims: str) -> None:
    put_kafka_metric(cw, CLUSTER, at, metric, value, unit, **dims)


#: Per broker: (metric, value, unit).  Broker 3 has DEFAULT monitoring only: no replication
#: bytes and no RequestHandlerAvgIdlePercent (those start at PER_BROKER).
BROKERS: dict[int, list[tuple[str, float, str]]] = {
    1: [
        ("CpuUser", 35.0, "Percent"),
        ("CpuSystem", 10.0, "Percent"),
        ("MemoryUsed", 6e9, "Bytes"),
        ("MemoryFree", 2e9, "Bytes"),
        ("KafkaDataLogsDiskUsed", 62.5, "Percent"),
        ("BytesInPerSec", 1e6, "Bytes/Second"),
        ("BytesOutPerSec", 3e6, "Bytes/Second"),
        ("ReplicationBytesInPerSec", 2e6, "Bytes/Second"),
        ("ReplicationBytesOutPerSec", 2.5e6, "Bytes/Second"),
        ("UnderReplicatedPartitions", 0, "Count"),
        ("UnderMinIsrPartitionCount", 0, "Count"),
        ("RequestHandlerAvgIdlePercent", 0.85, "Count"),
    ],
    2: [
        ("CpuUser", 70.0, "Percent"),
        ("CpuSystem", 15.0, "Percent"),
        ("MemoryUsed", 3e9, "Bytes"),
        ("MemoryFree", 1e9, "Bytes"),
        ("KafkaDataLogsDiskUsed", 91.0, "Percent"),
        ("BytesInPerSec", 4e6, "Bytes/Second"),
        ("BytesOutPerSec", 1e6, "Bytes/Second"),
        ("ReplicationBytesInPerSec", 1e6, "Bytes/Second"),
        ("ReplicationBytesOutPerSec", 1e6, "Bytes/Second"),
        ("UnderReplicatedPartitions", 3, "Count"),
        ("UnderMinIsrPartitionCount", 1, "Count"),
        ("RequestHandlerAvgIdlePercent", 0.25, "Count"),
    ],
    3: [
        ("CpuUser", 20.0, "Percent"),
        ("CpuSystem", 5.0, "Percent"),
        ("MemoryUsed", 1e9, "Bytes"),
        ("MemoryFree", 1e9, "Bytes"),
        ("KafkaDataLogsDiskUsed", 40.0, "Percent"),
        ("BytesInPerSec", 5e5, "Bytes/Second"),
        ("BytesOutPerSec", 5e5, "Bytes/Second"),
        ("UnderReplicatedPartitions", 0, "Count"),
        ("UnderMinIsrPartitionCount", 0, "Count"),
    ],
}


def publish_cluster(cw: Any, now: float) -> None:
    """Two minutes of an MSK cluster: an older datapoint that must lose, then the latest."""
    old = datetime.fromtimestamp(now - 400, UTC)
    latest = datetime.fromtimestamp(now - 150, UTC)
    for bid, metrics in BROKERS.items():
        for metric, value, unit in metrics:
            put(cw, old, metric, value / 2 + 1, unit, broker=str(bid))
            put(cw, latest, metric, value, unit, broker=str(bid))
        # Every broker pushes ActiveControllerCount (1 on the active one) and the cluster-wide
        # OfflinePartitionsCount under the Cluster Name dimension alone.
        put(cw, latest, "ActiveControllerCount", 1 if bid == 2 else 0, "Count")
        put(cw, latest, "OfflinePartitionsCount", 0, "Count")
        put(cw, old, "ActiveControllerCount", 0, "Count")
        put(cw, old, "OfflinePartitionsCount", 4, "Count")
    group = {"group": "orders-consumer", "topic": "orders"}
    put(cw, old, "EstimatedMaxTimeLag", 30, "Seconds", **group)
    put(cw, latest, "EstimatedMaxTimeLag", 420, "Seconds", **group)
    put(cw, latest, "MaxOffsetLag", 12_000, "Count", **group)
    put(cw, latest, "SumOffsetLag", 45_000, "Count", **group)
    put(cw, latest, "MaxOffsetLag", 7, "Count", group="orders-consumer", topic="payments")


def test_every_field_and_unit_conversion(cw: Any, moto_url: str) -> None:
    now = time.time()
    publish_cluster(cw, now)
    snap = snapshot(
        (1, 2, 3),
        {
            "orders-consumer": ("orders", "payments", "refunds"),
            "spark:streaming": ("orders",),  # MSK publishes no lag for ':' groups
            "grüppe": ("orders",),  # nor for non-ASCII names (CloudWatch dimensions are ASCII)
        },
    )
    source = CloudWatchSource(settings(moto_url), network_capacity_bytes_per_s=1.25e9)
    m = source.collect(snap, now_ms=int(now * 1000))

    assert m.source == "cloudwatch"
    assert m.window_s == 60
    assert m.label == "cloudwatch (60s window)"
    assert m.errors == ()
    assert m.network_capacity_bytes_per_s == 1.25e9
    assert [n.node_id for n in m.brokers] == [1, 2, 3]
    b1, b2, b3 = m.brokers

    assert b1.cpu_percent == pytest.approx(45.0)  # CpuUser + CpuSystem, latest datapoint
    assert b1.broker_cpu_percent == pytest.approx(45.0)
    assert b1.memory_percent == pytest.approx(75.0)  # 6e9 / (6e9 + 2e9)
    assert b1.disk_percent == pytest.approx(62.5)
    assert b1.bytes_in_per_s == pytest.approx(1e6)
    assert b1.bytes_out_per_s == pytest.approx(3e6)
    assert b1.network_bytes_per_s == pytest.approx(8.5e6)  # client + replication
    assert m.network_percent(b1) == pytest.approx(100 * 8.5e6 / 1.25e9)
    assert b1.under_replicated_partitions == 0
    assert b1.under_min_isr_partitions == 0
    assert b1.request_handler_idle_percent == pytest.approx(85.0)  # 0..1 ratio → percent
    assert b1.failed_produce_requests_per_s is None  # no such metric in AWS/Kafka
    assert b1.produce_requests_per_s is None
    assert b1.error is None

    assert b2.cpu_percent == pytest.approx(85.0)
    assert b2.memory_percent == pytest.approx(75.0)
    assert b2.disk_percent == pytest.approx(91.0)
    assert b2.under_replicated_partitions == 3
    assert b2.under_min_isr_partitions == 1
    assert b2.request_handler_idle_percent == pytest.approx(25.0)

    # DEFAULT monitoring: client traffic only, no request-handler idle.
    assert b3.network_bytes_per_s == pytest.approx(1e6)
    assert b3.request_handler_idle_percent is None
    assert "client bytes only" in m.detail

    assert m.under_replicated_count() == 3
    assert m.producer_error_rate_percent() is None
    (controller,) = m.controllers
    assert (controller.node_id, controller.role) == (-1, "controller")
    assert m.active_controller_count() == 1  # Sum of 0 + 1 + 0 over the minute
    assert m.offline_partitions_count() == 0  # latest (the older 4 lost)

    lag = {(g.group, g.topic): g for g in m.group_lag}
    assert set(lag) == {("orders-consumer", "orders"), ("orders-consumer", "payments")}
    orders = lag["orders-consumer", "orders"]
    assert orders.estimated_max_time_lag_ms == 420_000  # 420 s → ms
    assert orders.estimated_max_time_lag_ms > 300_000  # the runbook's "> 5 minutes"
    assert orders.max_offset_lag == 12_000
    assert orders.sum_offset_lag == 45_000
    payments = lag["orders-consumer", "payments"]
    assert payments.max_offset_lag == 7
    assert payments.estimated_max_time_lag_ms is None
    assert payments.sum_offset_lag is None

    assert m.detail.startswith(f"CloudWatch AWS/Kafka, cluster {CLUSTER} ({REGION}), period 60s")
    assert "2 group/topic pairs not asked" in m.detail


def test_missing_data_is_none_never_zero(cw: Any, moto_url: str) -> None:
    now = time.time()
    at = datetime.fromtimestamp(now - 120, UTC)
    put(cw, at, "CpuUser", 40.0, "Percent", broker="1")  # no CpuSystem: CPU unknown
    put(cw, at, "MemoryUsed", 5e9, "Bytes", broker="1")  # no MemoryFree: memory unknown
    put(cw, at, "BytesInPerSec", 10.0, "Bytes/Second", broker="1")  # no BytesOut: no network
    stale = datetime.fromtimestamp(now - 3600, UTC)  # outside the 10 min lookback
    put(cw, stale, "KafkaDataLogsDiskUsed", 99.0, "Percent", broker="1")

    m = CloudWatchSource(settings(moto_url)).collect(snapshot((1, 2), {}), int(now * 1000))

    b1, b2 = m.brokers
    assert b1.cpu_percent is None
    assert b1.memory_percent is None
    assert b1.disk_percent is None
    assert b1.bytes_in_per_s == 10.0
    assert b1.bytes_out_per_s is None
    assert b1.network_bytes_per_s is None
    assert b1.under_replicated_partitions is None
    assert b1.error is None
    # Broker 2 has no datapoint at all: every field None, and the node says why.
    assert b2.cpu_percent is None and b2.disk_percent is None
    assert b2.error is not None and "no CloudWatch datapoints" in b2.error
    assert m.controllers == ()
    assert m.active_controller_count() is None
    assert m.group_lag == ()
    assert m.errors == ()


def test_batches_of_at_most_500_queries(cw: Any, moto_url: str) -> None:
    """200 groups × 2 topics = 1200 lag series + 36 broker + 2 cluster ones: 3 calls."""
    now = time.time()
    at = datetime.fromtimestamp(now - 120, UTC)
    groups = {f"group-{i:03d}": ("clicks", "views") for i in range(200)}
    put(cw, at, "EstimatedMaxTimeLag", 2.5, "Seconds", group="group-000", topic="clicks")
    put(cw, at, "SumOffsetLag", 99, "Count", group="group-199", topic="views")  # last batch
    put(cw, at, "CpuUser", 10.0, "Percent", broker="3")

    calls: list[list[dict[str, Any]]] = []
    client = boto3.client("cloudwatch", region_name=REGION, endpoint_url=moto_url)

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(params["MetricDataQueries"])

    client.meta.events.register("provide-client-params.cloudwatch.GetMetricData", count)
    source = CloudWatchSource(settings(moto_url, lookback="2m"), client=client)
    started = time.monotonic()
    m = source.collect(snapshot((1, 2, 3), groups), int(now * 1000))
    elapsed = time.monotonic() - started

    assert [len(c) for c in calls] == [500, 500, 238]
    assert all(len(c) <= MAX_QUERIES_PER_CALL for c in calls)
    ids = [q["Id"] for c in calls for q in c]
    assert len(ids) == len(set(ids)) == 1238
    assert all(QUERY_ID.match(i) for i in ids)
    assert "1238 series in 3 get_metric_data calls" in m.detail
    lag = {(g.group, g.topic): g for g in m.group_lag}
    assert lag["group-000", "clicks"].estimated_max_time_lag_ms == 2500
    assert lag["group-199", "views"].sum_offset_lag == 99
    assert len(lag) == 2
    assert m.errors == ()
    assert elapsed < 30


def test_unreachable_endpoint_is_one_error_line_in_bounded_time() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    source = CloudWatchSource(settings(dead, timeout="2s"))
    groups = {f"g{i}": ("t",) for i in range(300)}  # > 500 queries: two batches
    started = time.monotonic()
    m = source.collect(snapshot((1, 2, 3), groups))
    elapsed = time.monotonic() - started

    assert elapsed < 15
    assert len(m.errors) == 1  # the second batch is not attempted
    (line,) = m.errors
    assert "\n" not in line
    assert line.startswith("CloudWatch get_metric_data: ")
    assert "Could not connect" in line and dead in line
    assert SECRET not in line and SECRET not in m.detail
    assert [n.node_id for n in m.brokers] == [1, 2, 3]
    assert all(n.error and "request failed" in n.error for n in m.brokers)


def test_missing_credentials_are_recorded_not_raised(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    m = CloudWatchSource(settings(moto_url)).collect(snapshot((1,), {}))
    assert len(m.errors) == 1
    assert "credentials" in m.errors[0].lower()


def test_no_region_is_a_config_error() -> None:
    s = CloudWatchSettings(cluster_name=CLUSTER)
    with pytest.raises(ConfigError) as info:
        CloudWatchSource(s)
    assert "region" in str(info.value) and "\n" not in str(info.value)
    assert CloudWatchSource(s, region="us-east-1").region == "us-east-1"
    assert (
        CloudWatchSource(settings("http://x", region="ap-south-1"), region="us-east-1").region
        == "ap-south-1"
    )


# --- without moto: pagination, partial failures, broker discovery --------------------------


class FakeCloudWatch:
    """Answers get_metric_data in two pages, one id's values split across them, like AWS
    does when a call exceeds MaxDatapoints; optionally fails one batch with a ClientError."""

    def __init__(self, fail_batch: int | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_batch = fail_batch

    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.requests.append(request)
        batch = sum(1 for r in self.requests if "NextToken" not in r) - 1
        if batch == self.fail_batch:
            raise ClientError(
                {"Error": {"Code": "Throttling", "Message": "Rate exceeded\nretry later"}},
                "GetMetricData",
            )
        ids = [q["Id"] for q in request["MetricDataQueries"]]
        t_old = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        t_new = datetime(2026, 1, 1, 12, 1, tzinfo=UTC)
        if "NextToken" not in request:
            results = [
                {"Id": ids[0], "Timestamps": [t_old], "Values": [1.0], "StatusCode": "PartialData"}
            ]
            return {"MetricDataResults": results, "NextToken": "page-2"}
        results = [
            {"Id": ids[0], "Timestamps": [t_new], "Values": [2.0], "StatusCode": "Complete"},
            {"Id": ids[1], "Timestamps": [], "Values": [], "StatusCode": "Forbidden"},
        ]
        return {"MetricDataResults": results, "Messages": []}


def test_next_token_is_followed_and_latest_wins_across_pages() -> None:
    fake = FakeCloudWatch()
    s = CloudWatchSettings(cluster_name=CLUSTER)
    m = CloudWatchSource(s, client=fake).collect(None, now_ms=1_767_270_000_000)

    assert [("NextToken" in r) for r in fake.requests] == [False, True]
    (controller,) = m.controllers
    assert controller.active_controller == 2  # q0 (ActiveControllerCount): page 2's newer value
    assert "Forbidden for 1 of 2 queries" in " ".join(m.errors)
    assert any("no broker ids" in e for e in m.errors)


def test_a_failed_batch_is_recorded_and_the_others_still_read() -> None:
    fake = FakeCloudWatch(fail_batch=0)
    groups = {f"g{i}": ("t",) for i in range(200)}  # 614 queries: two batches
    m = CloudWatchSource(CloudWatchSettings(cluster_name=CLUSTER), client=fake).collect(
        snapshot((1,), groups)
    )
    throttled = [e for e in m.errors if "Throttling" in e]
    assert throttled == [
        "CloudWatch get_metric_data (500 queries): Throttling: Rate exceeded retry later"
    ]
    assert len([r for r in fake.requests if "NextToken" not in r]) == 2


class FakeKafka:
    """Stands in for the boto3 kafka client: list_nodes pages (parsed, PascalCase)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def get_paginator(self, name: str) -> Any:
        assert name == "list_nodes"
        fail = self.fail

        class Pages:
            def paginate(self, ClusterArn: str) -> list[dict[str, Any]]:
                if fail:
                    raise OSError("connection reset")
                nodes = [{"BrokerNodeInfo": {"BrokerId": float(i)}} for i in (3, 1, 2)]
                return [{"NodeInfoList": nodes}]

        return Pages()


def test_without_snapshot_brokers_come_from_list_nodes(cw: Any, moto_url: str) -> None:
    now = time.time()
    put(
        cw,
        datetime.fromtimestamp(now - 120, UTC),
        "KafkaDataLogsDiskUsed",
        55.0,
        "Percent",
        broker="2",
    )
    arn = f"arn:aws:kafka:{REGION}:123456789012:cluster/{CLUSTER}/abcd-1"
    s = settings(moto_url, cluster_arn=arn)
    m = CloudWatchSource(s, kafka_client=FakeKafka()).collect(None, int(now * 1000))
    assert [n.node_id for n in m.brokers] == [1, 2, 3]
    assert m.brokers[1].disk_percent == 55.0
    assert m.errors == ()

    m = CloudWatchSource(s, kafka_client=FakeKafka(fail=True)).collect(None, int(now * 1000))
    assert m.brokers == ()
    assert m.errors == (f"MSK list_nodes {arn}: connection reset",)


def test_query_window_drops_the_bucket_still_filling() -> None:
    now_ms = 1_767_270_095_500  # 12:01:35.5
    start, end = query_window(now_ms, 60, 600)
    assert end.timestamp() == 1_767_270_060  # 12:01:00
    assert (end - start).total_seconds() == 600


def test_query_ids_are_valid_whatever_the_names() -> None:
    queries = build_queries("c", [1], [("Grp.With-Odd chars", "topic.v1")], 60)
    assert all(QUERY_ID.match(q.qid) for q in queries)
    lag = [q for q in queries if q.subject[0] == "lag"]
    assert {d for q in lag for d in q.dimensions} == {
        ("Cluster Name", "c"),
        ("Consumer Group", "Grp.With-Odd chars"),
        ("Topic", "topic.v1"),
    }
    active = next(q for q in queries if q.metric == "ActiveControllerCount")
    assert (active.stat, active.period_s, active.dimensions) == (
        "Sum",
        60,
        (("Cluster Name", "c"),),
    )
