"""``kafkaops producers`` on MSK without Open Monitoring: the same analysis from CloudWatch.

MSK publishes the produce request time split by component at the ``PER_BROKER`` monitoring
level (``AWS/Kafka``, dimensions ``Cluster Name`` + ``Broker ID``), as per-minute means:

==================================  ========================  ===============================
CloudWatch metric                   level                     → BrokerProduce
==================================  ========================  ===============================
ProduceTotalTimeMsMean              PER_BROKER                mean_ms["TotalTimeMs"]
ProduceRequestQueueTimeMsMean       PER_BROKER                mean_ms["RequestQueueTimeMs"]
ProduceLocalTimeMsMean              PER_BROKER                mean_ms["LocalTimeMs"]
ProduceResponseQueueTimeMsMean      PER_BROKER                mean_ms["ResponseQueueTimeMs"]
ProduceResponseSendTimeMsMean       PER_BROKER                mean_ms["ResponseSendTimeMs"]
ProduceThrottleTime                 PER_BROKER                throttle_ms
RequestHandlerAvgIdlePercent        PER_BROKER (0..1)         ×100
NetworkProcessorAvgIdlePercent      PER_BROKER (0..1)         ×100
BytesInPerSec, MessagesInPerSec     DEFAULT                   bytes/messages in
UnderReplicatedPartitions           DEFAULT                   under_replicated_partitions
LeaderCount                         DEFAULT                   leaders
BytesInPerSec, MessagesInPerSec     PER_TOPIC_PER_BROKER      busiest topics (+ ``Topic``)
==================================  ========================  ===============================

What MSK does not publish, and what is done instead:

* **No remote time** (``ProduceRemoteTimeMs``) — the component that says "replication, not the
  client".  It is derived as TotalTime − (queue + local + response queue + response send),
  i.e. the time the request was parked waiting for followers (plus any quota throttle, which
  ``ProduceThrottleTime`` shows separately); the report says it is derived.
* **No produce request rate and no failed-produce rate**: ``produce_requests_per_s`` and
  ``failed_produce_requests_per_s`` stay None, so the error-ratio and small-batch causes cannot
  be diagnosed from this source (the report says so).
* No percentiles: CloudWatch gets per-minute means only.

The numbers are the latest complete minute within the lookback (not a window of our own):
CloudWatch is already an aggregate, and MSK pushes once a minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kafkaops.collect.cloudwatch import BROKER_DIM, CLUSTER_DIM, TOPIC_DIM, MetricQuery
from kafkaops.diagnose.producers import (
    BrokerProduce,
    ProducerReport,
    TopicProduce,
    diagnose,
)
from kafkaops.diagnose.settings import ProducerSettings

#: CloudWatch metric → component of the produce request time.
COMPONENT_METRICS: dict[str, str] = {
    "ProduceTotalTimeMsMean": "TotalTimeMs",
    "ProduceRequestQueueTimeMsMean": "RequestQueueTimeMs",
    "ProduceLocalTimeMsMean": "LocalTimeMs",
    "ProduceResponseQueueTimeMsMean": "ResponseQueueTimeMs",
    "ProduceResponseSendTimeMsMean": "ResponseSendTimeMs",
}
BROKER_METRICS: tuple[str, ...] = (
    *COMPONENT_METRICS,
    "ProduceThrottleTime",
    "RequestHandlerAvgIdlePercent",
    "NetworkProcessorAvgIdlePercent",
    "BytesInPerSec",
    "MessagesInPerSec",
    "UnderReplicatedPartitions",
    "LeaderCount",
)
TOPIC_METRICS: tuple[str, ...] = ("BytesInPerSec", "MessagesInPerSec")
#: Topics asked for (× brokers × 2 series): bounds the cost of one run.
MAX_TOPICS = 200
REMOTE_NOTE = (
    "CloudWatch: RemoteTimeMs is derived (TotalTime minus queue, local and response times): "
    "MSK does not publish the remote time itself"
)
NO_RATE_NOTE = (
    "CloudWatch: MSK publishes no produce request rate nor failed-produce rate; error ratio "
    "and batching are not diagnosed from this source (use Open Monitoring for them)"
)


def build_queries(
    cluster: str, broker_ids: Sequence[int], topics: Sequence[str], period_s: int
) -> list[MetricQuery]:
    """The series to read: per broker, then per (broker, topic) — ``Average`` of each."""
    out: list[MetricQuery] = []
    dims: tuple[tuple[str, str], ...]
    for bid in broker_ids:
        dims = ((CLUSTER_DIM, cluster), (BROKER_DIM, str(bid)))
        for m in BROKER_METRICS:
            out.append(MetricQuery(f"q{len(out)}", m, "Average", period_s, dims, ("broker", bid)))
    for topic in sorted(t for t in topics if t.isascii())[:MAX_TOPICS]:
        for bid in broker_ids:
            dims = ((CLUSTER_DIM, cluster), (BROKER_DIM, str(bid)), (TOPIC_DIM, topic))
            for m in TOPIC_METRICS:
                out.append(
                    MetricQuery(f"q{len(out)}", m, "Average", period_s, dims, ("topic", topic))
                )
    return out


def _ratio_percent(value: float | None) -> float | None:
    """Kafka's *AvgIdlePercent gauges are ratios (0..1); accept a percentage too."""
    if value is None:
        return None
    return value * 100.0 if value <= 1.0 else value


