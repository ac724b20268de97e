"""The actions audit trail in the store: who did what to which cluster, when, and the result.

One append-only table, ``act_audit`` (SQLite or PostgreSQL, beside the history and incident
tables).  Every apply writes a ``started`` row *before* the AWS call and a final row after it,
so a crash between the two still leaves the attempt on record; dry-runs and refusals are
recorded too (a refused change is a fact an auditor asks about).
"""

from __future__ import annotations

import builtins
import getpass
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.engine import Engine

from kafkaops.store import db
from kafkaops.store.lease import Fence, fenced

metadata = MetaData()

act_audit = Table(
    "act_audit",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    #: Microseconds since the epoch, UTC.
    Column("at_us", BigInteger, nullable=False),
    Column("who", String(200), nullable=False),
    Column("cluster", String(200), nullable=False),
    Column("operation", String(200), nullable=False),
    #: refused | dry_run | started | succeeded | failed | timed_out
    Column("result", String(20), nullable=False),
    Column("summary", Text, nullable=False),
    Column("operation_arn", String(400)),
    Column("detail", JSON, nullable=False),
)


def who() -> str:
    """``user@host`` (``KAFKAOPS_ACTOR`` overrides, for automation that acts for someone)."""
    actor = os.environ.get("KAFKAOPS_ACTOR")
    if actor:
        return actor[:200]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        db.ensure_schema(engine, metadata)

    @classmethod
    @contextmanager
    def open(cls, url: str) -> Iterator[AuditLog]:
        engine = db.acquire(url)
        try:
            yield cls(engine)
        finally:
            db.release(engine)

    def record(
        self,
        *,
        cluster: str,
        operation: str,
        result: str,
        summary: str,
        operation_arn: str | None = None,
        detail: dict[str, Any] | None = None,
        at: datetime | None = None,
        actor: str | None = None,
        fence: Fence | None = None,
    ) -> dict[str, Any]:
        """Append one row.  ``fence``: the cluster lease's check when the watch loop records
        an automatic action (per-cluster sharing); rejected, nothing is written."""
        when = at or datetime.now(UTC)
        row = {
            "at_us": int(when.timestamp() * 1_000_000),
            "who": actor or who(),
            "cluster": cluster,
            "operation": operation,
            "result": result,
            "summary": summary[:2000],
            "operation_arn": operation_arn,
            "detail": json.loads(json.dumps(detail or {}, default=str)),
        }
        with self.engine.begin() as conn:
            fenced(conn, fence)
            conn.execute(insert(act_audit).values(**row))
        return _public(row)

    def list(self, cluster: str | None = None, last: int = 50) -> list[dict[str, Any]]:
        q = select(act_audit).order_by(act_audit.c.id.desc()).limit(last)
        if cluster:
            q = q.where(act_audit.c.cluster == cluster)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
        return [_public(r) for r in reversed(rows)]

    def runs(self, cluster: str, operation: str, since: datetime) -> builtins.list[datetime]:
        """When ``operation`` ran on ``cluster`` since ``since`` (every result but refusals)."""
        c = act_audit.c
        q = (
            select(c.at_us)
            .where(c.cluster == cluster, c.operation == operation, c.result != "refused")
            .where(c.at_us >= int(since.timestamp() * 1_000_000))
            .order_by(c.at_us)
        )
        with self.engine.connect() as conn:
            return [datetime.fromtimestamp(r[0] / 1_000_000, UTC) for r in conn.execute(q)]

    def last(self, cluster: str, operation: str, since: datetime) -> dict[str, Any] | None:
        """The newest row of ``operation`` on ``cluster`` since ``since`` (refusals aside)."""
        c = act_audit.c
        q = (
            select(act_audit)
            .where(c.cluster == cluster, c.operation == operation, c.result != "refused")
            .where(c.at_us >= int(since.timestamp() * 1_000_000))
            .order_by(c.at_us.desc(), c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return _public(dict(row._mapping)) if row is not None else None


def _public(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("at_us", "id")}
    at = datetime.fromtimestamp(row["at_us"] / 1_000_000, UTC)
    out["at"] = at.isoformat(timespec="seconds").replace("+00:00", "Z")
    return out
