"""``kafkaops producers`` from CloudWatch (MSK without Open Monitoring), against moto in server
mode: real boto3 over HTTP, datapoints named and dimensioned as MSK publishes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest

from kafkaops.collect.cloudwatch import CloudWatchSource
from kafkaops.collect.settings import CloudWatchSettings
from kafkaops.diagnose.producers_cloudwatch import NO_RATE_NOTE, REMOTE_NOTE, measure
from tests.aws import put_kafka_metric

REGION = "eu-west-1"
CLUSTER = "prod-msk"


@pytest.fixture
def cw(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    httpx.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    return boto3.client("cloudwatch", region_name=REGION, endpoint_url=moto_url)


def _broker(cw: Any, at: datetime, broker: int, total: float, parts: tuple[float, ...]) -> None:
    queue, local, rqueue, send = parts
    for metric, value, unit in (
        ("ProduceTotalTimeMsMean", total, "Milliseconds"),
        ("ProduceRequestQueueTimeMsMean", queue, "Milliseconds"),
        ("ProduceLocalTimeMsMean", local, "Milliseconds"),
        ("ProduceResponseQueueTimeMsMean", rqueue, "Milliseconds"),
        ("ProduceResponseSendTimeMsMean", send, "Milliseconds"),
        ("ProduceThrottleTime", 0.0, "Milliseconds"),
        ("RequestHandlerAvgIdlePercent", 0.9, "Percent"),  # a ratio, as MSK sends it
        ("NetworkProcessorAvgIdlePercent", 0.8, "Percent"),
        ("BytesInPerSec", 2e6, "Bytes/Second"),
        ("MessagesInPerSec", 2000.0, "Count/Second"),
        ("UnderReplicatedPartitions", 4.0 if broker == 2 else 0.0, "Count"),
    ):
        put_kafka_metric(cw, CLUSTER, at, metric, value, unit, broker=str(broker))


def test_remote_time_derived_from_cloudwatch_blames_replication(moto_url: str, cw: Any) -> None:
    at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    _broker(cw, at, 1, 4.0, (0.5, 2.0, 0.2, 0.3))
    _broker(cw, at, 2, 250.0, (1.0, 3.0, 0.5, 0.5))  # 245 ms unaccounted: waiting on followers
    _broker(cw, at, 3, 5.0, (0.5, 3.0, 0.2, 0.3))
    for topic, rate in (("orders", 3e6), ("clicks", 1e6)):
        for b in (1, 2, 3):
            put_kafka_metric(cw, CLUSTER, at, "BytesInPerSec", rate / 3, "Bytes/Second",
                             broker=str(b), topic=topic)  # fmt: skip
    source = CloudWatchSource(
        CloudWatchSettings(cluster_name=CLUSTER, region=REGION, endpoint_url=moto_url)
    )
    try:
        report = measure(CLUSTER, source, [1, 2, 3, 4], ["orders", "clicks", "idle"])
    finally:
        source.close()
    by_id = {b.node_id: b for b in report.brokers}
    assert by_id[2].mean_ms["RemoteTimeMs"] == pytest.approx(245.0)
    assert by_id[2].dominant() == ("RemoteTimeMs", pytest.approx(0.98))
    assert by_id[1].request_handler_idle_percent == pytest.approx(90.0)
    assert by_id[1].produce_requests_per_s is None  # MSK does not publish it
    assert by_id[4].error and "PER_BROKER" in by_id[4].error  # no datapoints at all
    [cause] = report.causes
    assert (cause.code, cause.subject, cause.client_side) == ("remote_time", "broker 2", False)
    assert "under-replicated partitions on this broker: 4" in cause.evidence
    assert [t.topic for t in report.topics] == ["orders", "clicks"]
    assert report.topics[0].bytes_in_per_s == pytest.approx(3e6)
    assert report.source == "cloudwatch"
    assert REMOTE_NOTE in report.errors and NO_RATE_NOTE in report.errors
