"""The health report as a person reads it: at 80 columns nothing important is folded."""

from __future__ import annotations

from rich.console import Console

from kafkaops.core.model import CheckStatus, Finding, HealthReport, Severity
from kafkaops.report.health_view import render_health


def _finding(rule: str, title: str, subject: str, evidence: tuple[str, ...]) -> Finding:
    return Finding(rule, Severity.P1, CheckStatus.TRIGGERED, title, 3.0, 0.0, "count", subject,
                   evidence=evidence)  # fmt: skip


def _render(width: int) -> list[str]:
    urp = _finding(
        "under_replicated_partitions",
        "Under-replicated partitions (UnderReplicatedPartitions > 0)",
        "cluster",
        tuple(f"orders-{i}: replicas 1,2,3 isr 1,3 (broker 2 missing)" for i in range(12)),
    )
    report = HealthReport(
        cluster_name="sandbox", bootstrap="127.0.0.1:19092", checked_at_ms=1_764_561_600_000,
        reachable=True, overall_healthy=False, severity=Severity.P1, findings=(urp,),
        checks=(urp,), summary={"state": "degraded"},
    )  # fmt: skip
    console = Console(width=width, record=True, color_system=None)
    render_health(report, console)
    return console.export_text().splitlines()


def test_findings_at_80_columns_keep_names_whole_and_evidence_under_the_table() -> None:
    lines = _render(80)
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    text = "\n".join(lines)
    assert "sandbox" in text and "sandb\n" not in text
    # Evidence is listed whole, one item per line, under the table.
    assert "  orders-0: replicas 1,2,3 isr 1,3 (broker 2 missing)" in lines
    assert "… 4 more (see --json)" in text
    (p1_row,) = [line for line in lines if line.strip().startswith("P1 ")]
    assert "3" in p1_row


def test_findings_at_wide_width_are_one_row_each() -> None:
    lines = _render(160)
    assert any(
        line.strip().startswith("P1 ") and "Under-replicated partitions" in line for line in lines
    )


def test_runbook_checks_at_80_columns_keep_the_source_whole() -> None:
    """A long subject in "worst value" (a consumer group name) wraps in its own cell; the source
    column ("prometheus", "(3.44s window)") is never cut mid-word (seen in the demo)."""
    lag = Finding("consumer_lag", Severity.P2, CheckStatus.TRIGGERED, "Consumer lag", 109_000,
                  60_000, "ms", "demo.billing-batch", source="admin")  # fmt: skip
    cpu = Finding("broker_cpu", Severity.P1, CheckStatus.TRIGGERED, "Broker CPU", 90.2, 90.0,
                  "percent", "broker 1", source="prometheus (3.44s window)")  # fmt: skip
    status = Finding("under_replicated_partitions", Severity.OK, CheckStatus.OK, "URP", 0, 0,
                     "count", "cluster", source="history")  # fmt: skip
    report = HealthReport(
        cluster_name="sandbox", bootstrap="127.0.0.1:19092", checked_at_ms=1_764_561_600_000,
        reachable=True, overall_healthy=False, severity=Severity.P1, findings=(cpu, lag),
        checks=(lag, status, cpu), summary={"state": "ACTIVE"},
    )  # fmt: skip
    console = Console(width=80, record=True, color_system=None)
    render_health(report, console)
    lines = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    table = lines[next(i for i, line in enumerate(lines) if "Runbook checks" in line) :]
    assert any(line.rstrip().endswith("source") for line in table), table[:3]
    assert any("history" in line for line in table) and any("prometheus" in line for line in table)
    assert any("window)" in line for line in table) and not any(
        line.rstrip().endswith(("sourc", "prome", "histo")) for line in table
    ), table
