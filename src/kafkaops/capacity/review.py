"""The runbook's Monday 10:00 weekly review: 7-day trends, the week's incidents, capacity, and
what changed since the week before — as JSON, Markdown (for chat) and self-contained HTML with
inline SVG charts (no CDN, no external file); for e-mail the same page with PNG charts
(:func:`render_review`, delivered by :func:`kafkaops.notify.reports.deliver_report`).

Sources, all already recorded by the watch loop:

* disk per broker, throughput, producer error rate — the capacity store's daily rows;
* time lag of the top groups — the history store's ``group_offsets`` (daily max per group);
* incidents — the incident store: opened in the week, time to acknowledge and to resolve;
* capacity — :func:`kafkaops.capacity.analysis.analyse` as of the week's end.

The runbook's script reads CloudWatch averages per day (``--statistics Average``), which hides
the saw-tooth peaks that fill disks; here disk is the daily *max*.  Its ``ProducerRequestErrors``
metric does not exist in ``AWS/Kafka`` (see :mod:`kafkaops.collect.cloudwatch`); the error rate
here is failed ÷ total produce requests from the metrics source.  Cost comes from AWS Cost
Explorer grouped by a cluster tag (:mod:`kafkaops.capacity.cost`) when ``capacity.cost_tag``
is set.
"""

from __future__ import annotations

import contextlib
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from kafkaops.capacity.analysis import CapacityReport, analyse
from kafkaops.capacity.settings import CapacitySettings
from kafkaops.capacity.store import DAY_MS, CapacityStore
from kafkaops.core.charts import Chart, line_figure, render
from kafkaops.core.report_page import ChartMode, RenderedReport, e, figures, page

GiB = 1024**3
TOP_GROUPS = 5


def parse_week(text: str | None, now: datetime) -> tuple[datetime, datetime]:
    """``2026-W48`` → (Monday 00:00, next Monday 00:00) UTC; None → the last full week."""
    if text is None:
        monday = (now - timedelta(days=now.weekday())).date() - timedelta(days=7)
    else:
        try:
            year, week = text.upper().split("-W")
            monday = date.fromisocalendar(int(year), int(week), 1)
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO week (e.g. 2026-W48)") from None
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return start, start + timedelta(days=7)


@dataclass
class WeeklyReview:
    cluster: str
    start: datetime
    end: datetime
    #: log dir subject → [(day, max bytes)]
    disk: dict[str, list[tuple[int, float]]]
    #: [(day, bytes in/s, bytes out/s)] summed over brokers (daily means)
    throughput: list[tuple[int, float, float]]
    #: [(day, percent)]
    producer_errors: list[tuple[int, float]]
    #: group → [(day, max time lag ms)]
    lag: dict[str, list[tuple[int, float]]]
    incidents: list[dict[str, Any]]
    capacity: CapacityReport
    changes: list[str]
    cost: Any = None  # kafkaops.capacity.cost.WeeklyCost | None

    @property
    def week(self) -> str:
        y, w, _ = self.start.isocalendar()
        return f"{y}-W{w:02d}"

    def incident_summary(self) -> dict[str, Any]:
        tta = [i["time_to_ack_s"] for i in self.incidents if i["time_to_ack_s"] is not None]
        ttr = [i["time_to_resolve_s"] for i in self.incidents if i["time_to_resolve_s"] is not None]
        by: dict[str, int] = {}
        for i in self.incidents:
            by[i["severity"]] = by.get(i["severity"], 0) + 1
        return {
            "count": len(self.incidents),
            "by_severity": by,
            "median_time_to_ack_s": statistics.median(tta) if tta else None,
            "median_time_to_resolve_s": statistics.median(ttr) if ttr else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "week": self.week,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "disk_daily_max_bytes": {
                s: [{"day": _day(d), "bytes": v} for d, v in pts] for s, pts in self.disk.items()
            },
            "throughput": [
                {"day": _day(d), "bytes_in_per_s": i, "bytes_out_per_s": o}
                for d, i, o in self.throughput
            ],
            "producer_error_rate_percent": [
                {"day": _day(d), "percent": p} for d, p in self.producer_errors
            ],
            "time_lag_ms_daily_max": {
                g: [{"day": _day(d), "ms": v} for d, v in pts] for g, pts in self.lag.items()
            },
            "incidents": self.incidents,
            "incident_summary": self.incident_summary(),
            "capacity": self.capacity.to_dict(),
            "changes_since_last_week": self.changes,
            "cost": self.cost.to_dict()
            if self.cost is not None
            else {"status": "not configured (capacity.cost_tag)"},
        }


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _day(d: int) -> str:
    return datetime.fromtimestamp(d * 86400, UTC).date().isoformat()


