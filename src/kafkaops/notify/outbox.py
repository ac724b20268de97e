"""Persistent outbox: notifications are stored first, delivered later, each exactly once claimed.

Why an outbox: an alert decided in one cycle must survive a receiver being down, a crash of
kafkaops or a restart.  So the decision (an :class:`OutboundMessage`) is written to the
database, and dispatchers deliver from there, retrying with backoff.

Guarantees:

* **Idempotent enqueue** - ``idempotency_key`` is UNIQUE and inserts use
  ``ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL alike), so re-deciding the same
  notification after a restart, or two kafkaops instances deciding it, stores one row.
* **One claimer per message** - a claim sets a lease (owner + expiry) on due rows.  On
  PostgreSQL the rows are picked with ``SELECT … FOR UPDATE SKIP LOCKED`` so concurrent
  dispatchers (threads or processes, any number of hosts) never pick the same row and never
  wait for each other.  On SQLite every transaction starts with ``BEGIN IMMEDIATE`` (the
  database write lock), so claims are serialised across processes; SQLite is for one host.
* **Crash recovery** - a lease expires; a message whose dispatcher died mid-delivery becomes
  due again when ``lease_until`` passes and is delivered by the next claimer.

Delivery is therefore **at least once**: a dispatcher killed after the receiver accepted a
message but before ``mark_delivered`` committed will have it sent again after the lease
expires.  Receivers deduplicate: PagerDuty by ``dedup_key``, Alertmanager by labels, webhooks
and Slack readers by the idempotency key the message carries, e-mail by ``Message-ID``.

``attempts`` counts claims (incremented when claimed, not when a send fails), so a message
that crashes its dispatcher every time still runs out of attempts.

All times are UTC epoch milliseconds.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, Row

from kafkaops.notify.message import OutboundMessage
from kafkaops.store import db

Status = Literal["pending", "delivered", "failed"]
STATUSES: tuple[Status, ...] = ("pending", "delivered", "failed")
#: Stored error texts are cut to this length (they are one-liners, but receivers may be chatty).
ERROR_LIMIT = 2000

metadata = MetaData()

outbox_messages = Table(
    "outbox_messages",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("idempotency_key", String(700), nullable=False, unique=True),
    Column("channel", String(300), nullable=False),
    Column("action", String(16), nullable=False),
    Column("dedup_key", String(700), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("cluster", String(200), nullable=False),
    #: The whole message as JSON (``OutboundMessage.to_json``).
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    #: Number of times the message was claimed for delivery.
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_ms", BigInteger, nullable=False),
    Column("next_at_ms", BigInteger, nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_until_ms", BigInteger),
    Column("delivered_ms", BigInteger),
    Column("last_error", Text),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_outbox_due", "status", "next_at_ms"),
)


def to_ms(value: datetime | float | int) -> int:
    """Epoch milliseconds from an aware datetime or a number that already is ms."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware (UTC) datetime")
        return round(value.timestamp() * 1000)
    return int(value)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One stored message and its delivery state."""

    id: int
    message: OutboundMessage
    status: Status
    attempts: int
    created_ms: int
    next_at_ms: int
    lease_owner: str | None
    lease_until_ms: int | None
    delivered_ms: int | None
    last_error: str | None
    updated_ms: int

    @property
    def idempotency_key(self) -> str:
        return self.message.idempotency_key

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for CLI/API listings."""
        return {
            "id": self.id,
            "status": self.status,
            "attempts": self.attempts,
            "created_ms": self.created_ms,
            "next_at_ms": self.next_at_ms,
            "lease_owner": self.lease_owner,
            "lease_until_ms": self.lease_until_ms,
            "delivered_ms": self.delivered_ms,
            "last_error": self.last_error,
            "message": self.message.to_dict(),
        }


#: Text → text with the configured secrets removed (:class:`kafkaops.notify.redact.Redactor`).
Redact = Callable[[str | None], str | None]


def _no_redaction(text: str | None) -> str | None:
    return text


def _row(r: Row[Any], redact: Redact = _no_redaction) -> OutboxRow:
    m = r._mapping
    return OutboxRow(
        id=int(m["id"]),
        message=OutboundMessage.from_json(m["payload"]),
        status=m["status"],
        attempts=int(m["attempts"]),
        created_ms=int(m["created_ms"]),
        next_at_ms=int(m["next_at_ms"]),
        lease_owner=m["lease_owner"],
        lease_until_ms=m["lease_until_ms"],
        delivered_ms=m["delivered_ms"],
        last_error=redact(m["last_error"]),
        updated_ms=int(m["updated_ms"]),
    )


