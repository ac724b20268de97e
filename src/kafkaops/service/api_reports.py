"""Stored reports (weekly review, monthly report, DR drill): list them, open one as a page or
as JSON.  Read-only: the reports are written by the jobs and commands that render them
(:func:`kafkaops.notify.reports.deliver_report`), so the token rules are those of every other
read endpoint (open unless ``service.protect_reads``).

The page is the report's own self-contained HTML, served under a CSP of its own that allows its
inline style and inline SVG and nothing else (no script, no fetch, no frame): a report is data
rendered by kafkaops, but it quotes cluster, topic and group names.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from kafkaops.service import schemas as s
from kafkaops.service.api import ERRORS, Reader
from kafkaops.service.errors import ApiError
from kafkaops.service.state import ServiceState

router = APIRouter(responses=ERRORS, tags=["reports"])
ReportId = Annotated[
    str, Path(max_length=300, description="Report id, e.g. weekly_review:prod:2026-W48.")
]

#: A report page: its inline <style> and inline SVG / data: images, nothing fetched or run.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": REPORT_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _store(state: ServiceState) -> Any:
    from kafkaops.store.reports import ReportStore

    if not state.store_url:
        raise ApiError(404, "no store configured (store.url): no reports are kept")
    return ReportStore(state.store_url)


def _links(report_id: str) -> dict[str, str]:
    from urllib.parse import quote

    base = f"/api/reports/{quote(report_id, safe=':')}"
    return {"html": f"{base}/html", "json": base}


@router.get("/api/reports", response_model=list[s.ReportOut])
def list_reports(
    state: Reader,
    kind: Annotated[str | None, Query(max_length=64, pattern="^[a-z_]+$")] = None,
    cluster: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    """Stored reports, newest first, with links to their page and their JSON."""
    if not state.store_url:
        return []
    with _store(state) as store:
        rows = store.list(kind, cluster, limit)
    return [{**r, "links": _links(r["id"])} for r in rows]


def _get(state: ServiceState, report_id: str) -> Any:
    with _store(state) as store:
        found = store.get(report_id)
    if found is None:
        raise ApiError(404, f"no report {report_id!r} (GET /api/reports lists them)")
    return found


@router.get("/api/reports/{report_id}", response_model=s.ReportDetailOut)
def report_json(report_id: ReportId, state: Reader) -> Any:
    """One report's data (what the e-mail attaches), its summary and headline numbers."""
    found = _get(state, report_id)
    r = found.report
    return {
        "id": r.report_id, "kind": r.kind, "cluster": r.cluster, "period": r.period,
        "title": r.title, "severity": r.severity, "created_at": found.created_at,
        "links": _links(r.report_id), "summary": r.summary,
        "headline": [{"label": a, "value": b} for a, b in r.headline], "data": r.data,
    }  # fmt: skip


@router.get("/api/reports/{report_id}/html", response_class=HTMLResponse)
def report_html(report_id: ReportId, state: Reader) -> HTMLResponse:
    """The report as a page (charts drawn inline), as the e-mail shows it."""
    found = _get(state, report_id)
    return HTMLResponse(found.report.html, headers=_PAGE_HEADERS)
