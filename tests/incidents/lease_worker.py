"""Body of the processes that race for the leader lease (importable by a spawned child)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TTL_S = 10.0


def race(url: str, owner: str, rounds: int, barrier: Any, results: Any) -> None:
    """Each round: wait for the other racers, then all try to take the (expired) lease at once.

    Round ``r`` happens at ``T0 + 2·TTL·r``, so the previous holder's term has always ended
    and every racer has the same right to it: exactly one may win.
    """
    from kafkaops.incidents.store import IncidentStore

    store = IncidentStore(url)
    try:
        for r in range(rounds):
            barrier.wait(timeout=60)
            now = T0 + timedelta(seconds=2 * TTL_S * r)
            results.put((r, owner, store.try_acquire_lease("leader", owner, TTL_S, now)))
    finally:
        store.close()
