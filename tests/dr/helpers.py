"""Producing, committing and reading for the DR tests (kafka-python, loopback only)."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata


class Missing(str):
    """A falsy description of what a ``wait_until`` predicate still misses: the timeout
    message then says which part never came (``last: Missing('…')``), not just ``False``."""

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True)
class Acked:
    seq: int
    partition: int
    offset: int
    timestamp_ms: int


def create_topic(bootstrap: str, name: str, partitions: int = 2) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


def delete_topic(bootstrap: str, name: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        admin.delete_topics([name])
    finally:
        admin.close()


def produce(bootstrap: str, topic: str, count: int, start: int = 0) -> list[Acked]:
    """``count`` keyed records whose value is their sequence number; what the broker acked."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        futures = [
            (seq, producer.send(topic, key=f"k{seq % 13}".encode(), value=str(seq).encode()))
            for seq in range(start, start + count)
        ]
        producer.flush(30)
        out = []
        for seq, fut in futures:
            md = fut.get(timeout=30)
            out.append(Acked(seq, md.partition, md.offset, md.timestamp))
        return out
    finally:
        producer.close(5)


def commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        consumer.commit(
            {TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in offsets.items()}
        )
    finally:
        consumer.close()


def read_at(bootstrap: str, topic: str, partition: int, offset: int) -> bytes | None:
    """The value of the record at ``offset`` (None when there is none within 10 s)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tp = TopicPartition(topic, partition)
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        for _ in range(20):
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    if r.offset == offset:
                        return r.value
        return None
    finally:
        with contextlib.suppress(Exception):
            consumer.close()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        return {tp.partition: o for tp, o in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def consume(
    bootstrap: str, group: str, topics: list[str], timeout_s: float = 60
) -> list[tuple[str, int, int, int]]:
    """A real group member reads ``topics`` from the group's committed offsets (earliest where
    it has none) to their current ends, commits, and leaves; (topic, partition, offset, seq)."""
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    seen: list[tuple[str, int, int, int]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                seen.extend((r.topic, r.partition, r.offset, int(r.value)) for r in records)
            tps = consumer.assignment()
            if tps and all(
                consumer.position(tp) >= e for tp, e in consumer.end_offsets(tps).items()
            ):
                consumer.commit()
                return seen
        raise AssertionError(f"{group} did not read {topics} to their ends in {timeout_s:.0f}s")
    finally:
        with contextlib.suppress(Exception):
            consumer.close(autocommit=False)