def analyse(
    cluster: str,
    queries: Sequence[MetricQuery],
    values: dict[str, float],
    broker_ids: Sequence[int],
    errors: Sequence[str] = (),
    settings: ProducerSettings | None = None,
    period_s: float = 60.0,
) -> ProducerReport:
    """The producer report from the latest CloudWatch values (pure: tests feed values)."""
    per_broker: dict[int, dict[str, float]] = {}
    per_topic: dict[str, dict[str, float]] = {}
    for q in queries:
        if q.qid not in values:
            continue
        if q.subject[0] == "broker":
            per_broker.setdefault(q.subject[1], {})[q.metric] = values[q.qid]
        else:
            summed = per_topic.setdefault(q.subject[1], {})
            summed[q.metric] = summed.get(q.metric, 0.0) + values[q.qid]
    brokers: list[BrokerProduce] = []
    derived = False
    for bid in broker_ids:
        got = per_broker.get(bid)
        if not got:
            brokers.append(
                BrokerProduce(
                    node_id=bid,
                    error="no CloudWatch datapoints (monitoring level below PER_BROKER, or "
                    "the Cluster Name does not match?)",
                )
            )
            continue
        means = {c: got[m] for m, c in COMPONENT_METRICS.items() if m in got}
        parts = [means.get(c) for c in COMPONENT_METRICS.values() if c != "TotalTimeMs"]
        total = means.get("TotalTimeMs")
        if total is not None and all(p is not None for p in parts):
            means["RemoteTimeMs"] = max(0.0, total - sum(p for p in parts if p is not None))
            derived = True
        urp, leaders = got.get("UnderReplicatedPartitions"), got.get("LeaderCount")
        brokers.append(
            BrokerProduce(
                node_id=bid,
                bytes_in_per_s=got.get("BytesInPerSec"),
                messages_in_per_s=got.get("MessagesInPerSec"),
                mean_ms=means,
                request_handler_idle_percent=_ratio_percent(
                    got.get("RequestHandlerAvgIdlePercent")
                ),
                network_processor_idle_percent=_ratio_percent(
                    got.get("NetworkProcessorAvgIdlePercent")
                ),
                throttle_ms=got.get("ProduceThrottleTime"),
                under_replicated_partitions=None if urp is None else round(urp),
                leaders=None if leaders is None else round(leaders),
            )
        )
    topics = sorted(
        (
            TopicProduce(t, got.get("BytesInPerSec", 0.0), got.get("MessagesInPerSec", 0.0))
            for t, got in per_topic.items()
        ),
        key=lambda r: (-r.bytes_in_per_s, -r.messages_in_per_s, r.topic),
    )
    notes = [*errors]
    if derived:
        notes.append(REMOTE_NOTE)
    notes.append(NO_RATE_NOTE)
    return ProducerReport(
        cluster=cluster,
        window_s=period_s,
        brokers=tuple(brokers),
        topics=tuple(topics),
        causes=tuple(diagnose(brokers, settings)),
        errors=tuple(notes),
        source="cloudwatch",
    )


def measure(
    cluster: str,
    source: Any,
    broker_ids: Sequence[int],
    topics: Sequence[str],
    settings: ProducerSettings | None = None,
    now_ms: int | None = None,
) -> ProducerReport:
    """Read the series through a :class:`~kafkaops.collect.cloudwatch.CloudWatchSource`."""
    period_s = max(1, source.settings.period // 1000)
    queries = build_queries(source.settings.cluster_name, broker_ids, topics, period_s)
    values, errors = source.fetch_latest(queries, now_ms)
    return analyse(cluster, queries, values, broker_ids, errors, settings, float(period_s))
