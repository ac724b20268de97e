"""Issue 10: the service under hostile clients, on a real ``kafkaops serve`` (no Kafka needed).

The served cluster is a port nothing listens on: the HTTP side is what is under test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import run_cli, wait_until
from tests.service.conftest import TOKEN, Service, stop_service

MIB = 1024 * 1024


def _config(tmp: Path, extra_service: str = "") -> Path:
    cfg = tmp / "kafkaops.yaml"
    cfg.write_text(
        "clusters:\n"
        "  down:\n"
        "    bootstrap: [127.0.0.1:9, 127.0.0.1:10]\n"
        "    timeouts:\n      request: 1s\n      connect: 1s\n"
        f"store:\n  url: sqlite:///{tmp / 'k.db'}\n"
        "watch:\n  interval: 5s\n"
        "service:\n"
        "  daily_check: null\n"
        "  weekly_review: null\n"
        "  header_timeout: 2s\n" + extra_service
    )
    return cfg


def start_lone_service(tmp: Path, extra_service: str = "", token: str = TOKEN) -> Service:
    """``kafkaops serve`` on a free loopback port; returns once it answers /health."""
    env = {**os.environ, "KAFKAOPS_API_TOKEN": token}
    out, log = tmp / "serve.out", tmp / "serve.log"
    cfg = _config(tmp, extra_service)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kafkaops.cli", "serve", "-c", str(cfg), "--port", "0"],
        stdout=out.open("w"),
        stderr=log.open("w"),
        env=env,
        text=True,
    )

    def url() -> str | None:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {log.read_text()[-2000:]}")
        return next((w for w in out.read_text().split() if w.startswith("http://")), None)

    service = Service(wait_until(url, timeout=60, interval=0.2, what="serve URL"), proc, log, token)
    wait_until(lambda: service.get("/health").status_code == 200, timeout=30, what="/health")
    return service


@pytest.fixture(scope="module")
def lone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_lone_service(tmp_path_factory.mktemp("lone"))
    try:
        yield svc
    finally:
        assert stop_service(svc) == 0, svc.log.read_text()[-2000:]


def _addr(service: Service) -> tuple[str, int]:
    hostport = service.url.split("//")[1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    return host, int(port)


def _rss(service: Service) -> int:
    return int(psutil.Process(service.proc.pid).memory_info().rss)


def _flood(service: Service, head: bytes, total: int) -> tuple[bytes, int]:
    """Send ``head`` then up to ``total`` body bytes; return (response, max RSS seen)."""
    sock = socket.create_connection(_addr(service), timeout=30)
    stop = threading.Event()

    def push() -> None:
        chunk = b"x" * MIB
        sent = 0
        try:
            while sent < total and not stop.is_set():
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:  # the server answered and closed: what we want
            pass

    sock.sendall(head)
    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    peak = _rss(service)
    response = b""
    deadline = time.monotonic() + 30
    sock.settimeout(0.2)
    while time.monotonic() < deadline and b"\r\n\r\n" not in response:
        peak = max(peak, _rss(service))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not data:
            break
        response += data
    stop.set()
    sock.close()
    pusher.join(10)
    return response, max(peak, _rss(service))


def test_unauthenticated_400mb_post_is_401_before_the_body_is_read(lone: Service) -> None:
    before = _rss(lone)
    head = (
        b"POST /api/incidents/x/ack HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 400000000\r\n\r\n"
    )
    response, peak = _flood(lone, head, 400 * MIB)
    assert response.startswith(b"HTTP/1.1 401"), response[:200]
    assert peak - before < 30 * MIB, (before, peak)
    # The service is still fine.
    assert lone.get("/health").status_code == 200


def test_authenticated_oversized_bodies_are_413(lone: Service) -> None:
    before = _rss(lone)
    head = (
        b"POST /api/incidents/x/ack HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Authorization: Bearer {TOKEN}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 400000000\r\n\r\n"
    )
    response, peak = _flood(lone, head, 400 * MIB)
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert peak - before < 30 * MIB, (before, peak)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap counts what is streamed
        for _ in range(200):
            yield b"x" * 65536

    r = httpx.post(
        lone.url + "api/incidents/x/ack", content=chunks(), headers=lone.auth(), timeout=30
    )
    assert r.status_code == 413 and "service.max_body" in r.json()["error"]
    # A small body still reaches the route (404: no such incident).
    r = lone.post("/api/incidents/x/ack", json={"note": "n"}, headers=lone.auth())
    assert r.status_code == 404, r.text


def test_slow_headers_are_cut_off(lone: Service) -> None:
    sock = socket.create_connection(_addr(lone), timeout=10)
    started = time.monotonic()
    closed = False
    try:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for _ in range(40):  # one header byte every 0.25 s: never a complete head
            sock.sendall(b"X")
            time.sleep(0.25)
    except OSError:
        closed = True
    if not closed:
        sock.settimeout(2)
        try:
            closed = sock.recv(1024) == b""
        except OSError:
            closed = True
    sock.close()
    assert closed, "the server kept a slow-header connection open for 10 s"
    assert time.monotonic() - started < 8
    assert lone.get("/health").status_code == 200


def test_bootstrap_is_shown_as_people_write_it(lone: Service, tmp_path: Path) -> None:
    """Not as a Python list ("['127.0.0.1:9', …]"), in the API and in ``health --json``."""
    [cluster] = lone.get("/api/clusters").json()
    assert cluster["bootstrap"] == "127.0.0.1:9,127.0.0.1:10", cluster
    proc = run_cli("health", "-c", str(_config(tmp_path)), "--json", timeout=60)
    assert '"bootstrap": "127.0.0.1:9,127.0.0.1:10"' in proc.stdout, proc.stdout[:500]


def test_bootstrap_without_a_port_is_refused_on_the_cli_as_in_the_config() -> None:
    proc = run_cli("health", "--bootstrap", "foo", timeout=30)
    assert proc.returncode == 3
    assert proc.stderr.strip() == "error: --bootstrap: 'foo' is not HOST:PORT", proc.stderr


def test_real_service_host_check_and_head(lone: Service) -> None:
    assert httpx.head(lone.url + "health", timeout=10).status_code == 200
    r = httpx.get(lone.url + "api/clusters", headers={"Host": "rebound.evil.example"}, timeout=10)
    assert r.status_code == 403


def test_short_token_is_warned_about(tmp_path: Path) -> None:
    svc = start_lone_service(tmp_path, token="x")
    try:
        wait_until(lambda: "only 1 bytes" in svc.log.read_text(), timeout=10, what="warning")
        [line] = [ln for ln in svc.log.read_text().splitlines() if "only 1 bytes" in ln]
        assert "WARNING" in line and "from $KAFKAOPS_API_TOKEN is only" in line, line
    finally:
        assert stop_service(svc) == 0
