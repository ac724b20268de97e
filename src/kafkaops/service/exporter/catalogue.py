"""Every metric on ``/metrics``: names, help, labels, and which facts feed them.

Per-cycle families come from each cluster's last snapshot and report (rendered once per cycle);
live families (incidents, loop counters, leadership) are read at every scrape.  The names are
documented in ``docs/metrics.md``: change both together.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from kafkaops.core.model import CheckStatus, ClusterSnapshot, HealthReport, Severity
from kafkaops.lag.status import LagStatus
from kafkaops.service.exporter.render import Family, label_head
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


def _f(name: str, doc: str, labels: Iterable[str]) -> Family:
    return Family(name, doc, labels)


class SnapshotFamilies:
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
        # kafka_exporter's partition families, same names and labels (plus "cluster"), so the
        # Grafana dashboards built on it keep working (issue 16, metrics parity).
        self.oldest = _f(
            "kafka_topic_partition_oldest_offset", "Log-start offset of the partition.", ctp
        )
        self.leader = _f(
            "kafka_topic_partition_leader", "Leader broker id of the partition (-1: none).", ctp
        )
        self.replicas = _f("kafka_topic_partition_replicas", "Replicas of the partition.", ctp)
        self.isr = _f(
            "kafka_topic_partition_in_sync_replica", "In-sync replicas of the partition.", ctp
        )
        self.preferred = _f(
            "kafka_topic_partition_leader_is_preferred",
            "1 if the partition's leader is its preferred replica.",
            ctp,
        )
        self.part_urp = _f(
            "kafka_topic_partition_under_replicated_partition",
            "1 if the partition is under-replicated.",
            ctp,
        )
        self.broker_info = _f(
            "kafka_broker_info", "Brokers in the cluster metadata.", ("cluster", "id", "address")
        )
        cgtp = ("cluster", "consumergroup", "topic", "partition")
        self.group_offset = _f(
            "kafka_consumergroup_current_offset", "Committed offset of the group.", cgtp
        )
        self.group_offset_sum = _f(
            "kafka_consumergroup_current_offset_sum",
            "Committed offsets of the group summed over the topic.",
            ("cluster", "consumergroup", "topic"),
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

    def all(self) -> Iterator[Family]:
        for value in vars(self).values():
            if isinstance(value, Family):
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
            self.broker_info.add([name, bid, f"{b.host}:{b.port}"], 1.0)
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
        per_partition = (self.offset, self.oldest, self.leader, self.replicas, self.isr,
                         self.preferred, self.part_urp)  # fmt: skip
        names = self.offset.label_names
        assert all(f.label_names == names for f in per_partition)  # one label set for all
        offset, oldest = self.offset.add_labelled, self.oldest.add_labelled
        leader, replicas = self.leader.add_labelled, self.replicas.add_labelled
        isr, preferred = self.isr.add_labelled, self.preferred.add_labelled
        part_urp = self.part_urp.add_labelled
        for t in snap.topics:
            t_off = t_urp = t_umi = 0
            head = label_head(names, (name, t.name))
            for p in t.partitions:
                under = len(p.isr) < len(p.replicas)
                t_off += p.leader < 0
                t_urp += under
                t_umi += len(p.isr) < p.min_isr
                key = f'{head}{p.partition}"}}'
                if p.log_end_offset is not None:
                    offset(key, p.log_end_offset)
                if p.log_start_offset is not None:
                    oldest(key, p.log_start_offset)
                leader(key, p.leader)
                replicas(key, len(p.replicas))
                isr(key, len(p.isr))
                preferred(key, 1 if p.replicas and p.leader == p.replicas[0] else 0)
                part_urp(key, 1 if under else 0)
            self.topic_parts.add([name, t.name], len(t.partitions))
            self.topic_offline.add([name, t.name], t_off)
            self.topic_urp.add([name, t.name], t_urp)
            self.topic_umi.add([name, t.name], t_umi)
            offline, urp, umi = offline + t_off, urp + t_urp, umi + t_umi
        self.offline.add([name], offline)
        self.urp.add([name], urp)
        self.umi.add([name], umi)

    def groups(self, name: str, snap: ClusterSnapshot, statuses: dict[str, Any]) -> None:
        names = self.lag.label_names
        assert self.group_offset.label_names == names  # one label set for both
        lag, group_offset = self.lag.add_labelled, self.group_offset.add_labelled
        part_tl = self.part_time_lag.add
        for g in snap.groups:
            gid = g.group_id
            self.members.add([name, gid], len(g.members))
            sums: dict[str, int] = {}
            offsets: dict[str, int] = {}
            heads: dict[str, str] = {}
            worst: tuple[int, str] | None = None
            for p in g.partitions:
                part = str(p.partition)
                head = heads.get(p.topic)
                if head is None:
                    head = heads[p.topic] = label_head(names, (name, gid, p.topic))
                labels = f'{head}{part}"}}'
                if p.committed is not None:
                    group_offset(labels, p.committed)
                    offsets[p.topic] = offsets.get(p.topic, 0) + p.committed
                if p.lag is not None:
                    lag(labels, p.lag)
                    sums[p.topic] = sums.get(p.topic, 0) + p.lag
                if p.time_lag_ms is not None:
                    method = p.time_lag_method or "exact"
                    part_tl([name, gid, p.topic, part, method], p.time_lag_ms / 1000)
                    if worst is None or p.time_lag_ms > worst[0]:
                        worst = (p.time_lag_ms, method)
            for topic, total in sums.items():
                self.lag_sum.add([name, gid, topic], total)
            for topic, total in offsets.items():
                self.group_offset_sum.add([name, gid, topic], total)
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
        phases = _g(
            "kafkaops_cycle_phase_seconds",
            "Wall time of the last cycle's phases (collect = waiting on the brokers).",
            ["cluster", "phase"],
        )
        for name in state.cluster_names():
            st = state.loop_stats(name)
            if st.last_duration_s is not None:
                dur.add_metric([name], st.last_duration_s)
            for phase, seconds in st.last_phases:
                phases.add_metric([name, phase], seconds)
            errors.add_metric([name], st.errors)
            cycles.add_metric([name], st.cycles)
        yield from (dur, phases, errors, cycles)
        yield from _sli_counters()
        yield self._incidents()
        yield from outbox_families(state.runtime)
        yield _build_info()
        yield from _lease_families(state)
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


def _build_info() -> GaugeMetricFamily:
    """``kafkaops_build_info{version,python}`` 1: which kafkaops answers (as *_build_info)."""
    import platform

    from kafkaops import __version__

    fam = _g(
        "kafkaops_build_info", "kafkaops version and Python running it.", ("version", "python")
    )
    fam.add_metric([__version__, platform.python_version()], 1.0)
    return fam


def _sli_counters() -> Iterator[Metric]:
    """Observed and bad seconds per SLI (the leader's, since it started): for Sloth/Pyrra,
    ``rate(…bad…)/rate(…observed…)`` is the error ratio; unknown time is in neither."""
    from kafkaops.slo.watch_hook import sli_seconds

    seen = CounterMetricFamily("kafkaops_sli_observed_seconds", "Time an SLI was observed.",
                               labels=["cluster", "sli"])  # fmt: skip
    bad = CounterMetricFamily("kafkaops_sli_bad_seconds", "Observed time the SLI was bad.",
                              labels=["cluster", "sli"])  # fmt: skip
    for (cluster, sli), (total, errors) in sorted(sli_seconds().items()):
        seen.add_metric([cluster, sli], total)
        bad.add_metric([cluster, sli], errors)
    yield from (seen, bad)


def _lease_families(state: ServiceState) -> Iterator[Metric]:
    """Who pages for which cluster, as this instance sees it, and its rejected writes.

    ``watch.sharing: per_cluster``: owned is 1 for the clusters whose lease this instance
    holds, with the term's epoch; single leader: 1 for every cluster while this instance holds
    the watch lease (no epoch).  ``sum by (cluster)`` of owned over all instances should be 1.
    Read from memory (what the loop acts on), no store query per scrape.
    """
    watcher = state.watcher
    sharing = getattr(watcher, "sharing", None)
    owned = _g(
        "kafkaops_cluster_lease_owned",
        "1 if this instance holds the cluster's lease (pages for it).",
        ["cluster"],
    )
    epoch = _g(
        "kafkaops_cluster_lease_epoch",
        "Epoch (fencing token) of this instance's lease on the cluster.",
        ["cluster"],
    )
    fenced = CounterMetricFamily(
        "kafkaops_fenced_writes",
        "Writes rejected because the cluster's lease was lost.",
        labels=["cluster", "write"],
    )
    held = sharing.epochs() if sharing is not None else {}
    for name in state.cluster_names():
        mine = name in held if sharing is not None else bool(watcher.leader)
        owned.add_metric([name], 1.0 if mine else 0.0)
        if name in held:
            epoch.add_metric([name], float(held[name]))
    if sharing is not None:
        for (cluster, write), n in sorted(sharing.fenced_writes().items()):
            fenced.add_metric([cluster, write], float(n))
    yield from (owned, epoch, fenced)


def _incident_counts(state: ServiceState) -> dict[tuple[str, str, str], int]:
    """Open and acknowledged incidents by (cluster, severity, status), from the store."""
    return state.runtime.incidents.active_incident_counts()
