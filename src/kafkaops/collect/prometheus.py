"""Broker metrics from Prometheus exporters: scraped directly, or asked of a Prometheus server.

**Direct scraping** is what MSK Open Monitoring offers: every broker runs the JMX exporter
(port 11001) and the node exporter (port 11002).  The source scrapes all endpoints at once and is
*stateful*: it keeps each endpoint's previous scrape, so a rate is Δcounter / Δt between the
previous and the current sample, and the watch loop gets rates over its own cycle for free.  With
no previous sample (or one older than 10 × ``window``: too old to say anything about *now*) it
scrapes twice, ``window`` apart, which is what a one-shot ``kafkaops health`` pays.

Counter resets follow Prometheus's ``rate()``: a counter that went *down* was restarted (a broker
JVM restart), so its whole new value is the increase since the restart.  CPU seconds are the
exception: the kernel's idle/iowait counters are known to step back slightly, and counting that
as a reset would report a fully busy host, so a CPU core whose counters went down is left out of
that pair.

**Server mode** asks a Prometheus server that scrapes those exporters (PromQL over
``/api/v1/query``).  Its targets must carry ``node_label`` with the Kafka node id.  The rate
range is max(``window``, 4 × the targets' scrape interval): ``rate()`` needs at least two samples
in the range, and four intervals survive a missed scrape.  The interval is read from the server's
``/api/v1/targets`` (the largest among targets with the node label), or given to the constructor;
when neither says, Prometheus's default global interval (1 m) is assumed.

Every failure (connection refused, timeout, HTTP error, unparsable text, PromQL error) becomes a
line in ``ClusterMetrics.errors`` and the affected nodes' ``error``; ``collect`` never raises for
them and never waits longer than about two timeouts per round.

Why this module is long: one source with two modes (direct exporter scraping with rates from two
samples, and PromQL against a server) that must produce the same typed model; the mapping table
from metric names to model fields is most of it.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from kafkaops.collect.settings import ANY_NODE, PrometheusSettings
from kafkaops.core.broker_metrics import ClusterMetrics, MetricSource, NodeMetrics
from kafkaops.core.model import ClusterSnapshot

# JMX exporter series (rules: kafkaops/sandbox/jmx_exporter.yaml, MSK Open Monitoring names).
BYTES_IN = "kafka_server_brokertopicmetrics_bytesin_total"
BYTES_OUT = "kafka_server_brokertopicmetrics_bytesout_total"
REPLICATION_BYTES_IN = "kafka_server_brokertopicmetrics_replicationbytesin_total"
REPLICATION_BYTES_OUT = "kafka_server_brokertopicmetrics_replicationbytesout_total"
PRODUCE_REQUESTS = "kafka_server_brokertopicmetrics_totalproducerequests_total"
FAILED_PRODUCE_REQUESTS = "kafka_server_brokertopicmetrics_failedproducerequests_total"
UNDER_REPLICATED = "kafka_server_replicamanager_underreplicatedpartitions"
UNDER_MIN_ISR = "kafka_server_replicamanager_underminisrpartitioncount"
#: Only brokers have a ReplicaManager: how an endpoint shows it is a broker.
LEADER_COUNT = "kafka_server_replicamanager_leadercount"
OFFLINE_PARTITIONS = "kafka_controller_kafkacontroller_offlinepartitionscount"
ACTIVE_CONTROLLER = "kafka_controller_kafkacontroller_activecontrollercount"
HANDLER_IDLE = "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent"
PROCESS_CPU = "java_lang_operatingsystem_processcpuload"
#: Client plus replication bytes, in and out: everything on the wire.
NETWORK_COUNTERS = (BYTES_IN, BYTES_OUT, REPLICATION_BYTES_IN, REPLICATION_BYTES_OUT)

# Node exporter series.
NODE_CPU = "node_cpu_seconds_total"
MEM_AVAILABLE = "node_memory_MemAvailable_bytes"
MEM_TOTAL = "node_memory_MemTotal_bytes"
FS_SIZE = "node_filesystem_size_bytes"
FS_AVAIL = "node_filesystem_avail_bytes"
FS_FREE = "node_filesystem_free_bytes"

#: A previous sample older than this many windows is not reused (one-shot rescrape instead).
STALE_WINDOWS = 10
#: Prometheus's default ``global.scrape_interval``, assumed when the server does not say.
DEFAULT_SCRAPE_INTERVAL_S = 60.0

#: Sorted (name, value) pairs: a hashable label set.
Labels = tuple[tuple[str, str], ...]


# ------------------------------------------------------------------------------- parsing
@dataclass(frozen=True)
class Scrape:
    """One endpoint's exposition text, parsed, at one instant (``taken_at``: monotonic s)."""

    url: str
    taken_at: float
    series: Mapping[str, Mapping[Labels, float]] = field(default_factory=dict)

    def value(self, name: str) -> float | None:
        """The series without labels (the JMX rules' cluster-wide one), if finite."""
        return _finite(self.series.get(name, {}).get(()))

    def matching(self, name: str, **labels: str) -> dict[Labels, float]:
        """Every series of ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return {k: v for k, v in self.series.get(name, {}).items() if wanted <= set(k)}

    def has(self, name: str) -> bool:
        return bool(self.series.get(name))


def parse_exposition(text: str, *, url: str = "", taken_at: float = 0.0) -> Scrape:
    """Parse Prometheus text exposition format (raises ValueError when it is not)."""
    series: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            series.setdefault(sample.name, {})[labels] = float(sample.value)
    return Scrape(url, taken_at, series)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


# --------------------------------------------------------------------------------- rates
def counter_increase(before: float, after: float) -> float:
    """Increase of a counter between two samples; a drop means it restarted from zero."""
    return after if after < before else after - before


def counter_rate(prev: Scrape, cur: Scrape, name: str) -> float | None:
    """Per-second rate of an unlabelled counter between two scrapes; None if unmeasurable."""
    before, after = prev.value(name), cur.value(name)
    elapsed = cur.taken_at - prev.taken_at
    if before is None or after is None or elapsed <= 0:
        return None
    return counter_increase(before, after) / elapsed


def summed_rate(prev: Scrape, cur: Scrape, names: Iterable[str]) -> float | None:
    """Sum of several counters' rates; None unless every one was measured."""
    rates = [counter_rate(prev, cur, n) for n in names]
    return None if any(r is None for r in rates) else sum(r for r in rates if r is not None)


