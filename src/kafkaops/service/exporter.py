"""``/metrics``: the watch loop's facts in the Prometheus exposition format.

Names follow kafka_exporter where one exists (``kafka_brokers``, ``kafka_topic_partitions``,
``kafka_topic_partition_current_offset``, ``kafka_consumergroup_lag``,
``kafka_consumergroup_lag_sum``, ``kafka_consumergroup_members``), so existing dashboards and
alerts keep working; everything kafkaops adds is ``kafkaops_*``.  Every series carries a
``cluster`` label.  The full list is in ``docs/metrics.md``.

Why custom collectors over the watcher's snapshots instead of global ``Gauge`` objects: a gauge
set per partition keeps series of deleted topics and groups forever, and updating 10,000
children every cycle costs more than rendering them.  Why pre-rendered: the snapshot families
change once per cycle but are scraped by every Prometheus replica and dashboard; they are
rendered once per cycle (in the loop's thread, right after the cycle) and served as bytes, so a
scrape of a 10,000-partition cluster costs a byte copy plus the few live families (incidents,
loop counters).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from kafkaops.core.model import CheckStatus, ClusterSnapshot, HealthReport, Severity
from kafkaops.lag.status import LagStatus
from kafkaops.service.auth import require_read
from kafkaops.service.outbox_metrics import outbox_families
from kafkaops.service.state import ServiceState
from kafkaops.service.views import active_controller, disk_percent

if TYPE_CHECKING:
    from kafkaops.core.broker_metrics import ClusterMetrics

log = logging.getLogger(__name__)

#: Higher is worse, so ``kafkaops_cluster_severity >= 2`` means "P1 or P0".
SEVERITY_CODE = {Severity.OK: 0, Severity.P2: 1, Severity.P1: 2, Severity.P0: 3}
#: NodeMetrics attribute → metric name suffix and help.
BROKER_METRICS = (
    ("cpu_percent", "cpu_percent", "Host CPU in use, percent of all cores."),
    ("process_cpu_percent", "process_cpu_percent", "Broker JVM CPU, percent of all cores."),
    ("memory_percent", "memory_percent", "Host memory in use, percent."),
    ("disk_percent", "metrics_disk_percent", "Log-dir filesystem use from the metrics source."),
    ("bytes_in_per_s", "bytes_in_per_second", "Client bytes in per second."),
    ("bytes_out_per_s", "bytes_out_per_second", "Client bytes out per second."),
    ("network_bytes_per_s", "network_bytes_per_second", "All bytes on the wire per second."),
    ("produce_requests_per_s", "produce_requests_per_second", "Produce requests per second."),
    (
        "failed_produce_requests_per_s",
        "failed_produce_requests_per_second",
        "Failed produce requests per second.",
    ),
    (
        "request_handler_idle_percent",
        "request_handler_idle_percent",
        "Request handler threads idle, percent.",
    ),
)


def _g(name: str, doc: str, labels: Iterable[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def _f(name: str, doc: str, labels: Iterable[str]) -> _Family:
    return _Family(name, doc, labels)


@functools.lru_cache(maxsize=1 << 16)
def _esc(value: str) -> str:
    """Label value escaping of the text format (backslash, double quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Family:
    """One gauge family written straight to exposition lines.

    Why not ``GaugeMetricFamily``: it builds a ``Sample`` (with a label dict) per value and
    ``generate_latest`` formats each again; for the ~100,000 samples of a 10,000-partition
    cluster with its consumer groups that took ~1.4 s per cycle, this takes a fraction of it.
    The output is checked with prometheus_client's own parser in the tests.
    """

    __slots__ = ("head", "lines", "name", "template")

    def __init__(self, name: str, doc: str, labels: Iterable[str]) -> None:
        self.name = name
        self.head = f"# HELP {name} {doc}\n# TYPE {name} gauge\n"
        names = tuple(labels)
        inner = ",".join(f'{k}="%s"' for k in names)
        self.template = f"{name}{{{inner}}} %s" if names else f"{name} %s"
        self.lines: list[str] = []

    def add(self, values: Sequence[str], value: float) -> None:
        labels = tuple(_esc(v) for v in values)
        self.lines.append(self.template % (*labels, _number(value)))

    def text(self) -> str:
        return self.head + "".join(line + "\n" for line in self.lines)


def _number(value: float) -> str:
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    return repr(float(value))


# ------------------------------------------------------------------- per-cycle families
class SnapshotRenderer:
    """Families derived from the last snapshot and report of every cluster (once per cycle)."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state

    def render(self) -> bytes:
        return "".join(f.text() for f in self.families()).encode("utf-8")

    def families(self) -> Iterator[_Family]:
        fams = _Families()
        for name in self.state.cluster_names():
            cs = self.state.cluster(name)
            fams.cluster(name, cs.failures, cs.last_report, cs.last_snapshot)
            snap = cs.last_snapshot
            if snap is not None:
                fams.brokers(name, snap)
                fams.topics(name, snap)
                fams.groups(name, snap, self._statuses(name))
                for source in snap.metrics:
                    fams.broker_metrics(name, source)
        yield from fams.all()

    def _statuses(self, name: str) -> dict[str, Any]:
        try:
            return self.state.statuses(name)
        except Exception as exc:  # a store hiccup must not cost the whole scrape
            log.warning("consumer status for %s unavailable: %s", name, type(exc).__name__)
            return {}


class _Families:
    """Builds every family once, adding each cluster's samples to it."""

    def __init__(self) -> None:
        c, cb, cg = ("cluster",), ("cluster", "broker"), ("cluster", "consumergroup")
        ctp = ("cluster", "topic", "partition")
        self.up = _f("kafkaops_cluster_up", "1 if the last collection reached the cluster.", c)
        self.healthy = _f(
            "kafkaops_cluster_healthy", "1 if overall_healthy (no finding triggered).", c
        )
        self.severity = _f(
            "kafkaops_cluster_severity", "Worst triggered finding: 0 OK, 1 P2, 2 P1, 3 P0.", c
        )
        self.failures = _f(
            "kafkaops_cluster_consecutive_failures", "Consecutive failed collections.", c
        )
        self.findings = _f(
            "kafkaops_findings", "Triggered findings by severity.", ("cluster", "severity")
        )
        self.snapshot_ts = _f(
            "kafkaops_snapshot_timestamp_seconds", "When the last good snapshot was taken.", c
        )
        self.snapshot_dur = _f(
            "kafkaops_snapshot_duration_seconds", "How long the last snapshot took.", c
        )
        self.snapshot_errors = _f(
            "kafkaops_snapshot_errors", "Requests the last snapshot got no answer to.", c
        )
        self.brokers_n = _f("kafka_brokers", "Brokers in the cluster metadata.", c)
        self.broker_up = _f("kafkaops_broker_up", "1 if the broker answered.", cb)
        self.controller = _f(
            "kafkaops_active_controller", "1 on the active controller (KRaft quorum leader).", cb
        )
        self.controller_count = _f(
            "kafkaops_active_controller_count", "Active controllers known (1 is healthy).", c
        )
        self.voters = _f("kafkaops_quorum_voters", "KRaft controller quorum voters.", c)
        self.log_bytes = _f("kafkaops_broker_log_bytes", "Bytes in the broker's log dirs.", cb)
        self.disk_pct = _f(
            "kafkaops_broker_disk_usage_percent",
            "Fullest log-dir filesystem of the broker, percent.",
            cb,
        )
        self.dir_bytes = _f(
            "kafkaops_log_dir_bytes", "Bytes of partition data per log dir.", (*cb, "path")
        )
        self.dir_total = _f(
            "kafkaops_log_dir_total_bytes", "Size of the log dir's filesystem.", (*cb, "path")
        )
        self.dir_usable = _f(
            "kafkaops_log_dir_usable_bytes",
            "Free space of the log dir's filesystem.",
            (*cb, "path"),
        )
        self.offline = _f("kafkaops_offline_partitions", "Partitions without a leader.", c)
        self.urp = _f("kafkaops_under_replicated_partitions", "Partitions with ISR < replicas.", c)
        self.umi = _f("kafkaops_under_min_isr_partitions", "Partitions with ISR < min ISR.", c)
        ct = ("cluster", "topic")
        self.topic_parts = _f("kafka_topic_partitions", "Partitions of the topic.", ct)
        self.topic_urp = _f(
            "kafkaops_topic_under_replicated_partitions", "Under-replicated partitions.", ct
        )
        self.topic_offline = _f("kafkaops_topic_offline_partitions", "Offline partitions.", ct)
        self.topic_umi = _f(
            "kafkaops_topic_under_min_isr_partitions", "Partitions under min ISR.", ct
        )
        self.offset = _f(
            "kafka_topic_partition_current_offset", "Log-end offset of the partition.", ctp
        )
        self.lag = _f(
            "kafka_consumergroup_lag",
            "Offset lag of the group on the partition.",
            ("cluster", "consumergroup", "topic", "partition"),
        )
        self.lag_sum = _f(
            "kafka_consumergroup_lag_sum",
            "Offset lag of the group summed over the topic.",
            ("cluster", "consumergroup", "topic"),
        )
        self.members = _f("kafka_consumergroup_members", "Members of the group.", cg)
        self.time_lag = _f(
            "kafkaops_consumergroup_time_lag_seconds",
            "Worst time lag of the group (age of the oldest unconsumed record).",
            (*cg, "method"),
        )
        self.part_time_lag = _f(
            "kafkaops_consumergroup_partition_time_lag_seconds",
            "Time lag of the group on the partition.",
            ("cluster", "consumergroup", "topic", "partition", "method"),
        )
        self.status = _f(
            "kafkaops_consumergroup_status",
            "1 for the group's current consumer status (OK, WARN, STOP, STALL, REWIND).",
            (*cg, "status"),
        )
        self.status_code = _f(
            "kafkaops_consumergroup_status_code",
            "Consumer status as a number: 0 OK, 1 WARN, 2 ERR, 3 STOP, 4 STALL, 5 REWIND.",
            cg,
        )
        bm = ("cluster", "broker", "role", "source")
        self.node = [
            (attr, _f(f"kafkaops_broker_{suffix}", doc, bm)) for attr, suffix, doc in BROKER_METRICS
        ]

    def all(self) -> Iterator[_Family]:
        for value in vars(self).values():
            if isinstance(value, _Family):
                yield value
        for _, fam in self.node:
            yield fam

    def cluster(
        self,
        name: str,
        failures: int,
        report: HealthReport | None,
        snap: ClusterSnapshot | None,
    ) -> None:
        up = failures == 0 and snap is not None
        self.up.add([name], 1.0 if up else 0.0)
        self.failures.add([name], failures)
        if report is not None:
            self.healthy.add([name], 1.0 if report.overall_healthy else 0.0)
            self.severity.add([name], SEVERITY_CODE[report.severity])
            counts = dict.fromkeys(("P0", "P1", "P2"), 0)
            for f in report.checks:
                if f.status == CheckStatus.TRIGGERED and f.severity.value in counts:
                    counts[f.severity.value] += 1
            for sev, n in counts.items():
                self.findings.add([name, sev], n)
        if snap is None:
            return
        self.snapshot_ts.add([name], snap.taken_at_ms / 1000)
        self.snapshot_dur.add([name], snap.duration_ms / 1000)
        self.snapshot_errors.add([name], len(snap.errors))

    def brokers(self, name: str, snap: ClusterSnapshot) -> None:
        self.brokers_n.add([name], len(snap.brokers))
        controller = active_controller(snap)
        self.controller_count.add([name], 0 if controller is None else 1)
        self.voters.add([name], len(snap.quorum_voters))
        for b in snap.brokers:
            bid = str(b.node_id)
            self.broker_up.add([name, bid], 1.0 if b.reachable else 0.0)
        if controller is not None:
            self.controller.add([name, str(controller)], 1.0)
        used: dict[int, int] = {}
        worst: dict[int, float] = {}
        for d in snap.log_dirs:
            bid = str(d.broker)
            used[d.broker] = used.get(d.broker, 0) + d.used_bytes
            self.dir_bytes.add([name, bid, d.path], d.used_bytes)
            if d.total_bytes is not None:
                self.dir_total.add([name, bid, d.path], d.total_bytes)
            if d.usable_bytes is not None:
                self.dir_usable.add([name, bid, d.path], d.usable_bytes)
            pct = disk_percent(d)
            if pct is not None:
                worst[d.broker] = max(pct, worst.get(d.broker, 0.0))
        for broker, n in sorted(used.items()):
            self.log_bytes.add([name, str(broker)], n)
        for broker, pct in sorted(worst.items()):
            self.disk_pct.add([name, str(broker)], pct)

    def topics(self, name: str, snap: ClusterSnapshot) -> None:
        offline = urp = umi = 0
        offset = self.offset.add
        for t in snap.topics:
            t_off = t_urp = t_umi = 0
            for p in t.partitions:
                t_off += p.leader < 0
                t_urp += len(p.isr) < len(p.replicas)
                t_umi += len(p.isr) < p.min_isr
                if p.log_end_offset is not None:
                    offset([name, t.name, str(p.partition)], p.log_end_offset)
            self.topic_parts.add([name, t.name], len(t.partitions))
            self.topic_offline.add([name, t.name], t_off)
            self.topic_urp.add([name, t.name], t_urp)
            self.topic_umi.add([name, t.name], t_umi)
            offline, urp, umi = offline + t_off, urp + t_urp, umi + t_umi
        self.offline.add([name], offline)
        self.urp.add([name], urp)
        self.umi.add([name], umi)

    def groups(self, name: str, snap: ClusterSnapshot, statuses: dict[str, Any]) -> None:
        lag, part_tl = self.lag.add, self.part_time_lag.add
        for g in snap.groups:
            gid = g.group_id
            self.members.add([name, gid], len(g.members))
            sums: dict[str, int] = {}
            worst: tuple[int, str] | None = None
            for p in g.partitions:
                part = str(p.partition)
                if p.lag is not None:
                    lag([name, gid, p.topic, part], p.lag)
                    sums[p.topic] = sums.get(p.topic, 0) + p.lag
                if p.time_lag_ms is not None:
                    method = p.time_lag_method or "exact"
                    part_tl([name, gid, p.topic, part, method], p.time_lag_ms / 1000)
                    if worst is None or p.time_lag_ms > worst[0]:
                        worst = (p.time_lag_ms, method)
            for topic, total in sums.items():
                self.lag_sum.add([name, gid, topic], total)
            if worst is not None:
                self.time_lag.add([name, gid, worst[1]], worst[0] / 1000)
            st = statuses.get(gid)
            if st is not None:
                self.status.add([name, gid, st.status.value], 1.0)
                self.status_code.add([name, gid], LagStatus(st.status).rank)

    def broker_metrics(self, name: str, source: ClusterMetrics) -> None:
        for n in source.nodes:
            labels = [name, str(n.node_id), n.role, source.source]
            for attr, fam in self.node:
                value = getattr(n, attr)
                if value is not None:
                    fam.add(labels, float(value))


# ------------------------------------------------------------------------ live families
class LiveCollector:
    """Families that change between cycles: incidents, loop counters, leadership."""

    def __init__(self, state: ServiceState, render_seconds: float) -> None:
        self.state = state
        self.render_seconds = render_seconds

    def collect(self) -> Iterator[Metric]:
        state = self.state
        dur = _g("kafkaops_collection_duration_seconds", "Duration of the last cycle.", ["cluster"])
        errors = CounterMetricFamily(
            "kafkaops_collection_errors",
            "Cycles that could not reach the cluster.",
            labels=["cluster"],
        )
        cycles = CounterMetricFamily(
            "kafkaops_collection_cycles",
            "Cycles run since the service started.",
            labels=["cluster"],
        )
        for name in state.cluster_names():
            st = state.loop_stats(name)
            if st.last_duration_s is not None:
                dur.add_metric([name], st.last_duration_s)
            errors.add_metric([name], st.errors)
            cycles.add_metric([name], st.cycles)
        yield from (dur, errors, cycles)
        yield self._incidents()
        yield from outbox_families(state.runtime)
        yield GaugeMetricFamily(
            "kafkaops_leader",
            "1 if this instance holds the watch lease.",
            1.0 if state.watcher.leader else 0.0,
        )
        yield GaugeMetricFamily(
            "kafkaops_up", "1 while the watch loop thread runs.", 1.0 if state.loop_alive() else 0.0
        )
        yield GaugeMetricFamily(
            "kafkaops_metrics_render_seconds",
            "Time the last per-cycle render took.",
            self.render_seconds,
        )

    def _incidents(self) -> GaugeMetricFamily:
        fam = _g(
            "kafkaops_incidents",
            "Open and acknowledged incidents.",
            ("cluster", "severity", "state"),
        )
        counts: dict[tuple[str, str, str], int] = {
            (c, sev, st): 0
            for c in self.state.cluster_names()
            for sev in ("P0", "P1", "P2")
            for st in ("open", "acknowledged")
        }
        try:
            counts.update(_incident_counts(self.state))
        except Exception as exc:  # store down: report zeros' absence rather than failing
            log.warning("incident counts unavailable: %s", type(exc).__name__)
            return fam
        for (cluster, sev, st), n in sorted(counts.items()):
            fam.add_metric([cluster, sev, st], n)
        return fam


def _incident_counts(state: ServiceState) -> dict[tuple[str, str, str], int]:
    """Open and acknowledged incidents by (cluster, severity, status), from the store."""
    return state.runtime.incidents.active_incident_counts()


# ---------------------------------------------------------------------------- exporter
class Exporter:
    """Renders the per-cycle families once per change and serves them as bytes."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self._renderer = SnapshotRenderer(state)
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._body = b""
        self._gzip: _GzipHead | None = None
        self._stale_since: float | None = None
        self.render_seconds = 0.0

    def _current_key(self) -> tuple[Any, ...]:
        """What the per-cycle families show: the watcher's current objects, compared by
        identity.  Holding the objects (not their ``id()``) means a freed snapshot's id cannot
        be reused by the next one and leave the cache stale."""
        parts: list[Any] = []
        for name in self.state.cluster_names():
            cs = self.state.cluster(name)
            parts += [name, cs.failures, cs.last_snapshot, cs.last_report]
        return tuple(parts)

    def _unchanged(self, key: tuple[Any, ...]) -> bool:
        old = self._key
        if old is None or len(old) != len(key):
            return False
        return all(
            a is b or (isinstance(a, str | int) and a == b) for a, b in zip(old, key, strict=True)
        )

    def refresh(self) -> bytes:
        """Re-render if the watcher has new facts; cheap when nothing changed."""
        key = self._current_key()
        if self._unchanged(key):
            return self._body
        with self._lock:
            if not self._unchanged(key):
                started = time.perf_counter()
                body = self._renderer.render()
                gzip = _GzipHead(body)
                self.render_seconds = time.perf_counter() - started
                self._body, self._gzip, self._key = body, gzip, key
                self._stale_since = None
            return self._body

    def _scrape_body(self) -> bytes:
        """The per-cycle body for a scrape, which never waits for a render in progress.

        The loop thread re-renders right after each cycle (``refresh``); on a big cluster that
        takes seconds (10,000 partitions and 2,000 groups: ~8 s on 2 busy cores, mostly the
        consumer statuses read from the store).  A scrape that waited on the lock meanwhile was
        the whole /metrics p99 (bench/README.md, "Service load and soak"), so scrapes serve the
        previous body until the new one is ready.  A scrape renders itself only when there is
        no body yet, or the loop has not refreshed a changed view for three intervals (at least
        60 s): a render that failed in the loop is retried by the next scrape after that.
        """
        key = self._current_key()
        if not self._body or self._unchanged(key):
            return self.refresh()
        now = time.monotonic()
        if self._stale_since is None:
            self._stale_since = now
        if now - self._stale_since < max(3 * self.state.interval_s, 60.0):
            return self._body
        return self.refresh()

    def render(self, *, gzip: bool = False) -> bytes:
        """The page; ``gzip``: as one gzip stream (the per-cycle part compressed once)."""
        body = self._scrape_body()
        head = self._gzip
        live = generate_latest(LiveCollector(self.state, self.render_seconds))
        if gzip and head is not None and head.body is body:
            return head.finish(live)
        if gzip:
            return zlib.compress(body + live, 1, wbits=31)
        return body + live


class _GzipHead:
    """The per-cycle body compressed once, its gzip stream left open for each scrape's tail.

    Prometheus asks for ``Accept-Encoding: gzip``; the body of a 10,000-partition cluster is
    ~14 MB of text and ~0.4 MB gzipped (level 1, ~20 ms once per cycle).  Sending 14 MB per
    scrape through the event loop was most of the remaining /metrics latency.  A copy of the
    open compressor finishes one valid gzip member with the live families, so clients that
    read only the first member of a stream (Python's ``zlib`` decoders) get the whole page.
    """

    __slots__ = ("_z", "body", "head")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self._z = zlib.compressobj(1, zlib.DEFLATED, 31)
        self.head = self._z.compress(body)

    def finish(self, tail: bytes) -> bytes:
        z = self._z.copy()
        return self.head + z.compress(tail) + z.flush()


def accepts_gzip(accept_encoding: str) -> bool:
    """``gzip`` listed in Accept-Encoding and not refused with ``q=0``."""
    for item in accept_encoding.lower().split(","):
        name, _, params = item.partition(";")
        if name.strip() in ("gzip", "x-gzip"):
            q = params.replace(" ", "")
            return not (q.startswith("q=0") and q.strip("q=0.") == "")
    return False


def metrics_router(exporter: Exporter) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/metrics",
        tags=["metrics"],
        response_class=Response,
        dependencies=[Depends(require_read)],
        responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}, "description": "metrics"}},
    )
    def metrics(request: Request) -> Response:
        """Prometheus exposition format (text 0.0.4); names in docs/metrics.md.  Gzipped when
        the client accepts it (Prometheus does)."""
        gzip = accepts_gzip(request.headers.get("accept-encoding", ""))
        headers = {"Vary": "Accept-Encoding"} | ({"Content-Encoding": "gzip"} if gzip else {})
        return Response(
            exporter.render(gzip=gzip), media_type=CONTENT_TYPE_PLAIN_0_0_4, headers=headers
        )

    return router
