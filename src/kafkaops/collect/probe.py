"""Everything kafkaops reads about one cluster per check: the admin snapshot plus broker metrics.

Why an object and not a function: the Prometheus source computes rates between two scrapes,
so in the watch loop it must remember the previous cycle's sample (a one-shot ``kafkaops
health`` has no earlier sample and waits one rate window instead).  A probe lives as long as
its watcher (or one CLI call) and owns its sources' connections.

Sources are imported only when configured: a cluster read over the admin protocol alone never
loads boto3 or httpx.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, Protocol

from kafkaops.collect.admin import CollectOptions
from kafkaops.collect.settings import MetricsSettings
from kafkaops.collect.snapshot import collect_snapshot
from kafkaops.core.broker_metrics import ClusterMetrics, MetricSource
from kafkaops.core.model import ClusterSnapshot

log = logging.getLogger(__name__)


class MetricsCollector(Protocol):
    """What every broker-metrics source offers."""

    def collect(self, snapshot: ClusterSnapshot | None) -> ClusterMetrics: ...

    def close(self) -> None: ...


def build_sources(
    settings: MetricsSettings, *, aws_region: str | None = None
) -> list[tuple[MetricSource, MetricsCollector]]:
    """The configured metrics sources, in order of preference (the admin protocol excluded)."""
    out: list[tuple[MetricSource, MetricsCollector]] = []
    capacity = settings.network_bandwidth
    for source in settings.extra_sources:
        if source == MetricSource.PROMETHEUS and settings.prometheus is not None:
            from kafkaops.collect.prometheus import PrometheusSource

            prometheus = PrometheusSource(
                settings.prometheus, network_capacity_bytes_per_s=capacity
            )
            out.append((source, prometheus))
        elif source == MetricSource.CLOUDWATCH and settings.cloudwatch is not None:
            from kafkaops.collect.cloudwatch import CloudWatchSource

            out.append(
                (
                    source,
                    CloudWatchSource(
                        settings.cloudwatch,
                        region=aws_region,
                        network_capacity_bytes_per_s=capacity,
                    ),
                )
            )
    return out


class ClusterProbe:
    """Takes a cluster's snapshot with its broker metrics attached, cycle after cycle."""

    def __init__(
        self,
        name: str,
        client_kwargs: dict[str, Any],
        options: CollectOptions,
        metrics: MetricsSettings,
        *,
        aws_region: str | None = None,
    ) -> None:
        self.name = name
        self.client_kwargs = client_kwargs
        self.options = options
        self.sources = build_sources(metrics, aws_region=aws_region)

    def snapshot(self) -> ClusterSnapshot:
        """Admin snapshot (raises ClusterUnreachable), then every metrics source.

        A source that fails is recorded in its ClusterMetrics' errors, never raised: broker
        metrics are evidence, the admin snapshot is the cluster.
        """
        snapshot = collect_snapshot(self.name, self.client_kwargs, self.options)
        if not self.sources:
            return snapshot
        return replace(snapshot, metrics=tuple(self._collect(snapshot)))

    def _collect(self, snapshot: ClusterSnapshot) -> list[ClusterMetrics]:
        out = []
        for source, collector in self.sources:
            try:
                out.append(collector.collect(snapshot))
            except Exception as exc:  # a source bug must not cost the whole check
                log.warning("%s metrics failed: %s: %s", source.value, type(exc).__name__, exc)
                out.append(
                    ClusterMetrics(
                        source=source.value,
                        collected_at_ms=int(time.time() * 1000),
                        window_s=0.0,
                        errors=(f"{type(exc).__name__}: {exc}",),
                    )
                )
        return out

    def close(self) -> None:
        for _, collector in self.sources:
            try:
                collector.close()
            except Exception as exc:  # closing is best effort
                log.debug("closing %s: %s", collector, exc)
