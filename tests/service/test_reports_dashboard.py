"""Stored reports in the API and the dashboard, without a cluster: the service app over the
synthetic state of ``test_inprocess`` served by a real uvicorn on 127.0.0.1, the page driven
by Debian's Chromium (Playwright, as in ``test_dashboard``): the Reports panel lists the stored
review and its link opens the report with its chart drawn."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kafkaops.core.charts import line_figure, render
from kafkaops.core.report_page import RenderedReport, figures, page
from kafkaops.service.api_reports import REPORT_CSP
from kafkaops.service.app import create_app
from kafkaops.service.state import ServiceState
from kafkaops.store.reports import ReportStore
from tests.service.test_inprocess import make_state

CHROMIUM = os.environ.get("KAFKAOPS_CHROMIUM", "/usr/bin/chromium")
TOKEN = "reports-test-token-0123456789abcdef"
REPORT_ID = "weekly_review:big:2026-W10"


def _report() -> RenderedReport:
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    pts = [(t0 + timedelta(days=i), 300.0 + 5 * i) for i in range(7)]
    chart = render("disk", "Disk", lambda: line_figure("Disk", {"broker 1": pts}, "GiB"))
    title = "kafkaops weekly review 2026-W10 — big <b>"
    return RenderedReport(
        report_id=REPORT_ID, kind="weekly_review", cluster="big", period="2026-W10",
        title=title, html=page(title, f"<h1>Weekly review</h1>{figures([chart], 'svg')}"),
        summary="*Weekly review 2026-W10 — big*\n• Incidents: 0", data={"week": "2026-W10"},
        headline=(("Incidents", "0"),), charts=(chart,),
    )  # fmt: skip


@pytest.fixture
def state(tmp_path: Path) -> Iterator[ServiceState]:
    st = make_state(tmp_path, token=TOKEN)
    with ReportStore(st.store_url) as store:  # type: ignore[arg-type]
        store.save(_report())
    yield st


def test_reports_api_lists_opens_and_has_no_mutating_route(state: ServiceState) -> None:
    client = TestClient(create_app(state), base_url="http://127.0.0.1")
    listed = client.get("/api/reports").json()
    assert [r["id"] for r in listed] == [REPORT_ID]
    links = listed[0]["links"]
    assert links == {"html": f"/api/reports/{REPORT_ID}/html", "json": f"/api/reports/{REPORT_ID}"}
    assert client.get("/api/reports?kind=dr_drill").json() == []
    detail = client.get(links["json"]).json()
    assert detail["data"] == {"week": "2026-W10"}
    assert detail["headline"] == [{"label": "Incidents", "value": "0"}]
    page_resp = client.get(links["html"])
    assert page_resp.status_code == 200
    assert page_resp.headers["content-security-policy"] == REPORT_CSP
    assert "<svg" in page_resp.text and "big &lt;b&gt;" in page_resp.text
    missing = client.get("/api/reports/weekly_review:nope:2026-W01/html")
    assert missing.status_code == 404 and "GET /api/reports" in missing.json()["error"]
    # Reports are written by jobs, never through the API: no route accepts a write.
    for method in ("post", "put", "delete"):
        resp = getattr(client, method)(links["json"], headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status_code == 405, method


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(120)
def test_dashboard_lists_reports_and_opens_one_in_chromium(
    state: ServiceState, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    import uvicorn

    port = _free_port()
    app = create_app(state, bind="127.0.0.1")
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    base = f"http://127.0.0.1:{port}"
    problems: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, timeout=60_000,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )  # fmt: skip
            try:
                context = browser.new_context(viewport={"width": 1200, "height": 900})
                tab = context.new_page()
                tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                tab.goto(base + "/")
                row = tab.locator(f'#reports tbody tr[data-report="{REPORT_ID}"]')
                row.wait_for(timeout=30_000)
                assert tab.locator("#reports-panel").is_visible()
                assert "big <b>" in row.inner_text()  # shown as text, not markup
                with context.expect_page() as opened:
                    row.locator("a.report-html").click()
                report = opened.value
                report.wait_for_load_state()
                assert report.url == f"{base}/api/reports/{REPORT_ID}/html"
                fig = report.locator("#chart-disk svg")
                box = fig.bounding_box()
                assert box and box["width"] > 300 and box["height"] > 100
                assert report.locator("#chart-disk svg path").count() > 10
                report.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    # The synthetic state has no history store series; anything else is a page problem.
    assert not [m for m in problems if "Content Security Policy" in m], problems
