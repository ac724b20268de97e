"""A cluster's service level over one calendar month (UTC): both SLIs, the budget, and the
incidents that spent it (an incident spent budget when it was open during a bad span)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafkaops.slo.settings import SloSettings
from kafkaops.slo.sli import SLIS, SliResult, sli_result
from kafkaops.slo.store import SloStore

_MONTH_HINT = "use YYYY-MM, e.g. 2026-11"


def month_bounds(month: str | None, now: datetime) -> tuple[datetime, datetime]:
    """``[first day 00:00Z, next month's first day)``; ``None``: the current month."""
    if month is None:
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        try:
            start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
        except ValueError:
            raise ValueError(f"{month!r} is not a month ({_MONTH_HINT})") from None
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


@dataclass
class SloReport:
    cluster: str
    start: datetime
    end: datetime
    #: The period actually evaluated: up to ``now`` for the current month.
    until: datetime
    settings: SloSettings
    slis: dict[str, SliResult]
    #: Incidents open during a bad availability span, with the bad minutes they overlap.
    incidents: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "month": f"{self.start:%Y-%m}",
            "from": f"{self.start:%Y-%m-%dT%H:%M:%SZ}",
            "until": f"{self.until:%Y-%m-%dT%H:%M:%SZ}",
            "objective_percent": self.settings.objective,
            "budget_minutes": round(self.settings.budget_ms / 60_000, 2),
            "slis": {name: r.to_dict() for name, r in self.slis.items()},
            "incidents": self.incidents,
        }


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def build_report(
    store: SloStore,
    cluster: str,
    settings: SloSettings,
    start: datetime,
    end: datetime,
    now: datetime,
    incidents: Sequence[Any] = (),
) -> SloReport:
    """``incidents``: :class:`kafkaops.incidents.incident.Incident` objects of the cluster."""
    until = min(end, now)
    s_ms, u_ms = _ms(start), max(_ms(until), _ms(start))
    verdicts = store.verdicts(cluster, s_ms, u_ms)
    results = {name: sli_result(verdicts, name, s_ms, u_ms, settings) for name in SLIS}
    if not settings.freshness_groups and not results["freshness"].totals.known_ms:
        del results["freshness"]
    bad = results["availability"].bad_spans
    spent = []
    for inc in incidents:
        a = _ms(inc.opened_at)
        b = _ms(inc.resolved_at) if inc.resolved_at else u_ms
        overlap = sum(max(0, min(b, s.end_ms) - max(a, s.start_ms)) for s in bad)
        if overlap:
            spent.append(
                {
                    "id": inc.id,
                    "severity": inc.severity.value,
                    "status": inc.status.value,
                    "opened_at": f"{inc.opened_at:%Y-%m-%dT%H:%M:%SZ}",
                    "resolved_at": f"{inc.resolved_at:%Y-%m-%dT%H:%M:%SZ}"
                    if inc.resolved_at
                    else None,
                    "bad_minutes": round(overlap / 60_000, 2),
                }
            )
    spent.sort(key=lambda d: -d["bad_minutes"])
    return SloReport(cluster, start, end, until, settings, results, spent)


def render_text(report: SloReport) -> list[str]:
    """Plain lines under 80 columns (the CLI prints them)."""
    lines = [
        f"{report.cluster}: service level {report.start:%Y-%m} "
        f"({report.start:%d %b} – {report.until:%d %b %H:%M} UTC)",
        f"objective {report.settings.objective:g} %, budget "
        f"{report.settings.budget_ms / 60_000:.1f} min per month",
        "",
        f"{'SLI':<13}{'level':>10}{'bad min':>10}{'unknown min':>13}{'budget left':>13}  met",
    ]
    for r in report.slis.values():
        d = r.to_dict()
        level = "unknown" if d["sli_percent"] is None else f"{d['sli_percent']:.3f} %"
        met = {True: "yes", False: "NO", None: "?"}[d["met"]]
        lines.append(
            f"{r.name:<13}{level:>10}{d['bad_minutes']:>10.1f}{d['unknown_minutes']:>13.1f}"
            f"{d['budget_left_minutes']:>9.1f} min  {met}"
        )
    avail = report.slis["availability"]
    if avail.bad_spans:
        lines += ["", "Bad periods (availability):"]
        for s in avail.bad_spans[:10]:
            a = datetime.fromtimestamp(s.start_ms / 1000, UTC)
            mins = (s.end_ms - s.start_ms) / 60_000
            lines.append(f"  {a:%Y-%m-%d %H:%M:%S}Z  {mins:6.1f} min  {s.reason[:40]}")
        if len(avail.bad_spans) > 10:
            lines.append(f"  … and {len(avail.bad_spans) - 10} more (--json lists them)")
    if report.incidents:
        lines += ["", "Incidents that spent the budget:"]
        for i in report.incidents[:10]:
            lines.append(
                f"  {i['id'][:24]:<24} {i['severity']} {i['opened_at']}  {i['bad_minutes']:.1f} min"
            )
    return lines
