"""Rendered reports (weekly review, DR drill, monthly report), kept so they can be listed, opened
and mailed: one row per report instance, in a table of its own (``reports``) on the shared store.

Why stored and not only written to a file: the dashboard and ``/api/reports`` list past reviews
on any instance (several may share PostgreSQL), and a queued e-mail refers to its report by id
instead of carrying half a megabyte of HTML and PNG in the outbox row — so the outbox listing
stays readable and the mail is built at send time from what was stored.

``report_id`` is the report's identity (``weekly_review:prod:2026-W48``): saving it again
replaces the content (a re-run of the same week shows the newer figures) but keeps it one row.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, MetaData, String, Table, Text, select
from sqlalchemy.engine import Connection, Engine

from kafkaops.core.charts import Chart
from kafkaops.core.clock import utc_now
from kafkaops.core.report_page import RenderedReport
from kafkaops.store import db

metadata = MetaData()

reports = Table(
    "reports",
    metadata,
    Column("report_id", String(300), primary_key=True),
    Column("kind", String(64), nullable=False, index=True),
    Column("cluster", String(200), nullable=False),
    Column("period", String(64), nullable=False),
    Column("title", String(500), nullable=False),
    Column("severity", String(4), nullable=False),
    #: Microseconds since the epoch (like the jobs and incident stores).
    Column("created_us", BigInteger, nullable=False, index=True),
    Column("summary", Text, nullable=False),
    Column("headline", JSON, nullable=False),
    Column("data", JSON, nullable=False),
    Column("html", Text, nullable=False),
    Column("email_html", Text),
    #: [{key, title, png (base64)}]: the e-mail's inline images.  SVG is inside ``html``.
    Column("charts", JSON, nullable=False),
)

#: Columns a listing returns (never the bodies).
_LISTED = ("report_id", "kind", "cluster", "period", "title", "severity", "created_us")


def _iso_us(us: int) -> str:
    return f"{datetime.fromtimestamp(us / 1_000_000, tz=UTC):%Y-%m-%dT%H:%M:%SZ}"


@dataclass(frozen=True)
class StoredReport:
    report: RenderedReport
    created_at: str


class ReportStore:
    """Save, list and read rendered reports on an SQLAlchemy URL (or a sibling's engine)."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        url = url_or_engine if isinstance(url_or_engine, str) else db.url_of(url_or_engine)
        self.engine: Engine = db.acquire_with_schema(url, metadata)

    def close(self) -> None:
        db.release(self.engine)

    def __enter__(self) -> ReportStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def save(
        self, report: RenderedReport, *, conn: Connection | None = None, at: datetime | None = None
    ) -> None:
        """Insert or replace ``report``; ``conn``: commit with the caller's transaction (the
        outbox enqueue of its deliveries), so a crash leaves both or neither."""
        if conn is None:
            with self.engine.begin() as own:
                self.save(report, conn=own, at=at)
            return
        # The table exists: __init__ created it (DDL here could wait on the caller's own lock).
        row = {
            "report_id": report.report_id,
            "kind": report.kind,
            "cluster": report.cluster,
            "period": report.period,
            "title": report.title[:500],
            "severity": report.severity,
            "created_us": int((at or utc_now()).timestamp() * 1_000_000),
            "summary": report.summary,
            "headline": [list(pair) for pair in report.headline],
            "data": report.data,
            "html": report.html,
            "email_html": report.email_html,
            "charts": [
                {"key": c.key, "title": c.title, "png": base64.b64encode(c.png).decode()}
                for c in report.charts
            ],
        }
        stmt = db.insert_ignoring_conflicts(conn.engine, reports).values(row)
        update = {k: v for k, v in row.items() if k != "report_id"}
        conn.execute(stmt.on_conflict_do_update(index_elements=["report_id"], set_=update))

    def list(
        self, kind: str | None = None, cluster: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Newest first; metadata only (id, kind, cluster, period, title, severity, created)."""
        c = reports.c
        q = select(*(c[name] for name in _LISTED))
        if kind is not None:
            q = q.where(c.kind == kind)
        if cluster is not None:
            q = q.where(c.cluster == cluster)
        q = q.order_by(c.created_us.desc(), c.report_id).limit(limit)
        with self.engine.connect() as conn:
            return [
                {
                    "id": r.report_id,
                    "kind": r.kind,
                    "cluster": r.cluster,
                    "period": r.period,
                    "title": r.title,
                    "severity": r.severity,
                    "created_at": _iso_us(r.created_us),
                }
                for r in conn.execute(q)
            ]

    def get(self, report_id: str) -> StoredReport | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(reports).where(reports.c.report_id == report_id)).first()
        if r is None:
            return None
        charts = tuple(
            Chart(c["key"], c["title"], "", base64.b64decode(c["png"])) for c in r.charts or []
        )
        report = RenderedReport(
            report_id=r.report_id,
            kind=r.kind,
            cluster=r.cluster,
            period=r.period,
            title=r.title,
            html=r.html,
            summary=r.summary,
            data=r.data,
            headline=tuple((str(a), str(b)) for a, b in r.headline or []),
            email_html=r.email_html,
            charts=charts,
            severity=r.severity,
        )
        return StoredReport(report, _iso_us(r.created_us))
