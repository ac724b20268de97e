"""Human (rich) and machine (JSON) views of a health report and a snapshot."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from kafkaops.core.model import CheckStatus, ClusterSnapshot, Finding, HealthReport, Severity

SEVERITY_STYLE = {
    Severity.P0: "bold white on red",
    Severity.P1: "bold red",
    Severity.P2: "bold yellow",
    Severity.OK: "bold green",
}


def utc(ms: int) -> str:
    """Epoch milliseconds as an ISO-8601 UTC timestamp (what operators paste into tickets)."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def health_to_dict(report: HealthReport) -> dict[str, Any]:
    """The JSON contract of ``kafkaops health --json`` and of the service's msk-health."""
    return {
        "cluster": report.cluster_name,
        "bootstrap": report.bootstrap,
        "checked_at": utc(report.checked_at_ms),
        "reachable": report.reachable,
        "overall_healthy": report.overall_healthy,
        "severity": report.severity.value,
        "summary": report.summary,
        "findings": [f.to_dict() for f in report.findings],
        "not_measured": [
            {"rule": c.rule, "title": c.title, "reason": "; ".join(c.evidence)}
            for c in report.checks
            if c.status == CheckStatus.NOT_MEASURED
        ],
        "checks": [
            {
                "rule": c.rule,
                "subject": c.subject,
                "status": c.status.value,
                "value": c.value,
                "threshold": c.threshold,
                "unit": c.unit,
                "source": c.source,
            }
            for c in report.checks
        ],
    }


def _fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        seconds = value / 1000
        return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.1f}m"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "ratio":
        return f"{value * 100:.2f}%"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}"


