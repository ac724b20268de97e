"""The per-cycle SLI verdicts: one row per watch cycle per cluster.

Why a table of its own: the history store keeps offsets and lag (thinned after an hour), not
the verdict "was the cluster available at this cycle"; recomputing that from offsets is not
possible (offline partitions, controllers and min-ISR are not in the series).  One small row per
cycle (≈ 260,000 a month per cluster at 10 s) is cheap, and a restart loses nothing: the SLI is
computed from the rows, and time no row covers is *unknown*, never good.

``available`` / ``fresh``: 1 good, 0 bad, NULL not observed this cycle (freshness without
critical groups or without a time lag).  ``span_ms`` is the watch interval the cycle stands for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    and_,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import Engine

from kafkaops.store import db
from kafkaops.store.lease import Fence, fenced

metadata = MetaData()

slo_cycles = Table(
    "slo_cycles",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("cluster", String(200), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("span_ms", BigInteger, nullable=False),
    Column("available", SmallInteger),
    Column("fresh", SmallInteger),
    Column("reason", String(300)),
    Index("ix_slo_key", "cluster", "ts_ms"),
)

#: Verdicts older than this are dropped (a year of monthly reports, and some slack).
MAX_AGE_MS = 400 * 86_400_000


@dataclass(frozen=True)
class Verdict:
    """One cycle: was the cluster available, were the critical groups fresh, and why not."""

    ts_ms: int
    span_ms: int
    available: bool | None
    fresh: bool | None
    reason: str = ""


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


class SloStore:
    """Write verdicts, read them back for a period, drop the old ones."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = db.acquire(url)
        try:
            db.ensure_schema(self.engine, metadata)
        except BaseException:
            db.release(self.engine)
            raise

    def close(self) -> None:
        db.release(self.engine)

    def record(self, cluster: str, verdict: Verdict, *, fence: Fence | None = None) -> None:
        """Store one cycle's verdict.  ``fence``: the cluster lease's check (per-cluster
        sharing), first in the transaction: an instance that lost the cluster writes nothing."""
        with self.engine.begin() as conn:
            fenced(conn, fence)
            conn.execute(
                insert(slo_cycles),
                {
                    "cluster": cluster,
                    "ts_ms": verdict.ts_ms,
                    "span_ms": verdict.span_ms,
                    "available": _flag(verdict.available),
                    "fresh": _flag(verdict.fresh),
                    "reason": verdict.reason[:300] or None,
                },
            )

    def verdicts(
        self, cluster: str, since_ms: int, until_ms: int, *, lead_ms: int = 86_400_000
    ) -> list[Verdict]:
        """Verdicts of ``cluster`` in ``[since_ms - lead_ms, until_ms)``, oldest first.

        A lead (a day by default): the cycle just before the period covers its first seconds.
        """
        c = slo_cycles.c
        q = (
            select(c.ts_ms, c.span_ms, c.available, c.fresh, c.reason)
            .where(and_(c.cluster == cluster, c.ts_ms >= since_ms - lead_ms, c.ts_ms < until_ms))
            .order_by(c.ts_ms, c.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).tuples().all()
        return [
            Verdict(
                int(ts),
                int(span),
                None if a is None else bool(a),
                None if f is None else bool(f),
                reason or "",
            )
            for ts, span, a, f, reason in rows
        ]

    def clusters(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(select(slo_cycles.c.cluster).distinct()))

    def prune(self, now_ms: int | None = None, max_age_ms: int = MAX_AGE_MS) -> int:
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        with self.engine.begin() as conn:
            done = conn.execute(delete(slo_cycles).where(slo_cycles.c.ts_ms < now_ms - max_age_ms))
            return int(done.rowcount or 0)
