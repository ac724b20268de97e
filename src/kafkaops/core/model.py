"""Typed, immutable snapshot of a Kafka cluster.

Everything downstream (evaluators, reports, the store, the service) reads these types and
nothing else, so a collector for another source (Prometheus, CloudWatch) only has to fill
them in.  They are frozen dataclasses: a snapshot is a fact about one moment and must not be
edited after it was taken.  Times are UTC epoch milliseconds (``*_ms``) throughout.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kafkaops.core.broker_metrics import ClusterMetrics

_T = TypeVar("_T")


class Severity(enum.StrEnum):
    """Runbook incident classes. ``P0`` is the worst; ``OK`` means nothing triggered."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    OK = "OK"

    @property
    def rank(self) -> int:
        """Lower is worse: lets ``min(..., key=rank)`` pick the worst severity."""
        return {"P0": 0, "P1": 1, "P2": 2, "OK": 3}[self.value]

    @staticmethod
    def worst(severities: list[Severity]) -> Severity:
        return min(severities, key=lambda s: s.rank, default=Severity.OK)


@dataclass(frozen=True, slots=True)
class Broker:
    node_id: int
    host: str
    port: int
    rack: str | None = None
    #: False when the broker is listed in metadata but did not answer our requests.
    reachable: bool = True
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PartitionState:
    topic: str
    partition: int
    #: -1 when the partition has no leader (offline).
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    offline_replicas: tuple[int, ...] = ()
    #: Effective min.insync.replicas for the topic (topic override, else broker default).
    min_isr: int = 1
    log_start_offset: int | None = None
    log_end_offset: int | None = None

    @property
    def offline(self) -> bool:
        return self.leader < 0

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    @property
    def under_min_isr(self) -> bool:
        return len(self.isr) < self.min_isr

    @property
    def name(self) -> str:
        return f"{self.topic}-{self.partition}"


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    internal: bool
    partitions: tuple[PartitionState, ...]
    configs: dict[str, str] = field(default_factory=dict)

    @property
    def replication_factor(self) -> int:
        return max((len(p.replicas) for p in self.partitions), default=0)


@dataclass(frozen=True, slots=True)
class GroupMember:
    member_id: str
    client_id: str
    host: str
    #: Partitions assigned to this member, as (topic, partition).
    assignment: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """Lag of one group on one partition.

    ``committed`` is None when the group has no committed offset for the partition: that is
    reported as such, never as -1.  When the committed offset is below the log-start offset
    (retention deleted what the group had not read yet) lag is counted from the log start and
    ``committed_below_log_start`` is set, because those records are lost to the group.
    """

    topic: str
    partition: int
    committed: int | None
    log_start_offset: int | None
    log_end_offset: int | None
    lag: int | None
    committed_below_log_start: bool = False
    member_id: str | None = None
    #: Milliseconds between now and the timestamp of the first unconsumed record.
    time_lag_ms: int | None = None
    #: How ``time_lag_ms`` was obtained: "exact" (record timestamp) or "estimated".
    time_lag_method: str | None = None


def slot_constructor(cls: type[_T]) -> Callable[..., _T]:
    """A positional constructor for a frozen, slotted dataclass that fills the slots directly.

    Every field is passed, in declaration order, and nothing is checked.  Why: a frozen
    dataclass's ``__init__`` sets each field through ``object.__setattr__``; a snapshot of a
    20,000-partition cluster with 2,000 groups builds 60,000 :class:`PartitionState` and
    :class:`PartitionLag` objects, and this halves their cost (~0.1 s of client CPU).
    """
    setters = tuple(getattr(cls, f.name).__set__ for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    new = object.__new__

    def make(*values: Any) -> _T:
        obj = new(cls)
        for set_slot, value in zip(setters, values, strict=True):
            set_slot(obj, value)
        return obj

    return make


#: ``new_partition_state(topic, partition, leader, replicas, isr, offline_replicas, min_isr,
#: log_start_offset, log_end_offset)``: see :func:`slot_constructor`.
new_partition_state = slot_constructor(PartitionState)
#: ``new_partition_lag(topic, partition, committed, log_start_offset, log_end_offset, lag,
#: committed_below_log_start, member_id, time_lag_ms, time_lag_method)``.
new_partition_lag = slot_constructor(PartitionLag)


@dataclass(frozen=True, slots=True)
class ConsumerGroup:
    group_id: str
    state: str
    protocol_type: str
    coordinator: int | None
    members: tuple[GroupMember, ...]
    partitions: tuple[PartitionLag, ...]
    error: str | None = None

    @property
    def total_lag(self) -> int:
        return sum(p.lag or 0 for p in self.partitions)

    @property
    def max_time_lag_ms(self) -> int | None:
        values = [p.time_lag_ms for p in self.partitions if p.time_lag_ms is not None]
        return max(values) if values else None

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sorted({p.topic for p in self.partitions}))


