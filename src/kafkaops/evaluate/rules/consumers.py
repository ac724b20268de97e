"""Consumer rules: time lag against the thresholds (P1/P2) and Burrow-style status (P2).

Kept apart from the cluster rules because they read consumer groups and the lag history's
statuses, not partitions and brokers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kafkaops.core.model import ClusterSnapshot, ConsumerGroup, Finding, Severity
from kafkaops.core.units import format_duration_ms
from kafkaops.evaluate.findings import not_measured, plural, result
from kafkaops.lag.status import GroupStatus, LagStatus

#: Worst partitions listed per lagging group.
LAG_PARTITIONS_SHOWN = 10


# ------------------------------------------------------------------------------ consumer lag
def _lag_severity(worst_ms: int, crit_ms: int, warn_ms: int) -> tuple[Severity, int] | None:
    if worst_ms > crit_ms:
        return Severity.P1, crit_ms
    if worst_ms > warn_ms:
        return Severity.P2, warn_ms
    return None


def _group_lag(group: ConsumerGroup, worst_ms: int, severity: Severity, threshold: int) -> Finding:
    parts = sorted(
        (p for p in group.partitions if p.time_lag_ms is not None),
        key=lambda p: (-(p.time_lag_ms or 0), p.topic, p.partition),
    )
    methods = sorted({p.time_lag_method for p in parts if p.time_lag_method}) or ["unknown"]
    header = (
        f"time lag method: {', '.join(methods)}; state {group.state}, "
        f"{plural(len(group.members), 'member')}, offset lag {group.total_lag:,}"
    )
    worst = [
        f"{p.topic}-{p.partition} time lag {format_duration_ms(p.time_lag_ms or 0)}, "
        f"offset lag {p.lag if p.lag is not None else 'unknown'}"
        for p in parts[:LAG_PARTITIONS_SHOWN]
        if p.time_lag_ms
    ]
    return result(
        "consumer_lag",
        severity,
        True,
        worst_ms,
        threshold,
        subject=group.group_id,
        evidence=[header, *worst],
    )


def _unmeasured_groups(
    groups: Iterable[ConsumerGroup], covered: Mapping[str, object] | None = None
) -> list[str]:
    """Groups whose lag could matter but whose time lag is unknown (with why, if known);
    ``covered`` groups have a time lag from a metrics source instead."""
    out = []
    for g in groups:
        if g.max_time_lag_ms is not None or g.group_id in (covered or {}):
            continue
        if g.error and not g.partitions:
            out.append(f"{g.group_id} (offsets not fetched: {g.error})")
        elif any((p.lag or 0) > 0 for p in g.partitions):
            out.append(g.group_id)
    return out


def _source_lag(snapshot: ClusterSnapshot) -> dict[str, tuple[int, str, str]]:
    """``group → (EstimatedMaxTimeLag ms, source label, topic)`` from a metrics source
    (CloudWatch), the worst topic per group; the source converted seconds to ms."""
    out: dict[str, tuple[int, str, str]] = {}
    for metrics in snapshot.metrics:
        for lag in metrics.group_lag:
            ms = lag.estimated_max_time_lag_ms
            if ms is not None and (lag.group not in out or ms > out[lag.group][0]):
                out[lag.group] = (ms, metrics.label, lag.topic)
    return out


def consumer_lag(snapshot: ClusterSnapshot, crit_ms: int, warn_ms: int) -> list[Finding]:
    """One finding per group over a threshold; otherwise one for the cluster.

    A group's time lag is kafkaops' own (exact or estimated) when it has one, else the metrics
    source's EstimatedMaxTimeLag (MSK's CloudWatch figure).  The cluster-level finding is *not
    measured* when some lagging group has neither (e.g. ``time_lag_method: none``, or the
    collector's read budget ran out): those groups might be over the threshold and nobody knows.
    """
    groups = sorted(snapshot.groups, key=lambda g: g.group_id)
    from_source = _source_lag(snapshot)
    out = []
    for g in groups:
        worst = g.max_time_lag_ms
        if worst is None and g.group_id in from_source:
            ms, label, topic = from_source[g.group_id]
            hit = _lag_severity(ms, crit_ms, warn_ms)
            if hit is not None:
                evidence = [f"EstimatedMaxTimeLag {format_duration_ms(ms)} on topic {topic}"]
                out.append(
                    result(
                        "consumer_lag",
                        hit[0],
                        True,
                        ms,
                        hit[1],
                        subject=g.group_id,
                        evidence=evidence,
                        source=label,
                    )
                )
            continue
        hit = _lag_severity(worst, crit_ms, warn_ms) if worst is not None else None
        if worst is not None and hit is not None:
            out.append(_group_lag(g, worst, *hit))
    unmeasured = _unmeasured_groups(groups, from_source)
    if unmeasured:
        reason = f"time lag not measured for {plural(len(unmeasured), 'lagging group')}: "
        shown = ", ".join(unmeasured[:10]) + (" …" if len(unmeasured) > 10 else "")
        out.append(not_measured("consumer_lag", reason + shown))
    elif not out:
        worst_all = max(
            (g.max_time_lag_ms or from_source.get(g.group_id, (0,))[0] for g in groups),
            default=0,
        )
        out.append(result("consumer_lag", Severity.P2, False, worst_all, warn_ms))
    return out


# --------------------------------------------------------------------------- consumer status
#: Statuses that mean "not consuming while behind": the group needs a person (P2, warning).
#: WARN (lag growing while consuming) is shown in evidence but not raised: the lag thresholds
#: already page when growing lag starts to matter.
_STUCK = (LagStatus.STOP, LagStatus.STALL, LagStatus.REWIND)
STATUS_NOT_MEASURED = "needs a history store (store.url) for the sliding window of samples"


def consumer_status(statuses: Mapping[str, GroupStatus] | None) -> list[Finding]:
    """One P2 finding per group whose worst partition is STOP, STALL or REWIND."""
    if statuses is None:
        return [not_measured("consumer_status", STATUS_NOT_MEASURED, source="history")]
    out = []
    for gid, st in sorted(statuses.items()):
        if st.status not in _STUCK:
            continue
        bad = [p for p in st.partitions if p.status in _STUCK]
        evidence = [
            f"{len(bad)} of {plural(len(st.partitions), 'partition')} {st.status.value} "
            f"(Burrow: {st.burrow_status.value}); window {st.complete:.0%} complete",
            *(
                f"{p.topic}-{p.partition}: {p.status.value}, lag {p.current_lag:,} — {p.reason}"
                for p in bad[:LAG_PARTITIONS_SHOWN]
            ),
        ]
        out.append(
            result(
                "consumer_status",
                Severity.P2,
                True,
                None,
                None,
                subject=gid,
                evidence=evidence,
                source="history",
            )
        )
    if not out:
        warn = sorted(g for g, st in statuses.items() if st.status == LagStatus.WARN)
        evidence = [f"lag growing (WARN): {', '.join(warn[:10])}"] if warn else []
        out.append(
            result(
                "consumer_status",
                Severity.P2,
                False,
                None,
                None,
                evidence=evidence,
                source="history",
            )
        )
    return out
