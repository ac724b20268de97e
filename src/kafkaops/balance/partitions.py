"""Partition scaling: where new partitions go, and whether the topic is keyed.

The runbook's trigger ("+4 partitions when lag > 10,000") silently breaks per-key ordering on
keyed topics: after the change ``hash(key) % partitions`` sends a key to a different partition
than its earlier records, so a consumer can see a key's new records before its old ones.
:func:`sample_keys` reads the last records of every partition; any record with a key makes the
topic "keyed" and the CLI asks for ``--force``.  New partitions are placed with the same
rack-aware rule as the planner: distinct racks, least-loaded brokers, preferred leaders spread.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from kafkaops.balance.layout import Layout
from kafkaops.balance.planner import PlanError


def place_new_partitions(layout: Layout, topic: str, by: int) -> list[list[int]]:
    """Replica lists for ``by`` new partitions of ``topic`` (first replica = preferred leader)."""
    parts = [p for p in layout.partitions if p.topic == topic]
    if not parts:
        raise PlanError(f"topic {topic!r} does not exist")
    if by < 1:
        raise PlanError("--by must be 1 or more")
    rf = max(len(p.replicas) for p in parts)
    if rf > len(layout.brokers):
        raise PlanError(f"{topic} has replication factor {rf} but the cluster has fewer brokers")
    replicas: Counter[int] = Counter({b: 0 for b in layout.brokers})
    leaders: Counter[int] = Counter({b: 0 for b in layout.brokers})
    topic_replicas: Counter[int] = Counter({b: 0 for b in layout.brokers})
    for p in layout.partitions:
        for r in p.replicas:
            replicas[r] += 1
            if p.topic == topic:
                topic_replicas[r] += 1
        if p.replicas:
            leaders[p.replicas[0]] += 1
    racks = layout.racks
    allowed = math.ceil(rf / len(racks)) if racks else rf
    out = []
    for _ in range(by):
        chosen: list[int] = []
        per_rack: Counter[str | None] = Counter()
        # Spread within the topic first, then across the cluster.
        order = sorted(layout.brokers, key=lambda b: (topic_replicas[b], replicas[b], b))
        for b in order:
            rack = layout.brokers[b]
            if racks and per_rack[rack] >= allowed:
                continue
            chosen.append(b)
            per_rack[rack] += 1
            if len(chosen) == rf:
                break
        if len(chosen) < rf:
            raise PlanError(f"cannot place {rf} replicas of a new {topic} partition rack-aware")
        first = min(chosen, key=lambda b: (leaders[b], replicas[b], b))
        chosen.remove(first)
        chosen.insert(0, first)
        for b in chosen:
            replicas[b] += 1
            topic_replicas[b] += 1
        leaders[first] += 1
        out.append(chosen)
    return out


def sample_keys(
    client_kwargs: Mapping[str, Any], topic: str, per_partition: int = 20, timeout_s: float = 5.0
) -> tuple[int, int]:
    """Read up to ``per_partition`` of the newest records of each partition of ``topic``:
    returns (records read, records with a key)."""
    from kafka import KafkaConsumer, TopicPartition

    kwargs = {
        k: v
        for k, v in client_kwargs.items()
        if k in KafkaConsumer.DEFAULT_CONFIG and k not in ("client_id",)
    }
    consumer = KafkaConsumer(
        **{
            **kwargs,
            "client_id": "kafkaops-partitions",
            "group_id": None,
            "enable_auto_commit": False,
            "request_timeout_ms": 10_000,
            "consumer_timeout_ms": int(timeout_s * 1000),
        }
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return 0, 0
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        starts = consumer.beginning_offsets(tps)
        wanted = 0
        for tp in tps:
            begin = max(starts[tp], ends[tp] - per_partition)
            consumer.seek(tp, begin)
            wanted += ends[tp] - begin
        read = keyed = 0
        deadline = time.monotonic() + timeout_s
        while read < wanted and time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=300)
            for recs in batch.values():
                for rec in recs:
                    read += 1
                    keyed += rec.key is not None
            if keyed:
                break
        return read, keyed
    finally:
        consumer.close()
