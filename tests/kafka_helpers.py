"""Small helpers tests use to put a real cluster into a known state."""

from __future__ import annotations

import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata


def admin(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int = 3,
    rf: int = 3,
    assignment: dict[int, list[int]] | None = None,
    configs: dict[str, str] | None = None,
) -> None:
    configs = dict(configs or {})
    replicas = min(len(r) for r in assignment.values()) if assignment else rf
    if replicas == 1:
        # The sandbox defaults min.insync.replicas to 2: a single-replica topic would stay
        # "under min ISR" (a P1, and bad SLO time) for every later test on the shared cluster.
        configs.setdefault("min.insync.replicas", "1")
    a = admin(bootstrap)
    try:
        if assignment:
            topic = NewTopic(
                name, -1, -1, replica_assignments=assignment, topic_configs=configs or {}
            )
        else:
            topic = NewTopic(name, partitions, rf, topic_configs=configs or {})
        a.create_topics([topic])
        a.wait_for_topics([name], timeout_ms=30000)
    finally:
        a.close()


def produce(
    bootstrap: str,
    topic: str,
    count_per_partition: int,
    partitions: int,
    timestamp_ms: int | None = None,
) -> None:
    """Write ``count_per_partition`` records to each partition, optionally backdated."""
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for part in range(partitions):
            for i in range(count_per_partition):
                p.send(topic, value=f"r{i}".encode(), partition=part, timestamp_ms=timestamp_ms)
        p.flush(timeout=30)
    finally:
        p.close()


def commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit exact offsets for a group without joining it (like a stopped consumer left them)."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        c.commit(
            {TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in offsets.items()}
        )
    finally:
        c.close()


def wait_no_urp(bootstrap: str, timeout: float = 90) -> None:
    """Wait until no partition is under-replicated (after a broker came back)."""
    a = admin(bootstrap)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            topics = a.describe_topics()
            urp = [
                (t["name"], p["partition_index"])
                for t in topics
                for p in t["partitions"]
                if len(p["isr_nodes"]) < len(p["replica_nodes"]) or p["leader_id"] < 0
            ]
            if not urp:
                return
            time.sleep(1)
        raise AssertionError(f"partitions still under-replicated after {timeout}s: {urp[:10]}")
    finally:
        a.close()
