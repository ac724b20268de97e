"""The web dashboard in headless Chromium, against the real ``kafkaops serve`` on the sandbox.

Stopping a broker must show up on the page as an incident; the operator enters the API token
once, acknowledges the incident with the button, and sees its state change.  Debian's
``/usr/bin/chromium`` is driven by Playwright for Python (no ``playwright install``: the browser
is the system one).  A screenshot of the page during the incident is kept in
``test-artifacts/dashboard.png``.

Every wait is bounded: a missing incident fails the test with the page's state and a screenshot
(``test-artifacts/dashboard-failure.png``) instead of hanging.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import kafka_helpers as kh
from tests.conftest import wait_until

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("KAFKAOPS_CHROMIUM", "/usr/bin/chromium")
TOKEN = "dashboard-test-token-7f3a9c2e51"
OPERATOR = "dash-tester"
VIEWPORT = {"width": 1440, "height": 900}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_json(url: str, token: str | None = None, timeout: float = 5) -> tuple[int, Any]:
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except (urllib.error.URLError, OSError, json.JSONDecodeError):
        return 0, None


def _config(tmp_path: Path, bootstrap: str, receiver_url: str) -> Path:
    """2 s cycles, a P1 fires when seen on two cycles, deliveries go to a loopback recorder."""
    cfg = tmp_path / "kafkaops.yaml"
    cfg.write_text(
        f"""
clusters:
  sandbox:
    bootstrap: {bootstrap}
    time_lag_method: exact
store:
  url: sqlite:///{tmp_path / "kafkaops.db"}
watch:
  interval: 2s
  offline_after_cycles: 3
service:
  token_env: KAFKAOPS_TEST_DASHBOARD_TOKEN
  daily_check: null
  weekly_review: null
incidents:
  maintenance:
    windows: []  # none: pages must not depend on the hour of day
  alerts:
    for_s: {{p0: 0, p1: 4, p2: 300}}
    keep_firing_for_s: 4
  routing:
    p0: ["webhook:test"]
    p1: ["webhook:test"]
    p2: ["webhook:test"]
channels:
  timeout: 5s
  webhooks:
    test:
      url: {receiver_url}/hook
