"""The DR drill's report on a constructed drill (no DR pair started): the produce timeline, the
page in the weekly review's style with its chart, the stored/delivered form."""

from __future__ import annotations

import re

import pytest

from kafkaops.dr.drill import Ack, DrillReport, build_timeline
from kafkaops.dr.drill_report import render_drill, render_html, to_markdown

KILL = 1_780_000_000.0  # 2026-05-28T20:26:40Z


def _drill(*, rpo_records: int = 0, rpo_s: float = 0.0) -> DrillReport:
    """50 records/s on the primary for 10 s, the kill, 16 s of failing produces (5/s), then
    the replica acknowledging 50/s for 10 s; the consumer reads what was acknowledged."""
    acks = [Ack(i, "primary", i % 2, i // 2, KILL - 10 + i / 50) for i in range(500)]
    acks += [Ack(600 + i, "replica", i % 2, i // 2, KILL + 16.5 + i / 50) for i in range(500)]
    fails = [(KILL + 0.2 + i / 5, "primary") for i in range(80)]
    consumed = [(KILL - 10 + i, "primary", 50) for i in range(10)]
    consumed += [(KILL + 17 + i, "replica", 50) for i in range(10)]
    timeline = build_timeline(acks, fails, consumed, origin=KILL, since=KILL - 10)
    targets = {"rto_s": 300.0, "rpo_s": 60.0}
    return DrillReport(
        topic="drill-<x>", remote_topic="primary.drill-<x>", group="drill-g", policy="default",
        started_at=KILL - 40, primary_killed_at=KILL, first_failed_produce_at=KILL + 0.2,
        first_replica_ack_at=KILL + 16.5, rto_s=16.3, rpo_records=rpo_records, rpo_s=rpo_s,
        acked_primary=500, acked_replica=500, consumed=1000, duplicates=7, gaps=0,
        lost_seqs=list(range(rpo_records)),
        failover={"steps": [
            {"name": "preflight", "status": "done", "seconds": 4.1, "detail": "replica healthy"},
            {"name": "switch endpoint", "status": "done", "seconds": 0.0, "detail": "file"},
        ]},
        failed_back=True, written_during_outage=500, targets=targets,
        verdict={"rto_met": True, "rpo_met": rpo_s < 60, "no_gaps": True},
        pair="default -> dr", timeline=timeline,
    )  # fmt: skip


def test_timeline_counts_each_second_around_the_kill() -> None:
    rows = {int(r["t"]): r for r in _drill().timeline}
    assert min(rows) == -11 and max(rows) >= 26
    assert sum(r["acked_primary"] for r in rows.values()) == 500
    assert sum(r["acked_replica"] for r in rows.values()) == 500
    assert sum(r["failed"] for r in rows.values()) == 80
    assert rows[-5]["acked_primary"] == 50 and rows[-5]["failed"] == 0
    # The outage: nothing acknowledged between the kill and the replica's first ack.
    assert all(rows[t]["acked_primary"] + rows[t]["acked_replica"] == 0 for t in range(0, 16))
    assert rows[3]["failed"] == 5
    assert rows[20]["acked_replica"] == 50 and rows[20]["consumed_replica"] == 50


def test_page_in_the_review_style_with_a_drawn_timeline() -> None:
    page = render_html(_drill())
    # Self-contained like the weekly review: nothing fetched, no script.
    for ref in ("<script", "<link", 'src="http', "url(http", 'href="http'):
        assert ref not in page, ref
    assert "figure.chart" in page  # the shared stylesheet
    assert "DR drill 2026-05-28 20:26:00Z — passed" in page
    assert "drill-&lt;x&gt;" in page and "drill-<x>" not in page
    assert re.search(r"<th>RTO</th><td class=\"ok\">16.3 s \(target &lt; 300 s\)</td>", page)
    assert "<td>switch endpoint</td>" in page and "+16.5" in page
    svg = re.search(
        r'<figure class="chart" id="chart-timeline">(<svg.*?</svg>)\s*</figure>', page, re.S
    )
    assert svg, "no inline SVG chart"
    # The three bar series are drawn (matplotlib writes each bar as a filled path).
    for colour in ("#3182bd", "#31a354", "#de2d26"):
        assert svg.group(1).count(f"fill: {colour}") >= 10, colour
    assert "RTO 16.3 s" in svg.group(1)  # the shaded span's legend entry


def test_missed_rpo_is_a_p1_report_with_mail_form() -> None:
    drill = _drill(rpo_records=12, rpo_s=75.0)
    rendered = render_drill(drill)
    assert rendered.report_id == "dr_drill:default:20260528T202600Z"
    assert rendered.kind == "dr_drill" and rendered.severity == "P1"
    assert '<td class="bad">75.0 s, 12 record(s) lost (target &lt; 60 s)</td>' in rendered.html
    assert rendered.email_html is not None and "<svg" not in rendered.email_html
    assert 'src="cid:chart-timeline@kafkaops"' in rendered.email_html
    assert rendered.charts[0].png.startswith(b"\x89PNG")
    assert rendered.data["rpo_records"] == 12 and len(rendered.data["timeline"]) > 30
    md = to_markdown(drill)
    assert md.startswith("*DR drill 2026-05-28 20:26:00Z — FAILED*")
    assert "• RPO: 75.0 s, 12 record(s) lost" in md
    assert render_drill(_drill()).severity == "OK"


@pytest.mark.parametrize("timeline", [[]])
def test_a_drill_without_timeline_still_renders(timeline: list) -> None:  # type: ignore[type-arg]
    drill = _drill()
    drill.timeline = timeline
    assert "no timeline recorded" in render_html(drill)
