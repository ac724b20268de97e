"""Named leader leases in the database: which of several watchers may page.

Two watchers sharing one PostgreSQL store (a hot standby) must not both page; each cycle the
watcher renews a lease here and only the holder runs the incident engine and delivers.

Atomic on both backends: a single conditional ``UPDATE … WHERE expired OR owner = me``
(PostgreSQL re-checks the condition on the committed row when two updates race; SQLite
serialises writers), and on first use ``INSERT … ON CONFLICT DO NOTHING``, so two processes can
never both get True for overlapping terms.  The caller passes ``now`` (the policy clock);
clocks must agree (NTP) — the lease is only as good as the clocks' agreement.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, MetaData, String, Table, and_, delete, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Engine

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

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        db.ensure_schema(engine, metadata)

    def try_acquire(self, name: str, owner: str, ttl_s: float, now: datetime) -> bool:
        """Take or renew lease ``name`` for ``owner`` until ``now + ttl_s``; False if held."""
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        now_us = _us(now)
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
                select(c.owner).where(and_(c.name == name, c.expires_us > _us(now)))
            ).first()
        return str(row.owner) if row else None