def render_health(report: HealthReport, console: Console) -> None:
    style = SEVERITY_STYLE[report.severity]
    verdict = "HEALTHY" if report.overall_healthy else f"{report.severity.value} — UNHEALTHY"
    s = report.summary
    lines = [
        f"[{style}]{verdict}[/]   cluster [bold]{report.cluster_name}[/] "
        f"({report.bootstrap})   checked {utc(report.checked_at_ms)}",
    ]
    if report.reachable:
        lines.append(
            f"state {s.get('state', '?')} · brokers {s.get('brokers_reachable', '?')}/"
            f"{s.get('brokers', '?')} · controller {s.get('active_controller', '-')} · "
            f"topics {s.get('topics', '?')} · partitions {s.get('partitions', '?')} · "
            f"consumer groups {s.get('consumer_groups', '?')}"
        )
        lines.append(
            f"offline {s.get('offline_partitions', 0)} · under-replicated "
            f"{s.get('under_replicated_partitions', 0)} · under-min-ISR "
            f"{s.get('under_min_isr_partitions', 0)}"
        )
    console.print(Panel("\n".join(lines), title="kafkaops health", expand=False))

    if report.findings:
        # Evidence goes under the table, not in a column: at 80 columns a sixth column left it
        # 15 characters wide and folded statuses and names ("sandb/ox").  Severity, value and
        # threshold never wrap; the title and subject fold only if they must.
        table = Table(title="Findings", box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("sev", no_wrap=True)
        table.add_column("finding", overflow="fold", ratio=3)
        table.add_column("subject", overflow="fold", ratio=2)
        table.add_column("value", no_wrap=True, justify="right")
        table.add_column("threshold", no_wrap=True, justify="right")
        for f in report.findings:
            table.add_row(
                f"[{SEVERITY_STYLE[f.severity]}]{f.severity.value}[/]",
                f.title,
                f.subject,
                _fmt_value(f.value, f.unit),
                _fmt_value(f.threshold, f.unit),
            )
        console.print(table)
        for f in report.findings:
            if not f.evidence:
                continue
            console.print(f"[bold]{f.title}[/] ({f.subject}):", highlight=False)
            for line in f.evidence[:8]:
                console.print(f"  {line}", markup=False, highlight=False)
            if len(f.evidence) > 8:
                console.print(f"  … {len(f.evidence) - 8} more (see --json)", markup=False)
        worst = report.findings[0]
        if worst.response:
            steps = "\n".join(f"{i}. {step}" for i, step in enumerate(worst.response, 1))
            console.print(
                Panel(steps, title=f"Runbook response ({worst.severity.value})", expand=False)
            )
    if report.reachable:
        console.print(_checks_table(report))
    not_measured = [c for c in report.checks if c.status == CheckStatus.NOT_MEASURED]
    by_reason: dict[str, set[str]] = {}
    for c in not_measured:
        by_reason.setdefault("; ".join(c.evidence) or "no source", set()).add(c.rule)
    for reason, rules in sorted(by_reason.items()):
        console.print(f"[dim]not measured: {', '.join(sorted(rules))} — {reason}[/dim]")


def _checks_table(report: HealthReport) -> Table:
    """Every runbook rule on one row: its status, the worst measured value and its source.

    Per-broker rules (CPU, memory, disk, network) collapse to their worst broker so the table
    stays one screen whatever the cluster size; ``--json`` has every subject.
    """
    table = Table(title="Runbook checks", box=None, pad_edge=False)
    table.add_column("rule", no_wrap=True)
    table.add_column("status", no_wrap=True)
    # At 80 columns a long subject ("109s (demo.billing-batch)") wraps inside its own cell;
    # the source keeps room for "prometheus" / "(3.44s window)" instead of being cut mid-word.
    table.add_column("worst value")
    table.add_column("threshold", no_wrap=True)
    table.add_column("source", min_width=14)
    by_rule: dict[str, list[Finding]] = {}
    for c in report.checks:
        by_rule.setdefault(c.rule, []).append(c)
    for rule, checks in by_rule.items():
        measured = [c for c in checks if c.status != CheckStatus.NOT_MEASURED]
        hit = [c for c in measured if c.status == CheckStatus.TRIGGERED]
        if not measured:
            table.add_row(rule, "[dim]not measured[/]", "-", "-", checks[0].source)
            continue
        worst = max(hit or measured, key=lambda c: (c.value is not None, c.value or 0))
        sev = Severity.worst([c.severity for c in hit])
        status = f"[{SEVERITY_STYLE[sev]}]{sev.value} × {len(hit)}[/]" if hit else "[green]ok[/]"
        where = f" ({worst.subject})" if len(checks) > 1 or worst.subject != "cluster" else ""
        table.add_row(
            rule,
            status,
            _fmt_value(worst.value, worst.unit) + where,
            _fmt_value(worst.threshold, worst.unit),
            worst.source,
        )
    return table


def render_snapshot_summary(snap: ClusterSnapshot, console: Console) -> None:
    console.print(
        f"[bold]{snap.cluster_name}[/] {snap.bootstrap} · cluster id {snap.cluster_id} · "
        f"taken {utc(snap.taken_at_ms)} in {snap.duration_ms} ms"
    )
    brokers = Table("broker", "endpoint", "rack", "reachable", "bytes on disk")
    sizes = snap.broker_bytes()
    for b in snap.brokers:
        brokers.add_row(
            str(b.node_id),
            f"{b.host}:{b.port}",
            b.rack or "-",
            "yes" if b.reachable else f"[red]no[/red] {b.error or ''}",
            f"{sizes.get(b.node_id, 0):,}",
        )
    console.print(brokers)
    groups = Table("group", "state", "members", "partitions", "lag", "max time lag")
    for g in sorted(snap.groups, key=lambda g: -(g.max_time_lag_ms or 0)):
        tl = g.max_time_lag_ms
        groups.add_row(
            g.group_id,
            g.state,
            str(len(g.members)),
            str(len(g.partitions)),
            f"{g.total_lag:,}",
            "-" if tl is None else f"{tl / 1000:.1f}s",
        )
    console.print(groups)
    console.print(
        f"topics {len(snap.user_topics)} · partitions {len(snap.partitions)} · "
        f"round trips {sum(snap.round_trips.values())} {snap.round_trips}"
    )
    for e in snap.errors:
        console.print(f"[yellow]warning[/yellow] {e.source} {e.target}: {e.message}")
