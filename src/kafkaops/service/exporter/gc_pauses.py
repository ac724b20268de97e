"""``kafkaops_gc_pause_seconds*``: how long Python's cycle collector stopped this service.

Why on /metrics: a full collection holds the GIL, so while it runs the HTTP thread answers
nothing and the watch loop makes no progress.  prometheus_client's ``python_gc_*`` families count
collections but not their duration, which is the number an operator needs when scrape latency or
cycle time jumps (see :mod:`kafkaops.core.gc_policy` for what the service does about it).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kafkaops.core.gc_policy import GcPauses


class GcPauseCollector(Collector):
    """Total and longest pause per generation, and how many objects are frozen."""

    def __init__(self, pauses: GcPauses) -> None:
        self.pauses = pauses

    def collect(self) -> Iterator[Metric]:
        stats = self.pauses.snapshot()
        total = CounterMetricFamily(
            "kafkaops_gc_pause_seconds",
            "Time Python's cycle collector held the process, by generation.",
            labels=["generation"],
        )
        longest = GaugeMetricFamily(
            "kafkaops_gc_pause_max_seconds",
            "Longest single collection since start, by generation.",
            labels=["generation"],
        )
        for generation, s in sorted(stats.items()):
            total.add_metric([str(generation)], s.total_s)
            longest.add_metric([str(generation)], s.max_s)
        yield total
        yield longest
        yield GaugeMetricFamily(
            "kafkaops_gc_frozen_objects",
            "Objects moved out of the collector's sight (gc.freeze) after start-up and cycles.",
            value=gc.get_freeze_count(),
        )