class Outbox:
    """The outbox table on an SQLAlchemy URL (``sqlite:///…``, ``postgresql+psycopg://…``).

    Engines come from :mod:`kafkaops.store.db`: on PostgreSQL the pool is shared with the other
    stores of the database; on SQLite the outbox gets the ``BEGIN IMMEDIATE`` flavour, because
    those hooks must not change the transactions of the other stores' engine.

    ``redact``: applied to every error text stored (``mark_retry``/``mark_failed``) and read
    back (rows stored before a secret was configured, or by an older version), so no listing
    of the outbox can show a configured secret; see :mod:`kafkaops.notify.redact`.
    """

    def __init__(
        self, url_or_engine: str | Engine, *, echo: bool = False, redact: Redact | None = None
    ) -> None:
        self.redact: Redact = redact or _no_redaction
        url = url_or_engine if isinstance(url_or_engine, str) else db.url_of(url_or_engine)
        self.engine = db.acquire_serialized(url, echo=echo)
        #: Plain (non-``BEGIN IMMEDIATE``) engine for reads that must not queue behind the
        #: watch loop's writes: a ``/metrics`` scrape or an incident view.
        # (An in-memory SQLite database exists once per engine: there the reader is the same.)
        memory = url in ("sqlite://", "sqlite:///:memory:")
        self.reader = (db.acquire_serialized if memory else db.acquire)(url, echo=echo)
        self.dialect = self.engine.dialect.name
        try:
            db.ensure_schema(self.engine, metadata)
        except BaseException:
            db.release(self.engine)
            db.release(self.reader)
            raise

    def __repr__(self) -> str:
        return f"Outbox({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        db.release(self.engine)
        db.release(self.reader)

    # ------------------------------------------------------------------ write
    def _insert(self) -> Any:
        # RETURNING tells new rows from conflicts on both databases (rowcount is not reliable
        # for INSERT … ON CONFLICT through every driver).
        return (
            db.insert_ignoring_conflicts(self.engine, outbox_messages)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(outbox_messages.c.id)
        )

    def enqueue(
        self,
        messages: Iterable[OutboundMessage],
        now: datetime | int | None = None,
        *,
        conn: Connection | None = None,
    ) -> int:
        """Store messages, due at once; returns how many were new (duplicates are no-ops).

        ``conn``: an open transaction on the same database (the incident store's), so queuing
        the messages commits or rolls back with the state change that produced them.
        """
        if conn is not None:
            return self._enqueue(conn, messages, now)
        with self.engine.begin() as own:
            return self._enqueue(own, messages, now)

    def _enqueue(
        self, conn: Connection, messages: Iterable[OutboundMessage], now: datetime | int | None
    ) -> int:
        at = to_ms(now) if now is not None else _now_ms()
        stmt = self._insert()
        added = 0
        for msg in messages:
            result = conn.execute(
                stmt.values(
                    idempotency_key=msg.idempotency_key,
                    channel=msg.channel,
                    action=msg.action,
                    dedup_key=msg.dedup_key,
                    severity=msg.severity,
                    cluster=msg.cluster,
                    payload=msg.to_json(),
                    status="pending",
                    attempts=0,
                    created_ms=at,
                    next_at_ms=at,
                    updated_ms=at,
                )
            )
            added += len(result.fetchall())
        return added

    def _due(self, now_ms: int) -> Any:
        t = outbox_messages.c
        return and_(
            t.status == "pending",
            t.next_at_ms <= now_ms,
            or_(t.lease_until_ms.is_(None), t.lease_until_ms <= now_ms),
        )

    def claim(
        self,
        owner: str,
        now: datetime | int,
        limit: int = 50,
        lease_s: float = 60.0,
    ) -> builtins.list[OutboxRow]:
        """Lease up to ``limit`` due messages to ``owner`` until ``now + lease_s``.

        Due: pending, ``next_at`` reached, and not leased (or the lease expired).  Oldest
        first.  Each returned row is leased to ``owner`` alone.
        """
        now_ms = to_ms(now)
        until = now_ms + round(lease_s * 1000)
        t = outbox_messages.c
        pick = select(t.id).where(self._due(now_ms)).order_by(t.next_at_ms, t.id).limit(limit)
        if self.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(pick)]
            if not ids:
                return []
            conn.execute(
                update(outbox_messages)
                .where(t.id.in_(ids))
                .values(
                    lease_owner=owner,
                    lease_until_ms=until,
                    attempts=t.attempts + 1,
                    updated_ms=now_ms,
                )
            )
            rows = conn.execute(
                select(outbox_messages).where(t.id.in_(ids)).order_by(t.next_at_ms, t.id)
            )
            return [_row(r, self.redact) for r in rows]

    def _finish(self, msg_id: int, owner: str | None, values: dict[str, Any]) -> bool:
        t = outbox_messages.c
        cond = and_(t.id == msg_id, t.status == "pending")
        if owner is not None:
            cond = and_(cond, t.lease_owner == owner)
        with self.engine.begin() as conn:
            return conn.execute(update(outbox_messages).where(cond).values(**values)).rowcount > 0

    def mark_delivered(self, msg_id: int, owner: str, now: datetime | int) -> bool:
        """Delivered.  Accepted even if the lease was lost meanwhile: the receiver has it, and
        marking it stops the new lease holder from sending a third copy (it may still send a
        second one - at least once)."""
        at = to_ms(now)
        values = {
            "status": "delivered",
            "delivered_ms": at,
            "lease_owner": owner,
            "lease_until_ms": None,
            "last_error": None,
            "updated_ms": at,
        }
        return self._finish(msg_id, None, values)

    def mark_retry(
        self, msg_id: int, owner: str, next_at: datetime | int, error: str, now: datetime | int
    ) -> bool:
        """Failed this time; due again at ``next_at``.  Ignored if ``owner`` lost the lease."""
        values = {
            "next_at_ms": to_ms(next_at),
            "lease_owner": None,
            "lease_until_ms": None,
            "last_error": (self.redact(error) or "")[:ERROR_LIMIT],
            "updated_ms": to_ms(now),
        }
        return self._finish(msg_id, owner, values)

    def defer(self, msg_id: int, owner: str, next_at: datetime | int, now: datetime | int) -> bool:
        """Put back without counting an attempt (e.g. held back by a rate limit)."""
        t = outbox_messages.c
        values = {
            "next_at_ms": to_ms(next_at),
            "lease_owner": None,
            "lease_until_ms": None,
            "attempts": func.max(t.attempts - 1, 0)
            if self.dialect == "sqlite"
            else func.greatest(t.attempts - 1, 0),
            "updated_ms": to_ms(now),
        }
        return self._finish(msg_id, owner, values)

    def mark_failed(self, msg_id: int, owner: str | None, reason: str, now: datetime | int) -> bool:
        """Permanently failed (refused, misconfigured, or gave up); ``reason`` is kept."""
        values = {
            "status": "failed",
            "lease_until_ms": None,
            "last_error": (self.redact(reason) or "")[:ERROR_LIMIT],
            "updated_ms": to_ms(now),
        }
        return self._finish(msg_id, owner, values)

    def retry_failed(self, msg_id: int, now: datetime | int) -> bool:
        """Operator action: put a failed message back (attempts reset)."""
        t = outbox_messages.c
        at = to_ms(now)
        with self.engine.begin() as conn:
            result = conn.execute(
                update(outbox_messages)
                .where(and_(t.id == msg_id, t.status == "failed"))
                .values(status="pending", attempts=0, next_at_ms=at, updated_ms=at)
            )
            return result.rowcount > 0

    # ------------------------------------------------------------------ read
    def get(self, idempotency_key: str) -> OutboxRow | None:
        t = outbox_messages.c
        with self.engine.begin() as conn:
            r = conn.execute(
                select(outbox_messages).where(t.idempotency_key == idempotency_key)
            ).first()
        return _row(r, self.redact) if r is not None else None

    def last_delivered_ms(self, channel: str) -> int | None:
        """When ``channel`` last delivered a message (None: never, or pruned)."""
        t = outbox_messages.c
        with self.engine.begin() as conn:
            value = conn.execute(
                select(func.max(t.delivered_ms)).where(
                    and_(t.channel == channel, t.status == "delivered")
                )
            ).scalar_one_or_none()
        return int(value) if value is not None else None

    def by_dedup_prefix(self, prefix: str, limit: int = 1000) -> builtins.list[OutboxRow]:
        """Messages whose ``dedup_key`` starts with ``prefix`` (oldest first)."""
        t = outbox_messages.c
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (
            select(outbox_messages)
            .where(t.dedup_key.like(escaped + "%", escape="\\"))
            .order_by(t.id)
            .limit(limit)
        )
        with self.engine.begin() as conn:
            return [_row(r, self.redact) for r in conn.execute(query)]

    def for_incident(
        self, incident_id: str, alert_keys: Iterable[str], since_ms: int, limit: int = 500
    ) -> builtins.list[OutboxRow]:
        """An incident's notifications: its own actions (``dedup_key`` ``incident:<id>``) and
        its alerts' notifications since it opened; oldest first."""
        t = outbox_messages.c
        keys = sorted(set(alert_keys))
        cond = t.dedup_key == f"incident:{incident_id}"
        if keys:
            cond = or_(cond, and_(t.dedup_key.in_(keys), t.created_ms >= since_ms))
        query = select(outbox_messages).where(cond).order_by(t.created_ms, t.id).limit(limit)
        with self.reader.connect() as conn:
            return [_row(r, self.redact) for r in conn.execute(query)]

    def pending_count(self) -> int:
        """Messages not yet delivered or failed (a read that never waits for the write lock)."""
        t = outbox_messages.c
        with self.reader.connect() as conn:
            return int(conn.execute(select(func.count()).where(t.status == "pending")).scalar_one())

    def pending(self, limit: int = 1000) -> builtins.list[OutboxRow]:
        """Messages not yet delivered or failed (leased ones included), soonest first."""
        return self.list("pending", limit=limit)

    def next_due_ms(self) -> int | None:
        """When the next pending message becomes claimable (lease expiry counted), or None."""
        t = outbox_messages.c
        # Two-argument max() is SQLite's greatest().
        greatest = func.greatest if self.dialect == "postgresql" else func.max
        due: Any = greatest(t.next_at_ms, func.coalesce(t.lease_until_ms, 0))
        with self.engine.begin() as conn:
            value = conn.execute(
                select(func.min(due)).where(t.status == "pending")
            ).scalar_one_or_none()
        return int(value) if value is not None else None

    def stats(self, now: datetime | int | None = None) -> dict[str, int]:
        """Counts by status, plus ``leased`` and ``due`` (of pending) at ``now``."""
        at = to_ms(now) if now is not None else _now_ms()
        t = outbox_messages.c
        out: dict[str, int] = dict.fromkeys(STATUSES, 0)
        with self.engine.begin() as conn:
            for status, count in conn.execute(select(t.status, func.count()).group_by(t.status)):
                out[status] = int(count)
            out["leased"] = int(
                conn.execute(
                    select(func.count()).where(and_(t.status == "pending", t.lease_until_ms > at))
                ).scalar_one()
            )
            out["due"] = int(conn.execute(select(func.count()).where(self._due(at))).scalar_one())
        return out

    def prune(self, delivered_before: datetime | int) -> int:
        """Delete messages delivered before ``delivered_before``; returns how many.

        Only delivered ones: failed messages wait for a person (``kafkaops outbox retry``) and
        pending ones for delivery.  Keep the horizon well past any re-send of the same
        idempotency key (days, not minutes): the row *is* the "already sent" record.
        """
        t = outbox_messages.c
        cutoff = to_ms(delivered_before)
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(outbox_messages).where(
                    and_(t.status == "delivered", t.delivered_ms < cutoff)
                )
            )
        return int(result.rowcount or 0)

    def list(
        self, status: Status | None = None, limit: int = 100, channel: str | None = None
    ) -> builtins.list[OutboxRow]:
        """Rows by status (all when ``None``); pending soonest first, others newest first."""
        t = outbox_messages.c
        query = select(outbox_messages)
        if status is not None:
            if status not in STATUSES:
                raise ValueError(f"unknown status {status!r} (one of {STATUSES})")
            query = query.where(t.status == status)
        if channel is not None:
            query = query.where(t.channel == channel)
        if status == "pending":
            query = query.order_by(t.next_at_ms, t.id)
        else:
            query = query.order_by(t.updated_ms.desc(), t.id.desc())
        with self.engine.begin() as conn:
            return [_row(r, self.redact) for r in conn.execute(query.limit(limit))]


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)
