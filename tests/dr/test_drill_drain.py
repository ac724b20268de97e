"""The drill's drain (``Drill._drain``) without Kafka: it waits for the consumer to have read
every record on the replica, counting what it read on the primary before the failover."""

from __future__ import annotations

import time
from types import SimpleNamespace

from kafkaops.dr.drill import Drill


def _drain(on_replica: set[int], seen: list[tuple[str, int, int, int]], timeout_s: float) -> float:
    drill = SimpleNamespace(_replica_records=lambda: on_replica)
    started = time.monotonic()
    Drill._drain(drill, SimpleNamespace(seen=seen), timeout_s=timeout_s)  # type: ignore[arg-type]
    return time.monotonic() - started


def test_records_read_on_the_primary_before_the_failover_count() -> None:
    # The group read 0-2 on the primary and resumed on the replica at its translated offset
    # (record 2 again, then 3-4): everything on the replica has been read, no waiting.
    seen = [("primary", 0, 0, 0), ("primary", 0, 1, 1), ("primary", 0, 2, 2)]
    seen += [("replica", 0, 2, 2), ("replica", 0, 3, 3), ("replica", 0, 4, 4)]
    assert _drain({0, 1, 2, 3, 4}, seen, timeout_s=5) < 1


def test_a_record_never_read_keeps_the_drain_waiting_until_its_timeout() -> None:
    seen = [("primary", 0, 0, 0), ("replica", 0, 2, 2)]
    assert _drain({0, 1, 2}, seen, timeout_s=1.2) >= 1.2
