"""The monthly report from a filled store (no cluster): every section from its own source,
the JSON, the CLI, the job with its delivery call site, and the HTML rendered in headless
Chromium with its charts (budget burn, benchmark trend, cost, capacity forecast)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from kafkaops.capacity.store import DAY_MS, CapacityStore, record_capacity_sample
from kafkaops.config import Config
from kafkaops.core.model import Severity
from kafkaops.incidents.incident import Incident, IncidentStatus, Member
from kafkaops.incidents.store import IncidentStore
from kafkaops.jobs.store import JobsStore
from kafkaops.report.monthly import build_monthly, summary_lines, to_html
from kafkaops.slo.perf_store import PerfResult, PerfStore
from kafkaops.slo.store import SloStore, slo_cycles
from kafkaops.store.reports import ReportStore
from tests.capacity.snapshots import GiB, snapshot
from tests.capacity.test_review import CHROMIUM
from tests.conftest import run_cli

NOW = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # the first Monday of December
NOV = datetime(2026, 11, 1, tzinfo=UTC)
BAD_AT = NOV + timedelta(days=10, hours=3)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _fill(url: str) -> None:
    slo = SloStore(url)  # Nov 1-20 observed at 1-minute cycles, 12 minutes bad on the 11th
    rows = []
    for i in range(20 * 1440):
        t = NOV + timedelta(minutes=i)
        bad = BAD_AT <= t < BAD_AT + timedelta(minutes=12)
        rows.append({"cluster": "c1", "ts_ms": _ms(t), "span_ms": 60_000, "available": int(not bad),
                     "fresh": None, "reason": "offline_partitions" if bad else None})  # fmt: skip
    with slo.engine.begin() as conn:
        conn.execute(insert(slo_cycles), rows)
    slo.close()
    perf = PerfStore(url)
    for month, rps, p99 in ((8, 52_000, 40), (9, 50_000, 42), (10, 51_000, 41), (11, 35_000, 60)):
        r = PerfResult("c1", _ms(datetime(2026, month, 1, 2, 30, tzinfo=UTC)), "kafkaops-perf-test",
                       100_000, 1024, True, produce_records_per_s=rps, latency_p99_ms=p99,
                       consume_records_per_s=rps * 2)  # fmt: skip
        if month == 11:
            r.detail = {"regressions": [{"metric": "produce_records_per_s", "value": rps,
                                         "baseline": 51_000, "change_percent": -31.4}]}  # fmt: skip
        perf.record(r)
    perf.close()
    jobs = JobsStore(url)
    jobs.record("compliance_check", "c1", NOW - timedelta(hours=2), ok=False, severity="P2",
                result={"ok": False, "checked_at": "2026-12-07T09:00:00Z",
                        "counts": {"fail": 1, "pass": 1}, "checks": [
                    {"check": "listener_tls", "subject": "broker:1 listener:PLAINTEXT",
                     "status": "fail", "evidence": "security protocol PLAINTEXT", "fix": "x"},
                    {"check": "audit_trail", "subject": "store:act_audit", "status": "pass",
                     "evidence": "3 entries", "fix": ""}]})  # fmt: skip
    for d in range(3):
        jobs.record("dr_backup_check", "c1", NOV + timedelta(days=d, hours=9), ok=d != 1,
                    severity=None, result={})  # fmt: skip
    jobs.close()
    inc = IncidentStore(url)
    member = Member("k1", "offline_partitions", "cluster", Severity.P1, "offline", False, BAD_AT)
    inc.save_incident(Incident("INC-7", "c1", IncidentStatus.RESOLVED, BAD_AT, (member,),
                               acknowledged_at=BAD_AT + timedelta(minutes=3),
                               resolved_at=BAD_AT + timedelta(minutes=12)), None)  # fmt: skip
    inc.close()
    cap = CapacityStore(url)
    first = _ms(NOV) // DAY_MS
    for i in range(30):
        used = {b: int((300 + 4 * i) * GiB) for b in (1, 2, 3)}
        record_capacity_sample(cap, snapshot((first + i) * DAY_MS, used=used))
    cap.close()


class _CostExplorer:
    """Cost Explorer through botocore's Stubber against the real service model."""

    def __init__(self) -> None:
        import boto3
        from botocore.stub import ANY, Stubber

        self.client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="x",
                                   aws_secret_access_key="x")  # fmt: skip
        self.stub = Stubber(self.client)
        days = [datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=i) for i in range(61)]
        self.stub.add_response("get_cost_and_usage", {"ResultsByTime": [
            {"TimePeriod": {"Start": f"{d:%Y-%m-%d}", "End": f"{d + timedelta(days=1):%Y-%m-%d}"},
             "Groups": [{"Keys": ["kafka-cluster$c1"], "Metrics": {"UnblendedCost": {
                 "Amount": str(20 + (d.month == 11) * 5), "Unit": "USD"}}}], "Estimated": False}
            for d in days]}, {"TimePeriod": ANY, "Granularity": "DAILY", "Metrics": ANY,
                              "Filter": ANY, "GroupBy": ANY})  # fmt: skip
        self.stub.activate()


