"""The report store on SQLite and PostgreSQL: save, replace, list, read back; stored together
with its outbox messages by ``deliver_report`` (one transaction), and read back by the
dispatcher for the e-mail body."""

from __future__ import annotations

from datetime import UTC, datetime

from kafkaops.core.charts import Chart
from kafkaops.core.report_page import RenderedReport
from kafkaops.notify.dispatcher import Dispatcher
from kafkaops.notify.outbox import Outbox
from kafkaops.notify.reports import deliver_report
from kafkaops.notify.settings import ChannelsSettings
from kafkaops.store.reports import ReportStore

AT = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


def _report(week: str, html: str = "<p>v1</p>") -> RenderedReport:
    chart = Chart("disk", "Disk", "<svg/>", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    return RenderedReport(
        report_id=f"weekly_review:prod:{week}", kind="weekly_review", cluster="prod",
        period=week, title=f"review {week}", html=html, summary="*review*",
        data={"week": week, "n": [1, 2]}, headline=(("Incidents", "2"),),
        email_html='<img src="cid:chart-disk@kafkaops">', charts=(chart,),
    )  # fmt: skip


def test_save_replace_list_get(store_url: str) -> None:
    with ReportStore(store_url) as store:
        store.save(_report("2026-W09"), at=AT.replace(day=2))
        store.save(_report("2026-W10"), at=AT)
        store.save(_report("2026-W10", html="<p>v2</p>"), at=AT)  # a re-run: replaced
        listed = store.list()
        assert [r["id"] for r in listed] == ["weekly_review:prod:2026-W10",
                                             "weekly_review:prod:2026-W09"]  # fmt: skip
        assert listed[0]["created_at"] == "2026-03-09T10:00:00Z"
        assert store.list(kind="dr_drill") == [] and store.list(cluster="other") == []
        found = store.get("weekly_review:prod:2026-W10")
        assert found is not None
        assert found.report.html == "<p>v2</p>"
        assert found.report.email_html == '<img src="cid:chart-disk@kafkaops">'
        assert found.report.charts[0].png == _report("x").charts[0].png
        assert found.report.headline == (("Incidents", "2"),)
        assert found.report.data == {"week": "2026-W10", "n": [1, 2]}
        assert store.get("nope") is None


def test_deliver_report_stores_and_queues_once(store_url: str) -> None:
    settings = ChannelsSettings.model_validate(
        {"reports": {"to": {"weekly_review": ["email:ops@example.com", "slack:#ops"]}}}
    )
    box = Outbox(store_url)
    try:
        first = deliver_report(_report("2026-W10"), box, settings, now=AT)
        assert first.queued == ["email:ops@example.com", "slack:#ops"]
        again = deliver_report(_report("2026-W10"), box, settings, now=AT)
        assert again.queued == [] and again.already_queued == first.queued
        row = box.get("report|weekly_review:prod:2026-W10|slack:#ops")
        assert row is not None and row.message.action == "report"
        assert len(row.message.to_json()) < 2_000  # the body stays in the report store
        # What the e-mail channel reads at send time.
        with Dispatcher(box, settings, "d") as d:
            loaded = d._load_report("weekly_review:prod:2026-W10")
        assert loaded is not None and loaded.email_html and loaded.charts[0].key == "disk"
    finally:
        box.close()
