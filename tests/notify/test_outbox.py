"""The persistent outbox on SQLite and PostgreSQL: idempotent enqueue, exclusive claims, leases."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from kafkaops.notify.outbox import Outbox, to_ms
from tests.notify.conftest import T0, message

pytestmark = pytest.mark.timeout(120)


def test_enqueue_is_idempotent(outbox: Outbox) -> None:
    msg = message("slack:#ops-critical")
    assert outbox.enqueue([msg], T0) == 1
    assert outbox.enqueue([msg], T0) == 0
    assert outbox.enqueue([msg, msg], T0) == 0
    assert len(outbox.list()) == 1
    row = outbox.get(msg.idempotency_key)
    assert row is not None and row.message == msg and row.status == "pending"


def test_claim_lease_and_outcomes(outbox: Outbox) -> None:
    a, b, c = (message("pagerduty", subject=s) for s in ("a", "b", "c"))
    outbox.enqueue([a, b, c], T0)
    first = outbox.claim("w1", T0, limit=2, lease_s=30)
    assert [r.message.dedup_key.rsplit("|", 1)[1] for r in first] == ["a", "b"]
    assert all(r.lease_owner == "w1" and r.attempts == 1 for r in first)
    # Leased rows are not handed out again; the third one is.
    second = outbox.claim("w2", T0, limit=10, lease_s=30)
    assert [r.message for r in second] == [c]
    assert outbox.claim("w3", T0, limit=10) == []

    assert outbox.mark_delivered(first[0].id, "w1", T0)
    later = T0 + timedelta(seconds=5)
    assert outbox.mark_retry(first[1].id, "w1", later, "HTTP 500", T0)
    assert not outbox.mark_retry(second[0].id, "someone-else", later, "x", T0)
    assert outbox.mark_failed(second[0].id, "w2", "HTTP 400 bad", T0)

    stats = outbox.stats(T0)
    assert stats["delivered"] == 1 and stats["failed"] == 1 and stats["pending"] == 1
    assert stats["due"] == 0
    assert outbox.next_due_ms() == to_ms(later)
    assert outbox.claim("w1", T0 + timedelta(seconds=4)) == []
    (again,) = outbox.claim("w1", later)
    assert again.attempts == 2 and again.last_error == "HTTP 500"
    failed = outbox.list("failed")
    assert failed[0].last_error == "HTTP 400 bad"
    assert [r.id for r in outbox.pending()] == [again.id]


def test_expired_lease_is_reclaimed(outbox: Outbox) -> None:
    msg = message("webhook:ops")
    outbox.enqueue([msg], T0)
    (row,) = outbox.claim("dead", T0, lease_s=10)
    assert outbox.claim("new", T0 + timedelta(seconds=9)) == []
    (row2,) = outbox.claim("new", T0 + timedelta(seconds=10))
    assert row2.id == row.id and row2.lease_owner == "new" and row2.attempts == 2
    # The dead owner's late outcome must not clobber the new lease holder's state.
    assert not outbox.mark_retry(row.id, "dead", T0, "late", T0)
    assert outbox.mark_delivered(row2.id, "new", T0 + timedelta(seconds=11))


def test_defer_does_not_count_an_attempt(outbox: Outbox) -> None:
    outbox.enqueue([message("slack:#ops")], T0)
    (row,) = outbox.claim("w", T0)
    assert outbox.defer(row.id, "w", T0 + timedelta(seconds=1), T0)
    (row,) = outbox.claim("w", T0 + timedelta(seconds=1))
    assert row.attempts == 1


def test_concurrent_claimers_get_disjoint_rows(outbox: Outbox) -> None:
    msgs = [message("pagerduty", subject=f"s{i}") for i in range(60)]
    outbox.enqueue(msgs, T0)
    got: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        barrier.wait()
        mine: list[int] = []
        while True:
            rows = outbox.claim(name, T0, limit=3, lease_s=60)
            if not rows:
                break
            mine += [r.id for r in rows]
        got[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = [i for v in got.values() for i in v]
    assert len(ids) == 60 and len(set(ids)) == 60


def test_prune_removes_only_old_delivered_messages(outbox: Outbox) -> None:
    old, failed, recent, pending = (message("pagerduty", subject=s) for s in "abcd")
    outbox.enqueue([old, failed, recent, pending], T0)
    rows = {r.message.dedup_key.rsplit("|", 1)[1]: r for r in outbox.claim("w", T0, limit=4)}
    assert outbox.mark_delivered(rows["a"].id, "w", T0)
    assert outbox.mark_failed(rows["b"].id, "w", "HTTP 400", T0)
    assert outbox.mark_delivered(rows["c"].id, "w", T0 + timedelta(days=10))
    assert outbox.prune(T0 + timedelta(days=5)) == 1
    left = {r.message.dedup_key.rsplit("|", 1)[1] for r in outbox.list(limit=10)}
    assert left == {"b", "c", "d"}  # failed waits for a person, pending for delivery
