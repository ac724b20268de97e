"""Pure runbook rules: a snapshot (plus optional broker metrics) in, findings out.

One :class:`Finding` per rule and subject, with status ok / triggered / not_measured, so a report
can show what was checked, not only what failed.  No I/O here: everything is unit-testable with
hand-built snapshots.

Severity mapping (runbook "Emergency Incident Classification" and thresholds table):

* P0: cluster offline, offline partitions, no active controller, data loss;
* P1: the "Critical Thresholds" and P1 triggers (URP, lag > 5m, CPU > 90%, …) plus two facts the
  runbook implies: partitions under min.insync.replicas (acks=all producers fail) and registered
  brokers that do not answer;
* P2: the "Warning Thresholds".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kafkaops.config import Thresholds
from kafkaops.evaluate.runbook import response_for
from kafkaops.model import (
    CheckStatus,
    ClusterSnapshot,
    Finding,
    HealthReport,
    PartitionState,
    Severity,
)

#: Evidence lists are capped so a report stays readable on a 10,000-partition outage.
EVIDENCE_CAP = 50
NOT_MEASURED_REASON = (
    "needs broker metrics (JMX/node exporter or CloudWatch); the admin protocol does not expose it"
)
#: Rules whose values come from broker metrics sources, not the admin protocol.
METRIC_RULES = ("broker_cpu", "broker_memory", "producer_error_rate", "network_io")


def _cap(items: Iterable[str], cap: int = EVIDENCE_CAP) -> tuple[str, ...]:
    items = list(items)
    if len(items) <= cap:
        return tuple(items)
    return (*items[:cap], f"… and {len(items) - cap} more")


def _finding(
    rule: str,
    title: str,
    severity: Severity,
    triggered: bool,
    value: float | None,
    threshold: float | None,
    unit: str,
    *,
    subject: str = "cluster",
    evidence: Iterable[str] = (),
    source: str = "admin",
) -> Finding:
    return Finding(
        rule=rule,
        severity=severity if triggered else Severity.OK,
        status=CheckStatus.TRIGGERED if triggered else CheckStatus.OK,
        title=title,
        value=value,
        threshold=threshold,
        unit=unit,
        subject=subject,
        evidence=_cap(evidence),
        source=source,
        response=response_for(severity) if triggered else (),
    )


def _not_measured(rule: str, title: str, unit: str, reason: str = NOT_MEASURED_REASON) -> Finding:
    return Finding(
        rule=rule,
        severity=Severity.OK,
        status=CheckStatus.NOT_MEASURED,
        title=title,
        value=None,
        threshold=None,
        unit=unit,
        evidence=(reason,),
        source="none",
    )


def _describe(p: PartitionState) -> str:
    return f"{p.name} leader {p.leader} replicas {list(p.replicas)} isr {list(p.isr)}"


def evaluate(
    snapshot: ClusterSnapshot | None,
    thresholds: Thresholds,
    *,
    reachable: bool = True,
    unreachable_reason: str | None = None,
    metrics: Mapping[str, Mapping[str, float]] | None = None,
) -> list[Finding]:
    """Every runbook rule against one snapshot.

    ``metrics`` (optional, from a broker-metrics source) maps a rule in :data:`METRIC_RULES` to
    ``{subject: value}`` — e.g. ``{"broker_cpu": {"broker 1": 93.0}}`` — in the rule's unit
    (percent).  Rules without values are reported as not measured.
    """
    crit, warn = thresholds.critical, thresholds.warning
    if snapshot is None or not reachable:
        reason = unreachable_reason or "no broker answered"
        out = [
            _finding(
                "cluster_offline",
                "MSK cluster completely offline",
                Severity.P0,
                True,
                None,
                None,
                "state",
                evidence=[reason],
            )
        ]
        for rule, title, unit in _ALL_RULES[1:]:
            out.append(_not_measured(rule, title, unit, "cluster unreachable"))
        return out

    out = [
        _finding(
            "cluster_offline",
            "MSK cluster completely offline",
            Severity.P0,
            False,
            None,
            None,
            "state",
        )
    ]
    offline = snapshot.offline_partitions
    out.append(
        _finding(
            "offline_partitions",
            "Offline partitions (OfflinePartitionsCount > 0)",
            Severity.P0,
            len(offline) > crit.offline_partitions,
            len(offline),
            crit.offline_partitions,
            "count",
            evidence=[_describe(p) for p in offline],
        )
    )
    out.append(_controller(snapshot))
    out.append(_data_loss(snapshot))
    out.extend(_replication(snapshot, crit.under_replicated_partitions))
    out.append(_unreachable_brokers(snapshot))
    out.extend(_consumer_lag(snapshot, crit.consumer_lag, warn.consumer_lag))
    out.extend(_disk_usage(snapshot, crit.disk_usage, warn.disk_usage))
    out.extend(_metric_rules(metrics or {}, thresholds))
    return out


def _controller(snapshot: ClusterSnapshot) -> Finding:
    title = "No active controller (ActiveControllerCount = 0)"
    if snapshot.quorum_leader_id is None and not snapshot.quorum_voters:
        quorum_errors = [e.message for e in snapshot.errors if e.source == "DescribeQuorum"]
        if any("Unsupported" in m or "Incompatible" in m for m in quorum_errors):
            # ZooKeeper-mode cluster: metadata's controller id is the real controller.
            ok = snapshot.controller_id is not None and snapshot.controller_id >= 0
            return _finding(
                "active_controller",
                title,
                Severity.P0,
                not ok,
                int(ok),
                1,
                "count",
                evidence=[] if ok else ["metadata names no controller"],
            )
        if quorum_errors:
            # Brokers answer but cannot tell who leads the quorum: treat as no controller.
            reason = next(e.message for e in snapshot.errors if e.source == "DescribeQuorum")
            return _finding(
                "active_controller",
                title,
                Severity.P0,
                True,
                0,
                1,
                "count",
                evidence=[f"DescribeQuorum failed: {reason}"],
            )
        return _not_measured("active_controller", title, "count", "quorum not reported")
    triggered = snapshot.quorum_leader_id is None
    evidence = [f"voters {list(snapshot.quorum_voters)}, leader none"] if triggered else []
    return _finding(
        "active_controller",
        title,
        Severity.P0,
        triggered,
        0 if triggered else 1,
        1,
        "count",
        evidence=evidence,
    )


def _data_loss(snapshot: ClusterSnapshot) -> Finding:
    lost = [
        f"group {g.group_id}: {p.topic}-{p.partition} committed {p.committed} < log start "
        f"{p.log_start_offset}"
        for g in snapshot.groups
        for p in g.partitions
        if p.committed_below_log_start
    ]
    return _finding(
        "data_loss",
        "Data loss: committed offsets already deleted by retention",
        Severity.P0,
        bool(lost),
        len(lost),
        0,
        "count",
        evidence=lost,
    )


def _replication(snapshot: ClusterSnapshot, urp_threshold: int) -> list[Finding]:
    # Offline partitions are counted as offline (P0), not again as under-replicated.  User
    # topics first in the evidence: they are what the on-call engineer recognises.
    urp = sorted(
        (p for p in snapshot.under_replicated_partitions if not p.offline),
        key=lambda p: (p.topic.startswith("__"), p.topic, p.partition),
    )
    missing: dict[int, int] = {}
    for p in urp:
        for b in set(p.replicas) - set(p.isr):
            missing[b] = missing.get(b, 0) + 1
    evidence = [_describe(p) for p in urp]
    if missing:
        evidence.insert(
            0,
            "brokers missing from ISR: "
            + ", ".join(f"{b} ({n} partitions)" for b, n in sorted(missing.items())),
        )
    under_min = [p for p in snapshot.under_min_isr_partitions if not p.offline]
    return [
        _finding(
            "under_replicated_partitions",
            "Under-replicated partitions (UnderReplicatedPartitions > 0)",
            Severity.P1,
            len(urp) > urp_threshold,
            len(urp),
            urp_threshold,
            "count",
            evidence=evidence,
        ),
        _finding(
            "under_min_isr_partitions",
            "Partitions under min.insync.replicas (acks=all producers fail)",
            Severity.P1,
            bool(under_min),
            len(under_min),
            0,
            "count",
            evidence=[f"{_describe(p)} min.insync.replicas {p.min_isr}" for p in under_min],
        ),
    ]


def _unreachable_brokers(snapshot: ClusterSnapshot) -> Finding:
    bad = [b for b in snapshot.brokers if not b.reachable]
    return _finding(
        "broker_unreachable",
        "Broker down or not answering",
        Severity.P1,
        bool(bad),
        len(bad),
        0,
        "count",
        evidence=[f"broker {b.node_id} {b.host}:{b.port}: {b.error}" for b in bad],
    )


def _consumer_lag(snapshot: ClusterSnapshot, crit_ms: int, warn_ms: int) -> list[Finding]:
    title = "Consumer lag (EstimatedMaxTimeLag)"
    out = []
    unmeasured_groups = []
    for g in sorted(snapshot.groups, key=lambda g: g.group_id):
        worst = g.max_time_lag_ms
        if worst is None:
            if any(p.lag for p in g.partitions):
                unmeasured_groups.append(g.group_id)
            continue
        if worst <= warn_ms:
            continue
        severity = Severity.P1 if worst > crit_ms else Severity.P2
        threshold = crit_ms if severity == Severity.P1 else warn_ms
        parts = sorted(
            (p for p in g.partitions if p.time_lag_ms is not None),
            key=lambda p: -(p.time_lag_ms or 0),
        )
        methods = sorted({p.time_lag_method for p in parts if p.time_lag_method})
        evidence = [
            f"time lag method: {', '.join(methods)}; state {g.state}, {len(g.members)} members, "
            f"offset lag {g.total_lag}",
            *(
                f"{p.topic}-{p.partition} time lag {p.time_lag_ms / 1000:.0f}s offset lag {p.lag}"
                for p in parts[:10]
                if p.time_lag_ms
            ),
        ]
        out.append(
            _finding(
                "consumer_lag",
                title,
                severity,
                True,
                worst,
                threshold,
                "ms",
                subject=g.group_id,
                evidence=evidence,
            )
        )
    if not out:
        if unmeasured_groups and not any(g.max_time_lag_ms is not None for g in snapshot.groups):
            out.append(
                _not_measured(
                    "consumer_lag",
                    title,
                    "ms",
                    "no time lag measured for lagging groups: " + ", ".join(unmeasured_groups[:10]),
                )
            )
        else:
            worst_all = max((g.max_time_lag_ms or 0 for g in snapshot.groups), default=0)
            out.append(
                _finding("consumer_lag", title, Severity.P2, False, worst_all, warn_ms, "ms")
            )
    return out


def _disk_usage(snapshot: ClusterSnapshot, crit: float, warn: float) -> list[Finding]:
    title = "Broker disk usage"
    per_broker: dict[int, tuple[int, int]] = {}
    for d in snapshot.log_dirs:
        if d.total_bytes:
            total, used = per_broker.get(d.broker, (0, 0))
            per_broker[d.broker] = (
                total + d.total_bytes,
                used + d.total_bytes - (d.usable_bytes or 0),
            )
    if not per_broker:
        return [
            _not_measured(
                "disk_usage",
                title,
                "percent",
                "brokers do not report log-dir capacity (Kafka < 3.3)",
            )
        ]
    out = []
    for broker, (total, used) in sorted(per_broker.items()):
        pct = 100.0 * used / total
        severity = Severity.P1 if pct > crit else Severity.P2
        out.append(
            _finding(
                "disk_usage",
                title,
                severity,
                pct > warn,
                round(pct, 2),
                crit if pct > crit else warn,
                "percent",
                subject=f"broker {broker}",
                evidence=[f"broker {broker}: {used:,} of {total:,} bytes used"],
            )
        )
    return out


_METRIC_TITLES = {
    "broker_cpu": "Broker CPU",
    "broker_memory": "Broker memory",
    "producer_error_rate": "Producer error rate",
    "network_io": "Network I/O",
}


def _metric_rules(metrics: Mapping[str, Mapping[str, float]], t: Thresholds) -> list[Finding]:
    out = []
    for rule in METRIC_RULES:
        values = metrics.get(rule)
        if not values:
            out.append(_not_measured(rule, _METRIC_TITLES[rule], "percent"))
            continue
        crit = getattr(t.critical, rule, None)
        warn = getattr(t.warning, rule)
        for subject, value in sorted(values.items()):
            if crit is not None and value > crit:
                sev, thr, hit = Severity.P1, crit, True
            else:
                sev, thr, hit = Severity.P2, warn, value > warn
            out.append(
                _finding(
                    rule,
                    _METRIC_TITLES[rule],
                    sev,
                    hit,
                    value,
                    thr,
                    "percent",
                    subject=subject,
                    source="metrics",
                )
            )
    return out


_ALL_RULES: tuple[tuple[str, str, str], ...] = (
    ("cluster_offline", "MSK cluster completely offline", "state"),
    ("offline_partitions", "Offline partitions (OfflinePartitionsCount > 0)", "count"),
    ("active_controller", "No active controller (ActiveControllerCount = 0)", "count"),
    ("data_loss", "Data loss: committed offsets already deleted by retention", "count"),
    ("under_replicated_partitions", "Under-replicated partitions", "count"),
    ("under_min_isr_partitions", "Partitions under min.insync.replicas", "count"),
    ("broker_unreachable", "Broker down or not answering", "count"),
    ("consumer_lag", "Consumer lag (EstimatedMaxTimeLag)", "ms"),
    ("disk_usage", "Broker disk usage", "percent"),
    *((rule, title, "percent") for rule, title in _METRIC_TITLES.items()),
)


def summarize(snapshot: ClusterSnapshot | None, findings: list[Finding]) -> dict[str, object]:
    """The daily check's facts: cluster state, brokers, topics, groups, partition health."""
    if snapshot is None:
        return {"state": "OFFLINE"}
    triggered = [f for f in findings if f.status == CheckStatus.TRIGGERED]
    severity = Severity.worst([f.severity for f in triggered])
    state = {
        Severity.P0: "OFFLINE" if not snapshot.brokers else "CRITICAL",
        Severity.P1: "DEGRADED",
        Severity.P2: "ACTIVE",
        Severity.OK: "ACTIVE",
    }[severity]
    return {
        "state": state,
        "cluster_id": snapshot.cluster_id,
        "brokers": len(snapshot.brokers),
        "brokers_reachable": sum(1 for b in snapshot.brokers if b.reachable),
        "broker_ids": [b.node_id for b in snapshot.brokers],
        "active_controller": snapshot.quorum_leader_id,
        "controller_voters": list(snapshot.quorum_voters),
        "topics": len(snapshot.user_topics),
        "partitions": len(snapshot.partitions),
        "consumer_groups": len(snapshot.groups),
        "offline_partitions": len(snapshot.offline_partitions),
        "under_replicated_partitions": len(snapshot.under_replicated_partitions),
        "under_min_isr_partitions": len(snapshot.under_min_isr_partitions),
        "snapshot_ms": snapshot.duration_ms,
        "collection_errors": [f"{e.source} {e.target}: {e.message}" for e in snapshot.errors],
    }


def build_report(
    snapshot: ClusterSnapshot | None,
    thresholds: Thresholds,
    *,
    cluster_name: str,
    bootstrap: str,
    checked_at_ms: int,
    reachable: bool = True,
    unreachable_reason: str | None = None,
    metrics: Mapping[str, Mapping[str, float]] | None = None,
) -> HealthReport:
    checks = evaluate(
        snapshot,
        thresholds,
        reachable=reachable,
        unreachable_reason=unreachable_reason,
        metrics=metrics,
    )
    triggered = sorted(
        (f for f in checks if f.status == CheckStatus.TRIGGERED),
        key=lambda f: (f.severity.rank, f.rule, f.subject),
    )
    severity = Severity.worst([f.severity for f in triggered])
    return HealthReport(
        cluster_name=cluster_name,
        bootstrap=bootstrap,
        checked_at_ms=checked_at_ms,
        reachable=reachable and snapshot is not None,
        overall_healthy=not triggered,
        severity=severity,
        findings=tuple(triggered),
        checks=tuple(checks),
        summary=summarize(snapshot if reachable else None, checks),
    )
