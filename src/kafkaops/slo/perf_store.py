"""The monthly benchmark's results: one row per ``perf-test`` run and cluster.

Why a table: "compares with earlier months" needs the earlier months, across restarts and
hosts; the monthly report draws the trend from it.  Failed runs are kept too (with their error),
so a month whose benchmark could not run is visible, not silently missing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    insert,
    select,
)
from sqlalchemy.engine import Engine

from kafkaops.store import db

metadata = MetaData()

perf_runs = Table(
    "perf_runs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("cluster", String(200), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("topic", String(249), nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("record_size", Integer, nullable=False),
    Column("ok", SmallInteger, nullable=False),
    Column("produce_records_per_s", Float),
    Column("produce_mb_per_s", Float),
    Column("latency_avg_ms", Float),
    Column("latency_p50_ms", Float),
    Column("latency_p95_ms", Float),
    Column("latency_p99_ms", Float),
    Column("latency_p999_ms", Float),
    Column("latency_max_ms", Float),
    Column("consume_records_per_s", Float),
    Column("consume_mb_per_s", Float),
    Column("error", String(500)),
    #: Regressions found against the earlier months, the baseline, the tool commands' source.
    Column("detail", JSON, nullable=False),
    Index("ix_perf_key", "cluster", "at_ms"),
)

#: The measured numbers, in the order the table and reports show them.
METRICS = (
    "produce_records_per_s",
    "produce_mb_per_s",
    "latency_avg_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_p999_ms",
    "latency_max_ms",
    "consume_records_per_s",
    "consume_mb_per_s",
)


@dataclass
class PerfResult:
    """One benchmark run: what was run and what it measured (None: not measured)."""

    cluster: str
    at_ms: int
    topic: str
    records: int
    record_size: int
    ok: bool
    produce_records_per_s: float | None = None
    produce_mb_per_s: float | None = None
    latency_avg_ms: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_p999_ms: float | None = None
    latency_max_ms: float | None = None
    consume_records_per_s: float | None = None
    consume_mb_per_s: float | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PerfStore:
    def __init__(self, url: str) -> None:
        self.engine: Engine = db.acquire(url)
        try:
            db.ensure_schema(self.engine, metadata)
        except BaseException:
            db.release(self.engine)
            raise

    def close(self) -> None:
        db.release(self.engine)

    def record(self, result: PerfResult) -> None:
        row = result.to_dict()
        row["ok"] = int(result.ok)
        row["error"] = (result.error or "")[:500] or None
        row["detail"] = json.loads(json.dumps(result.detail, default=str))
        with self.engine.begin() as conn:
            conn.execute(insert(perf_runs), row)

    def runs(
        self, cluster: str, since_ms: int = 0, until_ms: int | None = None
    ) -> list[PerfResult]:
        """The cluster's runs in ``[since_ms, until_ms)``, oldest first."""
        c = perf_runs.c
        q = select(perf_runs).where(c.cluster == cluster, c.at_ms >= since_ms)
        if until_ms is not None:
            q = q.where(c.at_ms < until_ms)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q.order_by(c.at_ms, c.id))]
        out = []
        for r in rows:
            r.pop("id", None)
            r["ok"] = bool(r["ok"])
            r["detail"] = r["detail"] or {}
            out.append(PerfResult(**r))
        return out