def _week_days(store: CapacityStore, cluster: str, series: str, metric: str, a: int, b: int):  # type: ignore[no-untyped-def]
    return {
        s: [d for d in days if a <= d.day < b]
        for s, days in store.daily(cluster, series, metric, since_day=a).items()
    }


def _disk(store: CapacityStore, cluster: str, a: int, b: int) -> dict[str, list[tuple[int, float]]]:
    used = _week_days(store, cluster, "logdir", "used_bytes", a, b)
    return {s: [(d.day, d.max) for d in v if d.max is not None] for s, v in used.items() if v}


def _throughput(
    store: CapacityStore, cluster: str, a: int, b: int
) -> list[tuple[int, float, float]]:
    ins = _week_days(store, cluster, "broker", "bytes_in_per_s", a, b)
    outs = _week_days(store, cluster, "broker", "bytes_out_per_s", a, b)
    per: dict[int, list[float]] = {}
    for series, k in ((ins, 0), (outs, 1)):
        for days in series.values():
            for d in days:
                if d.mean is not None:
                    per.setdefault(d.day, [0.0, 0.0])[k] += d.mean
    return [(d, v[0], v[1]) for d, v in sorted(per.items())]


def _errors(store: CapacityStore, cluster: str, a: int, b: int) -> list[tuple[int, float]]:
    failed = _week_days(store, cluster, "broker", "failed_produce_requests_per_s", a, b)
    total = _week_days(store, cluster, "broker", "produce_requests_per_s", a, b)
    f: dict[int, float] = {}
    t: dict[int, float] = {}
    for src, acc in ((failed, f), (total, t)):
        for days in src.values():
            for d in days:
                if d.mean is not None:
                    acc[d.day] = acc.get(d.day, 0.0) + d.mean
    return [(d, 100.0 * f.get(d, 0.0) / t[d] if t[d] > 0 else 0.0) for d in sorted(t)]


def _lag(
    history_url: str | None, cluster: str, a: int, b: int
) -> dict[str, list[tuple[int, float]]]:
    if not history_url:
        return {}
    from kafkaops.store.history import HistoryStore, group_offsets

    hs = HistoryStore(history_url)
    try:
        c = group_offsets.c
        day = c.ts_ms // DAY_MS
        q = (
            select(c.group_id, day.label("day"), func.max(c.time_lag_ms))
            .where(and_(c.cluster == cluster, c.ts_ms >= a * DAY_MS, c.ts_ms < b * DAY_MS))
            .group_by(c.group_id, day)
        )
        out: dict[str, list[tuple[int, float]]] = {}
        with hs.engine.connect() as conn:
            for g, d, v in conn.execute(q):
                if v is not None:
                    out.setdefault(g, []).append((int(d), float(v)))
    finally:
        hs.close()
    top = sorted(out, key=lambda g: -max(v for _, v in out[g]))[:TOP_GROUPS]
    return {g: sorted(out[g]) for g in top}


