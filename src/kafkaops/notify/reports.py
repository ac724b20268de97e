"""Deliver a rendered report (weekly review, monthly SLO report, DR drill) to its readers.

One function for every report: :func:`deliver_report`.  The report (HTML for browsers, the
same page with PNG charts for mail, a Markdown summary, its JSON) is stored in the
``reports`` table and one outbox message per channel is queued — in one transaction, so a
crash leaves both or neither.  The dispatcher then sends them like any page: retried with
backoff until ``channels.retry.give_up_after``, after a restart too, at least once (the mail's
``Message-ID`` is the same on a re-send, and a re-run of the same report queues nothing new:
the message key is ``report|<report_id>|<channel>``).

What each channel gets:

* **e-mail** — ``multipart/mixed``: the HTML report with its charts as inline PNG parts
  (``cid:``; mail clients do not draw SVG), the summary as the plain-text alternative, and the
  report's JSON attached.  The mail is built at send time from the stored report, so the outbox
  row stays small (an id, the summary, the headline numbers).
* **Slack** — a message with the headline numbers as fields, the summary, and a link to the
  stored report on the dashboard (``channels.reports.dashboard_url``).  Incoming webhooks cannot
  upload files (that needs a bot token and ``files.upload``), so there is no attachment: the
  message says where the full report is.

Recipients: ``channels.reports.to[<kind>]`` (``email:<target>`` / ``slack:<#channel>``) unless
the caller names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from kafkaops.core.clock import utc_now
from kafkaops.core.report_page import RenderedReport
from kafkaops.notify.message import OutboundMessage, iso_utc
from kafkaops.notify.settings import REPORT_KINDS, ChannelsSettings, ReportsSettings
from kafkaops.store.reports import ReportStore

if TYPE_CHECKING:
    from kafkaops.notify.outbox import Outbox

#: Longest summary carried in a message (Slack's section text limit is 3,000 characters).
SUMMARY_LIMIT = 2900


def report_url(settings: ReportsSettings, report_id: str) -> str | None:
    """The stored report's page on the dashboard, or None without ``dashboard_url``."""
    if not settings.dashboard_url:
        return None
    return f"{settings.dashboard_url.rstrip('/')}/api/reports/{quote(report_id, safe=':')}/html"


def report_message(
    report: RenderedReport, channel: str, settings: ReportsSettings, now: datetime
) -> OutboundMessage:
    """The outbox message that delivers ``report`` to ``channel`` (small: the mail body is read
    from the report store at send time)."""
    summary = report.summary if len(report.summary) <= SUMMARY_LIMIT else (
        report.summary[: SUMMARY_LIMIT - 1] + "…"
    )  # fmt: skip
    return OutboundMessage(
        idempotency_key=f"report|{report.report_id}|{channel}",
        channel=channel,
        action="report",
        dedup_key=f"report|{report.report_id}",
        severity=report.severity,
        cluster=report.cluster,
        summary=" ".join(report.title.split())[:300],
        details={
            "report_id": report.report_id,
            "kind": report.kind,
            "period": report.period,
            "title": report.title,
            "text": summary,
            "headline": [list(pair) for pair in report.headline],
            "url": report_url(settings, report.report_id),
            "at": iso_utc(now),
        },
        created_at=iso_utc(now),
    )


@dataclass
class ReportDelivery:
    """What :func:`deliver_report` did: the report stored, messages queued (new) or already
    queued by an earlier run of the same report."""

    report_id: str
    queued: list[str] = field(default_factory=list)
    already_queued: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "queued": self.queued,
            "already_queued": self.already_queued,
        }


def deliver_report(
    report: RenderedReport,
    outbox: Outbox,
    settings: ChannelsSettings,
    *,
    to: Sequence[str] | None = None,
    now: datetime | None = None,
) -> ReportDelivery:
    """Store ``report`` and queue it to its recipients; the outbox's dispatcher sends it.

    ``to``: channels (``email:<target>``, ``slack:<#channel>``); default
    ``settings.reports.to[report.kind]`` (none: stored and listed, not sent).  The report
    store is the outbox's database, because the e-mail channel reads the body from it.
    Call ``dispatcher.deliver_due()`` afterwards to send at once; otherwise the watch loop
    (``kafkaops watch`` / ``serve``) sends it within one cycle.
    """
    from kafkaops.store import db

    at = now or utc_now()
    channels = list(to if to is not None else settings.reports.to.get(report.kind, []))
    for ch in channels:
        if ch.split(":", 1)[0] not in REPORT_KINDS:
            raise ValueError(f"{ch!r}: reports go to email:<target> or slack:<#channel>")
    messages = [report_message(report, ch, settings.reports, at) for ch in channels]
    result = ReportDelivery(report.report_id)
    store = ReportStore(db.url_of(outbox.engine))  # creates the table before the transaction
    try:
        with outbox.engine.begin() as conn:
            store.save(report, conn=conn, at=at)
            for msg in messages:
                added = outbox.enqueue([msg], at, conn=conn)
                (result.queued if added else result.already_queued).append(msg.channel)
    finally:
        store.close()
    return result
