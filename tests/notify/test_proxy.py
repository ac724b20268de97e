"""Outgoing notifications go through ``HTTP(S)_PROXY`` and skip it for ``NO_PROXY`` hosts."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import httpx
import pytest

from kafkaops.notify.channels.base import make_client


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    """A stand-in forward proxy: records the absolute-form request line, answers 202."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(self.requestline)
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_notifications_use_the_proxy_from_the_environment(
    proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with make_client(5) as client:
        r = client.post("http://hooks.example.invalid/services/T0/B0", json={"text": "P1"})
    assert r.status_code == 202
    assert seen == ["POST http://hooks.example.invalid/services/T0/B0 HTTP/1.1"]

    monkeypatch.setenv("NO_PROXY", "hooks.example.invalid")
    with make_client(5) as client, pytest.raises(httpx.ConnectError):
        client.post("http://hooks.example.invalid/x", json={})  # direct: the name does not resolve
    assert len(seen) == 1