def _incidents(
    incidents_url: str | None, cluster: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    if not incidents_url:
        return []
    from kafkaops.incidents.store import IncidentStore

    st = IncidentStore(incidents_url)
    try:
        found = st.list_incidents(None, cluster=cluster, limit=1000)
    finally:
        st.close()
    out = []
    for i in found:
        if not (start <= i.opened_at < end):
            continue
        tta = (i.acknowledged_at - i.opened_at).total_seconds() if i.acknowledged_at else None
        ttr = (i.resolved_at - i.opened_at).total_seconds() if i.resolved_at else None
        out.append(
            {
                "id": i.id,
                "severity": i.severity.value,
                "status": str(i.status.value if hasattr(i.status, "value") else i.status),
                "opened_at": _iso(i.opened_at),
                "rules": sorted({m.rule for m in i.members}),
                "time_to_ack_s": tta,
                "time_to_resolve_s": ttr,
            }
        )
    return out


def _changes(store: CapacityStore, cluster: str, a: int, b: int) -> list[str]:
    """Disk, partitions and throughput at the end of this week against the week before."""
    out = []
    now_disk, before = _disk(store, cluster, a, b), _disk(store, cluster, a - 7, a)
    for s in sorted(now_disk):
        if now_disk[s] and before.get(s):
            delta = now_disk[s][-1][1] - before[s][-1][1]
            out.append(f"disk broker {s}: {delta / GiB:+.2f} GiB on the week")
    parts_now = _week_days(store, cluster, "broker", "partitions", a, b)
    parts_before = _week_days(store, cluster, "broker", "partitions", a - 7, a)
    for s in sorted(parts_now):
        if parts_now[s] and parts_before.get(s):
            n, p = parts_now[s][-1].max or 0, parts_before[s][-1].max or 0
            if n != p:
                out.append(f"partitions on broker {s}: {p:.0f} → {n:.0f}")
    t_now, t_before = _throughput(store, cluster, a, b), _throughput(store, cluster, a - 7, a)
    if t_now and t_before:
        mean_now = sum(x[1] for x in t_now) / len(t_now)
        mean_before = sum(x[1] for x in t_before) / len(t_before)
        if mean_before > 0:
            out.append(f"bytes in: {100 * (mean_now / mean_before - 1):+.0f}% on the week before")
    if not out:
        out.append("no history of the week before to compare with")
    return out


def build_review(
    store: CapacityStore,
    cluster: str,
    settings: CapacitySettings,
    *,
    start: datetime,
    end: datetime,
    history_url: str | None = None,
    incidents_url: str | None = None,
    cost_client: Any | None = None,
) -> WeeklyReview:
    from kafkaops.capacity.cost import weekly_cost

    a, b = int(start.timestamp()) // 86400, int(end.timestamp()) // 86400
    store.rollup(cluster)
    cost = weekly_cost(settings, start, end, client=cost_client)
    return WeeklyReview(
        cluster=cluster,
        start=start,
        end=end,
        disk=_disk(store, cluster, a, b),
        throughput=_throughput(store, cluster, a, b),
        producer_errors=_errors(store, cluster, a, b),
        lag=_lag(history_url, cluster, a, b),
        incidents=_incidents(incidents_url, cluster, start, end),
        capacity=analyse(store, cluster, settings, now=min(end, datetime.now(UTC))),
        changes=_changes(store, cluster, a, b),
        cost=cost,
    )


# ------------------------------------------------------------------------------ renderers


def _dur(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 3600:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def to_markdown(r: WeeklyReview) -> str:
    inc = r.incident_summary()
    worst = r.capacity.worst()
    lines = [
        f"*Weekly review {r.week} — {r.cluster}*",
        f"• Incidents: {inc['count']} "
        + (
            "(" + ", ".join(f"{k} {v}" for k, v in sorted(inc["by_severity"].items())) + ")"
            if inc["count"]
            else ""
        )
        + f"; median time to ack {_dur(inc['median_time_to_ack_s'])}, "
        f"to resolve {_dur(inc['median_time_to_resolve_s'])}",
    ]
    if worst is not None and worst.fit is not None:
        full = worst.crossings.get("full")
        when = (
            f"full in {full.days:.0f} days"
            if full and full.days is not None
            else f"not full within {r.capacity.horizon_days} days"
        )
        lines.append(f"• Capacity: broker {worst.broker} at {worst.used_percent or 0:.0f}%, {when}")
    elif worst is not None:
        lines.append(f"• Capacity: broker {worst.broker}: {worst.not_enough}")
    for rec in r.capacity.recommendations:
        lines.append(f"• Recommendation ({rec.priority}): {rec.action}")
    if r.producer_errors:
        lines.append(f"• Producer error rate: max {max(p for _, p in r.producer_errors):.2f}%/day")
    if r.throughput:
        lines.append(
            f"• Bytes in: {sum(x[1] for x in r.throughput) / len(r.throughput) / 1e6:.2f} MB/s "
            "(mean of daily means)"
        )
    for g, pts in list(r.lag.items())[:3]:
        lines.append(f"• Lag {g}: max {max(v for _, v in pts) / 1000:.0f} s")
    for c in r.changes:
        lines.append(f"• Changed: {c}")
    lines.append(f"• Cost: {_cost_line(r)}")
    return "\n".join(lines) + "\n"


def _days(pts: list[tuple[int, float]]) -> list[tuple[datetime, float]]:
    return [(datetime.fromtimestamp(d * 86400, UTC), v) for d, v in pts]


def review_charts(r: WeeklyReview) -> list[Chart]:
    """The review's charts (SVG for pages, PNG for mail): disk, throughput, producer errors,
    lag of the top groups, and the capacity forecast when there is history to forecast from."""
    from kafkaops.capacity.chart import render_chart

    def line(key: str, title: str, series: dict[str, list[tuple[int, float]]], unit: str,
             scale: float = 1.0) -> Chart:  # fmt: skip
        days = {name: _days(pts) for name, pts in series.items()}
        return render(key, title, lambda: line_figure(title, days, unit, scale))

    out = [
        line("disk", "Disk per broker (daily max)",
             {f"broker {s}": p for s, p in r.disk.items()}, "GiB", GiB),
        line("throughput", "Throughput (sum over brokers)", {
            "bytes in": [(d, i) for d, i, _ in r.throughput],
            "bytes out": [(d, o) for d, _, o in r.throughput]}, "MB/s", 1e6),
        line("errors", "Producer error rate", {"failed ÷ total": r.producer_errors}, "%"),
        line("lag", "Time lag, top groups (daily max)", r.lag, "s", 1000.0),
    ]  # fmt: skip
    with contextlib.suppress(ValueError):  # no capacity history: no forecast chart
        out.append(render_chart(r.capacity, "forecast", "Disk forecast per broker"))
    return out


def headline(r: WeeklyReview) -> list[tuple[str, str]]:
    """The numbers a chat message shows: incidents, MTTA/MTTR, worst disk, error rate, cost."""
    inc = r.incident_summary()
    by = ", ".join(f"{k} {v}" for k, v in sorted(inc["by_severity"].items()))
    out = [
        ("Incidents", f"{inc['count']}" + (f" ({by})" if by else "")),
        ("Median time to ack / resolve",
         f"{_dur(inc['median_time_to_ack_s'])} / {_dur(inc['median_time_to_resolve_s'])}"),
    ]  # fmt: skip
    worst = r.capacity.worst()
    if worst is not None:
        out.append(
            (f"Fullest disk (broker {worst.broker})",
             f"{_pct(worst.used_percent) or '?'}, full: {_full(worst, r.capacity.horizon_days)}")
        )  # fmt: skip
    if r.producer_errors:
        out.append(("Producer errors (max/day)", f"{max(p for _, p in r.producer_errors):.2f}%"))
    out.append(("Recommendations", str(len(r.capacity.recommendations))))
    out.append(("Cost", _cost_line(r)))
    return out


def _body(r: WeeklyReview, charts: list[Chart], mode: ChartMode) -> str:
    inc = r.incident_summary()
    rows = (
        "".join(
            f"<tr><td>{e(i['id'])}</td><td>{e(i['severity'])}</td><td>{e(i['status'])}</td>"
            f"<td>{e(i['opened_at'])}</td><td>{e(', '.join(i['rules']))}</td>"
            f"<td>{_dur(i['time_to_ack_s'])}</td><td>{_dur(i['time_to_resolve_s'])}</td></tr>"
            for i in r.incidents
        )
        or "<tr><td colspan=7>no incidents this week</td></tr>"
    )
    recs = (
        "".join(
            f"<li><b>{e(x.priority)}</b>: {e(x.action)}<br><small>{e(x.reason)}</small>"
            + "".join(f"<br><code>{e(c)}</code>" for c in x.commands)
            + "</li>"
            for x in r.capacity.recommendations
        )
        or "<li>none: every disk keeps its headroom</li>"
    )
    disks = "".join(
        f"<tr><td>{d.broker} {e(d.log_dir)}</td><td>{_pct(d.used_percent)}</td>"
        f"<td>{e(_full(d, r.capacity.horizon_days))}</td></tr>"
        for d in r.capacity.disks
    )
    changes = "".join(f"<li>{e(c)}</li>" for c in r.changes)
    return f"""<h1>Weekly review {e(r.week)} — {e(r.cluster)}</h1>
<p>{e(_iso(r.start))} to {e(_iso(r.end))} · incidents {inc["count"]} · median time to
acknowledge {_dur(inc["median_time_to_ack_s"])} · to resolve
{_dur(inc["median_time_to_resolve_s"])}</p>
<h2>Trends</h2>{figures(charts, mode)}
<h2>Incidents</h2>
<table><tr><th>id</th><th>sev</th><th>status</th><th>opened</th><th>rules</th>
<th>to ack</th><th>to resolve</th></tr>{rows}</table>
<h2>Capacity</h2>
<table><tr><th>broker</th><th>used</th><th>full</th></tr>{disks}</table>
<h3>Recommendations</h3><ul>{recs}</ul>
<h2>What changed since last week</h2><ul>{changes}</ul>
<h2>Cost</h2><p>{e(_cost_line(r))}</p>"""


def _title(r: WeeklyReview) -> str:
    return f"kafkaops weekly review {r.week} — {r.cluster}"


def to_html(r: WeeklyReview, charts: list[Chart] | None = None) -> str:
    """The review as a self-contained page with inline SVG charts (browsers, the dashboard)."""
    return page(_title(r), _body(r, review_charts(r) if charts is None else charts, "svg"))


def render_review(r: WeeklyReview) -> RenderedReport:
    """The review ready to store and deliver (:func:`kafkaops.notify.reports.deliver_report`):
    the page, the same page for e-mail with PNG charts, the Markdown summary, the JSON."""
    charts = review_charts(r)
    return RenderedReport(
        report_id=f"weekly_review:{r.cluster}:{r.week}",
        kind="weekly_review",
        cluster=r.cluster,
        period=r.week,
        title=_title(r),
        html=to_html(r, charts),
        email_html=page(_title(r), _body(r, charts, "cid")),
        summary=to_markdown(r),
        data=r.to_dict(),
        headline=tuple(headline(r)),
        charts=tuple(charts),
    )


def _cost_line(r: WeeklyReview) -> str:
    c = r.cost
    if c is None:
        return "not configured (set capacity.cost_tag to the clusters' cost-allocation tag)"
    if c.errors:
        return "Cost Explorer failed: " + c.errors[0]
    mine = c.totals.get(r.cluster)
    others = ", ".join(f"{k} {v:.2f}" for k, v in sorted(c.totals.items()) if k != r.cluster)
    head = (
        f"{r.cluster}: {mine:.2f} {c.unit or ''} this week"
        if mine is not None
        else (f"no MSK cost tagged {c.tag}={r.cluster}")
    )
    return head + (f" (other clusters: {others})" if others else "")


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:.0f}%"


def _full(d: Any, horizon: int) -> str:
    if d.fit is None:
        return str(d.not_enough or d.note or "-")
    c = d.crossings.get("full")
    if c is None:
        return "capacity unknown"
    if c.days is None:
        return f"not within {horizon} days"
    return f"{c.days:.0f} days"
