"""PrometheusSource against the real sandbox: direct scraping, and a real Prometheus server.

The sandbox's nodes run the JMX exporter agent and share one node exporter (``"*"``).  A steady
producer runs while metrics are read so that byte and request rates are not all zero.  The
Prometheus server is Debian's ``/usr/bin/prometheus``, scraping every second on 127.0.0.1 with a
``node_id`` label per target, its TSDB in a temporary folder.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
import yaml
from kafka import KafkaProducer

from kafkaops.collect.prometheus import PrometheusSource
from kafkaops.collect.settings import ANY_NODE, PrometheusSettings
from kafkaops.core.broker_metrics import ClusterMetrics, NodeMetrics
from kafkaops.sandbox.cluster import Sandbox
from tests.kafka_helpers import create_topic

pytestmark = pytest.mark.integration

PROMETHEUS = "/usr/bin/prometheus"
BROKERS = {1, 2, 3}
CONTROLLER = 100


# ----------------------------------------------------------------------------- helpers
class SteadyProducer:
    """Produces small records (acks=all, so replication flows too) until stopped."""

    def __init__(self, bootstrap: str, topic: str, per_second: int = 200) -> None:
        self.bootstrap, self.topic, self.per_second = bootstrap, topic, per_second
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=0)
        try:
            while not self.stop.is_set():
                for _ in range(self.per_second // 10):
                    producer.send(self.topic, value=b"x" * 200)
                    self.sent += 1
                producer.flush(timeout=10)
                self.stop.wait(0.1)
        finally:
            producer.close(timeout=5)

    def __enter__(self) -> SteadyProducer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=20)


@pytest.fixture(scope="module")
def traffic(sandbox: Sandbox) -> Iterator[SteadyProducer]:
    topic = f"prom-traffic-{int(time.time())}"
    create_topic(sandbox.bootstrap(), topic, partitions=3, rf=3)
    with SteadyProducer(sandbox.bootstrap(), topic) as producer:
        deadline = time.monotonic() + 30
        while producer.sent == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert producer.sent, "the producer sent nothing in 30 s"
        yield producer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape_config(settings: PrometheusSettings, label: str) -> dict[str, object]:
    """Prometheus config: a target per node and exporter, labelled with the node id.

    The shared node exporter (``"*"``) appears once per node id, so every node's series carry
    the host's CPU, as direct scraping gives them.
    """
    ids = sorted(settings.jmx_endpoints, key=int)

    def static(urls: dict[str, str]) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for node in ids:
            url = urls.get(node) or urls.get(ANY_NODE)
            if url:
                out.append({"targets": [urlsplit(url).netloc], "labels": {label: node}})
        return out

    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "kafka-jmx", "static_configs": static(settings.jmx_endpoints)},
            {"job_name": "node", "static_configs": static(settings.node_endpoints)},
        ],
    }


def _wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if check():
                return
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout_s:.0f}s")


@pytest.fixture(scope="module")
def prometheus(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus server scraping the sandbox; its base URL."""
    if not Path(PROMETHEUS).exists():
        pytest.skip("Debian's prometheus package is not installed")
    work = tmp_path_factory.mktemp("prometheus")
    config = work / "prometheus.yml"
    config.write_text(yaml.safe_dump(_scrape_config(sandbox.prometheus_settings(), "node_id")))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(work / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={work / 'data'}",
                "--storage.tsdb.retention.time=1h",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_for(lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200, 60, "ready")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        shutil.rmtree(work, ignore_errors=True)


def _by_id(metrics: ClusterMetrics) -> dict[int, NodeMetrics]:
    return {n.node_id: n for n in metrics.nodes}


def _assert_percent(value: float | None) -> None:
    assert value is not None and 0.0 <= value <= 100.0, value


# ------------------------------------------------------------------------------ tests
def test_sandbox_runs_one_node_exporter(sandbox: Sandbox) -> None:
    status = sandbox.status_dict()
    assert status["node_exporter"] and status["node_exporter_up"]
    settings = sandbox.prometheus_settings()
    assert set(settings.jmx_endpoints) == {"1", "2", "3", "100"}
    assert settings.node_endpoints == {ANY_NODE: status["node_exporter"]}
    text = httpx.get(status["node_exporter"], timeout=5).text
    assert "node_cpu_seconds_total" in text and "node_filesystem_avail_bytes" in text


def test_direct_scrape_gives_every_broker(sandbox: Sandbox, traffic: SteadyProducer) -> None:
    settings = sandbox.prometheus_settings()
    with PrometheusSource(settings, network_capacity_bytes_per_s=125e6) as source:
        started = time.monotonic()
        metrics = source.collect(None)
        one_shot_s = time.monotonic() - started
        again = source.collect(None)
    assert metrics.errors == (), metrics.errors
    assert settings.window / 1000 <= metrics.window_s < settings.window / 1000 + 3
    assert one_shot_s < settings.window / 1000 + 5
    nodes = _by_id(metrics)
    assert set(nodes) == BROKERS | {CONTROLLER}
    assert {n.node_id for n in metrics.brokers} == BROKERS
    for node_id in BROKERS:
        broker = nodes[node_id]
        assert broker.error is None
        for value in (broker.cpu_percent, broker.memory_percent, broker.disk_percent):
            _assert_percent(value)
        _assert_percent(broker.process_cpu_percent)
        _assert_percent(broker.request_handler_idle_percent)
        assert broker.bytes_in_per_s is not None and broker.bytes_out_per_s is not None
        assert broker.network_bytes_per_s is not None
        assert broker.network_bytes_per_s >= broker.bytes_in_per_s + broker.bytes_out_per_s
        assert broker.produce_requests_per_s is not None
        assert broker.failed_produce_requests_per_s == 0.0
        assert broker.under_replicated_partitions == 0
    # One host: the shared node exporter gives every node the same host figures.
    assert len({nodes[i].memory_percent for i in BROKERS}) == 1
    usage = psutil.disk_usage(settings.data_mountpoint).percent
    assert nodes[1].disk_percent == pytest.approx(usage, abs=1.0)
    assert sum(nodes[i].bytes_in_per_s or 0 for i in BROKERS) > 0
    assert sum(nodes[i].produce_requests_per_s or 0 for i in BROKERS) > 0
    assert all((nodes[i].network_bytes_per_s or 0) > 0 for i in BROKERS)  # replication
    controller = nodes[CONTROLLER]
    assert controller.role == "controller"
    assert controller.active_controller == 1 and controller.offline_partitions == 0
    assert metrics.active_controller_count() == 1
    assert metrics.producer_error_rate_percent() == 0.0
    assert metrics.network_percent(nodes[1]) is not None
    # The second reading reuses the first one's sample: no extra wait, a short window.
    assert 0 < again.window_s < metrics.window_s


def test_prometheus_server_mode_agrees(
    sandbox: Sandbox, traffic: SteadyProducer, prometheus: str
) -> None:
    direct_settings = sandbox.prometheus_settings()
    server_settings = PrometheusSettings.model_validate(
        {
            "server": prometheus,
            "node_label": "node_id",
            "window": f"{direct_settings.window}ms",
            "timeout": "5s",
            "data_mountpoint": direct_settings.data_mountpoint,
        }
    )
    with PrometheusSource(server_settings) as server_source:

        def complete() -> bool:
            nodes = server_source.collect(None).brokers
            return len(nodes) == len(BROKERS) and all(
                n.cpu_percent is not None and n.bytes_in_per_s is not None for n in nodes
            )

        _wait_for(complete, 60, "rate() data for every broker")
        served = server_source.collect(None)
    with PrometheusSource(direct_settings) as direct_source:
        direct = direct_source.collect(None)

    assert served.errors == (), served.errors
    assert served.window_s == 4.0  # 4 × the 1 s scrape interval beats the 3 s window
    by_server, by_direct = _by_id(served), _by_id(direct)
    assert set(by_server) == set(by_direct) == BROKERS | {CONTROLLER}
    assert {i: n.role for i, n in by_server.items()} == {i: n.role for i, n in by_direct.items()}
    assert by_server[CONTROLLER].active_controller == 1
    for node_id in BROKERS:
        s, d = by_server[node_id], by_direct[node_id]
        assert s.error is None
        _assert_percent(s.cpu_percent)
        _assert_percent(s.process_cpu_percent)
        assert s.memory_percent == pytest.approx(d.memory_percent, abs=5.0)
        assert s.disk_percent == pytest.approx(d.disk_percent, abs=1.0)
        assert s.under_replicated_partitions == d.under_replicated_partitions == 0
        assert s.failed_produce_requests_per_s == 0.0
        assert s.network_bytes_per_s is not None and s.network_bytes_per_s > 0
    total_served = sum(by_server[i].bytes_in_per_s or 0 for i in BROKERS)
    total_direct = sum(by_direct[i].bytes_in_per_s or 0 for i in BROKERS)
    assert total_served > 0 and total_direct > 0
    # The same steady producer, measured over different windows: same order of magnitude.
    assert 0.2 < total_served / total_direct < 5.0
