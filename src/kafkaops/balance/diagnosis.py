"""Partition balance diagnosis: per-broker load and skew against tolerance bands (pure).

Three dimensions, as Cruise Control's goals measure them: replicas (partitions hosted),
leaders and bytes on disk.  A broker is in band when its value lies within ``tolerance``
(default 10 %) of the mean over all brokers.  Counts are whole numbers, so their band is
rounded outwards (``floor(mean·0.9) … ceil(mean·1.1)``): 10 replicas on 3 brokers can never be
closer than 3/3/4, and that must not read as imbalance.  Bytes are only judged once the
average broker holds ``min_disk_bytes``: a few megabytes of test data are noise, not skew.

Also reported, because the runbook's section asks for them: topics whose replicas or leaders
sit on fewer brokers than they could, rack-awareness violations (two replicas of a partition
in one rack while another rack has none) and partitions not led by their preferred leader.

The runbook's own script for this is broken: ``awk '/Leader:/{print $2,$4}'`` on
``kafka-topics --describe`` prints the topic and the partition, not the leader, and
``kafka-log-dirs --json`` prints status lines before its JSON.  This module reads the admin
protocol's answers instead of parsing tool output.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

from kafkaops.balance.layout import Layout, PartitionInfo, layout_from_snapshot
from kafkaops.core.model import CheckStatus, ClusterSnapshot, Finding, Severity
from kafkaops.core.units import format_bytes

DEFAULT_TOLERANCE = 0.10
#: Below this average per broker, bytes are not judged (too little data to mean anything).
DEFAULT_MIN_DISK_BYTES = 1 << 30
RULE = "partition_imbalance"
TITLE = "Partition imbalance (replicas, leaders or bytes outside the tolerance band)"
#: What to do about it: the runbook's "generate and execute a reassignment plan", made safe.
RESPONSE = (
    "See the per-broker skew: kafkaops balance",
    "Plan the fewest-bytes reassignment: kafkaops balance plan -o plan.json",
    "Apply it under a replication throttle (removed at the end): "
    "kafkaops balance apply plan.json --throttle 50MiB/s",
    "Check the result: kafkaops balance status; kafkaops balance",
)


@dataclass(frozen=True)
class BrokerLoad:
    broker: int
    rack: str | None
    replicas: int
    leaders: int
    #: Partitions whose preferred leader (first replica) is this broker.
    preferred_leaders: int
    bytes: int


@dataclass(frozen=True)
class Dimension:
    """One balance dimension: the band and who is outside it."""

    name: str  # "replicas" | "leaders" | "bytes"
    mean: float
    lower: float
    upper: float
    values: dict[int, int]
    evaluated: bool = True
    note: str | None = None

    @property
    def outside(self) -> dict[int, int]:
        if not self.evaluated:
            return {}
        return {b: v for b, v in self.values.items() if v < self.lower or v > self.upper}

    @property
    def max_skew(self) -> float:
        """Largest relative distance from the mean (0.25 = 25 %)."""
        if not self.values or self.mean <= 0:
            return 0.0
        return max(abs(v - self.mean) / self.mean for v in self.values.values())


@dataclass(frozen=True)
class TopicSpread:
    topic: str
    kind: str  # "replicas" | "leaders"
    brokers_used: int
    brokers_possible: int
    max_per_broker: int
    expected_max: int


@dataclass(frozen=True)
class Diagnosis:
    tolerance: float
    brokers: tuple[BrokerLoad, ...]
    dimensions: tuple[Dimension, ...]
    clustered_topics: tuple[TopicSpread, ...] = ()
    rack_violations: tuple[str, ...] = ()
    non_preferred_leaders: tuple[str, ...] = ()
    offline_partitions: tuple[str, ...] = field(default=())

    @property
    def imbalanced(self) -> bool:
        return any(d.outside for d in self.dimensions)

    def dimension(self, name: str) -> Dimension:
        return next(d for d in self.dimensions if d.name == name)


def count_band(mean: float, tolerance: float) -> tuple[float, float]:
    """The band for a whole-number dimension, rounded outwards."""
    return float(math.floor(mean * (1 - tolerance))), float(math.ceil(mean * (1 + tolerance)))


def broker_loads(layout: Layout, use_disk: bool = True) -> list[BrokerLoad]:
    """Per-broker replicas, leaders, preferred leaders and bytes (disk when known)."""
    replicas: Counter[int] = Counter()
    leaders: Counter[int] = Counter()
    preferred: Counter[int] = Counter()
    modelled: Counter[int] = Counter()
    for p in layout.partitions:
        for r in p.replicas:
            replicas[r] += 1
            modelled[r] += p.size
        if p.leader >= 0:
            leaders[p.leader] += 1
        if p.replicas:
            preferred[p.replicas[0]] += 1
    out = []
    for b in sorted(layout.brokers):
        disk = layout.broker_bytes.get(b) if use_disk else None
        out.append(
            BrokerLoad(
                broker=b,
                rack=layout.brokers[b],
                replicas=replicas[b],
                leaders=leaders[b],
                preferred_leaders=preferred[b],
                bytes=disk if disk is not None else modelled[b],
            )
        )
    return out


def dimensions_of(
    loads: list[BrokerLoad],
    tolerance: float = DEFAULT_TOLERANCE,
    min_disk_bytes: int = DEFAULT_MIN_DISK_BYTES,
) -> tuple[Dimension, ...]:
    n = len(loads) or 1
    dims = []
    for name in ("replicas", "leaders"):
        values = {b.broker: getattr(b, name) for b in loads}
        mean = sum(values.values()) / n
        lower, upper = count_band(mean, tolerance)
        dims.append(Dimension(name, mean, lower, upper, values))
    values = {b.broker: b.bytes for b in loads}
    mean = sum(values.values()) / n
    evaluated = mean >= min_disk_bytes
    dims.append(
        Dimension(
            "bytes",
            mean,
            mean * (1 - tolerance),
            mean * (1 + tolerance),
            values,
            evaluated=evaluated,
            note=None
            if evaluated
            else f"not judged: {format_bytes(mean)} per broker is below "
            f"{format_bytes(min_disk_bytes)}",
        )
    )
    return tuple(dims)


def rack_violation(p: PartitionInfo, brokers: dict[int, str | None]) -> str | None:
    """Why ``p`` breaks rack awareness, or None: a rack holds more than its share of copies."""
    racks = {r for r in brokers.values() if r is not None}
    if not racks or len(p.replicas) < 2:
        return None
    allowed = math.ceil(len(p.replicas) / len(racks))
    per_rack = Counter(brokers.get(r) for r in p.replicas)
    crowded = sorted(str(r) for r, c in per_rack.items() if r is not None and c > allowed)
    if not crowded:
        return None
    return f"{p.name} replicas {list(p.replicas)}: {', '.join(crowded)} holds more than {allowed}"


def _spread(layout: Layout, tolerance: float) -> list[TopicSpread]:
    by_topic: dict[str, list[PartitionInfo]] = defaultdict(list)
    for p in layout.partitions:
        by_topic[p.topic].append(p)
    nbrokers = len(layout.brokers)
    out = []
    for topic in sorted(by_topic):
        parts = by_topic[topic]
        for kind, counts in (
            ("replicas", Counter(r for p in parts for r in p.replicas)),
            ("leaders", Counter(p.leader for p in parts if p.leader >= 0)),
        ):
            total = sum(counts.values())
            if not total or not nbrokers:
                continue
            possible = min(nbrokers, total)
            expected = math.ceil(total / nbrokers)
            limit = max(expected + 1, math.ceil(expected * (1 + tolerance)))
            top = max(counts.values())
            if (len(counts) < possible and total >= nbrokers) or top > limit:
                out.append(TopicSpread(topic, kind, len(counts), possible, top, expected))
    return out


def diagnose(
    layout: Layout,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    min_disk_bytes: int = DEFAULT_MIN_DISK_BYTES,
) -> Diagnosis:
    """The whole diagnosis of one layout (no I/O)."""
    loads = broker_loads(layout)
    rack_bad = [v for p in layout.partitions if (v := rack_violation(p, layout.brokers))]
    non_preferred = [
        f"{p.name} led by {p.leader}, preferred {p.replicas[0]}"
        for p in layout.partitions
        if p.leader >= 0 and p.replicas and p.leader != p.replicas[0]
    ]
    return Diagnosis(
        tolerance=tolerance,
        brokers=tuple(loads),
        dimensions=dimensions_of(loads, tolerance, min_disk_bytes),
        clustered_topics=tuple(_spread(layout, tolerance)),
        rack_violations=tuple(rack_bad),
        non_preferred_leaders=tuple(non_preferred),
        offline_partitions=tuple(p.name for p in layout.partitions if p.leader < 0),
    )


def _fmt(dim: Dimension, v: float) -> str:
    return format_bytes(v) if dim.name == "bytes" else f"{v:g}"


def imbalance_evidence(diag: Diagnosis) -> list[str]:
    lines = []
    for dim in diag.dimensions:
        for b, v in sorted(dim.outside.items()):
            lines.append(
                f"broker {b}: {_fmt(dim, v)} {dim.name}, band {_fmt(dim, dim.lower)}"
                f"–{_fmt(dim, dim.upper)} (mean {_fmt(dim, round(dim.mean, 1))})"
            )
    lines += [f"rack awareness: {v}" for v in diag.rack_violations[:10]]
    return lines


def imbalance_finding(diag: Diagnosis) -> Finding:
    """The P2 "partition imbalance" finding for a diagnosis (ok when every band holds)."""
    worst = max((d.max_skew for d in diag.dimensions if d.evaluated), default=0.0)
    triggered = diag.imbalanced
    return Finding(
        rule=RULE,
        severity=Severity.P2 if triggered else Severity.OK,
        status=CheckStatus.TRIGGERED if triggered else CheckStatus.OK,
        title=TITLE,
        value=round(worst * 100, 1),
        threshold=round(diag.tolerance * 100, 1),
        unit="percent",
        evidence=tuple(imbalance_evidence(diag)[:50]),
        response=RESPONSE if triggered else (),
    )


def partition_imbalance_finding(
    snapshot: ClusterSnapshot,
    tolerance: float = DEFAULT_TOLERANCE,
    min_disk_bytes: int = DEFAULT_MIN_DISK_BYTES,
) -> Finding:
    """Entry point for the health check: snapshot in, one P2 finding out (pure).

    Health triggers on *structural* imbalance only (replicas or bytes per broker outside the
    band): that needs a reassignment plan.  Leadership skew alone is transient — after any
    broker restart Kafka's auto leader rebalance (``leader.imbalance.check.interval.seconds``)
    or ``kafkaops balance`` moves leaders back without moving data — so it is listed in the
    evidence of ``kafkaops balance`` but does not page on its own.
    """
    layout = layout_from_snapshot(snapshot)
    diag = diagnose(layout, tolerance=tolerance, min_disk_bytes=min_disk_bytes)
    finding = imbalance_finding(diag)
    structural = any(d.outside for d in diag.dimensions if d.name != "leaders")
    if finding.status == CheckStatus.TRIGGERED and not structural:
        skews = [d.max_skew for d in diag.dimensions if d.evaluated and d.name != "leaders"]
        return replace(
            finding,
            value=round(max(skews, default=0.0) * 100, 1),
            severity=Severity.OK,
            status=CheckStatus.OK,
            response=(),
            evidence=("only leadership is skewed (preferred leader election fixes it)",
                      *finding.evidence),
        )  # fmt: skip
    return finding
