"""The runbook's monthly report, per cluster: SLO and error budget, incidents with MTTA / MTTR,
capacity outlook, cost trend, DR drill and backup checks, the benchmark trend, and the audit
and compliance findings — JSON, and HTML with inline SVG charts in the weekly review's style.

Why here (report layer): it joins the slo, capacity, dr and actions stores, which may not import
each other.  The scheduled jobs' results (compliance checks, DR backup checks) come in as plain
dicts from the caller (the jobs layer and the CLI read the jobs store; this layer may not).
Every section says "not recorded" rather than showing nothing when its source is empty.
"""

from __future__ import annotations

import contextlib
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kafkaops.core.report_page import RenderedReport

if TYPE_CHECKING:
    from kafkaops.capacity.analysis import CapacityReport
    from kafkaops.config import Config
    from kafkaops.slo.report import SloReport


@dataclass
class MonthlyReport:
    cluster: str
    month: str
    start: datetime
    end: datetime
    slo: SloReport
    incidents: dict[str, Any]
    capacity: CapacityReport | None
    #: {"status", "unit", "this_month", "previous_month", "daily": [(day ISO, amount)]}
    cost: dict[str, Any]
    #: {"drills": [...], "backup_checks": {...}}
    dr: dict[str, Any]
    #: {"runs": [PerfResult dicts, one per month, oldest first], "this_month": {...} | None}
    benchmark: dict[str, Any]
    #: {"actions": {result: count}, "compliance": {...} | None}
    audit: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "month": self.month,
            "from": f"{self.start:%Y-%m-%dT%H:%M:%SZ}",
            "until": f"{self.end:%Y-%m-%dT%H:%M:%SZ}",
            "slo": self.slo.to_dict(),
            "incidents": self.incidents,
            "capacity": self.capacity.to_dict() if self.capacity else None,
            "cost": self.cost,
            "dr": self.dr,
            "benchmark": self.benchmark,
            "audit": self.audit,
        }


# ------------------------------------------------------------------------------ sections
def _cost(config: Config, cluster: str, start: datetime, end: datetime,
          client: Any | None) -> dict[str, Any]:  # fmt: skip
    """This and the previous month's MSK cost (Cost Explorer, ``capacity.cost_tag``)."""
    from kafkaops.capacity.cost import weekly_cost

    prev = (start - timedelta(days=1)).replace(day=1)
    try:
        got = weekly_cost(config.capacity, prev, end, client=client)
    except Exception as exc:  # a cost outage must not stop the report
        return {"status": f"Cost Explorer failed: {type(exc).__name__}"}
    if got is None:
        return {"status": "not configured (capacity.cost_tag)"}
    if got.errors:
        return {"status": "Cost Explorer failed: " + got.errors[0]}
    daily = got.daily.get(cluster, [])
    this = sum(a for d, a in daily if d >= f"{start:%Y-%m-%d}")
    before = sum(a for d, a in daily if d < f"{start:%Y-%m-%d}")
    return {
        "status": "ok", "unit": got.unit, "this_month": round(this, 2),
        "previous_month": round(before, 2) if before else None, "daily": daily,
    }  # fmt: skip


