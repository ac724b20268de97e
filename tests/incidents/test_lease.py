"""Leader lease: at most one holder at any time, on SQLite and on a shared PostgreSQL."""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections import defaultdict
from datetime import timedelta

from kafkaops.incidents.store import IncidentStore

from .conftest import T0, at
from .lease_worker import TTL_S, race

ROUNDS = 40


def test_lease_lifecycle(store: IncidentStore) -> None:
    assert store.lease_holder("leader", T0) is None
    assert store.try_acquire_lease("leader", "a", 30, T0)
    assert not store.try_acquire_lease("leader", "b", 30, at(1))
    assert store.try_acquire_lease("leader", "a", 30, at(20))  # renewal extends to 50 s
    assert not store.try_acquire_lease("leader", "b", 30, at(40))
    assert store.lease_holder("leader", at(40)) == "a"
    assert store.try_acquire_lease("leader", "b", 30, at(50))  # a's term is over
    assert not store.release_lease("leader", "a")  # a does not hold it any more
    assert store.release_lease("leader", "b")
    assert store.try_acquire_lease("leader", "a", 30, at(51))
    assert store.try_acquire_lease("other", "b", 30, at(51))  # leases are independent


def _winners(results: list[tuple[int, str, bool]]) -> dict[int, list[str]]:
    won: dict[int, list[str]] = defaultdict(list)
    for r, owner, ok in results:
        if ok:
            won[r].append(owner)
    return won


def test_two_threads_never_both_hold_the_lease(store_url: str) -> None:
    barrier = threading.Barrier(2)
    results: queue.Queue[tuple[int, str, bool]] = queue.Queue()
    IncidentStore(store_url).close()  # schema first: create_all is not race-free itself
    threads = [
        threading.Thread(target=race, args=(store_url, f"t{i}", ROUNDS, barrier, results))
        for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    got = [results.get_nowait() for _ in range(results.qsize())]
    assert len(got) == 2 * ROUNDS
    won = _winners(got)
    assert all(len(won[r]) == 1 for r in range(ROUNDS)), dict(won)


def test_two_processes_never_both_hold_the_lease(store_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing shared
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    IncidentStore(store_url).close()
    procs = [
        ctx.Process(target=race, args=(store_url, f"p{i}", ROUNDS, barrier, results))
        for i in range(2)
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in range(2 * ROUNDS)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    won = _winners(got)
    assert all(len(won[r]) == 1 for r in range(ROUNDS)), dict(won)
    # And the holder's term is respected: nobody else gets it before it ends.
    store = IncidentStore(store_url)
    last = T0 + timedelta(seconds=2 * TTL_S * (ROUNDS - 1))
    holder = store.lease_holder("leader", last)
    assert holder in {"p0", "p1"}
    intruder = "p1" if holder == "p0" else "p0"
    assert not store.try_acquire_lease("leader", intruder, TTL_S, last + timedelta(seconds=9))
