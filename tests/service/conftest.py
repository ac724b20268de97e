"""A real ``kafkaops serve`` for the service tests: subprocess, loopback port, SQLite store.

One service per test session watches two clusters: ``sbx`` (the session sandbox, with its JMX
and node exporters as a Prometheus metrics source) and ``down`` (a port nothing listens on), so
every test also checks that a dead cluster does not stop the service from serving.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kafkaops.core.clock import utc_now
from kafkaops.sandbox.cluster import Sandbox
from tests.conftest import wait_until

TOKEN = "test-api-token-0123456789"
INTERVAL_S = 2


@dataclass
class Service:
    url: str
    proc: subprocess.Popen[str]
    log: Path
    token: str | None

    def get(self, path: str, **kw: object) -> httpx.Response:
        return httpx.get(self.url + path.lstrip("/"), timeout=30, **kw)  # type: ignore[arg-type]

    def post(self, path: str, **kw: object) -> httpx.Response:
        return httpx.post(self.url + path.lstrip("/"), timeout=30, **kw)  # type: ignore[arg-type]

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def write_config(path: Path, box: Sandbox, store: Path) -> Path:
    """Config for the sandbox (+ its metrics exporters) and a cluster that is down."""
    prom = box.prometheus_settings()
    jmx = "\n".join(f'          "{k}": {v}' for k, v in prom.jmx_endpoints.items())
    node = "\n".join(f'          "{k}": {v}' for k, v in prom.node_endpoints.items())
    # One daily window, placed 12 hours from the test's own clock (KAFKAOPS_NOW included): the
    # API has a window to list, and no page of the test run can fall inside it.
    hour = (utc_now().hour + 12) % 24
    windows = (
        "      - name: far-from-now\n"
        f'        rrule: "RRULE:FREQ=DAILY;BYHOUR={hour};BYMINUTE=0;BYSECOND=0"\n'
        "        duration: 1h"
    )
    path.write_text(
        f"""
clusters:
  sbx:
    bootstrap: {box.bootstrap()}
    metrics:
      sources: [prometheus]
      prometheus:
        window: 2s
        data_mountpoint: {prom.data_mountpoint}
        jmx_endpoints:
{jmx}
        node_endpoints:
{node}
  down:
    bootstrap: 127.0.0.1:9
    timeouts:
      request: 2s
      connect: 1s
store:
  url: sqlite:///{store}
watch:
  interval: {INTERVAL_S}s
  offline_after_cycles: 2
lag:
  history_every: 0s  # every cycle: the tests read a new group's history a cycle later
incidents:
  maintenance:
    windows:
{windows}
  alerts:
    keep_firing_for_s: 4
service:
  daily_check: "09:00"
"""
    )
    return path


def start_service(
    tmp: Path, box: Sandbox, *, token: str | None, extra: tuple[str, ...] = ()
) -> Service:
    cfg = write_config(tmp / "kafkaops.yaml", box, tmp / "kafkaops.db")
    env = {k: v for k, v in os.environ.items() if k != "KAFKAOPS_API_TOKEN"}
    if token:
        env["KAFKAOPS_API_TOKEN"] = token
    out, log = tmp / "serve.out", tmp / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kafkaops.cli", "serve", "-c", str(cfg), "--port", "0", *extra],
        stdout=out.open("w"),
        stderr=log.open("w"),
        env=env,
        text=True,
    )

    def url() -> str | None:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {log.read_text()[-2000:]}")
        for word in out.read_text().split():
            if word.startswith("http://"):
                return word
        return None

    service = Service(wait_until(url, timeout=60, interval=0.2, what="serve URL"), proc, log, token)

    def first_cycle() -> bool:
        loops = service.get("/health").json()["clusters"]
        return all(c["last_cycle_at"] for c in loops)

    wait_until(first_cycle, timeout=90, interval=0.5, what="first cycle of every cluster")
    return service


def stop_service(service: Service, sig: int = signal.SIGTERM, timeout: float = 90) -> int:
    if service.proc.poll() is None:
        service.proc.send_signal(sig)
    try:
        return service.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        service.proc.kill()
        raise


@pytest.fixture(scope="package")
def service(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_service(tmp_path_factory.mktemp("serve"), sandbox, token=TOKEN)
    try:
        yield svc
    finally:
        code = stop_service(svc)
        assert code == 0, f"serve exited {code} on SIGTERM: {svc.log.read_text()[-2000:]}"


def latest(service: Service, path: str, pred, timeout: float = 60, what: str = "") -> dict:  # type: ignore[no-untyped-def]
    """Poll ``path`` until ``pred(json)`` holds; returns that JSON."""

    def probe() -> dict | None:
        r = service.get(path)
        data = r.json() if r.status_code == 200 else None
        return data if data is not None and pred(data) else None

    return wait_until(probe, timeout=timeout, interval=0.5, what=what or path)


def dump(data: object) -> str:
    return json.dumps(data, indent=1)[:2000]


def wait_cycles(n: int = 2) -> None:
    time.sleep(n * INTERVAL_S + 0.5)