def cpu_busy_percent(prev: Scrape, cur: Scrape) -> float | None:
    """100 − idle share of CPU seconds over every core between two node exporter scrapes.

    A core with any counter that went down is skipped for this pair (see the module doc).
    """
    per_cpu: dict[str, tuple[float, float]] = {}
    skipped: set[str] = set()
    before_all = prev.series.get(NODE_CPU, {})
    for labels, after in cur.series.get(NODE_CPU, {}).items():
        before = before_all.get(labels)
        lab = dict(labels)
        cpu = lab.get("cpu", "")
        if before is None or after < before:
            skipped.add(cpu)
            continue
        idle, total = per_cpu.get(cpu, (0.0, 0.0))
        spent = after - before
        per_cpu[cpu] = (idle + (spent if lab.get("mode") == "idle" else 0.0), total + spent)
    kept = [v for cpu, v in per_cpu.items() if cpu not in skipped]
    total = sum(t for _, t in kept)
    if total <= 0:
        return None
    return _percent(1.0 - sum(i for i, _ in kept) / total)


def _percent(fraction: float) -> float:
    return min(100.0, max(0.0, 100.0 * fraction))


# -------------------------------------------------------------------------------- gauges
def memory_percent(scrape: Scrape) -> float | None:
    """(1 − MemAvailable / MemTotal) × 100."""
    available, total = scrape.value(MEM_AVAILABLE), scrape.value(MEM_TOTAL)
    if available is None or not total:
        return None
    return _percent(1.0 - available / total)


