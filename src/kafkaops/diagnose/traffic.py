"""Measured traffic and size per topic, from two snapshots a window apart.

Why from the admin protocol and not JMX: the optimizer and the audit's disk-fit rule must work
on any cluster (MSK without Open Monitoring included).  Messages/s is the growth of the
log-end offsets over the window; bytes/s is that times the on-disk bytes per retained message
(one copy's size from DescribeLogDirs / retained offsets) — so it is what the disk actually
receives, compression included.  On compacted topics offsets overstate the retained messages,
so bytes per message (and bytes/s) is a lower bound there; the report says which topics those
are.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from kafkaops.collect.admin import CollectOptions
from kafkaops.collect.snapshot import collect_snapshot
from kafkaops.core.model import ClusterSnapshot


@dataclass(frozen=True)
class TopicTraffic:
    topic: str
    partitions: int
    replication_factor: int
    window_s: float
    #: Records appended per second over the window (sum over partitions).
    messages_per_s: float
    #: The busiest partition's records per second (skew: keys that all land on one partition).
    max_partition_messages_per_s: float
    #: Bytes of one copy of the topic (largest replica of each partition), from DescribeLogDirs.
    size_bytes: int
    #: Offsets between log start and log end, summed over partitions.
    retained_messages: int
    #: On-disk bytes per record (compression included); None with nothing retained.
    bytes_per_message: float | None
    #: Per second into one copy (× RF onto the cluster's disks); None when bytes/message is not
    #: known.
    bytes_per_s: float | None

    @property
    def max_partition_bytes_per_s(self) -> float | None:
        if self.bytes_per_message is None:
            return None
        return self.max_partition_messages_per_s * self.bytes_per_message

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "max_partition_bytes_per_s": self.max_partition_bytes_per_s}


def topic_traffic(before: ClusterSnapshot, after: ClusterSnapshot) -> dict[str, TopicTraffic]:
    """Traffic per topic between two snapshots of one cluster (topics present in both)."""
    window_s = max(0.001, (after.taken_at_ms - before.taken_at_ms) / 1000)
    ends_before = {
        (p.topic, p.partition): p.log_end_offset
        for p in before.partitions
        if p.log_end_offset is not None
    }
    replica_bytes: dict[str, int] = {}
    for d in after.log_dirs:
        for name, size in d.partition_bytes.items():
            replica_bytes[name] = max(replica_bytes.get(name, 0), size)
    out: dict[str, TopicTraffic] = {}
    for t in after.topics:
        rates: list[float] = []
        retained = 0
        size = 0
        for p in t.partitions:
            end = p.log_end_offset
            start = p.log_start_offset
            prior = ends_before.get((p.topic, p.partition))
            if end is not None and prior is not None:
                rates.append(max(0, end - prior) / window_s)
            if end is not None and start is not None:
                retained += max(0, end - start)
            size += replica_bytes.get(p.name, 0)
        if not rates:
            continue
        per_message = size / retained if retained > 0 and size > 0 else None
        msgs = sum(rates)
        out[t.name] = TopicTraffic(
            topic=t.name,
            partitions=len(t.partitions),
            replication_factor=t.replication_factor,
            window_s=round(window_s, 3),
            messages_per_s=msgs,
            max_partition_messages_per_s=max(rates),
            size_bytes=size,
            retained_messages=retained,
            bytes_per_message=per_message,
            bytes_per_s=None if per_message is None else msgs * per_message,
        )
    return out


def measure_traffic(
    cluster: str,
    client_kwargs: Mapping[str, Any],
    options: CollectOptions,
    window_s: float,
    progress: Callable[[str], None] | None = None,
) -> tuple[ClusterSnapshot, dict[str, TopicTraffic]]:
    """Two snapshots WINDOW seconds apart (no time lag: only offsets and sizes are needed);
    returns the second one and the traffic per topic."""
    opts = replace(options, time_lag_method="none", client_id="kafkaops-traffic")
    before = collect_snapshot(cluster, client_kwargs, opts)
    if progress:
        progress(f"measuring traffic for {window_s:g} s …")
    time.sleep(window_s)
    after = collect_snapshot(cluster, client_kwargs, opts)
    return after, topic_traffic(before, after)
