"""PrometheusSource without a cluster: parsing, rates, resets, missing series, failures.

Exposition texts are trimmed captures of the sandbox's JMX exporter (jmx_exporter.yaml rules)
and Debian's node exporter 1.5; a fake clock makes every Δt exact.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from kafkaops.collect.prometheus import (
    PrometheusSource,
    counter_increase,
    parse_duration_s,
    parse_exposition,
    resolve_targets,
    server_queries,
)
from kafkaops.collect.settings import PrometheusSettings
from kafkaops.core.model import Broker, ClusterSnapshot

JMX_1 = "http://b1:11001/metrics"
JMX_100 = "http://c100:11001/metrics"
HOST = "http://host:11002/metrics"


def jmx_text(
    *,
    bytes_in: float,
    bytes_out: float = 0.0,
    repl_in: float = 0.0,
    repl_out: float = 0.0,
    produce: float = 0.0,
    failed: float = 0.0,
    urp: float = 0.0,
    with_bytes_out: bool = True,
) -> str:
    """A broker's JMX exporter page (cluster-wide series plus one topic-labelled decoy)."""
    out = (
        "# TYPE kafka_server_brokertopicmetrics_bytesout_total counter\n"
        f"kafka_server_brokertopicmetrics_bytesout_total {bytes_out}\n"
        if with_bytes_out
        else ""
    )
    return f"""\
# HELP java_lang_operatingsystem_processcpuload java.lang:type=OperatingSystem
# TYPE java_lang_operatingsystem_processcpuload gauge
java_lang_operatingsystem_processcpuload 0.125
# TYPE kafka_server_brokertopicmetrics_bytesin_total counter
kafka_server_brokertopicmetrics_bytesin_total {bytes_in}
kafka_server_brokertopicmetrics_bytesin_total{{topic="orders"}} 9.9E9
{out}# TYPE kafka_server_brokertopicmetrics_replicationbytesin_total counter
kafka_server_brokertopicmetrics_replicationbytesin_total {repl_in}
# TYPE kafka_server_brokertopicmetrics_replicationbytesout_total counter
kafka_server_brokertopicmetrics_replicationbytesout_total {repl_out}
# TYPE kafka_server_brokertopicmetrics_totalproducerequests_total counter
kafka_server_brokertopicmetrics_totalproducerequests_total {produce}
# TYPE kafka_server_brokertopicmetrics_failedproducerequests_total counter
kafka_server_brokertopicmetrics_failedproducerequests_total {failed}
# TYPE kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent gauge
kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent 0.87
# TYPE kafka_server_replicamanager_leadercount gauge
kafka_server_replicamanager_leadercount 12.0
# TYPE kafka_server_replicamanager_underminisrpartitioncount gauge
kafka_server_replicamanager_underminisrpartitioncount 1.0
# TYPE kafka_server_replicamanager_underreplicatedpartitions gauge
kafka_server_replicamanager_underreplicatedpartitions {urp}
"""


CONTROLLER_TEXT = """\
# TYPE java_lang_operatingsystem_processcpuload gauge
java_lang_operatingsystem_processcpuload -1.0
# TYPE kafka_controller_kafkacontroller_activecontrollercount gauge
kafka_controller_kafkacontroller_activecontrollercount 1.0
# TYPE kafka_controller_kafkacontroller_offlinepartitionscount gauge
kafka_controller_kafkacontroller_offlinepartitionscount 2.0
# TYPE kafka_server_brokertopicmetrics_bytesin_total counter
kafka_server_brokertopicmetrics_bytesin_total 0.0
"""