def disk_percent(scrape: Scrape, mountpoint: str) -> float | None:
    """Use% of the filesystem mounted at ``mountpoint``, as ``df`` computes it.

    used / (used + avail) with used = size − free: root-reserved blocks are neither, so 100 %
    is exactly "Kafka cannot write any more".  (1 − avail / size), the other common formula,
    counts reserved blocks as used and can read 69 % where ``df`` says 15 %.
    """
    for labels, size in scrape.matching(FS_SIZE, mountpoint=mountpoint).items():
        avail = _finite(scrape.series.get(FS_AVAIL, {}).get(labels))
        free = _finite(scrape.series.get(FS_FREE, {}).get(labels))
        if avail is not None and free is not None and size - free + avail > 0:
            return _percent((size - free) / (size - free + avail))
    return None


def process_cpu_percent(scrape: Scrape) -> float | None:
    """JVM ProcessCpuLoad (0–1, negative when the JVM cannot tell) as a percentage."""
    load = scrape.value(PROCESS_CPU)
    return None if load is None or load < 0 else _percent(load)


def _int_gauge(scrape: Scrape, name: str) -> int | None:
    value = scrape.value(name)
    return None if value is None else round(value)


def _idle_percent(scrape: Scrape) -> float | None:
    value = scrape.value(HANDLER_IDLE)
    return None if value is None else _percent(value)


# ----------------------------------------------------------------------------- endpoints
@dataclass(frozen=True)
class Target:
    """Where one node's metrics are scraped from (either URL may be missing)."""

    node_id: int
    jmx_url: str | None
    node_url: str | None


def resolve_targets(settings: PrometheusSettings, snapshot: ClusterSnapshot | None) -> list[Target]:
    """Every node to scrape: explicit endpoints first, else broker hosts with the ports.

    Nodes are the explicit ids of both maps plus, when ports or a ``"*"`` entry need hosts or
    ids from metadata, the snapshot's brokers.
    """
    brokers = {b.node_id: b.host for b in snapshot.brokers} if snapshot else {}
    ids = {int(k) for k in (*settings.jmx_endpoints, *settings.node_endpoints) if k != ANY_NODE}
    wildcard = ANY_NODE in settings.jmx_endpoints or ANY_NODE in settings.node_endpoints
    if settings.jmx_port or settings.node_port or wildcard:
        ids |= set(brokers)
    targets = []
    for node_id in sorted(ids):
        host = brokers.get(node_id)
        jmx = _endpoint(settings.jmx_endpoints, node_id, host, settings.jmx_port)
        node = _endpoint(settings.node_endpoints, node_id, host, settings.node_port)
        if jmx or node:
            targets.append(Target(node_id, jmx, node))
    return targets


def _endpoint(
    explicit: Mapping[str, str], node_id: int, host: str | None, port: int | None
) -> str | None:
    url = explicit.get(str(node_id)) or explicit.get(ANY_NODE)
    if url:
        return url
    if host and port:
        return f"http://{_url_host(host)}:{port}/metrics"
    return None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def node_role(
    node_id: int,
    jmx: Scrape | None,
    snapshot: ClusterSnapshot | None,
    controller_ids: tuple[int, ...] = (),
) -> str:
    """Broker or controller: metadata first, then what the endpoint exposes.

    Kafka 4 controllers also register BrokerTopicMetrics, so a ReplicaManager is the tell.  An
    unreachable node not in metadata is a controller only if it is a quorum voter: a broker that
    is down drops out of metadata, and it must still show as a broker.  Configured
    ``controller_ids`` settle it for nodes that do not answer.
    """
    if node_id in controller_ids:
        return "controller"
    if snapshot and node_id in {b.node_id for b in snapshot.brokers}:
        return "broker"
    if jmx is not None:
        if jmx.has(LEADER_COUNT) or jmx.has(UNDER_REPLICATED):
            return "broker"
        if jmx.has(ACTIVE_CONTROLLER):
            return "controller"
    if snapshot and node_id in snapshot.quorum_voters:
        return "controller"
    return "broker"


