"""CloudWatch back-fill against moto in server mode: 30 days of KafkaDataLogsDiskUsed and
BytesInPerSec per broker → daily rows → a forecast with no local history at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest

from kafkaops.capacity.analysis import analyse
from kafkaops.capacity.backfill import backfill_cloudwatch
from kafkaops.capacity.settings import CapacitySettings
from kafkaops.capacity.store import CapacityStore
from kafkaops.core.errors import ConfigError

REGION = "eu-west-1"
NAME = "prod-msk"
GiB = 1024**3


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    httpx.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    return moto_url


def _put(cw: Any, data: list[dict[str, Any]]) -> None:
    for i in range(0, len(data), 500):
        cw.put_metric_data(Namespace="AWS/Kafka", MetricData=data[i : i + 500])


def test_backfill_30_days_then_forecast(aws: str, tmp_path) -> None:
    kafka = boto3.client("kafka", region_name=REGION, endpoint_url=aws)
    arn = kafka.create_cluster_v2(
        ClusterName=NAME,
        Provisioned={
            "BrokerNodeGroupInfo": {
                "InstanceType": "kafka.m5.large",
                "ClientSubnets": ["subnet-a", "subnet-b", "subnet-c"],
                "StorageInfo": {"EbsStorageInfo": {"VolumeSize": 1000}},
            },
            "KafkaVersion": "3.6.0",
            "NumberOfBrokerNodes": 3,
        },
    )["ClusterArn"]
    cw = boto3.client("cloudwatch", region_name=REGION, endpoint_url=aws)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    today = now.replace(hour=0)
    data = []
    # Broker 1: 40 % + 1 %/day, a saw-tooth of 2 % inside each day (6 samples, peak last).
    for back in range(30, 0, -1):
        day = today - timedelta(days=back)
        i = 30 - back
        for k in range(6):
            at = day + timedelta(hours=4 * k)
            for broker, base, per_day in (("1", 40.0, 1.0), ("2", 30.0, 0.2), ("3", 30.0, 0.0)):
                dims = [{"Name": "Cluster Name", "Value": NAME},
                        {"Name": "Broker ID", "Value": broker}]  # fmt: skip
                pct = base + per_day * i + 2.0 * k / 5
                data.append({"MetricName": "KafkaDataLogsDiskUsed", "Dimensions": dims,
                             "Timestamp": at, "Value": pct, "Unit": "Percent"})  # fmt: skip
                data.append({"MetricName": "BytesInPerSec", "Dimensions": dims,
                             "Timestamp": at, "Value": 1e6, "Unit": "Bytes/Second"})  # fmt: skip
    _put(cw, data)
    store = CapacityStore(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        settings = CapacitySettings(
            msk={"cluster_name": NAME, "cluster_arn": arn, "region": REGION, "endpoint_url": aws}
        )
        result = backfill_cloudwatch(store, "prod", settings, days=30, now=now)
        assert result.errors == []
        assert result.brokers == [1, 2, 3]
        assert result.volume_gib == 1000
        assert result.current_version
        days = store.daily("prod", "logdir", "used_bytes")
        b1 = days["1:/kafka/datalogs"]
        assert len(b1) == 30 and all(d.source == "cloudwatch" for d in b1)
        # Day 0: peak 40 % + 2 % = 42 % of 1000 GiB; trough 40 %.
        assert b1[0].max == pytest.approx(420 * GiB, rel=1e-6)
        assert b1[0].min == pytest.approx(400 * GiB, rel=1e-6)
        bytes_in = store.daily("prod", "broker", "bytes_in_per_s")["2"]
        assert bytes_in[0].mean == pytest.approx(1e6)
        # A forecast with no local history: broker 1 peaks at 42 % + 1 %/day from day 0
        # (29 days ago) → 71 % yesterday → full 100 % in 29 days.
        report = analyse(store, "prod", settings, now=now, current_version=result.current_version)
        d1 = next(d for d in report.disks if d.broker == 1)
        assert d1.basis == "filesystem"
        assert d1.crossings["full"].days == pytest.approx(29, rel=0.10)
        assert d1.crossings["warning"].days == pytest.approx(9, abs=1.5)
    finally:
        store.close()


def test_backfill_needs_a_cluster_name(tmp_path) -> None:
    store = CapacityStore(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        with pytest.raises(ConfigError, match=r"capacity\.msk\.cluster_name"):
            backfill_cloudwatch(store, "prod", CapacitySettings())
    finally:
        store.close()


def test_weekly_cost_from_cost_explorer(aws: str) -> None:
    from kafkaops.capacity.cost import weekly_cost

    def day(d: str, groups: list[tuple[str, str]]) -> dict:
        return {
            "TimePeriod": {"Start": d, "End": d},
            "Total": {},
            "Groups": [
                {"Keys": [k], "Metrics": {"UnblendedCost": {"Amount": a, "Unit": "USD"}}}
                for k, a in groups
            ],
            "Estimated": False,
        }

    results = {
        "results": [
            {
                "ResultsByTime": [
                    day("2026-03-02", [("cluster$prod", "10.5"), ("cluster$dev", "1.25")]),
                    day("2026-03-03", [("cluster$prod", "11.5"), ("cluster$", "0.5")]),
                ]
            }
        ]
    }
    httpx.post(f"{aws}/moto-api/static/ce/cost-and-usage-results", json=results,
               timeout=10).raise_for_status()  # fmt: skip
    settings = CapacitySettings(cost_tag="cluster", msk={"endpoint_url": aws})
    start = datetime(2026, 3, 2, tzinfo=UTC)
    cost = weekly_cost(settings, start, start + timedelta(days=7))
    assert cost is not None and cost.errors == []
    assert cost.totals == {"prod": 22.0, "dev": 1.25, "(untagged)": 0.5}
    assert cost.unit == "USD"
    assert cost.daily["prod"] == [("2026-03-02", 10.5), ("2026-03-03", 11.5)]
    assert weekly_cost(CapacitySettings(), start, start) is None
