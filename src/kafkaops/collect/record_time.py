"""Exact time lag: the timestamp of the first record each lagging group has not consumed.

A reader of records, not of metadata, so it uses a consumer (not the admin client) and a
budget of its own (``time_lag_max_positions``, ``time_lag_budget_ms``); kept apart from
snapshot assembly because its failure modes (paused partitions, leaders moving between rounds)
and its cost are its own.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from kafkaops.collect.admin import CollectOptions, Errors
from kafkaops.core.model import ConsumerGroup, PartitionLag


def with_exact_time_lag(
    groups: list[ConsumerGroup],
    client_kwargs: Mapping[str, Any],
    options: CollectOptions,
    now_ms: int,
    errors: Errors,
) -> tuple[list[ConsumerGroup], int]:
    """Fill ``time_lag_ms`` = now − timestamp of the first record the group has not consumed.

    Exact on bursts, idle topics and rewinds, at the cost of reading one record per lagging
    position.  Positions are de-duplicated across groups and read in rounds (a consumer has one
    position per partition), within ``time_lag_max_positions`` and ``time_lag_budget_ms``;
    positions left unread keep ``time_lag_ms=None`` and are noted in ``snapshot.errors``.
    """
    wanted: set[tuple[str, int, int]] = set()
    for g in groups:
        for p in g.partitions:
            if p.lag and p.committed is not None:
                start = max(p.committed, p.log_start_offset or 0)
                wanted.add((p.topic, p.partition, start))
    timestamps: dict[tuple[str, int, int], int] = {}
    rounds = 0
    if wanted:
        timestamps, rounds = read_first_timestamps(sorted(wanted), client_kwargs, options, errors)

    out = []
    for g in groups:
        parts = []
        for p in g.partitions:
            if p.lag == 0:
                parts.append(_replace_time(p, 0))
            elif p.lag and p.committed is not None:
                start = max(p.committed, p.log_start_offset or 0)
                ts = timestamps.get((p.topic, p.partition, start))
                parts.append(_replace_time(p, None if ts is None else max(0, now_ms - ts)))
            else:
                parts.append(p)
        out.append(_replace_parts(g, tuple(parts)))
    return out, rounds


def _replace_time(p: PartitionLag, value: int | None) -> PartitionLag:
    return replace(p, time_lag_ms=value, time_lag_method="exact" if value is not None else None)


def _replace_parts(g: ConsumerGroup, parts: tuple[PartitionLag, ...]) -> ConsumerGroup:
    return replace(g, partitions=parts)


def read_first_timestamps(
    positions: list[tuple[str, int, int]],
    client_kwargs: Mapping[str, Any],
    options: CollectOptions,
    errors: Errors,
) -> tuple[dict[tuple[str, int, int], int], int]:
    """Timestamps of the records at the given positions, and how many fetch rounds it took."""
    if len(positions) > options.time_lag_max_positions:
        errors.add(
            "Fetch",
            "time lag",
            f"{len(positions)} lagging positions exceed the budget of "
            f"{options.time_lag_max_positions}; the rest have no exact time lag",
        )
        positions = positions[: options.time_lag_max_positions]
    rounds: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    seen: Counter[tuple[str, int]] = Counter()
    for topic, part, offset in positions:
        rounds[seen[(topic, part)]].append((topic, part, offset))
        seen[(topic, part)] += 1
    deadline = time.monotonic() + options.time_lag_budget_ms / 1000
    consumer_kwargs = {
        k: v
        for k, v in client_kwargs.items()
        if k in KafkaConsumer.DEFAULT_CONFIG and k not in ("bootstrap_timeout_ms", "client_id")
    }
    found: dict[tuple[str, int, int], int] = {}

    def new_consumer() -> KafkaConsumer:
        return KafkaConsumer(
            **{
                **consumer_kwargs,
                "client_id": f"{options.client_id}-timelag",
                "group_id": None,
                "enable_auto_commit": False,
                "max_partition_fetch_bytes": 4096,
                "fetch_max_wait_ms": 50,
                "request_timeout_ms": max(options.request_timeout_ms, 1000),
                "bootstrap_timeout_ms": options.connect_timeout_ms,
            }
        )

    done_rounds = 0
    # A round whose positions could not all be read (leader moving, a broker restarting, an
    # error from one partition) is retried once at the end, with whatever budget is left.
    queue: list[tuple[int, list[tuple[str, int, int]]]] = [
        (1, b) for _, b in sorted(rounds.items())
    ]
    consumer: KafkaConsumer | None = None
    try:
        while queue and time.monotonic() < deadline:
            attempt, batch = queue.pop(0)
            # Every round after the first re-reads partitions an earlier round read at another
            # offset.  kafka-python 3.0.12's consumer can stop fetching a partition that was
            # paused and re-sought (seen in CI: later rounds got nothing for 60 s), so each such
            # round gets a fresh consumer: one bootstrap more, no shared fetch state.
            if consumer is not None and done_rounds:
                with contextlib.suppress(Exception):
                    consumer.close()
                consumer = None
            done_rounds += 1
            # Each round gets its share of what is left, so one position that cannot be read
            # (leader down, records gone) does not starve the rounds after it.
            share = (deadline - time.monotonic()) / (len(queue) + 1)
            round_deadline = time.monotonic() + max(0.5, share)
            pending = {TopicPartition(t, p): o for t, p, o in batch}
            try:
                consumer = consumer or new_consumer()
                _read_round(consumer, pending, found, min(deadline, round_deadline))
            except (KafkaError, OSError, AssertionError) as exc:
                errors.add("Fetch", "time lag", exc)
            if pending and attempt == 1:
                queue.append((2, [(tp.topic, tp.partition, o) for tp, o in pending.items()]))
        missing = len(positions) - len(found)
        if missing:
            errors.add("Fetch", "time lag", f"{missing} positions not read within the budget")
    finally:
        if consumer is not None:
            with contextlib.suppress(Exception):
                consumer.close()
    return found, done_rounds


def _read_round(
    consumer: KafkaConsumer,
    pending: dict[TopicPartition, int],
    found: dict[tuple[str, int, int], int],
    until: float,
) -> None:
    """Read the first record at each pending position; read positions leave ``pending``."""
    consumer.assign(list(pending))
    # A partition paused in an earlier round stays paused across assign(): resume it.
    consumer.resume(*pending)
    for tp, offset in pending.items():
        consumer.seek(tp, offset)
    while pending and time.monotonic() < until:
        records = consumer.poll(timeout_ms=200)
        for tp, recs in records.items():
            if tp in pending and recs:
                found[(tp.topic, tp.partition, pending.pop(tp))] = recs[0].timestamp
                consumer.pause(tp)