# ------------------------------------------------------------------------------ the source
class PrometheusSource:
    """Fills :class:`ClusterMetrics` from Prometheus exporters or a Prometheus server."""

    def __init__(
        self,
        settings: PrometheusSettings,
        *,
        network_capacity_bytes_per_s: float | None = None,
        scrape_interval_s: float | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``scrape_interval_s`` overrides the server's (server mode); ``transport``, ``clock``
        and ``sleep`` exist for tests."""
        self.settings = settings
        self.network_capacity_bytes_per_s = network_capacity_bytes_per_s
        self.scrape_interval_s = scrape_interval_s
        self.timeout_s = settings.timeout / 1000
        self._client = httpx.Client(
            timeout=self.timeout_s, transport=transport, headers={"Accept": "text/plain"}
        )
        self._clock = clock
        self._sleep = sleep
        self._previous: dict[str, Scrape] = {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def collect(self, snapshot: ClusterSnapshot | None) -> ClusterMetrics:
        """One reading of every node: rates over the window, gauges as of now."""
        if self.settings.server:
            return self._collect_server(self.settings.server, snapshot)
        return self._collect_direct(snapshot)

    # ----------------------------------------------------------------- direct scraping
    def _collect_direct(self, snapshot: ClusterSnapshot | None) -> ClusterMetrics:
        targets = resolve_targets(self.settings, snapshot)
        urls = list(dict.fromkeys(u for t in targets for u in (t.jmx_url, t.node_url) if u))
        errors = self._prime(urls)
        current, failed = self._scrape_all([u for u in urls if u not in errors])
        errors.update(failed)
        pairs = {u: (self._previous.get(u), s) for u, s in current.items()}
        self._previous.update(current)
        for url in errors:
            self._previous.pop(url, None)
        nodes = tuple(self._direct_node(t, pairs, errors, snapshot) for t in targets)
        elapsed = [s.taken_at - p.taken_at for p, s in pairs.values() if p is not None]
        return ClusterMetrics(
            source=MetricSource.PROMETHEUS.value,
            collected_at_ms=int(time.time() * 1000),
            window_s=round(max(elapsed), 3) if elapsed else 0.0,
            nodes=nodes,
            network_capacity_bytes_per_s=self.network_capacity_bytes_per_s,
            errors=tuple(f"{url}: {msg}" for url, msg in errors.items()),
            detail=f"scraped {len(urls)} endpoint(s): {', '.join(urls)}"
            if urls
            else "no endpoints",
        )

    def _prime(self, urls: list[str]) -> dict[str, str]:
        """First sample for endpoints without a usable previous one, then wait ``window``."""
        window_s = self.settings.window / 1000
        now = self._clock()
        stale = [
            u
            for u in urls
            if u not in self._previous
            or now - self._previous[u].taken_at > STALE_WINDOWS * window_s
        ]
        if not stale:
            return {}
        primed, errors = self._scrape_all(stale)
        self._previous.update(primed)
        if primed:
            self._sleep(window_s)
        return errors

    def _scrape_all(self, urls: list[str]) -> tuple[dict[str, Scrape], dict[str, str]]:
        """Scrape concurrently; returns (scrapes, errors) by URL, within ~2 timeouts."""
        results = _run_concurrently({u: u for u in urls}, self._scrape, 2 * self.timeout_s + 1)
        scrapes = {u: r for u, r in results.items() if isinstance(r, Scrape)}
        errors = {u: str(r) for u, r in results.items() if not isinstance(r, Scrape)}
        return scrapes, errors

    def _scrape(self, url: str) -> Scrape:
        response = self._client.get(url)
        response.raise_for_status()
        taken_at = self._clock()
        return parse_exposition(response.text, url=url, taken_at=taken_at)

    def _direct_node(
        self,
        target: Target,
        pairs: Mapping[str, tuple[Scrape | None, Scrape]],
        errors: Mapping[str, str],
        snapshot: ClusterSnapshot | None,
    ) -> NodeMetrics:
        jmx_prev, jmx = pairs.get(target.jmx_url or "", (None, None))
        host_prev, host = pairs.get(target.node_url or "", (None, None))
        problems = [
            f"{kind} {url}: {errors[url]}"
            for kind, url in (("JMX exporter", target.jmx_url), ("node exporter", target.node_url))
            if url and url in errors
        ]
        values: dict[str, Any] = {}
        if jmx is not None:
            values.update(_jmx_values(jmx_prev, jmx))
        if host is not None:
            values.update(_host_values(host_prev, host, self.settings.data_mountpoint))
        return NodeMetrics(
            node_id=target.node_id,
            role=node_role(target.node_id, jmx, snapshot, self.settings.controller_ids),
            error="; ".join(problems) or None,
            **values,
        )

    # --------------------------------------------------------------------- server mode
    def _collect_server(self, server: str, snapshot: ClusterSnapshot | None) -> ClusterMetrics:
        errors: list[str] = []
        range_ms = self._range_ms(server, errors)
        queries = server_queries(self.settings.node_label, range_ms, self.settings.data_mountpoint)
        results = _run_concurrently(
            queries, lambda q: self._query(server, q), 2 * self.timeout_s + 1
        )
        by_field: dict[str, dict[int, float]] = {}
        for name, result in results.items():
            if isinstance(result, BaseException):
                errors.append(f"{name}: {queries[name]}: {result}")
            else:
                by_field[name] = result
        down = self._down_targets(server, errors)
        nodes = _server_nodes(by_field, down, snapshot, self.settings.controller_ids)
        return ClusterMetrics(
            source=MetricSource.PROMETHEUS.value,
            collected_at_ms=int(time.time() * 1000),
            window_s=range_ms / 1000,
            nodes=nodes,
            network_capacity_bytes_per_s=self.network_capacity_bytes_per_s,
            errors=tuple(errors),
            detail=f"Prometheus server {server} (label {self.settings.node_label})",
        )

    def _range_ms(self, server: str, errors: list[str]) -> int:
        """max(window, 4 × scrape interval), in ms."""
        interval_s = self.scrape_interval_s
        if interval_s is None:
            try:
                interval_s = self._server_scrape_interval(server)
            except Exception as exc:  # any failure: fall back, say so
                errors.append(f"scrape interval from {server}/api/v1/targets: {_describe(exc)}")
            interval_s = interval_s or DEFAULT_SCRAPE_INTERVAL_S
        return max(self.settings.window, math.ceil(4 * interval_s * 1000))

    def _server_scrape_interval(self, server: str) -> float | None:
        data = self._api(server, "/api/v1/targets", {"state": "active"})
        label = self.settings.node_label
        intervals = [
            parse_duration_s(str(t["scrapeInterval"]))
            for t in data.get("activeTargets", [])
            if label in t.get("labels", {}) and t.get("scrapeInterval")
        ]
        return max(intervals) if intervals else None

    def _query(self, server: str, promql: str) -> dict[int, float]:
        """An instant query's vector as {node id: value}; series without a numeric id dropped."""
        data = self._api(server, "/api/v1/query", {"query": promql})
        out: dict[int, float] = {}
        for series in data.get("result", []):
            node = str(series.get("metric", {}).get(self.settings.node_label, ""))
            value = _finite(float(series["value"][1]))
            if node.isdigit() and value is not None:
                out[int(node)] = value
        return out

    def _down_targets(self, server: str, errors: list[str]) -> dict[int, str]:
        """Targets whose last scrape failed (``up == 0``), described, by node id."""
        try:
            data = self._api(server, "/api/v1/query", {"query": "up == 0"})
        except Exception as exc:
            errors.append(f"up == 0: {_describe(exc)}")
            return {}
        down: dict[int, str] = {}
        for series in data.get("result", []):
            labels = series.get("metric", {})
            node = str(labels.get(self.settings.node_label, ""))
            if node.isdigit():
                what = f"target {labels.get('instance', '?')} (job {labels.get('job', '?')}) down"
                down[int(node)] = f"{down[int(node)]}; {what}" if int(node) in down else what
        return down

    def _api(self, server: str, path: str, params: dict[str, str]) -> dict[str, Any]:
        response = self._client.get(f"{server}{path}", params=params)
        try:
            body = response.json()
        except ValueError:
            response.raise_for_status()
            raise
        if body.get("status") != "success":
            raise RuntimeError(f"{body.get('errorType', 'error')}: {body.get('error', body)}")
        return dict(body.get("data") or {})


# ------------------------------------------------------------------------ value builders
def _jmx_values(prev: Scrape | None, cur: Scrape) -> dict[str, Any]:
    """NodeMetrics fields from a JMX exporter: gauges from ``cur``, rates from the pair."""
    values: dict[str, Any] = {
        "process_cpu_percent": process_cpu_percent(cur),
        "under_replicated_partitions": _int_gauge(cur, UNDER_REPLICATED),
        "under_min_isr_partitions": _int_gauge(cur, UNDER_MIN_ISR),
        "offline_partitions": _int_gauge(cur, OFFLINE_PARTITIONS),
        "active_controller": _int_gauge(cur, ACTIVE_CONTROLLER),
        "request_handler_idle_percent": _idle_percent(cur),
    }
    if prev is not None:
        values.update(
            bytes_in_per_s=counter_rate(prev, cur, BYTES_IN),
            bytes_out_per_s=counter_rate(prev, cur, BYTES_OUT),
            network_bytes_per_s=summed_rate(prev, cur, NETWORK_COUNTERS),
            produce_requests_per_s=counter_rate(prev, cur, PRODUCE_REQUESTS),
            failed_produce_requests_per_s=counter_rate(prev, cur, FAILED_PRODUCE_REQUESTS),
        )
    return values


def _host_values(prev: Scrape | None, cur: Scrape, mountpoint: str) -> dict[str, Any]:
    """NodeMetrics fields from a node exporter."""
    return {
        "cpu_percent": cpu_busy_percent(prev, cur) if prev is not None else None,
        "memory_percent": memory_percent(cur),
        "disk_percent": disk_percent(cur, mountpoint),
    }


#: NodeMetrics fields that are integers (server mode returns floats).
_INT_FIELDS = frozenset(
    {
        "under_replicated_partitions",
        "under_min_isr_partitions",
        "offline_partitions",
        "active_controller",
    }
)


def server_queries(label: str, range_ms: int, mountpoint: str) -> dict[str, str]:
    """PromQL per NodeMetrics field (plus ``_broker`` / ``_controller`` for roles)."""
    r = f"{range_ms}ms"
    mount = json.dumps(mountpoint)  # a PromQL string literal: Go-style escapes
    size, free = (f"{FS_SIZE}{{mountpoint={mount}}}", f"{FS_FREE}{{mountpoint={mount}}}")

    def rate(name: str) -> str:
        return f'sum by ({label}) (rate({name}{{topic=""}}[{r}]))'

    def gauge(name: str, scale: str = "") -> str:
        return f"{scale}max by ({label}) ({name})"

    used = f"({gauge(size)} - {gauge(free)})"
    return {
        "bytes_in_per_s": rate(BYTES_IN),
        "bytes_out_per_s": rate(BYTES_OUT),
        # Four sums added: one rate() over a __name__ regex would clash on identical labels.
        "network_bytes_per_s": " + ".join(rate(n) for n in NETWORK_COUNTERS),
        "produce_requests_per_s": rate(PRODUCE_REQUESTS),
        "failed_produce_requests_per_s": rate(FAILED_PRODUCE_REQUESTS),
        "cpu_percent": (
            f'100 * (1 - sum by ({label}) (rate({NODE_CPU}{{mode="idle"}}[{r}]))'
            f" / sum by ({label}) (rate({NODE_CPU}[{r}])))"
        ),
        "process_cpu_percent": gauge(f"{PROCESS_CPU} >= 0", "100 * "),
        "memory_percent": (f"100 * (1 - {gauge(MEM_AVAILABLE)} / {gauge(MEM_TOTAL)})"),
        "disk_percent": (
            f"100 * ({used} / ({used} + {gauge(f'{FS_AVAIL}{{mountpoint={mount}}}')}))"
        ),
        "under_replicated_partitions": gauge(UNDER_REPLICATED),
        "under_min_isr_partitions": gauge(UNDER_MIN_ISR),
        "offline_partitions": gauge(OFFLINE_PARTITIONS),
        "active_controller": gauge(ACTIVE_CONTROLLER),
        "request_handler_idle_percent": gauge(HANDLER_IDLE, "100 * "),
        "_broker": f"count by ({label}) ({LEADER_COUNT})",
        "_controller": f"count by ({label}) ({ACTIVE_CONTROLLER})",
    }


def _server_nodes(
    by_field: Mapping[str, Mapping[int, float]],
    down: Mapping[int, str],
    snapshot: ClusterSnapshot | None,
    controller_ids: tuple[int, ...] = (),
) -> tuple[NodeMetrics, ...]:
    """One NodeMetrics per node id any query (or ``up``) named."""
    ids = set(down).union(*by_field.values()) if by_field else set(down)
    brokers = {b.node_id for b in snapshot.brokers} if snapshot else set()
    nodes = []
    for node_id in sorted(ids):
        values: dict[str, Any] = {}
        for name, result in by_field.items():
            if name.startswith("_") or node_id not in result:
                continue
            value = result[node_id]
            if name in _INT_FIELDS:
                values[name] = round(value)
            else:
                values[name] = _percent(value / 100) if name.endswith("_percent") else value
        if node_id in brokers or node_id in by_field.get("_broker", {}):
            role = "broker"
        elif node_id in by_field.get("_controller", {}):
            role = "controller"
        else:
            voters = set(snapshot.quorum_voters) if snapshot else set()
            role = "controller" if node_id in voters | set(controller_ids) else "broker"
        nodes.append(NodeMetrics(node_id=node_id, role=role, error=down.get(node_id), **values))
    return tuple(nodes)


# ------------------------------------------------------------------------------- helpers
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_duration_s(text: str) -> float:
    """A Prometheus duration (``15s``, ``1m30s``, ``500ms``) in seconds."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a Prometheus duration")
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def _describe(exc: BaseException) -> str:
    """A short, readable reason: ``ConnectError: [Errno 111] Connection refused``."""
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    text = str(exc) or "no detail"
    return f"{type(exc).__name__}: {text}"


class _Failure(Exception):
    """A task's failure, already described (what the callers store as the error text)."""


def _run_concurrently(
    tasks: Mapping[str, Any], work: Callable[[Any], Any], deadline_s: float
) -> dict[str, Any]:
    """Run ``work`` on every task in threads; each result or a :class:`_Failure`.

    Abandons (does not wait for) tasks still running after ``deadline_s``: a peer that trickles
    bytes can defeat httpx's per-read timeout, and a health check must never hang on one.
    """
    if not tasks:
        return {}
    pool = ThreadPoolExecutor(max_workers=min(16, len(tasks)), thread_name_prefix="prom")
    try:
        futures: dict[str, Future[Any]] = {k: pool.submit(work, v) for k, v in tasks.items()}
        wait_futures(futures.values(), timeout=deadline_s)
        return {k: _outcome(f, deadline_s) for k, f in futures.items()}
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _outcome(future: Future[Any], deadline_s: float) -> Any:
    if not future.done():
        return _Failure(f"no answer within {deadline_s:g}s")
    exc = future.exception()
    return _Failure(_describe(exc)) if exc is not None else future.result()
