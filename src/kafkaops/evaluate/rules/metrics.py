"""Runbook rules that need broker metrics: CPU, memory, producer error rate, network I/O.

Values come from :class:`~kafkaops.core.broker_metrics.ClusterMetrics` (the snapshot's ``metrics``,
one per configured source, in order of preference); the first source that measured a value
wins and the finding names it (``prometheus (5s window)``), so "where does 93 % come from" is
always answered.  The same sources also back up the admin-protocol rules: the controller's own
ActiveControllerCount / OfflinePartitionsCount and the brokers' UnderReplicatedPartitions are
added as evidence (and decide the rule when the admin protocol could not), and disk usage falls
back to the node exporter / CloudWatch figure when brokers do not report log-dir capacity.

A rule no source measured is *not measured*, with the reason (no source configured, or what
the configured one said), never silently OK.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from kafkaops.core.broker_metrics import ClusterMetrics, NodeMetrics
from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.core.units import format_bytes
from kafkaops.evaluate.findings import NOT_MEASURED_REASON, cap, not_measured, result
from kafkaops.evaluate.settings import Thresholds

#: A per-broker value picked from a node by a source (None: that source did not measure it).
Pick = Callable[[ClusterMetrics, NodeMetrics], float | None]


def metric_rules(sources: Sequence[ClusterMetrics], t: Thresholds) -> list[Finding]:
    """The four metric-only rules, in the report's rule order."""
    return [
        *_per_broker("broker_cpu", sources, t, lambda _m, n: n.broker_cpu_percent, _cpu_text),
        *_per_broker("broker_memory", sources, t, lambda _m, n: n.memory_percent, _mem_text),
        _producer_error_rate(sources, t),
        *_network_io(sources, t),
    ]


# ------------------------------------------------------------------------ per-broker percent
def _thresholds(rule: str, t: Thresholds) -> tuple[float | None, float]:
    # network_io has a warning threshold only (the runbook has no critical one).
    return getattr(t.critical, rule, None), getattr(t.warning, rule)


def _classify(rule: str, value: float, t: Thresholds) -> tuple[Severity, float]:
    crit, warn = _thresholds(rule, t)
    if crit is not None and value > crit:
        return Severity.P1, crit
    return Severity.P2, warn


def _why_missing(sources: Sequence[ClusterMetrics], what: str) -> str:
    """Not measured: no source configured, or what the configured sources said."""
    if not sources:
        return NOT_MEASURED_REASON
    said = [f"{m.source}: {'; '.join(m.errors[:3]) or f'reported no {what}'}" for m in sources]
    return " | ".join(said)


def _per_broker(
    rule: str,
    sources: Sequence[ClusterMetrics],
    t: Thresholds,
    pick: Pick,
    describe: Callable[[ClusterMetrics, NodeMetrics, float], str],
) -> list[Finding]:
    """One finding per broker from the first source that measured ``pick`` for any broker."""
    for metrics in sources:
        measured = [(n, pick(metrics, n)) for n in metrics.brokers]
        if not any(v is not None for _, v in measured):
            continue
        out = []
        for node, value in sorted(measured, key=lambda nv: nv[0].node_id):
            subject = f"broker {node.node_id}"
            if value is None:
                reason = node.error or f"{metrics.source} reported no value for this broker"
                out.append(not_measured(rule, reason, subject=subject, source=metrics.label))
                continue
            severity, threshold = _classify(rule, value, t)
            hit = value > threshold
            out.append(
                result(
                    rule,
                    severity,
                    hit,
                    round(value, 2),
                    threshold,
                    subject=subject,
                    evidence=[describe(metrics, node, value)] if hit else [],
                    source=metrics.label,
                )
            )
        return out
    return [not_measured(rule, _why_missing(sources, rule.replace("_", " ")))]


def _cpu_text(metrics: ClusterMetrics, node: NodeMetrics, value: float) -> str:
    scope = "host" if node.cpu_percent is not None else "broker JVM"
    jvm = (
        f" (broker JVM {node.process_cpu_percent:.1f}%)"
        if node.cpu_percent is not None and node.process_cpu_percent is not None
        else ""
    )
    return f"broker {node.node_id}: CPU {value:.1f}% ({scope}){jvm}, {metrics.label}"


def _mem_text(metrics: ClusterMetrics, node: NodeMetrics, value: float) -> str:
    return f"broker {node.node_id}: memory {value:.1f}% used, {metrics.label}"