def test_monthly_report_sections_json_and_html_in_chromium(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    _fill(url)
    cfg = Config.model_validate({"capacity": {"cost_tag": "kafka-cluster"}})
    jobs = JobsStore(url)
    recent = jobs.recent(None, 100)
    jobs.close()
    inc = IncidentStore(url)
    incidents = inc.list_incidents(None, "c1", 100)
    inc.close()
    ce = _CostExplorer()
    report = build_monthly(cfg, "c1", "2026-11", NOW, url, job_results=recent,
                           incidents=incidents, cost_client=ce.client)  # fmt: skip
    doc = report.to_dict()
    json.dumps(doc)
    avail = doc["slo"]["slis"]["availability"]
    assert avail["bad_minutes"] == 12.0 and avail["budget_left_minutes"] == 31.2
    assert avail["unknown_minutes"] > 14_000  # Nov 21-30 not observed: unknown, not good
    assert doc["slo"]["incidents"][0]["id"] == "INC-7"
    assert doc["incidents"]["mtta_minutes"] == 3.0 and doc["incidents"]["mttr_minutes"] == 12.0
    assert doc["cost"]["this_month"] == 750.0 and doc["cost"]["previous_month"] == 620.0
    assert doc["dr"]["backup_checks"] == {"runs": 3, "failed": 1,
                                          "last": doc["dr"]["backup_checks"]["last"]}  # fmt: skip
    assert [r["at_ms"] for r in doc["benchmark"]["runs"]][-1] == doc["benchmark"]["this_month"][
        "at_ms"
    ]
    assert len(doc["benchmark"]["runs"]) == 4
    assert doc["audit"]["compliance"]["counts"] == {"fail": 1, "pass": 1}
    assert doc["capacity"] is not None
    lines = summary_lines(report)
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "budget spent 12.0 of 43.2 min" in text and "1 regression(s)" in text
    assert "+21 % on last month" in text and "FAILED (1 fail, 1 pass) on 2026-12-07" in text

    page = tmp_path / "monthly.html"
    page.write_text(to_html(report), encoding="utf-8")
    html_text = page.read_text()
    for ref in ("<script", "<link", 'src="http', "url(http", 'href="http'):
        assert ref not in html_text, ref
    assert "INC-7" in html_text and "listener_tls" in html_text
    _render(page, tmp_path, ("budget", "benchmark", "cost", "forecast"))


def _render(page: Path, tmp_path: Path, charts: tuple[str, ...]) -> None:
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
            for chart in charts:
                box = tab.locator(f"#chart-{chart} svg").bounding_box()
                assert box and box["width"] > 300 and box["height"] > 150, chart
                assert tab.locator(f"#chart-{chart} svg path").count() > 10, chart
            tab.screenshot(path=str(tmp_path / "monthly.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "monthly.png").stat().st_size > 20_000


def test_review_monthly_cli_and_the_job(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    _fill(url)
    env = {"KAFKAOPS_NOW": "2026-12-07T11:00:00Z"}
    page = tmp_path / "m.html"
    cfg = tmp_path / "k.yaml"
    cfg.write_text(f"clusters:\n  c1: {{bootstrap: '127.0.0.1:1'}}\nstore: {{url: '{url}'}}\n"
                   f"jobs: {{reports_dir: '{tmp_path / 'reports'}'}}\n"
                   "channels:\n  email:\n    host: 127.0.0.1\n    port: 1\n"
                   "    to: {sre: [sre@example.com]}\n"
                   "  reports:\n    to: {monthly_report: [email:sre]}\n")  # fmt: skip
    out = run_cli("review", "monthly", "-c", str(cfg), "--html", str(page), "--json", env=env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["clusters"][0]["month"] == "2026-11" and doc["html"] == str(page)
    assert "Monthly report 2026-11" in page.read_text()
    text = run_cli("review", "monthly", "-c", str(cfg), env=env)
    assert text.returncode == 0 and text.stdout.startswith("Monthly report 2026-11 — c1")
    assert max(len(line) for line in text.stdout.splitlines()) <= 80
    bad = run_cli("review", "monthly", "-c", str(cfg), "--month", "2027-02", env=env)
    assert bad.returncode == 3 and "has not begun" in bad.stderr

    ran = run_cli("jobs", "run", "monthly_report", "-c", str(cfg), "--json", env=env)
    assert ran.returncode == 0, ran.stderr
    jobs = JobsStore(url)
    try:
        [run] = [r for r in jobs.recent("monthly_report") if r["cluster"] == "c1"]
    finally:
        jobs.close()
    result = run["result"]
    assert result["slo"]["month"] == "2026-11" and result["benchmark"]["this_month"]
    # Stored for the dashboard and queued to channels.reports.to.monthly_report (e-mail).
    assert result["delivery"]["report_id"] == "monthly_report:c1:2026-11"
    assert len(result["delivery"]["queued"]) == 1, result["delivery"]
    with ReportStore(url) as reports:
        stored = reports.get("monthly_report:c1:2026-11")
    assert stored is not None and "Monthly report 2026-11" in stored.report.title
    assert Path(result["html"]).name == "monthly-report-c1-2026-11.html"