"""
    )
    return cfg


@dataclass
class Service:
    url: str
    proc: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def dashboard_service(sandbox, bootstrap, tmp_path: Path) -> Iterator[Service]:
    """``kafkaops serve`` as a subprocess on a free loopback port; stopped with SIGINT."""
    from tests.notify.receivers import Recorder

    receiver = Recorder()
    port = _free_port()
    cfg = _config(tmp_path, bootstrap, receiver.url)
    exe = Path(sys.executable).with_name("kafkaops")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "kafkaops.cli"]
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [*cmd, "serve", "--config", str(cfg), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "KAFKAOPS_TEST_DASHBOARD_TOKEN": TOKEN},
        text=True,
    )
    svc = Service(f"http://127.0.0.1:{port}", proc, log_path)
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"kafkaops serve exited {proc.returncode}:\n{svc.log()}")
            status, _ = _get_json(f"{svc.url}/api/clusters/sandbox/health")
            return status == 200

        wait_until(ready, timeout=90, interval=0.5, what="the first health report from the service")
        yield svc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()
        receiver.stop()
        out = svc.log()
        assert "Traceback" not in out, out[-3000:]
        assert TOKEN not in out, "the API token was written to the service log"


def _browser(p: Any) -> Any:
    return p.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        timeout=60_000,
    )


@pytest.mark.integration
@pytest.mark.timeout(420)
def test_stopped_broker_shows_incident_and_ack_from_dashboard(
    sandbox, bootstrap, unique_name, dashboard_service: Service
) -> None:
    service = dashboard_service
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    expect = sync_api.expect

    # A replicated topic with a lagging group, so the overview has partitions to lose and the
    # consumer-group table and lag chart have something to show.
    kh.create_topic(bootstrap, unique_name, partitions=3, rf=3)
    kh.wait_no_urp(bootstrap)
    kh.produce(bootstrap, unique_name, count_per_partition=40, partitions=3)
    kh.commit(bootstrap, f"{unique_name}-group", {(unique_name, p): 10 for p in range(3)})

    # Start from a quiet cluster: an alert from setting the cluster up (a broker slow to answer
    # while the topic was created) must have resolved, or the stop's alerts would join it.
    def quiet() -> tuple[bool, set[str]] | None:
        status, found = _get_json(f"{service.url}/api/incidents?state=all&limit=1000")
        assert status == 200, found
        active = [i for i in found if i["status"] != "resolved"]
        return None if active else (True, {i["id"] for i in found})

    _, known = wait_until(quiet, timeout=90, interval=1, what="no active incident before the stop")

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dashboard-failure.png").unlink(missing_ok=True)
    started = time.monotonic()
    timings: dict[str, float] = {}
    stopped = False
    with sync_api.sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(15_000)
        problems: list[str] = []
        foreign: list[str] = []
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on(
            "console",
            lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on(
            "request",
            lambda r: None if r.url.startswith((service.url, "data:")) else foreign.append(r.url),
        )
        try:
            page.goto(service.url + "/", wait_until="domcontentloaded", timeout=30_000)
            banner = page.locator("#banner")
            expect(banner).not_to_have_attribute("data-state", "UNKNOWN", timeout=30_000)
            expect(page.locator("#state")).to_have_text(re.compile(r"ACTIVE|DEGRADED"))
            expect(page.locator("#refresh")).to_contain_text("updated", timeout=15_000)
            # The scheduled jobs (daily check and weekly review are off in this config; the
            # capacity check keeps its runbook schedule) with their next run.
            expect(page.locator('#jobs tr[data-job="capacity_check"]')).to_be_visible()
            expect(page.locator('#jobs tr[data-job="daily_check"]')).to_have_count(0)

            # The consumer-group table shows the API's groups, worst first, with their status.
            # (It lists the 50 worst; the session cluster holds every earlier test's groups, so
            # this test's mildly lagging group is checked in the API's full list instead.)
            def listed() -> list[str] | None:
                status, data = _get_json(f"{service.url}/api/clusters/sandbox/groups")
                names = [g["group_id"] for g in data["groups"]] if status == 200 else []
                return names if f"{unique_name}-group" in names else None

            names = wait_until(listed, timeout=30, interval=1, what="the group in the API")
            first = page.locator("#groups tr[data-group]").first
            expect(first).to_be_visible(timeout=30_000)
            expect(page.locator("#groups-count")).to_have_text(f"({len(names)})", timeout=15_000)
            if len(names) <= 50:
                row = page.locator(f'#groups tr[data-group="{unique_name}-group"]')
                expect(row).to_be_visible(timeout=15_000)
            timings["page_ready_s"] = time.monotonic() - started

            sandbox.stop_node(2)
            stopped = True
            t_stop = time.monotonic()

            row = page.locator("#incidents tr[data-incident-id][data-cluster=sandbox]").filter(
                has=page.locator("button.ack")
            )
            expect(row.first).to_be_visible(timeout=90_000)
            timings["incident_on_page_s"] = time.monotonic() - t_stop
            incident_id = row.first.get_attribute("data-incident-id")
            assert incident_id and incident_id not in known, (incident_id, known)
            expect(row.first).to_have_attribute("data-status", "open")
            expect(banner).to_have_attribute("data-state", "DEGRADED", timeout=30_000)
            target = page.locator(f'#incidents tr[data-incident-id="{incident_id}"]')
            row_error = page.locator(f'#incidents tr.row-error[data-for="{incident_id}"]')

            # No token yet: the click explains itself inline and changes nothing.
            target.locator("button.ack").click()
            expect(row_error).to_contain_text("token", timeout=5_000)
            expect(target).to_have_attribute("data-status", "open")

            # A wrong token: the API's 401 is shown inline.
            page.fill("#token", "not-the-token")
            page.click("#token-save")
            target.locator("button.ack").click()
            expect(row_error).to_contain_text("401", timeout=10_000)
            expect(target).to_have_attribute("data-status", "open")

            # The right token, entered once (kept in sessionStorage), with the operator's name.
            page.fill("#actor", OPERATOR)
            page.fill("#token", TOKEN)
            page.click("#token-save")
            expect(page.locator("#token-state")).to_have_text("token set")
            assert page.evaluate("sessionStorage.getItem('kafkaops.apiToken')") == TOKEN
            t_click = time.monotonic()
            target.locator("button.ack").click()
            expect(target).to_have_attribute("data-status", "acknowledged", timeout=20_000)
            expect(target.locator(".status")).to_have_text(re.compile("acknowledged", re.I))
            expect(target).to_contain_text(f"by {OPERATOR}")
            expect(target.locator("button.ack")).to_have_count(0)
            timings["ack_to_page_s"] = time.monotonic() - t_click

            # The change is the service's, not only the page's: it survives a reload.
            status, inc = _get_json(f"{service.url}/api/incidents/{incident_id}")
            assert status == 200, inc
            assert inc["status"] == "acknowledged", inc
            assert inc["acknowledged_by"] == OPERATOR, inc
            page.reload(wait_until="domcontentloaded")
            expect(
                page.locator(f'#incidents tr[data-incident-id="{incident_id}"]')
            ).to_have_attribute("data-status", "acknowledged", timeout=20_000)
            expect(page.locator("#token-state")).to_have_text("token set")

            # UTC timestamps with relative time, as the operator pastes them into a ticket.
            opened = page.locator(
                f'#incidents tr[data-incident-id="{incident_id}"] time[data-mode=stack]'
            )
            expect(opened).to_have_text(
                re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+(just now|\d+s ago|\d+m ago)")
            )
            page.wait_for_timeout(1_500)  # let the charts draw their latest samples
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
            page.screenshot(path=str(ARTIFACTS / "dashboard-full.png"), full_page=True)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "dashboard-failure.png"), full_page=True)
            print(f"service log tail:\n{service.log()[-3000:]}")
            raise
        finally:
            browser.close()
            if stopped:
                sandbox.start_node(2)
                kh.wait_no_urp(bootstrap)
    timings["total_s"] = time.monotonic() - started
    (ARTIFACTS / "dashboard_timings.json").write_text(json.dumps(timings, indent=2))
    assert not foreign, f"the page loaded something from another origin: {foreign}"
    # The browser logs the refused wrong-token POST itself; anything else is a page problem.
    problems = [m for m in problems if "status of 401" not in m]
    assert not problems, problems


def test_page_and_assets_are_served_locally() -> None:
    """``/`` and every asset it names come from this process; the CSP says so to the browser."""
    pytest.importorskip("fastapi")
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from kafkaops.service import ui

    app = FastAPI()
    app.include_router(ui.router)
    app.mount(ui.STATIC_URL, ui.static_files(), name="static")
    client = TestClient(app, base_url="http://127.0.0.1")
    resp = client.get("/")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in resp.headers["content-security-policy"]
    html = resp.text
    assert "{{" not in html
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs, html
    for ref in refs:
        if ref.startswith("/docs"):
            continue
        assert ref.startswith("/static/"), f"{ref} is not served by kafkaops"
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert asset.headers.get("cache-control") == "no-cache"
    # ES modules import each other by relative path: every one of them must exist too.
    js_dir = ui.STATIC_DIR / "js"
    for module in js_dir.glob("*.js"):
        for imported in re.findall(r"from '\./([\w.-]+)'", module.read_text()):
            assert (js_dir / imported).is_file(), f"{module.name} imports missing {imported}"
            assert client.get(f"/static/js/{imported}").status_code == 200
    assert not re.search(
        r"https?://(?!www\.w3\.org)",
        "".join(
            p.read_text(errors="replace")
            for p in [*ui.STATIC_DIR.rglob("*"), ui.TEMPLATE]
            if p.suffix in {".js", ".css", ".html"} and "vendor" not in p.parts
        ),
    ), "a static file names a remote URL"
    assert (ui.STATIC_DIR / "vendor" / "uplot" / "LICENSE").is_file()
    assert client.get("/static/../ui.py").status_code == 404
