"""One typed model for broker metrics, whatever source filled it.

The admin protocol cannot tell CPU, memory, network or failed produce requests; those come
from a *metrics source*: the Prometheus JMX exporter and node exporter on each broker (MSK Open
Monitoring, ports 11001/11002, or any self-managed cluster that runs them), a Prometheus server
that scrapes them, or CloudWatch's ``AWS/Kafka`` namespace.  Every source fills the same
:class:`NodeMetrics` per node and one :class:`ClusterMetrics` per source, recording the source
and the time window the rates were computed over, so the evaluator never cares where a value
came from and a report can always say.

Units are fixed here, converted at the source: percentages are 0–100, rates per second, lag in
milliseconds (CloudWatch's ``EstimatedMaxTimeLag`` is in *seconds*; its source multiplies).
``None`` always means "this source did not measure it", never zero.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class MetricSource(enum.StrEnum):
    """Where a cluster's facts come from; config selects several per cluster."""

    ADMIN = "admin"
    PROMETHEUS = "prometheus"
    CLOUDWATCH = "cloudwatch"


@dataclass(frozen=True, slots=True)
class NodeMetrics:
    """One node's (broker or KRaft controller) metrics from one source over one window."""

    node_id: int
    #: "broker" or "controller" (a KRaft controller reports ActiveControllerCount and
    #: OfflinePartitionsCount; brokers report the rest).
    role: str = "broker"
    #: Host CPU in use (user + system), percent of all cores: node exporter, CloudWatch
    #: CpuUser + CpuSystem.  On MSK a broker owns its host, so this is "broker CPU".
    cpu_percent: float | None = None
    #: The broker JVM's own CPU, percent of all cores (JMX ProcessCpuLoad).  Used as broker CPU
    #: when no host figure exists (several brokers sharing one host, as in the sandbox).
    process_cpu_percent: float | None = None
    #: Host memory in use: (total − available) / total (node exporter; CloudWatch
    #: MemoryUsed / (MemoryUsed + MemoryFree)).
    memory_percent: float | None = None
    #: Kafka data log-dir filesystem usage (node exporter filesystem of the log dir,
    #: CloudWatch KafkaDataLogsDiskUsed).
    disk_percent: float | None = None
    #: Client bytes in/out (BytesInPerSec / BytesOutPerSec).
    bytes_in_per_s: float | None = None
    bytes_out_per_s: float | None = None
    #: Everything on the wire: client plus replication bytes, in and out.
    network_bytes_per_s: float | None = None
    produce_requests_per_s: float | None = None
    failed_produce_requests_per_s: float | None = None
    under_replicated_partitions: int | None = None
    under_min_isr_partitions: int | None = None
    offline_partitions: int | None = None
    #: 1 on the active controller, 0 elsewhere (KRaft: controller nodes only).
    active_controller: int | None = None
    #: Request handler threads idle, percent (below 30 % the broker is saturated).
    request_handler_idle_percent: float | None = None
    #: Why this node's metrics are missing or partial (endpoint down, …); None when fine.
    error: str | None = None

    @property
    def broker_cpu_percent(self) -> float | None:
        """The runbook's "Broker CPU": the host's when known, else the broker JVM's."""
        return self.cpu_percent if self.cpu_percent is not None else self.process_cpu_percent


@dataclass(frozen=True, slots=True)
class GroupLagMetric:
    """A consumer group's lag on one topic as a metrics source reports it (CloudWatch)."""

    group: str
    topic: str
    #: EstimatedMaxTimeLag converted to milliseconds.
    estimated_max_time_lag_ms: int | None = None
    max_offset_lag: int | None = None
    sum_offset_lag: int | None = None


@dataclass(frozen=True, slots=True)
class ClusterMetrics:
    """Every node's metrics from one source, with where and over which window they were taken."""

    source: str
    #: When the (last) sample was taken, UTC epoch ms.
    collected_at_ms: int
    #: Seconds the rates were computed over (0 when only gauges were read).
    window_s: float
    nodes: tuple[NodeMetrics, ...] = ()
    group_lag: tuple[GroupLagMetric, ...] = ()
    #: Nominal network bandwidth per broker (bytes/s), from config: the denominator of the
    #: runbook's "network I/O %".  None → network I/O is not measured.
    network_capacity_bytes_per_s: float | None = None
    #: Source-level problems (an endpoint that did not answer, a query that failed).
    errors: tuple[str, ...] = ()
    #: Where the values came from, for reports: URLs scraped, CloudWatch cluster name, …
    detail: str = ""

    @property
    def brokers(self) -> tuple[NodeMetrics, ...]:
        return tuple(n for n in self.nodes if n.role == "broker")

    @property
    def controllers(self) -> tuple[NodeMetrics, ...]:
        return tuple(n for n in self.nodes if n.role == "controller")

    @property
    def label(self) -> str:
        """``prometheus (30s window)``: how a finding names where its value came from."""
        if self.window_s:
            return f"{self.source} ({self.window_s:.3g}s window)"
        return self.source

    def producer_error_rate_percent(self) -> float | None:
        """Failed ÷ total produce requests over the window, cluster-wide, in percent.

        None when no broker reported both counters; 0.0 when no produce request arrived.
        """
        pairs = [
            (n.failed_produce_requests_per_s, n.produce_requests_per_s)
            for n in self.brokers
            if n.failed_produce_requests_per_s is not None and n.produce_requests_per_s is not None
        ]
        if not pairs:
            return None
        failed = sum(f for f, _ in pairs)
        total = sum(t for _, t in pairs)
        return 100.0 * failed / total if total > 0 else 0.0

    def active_controller_count(self) -> int | None:
        """ActiveControllerCount summed over every node that reported it (1 is healthy)."""
        return _sum_int(n.active_controller for n in self.nodes)

    def offline_partitions_count(self) -> int | None:
        """OfflinePartitionsCount as the active controller reports it (max over reporters)."""
        values = [n.offline_partitions for n in self.nodes if n.offline_partitions is not None]
        return max(values) if values else None

    def under_replicated_count(self) -> int | None:
        """UnderReplicatedPartitions summed over brokers (each counts the ones it leads)."""
        return _sum_int(n.under_replicated_partitions for n in self.brokers)

    def network_percent(self, node: NodeMetrics) -> float | None:
        """A broker's network traffic as a share of the configured bandwidth."""
        if node.network_bytes_per_s is None or not self.network_capacity_bytes_per_s:
            return None
        return 100.0 * node.network_bytes_per_s / self.network_capacity_bytes_per_s


def _sum_int(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None