def node_text(idle0: float, busy0: float, idle1: float, busy1: float) -> str:
    """A node exporter page: two cores, memory 25 % used, ``/`` at df's 40 %."""
    return f"""\
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{{cpu="0",mode="idle"}} {idle0}
node_cpu_seconds_total{{cpu="0",mode="user"}} {busy0}
node_cpu_seconds_total{{cpu="0",mode="system"}} 10
node_cpu_seconds_total{{cpu="1",mode="idle"}} {idle1}
node_cpu_seconds_total{{cpu="1",mode="user"}} {busy1}
node_cpu_seconds_total{{cpu="1",mode="system"}} 10
# TYPE node_memory_MemAvailable_bytes gauge
node_memory_MemAvailable_bytes 3e+09
# TYPE node_memory_MemTotal_bytes gauge
node_memory_MemTotal_bytes 4e+09
# TYPE node_filesystem_size_bytes gauge
node_filesystem_size_bytes{{device="/dev/vda",fstype="ext4",mountpoint="/"}} 1.1e+11
node_filesystem_size_bytes{{device="/dev/vdb",fstype="ext4",mountpoint="/data"}} 1e+11
# TYPE node_filesystem_free_bytes gauge
node_filesystem_free_bytes{{device="/dev/vda",fstype="ext4",mountpoint="/"}} 7e+10
node_filesystem_free_bytes{{device="/dev/vdb",fstype="ext4",mountpoint="/data"}} 5e+10
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{{device="/dev/vda",fstype="ext4",mountpoint="/"}} 6e+10
node_filesystem_avail_bytes{{device="/dev/vdb",fstype="ext4",mountpoint="/data"}} 5e+10
"""


