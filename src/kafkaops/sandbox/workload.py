"""A small, realistic, bounded workload for the sandbox.

Three topics written by one producer, and three consumer groups an operator meets every day:

* ``<prefix>.orders-service`` on ``<prefix>.orders``: healthy, keeps up, commits as it goes;
* ``<prefix>.analytics`` on ``<prefix>.payments``: processes each record ``delay_s`` after it
  was produced (a slow downstream), so it always has offset lag and a steady time lag;
* ``<prefix>.billing-batch`` on ``<prefix>.audit``: consumed for a while, then stopped (no
  members, committed offsets stay put while the topic keeps growing) — a dead consumer.

Everything runs in daemon threads and stops when :meth:`Workload.stop` is called or the
duration given to :meth:`Workload.run` elapses.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from kafkaops.core.errors import SandboxError


@dataclass
class WorkloadStats:
    produced: int = 0
    produce_errors: int = 0
    consumed: dict[str, int] = field(default_factory=dict)


class Workload:
    def __init__(
        self,
        bootstrap: str,
        *,
        prefix: str = "demo",
        rate: int = 200,
        delay_s: float = 20.0,
        stopped_after_s: float = 5.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.rate = max(1, rate)
        self.delay_s = delay_s
        self.stopped_after_s = stopped_after_s
        self.stats = WorkloadStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.topics = {
            f"{prefix}.orders": 6,
            f"{prefix}.payments": 3,
            f"{prefix}.audit": 3,
        }
        self.groups = {
            "healthy": f"{prefix}.orders-service",
            "lagging": f"{prefix}.analytics",
            "stopped": f"{prefix}.billing-batch",
        }

    def setup(self) -> None:
        """Create the topics (replication 3 where the cluster has 3 brokers)."""
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap, request_timeout_ms=15000, client_id="workload"
            )
        except KafkaError as exc:
            raise SandboxError(f"workload: cannot reach {self.bootstrap}: {exc}") from exc
        try:
            brokers = len(admin.describe_cluster()["brokers"])
            rf = min(3, brokers)
            for name, parts in self.topics.items():
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics([NewTopic(name, parts, rf)])
            admin.wait_for_topics(list(self.topics), timeout_ms=30000)
        finally:
            admin.close()

    # ------------------------------------------------------------------ threads
    def start(self) -> None:
        self._stop.clear()
        targets: list[Callable[[], None]] = [
            self._produce,
            self._consume_healthy,
            self._consume_delayed,
            self._consume_then_stop,
        ]
        for target in targets:
            t = threading.Thread(target=self._guard(target), name=target.__name__, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        self._threads.clear()

    def run(self, duration_s: float, progress: Callable[[str], None] | None = None) -> None:
        self.start()
        end = time.monotonic() + duration_s
        try:
            while time.monotonic() < end:
                time.sleep(min(5.0, max(0.0, end - time.monotonic())))
                if progress:
                    progress(f"produced {self.stats.produced:,} · consumed {self.stats.consumed}")
        finally:
            self.stop()

    def _guard(self, fn: Callable[[], None]) -> Callable[[], None]:
        def wrapper() -> None:
            # A broker stopped by the demo must not kill the workload thread.
            while not self._stop.is_set():
                try:
                    fn()
                    return
                except KafkaError:
                    time.sleep(1)

        return wrapper

    def _produce(self) -> None:
        producer = KafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            linger_ms=20,
            retries=5,
            client_id=f"{self.prefix}-producer",
            request_timeout_ms=10000,
        )
        topics = list(self.topics)
        interval = 1.0 / self.rate
        seq = 0
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                topic = topics[seq % len(topics)]
                value = json.dumps({"seq": seq, "ts": time.time(), "amount": seq % 997}).encode()
                fut = producer.send(topic, key=str(seq % 64).encode(), value=value)
                fut.add_callback(lambda _md: self._count_produced())
                fut.add_errback(lambda _exc: self._count_error())
                seq += 1
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -1:
                    next_at = time.monotonic()  # fell behind (broker down): do not burst
        finally:
            producer.close(timeout=5)

    def _count_produced(self) -> None:
        self.stats.produced += 1

    def _count_error(self) -> None:
        self.stats.produce_errors += 1

    def _consumer(self, topic: str, group: str) -> KafkaConsumer:
        return KafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            group_id=group,
            client_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            request_timeout_ms=30000,
            session_timeout_ms=10000,
            heartbeat_interval_ms=2000,
        )

    def _count(self, group: str, n: int) -> None:
        self.stats.consumed[group] = self.stats.consumed.get(group, 0) + n

    def _consume_healthy(self) -> None:
        self._consume_and_commit(self.groups["healthy"], f"{self.prefix}.orders", until=None)

    def _consume_and_commit(self, group: str, topic: str, until: float | None) -> None:
        """Keep up with ``topic`` and commit after every batch, until ``until`` (monotonic)."""
        consumer = self._consumer(topic, group)
        try:
            while not self._stop.is_set() and (until is None or time.monotonic() < until):
                batches = consumer.poll(timeout_ms=500)
                n = sum(len(r) for r in batches.values())
                if n:
                    consumer.commit()
                    self._count(group, n)
        finally:
            consumer.close()

    def _consume_delayed(self) -> None:
        """Process each record only once it is ``delay_s`` old: a constant time lag."""
        group = self.groups["lagging"]
        consumer = self._consumer(f"{self.prefix}.payments", group)
        try:
            while not self._stop.is_set():
                batches = consumer.poll(timeout_ms=500, max_records=50)
                for tp, records in batches.items():
                    for rec in records:
                        wait = rec.timestamp / 1000 + self.delay_s - time.time()
                        if wait > 0 and self._stop.wait(wait):
                            return
                        consumer.commit({tp: _offset_meta(rec.offset + 1)})
                    self._count(group, len(records))
        finally:
            consumer.close()

    def _consume_then_stop(self) -> None:
        """Consume for ``stopped_after_s``, then leave: a dead consumer with committed offsets."""
        until = time.monotonic() + self.stopped_after_s
        self._consume_and_commit(self.groups["stopped"], f"{self.prefix}.audit", until=until)


def _offset_meta(offset: int) -> object:
    from kafka.structs import OffsetAndMetadata

    return OffsetAndMetadata(offset, "", -1)
