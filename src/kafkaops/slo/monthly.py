"""The monthly report's service-level part: the SLO and budget of the month that just ended,
and its incidents with MTTA / MTTR — what the service's first-Monday job records.

MTTA is opened → acknowledged, MTTR opened → resolved, over the incidents *opened* in the
month; an incident never acknowledged or still open is counted, not averaged (an average that
silently drops the worst cases flatters the team).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from statistics import mean
from typing import Any

from kafkaops.slo.report import build_report, month_bounds
from kafkaops.slo.settings import SloSettings
from kafkaops.slo.store import SloStore


def previous_month(now: datetime) -> str:
    """``"2026-11"`` for any instant in December 2026."""
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return f"{first - timedelta(days=1):%Y-%m}"


def incident_stats(incidents: Sequence[Any], start: datetime, end: datetime) -> dict[str, Any]:
    """Counts by severity, MTTA and MTTR in minutes over incidents opened in ``[start, end)``."""
    opened = [i for i in incidents if start <= i.opened_at < end]
    by_sev: dict[str, int] = {}
    for i in opened:
        by_sev[i.severity.value] = by_sev.get(i.severity.value, 0) + 1
    acks = [(i.acknowledged_at - i.opened_at).total_seconds() / 60 for i in opened
            if i.acknowledged_at]  # fmt: skip
    fixes = [(i.resolved_at - i.opened_at).total_seconds() / 60 for i in opened if i.resolved_at]
    return {
        "incidents": len(opened),
        "by_severity": by_sev,
        "mtta_minutes": round(mean(acks), 1) if acks else None,
        "mttr_minutes": round(mean(fixes), 1) if fixes else None,
        "never_acknowledged": len(opened) - len(acks),
        "still_open": len(opened) - len(fixes),
    }


def monthly_summary(
    store: SloStore,
    cluster: str,
    settings: SloSettings,
    month: str,
    now: datetime,
    incidents: Sequence[Any],
) -> dict[str, Any]:
    start, end = month_bounds(month, now)
    report = build_report(store, cluster, settings, start, end, now, incidents)
    return {"slo": report.to_dict(), "incidents": incident_stats(incidents, start, end)}
