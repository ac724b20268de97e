"""Named leader leases in the database: which of several watchers may page.

Two watchers sharing one PostgreSQL store (a hot standby) must not both page; each cycle the
watcher renews a lease here and only the holder runs the incident engine and delivers.

Atomic on both backends: a single conditional ``UPDATE … WHERE expired OR owner = me``
(PostgreSQL re-checks the condition on the committed row when two updates race; SQLite
serialises writers), and on first use ``INSERT … ON CONFLICT DO NOTHING``, so two processes can
never both get True for overlapping terms.

Whose clock: on PostgreSQL the database's (``now()``), because the watchers sharing it run on
different hosts, and with each host's own clock a standby whose clock is 10 minutes ahead would
take the lease while the leader is alive (both page), one 10 minutes behind would not take
over for 10 minutes after the leader died (nobody pages).  One clock, the database's, makes
terms mean the same to everyone.  On SQLite (one host by construction) the caller's ``now``
(the policy clock) is used, which also lets tests drive terms with an injected clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    String,
    Table,
    and_,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement

from kafkaops.store import db

metadata = MetaData()

#: The table keeps the name it had when it lived with the incident tables (no migration).
leases = Table(
    "inc_leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("acquired_us", BigInteger, nullable=False),
)


def _us(when: datetime) -> int:
    return round((when - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)


class Leases:
    """Leases on an engine shared with the other stores of the same database."""

    def __init__(self, engine: Engine, *, database_clock: bool | None = None) -> None:
        """``database_clock``: time terms by the database's ``now()`` (default: on PostgreSQL,
        the only backend several hosts share); False uses the caller's ``now``."""
        self.engine = engine
        if database_clock is None:
            database_clock = engine.dialect.name == "postgresql"
        self.database_clock = database_clock
        db.ensure_schema(engine, metadata)

    def _now_us(self, now: datetime) -> ColumnElement[int]:
        """Microseconds since the epoch: the database's ``now()``, or the caller's ``now``."""
        if self.database_clock:
            return cast(func.extract("epoch", func.now()) * 1_000_000, BigInteger)
        return literal(_us(now), BigInteger)

    def try_acquire(self, name: str, owner: str, ttl_s: float, now: datetime) -> bool:
        """Take or renew lease ``name`` for ``owner`` for ``ttl_s``; False if someone else holds
        it.  ``now`` is ignored where the database's clock is used."""
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        now_us = self._now_us(now)
        expires = now_us + round(ttl_s * 1_000_000)
        c = leases.c
        with self.engine.begin() as conn:
            renewed = conn.execute(
                sql_update(leases)
                .where(and_(c.name == name, or_(c.expires_us <= now_us, c.owner == owner)))
                .values(owner=owner, expires_us=expires, acquired_us=now_us)
            ).rowcount
            if renewed == 1:
                return True
            created = conn.execute(
                db.insert_ignoring_conflicts(self.engine, leases)
                .values(name=name, owner=owner, expires_us=expires, acquired_us=now_us)
                .on_conflict_do_nothing(index_elements=["name"])
            ).rowcount
            return bool(created == 1)

    def release(self, name: str, owner: str) -> bool:
        """Give the lease up early (clean shutdown); False if ``owner`` did not hold it."""
        c = leases.c
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(leases).where(and_(c.name == name, c.owner == owner))
            ).rowcount
        return bool(gone == 1)

    def holder(self, name: str, now: datetime) -> str | None:
        """Who holds lease ``name`` at ``now`` (``None`` if nobody or expired)."""
        c = leases.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(c.owner).where(and_(c.name == name, c.expires_us > self._now_us(now)))
            ).first()
        return str(row.owner) if row else None
