"""MSK back-fill: daily disk and traffic history from CloudWatch, so a first ``kafkaops
capacity`` on an MSK cluster needs no local history.

Per broker (dimensions ``Cluster Name``, ``Broker ID``), one datapoint a day (period 86,400 s):

* ``KafkaDataLogsDiskUsed`` — percent of the data-log filesystem, Minimum / Average / Maximum.
  With the EBS volume size (``describe-cluster-v2``'s ``VolumeSize``, or ``capacity.msk.
  volume_gib``) it becomes bytes used and the filesystem's total/usable, the same daily rows
  the local samples roll up to (subject ``<broker>:<capacity.msk.log_dir>``), so local samples
  recorded later simply take over day by day;
* ``BytesInPerSec`` — Average and Maximum.

Rows are written with source ``cloudwatch``; a day that also has local samples keeps the local
ones.  CloudWatch keeps 1-hour data for 455 days, so ``--days`` up to 455 works.  Every call has
a timeout and bounded retries; a failed query is reported, never raised half-way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kafkaops.capacity.settings import CapacitySettings
from kafkaops.capacity.store import CapacityStore, Daily
from kafkaops.core.errors import ConfigError

GiB = 1024**3
NAMESPACE = "AWS/Kafka"
DAY_S = 86_400
#: MSK's data-log mount, as DescribeLogDirs reports it on MSK brokers.
DEFAULT_LOG_DIR = "/kafka/datalogs"


@dataclass
class BackfillResult:
    days: int
    brokers: list[int]
    rows: int
    volume_gib: int | None
    current_version: str | None = None
    instance_type: str | None = None
    errors: list[str] = field(default_factory=list)


def _client(service: str, settings: CapacitySettings) -> Any:
    import boto3
    from botocore.config import Config

    msk = settings.msk
    if not msk.region and not msk.endpoint_url:
        raise ConfigError("config error: capacity.msk.region: needed for the CloudWatch back-fill")
    return boto3.session.Session().client(
        service,
        region_name=msk.region or "us-east-1",
        endpoint_url=msk.endpoint_url,
        config=Config(
            connect_timeout=10,
            read_timeout=30,
            retries={"total_max_attempts": 3, "mode": "standard"},
        ),
    )


def _brokers(cw: Any, cluster_name: str) -> list[int]:
    """Broker ids that published KafkaDataLogsDiskUsed (list_metrics, paginated)."""
    found: set[int] = set()
    token = None
    for _ in range(50):
        kwargs: dict[str, Any] = {
            "Namespace": NAMESPACE,
            "MetricName": "KafkaDataLogsDiskUsed",
            "Dimensions": [{"Name": "Cluster Name", "Value": cluster_name}],
        }
        if token:
            kwargs["NextToken"] = token
        page = cw.list_metrics(**kwargs)
        for m in page.get("Metrics", []):
            for d in m.get("Dimensions", []):
                if d.get("Name") == "Broker ID" and str(d.get("Value", "")).isdigit():
                    found.add(int(d["Value"]))
        token = page.get("NextToken")
        if not token:
            break
    return sorted(found)


def _query(qid: str, cluster: str, broker: int, metric: str, stat: str) -> dict[str, Any]:
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {
                "Namespace": NAMESPACE,
                "MetricName": metric,
                "Dimensions": [
                    {"Name": "Cluster Name", "Value": cluster},
                    {"Name": "Broker ID", "Value": str(broker)},
                ],
            },
            "Period": DAY_S,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def backfill_cloudwatch(
    store: CapacityStore,
    cluster: str,
    settings: CapacitySettings,
    *,
    days: int = 30,
    now: datetime | None = None,
    log_dir: str = DEFAULT_LOG_DIR,
) -> BackfillResult:
    """Fetch ``days`` whole UTC days before today and write them as daily rows."""
    msk = settings.msk
    name = msk.cluster_name
    if not name:
        raise ConfigError(
            "config error: capacity.msk.cluster_name: the MSK cluster name (CloudWatch's "
            "'Cluster Name' dimension) is needed for the back-fill"
        )
    volume = msk.volume_gib
    result = BackfillResult(days, [], 0, volume, instance_type=msk.instance_type)
    if msk.cluster_arn:
        from kafkaops.collect import msk as msk_api

        try:
            info = msk_api.describe_cluster(_client("kafka", settings), msk.cluster_arn)
            volume = volume or info.ebs_volume_gib
            result.current_version = info.current_version
            result.instance_type = result.instance_type or info.instance_type
        except Exception as exc:  # boto3/botocore errors: report, go on with the config
            result.errors.append(f"describe-cluster-v2: {type(exc).__name__}: {exc}")
    result.volume_gib = volume
    if not volume:
        raise ConfigError(
            "config error: capacity.msk.volume_gib: the EBS volume size per broker is needed "
            "to turn KafkaDataLogsDiskUsed (%) into bytes (or set capacity.msk.cluster_arn)"
        )
    capacity = float(volume) * GiB
    cw = _client("cloudwatch", settings)
    brokers = _brokers(cw, name)
    result.brokers = brokers
    if not brokers:
        result.errors.append(f"no KafkaDataLogsDiskUsed published for cluster {name!r}")
        return result
    now = now or datetime.now(UTC)
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    wanted = (
        ("KafkaDataLogsDiskUsed", "Minimum"),
        ("KafkaDataLogsDiskUsed", "Average"),
        ("KafkaDataLogsDiskUsed", "Maximum"),
        ("KafkaDataLogsDiskUsed", "SampleCount"),
        ("BytesInPerSec", "Average"),
        ("BytesInPerSec", "Maximum"),
    )
    queries, keys = [], {}
    for b in brokers:
        for i, (metric, stat) in enumerate(wanted):
            qid = f"b{b}_{i}"
            keys[qid] = (b, metric, stat)
            queries.append(_query(qid, name, b, metric, stat))
    values: dict[tuple[int, str, str], dict[int, float]] = {}
    for chunk in range(0, len(queries), 500):
        token = None
        for _ in range(50):
            kwargs: dict[str, Any] = {
                "MetricDataQueries": queries[chunk : chunk + 500],
                "StartTime": start,
                "EndTime": end,
                "ScanBy": "TimestampAscending",
            }
            if token:
                kwargs["NextToken"] = token
            try:
                page = cw.get_metric_data(**kwargs)
            except Exception as exc:
                result.errors.append(f"get_metric_data: {type(exc).__name__}: {exc}")
                break
            for r in page.get("MetricDataResults", []):
                series = values.setdefault(keys[r["Id"]], {})
                for ts, v in zip(r.get("Timestamps", []), r.get("Values", []), strict=False):
                    series[int(ts.timestamp()) // DAY_S] = float(v)
            token = page.get("NextToken")
            if not token:
                break
    for b in brokers:
        lo, mean, hi = (values.get((b, "KafkaDataLogsDiskUsed", s), {}) for s in
                        ("Minimum", "Average", "Maximum"))  # fmt: skip
        count = values.get((b, "KafkaDataLogsDiskUsed", "SampleCount"), {})
        used: list[Daily] = []
        total: list[Daily] = []
        usable: list[Daily] = []
        for day in sorted(hi):
            n = int(count.get(day, 1))
            p_lo, p_mean, p_hi = lo.get(day, hi[day]), mean.get(day, hi[day]), hi[day]
            b_lo, b_mean, b_hi = (capacity * p / 100.0 for p in (p_lo, p_mean, p_hi))
            used.append(Daily(day, n, b_lo, b_mean, b_hi, "cloudwatch"))
            total.append(Daily(day, n, capacity, capacity, capacity, "cloudwatch"))
            usable.append(
                Daily(day, n, capacity - b_hi, capacity - b_mean, capacity - b_lo, "cloudwatch")
            )
        subject = f"{b}:{log_dir}"
        for metric, rows in (
            ("used_bytes", used),
            ("fs_total_bytes", total),
            ("fs_usable_bytes", usable),
        ):
            result.rows += store.write_daily(cluster, "logdir", subject, metric, rows)
        bin_mean = values.get((b, "BytesInPerSec", "Average"), {})
        bin_max = values.get((b, "BytesInPerSec", "Maximum"), {})
        rows = [
            Daily(day, 1, None, bin_mean[day], bin_max.get(day, bin_mean[day]), "cloudwatch")
            for day in sorted(bin_mean)
        ]
        result.rows += store.write_daily(cluster, "broker", str(b), "bytes_in_per_s", rows)
    return result
