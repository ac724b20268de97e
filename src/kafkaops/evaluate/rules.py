"""Pure runbook rules: a snapshot (plus optional broker metrics) in, findings out.

One :class:`Finding` per rule and subject, with status ok / triggered / not_measured, so a report
shows what was checked and what could not be, not only what failed: a rule with no data is
never silently healthy.  No I/O here; everything is unit-testable with hand-built snapshots.

Severity mapping (runbook "Emergency Incident Classification" and its thresholds tables):

* P0: cluster offline, offline partitions, no active controller, data loss;
* P1: the "Critical Thresholds" and P1 triggers (URP, lag > 5m, CPU > 90%, …) plus two facts the
  runbook implies: partitions under min.insync.replicas (acks=all producers fail) and registered
  brokers that do not answer;
* P2: the "Warning Thresholds".

A threshold is crossed when the value is *strictly greater* ("lag > 5 minutes"): exactly at
the threshold is not triggered.  Rule ids are API (JSON output, alert dedup keys): keep them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kafkaops.core.model import (
    CheckStatus,
    ClusterSnapshot,
    ConsumerGroup,
    Finding,
    HealthReport,
    PartitionState,
    Severity,
)
from kafkaops.core.units import format_bytes, format_duration_ms
from kafkaops.evaluate.broker_rules import (
    controller_facts,
    count_fact,
    disk_from_metrics,
    metric_rules,
    with_evidence,
)
from kafkaops.evaluate.findings import (
    ORDER,
    RULES,
)
from kafkaops.evaluate.findings import not_measured as _not_measured
from kafkaops.evaluate.findings import plural as _plural
from kafkaops.evaluate.findings import result as _result
from kafkaops.evaluate.settings import Thresholds
from kafkaops.lag.status import GroupStatus, LagStatus

#: Worst partitions listed per lagging group.
LAG_PARTITIONS_SHOWN = 10


def _ids(ids: Iterable[int]) -> str:
    return "[" + ",".join(str(i) for i in ids) + "]"


def _describe(p: PartitionState) -> str:
    """``orders-2 replicas [1,2,3] isr [1,3]``, plus what makes an offline partition offline."""
    text = f"{p.name} replicas {_ids(p.replicas)} isr {_ids(p.isr)}"
    if p.offline:
        text += " no leader"
    if p.offline_replicas:
        text += f" offline replicas {_ids(p.offline_replicas)}"
    return text


def _user_first(partitions: Iterable[PartitionState]) -> list[PartitionState]:
    """User topics before internal ones: they are what the on-call engineer recognises."""
    return sorted(partitions, key=lambda p: (p.topic.startswith("__"), p.topic, p.partition))


# --------------------------------------------------------------------------------- the rules
def evaluate(
    snapshot: ClusterSnapshot | None,
    thresholds: Thresholds,
    *,
    reachable: bool = True,
    unreachable_reason: str | None = None,
    statuses: Mapping[str, GroupStatus] | None = None,
) -> list[Finding]:
    """Every runbook rule against one snapshot, in :data:`RULES` order.

    The snapshot's broker metrics (``snapshot.metrics``, from the configured sources) supply
    the metric-only rules; rules without values are reported as not measured.
    When the cluster is unreachable only ``cluster_offline`` is measured.
    """
    if snapshot is None or not reachable:
        return _unreachable(unreachable_reason)
    crit, warn = thresholds.critical, thresholds.warning
    return [
        _result("cluster_offline", Severity.P0, False, None, None),
        _offline_partitions(snapshot, crit.offline_partitions),
        _active_controller(snapshot),
        _data_loss(snapshot),
        _under_replicated(snapshot, crit.under_replicated_partitions),
        _under_min_isr(snapshot),
        _unreachable_brokers(snapshot),
        *_consumer_lag(snapshot, crit.consumer_lag, warn.consumer_lag),
        *_consumer_status(statuses),
        *_disk_usage(snapshot, thresholds),
        *metric_rules(snapshot.metrics, thresholds),
    ]


def _unreachable(reason: str | None) -> list[Finding]:
    offline = _result(
        "cluster_offline",
        Severity.P0,
        True,
        None,
        None,
        evidence=[reason or "no broker answered"],
    )
    others = [_not_measured(rule, "cluster unreachable") for rule in RULES if rule != offline.rule]
    return [offline, *others]


def _offline_partitions(snapshot: ClusterSnapshot, threshold: int) -> Finding:
    """Offline partitions from metadata; the controller's OfflinePartitionsCount (JMX /
    CloudWatch) is shown next to it and decides when it reports more."""
    offline = _user_first(snapshot.offline_partitions)
    reported, label, facts = count_fact(
        snapshot.metrics, "OfflinePartitionsCount", lambda m: m.offline_partitions_count()
    )
    count, source = len(offline), "admin"
    if reported is not None and reported > count:
        count, source = reported, label or source
    finding = _result(
        "offline_partitions",
        Severity.P0,
        count > threshold,
        count,
        threshold,
        evidence=[_describe(p) for p in offline],
        source=source,
    )
    return with_evidence(finding, facts)


def _quorum_errors(snapshot: ClusterSnapshot) -> list[str]:
    return [e.message for e in snapshot.errors if e.source == "DescribeQuorum"]


def _zookeeper_mode(snapshot: ClusterSnapshot) -> bool:
    """DescribeQuorum unsupported: a ZooKeeper-mode (or pre-3.3) cluster, no KRaft quorum."""
    return any("Unsupported" in m or "Incompatible" in m for m in _quorum_errors(snapshot))


def _active_controller(snapshot: ClusterSnapshot) -> Finding:
    """The admin protocol's verdict, with the controllers' own ActiveControllerCount as
    evidence; when the admin protocol cannot tell (not allowed to ask, or nothing reported),
    the metric decides."""
    admin = _active_controller_admin(snapshot)
    count, label, facts = controller_facts(snapshot.metrics)
    if admin.status == CheckStatus.NOT_MEASURED and count is not None:
        ok = count >= 1
        evidence = [] if ok else ["no node reports itself as the active controller"]
        finding = _result(
            "active_controller",
            Severity.P0,
            not ok,
            count,
            1,
            evidence=evidence,
            source=label or "metrics",
        )
        return with_evidence(finding, [*facts, *admin.evidence])
    return with_evidence(admin, facts)


def _active_controller_admin(snapshot: ClusterSnapshot) -> Finding:
    """KRaft: the quorum must have a leader.  ZooKeeper mode: metadata must name a controller.

    A DescribeQuorum that fails is read as "no controller" (that is how a KRaft cluster
    without a quorum leader answers), except an authorization failure, which only means we
    may not ask.
    """
    rule = "active_controller"
    if snapshot.quorum_leader_id is not None:
        return _result(rule, Severity.P0, False, 1, 1)
    if snapshot.quorum_voters:
        voters = f"quorum voters {_ids(snapshot.quorum_voters)}, no leader"
        return _result(rule, Severity.P0, True, 0, 1, evidence=[voters])
    errors = _quorum_errors(snapshot)
    if not errors:
        return _not_measured(rule, "the controller quorum was not reported")
    if _zookeeper_mode(snapshot):
        ok = snapshot.controller_id is not None and snapshot.controller_id >= 0
        evidence = [] if ok else ["ZooKeeper mode: metadata names no controller"]
        return _result(rule, Severity.P0, not ok, int(ok), 1, evidence=evidence)
    if any("Authorization" in m for m in errors):
        return _not_measured(
            rule,
            f"not allowed to describe the controller quorum: {errors[0]} (needs DESCRIBE "
            "on the cluster; MSK IAM: kafka-cluster:DescribeCluster)",
        )
    return _result(rule, Severity.P0, True, 0, 1, evidence=[f"DescribeQuorum failed: {errors[0]}"])


def _data_loss(snapshot: ClusterSnapshot) -> Finding:
    lost = [
        f"group {g.group_id}: {p.topic}-{p.partition} committed {p.committed} < log start "
        f"{p.log_start_offset}"
        for g in sorted(snapshot.groups, key=lambda g: g.group_id)
        for p in g.partitions
        if p.committed_below_log_start
    ]
    return _result("data_loss", Severity.P0, bool(lost), len(lost), 0, evidence=lost)


def under_replicated(snapshot: ClusterSnapshot) -> list[PartitionState]:
    """Under-replicated partitions that still have a leader.

    Offline partitions are P0 on their own and, as in Kafka's UnderReplicatedPartitions metric
    (counted by leaders), are not counted again here.
    """
    return _user_first(p for p in snapshot.under_replicated_partitions if not p.offline)


def under_min_isr(snapshot: ClusterSnapshot) -> list[PartitionState]:
    """Partitions with a leader but fewer in-sync replicas than min.insync.replicas."""
    return _user_first(p for p in snapshot.under_min_isr_partitions if not p.offline)


def _missing_from_isr(partitions: Sequence[PartitionState]) -> str | None:
    """``brokers missing from ISR: 2 (3 partitions)``: usually points at one sick broker."""
    missing: dict[int, int] = {}
    for p in partitions:
        for broker in set(p.replicas) - set(p.isr):
            missing[broker] = missing.get(broker, 0) + 1
    if not missing:
        return None
    return "brokers missing from ISR: " + ", ".join(
        f"{b} ({_plural(n, 'partition')})" for b, n in sorted(missing.items())
    )


def _under_replicated(snapshot: ClusterSnapshot, threshold: int) -> Finding:
    """From metadata (replicas vs ISR); the brokers' UnderReplicatedPartitions metric is shown
    next to it and decides when it reports more (metadata can lag the leaders' view)."""
    urp = under_replicated(snapshot)
    summary = _missing_from_isr(urp)
    evidence = ([summary] if summary else []) + [_describe(p) for p in urp]
    reported, label, facts = count_fact(
        snapshot.metrics, "UnderReplicatedPartitions", lambda m: m.under_replicated_count()
    )
    count, source = len(urp), "admin"
    if reported is not None and reported > count:
        count, source = reported, label or source
    finding = _result(
        "under_replicated_partitions",
        Severity.P1,
        count > threshold,
        count,
        threshold,
        evidence=evidence,
        source=source,
    )
    return with_evidence(finding, facts)


def _under_min_isr(snapshot: ClusterSnapshot) -> Finding:
    parts = under_min_isr(snapshot)
    return _result(
        "under_min_isr_partitions",
        Severity.P1,
        bool(parts),
        len(parts),
        0,
        evidence=[f"{_describe(p)} min.insync.replicas {p.min_isr}" for p in parts],
    )


def _unreachable_brokers(snapshot: ClusterSnapshot) -> Finding:
    bad = [b for b in snapshot.brokers if not b.reachable]
    return _result(
        "broker_unreachable",
        Severity.P1,
        bool(bad),
        len(bad),
        0,
        evidence=[f"broker {b.node_id} {b.host}:{b.port}: {b.error or 'no answer'}" for b in bad],
    )


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
        f"{_plural(len(group.members), 'member')}, offset lag {group.total_lag:,}"
    )
    worst = [
        f"{p.topic}-{p.partition} time lag {format_duration_ms(p.time_lag_ms or 0)}, "
        f"offset lag {p.lag if p.lag is not None else 'unknown'}"
        for p in parts[:LAG_PARTITIONS_SHOWN]
        if p.time_lag_ms
    ]
    return _result(
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


def _consumer_lag(snapshot: ClusterSnapshot, crit_ms: int, warn_ms: int) -> list[Finding]:
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
                    _result(
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
        reason = f"time lag not measured for {_plural(len(unmeasured), 'lagging group')}: "
        shown = ", ".join(unmeasured[:10]) + (" …" if len(unmeasured) > 10 else "")
        out.append(_not_measured("consumer_lag", reason + shown))
    elif not out:
        worst_all = max(
            (g.max_time_lag_ms or from_source.get(g.group_id, (0,))[0] for g in groups),
            default=0,
        )
        out.append(_result("consumer_lag", Severity.P2, False, worst_all, warn_ms))
    return out


# --------------------------------------------------------------------------- consumer status
#: Statuses that mean "not consuming while behind": the group needs a person (P2, warning).
#: WARN (lag growing while consuming) is shown in evidence but not raised: the lag thresholds
#: already page when growing lag starts to matter.
_STUCK = (LagStatus.STOP, LagStatus.STALL, LagStatus.REWIND)
STATUS_NOT_MEASURED = "needs a history store (store.url) for the sliding window of samples"


def _consumer_status(statuses: Mapping[str, GroupStatus] | None) -> list[Finding]:
    """One P2 finding per group whose worst partition is STOP, STALL or REWIND."""
    if statuses is None:
        return [_not_measured("consumer_status", STATUS_NOT_MEASURED, source="history")]
    out = []
    for gid, st in sorted(statuses.items()):
        if st.status not in _STUCK:
            continue
        bad = [p for p in st.partitions if p.status in _STUCK]
        evidence = [
            f"{len(bad)} of {_plural(len(st.partitions), 'partition')} {st.status.value} "
            f"(Burrow: {st.burrow_status.value}); window {st.complete:.0%} complete",
            *(
                f"{p.topic}-{p.partition}: {p.status.value}, lag {p.current_lag:,} — {p.reason}"
                for p in bad[:LAG_PARTITIONS_SHOWN]
            ),
        ]
        out.append(
            _result(
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
            _result(
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


# ------------------------------------------------------------------------------------- disk
def _disk_per_broker(snapshot: ClusterSnapshot) -> dict[int, tuple[int, int, list[str]]]:
    """``broker → (total, used, paths)`` over log dirs that report their capacity."""
    out: dict[int, tuple[int, int, list[str]]] = {}
    for d in snapshot.log_dirs:
        if d.error or not d.total_bytes or d.usable_bytes is None:
            continue
        total, used, paths = out.get(d.broker, (0, 0, []))
        out[d.broker] = (
            total + d.total_bytes,
            used + d.total_bytes - d.usable_bytes,
            [*paths, d.path],
        )
    return out


def _disk_usage(snapshot: ClusterSnapshot, thresholds: Thresholds) -> list[Finding]:
    """Per broker: (total − usable) / total of its log-dir filesystems, as ``df`` shows it."""
    crit, warn = thresholds.critical.disk_usage, thresholds.warning.disk_usage
    per_broker = _disk_per_broker(snapshot)
    if not per_broker:
        return disk_from_metrics(
            snapshot.metrics,
            thresholds,
            "no log dir reported its capacity (needs Kafka 3.3+ brokers: DescribeLogDirs v4) "
            "and no metrics source reported disk usage",
        )
    out = []
    for broker, (total, used, paths) in sorted(per_broker.items()):
        pct = 100.0 * used / total
        severity, threshold = (Severity.P1, crit) if pct > crit else (Severity.P2, warn)
        out.append(
            _result(
                "disk_usage",
                severity,
                pct > threshold,
                round(pct, 2),
                threshold,
                subject=f"broker {broker}",
                evidence=[
                    f"broker {broker}: {pct:.1f}% used ({format_bytes(used)} of "
                    f"{format_bytes(total)}) in {', '.join(paths)}"
                ],
            )
        )
    return out


# ------------------------------------------------------------------------------ the report
def _active_controller_id(snapshot: ClusterSnapshot) -> int | None:
    if snapshot.quorum_leader_id is not None or snapshot.quorum_voters:
        return snapshot.quorum_leader_id
    return snapshot.controller_id if _zookeeper_mode(snapshot) else None


_SUMMARY_KEYS = (
    "cluster_id",
    "brokers",
    "brokers_reachable",
    "broker_ids",
    "active_controller",
    "controller_voters",
    "topics",
    "partitions",
    "consumer_groups",
    "offline_partitions",
    "under_replicated_partitions",
    "under_min_isr_partitions",
    "snapshot_ms",
    "collection_errors",
    "metrics_sources",
)


def summarize(
    snapshot: ClusterSnapshot | None,
    findings: Sequence[Finding],
    *,
    unreachable_reason: str | None = None,
) -> dict[str, object]:
    """The daily health check's facts, and a cluster state in the spirit of MSK's.

    ``state``: OFFLINE (unreachable), DEGRADED (a P0 or P1 finding) or ACTIVE.  The key set is
    the same whether or not the cluster answered (unknown values are None), so JSON consumers
    need no special case.
    """
    if snapshot is None:
        return {
            "state": "OFFLINE",
            "reason": unreachable_reason or "no broker answered",
            **dict.fromkeys(_SUMMARY_KEYS),
        }
    triggered = [f.severity for f in findings if f.status == CheckStatus.TRIGGERED]
    degraded = Severity.worst(triggered) in (Severity.P0, Severity.P1)
    return {
        "state": "DEGRADED" if degraded else "ACTIVE",
        "reason": None,
        "cluster_id": snapshot.cluster_id,
        "brokers": len(snapshot.brokers),
        "brokers_reachable": sum(1 for b in snapshot.brokers if b.reachable),
        "broker_ids": [b.node_id for b in snapshot.brokers],
        "active_controller": _active_controller_id(snapshot),
        "controller_voters": list(snapshot.quorum_voters),
        "topics": len(snapshot.user_topics),
        "partitions": len(snapshot.partitions),
        "consumer_groups": len(snapshot.groups),
        "offline_partitions": len(snapshot.offline_partitions),
        "under_replicated_partitions": len(under_replicated(snapshot)),
        "under_min_isr_partitions": len(under_min_isr(snapshot)),
        "snapshot_ms": snapshot.duration_ms,
        "collection_errors": [f"{e.source} {e.target}: {e.message}" for e in snapshot.errors],
        "metrics_sources": [
            {
                "source": m.source,
                "window_s": round(m.window_s, 3),
                "collected_at_ms": m.collected_at_ms,
                "nodes": len(m.nodes),
                "detail": m.detail,
                "errors": list(m.errors),
            }
            for m in snapshot.metrics
        ],
    }


def _worst_first(finding: Finding) -> tuple[int, int, float, str]:
    """Severity, then the runbook's rule order, then the biggest value, then the subject."""
    return (finding.severity.rank, ORDER[finding.rule], -(finding.value or 0), finding.subject)


def build_report(
    snapshot: ClusterSnapshot | None,
    thresholds: Thresholds,
    *,
    cluster_name: str,
    bootstrap: str,
    checked_at_ms: int,
    reachable: bool = True,
    unreachable_reason: str | None = None,
    statuses: Mapping[str, GroupStatus] | None = None,
) -> HealthReport:
    """Evaluate every rule and classify the cluster: the whole ``kafkaops health`` verdict.

    ``overall_healthy`` is True only when nothing triggered (not-measured rules do not make a
    cluster unhealthy, but are listed in ``checks``); ``severity`` is the worst triggered one.
    """
    reachable = reachable and snapshot is not None
    checks = evaluate(
        snapshot,
        thresholds,
        reachable=reachable,
        unreachable_reason=unreachable_reason,
        statuses=statuses,
    )
    triggered = sorted((f for f in checks if f.status == CheckStatus.TRIGGERED), key=_worst_first)
    return HealthReport(
        cluster_name=cluster_name,
        bootstrap=bootstrap,
        checked_at_ms=checked_at_ms,
        reachable=reachable,
        overall_healthy=not triggered,
        severity=Severity.worst([f.severity for f in triggered]),
        findings=tuple(triggered),
        checks=tuple(checks),
        summary=summarize(
            snapshot if reachable else None, checks, unreachable_reason=unreachable_reason
        ),
    )
