"""The weekly review: trends, incidents with time to ack / resolve, capacity, changes; Markdown,
JSON and an HTML report whose charts a real headless Chromium draws."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from kafkaops.capacity.review import build_review, parse_week, to_html, to_markdown
from kafkaops.capacity.settings import CapacitySettings
from kafkaops.capacity.store import DAY_MS, CapacityStore, record_capacity_sample
from kafkaops.core.model import Severity
from kafkaops.incidents.incident import Incident, IncidentStatus, Member
from kafkaops.incidents.store import IncidentStore
from kafkaops.store.history import HistoryStore, group_offsets
from tests.capacity.snapshots import GiB, snapshot

CHROMIUM = os.environ.get("KAFKAOPS_CHROMIUM", "/usr/bin/chromium")
WEEK = "2026-W10"  # Monday 2026-03-02


def _fill(url: str) -> tuple[datetime, datetime]:
    start, end = parse_week(WEEK, datetime.now(UTC))
    store = CapacityStore(url)
    first = int(start.timestamp()) // 86400 - 7
    for i in range(14):  # the week before and this week, 4 samples a day
        for k in range(4):
            ts = (first + i) * DAY_MS + k * 6 * 3_600_000
            used = {b: int((300 + 5 * i + k) * GiB) for b in (1, 2, 3)}
            record_capacity_sample(store, snapshot(ts, used=used, log_end=1000 + 400 * i + 100 * k,
                                                   bytes_in=1e6 * (1 + i / 14)))  # fmt: skip
    store.close()
    hs = HistoryStore(url)
    rows = []
    for i in range(7):
        for g, lag in (("orders", 5_000 + 1000 * i), ("billing", 200)):
            rows.append({"cluster": "c1", "group_id": g, "topic": "t", "partition": 0,
                         "ts_ms": (first + 7 + i) * DAY_MS + 3_600_000, "committed": 1,
                         "log_end": 2, "lag": 1, "time_lag_ms": lag, "res_s": 0})  # fmt: skip
    with hs.engine.begin() as conn:
        conn.execute(insert(group_offsets), rows)
    hs.close()
    inc = IncidentStore(url)
    opened = start + timedelta(days=2, hours=3)
    member = Member("k1", "under_replicated_partitions", "cluster", Severity.P1, "URP", False,
                    opened)  # fmt: skip
    inc.save_incident(
        Incident(
            "INC-1",
            "c1",
            IncidentStatus.RESOLVED,
            opened,
            (member,),
            acknowledged_at=opened + timedelta(minutes=4),
            resolved_at=opened + timedelta(minutes=50),
        ),
        None,
    )
    # One the week before: not in this week's review.
    inc.save_incident(
        Incident("INC-0", "c1", IncidentStatus.RESOLVED, start - timedelta(days=2), (member,)),
        None,
    )
    inc.close()
    return start, end


def test_weekly_review_content_and_formats(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    start, end = _fill(url)
    store = CapacityStore(url)
    try:
        review = build_review(store, "c1", CapacitySettings(), start=start, end=end,
                              history_url=url, incidents_url=url)  # fmt: skip
    finally:
        store.close()
    data = review.to_dict()
    json.dumps(data)
    assert data["week"] == WEEK
    assert len(data["disk_daily_max_bytes"]["1:/data"]) == 7
    assert [i["id"] for i in data["incidents"]] == ["INC-1"]
    assert data["incidents"][0]["time_to_ack_s"] == 240
    assert data["incidents"][0]["time_to_resolve_s"] == 3000
    assert data["incident_summary"]["by_severity"] == {"P1": 1}
    assert next(iter(data["time_lag_ms_daily_max"])) == "orders"  # worst group first
    assert data["producer_error_rate_percent"][0]["percent"] == pytest.approx(1.0)
    assert any("disk broker 1:/data: +35.00 GiB" in c for c in data["changes_since_last_week"])
    assert any(c.startswith("bytes in: +") for c in data["changes_since_last_week"])
    md = to_markdown(review)
    assert "Weekly review 2026-W10" in md and "to ack 4 min" in md
    page = tmp_path / "review.html"
    page.write_text(to_html(review), encoding="utf-8")
    text = page.read_text()
    # Nothing fetched: no script, stylesheet or image from elsewhere (no CDN).
    for ref in ("<script", "<link", 'src="http', "url(http", 'href="http'):
        assert ref not in text, ref
    _render_in_chromium(page, tmp_path)


def _render_in_chromium(page: Path, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"], timeout=60_000,
        )  # fmt: skip
        try:
            tab = browser.new_page(viewport={"width": 1100, "height": 900})
            tab.goto(page.as_uri())
            for chart in ("disk", "throughput", "errors", "lag", "forecast"):
                fig = tab.locator(f"#chart-{chart} svg")
                box = fig.bounding_box()
                assert box and box["width"] > 300 and box["height"] > 150, chart
                # Drawn lines: matplotlib's SVG paths with a stroke inside the figure.
                assert tab.locator(f"#chart-{chart} svg path").count() > 10, chart
            tab.screenshot(path=str(tmp_path / "review.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "review.png").stat().st_size > 20_000
