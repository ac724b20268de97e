"""The two-scrape round shared by ``producers`` and ``jvm``, against a real loopback exporter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kafkaops.diagnose.producers import measure, scrape_twice
from tests.conftest import free_port

BODIES = [
    'kafka_server_brokertopicmetrics_bytesin_total{topic="orders"} 1000\n',
    'kafka_server_brokertopicmetrics_bytesin_total{topic="orders"} 6000\n',
]


@pytest.fixture
def exporter() -> Iterator[str]:
    hits: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = BODIES[len(hits) % 2].encode()  # each pair of scrapes: before, after
            hits.append(1)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def test_two_scrapes_a_window_apart_and_a_dead_node_as_one_line(exporter: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}/metrics"
    pairs, errors = scrape_twice({1: exporter, 2: dead}, window_s=0.2, timeout_s=2.0)
    first, second = pairs[1]
    assert second.taken_at - first.taken_at >= 0.2
    assert set(errors) == {2} and dead in errors[2] and "\n" not in errors[2]
    report = measure("c", {1: exporter}, window_s=0.2, timeout_s=2.0)
    [topic] = report.topics
    assert topic.topic == "orders" and topic.bytes_in_per_s > 0