# -------------------------------------------------------------------------- producer errors
def _producer_error_rate(sources: Sequence[ClusterMetrics], t: Thresholds) -> Finding:
    """Failed ÷ total produce requests, cluster-wide, over the source's window."""
    rule = "producer_error_rate"
    for metrics in sources:
        rate = metrics.producer_error_rate_percent()
        if rate is None:
            continue
        failed = sum(n.failed_produce_requests_per_s or 0.0 for n in metrics.brokers)
        total = sum(n.produce_requests_per_s or 0.0 for n in metrics.brokers)
        severity, threshold = _classify(rule, rate, t)
        hit = rate > threshold
        evidence = [
            f"{failed:.2f} failed of {total:.2f} produce requests/s "
            f"(FailedProduceRequestsPerSec / TotalProduceRequestsPerSec), {metrics.label}"
        ]
        return result(
            rule,
            severity,
            hit,
            round(rate, 3),
            threshold,
            evidence=evidence if hit else [],
            source=metrics.label,
        )
    return not_measured(rule, _why_missing(sources, "produce request counters"))


# ------------------------------------------------------------------------------- network I/O
def _network_io(sources: Sequence[ClusterMetrics], t: Thresholds) -> list[Finding]:
    """Client + replication bytes per broker as a share of the configured bandwidth."""
    rule = "network_io"
    traffic = next((m for m in sources if any(n.network_bytes_per_s for n in m.brokers)), None)
    if traffic is not None and not traffic.network_capacity_bytes_per_s:
        busiest = max(n.network_bytes_per_s or 0.0 for n in traffic.brokers)
        return [
            not_measured(
                rule,
                f"traffic is measured (busiest broker {format_bytes(busiest)}/s, "
                f"{traffic.label}) but no bandwidth is configured: set "
                "clusters.NAME.metrics.network_bandwidth (e.g. 10Gbps) to turn it into a %",
                source=traffic.label,
            )
        ]

    def share(metrics: ClusterMetrics, node: NodeMetrics) -> float | None:
        return metrics.network_percent(node)

    return _per_broker(rule, sources, t, share, _net_text)


def _net_text(metrics: ClusterMetrics, node: NodeMetrics, value: float) -> str:
    return (
        f"broker {node.node_id}: {format_bytes(node.network_bytes_per_s or 0)}/s in+out "
        f"(clients + replication) = {value:.1f}% of "
        f"{format_bytes(metrics.network_capacity_bytes_per_s or 0)}/s, {metrics.label}"
    )


# --------------------------------------------------------------------- disk usage fallback
def disk_from_metrics(
    sources: Sequence[ClusterMetrics], t: Thresholds, admin_reason: str
) -> list[Finding]:
    """Disk usage per broker from a metrics source, when the brokers do not report it."""
    findings = _per_broker("disk_usage", sources, t, lambda _m, n: n.disk_percent, _disk_text)
    if all(f.status == CheckStatus.NOT_MEASURED for f in findings) and not sources:
        return [not_measured("disk_usage", admin_reason)]
    return findings


def _disk_text(metrics: ClusterMetrics, node: NodeMetrics, value: float) -> str:
    return f"broker {node.node_id}: data disk {value:.1f}% used, {metrics.label}"


# ------------------------------------------------------- facts backing the admin-protocol rules
def controller_facts(sources: Sequence[ClusterMetrics]) -> tuple[int | None, str | None, list[str]]:
    """(ActiveControllerCount summed, the source's label, evidence lines) from the first source
    reporting it; the evidence names controller nodes whose metrics did not answer."""
    lines: list[str] = []
    for metrics in sources:
        silent = [n for n in metrics.controllers if n.error]
        lines += [
            f"{metrics.source}: controller {n.node_id} metrics not answering: {n.error}"
            for n in silent
        ]
        count = metrics.active_controller_count()
        if count is not None:
            lines.insert(0, f"{metrics.label}: ActiveControllerCount = {count}")
            return count, metrics.label, lines
        if silent:
            return None, metrics.label, lines
    return None, None, lines


def count_fact(
    sources: Sequence[ClusterMetrics], name: str, get: Callable[[ClusterMetrics], int | None]
) -> tuple[int | None, str | None, list[str]]:
    """(value, source label, evidence line) of a count metric from the first source with it."""
    for metrics in sources:
        value = get(metrics)
        if value is not None:
            return value, metrics.label, [f"{metrics.label}: {name} = {value}"]
    return None, None, []


def with_evidence(finding: Finding, lines: Sequence[str]) -> Finding:
    """The same finding with metric facts appended to its evidence."""
    if not lines:
        return finding
    return replace(finding, evidence=cap([*finding.evidence, *lines]))
