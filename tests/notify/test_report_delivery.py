"""A rendered report delivered through the outbox: the weekly review job stores the report and
queues it; the dispatcher sends it to a real SMTP server (STARTTLS + AUTH, aiosmtpd) and a real
HTTP receiver standing in for a Slack webhook, surviving a "crash" between queue and send and a
receiver that fails once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kafkaops.config import Config
from kafkaops.jobs import catalog
from kafkaops.jobs.store import JobsStore
from kafkaops.notify.dispatcher import Dispatcher
from kafkaops.notify.outbox import Outbox
from kafkaops.notify.reports import deliver_report
from kafkaops.store.reports import ReportStore
from tests.capacity.test_review import WEEK, _fill
from tests.notify.conftest import FakeClock
from tests.notify.receivers import Recorder, SmtpRecorder
from tests.notify.test_email_sns_alertmanager import (  # noqa: F401 (fixtures)
    SMTP_PASSWORD,
    SMTP_USER,
    ca,
    message_from_bytes,
    smtp_server,
)

DASHBOARD = "https://kafkaops.example.com"


def _config(smtp_port: int, ca_file: Path) -> Config:
    return Config.model_validate(
        {
            "channels": {
                "timeout": "5s",
                "retry": {"base_backoff": "1s", "max_backoff": "2s"},
                "email": {
                    "host": "127.0.0.1",
                    "port": smtp_port,
                    "username": SMTP_USER,
                    "password_env": "TEST_SMTP_PASSWORD",
                    "from_addr": "kafkaops@example.com",
                    "to": {"capacity-review": ["sre@example.com"]},
                    "ca_file": str(ca_file),
                },
                "slack": {"webhooks": {"#kafka-ops": {"url_env": "TEST_SLACK_REPORTS"}}},
                "reports": {
                    "to": {"weekly_review": ["email:capacity-review", "slack:#kafka-ops"]},
                    "dashboard_url": DASHBOARD,
                },
            }
        }
    )


@pytest.mark.timeout(120)
def test_weekly_review_job_mails_html_with_png_charts_and_posts_slack_summary(
    tmp_path: Path,
    smtp_server: SmtpRecorder,  # noqa: F811
    ca: tuple[Any, Path],  # noqa: F811
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("TEST_SLACK_REPORTS", recorder.url + "/services/T0/B0/secret")
    url = f"sqlite:///{tmp_path / 'k.db'}"
    _start, end = _fill(url)
    config = _config(smtp_server.port, ca[1])
    ctx = SimpleNamespace(config=config, store_url=url, cluster_names=lambda: ["c1"])
    recorder.fail(1, status=503)  # Slack answers 503 once: retried, not lost

    jobs = JobsStore(url)
    try:
        out = catalog.weekly_review(ctx, jobs, end)  # type: ignore[arg-type]
    finally:
        jobs.close()
    report_id = f"weekly_review:c1:{WEEK}"
    assert out["reports"]["c1"]["queued"] == ["email:capacity-review", "slack:#kafka-ops"]
    # "Crash": nothing sent yet; a new process (new outbox, new dispatcher) finds both.
    clock = FakeClock(end + timedelta(minutes=1))
    box = Outbox(url)
    try:
        with Dispatcher(box, config.channels, "after-restart", clock) as d:
            first = d.deliver_due()
            assert first.delivered == [f"report|{report_id}|email:capacity-review"], first.errors
            assert first.retried == [f"report|{report_id}|slack:#kafka-ops"]
            clock.sleep(3)
            second = d.deliver_due()
            assert second.delivered == [f"report|{report_id}|slack:#kafka-ops"], second.errors
        # The same week again (a manual re-run): stored once, nothing sent twice.
        with ReportStore(url) as reports:
            stored = reports.get(report_id)
            assert stored is not None
            again = deliver_report(stored.report, box, config.channels, now=end)
            assert again.queued == [] and len(again.already_queued) == 2
            assert [r["id"] for r in reports.list()] == [report_id]
        with Dispatcher(box, config.channels, "d2", clock) as d:
            assert d.deliver_due().claimed == 0
    finally:
        box.close()

    # E-mail: HTML whose charts are PNG parts referenced by cid, text summary, JSON attached.
    assert len(smtp_server.messages) == 1
    env = smtp_server.messages[0]
    assert env.rcpt_tos == ["sre@example.com"]
    mail = message_from_bytes(env.original_content)
    assert mail["Subject"] == f"[kafkaops] kafkaops weekly review {WEEK} — c1"
    parts = {p.get_content_type(): p for p in mail.walk() if not p.is_multipart()}
    html = parts["text/html"].get_content()
    assert "<svg" not in html  # mail clients do not draw SVG
    cids = {
        p["Content-ID"].strip("<>"): p.get_payload(decode=True)
        for p in mail.walk()
        if p.get_content_type() == "image/png"
    }
    for chart in ("disk", "throughput", "errors", "lag", "forecast"):
        cid = f"chart-{chart}@kafkaops"
        assert f'src="cid:{cid}"' in html, chart
        assert cids[cid][:8] == b"\x89PNG\r\n\x1a\n" and len(cids[cid]) > 5_000, chart
    assert f"{DASHBOARD}/api/reports/{report_id}/html" in html
    text = parts["text/plain"].get_content()
    assert f"Weekly review {WEEK}" in text and "Full report: https://" in text
    attached = next(p for p in mail.walk() if p.get_filename() == f"weekly_review-c1-{WEEK}.json")
    assert json.loads(attached.get_payload(decode=True))["week"] == WEEK
    assert len(env.original_content) < 1_500_000

    # Slack: one message (the 503 attempt was not acknowledged), headline fields and the link.
    posts = recorder.completed
    assert len(posts) == 1
    body = posts[0].json()
    blocks = body["blocks"]
    assert blocks[0]["text"]["text"].startswith("📊 kafkaops weekly review")
    fields = " ".join(f["text"] for f in blocks[1]["fields"])
    assert "*Incidents*\n1 (P1 1)" in fields and "4 min / 50 min" in fields
    assert any(f"<{DASHBOARD}/api/reports/{report_id}/html|" in b.get("text", {}).get("text", "")
               for b in blocks)  # fmt: skip
    assert posts[0].header("X-Kafkaops-Idempotency-Key") == f"report|{report_id}|slack:#kafka-ops"


def test_report_recipients_are_checked_at_load_time() -> None:
    with pytest.raises(ValueError, match="reports go to email"):
        Config.model_validate({"channels": {"reports": {"to": {"weekly_review": ["pagerduty"]}}}})
    with pytest.raises(ValueError, match="dashboard_url"):
        Config.model_validate({"channels": {"reports": {"dashboard_url": "kafkaops:8080"}}})


@pytest.mark.timeout(120)
def test_review_weekly_send_from_the_cli(
    tmp_path: Path,
    smtp_server: SmtpRecorder,  # noqa: F811
    ca: tuple[Any, Path],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``kafkaops review weekly --send``: stored, mailed at once, said in 80 columns (a re-run
    sending nothing twice is tested above, through the job)."""
    import os
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'k.db'}"
    _fill(url)
    cfg = tmp_path / "kafkaops.yaml"
    cfg.write_text(
        f"clusters:\n  c1:\n    bootstrap: 127.0.0.1:1\nstore:\n  url: {url}\n"
        "channels:\n  email:\n    host: 127.0.0.1\n"
        f"    port: {smtp_server.port}\n    username: {SMTP_USER}\n"
        f"    password_env: TEST_SMTP_PASSWORD\n    ca_file: {ca[1]}\n"
        "    to: {capacity-review: [sre@example.com]}\n"
        "  reports:\n    to: {weekly_review: [email:capacity-review]}\n"
    )
    args = [sys.executable, "-m", "kafkaops.cli", "review", "weekly", "-c", str(cfg),
            "--cluster", "c1", "--week", WEEK, "--send"]  # fmt: skip

    def run() -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COLUMNS": "80", "TEST_SMTP_PASSWORD": SMTP_PASSWORD}
        return subprocess.run(args, capture_output=True, text=True, timeout=90, env=env)

    first = run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"stored as weekly_review:c1:{WEEK}" in first.stdout
    assert "sent 1 of 1: email:capacity-review" in first.stdout
    assert max(len(line) for line in first.stdout.splitlines()) <= 80, first.stdout
    assert len(smtp_server.messages) == 1
    assert SMTP_PASSWORD not in first.stdout + first.stderr
    print(first.stdout)
