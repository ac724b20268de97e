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

Fencing (issue 17, clusters shared by several instances): each row carries an ``epoch``, bumped
whenever the lease changes hands (never reset: :meth:`Leases.release` expires the row instead of
deleting it).  A writer remembers the epoch it acquired and :meth:`Leases.check_held` re-reads
the row *inside its own transaction* (``FOR SHARE`` on PostgreSQL, so a takeover's UPDATE waits
for that transaction to end): an old owner that was paused past its term and woke up after
another instance took over finds another owner or epoch there and writes nothing.  Every write a
watch cycle makes for a cluster (incident state, history, SLO verdicts, capacity samples,
automatic-action records and the incident updates and outbox messages they queue) takes such a
check as its :data:`Fence` and calls it first in its transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from kafkaops.core.errors import KafkaopsError
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
    #: Bumped on every change of owner (migration 0006): the fencing token.
    Column("epoch", BigInteger, nullable=False, server_default="0"),
)


#: A fencing check: called first inside a write's transaction, raises :class:`LeaseLost` (and the
#: transaction writes nothing) unless the writer still holds its lease in its term.
Fence = Callable[[Connection], None]


def fenced(conn: Connection, fence: Fence | None) -> None:
    """Run ``fence`` on ``conn`` if there is one (the writes' one-line preamble)."""
    if fence is not None:
        fence(conn)


class LeaseLost(KafkaopsError):
    """The writer no longer holds the lease (or holds a newer term of it): nothing was written."""


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """One lease row as the API shows it: who holds it, which term, until when."""

    name: str
    owner: str
    epoch: int
    expires_us: int
    live: bool


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

    def now_us(self, now: datetime) -> ColumnElement[int]:
        """Microseconds since the epoch: the database's ``now()``, or the caller's ``now``."""
        if self.database_clock:
            return cast(func.extract("epoch", func.now()) * 1_000_000, BigInteger)
        return literal(_us(now), BigInteger)

    def try_acquire(self, name: str, owner: str, ttl_s: float, now: datetime) -> bool:
        """Take or renew lease ``name`` for ``owner`` for ``ttl_s``; False if someone else holds
        it.  ``now`` is ignored where the database's clock is used."""
        return self.acquire(name, owner, ttl_s, now) is not None

    def acquire(self, name: str, owner: str, ttl_s: float, now: datetime) -> int | None:
        """Like :meth:`try_acquire`, but returns the term's epoch (the fencing token), or None.

        The epoch goes up by one whenever the lease passes to a different owner; a renewal (or
        the same owner taking its own expired lease back: nobody wrote in between) keeps it.
        """
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        now_us = self.now_us(now)
        expires = now_us + round(ttl_s * 1_000_000)
        c = leases.c
        with self.engine.begin() as conn:
            renewed = conn.execute(
                sql_update(leases)
                .where(and_(c.name == name, or_(c.expires_us <= now_us, c.owner == owner)))
                .values(
                    owner=owner,
                    expires_us=expires,
                    acquired_us=now_us,
                    epoch=case((c.owner == owner, c.epoch), else_=c.epoch + 1),
                )
            ).rowcount
            if renewed != 1:
                created = conn.execute(
                    db.insert_ignoring_conflicts(self.engine, leases)
                    .values(name=name, owner=owner, expires_us=expires, acquired_us=now_us, epoch=1)
                    .on_conflict_do_nothing(index_elements=["name"])
                ).rowcount
                if created != 1:
                    return None
            epoch = conn.execute(select(c.epoch).where(c.name == name)).scalar_one()
        return int(epoch)

    def renew_held(self, owner: str, prefix: str, ttl_s: float, now: datetime) -> int:
        """Extend every unexpired lease of ``owner`` whose name starts with ``prefix`` (one
        statement: the heartbeat of an instance holding many cluster leases); returns how many.

        An expired lease is not renewed here: the next cycle re-acquires it (same epoch if
        nobody else took it meanwhile), so a heartbeat can never resurrect a lost term.
        """
        now_us = self.now_us(now)
        c = leases.c
        with self.engine.begin() as conn:
            done = conn.execute(
                sql_update(leases)
                .where(and_(c.owner == owner, c.name.startswith(prefix), c.expires_us > now_us))
                .values(expires_us=now_us + round(ttl_s * 1_000_000))
            ).rowcount
        return int(done)

    def release(self, name: str, owner: str) -> bool:
        """Give the lease up early (clean shutdown, rebalance); False if ``owner`` did not hold
        it.  The row stays, expired, so the next owner's epoch is higher than every earlier one."""
        c = leases.c
        with self.engine.begin() as conn:
            gone = conn.execute(
                sql_update(leases)
                .where(and_(c.name == name, c.owner == owner, c.expires_us > 0))
                .values(expires_us=0)
            ).rowcount
        return bool(gone == 1)

    def check_held(
        self, conn: Connection, name: str, owner: str, epoch: int, now: datetime
    ) -> None:
        """Raise :class:`LeaseLost` unless ``owner`` holds ``name`` in term ``epoch`` at ``now``.

        Call it first inside the transaction that writes on the lease's behalf: on PostgreSQL
        the row is locked ``FOR SHARE`` until that transaction ends, on SQLite the check takes
        the database's write lock, so no takeover can commit between this check and the writes.
        """
        c = leases.c
        held = and_(
            c.name == name,
            c.owner == owner,
            c.epoch == epoch,
            c.expires_us > self.now_us(now),
        )
        if conn.dialect.name == "sqlite":
            # pysqlite opens its transaction lazily, at the first write: a SELECT here would
            # run outside it and a takeover could commit between check and writes.  A no-op
            # UPDATE is a write: it opens the transaction and takes SQLite's write lock, which
            # the takeover's UPDATE then waits for until these writes commit.
            found = conn.execute(sql_update(leases).where(held).values(epoch=c.epoch)).rowcount
        else:
            query = select(c.owner).where(held)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(read=True)
            found = 1 if conn.execute(query).first() is not None else 0
        if found != 1:
            raise LeaseLost(f"lease {name} (epoch {epoch}) is no longer held by {owner}")

    def holders(self, prefix: str, now: datetime) -> dict[str, LeaseInfo]:
        """Every lease whose name starts with ``prefix``, live or not, by name (for the API)."""
        c = leases.c
        now_us = self.now_us(now)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    c.name, c.owner, c.epoch, c.expires_us, (c.expires_us > now_us).label("live")
                ).where(c.name.startswith(prefix))
            ).all()
        return {
            r.name: LeaseInfo(r.name, r.owner, int(r.epoch), int(r.expires_us), bool(r.live))
            for r in rows
        }

    def holder(self, name: str, now: datetime) -> str | None:
        """Who holds lease ``name`` at ``now`` (``None`` if nobody or expired)."""
        c = leases.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(c.owner).where(and_(c.name == name, c.expires_us > self.now_us(now)))
            ).first()
        return str(row.owner) if row else None
