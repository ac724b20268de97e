"""The health report: every rule evaluated, the findings sorted worst first, and a summary.

Separate from the rules (:mod:`kafkaops.evaluate.rules`) because it classifies the cluster as a
whole (ACTIVE / DEGRADED / OFFLINE) and shapes what ``kafkaops health``, the watch loop and the
service show; the rules only judge one concern each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kafkaops.balance.settings import BalanceSettings
from kafkaops.core.model import CheckStatus, ClusterSnapshot, Finding, HealthReport, Severity
from kafkaops.evaluate.findings import ORDER
from kafkaops.evaluate.rules import evaluate
from kafkaops.evaluate.rules.availability import active_controller_id
from kafkaops.evaluate.rules.replication import under_min_isr, under_replicated
from kafkaops.evaluate.settings import Thresholds
from kafkaops.lag.status import GroupStatus

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
        "active_controller": active_controller_id(snapshot),
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


def _worst_first(finding: Finding) -> tuple[int, int, str, float, str]:
    """Severity, then the runbook's rule order, then the biggest value, then the subject."""
    # Rules from capability packages (balance, capacity, DR, SLO, canary) come after the
    # runbook's own, in a stable order; an unknown rule must never break the report.
    order = ORDER.get(finding.rule, len(ORDER))
    return (finding.severity.rank, order, finding.rule, -(finding.value or 0), finding.subject)


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
    balance: BalanceSettings | None = None,
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
        balance=balance,
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