@dataclass(frozen=True, slots=True)
class LogDir:
    broker: int
    path: str
    error: str | None
    #: Bytes on disk per partition replica, keyed "topic-partition".
    partition_bytes: dict[str, int]
    total_bytes: int | None = None
    usable_bytes: int | None = None

    @property
    def used_bytes(self) -> int:
        return sum(self.partition_bytes.values())


@dataclass(frozen=True, slots=True)
class CollectionError:
    """Something we asked the cluster and did not get an answer to.

    A snapshot is still produced: an operator wants partial facts plus a clear note of what is
    missing, not nothing at all.
    """

    source: str
    target: str
    message: str


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    cluster_name: str
    bootstrap: str
    taken_at_ms: int
    duration_ms: int
    cluster_id: str | None
    #: Broker id the metadata names as controller (in KRaft: a random live broker; see quorum).
    controller_id: int | None
    #: Node id of the active KRaft quorum leader, from DescribeQuorum; None when unknown.
    quorum_leader_id: int | None
    quorum_voters: tuple[int, ...]
    brokers: tuple[Broker, ...]
    topics: tuple[Topic, ...]
    groups: tuple[ConsumerGroup, ...]
    log_dirs: tuple[LogDir, ...]
    errors: tuple[CollectionError, ...] = ()
    #: Number of protocol round trips the collection made, by API name (for the benchmark).
    round_trips: dict[str, int] = field(default_factory=dict)
    #: Broker metrics from the configured metrics sources (Prometheus, CloudWatch), in order
    #: of preference; empty when only the admin protocol is configured.
    metrics: tuple[ClusterMetrics, ...] = ()

    @property
    def partitions(self) -> list[PartitionState]:
        return [p for t in self.topics for p in t.partitions]

    @property
    def offline_partitions(self) -> list[PartitionState]:
        return [p for p in self.partitions if p.offline]

    @property
    def under_replicated_partitions(self) -> list[PartitionState]:
        return [p for p in self.partitions if p.under_replicated]

    @property
    def under_min_isr_partitions(self) -> list[PartitionState]:
        return [p for p in self.partitions if p.under_min_isr]

    @property
    def user_topics(self) -> list[Topic]:
        return [t for t in self.topics if not t.internal]

    def broker_bytes(self) -> dict[int, int]:
        """Bytes stored per broker, summed over its log dirs."""
        out: dict[int, int] = {}
        for d in self.log_dirs:
            out[d.broker] = out.get(d.broker, 0) + d.used_bytes
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (several times faster than ``dataclasses.asdict``)."""
        result = _plain(self)
        assert isinstance(result, dict)
        return result


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_SCALARS = (str, int, float, bool, type(None))


def _plain(obj: Any) -> Any:
    """Convert dataclasses/tuples/dicts recursively without ``asdict``'s deep copies."""
    if isinstance(obj, _SCALARS):
        return obj
    cls = type(obj)
    names = _FIELD_NAMES.get(cls)
    if names is None and dataclasses.is_dataclass(cls):
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    if names is not None:
        return {name: _plain(getattr(obj, name)) for name in names}
    if isinstance(obj, tuple | list):
        if all(isinstance(v, _SCALARS) for v in obj):
            return list(obj)
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    return obj


class CheckStatus(enum.StrEnum):
    """Outcome of evaluating one runbook rule."""

    OK = "ok"
    TRIGGERED = "triggered"
    #: The rule needs a metric no configured source provides (e.g. CPU from the admin protocol).
    NOT_MEASURED = "not_measured"


@dataclass(frozen=True, slots=True)
class Finding:
    """One runbook rule evaluated against one subject.

    ``rule`` + ``subject`` is a stable identity (with the cluster, the alert dedup key).
    ``value``/``threshold`` carry explicit ``unit`` ("count", "ms", "percent", "ratio", "bytes").
    """

    rule: str
    severity: Severity
    status: CheckStatus
    title: str
    value: float | None
    threshold: float | None
    unit: str
    subject: str = "cluster"
    evidence: tuple[str, ...] = ()
    source: str = "admin"
    #: The runbook's response steps for this severity, as the operator should run them.
    response: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain values, severity and status as strings, tuples kept as tuples
        (what ``dataclasses.asdict`` gave) — written out because ``asdict``'s recursive deep
        copy was 70 % of the incident engine's save with thousands of firing alerts
        (bench/incidents_bench.py); tests/core/test_finding_dict.py keeps the two equal."""
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "status": self.status.value,
            "title": self.title,
            "value": self.value,
            "threshold": self.threshold,
            "unit": self.unit,
            "subject": self.subject,
            "evidence": tuple(self.evidence),
            "source": self.source,
            "response": tuple(self.response),
        }


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The runbook's daily health check plus incident classification for one cluster."""

    cluster_name: str
    bootstrap: str
    checked_at_ms: int
    reachable: bool
    overall_healthy: bool
    severity: Severity
    #: Triggered findings, worst first.
    findings: tuple[Finding, ...]
    #: Every rule evaluated, including ok and not-measured ones.
    checks: tuple[Finding, ...]
    summary: dict[str, Any]
