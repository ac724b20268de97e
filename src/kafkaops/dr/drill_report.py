"""The DR drill's report in the weekly review's style: the measured RTO / RPO against the
runbook's targets (green met, red missed), the produce timeline around the failover as a chart,
the failover steps with their durations, what was lost or replayed — as one self-contained page
(inline SVG; PNG for e-mail), a Markdown summary and the drill's JSON.

Page skeleton and chart output are :mod:`kafkaops.core.report_page` and
:mod:`kafkaops.core.charts`, shared with the weekly review and the monthly report.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kafkaops.core.charts import Chart, pyplot, render
from kafkaops.core.report_page import (
    ChartMode,
    RenderedReport,
    e,
    figures,
    headline_table,
    page,
    table,
)
from kafkaops.dr.drill import DrillReport


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(epoch))


def _rel(r: DrillReport, epoch: float | None) -> float | None:
    return None if epoch is None else epoch - r.primary_killed_at


def timeline_figure(r: DrillReport) -> Any:
    """Records per second by outcome, the kill, the first failed produce and the first replica
    ack marked; the RTO span shaded."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    rows = r.timeline
    ts = [row["t"] for row in rows]
    if rows:
        p = [row["acked_primary"] for row in rows]
        rep = [row["acked_replica"] for row in rows]
        fail = [row["failed"] for row in rows]
        ax.bar(ts, p, width=1.0, align="edge", color="#3182bd", label="acked by primary")
        ax.bar(ts, rep, width=1.0, align="edge", bottom=p, color="#31a354",
               label="acked by replica")  # fmt: skip
        below = [a + b for a, b in zip(p, rep, strict=True)]
        ax.bar(ts, fail, width=1.0, align="edge", bottom=below, color="#de2d26",
               label="produce failed")  # fmt: skip
        consumed = [row["consumed_primary"] + row["consumed_replica"] for row in rows]
        ax.step(ts, consumed, where="post", color="#636363", lw=1, label="consumed")
        top = max(max(a + b + c for a, b, c in zip(p, rep, fail, strict=True)), max(consumed))
        ax.set_ylim(0, max(1.0, top) * 1.15)
    else:
        ax.text(0.5, 0.5, "no timeline recorded", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
    ax.axvline(0, color="#000", lw=1, ls="--", label="primary killed")
    fail_at, ack_at = _rel(r, r.first_failed_produce_at), _rel(r, r.first_replica_ack_at)
    if fail_at is not None and ack_at is not None:
        ax.axvspan(fail_at, ack_at, color="#fdae6b", alpha=0.35, label=f"RTO {r.rto_s} s")
    ax.set_xlabel("seconds from the kill")
    ax.set_ylabel("records / s")
    ax.set_title(f"Produce around the failover ({r.pair or r.policy})", fontsize=10)
    ax.grid(alpha=0.3)
    # Below the axes: inside, it would hide the bars it explains.
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=4, frameon=False)
    fig.tight_layout()
    return fig


def drill_charts(r: DrillReport) -> list[Chart]:
    return [render("timeline", "Produce around the failover", lambda: timeline_figure(r))]


def headline(r: DrillReport) -> list[tuple[str, str]]:
    t = r.targets
    return [
        ("RTO", f"{r.rto_s} s (target < {t['rto_s']:.0f} s)"),
        ("RPO", f"{r.rpo_s} s, {r.rpo_records} record(s) lost (target < {t['rpo_s']:.0f} s)"),
        ("Duplicates seen by the consumer", str(r.duplicates)),
        ("Gaps (on the replica, never consumed)", str(r.gaps)),
        ("Acknowledged on primary / replica", f"{r.acked_primary} / {r.acked_replica}"),
        ("Failed back", "yes" if r.failed_back else "no"),
    ]


def _verdicts(r: DrillReport) -> dict[str, bool]:
    return {
        "RTO": bool(r.verdict.get("rto_met")),
        "RPO": bool(r.verdict.get("rpo_met")),
        "Gaps (on the replica, never consumed)": r.gaps == 0,
    }


