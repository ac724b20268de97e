"""Building blocks of every rule: the rule table, units, and how a finding is made.

Shared by the admin-protocol rules (:mod:`kafkaops.evaluate.rules`) and the broker-metric
rules (:mod:`kafkaops.evaluate.rules.metrics`), so all produce findings the same way: one per
rule and subject, ok / triggered / not measured, evidence capped, the runbook's response steps
attached to what triggered.
"""

from __future__ import annotations

from collections.abc import Iterable

from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.evaluate.runbook import response_for

#: Evidence lists are capped so a report stays readable on a 10,000-partition outage.
EVIDENCE_CAP = 50
NOT_MEASURED_REASON = (
    "needs a broker-metrics source (clusters.NAME.metrics.sources: prometheus for the JMX and "
    "node exporters / MSK Open Monitoring, or cloudwatch); the admin protocol does not expose it"
)
#: Rules whose values come from a broker-metrics source, not the admin protocol (percent).
METRIC_RULES = ("broker_cpu", "broker_memory", "producer_error_rate", "network_io")

#: Every rule, in report order, with its title (the runbook's wording where it has one).
RULES: dict[str, str] = {
    "cluster_offline": "MSK cluster completely offline",
    "offline_partitions": "Offline partitions (OfflinePartitionsCount > 0)",
    "active_controller": "No active controller (ActiveControllerCount = 0)",
    "data_loss": "Data loss: committed offsets already deleted by retention",
    "under_replicated_partitions": "Under-replicated partitions (UnderReplicatedPartitions > 0)",
    "under_min_isr_partitions": "Partitions under min.insync.replicas (acks=all producers fail)",
    "broker_unreachable": "Broker down or not answering",
    "consumer_lag": "Consumer lag (EstimatedMaxTimeLag)",
    "consumer_status": "Consumer group stopped, stalled or rewound (Burrow-style status)",
    "disk_usage": "Broker disk usage",
    "broker_cpu": "Broker CPU",
    "broker_memory": "Broker memory",
    "producer_error_rate": "Producer error rate",
    "network_io": "Network I/O",
    "watch_cycle_failed": "kafkaops could not evaluate this cluster (monitoring blind spot)",
    "partition_imbalance": "Partition imbalance (replicas or bytes per broker outside the band)",
}
_UNITS = {
    "cluster_offline": "state",
    "watch_cycle_failed": "state",
    "consumer_lag": "ms",
    "consumer_status": "status",
    "disk_usage": "percent",
    **dict.fromkeys(METRIC_RULES, "percent"),
}
ORDER = {rule: i for i, rule in enumerate(RULES)}


# ----------------------------------------------------------------------------- building blocks
def cap(items: Iterable[str], cap: int = EVIDENCE_CAP) -> tuple[str, ...]:
    items = list(items)
    if len(items) <= cap:
        return tuple(items)
    return (*items[:cap], f"… and {len(items) - cap} more")


def unit_of(rule: str) -> str:
    return _UNITS.get(rule, "count")


def result(
    rule: str,
    severity: Severity,
    triggered: bool,
    value: float | None,
    threshold: float | None,
    *,
    subject: str = "cluster",
    evidence: Iterable[str] = (),
    source: str = "admin",
) -> Finding:
    """A measured rule: triggered at ``severity`` (with its response steps), or ok."""
    return Finding(
        rule=rule,
        severity=severity if triggered else Severity.OK,
        status=CheckStatus.TRIGGERED if triggered else CheckStatus.OK,
        title=RULES[rule],
        value=value,
        threshold=threshold,
        unit=unit_of(rule),
        subject=subject,
        evidence=cap(evidence),
        source=source,
        response=response_for(severity) if triggered else (),
    )


def not_measured(
    rule: str, reason: str, *, subject: str = "cluster", source: str = "admin"
) -> Finding:
    return Finding(
        rule=rule,
        severity=Severity.OK,
        status=CheckStatus.NOT_MEASURED,
        title=RULES[rule],
        value=None,
        threshold=None,
        unit=unit_of(rule),
        subject=subject,
        evidence=(reason,),
        source=source,
    )


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
