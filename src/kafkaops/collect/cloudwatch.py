"""Broker metrics of an Amazon MSK cluster from CloudWatch (namespace ``AWS/Kafka``).

Why CloudWatch: an MSK cluster without Open Monitoring exposes CPU, memory, disk and traffic
nowhere else, and consumer lag (``EstimatedMaxTimeLag``) is published here for free.

What is read (names, dimensions and units per the MSK developer guide, "Amazon MSK metrics for
monitoring Standard brokers with CloudWatch"):

=============================  ===========================  ==========  =========  ============
metric                         dimensions                   level       unit       → field
=============================  ===========================  ==========  =========  ============
CpuUser + CpuSystem            Cluster Name, Broker ID      DEFAULT     percent    cpu_percent
MemoryUsed, MemoryFree         Cluster Name, Broker ID      DEFAULT     bytes      memory_percent
KafkaDataLogsDiskUsed          Cluster Name, Broker ID      DEFAULT     percent    disk_percent
BytesInPerSec, BytesOutPerSec  Cluster Name, Broker ID      DEFAULT     bytes/s    bytes_in/out
ReplicationBytesIn/OutPerSec   Cluster Name, Broker ID      PER_BROKER  bytes/s    (network)
UnderReplicatedPartitions      Cluster Name, Broker ID      DEFAULT     count
UnderMinIsrPartitionCount      Cluster Name, Broker ID      DEFAULT     count
RequestHandlerAvgIdlePercent   Cluster Name, Broker ID      PER_BROKER  0..1 (!)   ×100
ActiveControllerCount          Cluster Name                 DEFAULT     count      controller
OfflinePartitionsCount         Cluster Name                 DEFAULT     count      controller
EstimatedMaxTimeLag            Cluster Name, Consumer       DEFAULT     SECONDS    ×1000 → ms
                               Group, Topic
MaxOffsetLag, SumOffsetLag     Cluster Name, Consumer       DEFAULT     offsets
                               Group, Topic
=============================  ===========================  ==========  =========  ============

Conversions and choices, each because of how MSK publishes:

* ``EstimatedMaxTimeLag`` is documented as "time estimate (in seconds) to drain MaxOffsetLag";
  the runbook's thresholds are milliseconds, so it is multiplied by 1000 here.
* ``RequestHandlerAvgIdlePercent`` is, despite its name, Kafka's idle *ratio* (0..1); AWS's
  own alarm guidance is "< 0.3 (30 %)".  It is multiplied by 100 to fit the model's 0–100.
* ``network_bytes_per_s`` is client plus replication traffic.  Replication bytes exist only at
  PER_BROKER monitoring or above; at DEFAULT the value is client traffic only (an
  under-estimate) and ``detail`` says so.
* The cluster-level ``ActiveControllerCount`` is pushed once a minute *by every broker* (1 on
  the active controller, 0 elsewhere) under the same ``Cluster Name`` dimension, so it is read
  as the **Sum over a 60 s period**: the number of active controllers (1 is healthy, 0 or 2 are
  not).  ``OfflinePartitionsCount`` is read as the Maximum.  Both go on one
  :class:`NodeMetrics` with ``role="controller"`` and ``node_id=-1`` (CloudWatch does not say
  which node is the controller), so ``ClusterMetrics.active_controller_count()`` and
  ``offline_partitions_count()`` work unchanged and ``brokers`` stays brokers only.  AWS notes
  that ActiveControllerCount is unreliable on KRaft-based MSK clusters.
* Each series' *latest* datapoint in ``[now - lookback, now)`` wins; ``now`` is rounded down
  to a period boundary first so the still-filling bucket (where only some brokers have
  reported yet, e.g. an ActiveControllerCount Sum of 0) is never read.

What does **not** exist: MSK publishes no failed-produce-request metric to CloudWatch.  The
runbook's weekly script queries ``ProducerRequestErrors`` in ``AWS/Kafka``; no such metric is
documented at any monitoring level (nor any produce-request *rate*: Kafka's
``FailedProduceRequestsPerSec`` / ``TotalProduceRequestsPerSec`` are only exposed through Open
Monitoring's JMX exporter).  ``failed_produce_requests_per_s`` and ``produce_requests_per_s``
therefore stay None from this source; use the Prometheus source for the producer error rate.

Consumer lag is only published for groups that are STABLE or EMPTY, whose names are ASCII and
contain no ``:``; such pairs are not asked for (a non-ASCII dimension value would fail the whole
batch) and groups without datapoints get no :class:`GroupLagMetric` at all.

Queries go through ``get_metric_data`` in batches of at most 500 (the API's limit), following
``NextToken``.  A failed call never raises: it becomes one line in ``ClusterMetrics.errors``;
a transport or credentials failure stops the remaining batches (they would fail the same way,
and the collection must stay bounded in time).

Why this module is long: one source — the query builder (batches of 500, real dimensions), the
response parser and the unit conversions (EstimatedMaxTimeLag seconds → ms) belong together.

Why this module is long: the metric table above, batching to GetMetricData's 500-query
limit, and one conversion per metric's unit (each documented where it is done).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafkaops.collect import msk
from kafkaops.collect.settings import CloudWatchSettings
from kafkaops.core.broker_metrics import ClusterMetrics, GroupLagMetric, MetricSource, NodeMetrics
from kafkaops.core.errors import ConfigError
from kafkaops.core.model import ClusterSnapshot

NAMESPACE = "AWS/Kafka"
#: get_metric_data accepts at most 500 MetricDataQueries per call.
MAX_QUERIES_PER_CALL = 500
#: Pages of one batch we follow before giving up (a runaway NextToken must not hang a cycle).
MAX_PAGES_PER_BATCH = 50
#: MSK pushes its metrics once a minute: the period over which a Sum counts each broker once.
MSK_PUBLISH_PERIOD_S = 60
#: Node id of the pseudo-node carrying the cluster-level (controller) metrics.
CONTROLLER_NODE_ID = -1

CLUSTER_DIM = "Cluster Name"
BROKER_DIM = "Broker ID"
GROUP_DIM = "Consumer Group"
TOPIC_DIM = "Topic"

#: (metric, statistic) per broker.  Average for gauges and rates, Maximum for counts (a
#: partition that was under-replicated at any point of the period counts).
BROKER_METRICS: tuple[tuple[str, str], ...] = (
    ("CpuUser", "Average"),
    ("CpuSystem", "Average"),
    ("MemoryUsed", "Average"),
    ("MemoryFree", "Average"),
    ("KafkaDataLogsDiskUsed", "Maximum"),
    ("BytesInPerSec", "Average"),
    ("BytesOutPerSec", "Average"),
    ("ReplicationBytesInPerSec", "Average"),
    ("ReplicationBytesOutPerSec", "Average"),
    ("UnderReplicatedPartitions", "Maximum"),
    ("UnderMinIsrPartitionCount", "Maximum"),
    ("RequestHandlerAvgIdlePercent", "Average"),
)
#: (metric, statistic, fixed period or None for the configured one) at cluster level.
CLUSTER_METRICS: tuple[tuple[str, str, int | None], ...] = (
    ("ActiveControllerCount", "Sum", MSK_PUBLISH_PERIOD_S),
    ("OfflinePartitionsCount", "Maximum", None),
)
#: (metric, statistic) per consumer group and topic: the worst value of the period.
LAG_METRICS: tuple[tuple[str, str], ...] = (
    ("EstimatedMaxTimeLag", "Maximum"),
    ("MaxOffsetLag", "Maximum"),
    ("SumOffsetLag", "Maximum"),
)


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """One CloudWatch series to read; ``subject`` says which node or group/topic it feeds."""

    qid: str
    metric: str
    stat: str
    period_s: int
    dimensions: tuple[tuple[str, str], ...]
    #: ("broker", id) / ("cluster",) / ("lag", group, topic)
    subject: tuple[Any, ...]

    def api(self) -> dict[str, Any]:
        """The ``MetricDataQueries`` entry (``ReturnData`` so every series comes back)."""
        return {
            "Id": self.qid,
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": self.metric,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions],
                },
                "Period": self.period_s,
                "Stat": self.stat,
            },
            "ReturnData": True,
        }


@dataclass
class _Fetched:
    """Latest datapoint per query id, plus what went wrong on the way."""

    latest: dict[str, tuple[datetime, float]]
    errors: list[str]
    calls: int = 0


class CloudWatchSource:
    """Reads one MSK cluster's ``AWS/Kafka`` metrics into a :class:`ClusterMetrics`."""

    def __init__(
        self,
        settings: CloudWatchSettings,
        *,
        region: str | None = None,
        network_capacity_bytes_per_s: float | None = None,
        client: Any | None = None,
        kafka_client: Any | None = None,
    ) -> None:
        """``client`` (CloudWatch) and ``kafka_client`` (MSK) replace the boto3 clients.

        ``region`` is the fallback when the settings have none (e.g. taken from the MSK broker
        host names with :func:`kafkaops.collect.msk.region_from_host`).  Without any region and
        without a client there is nothing to ask: refuse now rather than let boto3 guess.
        """
        self.settings = settings
        self.region = settings.region or region or _client_region(client)
        if client is None and not self.region:
            raise ConfigError.at(
                None,
                "metrics.cloudwatch.region",
                f"no AWS region for MSK cluster {settings.cluster_name!r}: set region "
                "(e.g. eu-west-1) or use the cluster's MSK broker host names",
            )
        self.network_capacity_bytes_per_s = network_capacity_bytes_per_s
        self._client = client
        self._kafka_client = kafka_client

    def __repr__(self) -> str:
        return f"CloudWatchSource(cluster={self.settings.cluster_name!r}, region={self.region!r})"

    # --- clients --------------------------------------------------------------------------------

    def _boto_client(self, service: str, endpoint_url: str | None) -> Any:
        """A boto3 client with bounded timeouts and retries: a cycle must not hang on AWS."""
        import boto3
        from botocore.config import Config

        timeout_s = self.settings.timeout / 1000
        config = Config(
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries={"total_max_attempts": 3, "mode": "standard"},
        )
        return boto3.session.Session().client(
            service, region_name=self.region, endpoint_url=endpoint_url, config=config
        )

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._boto_client("cloudwatch", self.settings.endpoint_url)
        return self._client

    @property
    def kafka_client(self) -> Any:
        # The endpoint override is CloudWatch's (often a VPC endpoint): not reused for MSK.
        if self._kafka_client is None:
            self._kafka_client = self._boto_client("kafka", None)
        return self._kafka_client

    def close(self) -> None:
        """Release the clients' pooled HTTP connections (a watcher that stops must not leak)."""
        for client in (self._client, self._kafka_client):
            if client is not None and hasattr(client, "close"):
                client.close()
        self._client = self._kafka_client = None

    # --- collection -----------------------------------------------------------------------------

    def collect(
        self, snapshot: ClusterSnapshot | None, now_ms: int | None = None
    ) -> ClusterMetrics:
        """Latest datapoints for every broker, the controller and each group/topic; never raises
        for a failed fetch (the failure is one line in ``errors``)."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        period_s = max(1, self.settings.period // 1000)
        errors: list[str] = []
        broker_ids = self._broker_ids(snapshot, errors)
        pairs, skipped = lag_pairs(snapshot)
        queries = build_queries(self.settings.cluster_name, broker_ids, pairs, period_s)
        # MSK publishes once a minute: a shorter period still aligns the window on minutes, so
        # the 60 s ActiveControllerCount bucket counts every broker exactly once.
        align_s = max(period_s, MSK_PUBLISH_PERIOD_S)
        start, end = query_window(now_ms, align_s, self.settings.lookback // 1000)
        fetched = self._fetch(queries, start, end)
        errors += fetched.errors
        values = {q.qid: fetched.latest[q.qid][1] for q in queries if q.qid in fetched.latest}
        if fetched.errors:
            why = "not read: a CloudWatch request failed (see the source's errors)"
        else:
            why = (
                f"no CloudWatch datapoints in the last {self.settings.lookback // 1000}s "
                "(broker down, or the Cluster Name dimension does not match?)"
            )
        nodes = build_nodes(queries, values, broker_ids, why)
        return ClusterMetrics(
            source=MetricSource.CLOUDWATCH.value,
            collected_at_ms=now_ms,
            window_s=self.settings.period / 1000,
            nodes=nodes,
            group_lag=build_group_lag(queries, values),
            network_capacity_bytes_per_s=self.network_capacity_bytes_per_s,
            errors=tuple(errors),
            detail=self._detail(queries, values, fetched.calls, skipped),
        )

    def fetch_latest(
        self, queries: Sequence[MetricQuery], now_ms: int | None = None
    ) -> tuple[dict[str, float], list[str]]:
        """Latest value per query id over the configured lookback, and the errors on the way.

        For diagnoses that need other series than :meth:`collect` reads (``kafkaops
        producers``); same batching, bounds and error handling.
        """
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        period_s = max(1, self.settings.period // 1000)
        align_s = max(period_s, MSK_PUBLISH_PERIOD_S)
        start, end = query_window(now_ms, align_s, self.settings.lookback // 1000)
        fetched = self._fetch(queries, start, end)
        values = {q.qid: fetched.latest[q.qid][1] for q in queries if q.qid in fetched.latest}
        return values, fetched.errors

    def _broker_ids(self, snapshot: ClusterSnapshot | None, errors: list[str]) -> list[int]:
        """Brokers from the snapshot; else from MSK ``list_nodes`` when the ARN is known."""
        if snapshot is not None and snapshot.brokers:
            return sorted({b.node_id for b in snapshot.brokers})
        arn = self.settings.cluster_arn
        if not arn:
            errors.append(
                "CloudWatch: no broker ids (no cluster snapshot and no cluster_arn for "
                "list_nodes): only cluster-level metrics were read"
            )
            return []
        try:
            return [b.broker_id for b in msk.list_brokers(self.kafka_client, arn)]
        except Exception as exc:  # boto3 raises many unrelated types; all are "fetch failed"
            errors.append(f"MSK list_nodes {arn}: {_one_line(exc)}")
            return []

    def _fetch(self, queries: Sequence[MetricQuery], start: datetime, end: datetime) -> _Fetched:
        """Every query, in batches of ≤ 500, into latest-datapoint-per-id."""
        from botocore.exceptions import BotoCoreError, ClientError

        fetched = _Fetched(latest={}, errors=[])
        statuses: Counter[str] = Counter()
        for batch in batches(queries, MAX_QUERIES_PER_CALL):
            try:
                self._fetch_batch(batch, start, end, fetched, statuses)
            except ClientError as exc:
                fetched.errors.append(
                    f"CloudWatch get_metric_data ({len(batch)} queries): {_client_error(exc)}"
                )
            except (BotoCoreError, OSError) as exc:
                # Endpoint unreachable, timeout, no credentials: the other batches would fail
                # the same way, each after its own timeout.  Stop here.
                fetched.errors.append(f"CloudWatch get_metric_data: {_one_line(exc)}")
                break
        fetched.errors += [
            f"CloudWatch returned {status} for {n} of {len(queries)} queries"
            for status, n in sorted(statuses.items())
        ]
        return fetched

    def _fetch_batch(
        self,
        batch: Sequence[MetricQuery],
        start: datetime,
        end: datetime,
        fetched: _Fetched,
        statuses: Counter[str],
    ) -> None:
        request: dict[str, Any] = {
            "MetricDataQueries": [q.api() for q in batch],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampDescending",
        }
        for _ in range(MAX_PAGES_PER_BATCH):
            fetched.calls += 1
            response = self.client.get_metric_data(**request)
            merge_results(response, fetched.latest, statuses)
            fetched.errors += [
                f"CloudWatch: {m.get('Code', '?')}: {_one_line(m.get('Value', ''))}"
                for m in response.get("Messages", [])
            ]
            token = response.get("NextToken")
            if not token:
                return
            request["NextToken"] = token
        fetched.errors.append(
            f"CloudWatch get_metric_data: still paginating after {MAX_PAGES_PER_BATCH} pages;"
            " the rest of that batch was not read"
        )

    def _detail(
        self,
        queries: Sequence[MetricQuery],
        values: Mapping[str, float],
        calls: int,
        skipped: int,
    ) -> str:
        s = self.settings
        parts = [
            f"CloudWatch {NAMESPACE}, cluster {s.cluster_name}"
            + (f" ({self.region})" if self.region else ""),
            f"period {s.period / 1000:g}s, latest datapoint of the last {s.lookback / 1000:g}s",
            f"{len(queries)} series in {calls} get_metric_data calls",
        ]
        if _client_only_network(queries, values):
            parts.append("network = client bytes only (replication bytes need PER_BROKER)")
        if skipped:
            parts.append(
                f"{skipped} group/topic pairs not asked (MSK publishes no lag for "
                "non-ASCII or ':' group names)"
            )
        return ", ".join(parts)


# --- pure helpers (tested directly) -------------------------------------------------------------


def query_window(now_ms: int, align_s: int, lookback_s: int) -> tuple[datetime, datetime]:
    """``[end - lookback, end)`` with ``end`` = now rounded down to a multiple of ``align_s``.

    Rounding down drops the bucket still being filled; CloudWatch also answers faster for
    period-aligned times.
    """
    align = max(align_s, 1)
    end_s = (now_ms // 1000) // align * align
    start_s = end_s - max(lookback_s, align)
    return datetime.fromtimestamp(start_s, UTC), datetime.fromtimestamp(end_s, UTC)


def lag_pairs(snapshot: ClusterSnapshot | None) -> tuple[list[tuple[str, str]], int]:
    """(group, topic) pairs to ask lag for, from the snapshot's groups, and how many were
    skipped because MSK cannot publish them (non-ASCII, or a ':' in the group name)."""
    if snapshot is None:
        return [], 0
    wanted = {(g.group_id, t) for g in snapshot.groups for t in g.topics}
    ok = sorted(p for p in wanted if _publishable(*p))
    return ok, len(wanted) - len(ok)


def _publishable(group: str, topic: str) -> bool:
    return bool(group) and bool(topic) and group.isascii() and topic.isascii() and ":" not in group


def build_queries(
    cluster: str,
    broker_ids: Sequence[int],
    pairs: Sequence[tuple[str, str]],
    period_s: int,
) -> list[MetricQuery]:
    """Every series to read, with ids ``q0, q1, …`` (CloudWatch wants ``^[a-z][a-zA-Z0-9_]*$``;
    names and group ids cannot be trusted to fit, so the id is an index and ``subject`` maps
    it back)."""
    specs: list[tuple[str, str, int, tuple[tuple[str, str], ...], tuple[Any, ...]]] = []
    for metric, stat, fixed in CLUSTER_METRICS:
        specs.append((metric, stat, fixed or period_s, ((CLUSTER_DIM, cluster),), ("cluster",)))
    dims: tuple[tuple[str, str], ...]
    for bid in broker_ids:
        dims = ((CLUSTER_DIM, cluster), (BROKER_DIM, str(bid)))
        specs += [(m, st, period_s, dims, ("broker", bid)) for m, st in BROKER_METRICS]
    for group, topic in pairs:
        dims = ((CLUSTER_DIM, cluster), (GROUP_DIM, group), (TOPIC_DIM, topic))
        specs += [(m, st, period_s, dims, ("lag", group, topic)) for m, st in LAG_METRICS]
    return [MetricQuery(f"q{i}", m, st, p, d, subj) for i, (m, st, p, d, subj) in enumerate(specs)]


def batches(items: Sequence[MetricQuery], size: int) -> Iterator[Sequence[MetricQuery]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def merge_results(
    response: Mapping[str, Any],
    latest: dict[str, tuple[datetime, float]],
    statuses: Counter[str],
) -> None:
    """Keep each id's newest datapoint; one id's values may span several pages."""
    for result in response.get("MetricDataResults", []):
        qid = result.get("Id")
        status = result.get("StatusCode", "Complete")
        if status not in ("Complete", "PartialData"):
            statuses[status] += 1
        for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
            if qid is None or not isinstance(value, int | float) or not math.isfinite(value):
                continue
            ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
            if qid not in latest or ts > latest[qid][0]:
                latest[qid] = (ts, float(value))


def build_nodes(
    queries: Sequence[MetricQuery],
    values: Mapping[str, float],
    broker_ids: Sequence[int],
    missing: str,
) -> tuple[NodeMetrics, ...]:
    """One NodeMetrics per broker (in id order) plus the controller pseudo-node if reported;
    a broker without any datapoint carries ``missing`` as its error."""
    by_subject = _by_subject(queries, values)
    nodes = [_broker_node(bid, by_subject.get(("broker", bid), {}), missing) for bid in broker_ids]
    cluster = by_subject.get(("cluster",), {})
    if cluster:
        nodes.append(_controller_node(cluster))
    return tuple(nodes)


def build_group_lag(
    queries: Sequence[MetricQuery], values: Mapping[str, float]
) -> tuple[GroupLagMetric, ...]:
    """A GroupLagMetric for every (group, topic) with at least one lag datapoint."""
    lags = {s: got for s, got in _by_subject(queries, values).items() if s[0] == "lag"}
    out = []
    for subject, got in sorted(lags.items()):
        seconds = got.get("EstimatedMaxTimeLag")
        out.append(
            GroupLagMetric(
                group=subject[1],
                topic=subject[2],
                estimated_max_time_lag_ms=None if seconds is None else round(seconds * 1000),
                max_offset_lag=_int(got.get("MaxOffsetLag")),
                sum_offset_lag=_int(got.get("SumOffsetLag")),
            )
        )
    return tuple(out)


def _by_subject(
    queries: Sequence[MetricQuery], values: Mapping[str, float]
) -> dict[tuple[Any, ...], dict[str, float]]:
    out: dict[tuple[Any, ...], dict[str, float]] = {}
    for q in queries:
        if q.qid in values:
            out.setdefault(q.subject, {})[q.metric] = values[q.qid]
    return out


def _broker_node(bid: int, got: Mapping[str, float], missing: str) -> NodeMetrics:
    if not got:
        return NodeMetrics(node_id=bid, error=missing)
    idle = got.get("RequestHandlerAvgIdlePercent")
    return NodeMetrics(
        node_id=bid,
        cpu_percent=_sum_all(got.get("CpuUser"), got.get("CpuSystem")),
        memory_percent=_memory_percent(got.get("MemoryUsed"), got.get("MemoryFree")),
        disk_percent=got.get("KafkaDataLogsDiskUsed"),
        bytes_in_per_s=got.get("BytesInPerSec"),
        bytes_out_per_s=got.get("BytesOutPerSec"),
        network_bytes_per_s=_network(got),
        under_replicated_partitions=_int(got.get("UnderReplicatedPartitions")),
        under_min_isr_partitions=_int(got.get("UnderMinIsrPartitionCount")),
        request_handler_idle_percent=None if idle is None else idle * 100.0,
    )


def _controller_node(got: Mapping[str, float]) -> NodeMetrics:
    return NodeMetrics(
        node_id=CONTROLLER_NODE_ID,
        role="controller",
        active_controller=_int(got.get("ActiveControllerCount")),
        offline_partitions=_int(got.get("OfflinePartitionsCount")),
    )


def _sum_all(*values: float | None) -> float | None:
    """The sum when every part was measured; a partial CPU figure would look healthy."""
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _memory_percent(used: float | None, free: float | None) -> float | None:
    if used is None or free is None or used + free <= 0:
        return None
    return 100.0 * used / (used + free)


def _network(got: Mapping[str, float]) -> float | None:
    client = _sum_all(got.get("BytesInPerSec"), got.get("BytesOutPerSec"))
    if client is None:
        return None
    replication = [got.get("ReplicationBytesInPerSec"), got.get("ReplicationBytesOutPerSec")]
    return client + sum(v for v in replication if v is not None)


def _client_only_network(queries: Sequence[MetricQuery], values: Mapping[str, float]) -> bool:
    """True when some broker's network figure lacks replication bytes (DEFAULT monitoring)."""
    got = _by_subject(queries, values)
    return any(
        subject[0] == "broker"
        and "BytesInPerSec" in metrics
        and "ReplicationBytesInPerSec" not in metrics
        for subject, metrics in got.items()
    )


def _int(value: float | None) -> int | None:
    return None if value is None else round(value)


def _client_region(client: Any) -> str | None:
    meta = getattr(client, "meta", None)
    region = getattr(meta, "region_name", None)
    return region if isinstance(region, str) and region else None


def _client_error(exc: Any) -> str:
    error = getattr(exc, "response", {}).get("Error", {})
    code, message = error.get("Code"), error.get("Message")
    return _one_line(f"{code}: {message}" if code else exc)


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())
