"""Read a (small, internal) topic to its end: MirrorMaker 2's heartbeats, checkpoints and
offset-syncs, for DR verification and the sandbox's "is MM2 flowing yet" check."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

from kafka import KafkaConsumer, TopicPartition

#: Internal topics are compacted and small; never read more than this per partition.
MAX_INTERNAL_RECORDS = 200_000


def _consumer_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    base = {k: v for k, v in kwargs.items() if k in KafkaConsumer.DEFAULT_CONFIG}
    base.update(group_id=None, enable_auto_commit=False, client_id="kafkaops-dr")
    return base


def read_topic(
    client_kwargs: Mapping[str, Any],
    topic: str,
    *,
    timeout_s: float = 10.0,
    tail: int | None = None,
) -> list[Any]:
    """Every record of ``topic`` (or the last ``tail`` per partition), oldest first per
    partition; [] when the topic does not exist.  Raises on a cluster that cannot be read."""
    consumer = KafkaConsumer(**_consumer_kwargs(client_kwargs))
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        starts = consumer.beginning_offsets(tps)
        for tp in tps:
            first = starts[tp]
            if tail is not None:
                first = max(first, ends[tp] - tail)
            first = max(first, ends[tp] - MAX_INTERNAL_RECORDS)
            consumer.seek(tp, first)
        pending = {tp for tp in tps if ends[tp] > consumer.position(tp)}
        out: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                out.extend(r for r in records if r.offset < ends[tp])
            pending = {tp for tp in pending if consumer.position(tp) < ends[tp]}
        if pending:
            raise TimeoutError(f"{topic}: not read to its end within {timeout_s:.0f}s")
        return out
    finally:
        with contextlib.suppress(Exception):
            consumer.close()