class FakeClock:
    """Monotonic time that only moves when the source sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


Page = str | Callable[[], httpx.Response]


class Pages:
    """A mock transport serving, per URL, the next page of a script (the last one repeats)."""

    def __init__(self, script: dict[str, list[Page]]) -> None:
        self.script = script
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def handler(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        with self.lock:
            n = self.calls.get(url, 0)
            self.calls[url] = n + 1
        pages = self.script.get(url)
        if not pages:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        page = pages[min(n, len(pages) - 1)]
        return page() if callable(page) else httpx.Response(200, text=page)


def settings(**overrides: object) -> PrometheusSettings:
    base: dict[str, object] = {
        "jmx_endpoints": {"1": JMX_1, "100": JMX_100},
        "node_endpoints": {"*": HOST},
        "window": "5s",
        "timeout": "1s",
        "data_mountpoint": "/data",
    }
    return PrometheusSettings.model_validate({**base, **overrides})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def source(pages: Pages, clock: FakeClock, **overrides: object) -> PrometheusSource:
    return PrometheusSource(
        settings(**overrides),
        network_capacity_bytes_per_s=1e9,
        transport=httpx.MockTransport(pages.handler),
        clock=clock,
        sleep=clock.sleep,
    )


def snapshot(*broker_ids: int, voters: tuple[int, ...] = (100,)) -> ClusterSnapshot:
    return ClusterSnapshot(
        cluster_name="t",
        bootstrap="b1:9092",
        taken_at_ms=0,
        duration_ms=1,
        cluster_id="x",
        controller_id=None,
        quorum_leader_id=100,
        quorum_voters=voters,
        brokers=tuple(Broker(i, f"b{i}.example", 9092) for i in broker_ids),
        topics=(),
        groups=(),
        log_dirs=(),
    )


# ---------------------------------------------------------------------------- parsing
def test_parse_keeps_labels_and_takes_only_unlabelled_for_value() -> None:
    scrape = parse_exposition(jmx_text(bytes_in=123.0), url=JMX_1, taken_at=5.0)
    assert scrape.value("kafka_server_brokertopicmetrics_bytesin_total") == 123.0
    topic = scrape.matching("kafka_server_brokertopicmetrics_bytesin_total", topic="orders")
    assert list(topic.values()) == [9.9e9]
    assert scrape.value("no_such_metric") is None


def test_parse_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_exposition("<html>this is not it</html>\n")


def test_counter_increase_treats_a_drop_as_a_restart() -> None:
    assert counter_increase(100.0, 150.0) == 50.0
    assert counter_increase(100.0, 30.0) == 30.0


def test_parse_duration() -> None:
    assert parse_duration_s("15s") == 15
    assert parse_duration_s("1m30s") == 90
    assert parse_duration_s("500ms") == 0.5
    with pytest.raises(ValueError):
        parse_duration_s("soon")


# ---------------------------------------------------------------------- direct scraping
def test_one_shot_scrapes_twice_a_window_apart(clock: FakeClock) -> None:
    pages = Pages(
        {
            JMX_1: [
                jmx_text(bytes_in=1000, bytes_out=500, produce=10, failed=0),
                jmx_text(
                    bytes_in=6000, bytes_out=3000, repl_in=50, repl_out=450, produce=60, failed=5
                ),
            ],
            JMX_100: [CONTROLLER_TEXT],
            HOST: [node_text(100, 50, 100, 50), node_text(106, 54, 108, 52)],
        }
    )
    with source(pages, clock) as src:
        metrics = src.collect(None)
    assert clock.sleeps == [5.0]
    assert metrics.window_s == 5.0
    assert metrics.errors == ()
    assert metrics.source == "prometheus"
    broker = {n.node_id: n for n in metrics.nodes}[1]
    assert broker.role == "broker"
    assert broker.bytes_in_per_s == pytest.approx(1000.0)
    assert broker.bytes_out_per_s == pytest.approx(500.0)
    assert broker.network_bytes_per_s == pytest.approx((5000 + 2500 + 50 + 450) / 5)
    assert broker.produce_requests_per_s == pytest.approx(10.0)
    assert broker.failed_produce_requests_per_s == pytest.approx(1.0)
    # 20 CPU seconds passed, 14 of them idle.
    assert broker.cpu_percent == pytest.approx(30.0)
    assert broker.process_cpu_percent == pytest.approx(12.5)
    assert broker.memory_percent == pytest.approx(25.0)
    assert broker.disk_percent == pytest.approx(50.0)
    assert broker.request_handler_idle_percent == pytest.approx(87.0)
    assert broker.under_min_isr_partitions == 1
    assert broker.under_replicated_partitions == 0
    assert broker.offline_partitions is None and broker.active_controller is None
    assert metrics.producer_error_rate_percent() == pytest.approx(10.0)
    assert metrics.network_percent(broker) == pytest.approx(100 * 1600 / 1e9)


def test_controller_role_and_gauges(clock: FakeClock) -> None:
    pages = Pages({JMX_1: [jmx_text(bytes_in=0)], JMX_100: [CONTROLLER_TEXT], HOST: []})
    with source(pages, clock, node_endpoints={}) as src:
        metrics = src.collect(None)
    controller = {n.node_id: n for n in metrics.nodes}[100]
    assert controller.role == "controller"
    assert controller.active_controller == 1
    assert controller.offline_partitions == 2
    assert controller.process_cpu_percent is None  # JVM said -1: unknown
    assert metrics.active_controller_count() == 1
    assert [n.node_id for n in metrics.brokers] == [1]


def test_watch_loop_reuses_the_previous_scrape(clock: FakeClock) -> None:
    pages = Pages(
        {JMX_1: [jmx_text(bytes_in=b) for b in (0, 500, 2500)], JMX_100: [CONTROLLER_TEXT]}
    )
    with source(pages, clock, node_endpoints={}) as src:
        src.collect(None)
        clock.now += 20.0
        metrics = src.collect(None)
    assert clock.sleeps == [5.0]  # the second cycle did not wait
    assert metrics.window_s == 20.0
    assert {n.node_id: n for n in metrics.nodes}[1].bytes_in_per_s == pytest.approx(100.0)


def test_stale_previous_sample_is_not_reused(clock: FakeClock) -> None:
    pages = Pages({JMX_1: [jmx_text(bytes_in=b) for b in (0, 500, 1000, 1500)]})
    with source(pages, clock, jmx_endpoints={"1": JMX_1}, node_endpoints={}) as src:
        src.collect(None)
        clock.now += 51.0  # > 10 × 5 s window
        metrics = src.collect(None)
    assert clock.sleeps == [5.0, 5.0]
    assert metrics.window_s == 5.0
    assert metrics.nodes[0].bytes_in_per_s == pytest.approx(100.0)


def test_counter_reset_counts_the_new_value(clock: FakeClock) -> None:
    """A broker restart between samples: its counters start again from zero."""
    pages = Pages({JMX_1: [jmx_text(bytes_in=9_000_000, produce=900), jmx_text(bytes_in=2000)]})
    with source(pages, clock, jmx_endpoints={"1": JMX_1}, node_endpoints={}) as src:
        node = src.collect(None).nodes[0]
    assert node.bytes_in_per_s == pytest.approx(400.0)
    assert node.produce_requests_per_s == 0.0


def test_cpu_core_going_backwards_is_skipped(clock: FakeClock) -> None:
    """Kernel idle-counter jitter must not read as a 100 % busy host."""
    pages = Pages({HOST: [node_text(100, 50, 100, 50), node_text(104, 56, 99.9, 52)]})
    with source(pages, clock, jmx_endpoints={"1": JMX_1}) as src:
        node = src.collect(None).nodes[0]
    # Core 1 is left out; core 0: 4 idle of 10 seconds.
    assert node.cpu_percent == pytest.approx(60.0)


def test_missing_series_are_none_not_zero(clock: FakeClock) -> None:
    pages = Pages(
        {
            JMX_1: [jmx_text(bytes_in=0, with_bytes_out=False)],
            HOST: ["# TYPE node_load1 gauge\nnode_load1 0.5\n"],
        }
    )
    with source(pages, clock, jmx_endpoints={"1": JMX_1}, data_mountpoint="/nowhere") as src:
        node = src.collect(None).nodes[0]
    assert node.error is None
    assert node.bytes_in_per_s == 0.0
    assert node.bytes_out_per_s is None
    assert node.network_bytes_per_s is None  # one of its four counters is missing
    assert node.cpu_percent is None
    assert node.memory_percent is None
    assert node.disk_percent is None
    assert node.offline_partitions is None


def test_failed_endpoints_become_errors(clock: FakeClock) -> None:
    pages = Pages(
        {
            JMX_1: [lambda: httpx.Response(500, text="boom")],
            HOST: [node_text(1, 1, 1, 1), node_text(2, 1, 2, 1)],
            # JMX_100 is not scripted: connection refused.
        }
    )
    with source(pages, clock) as src:
        metrics = src.collect(None)
    by_id = {n.node_id: n for n in metrics.nodes}
    assert "HTTP 500" in (by_id[1].error or "")
    assert "Connection refused" in (by_id[100].error or "")
    assert by_id[1].memory_percent == pytest.approx(25.0)  # host metrics still there
    assert by_id[1].role == "broker"  # unreachable, not a voter: still a broker
    assert len(metrics.errors) == 2
    assert pages.calls[JMX_1] == 1  # not tried again after a failed first sample
    assert [n.node_id for n in metrics.nodes if n.error] == [1, 100]


def test_unreachable_node_roles_follow_metadata(clock: FakeClock) -> None:
    pages = Pages({})
    with source(pages, clock, jmx_endpoints={"1": JMX_1, "2": JMX_1 + "?2", "100": JMX_100}) as src:
        metrics = src.collect(snapshot(2))
    roles = {n.node_id: n.role for n in metrics.nodes}
    assert roles == {1: "broker", 2: "broker", 100: "controller"}
    assert clock.sleeps == []  # nothing answered: nothing to wait for


def test_ports_resolve_against_snapshot_hosts() -> None:
    config = PrometheusSettings(jmx_port=11001, node_port=11002)
    targets = resolve_targets(config, snapshot(1, 2))
    assert [(t.node_id, t.jmx_url, t.node_url) for t in targets] == [
        (1, "http://b1.example:11001/metrics", "http://b1.example:11002/metrics"),
        (2, "http://b2.example:11001/metrics", "http://b2.example:11002/metrics"),
    ]
    assert resolve_targets(config, None) == []


# ------------------------------------------------------------------------ never a hang
@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (kernel backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


def test_closed_and_silent_ports_do_not_hang(closed_port: int, silent_port: int) -> None:
    config = PrometheusSettings.model_validate(
        {
            "jmx_endpoints": {
                "1": f"http://127.0.0.1:{closed_port}/metrics",
                "2": f"http://127.0.0.1:{silent_port}/metrics",
            },
            "window": "1s",
            "timeout": "500ms",
        }
    )
    started = time.monotonic()
    with PrometheusSource(config) as src:
        metrics = src.collect(None)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0
    assert len(metrics.errors) == 2
    by_id = {n.node_id: n for n in metrics.nodes}
    assert "ConnectError" in (by_id[1].error or "")
    assert "Timeout" in (by_id[2].error or "")


# ------------------------------------------------------------------------- server mode
def _vector(label: str, values: dict[str, float]) -> list[dict[str, object]]:
    return [{"metric": {label: k}, "value": [0, str(v)]} for k, v in values.items()]


def test_server_mode_queries_and_roles() -> None:
    label = "kafka_node"
    queries = server_queries(label, 20_000, "/data")
    answers = {
        queries["bytes_in_per_s"]: {"1": 1000.0, "2": 10.0, "100": 0.0},
        queries["cpu_percent"]: {"1": 42.0, "2": 130.0},
        queries["under_replicated_partitions"]: {"1": 2.0, "2": 0.0},
        queries["active_controller"]: {"100": 1.0},
        queries["_broker"]: {"1": 1.0, "2": 1.0},
        queries["_controller"]: {"100": 1.0},
        "up == 0": {},
    }
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/targets":
            targets = [{"labels": {label: "1"}, "scrapeInterval": "5s"}]
            return httpx.Response(
                200, json={"status": "success", "data": {"activeTargets": targets}}
            )
        query = request.url.params["query"]
        seen.append(query)
        if query == queries["memory_percent"]:
            return httpx.Response(
                400, json={"status": "error", "errorType": "bad_data", "error": "parse error"}
            )
        result = _vector(label, answers.get(query, {}))
        return httpx.Response(200, json={"status": "success", "data": {"result": result}})

    config = PrometheusSettings.model_validate(
        {
            "server": "http://prom:9090/",
            "node_label": label,
            "window": "5s",
            "data_mountpoint": "/data",
        }
    )
    with PrometheusSource(config, transport=httpx.MockTransport(handler)) as src:
        metrics = src.collect(snapshot(1, 2))
    assert metrics.window_s == 20.0  # 4 × the 5 s scrape interval beats the 5 s window
    assert all("[20000ms]" in q for q in seen if "rate(" in q)
    by_id = {n.node_id: n for n in metrics.nodes}
    assert set(by_id) == {1, 2, 100}
    assert by_id[1].bytes_in_per_s == 1000.0
    assert by_id[1].cpu_percent == 42.0
    assert by_id[2].cpu_percent == 100.0  # clamped
    assert by_id[1].under_replicated_partitions == 2
    assert by_id[100].role == "controller" and by_id[100].active_controller == 1
    assert by_id[1].memory_percent is None
    assert any("parse error" in e for e in metrics.errors)


def test_server_unreachable_is_an_error_not_an_exception(closed_port: int) -> None:
    config = PrometheusSettings.model_validate(
        {"server": f"http://127.0.0.1:{closed_port}", "timeout": "500ms"}
    )
    started = time.monotonic()
    with PrometheusSource(config) as src:
        metrics = src.collect(None)
    assert time.monotonic() - started < 3.0
    assert metrics.nodes == ()
    assert metrics.errors and all("ConnectError" in e for e in metrics.errors)
    assert metrics.window_s == 240.0  # interval unknown: Prometheus's default 1m × 4