def _dr(config: Config, cluster: str, start: datetime, end: datetime,
        job_results: Sequence[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """Failovers/drills from ``dr.audit_log`` and the daily backup checks, this month."""
    if config.dr.primary not in (None, cluster) and config.dr.replica != cluster:
        return {"status": "not the DR pair's cluster"}
    drills = []
    path = Path(config.dr.audit_log).expanduser()
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                ev = json.loads(line)
                at = datetime.fromtimestamp(ev["started_at_ms"] / 1000, UTC)
                if start <= at < end:
                    drills.append({
                        "event": ev.get("event"), "at": f"{at:%Y-%m-%dT%H:%M:%SZ}",
                        "mode": ev.get("mode"), "ok": ev.get("ok"),
                        "rto_s": ev["rto_ms"] / 1000 if ev.get("rto_ms") is not None else None,
                        "rpo_s": ev["rpo_estimate_ms"] / 1000
                        if ev.get("rpo_estimate_ms") is not None else None,
                    })  # fmt: skip
    checks = [j for j in job_results if j.get("job") == "dr_backup_check"]
    return {
        "status": "ok" if (drills or checks) else "no DR drill or backup check recorded",
        "drills": drills,
        "backup_checks": {
            "runs": len(checks),
            "failed": sum(1 for j in checks if not j.get("ok")),
            "last": checks[0] if checks else None,
        },
    }


def _benchmark(store_url: str, cluster: str, end: datetime) -> dict[str, Any]:
    from kafkaops.slo.perf import monthly_trend
    from kafkaops.slo.perf_store import PerfStore

    store = PerfStore(store_url)
    try:
        runs = store.runs(cluster, until_ms=int(end.timestamp() * 1000))
    finally:
        store.close()
    trend = monthly_trend(runs)[-12:]
    month = f"{end - timedelta(days=1):%Y-%m}"
    this = [r for r in runs if f"{datetime.fromtimestamp(r.at_ms / 1000, UTC):%Y-%m}" == month]
    return {
        "runs": [r.to_dict() for r in trend],
        "this_month": this[-1].to_dict() if this else None,
    }


def _actions(store_url: str, cluster: str, start: datetime, end: datetime) -> dict[str, int]:
    from sqlalchemy import func, select

    from kafkaops.actions.audit import act_audit, metadata
    from kafkaops.store import db

    engine = db.acquire(store_url)
    try:
        db.ensure_schema(engine, metadata)
        c = act_audit.c
        q = (
            select(c.result, func.count())
            .where(c.cluster == cluster, c.at_us >= int(start.timestamp() * 1e6),
                   c.at_us < int(end.timestamp() * 1e6))
            .group_by(c.result)
        )  # fmt: skip
        with engine.connect() as conn:
            return {str(r): int(n) for r, n in conn.execute(q)}
    finally:
        db.release(engine)


def build_monthly(
    config: Config,
    cluster: str,
    month: str,
    now: datetime,
    store_url: str,
    *,
    job_results: Sequence[dict[str, Any]] = (),
    incidents: Sequence[Any] = (),
    cost_client: Any | None = None,
) -> MonthlyReport:
    """``job_results``: the jobs store's runs of this cluster (newest first).  The compliance
    section is the latest ``compliance_check`` up to ``now`` (the job runs on the first Monday
    before the report: in the new month), the DR section the month's backup checks."""
    from kafkaops.capacity.analysis import analyse
    from kafkaops.capacity.store import CapacityStore
    from kafkaops.slo.monthly import incident_stats
    from kafkaops.slo.report import build_report, month_bounds
    from kafkaops.slo.store import SloStore

    start, end = month_bounds(month, now)
    until = min(end, now)
    slo_store = SloStore(store_url)
    try:
        slo = build_report(slo_store, cluster, config.slo, start, end, now, incidents)
    finally:
        slo_store.close()
    capacity = None
    cap = CapacityStore(store_url)
    try:
        with contextlib.suppress(ValueError):
            capacity = analyse(cap, cluster, config.capacity, now=until)
    finally:
        cap.close()
    in_month = [
        j for j in job_results
        if f"{start:%Y-%m-%d}" <= str(j.get("scheduled_for", ""))[:10] < f"{end:%Y-%m-%d}"
    ]  # fmt: skip
    compliance = next(
        (j for j in job_results if j.get("job") == "compliance_check"
         and str(j.get("scheduled_for", "")) <= f"{now:%Y-%m-%dT%H:%M:%SZ}"),
        None,
    )  # fmt: skip
    return MonthlyReport(
        cluster=cluster,
        month=f"{start:%Y-%m}",
        start=start,
        end=until,
        slo=slo,
        incidents=incident_stats(incidents, start, end),
        capacity=capacity,
        cost=_cost(config, cluster, start, until, cost_client),
        dr=_dr(config, cluster, start, end, in_month),
        benchmark=_benchmark(store_url, cluster, end),
        audit={
            "actions": _actions(store_url, cluster, start, end),
            "compliance": compliance["result"] if compliance else None,
        },
    )


# ------------------------------------------------------------------------------ renderers
def summary_lines(r: MonthlyReport) -> list[str]:
    """Plain lines under 80 columns (the CLI and chat)."""
    a = r.slo.slis["availability"].to_dict()
    level = "unknown" if a["sli_percent"] is None else f"{a['sli_percent']:.3f} %"
    inc = r.incidents
    lines = [
        f"Monthly report {r.month} — {r.cluster}",
        f"  availability {level} (objective {a['objective_percent']:g} %), budget spent "
        f"{a['budget_spent_minutes']:.1f} of {a['budget_minutes']:.1f} min",
        f"  incidents {inc['incidents']}, MTTA {_min(inc['mtta_minutes'])}, "
        f"MTTR {_min(inc['mttr_minutes'])}, never acknowledged {inc['never_acknowledged']}",
        f"  capacity: {_capacity_line(r)}"[:80],
        f"  cost: {_cost_text(r.cost)}"[:80],
        f"  DR: {_dr_text(r.dr)}"[:80],
        f"  benchmark: {_bench_text(r.benchmark)}"[:80],
        f"  compliance: {_compliance_text(r.audit.get('compliance'))}"[:80],
    ]
    return lines


def _min(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f} min"


def _capacity_line(r: MonthlyReport) -> str:
    if r.capacity is None:
        return "no capacity history"
    worst = r.capacity.worst()
    if worst is None or worst.fit is None:
        return str(getattr(worst, "not_enough", None) or "not enough history")
    full = worst.crossings.get("full")
    when = (f"full in {full.days:.0f} days" if full and full.days is not None
            else f"not full within {r.capacity.horizon_days} days")  # fmt: skip
    return f"broker {worst.broker} at {worst.used_percent or 0:.0f} %, {when}"


def _cost_text(c: dict[str, Any]) -> str:
    if c.get("status") != "ok":
        return str(c.get("status"))
    prev = c.get("previous_month")
    trend = "" if not prev else f" ({100 * (c['this_month'] / prev - 1):+.0f} % on last month)"
    return f"{c['this_month']:.2f} {c.get('unit') or ''}{trend}"


def _dr_text(d: dict[str, Any]) -> str:
    if "drills" not in d:
        return str(d.get("status"))
    drills = d["drills"]
    bc = d["backup_checks"]
    last = drills[-1] if drills else None
    drill = (f"last drill {last['at'][:10]} {'ok' if last['ok'] else 'FAILED'}"
             if last else "no drill this month")  # fmt: skip
    return f"{drill}; backup checks {bc['runs']} ({bc['failed']} failed)"


def _bench_text(b: dict[str, Any]) -> str:
    t = b.get("this_month")
    if not t:
        return "no benchmark this month"
    if not t["ok"]:
        return f"failed: {t['error']}"
    regs = t["detail"].get("regressions", [])
    return (f"{t['produce_records_per_s']:,.0f} rec/s, p99 {t['latency_p99_ms']:.0f} ms"
            + (f"; {len(regs)} regression(s)" if regs else ""))  # fmt: skip


def _compliance_text(c: dict[str, Any] | None) -> str:
    if not c:
        return "no check recorded this month (kafkaops compliance)"
    counts = ", ".join(f"{n} {k}" for k, n in sorted(c.get("counts", {}).items()))
    verdict = "FAILED" if not c.get("ok") else ("OK" if c.get("complete") else "INCOMPLETE")
    return f"{verdict} ({counts}) on {str(c.get('checked_at', '?'))[:10]}"


def _line_svg(title: str, series: dict[str, list[tuple[int, float]]], unit: str) -> str:
    """A line chart of per-day points (days since the epoch) as inline SVG (core.charts)."""
    from kafkaops.core.charts import chart_svg, line_figure

    days = {
        name: [(datetime.fromtimestamp(d * 86400, UTC), v) for d, v in pts]
        for name, pts in series.items()
    }
    return chart_svg(lambda: line_figure(title, days, unit))


def _bench_svg(b: dict[str, Any]) -> str:
    """Throughput per month (the benchmark trend), one point per month."""
    runs = b.get("runs", [])
    day = [(r["at_ms"] // 86_400_000, r) for r in runs]
    return _line_svg(
        "Benchmark: throughput per month",
        {
            "produce": [(d, r["produce_records_per_s"] or 0.0) for d, r in day],
            "consume": [(d, r["consume_records_per_s"] or 0.0) for d, r in day],
        },
        "records/s",
    )


def _cost_svg(c: dict[str, Any]) -> str:
    pts = [
        (int(datetime.fromisoformat(d).replace(tzinfo=UTC).timestamp()) // 86400, a)
        for d, a in c.get("daily", [])
    ]
    return _line_svg(
        f"MSK cost per day ({c.get('unit') or 'n/a'})", {"cost": pts}, c.get("unit") or ""
    )


def to_html(r: MonthlyReport) -> str:
    """Self-contained HTML (inline SVG, no script, nothing fetched), the weekly review's look."""
    from kafkaops.slo.chart import chart_svg as slo_svg

    e = html.escape
    charts = [("budget", slo_svg(r.slo)), ("benchmark", _bench_svg(r.benchmark)),
              ("cost", _cost_svg(r.cost))]  # fmt: skip
    if r.capacity is not None:
        from kafkaops.capacity.chart import chart_svg as capacity_svg

        with contextlib.suppress(ValueError):  # no disk history: no forecast chart
            charts.append(("forecast", capacity_svg(r.capacity)))
    figures = "".join(f'<figure class="chart" id="chart-{k}">{svg}</figure>' for k, svg in charts)
    slis = "".join(
        f"<tr><td>{e(n)}</td><td>{_pct(d['sli_percent'])}</td><td>{d['bad_minutes']:.1f}</td>"
        f"<td>{d['unknown_minutes']:.1f}</td><td>{d['budget_left_minutes']:.1f}</td>"
        f"<td>{ {True: 'yes', False: 'NO', None: '?'}[d['met']] }</td></tr>"
        for n, d in ((n, s.to_dict()) for n, s in r.slo.slis.items())
    )
    spent = (
        "".join(
            f"<tr><td>{e(i['id'])}</td><td>{e(i['severity'])}</td><td>{e(i['opened_at'])}</td>"
            f"<td>{i['bad_minutes']:.1f}</td></tr>"
            for i in r.slo.incidents[:20]
        )
        or "<tr><td colspan=4>no incident spent budget</td></tr>"
    )
    inc = r.incidents
    comp = r.audit.get("compliance") or {}
    comp_rows = (
        "".join(
            f"<tr class='{e(c['status'])}'><td>{e(c['status'])}</td><td>{e(c['check'])}</td>"
            f"<td>{e(c['subject'])}</td><td>{e(c['evidence'])}</td></tr>"
            for c in sorted(comp.get("checks", []), key=lambda c: c["status"] != "fail")
        )
        or "<tr><td colspan=4>no compliance check recorded this month</td></tr>"
    )
    actions = ", ".join(f"{k} {v}" for k, v in sorted(r.audit.get("actions", {}).items()))
    drills = (
        "".join(
            f"<li>{e(d['at'])} {e(str(d['event']))} ({e(str(d['mode']))}): "
            f"{'ok' if d['ok'] else 'FAILED'}, RTO {d['rto_s']} s, RPO {d['rpo_s']} s</li>"
            for d in r.dr.get("drills", [])
        )
        or f"<li>{e(_dr_text(r.dr))}</li>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>kafkaops monthly report {e(r.month)} — {e(r.cluster)}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px}}
figure.chart{{margin:1em 0}} figure.chart svg{{max-width:100%;height:auto}}
tr.fail td{{background:#fde0dd}} tr.unknown td{{background:#fff7bc}}
</style></head><body>
<h1>Monthly report {e(r.month)} — {e(r.cluster)}</h1>
<p>{e(f"{r.start:%Y-%m-%d}")} to {e(f"{r.end:%Y-%m-%d %H:%M}")} UTC</p>
<ul>{"".join(f"<li>{e(line.strip())}</li>" for line in summary_lines(r)[1:])}</ul>
<h2>Service level and error budget</h2>
<table><tr><th>SLI</th><th>level</th><th>bad min</th><th>unknown min</th>
<th>budget left min</th><th>met</th></tr>{slis}</table>
<h3>Incidents that spent the budget</h3>
<table><tr><th>id</th><th>sev</th><th>opened</th><th>bad min</th></tr>{spent}</table>
<h2>Incidents</h2>
<p>{inc["incidents"]} opened ({
        e(", ".join(f"{k} {v}" for k, v in sorted(inc["by_severity"].items())) or "none")
    }) · MTTA {_min(inc["mtta_minutes"])} · MTTR
{_min(inc["mttr_minutes"])} · never acknowledged {inc["never_acknowledged"]} · still open
{inc["still_open"]}</p>
<h2>Charts</h2>{figures}
<h2>Capacity outlook</h2><p>{e(_capacity_line(r))}</p>
<h2>Cost</h2><p>{e(_cost_text(r.cost))}</p>
<h2>Disaster recovery</h2><ul>{drills}</ul>
<h2>Benchmark</h2><p>{e(_bench_text(r.benchmark))}</p>
<h2>Audit and compliance</h2>
<p>Actions recorded this month: {e(actions or "none")}</p>
<table><tr><th>status</th><th>check</th><th>subject</th><th>evidence</th></tr>{comp_rows}</table>
</body></html>
"""


def _pct(v: float | None) -> str:
    return "unknown" if v is None else f"{v:.3f} %"


def rendered(r: MonthlyReport) -> RenderedReport:
    """The monthly report as the report store and the channels take it (one per cluster and
    month: sending it twice is a no-op).  The charts are inline SVG; mail clients that do not
    draw SVG show the text summary and the attached JSON."""
    a = r.slo.slis["availability"].to_dict()
    level = "unknown" if a["sli_percent"] is None else f"{a['sli_percent']:.3f} %"
    inc = r.incidents
    headline = (
        ("availability", level),
        ("budget spent", f"{a['budget_spent_minutes']:.1f} of {a['budget_minutes']:.1f} min"),
        ("incidents", str(inc["incidents"])),
        ("MTTR", _min(inc["mttr_minutes"])),
    )
    return RenderedReport(
        report_id=f"monthly_report:{r.cluster}:{r.month}",
        kind="monthly_report",
        cluster=r.cluster,
        period=str(r.month),
        title=f"Monthly report {r.month} — {r.cluster}",
        html=to_html(r),
        summary="\n".join(summary_lines(r)[1:]),
        data=r.to_dict(),
        headline=headline,
        severity="OK" if a["met"] is not False else "P2",
    )
