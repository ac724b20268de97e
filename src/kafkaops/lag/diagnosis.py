"""Consumer lag diagnosis — the runbook's ``diagnose-consumer-lag.sh``, done properly.

Pure functions over a :class:`ClusterSnapshot`: no I/O, so every recommendation is unit-tested.

The runbook's script sums column 5 of ``kafka-consumer-groups --describe`` (which is not the lag
column in current Kafka versions) and recommends "scale consumers" above 10,000.  Here the
recommendations follow what an operator actually checks:

* members < partitions → scale consumers up to the partition count (more consumers than
  partitions leaves the extra ones idle);
* lag > ``scale_up_lag_threshold`` (runbook: 10,000) with consumers already equal to partitions →
  add ``partition_increment`` (runbook: 4) partitions, after checking processing bottlenecks;
* one member owning far more lag than the others → skew, check the assignor and hot keys;
* partitions whose committed offset is not moving while lag grows → stuck (needs history; the
  lag engine's status evaluation reports it);
* no members and lag > 0 → the group is stopped: restart it or delete it if retired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kafkaops.core.model import ClusterSnapshot, ConsumerGroup

SCALE_UP_LAG_THRESHOLD = 10_000
PARTITION_INCREMENT = 4


@dataclass(frozen=True)
class GroupLagSummary:
    group_id: str
    state: str
    members: int
    partitions: int
    topics: tuple[str, ...]
    offset_lag: int
    max_time_lag_ms: int | None
    time_lag_method: str | None
    partitions_without_commit: int


@dataclass(frozen=True)
class MemberLoad:
    member_id: str
    client_id: str
    host: str
    partitions: int
    lag: int


@dataclass(frozen=True)
class GroupDiagnosis:
    summary: GroupLagSummary
    members: tuple[MemberLoad, ...]
    idle_members: tuple[str, ...]
    unassigned_lagging_partitions: tuple[str, ...]
    #: Share of the group's lag held by its most loaded member (1.0 = all of it).
    skew: float | None
    recommendations: tuple[str, ...] = field(default_factory=tuple)


def summarize_group(group: ConsumerGroup) -> GroupLagSummary:
    methods = {p.time_lag_method for p in group.partitions if p.time_lag_method}
    return GroupLagSummary(
        group_id=group.group_id,
        state=group.state,
        members=len(group.members),
        partitions=len(group.partitions),
        topics=group.topics,
        offset_lag=group.total_lag,
        max_time_lag_ms=group.max_time_lag_ms,
        time_lag_method=",".join(sorted(methods)) or None,
        partitions_without_commit=sum(1 for p in group.partitions if p.committed is None),
    )


def rank_groups(
    snapshot: ClusterSnapshot,
    *,
    top: int | None = None,
    group_pattern: str | None = None,
    topic_pattern: str | None = None,
) -> list[GroupLagSummary]:
    """Groups sorted by time lag, then offset lag (worst first), optionally filtered by regex."""
    group_re = re.compile(group_pattern) if group_pattern else None
    topic_re = re.compile(topic_pattern) if topic_pattern else None
    rows = []
    for g in snapshot.groups:
        if group_re and not group_re.search(g.group_id):
            continue
        if topic_re and not any(topic_re.search(t) for t in g.topics):
            continue
        rows.append(summarize_group(g))
    rows.sort(key=lambda r: (-(r.max_time_lag_ms or 0), -r.offset_lag, r.group_id))
    return rows[:top] if top else rows


def diagnose_group(
    snapshot: ClusterSnapshot,
    group_id: str,
    *,
    scale_up_lag_threshold: int = SCALE_UP_LAG_THRESHOLD,
    partition_increment: int = PARTITION_INCREMENT,
) -> GroupDiagnosis | None:
    group = next((g for g in snapshot.groups if g.group_id == group_id), None)
    if group is None:
        return None
    summary = summarize_group(group)
    lag_by_tp = {(p.topic, p.partition): p.lag or 0 for p in group.partitions}
    loads = tuple(
        MemberLoad(
            member_id=m.member_id,
            client_id=m.client_id,
            host=m.host,
            partitions=len(m.assignment),
            lag=sum(lag_by_tp.get(tp, 0) for tp in m.assignment),
        )
        for m in group.members
    )
    idle = tuple(m.member_id for m in loads if m.partitions == 0)
    assigned = {tp for m in group.members for tp in m.assignment}
    unassigned = tuple(
        f"{p.topic}-{p.partition}"
        for p in group.partitions
        if (p.lag or 0) > 0 and (p.topic, p.partition) not in assigned and group.members
    )
    total = sum(m.lag for m in loads)
    skew = max(m.lag for m in loads) / total if loads and total > 0 else None
    topic_partitions = {
        t.name: len(t.partitions) for t in snapshot.topics if t.name in set(group.topics)
    }
    recs = _recommend(
        group, summary, loads, idle, skew, topic_partitions,
        scale_up_lag_threshold, partition_increment,
    )  # fmt: skip
    return GroupDiagnosis(summary, loads, idle, unassigned, skew, tuple(recs))


def _recommend(
    group: ConsumerGroup,
    summary: GroupLagSummary,
    loads: tuple[MemberLoad, ...],
    idle: tuple[str, ...],
    skew: float | None,
    topic_partitions: dict[str, int],
    threshold: int,
    increment: int,
) -> list[str]:
    recs: list[str] = []
    partitions = sum(topic_partitions.values()) or summary.partitions
    lag = summary.offset_lag
    if not group.members:
        if lag > 0:
            recs.append(
                f"Group has no members and {lag:,} records of lag: it is stopped. Restart its "
                "consumers, or delete the group if the application was retired."
            )
        return recs
    if lag == 0:
        recs.append("No lag: the group keeps up.")
    if idle:
        recs.append(
            f"{len(idle)} member(s) have no partitions: a group cannot use more consumers than "
            f"partitions ({partitions}). Remove the idle consumers or add partitions."
        )
    if lag > 0 and len(loads) < partitions:
        recs.append(
            f"Scale consumers up to the partition count: {len(loads)} member(s) for "
            f"{partitions} partitions."
        )
    if lag > threshold and len(loads) >= partitions:
        recs.append(
            f"Lag {lag:,} > {threshold:,} with consumers already equal to partitions: add "
            f"{increment} partitions (runbook partition_increment) to "
            f"{', '.join(sorted(topic_partitions)) or 'the topics'}, after ruling out a "
            "processing bottleneck (keys change partition when the count changes): "
            f"kafkaops partitions add TOPIC --by {increment} (dry run first)."
        )
    if skew is not None and len(loads) > 1 and skew > min(0.75, 1.5 / len(loads)) and lag > 0:
        recs.append(
            f"Lag is skewed: one member holds {skew:.0%} of it. Check for hot keys and the "
            "partition assignor."
        )
    if lag > threshold:
        recs.append(
            "Check consumer processing for bottlenecks (slow downstream calls, large batches, "
            "GC pauses) and the network path / DNS resolution to the brokers."
        )
    return recs