def passed(r: DrillReport) -> bool:
    return bool(r.verdict) and all(r.verdict.values())


def to_markdown(r: DrillReport) -> str:
    verdict = "PASSED" if passed(r) else "FAILED"
    lines = [f"*DR drill {_when(r.started_at)} — {verdict}*"]
    lines += [f"• {label}: {value}" for label, value in headline(r)]
    if r.written_during_outage and r.failed_back:
        lines.append(
            f"• {r.written_during_outage} record(s) written to the replica during the drill "
            "were not copied back (needs a reverse mirror)"
        )
    return "\n".join(lines) + "\n"


def _body(r: DrillReport, charts: list[Chart], mode: ChartMode) -> str:
    verdict = "passed" if passed(r) else "FAILED"
    steps = table(
        ("step", "status", "s", "detail"),
        ((s["name"], s["status"], s["seconds"], s["detail"]) for s in r.failover.get("steps", [])),
        empty="no failover steps recorded",
    )
    marks = table(
        ("event", "UTC", "s from the kill"),
        [
            (name, _when(at), f"{at - r.primary_killed_at:+.1f}")
            for name, at in (
                ("drill started", r.started_at),
                ("primary's brokers killed", r.primary_killed_at),
                ("first failed produce", r.first_failed_produce_at),
                ("first produce acknowledged by the replica", r.first_replica_ack_at),
            )
            if at is not None
        ],
    )
    lost = ", ".join(str(s) for s in r.lost_seqs[:50]) + (" …" if len(r.lost_seqs) > 50 else "")
    raw = e(json.dumps(r.to_dict(), indent=1, default=str))
    return f"""<h1>DR drill {e(_when(r.started_at))} — {verdict}</h1>
<p>{e(r.pair or "sandbox pair")} · topic {e(r.topic)} → {e(r.remote_topic)} ({e(r.policy)}
policy) · group {e(r.group)} · targets RTO &lt; {r.targets["rto_s"]:.0f} s, RPO &lt;
{r.targets["rpo_s"]:.0f} s (runbook)</p>
{headline_table(headline(r), _verdicts(r))}
<h2>Timeline</h2>{figures(charts, mode)}
{marks}
<h2>Failover steps</h2>{steps}
<h2>Data</h2>
<p>Lost (acknowledged by the primary, absent on the replica): {r.rpo_records}
{("— sequence numbers " + e(lost)) if lost else ""}.<br>
Written to the replica during the outage: {r.written_during_outage}
{"(not copied back when failing back: that needs a reverse mirror)" if r.failed_back else ""}.
</p>
<details><summary>raw JSON</summary><pre>{raw}</pre></details>"""


def _title(r: DrillReport) -> str:
    return f"kafkaops DR drill {_when(r.started_at)} — {r.pair or 'sandbox pair'}"


def render_html(r: DrillReport, charts: list[Chart] | None = None) -> str:
    """The drill as a self-contained page with an inline SVG chart (no script, no CDN)."""
    return page(_title(r), _body(r, drill_charts(r) if charts is None else charts, "svg"))


def render_drill(r: DrillReport) -> RenderedReport:
    """The drill ready to store and deliver (:func:`kafkaops.notify.reports.deliver_report`,
    kind ``dr_drill``); P1 when a target was missed or a record was skipped."""
    charts = drill_charts(r)
    primary = (r.pair.split(" -> ")[0] if r.pair else "") or "sandbox"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(r.started_at))
    return RenderedReport(
        report_id=f"dr_drill:{primary}:{stamp}",
        kind="dr_drill",
        cluster=primary,
        period=time.strftime("%Y-%m-%d %H:%MZ", time.gmtime(r.started_at)),
        title=_title(r),
        html=render_html(r, charts),
        email_html=page(_title(r), _body(r, charts, "cid")),
        summary=to_markdown(r),
        data=r.to_dict(),
        headline=tuple(headline(r)),
        charts=tuple(charts),
        severity="OK" if passed(r) else "P1",
    )
