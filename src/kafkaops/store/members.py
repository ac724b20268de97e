"""Which kafkaops instances are alive on a shared store: a heartbeat row per instance.

Why (issue 17): clusters are spread over the instances that share one PostgreSQL store, and to
compute who should watch what every instance needs the same list of live peers.  Each instance
upserts its row every few seconds with an expiry; the live members are the unexpired rows.  An
instance that dies (``kill -9``, a lost host) stops heartbeating and drops out when its row
expires; one that stops cleanly deletes its row, so the others rebalance at their next cycle.

Whose clock: the database's on PostgreSQL, for the same reason as :mod:`kafkaops.store.lease`
(hosts' clocks disagree); the caller's ``now`` on SQLite (one host; tests inject it).

:func:`rendezvous` is the assignment rule: highest-random-weight hashing of a key (a cluster's
name) over the members; :func:`balanced` adds a bound on keys per member.  Every instance
computes the same answer from the same list, and when a member joins or leaves only about the
keys that member wins or held move, unlike ``hash % N`` which reshuffles almost everything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import BigInteger, Column, MetaData, String, Table, and_, delete, select
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Engine

from kafkaops.store import db
from kafkaops.store.lease import Leases

metadata = MetaData()

members = Table(
    "kafkaops_members",
    metadata,
    Column("instance", String(200), primary_key=True),
    Column("started_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
)


def rendezvous(key: str, candidates: Iterable[str]) -> str | None:
    """The candidate with the highest hash of ``(key, candidate)``; None when there are none."""
    ranked = sorted(set(candidates), key=lambda m: _weight(key, m), reverse=True)
    return ranked[0] if ranked else None


def balanced(keys: Iterable[str], candidates: Iterable[str]) -> dict[str, str]:
    """Rendezvous hashing with bounded load: each key goes to its highest-weight candidate that
    still has room, at most ``ceil(keys / candidates)`` keys per candidate.

    Why bounded: plain rendezvous spreads well only over many keys; 3 clusters on 3 instances
    often land 2/1/0.  With the bound every instance gets its share and, keys being taken in
    sorted order, every instance still computes the same answer from the same lists.  A join or
    leave moves a few more keys than plain rendezvous (the overflow), still far from a reshuffle.
    """
    names = sorted(set(keys))
    members = sorted(set(candidates))
    if not members:
        return {}
    room = dict.fromkeys(members, -(-len(names) // len(members)))
    out: dict[str, str] = {}
    for key in names:
        ranked = sorted(members, key=lambda m: _weight(key, m), reverse=True)
        winner = next(m for m in ranked if room[m] > 0)
        room[winner] -= 1
        out[key] = winner
    return out


def _weight(key: str, candidate: str) -> tuple[bytes, str]:
    return hashlib.sha256(f"{key}\x00{candidate}".encode()).digest(), candidate


class Members:
    """Membership rows on an engine shared with the other stores of the same database."""

    def __init__(self, engine: Engine, *, database_clock: bool | None = None) -> None:
        self.engine = engine
        # The same clock rule as the leases: one helper, one answer.
        self._clock = Leases(engine, database_clock=database_clock)
        db.ensure_schema(engine, metadata)

    @property
    def database_clock(self) -> bool:
        return self._clock.database_clock

    def heartbeat(self, instance: str, ttl_s: float, now: datetime) -> None:
        """Say ``instance`` is alive for another ``ttl_s`` (joins on first call)."""
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        now_us = self._clock.now_us(now)
        expires = now_us + round(ttl_s * 1_000_000)
        c = members.c
        with self.engine.begin() as conn:
            done = conn.execute(
                sql_update(members).where(c.instance == instance).values(expires_us=expires)
            ).rowcount
            if done != 1:
                conn.execute(
                    db.insert_ignoring_conflicts(self.engine, members)
                    .values(instance=instance, started_us=now_us, expires_us=expires)
                    .on_conflict_do_nothing(index_elements=["instance"])
                )

    def live(self, now: datetime) -> list[str]:
        """Instances whose heartbeat has not expired at ``now``, sorted."""
        c = members.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.instance).where(c.expires_us > self._clock.now_us(now))
            ).all()
        return sorted(str(r.instance) for r in rows)

    def leave(self, instance: str) -> None:
        """Clean shutdown: the others see ``instance`` gone at their next cycle."""
        with self.engine.begin() as conn:
            conn.execute(delete(members).where(members.c.instance == instance))

    def prune(self, now: datetime, older_than_s: float = 86_400.0) -> int:
        """Forget rows expired for ``older_than_s`` (killed instances never delete theirs)."""
        c = members.c
        limit = self._clock.now_us(now) - round(older_than_s * 1_000_000)
        with self.engine.begin() as conn:
            gone = conn.execute(delete(members).where(and_(c.expires_us < limit))).rowcount
        return int(gone)
