"""Leader lease: at most one holder at any time, on SQLite and on a shared PostgreSQL."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from kafkaops.incidents.store import IncidentStore
from kafkaops.store.lease import Leases

from .conftest import T0, at
from .lease_worker import TTL_S, race

ROUNDS = 40


def test_lease_lifecycle(store: IncidentStore) -> None:
    # Terms by the caller's (injected) clock, on both backends.
    store.leases = Leases(store.engine, database_clock=False)
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


def test_postgresql_leases_use_the_database_clock(store_url: str) -> None:
    """Issue 10: hosts' clocks disagree; the lease must not.  Host A is 10 minutes behind,
    host B right: by their own clocks B would find A's fresh lease long expired and both
    would lead (page twice).  On PostgreSQL the terms are the database's; on SQLite (one
    host) the caller's clock is still used."""
    a_store, b_store = IncidentStore(store_url), IncidentStore(store_url)
    try:
        postgres = a_store.engine.dialect.name == "postgresql"
        assert a_store.leases.database_clock is postgres
        real = datetime.now(UTC)
        behind = real - timedelta(minutes=10)
        assert a_store.try_acquire_lease("leader", "a", 1.0, behind)
        b_gets_it = b_store.try_acquire_lease("leader", "b", 1.0, real)
        if not postgres:
            assert b_gets_it  # by the caller's clock A's term is over: the documented limit
            return
        assert not b_gets_it, "B took a lease A holds: terms were read off the hosts' clocks"
        assert b_store.lease_holder("leader", real + timedelta(hours=1)) == "a"
        time.sleep(1.2)  # A's 1 s term ends by the database's clock
        assert b_store.lease_holder("leader", behind) is None
        assert b_store.try_acquire_lease("leader", "b", 30.0, behind)
        assert not a_store.try_acquire_lease("leader", "a", 30.0, real + timedelta(hours=1))
    finally:
        a_store.close()
        b_store.close()
