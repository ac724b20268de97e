"""History store: every snapshot's offsets and lag, kept bounded by downsampling.

SQLAlchemy Core, so one code path serves an embedded SQLite file (the default: zero set-up) and
PostgreSQL (``store.url: postgresql+psycopg://…``, for several kafkaops instances sharing state).

Three series, all keyed by cluster:

* ``log_end_offsets`` — (topic, partition, time, log-start, log-end): the offset→time history the
  *estimated* time lag interpolates over;
* ``group_offsets`` — (group, topic, partition, time, committed, lag, time lag): what the consumer
  status evaluation (Burrow-style sliding window) and the lag charts read;
* ``broker_samples`` — (broker, time, bytes in log dirs, disk %, CPU %, memory %, network
  bytes/s): the disk-usage and CPU charts and the capacity forecasts.  Disk % is the log-dir
  filesystem's as the brokers report it (DescribeLogDirs), else a metrics source's.

Retention is tiered (:data:`DEFAULT_TIERS`): recent samples at full resolution, older ones thinned
to one sample per bucket — the *last* sample of each bucket, which is exact for offsets (counters
that only move forward) — and dropped past the last tier.  ``compact()`` applies it; the watch
loop calls it periodically.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from kafkaops.core.model import ClusterSnapshot
from kafkaops.store import db
from kafkaops.store.lease import Fence, fenced

metadata = MetaData()

log_end_offsets = Table(
    "log_end_offsets",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("cluster", String(200), nullable=False),
    Column("topic", String(249), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("log_start", BigInteger),
    Column("log_end", BigInteger),
    #: Bucket width in seconds this row stands for (0 = a raw sample).
    Column("res_s", Integer, nullable=False, default=0),
    Index("ix_leo_key", "cluster", "topic", "partition", "ts_ms"),
    #: For the retention pass (migration 0002).
    Index("ix_leo_ts", "ts_ms"),
)

group_offsets = Table(
    "group_offsets",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("cluster", String(200), nullable=False),
    Column("group_id", String(255), nullable=False),
    Column("topic", String(249), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("committed", BigInteger),
    Column("log_end", BigInteger),
    Column("lag", BigInteger),
    Column("time_lag_ms", BigInteger),
    Column("time_lag_method", String(32)),
    Column("res_s", Integer, nullable=False, default=0),
    Index("ix_go_key", "cluster", "group_id", "topic", "partition", "ts_ms"),
    Index("ix_go_ts", "ts_ms"),
)

broker_samples = Table(
    "broker_samples",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("cluster", String(200), nullable=False),
    Column("broker", Integer, nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("used_bytes", BigInteger),
    Column("disk_percent", Float),
    Column("cpu_percent", Float),
    Column("memory_percent", Float),
    Column("network_bytes_per_s", Float),
    Column("res_s", Integer, nullable=False, default=0),
    Index("ix_bs_key", "cluster", "broker", "ts_ms"),
    Index("ix_bs_ts", "ts_ms"),
)


@dataclass(frozen=True)
class Tier:
    """Rows older than ``after_s`` are thinned to one per ``bucket_s`` seconds."""

    after_s: int
    bucket_s: int


#: Raw samples for 1 h; 1-minute to 24 h; 10-minute to 7 days; hourly to 90 days; daily to a
#: year.  Rows per series for a year: 360 + 1,380 + 864 + 1,992 + 275 ≈ 4,900, whatever the
#: sample interval — 10,000 partitions plus 10,000 group-partitions ≈ 98 M rows (about 14 GB in
#: SQLite at a measured ~146 bytes per row with its index; use PostgreSQL at that size, or a
#: shorter ``max_age_s``).
DEFAULT_TIERS = (
    Tier(3_600, 60),
    Tier(86_400, 600),
    Tier(7 * 86_400, 3_600),
    Tier(90 * 86_400, 86_400),
)
#: Past this, rows are deleted (a year: the capacity forecasts look back that far).
DEFAULT_MAX_AGE_S = 365 * 86_400


@dataclass(frozen=True)
class BrokerSample:
    """One broker at one time: what the disk and CPU charts plot."""

    ts_ms: int
    broker: int
    used_bytes: int | None
    disk_percent: float | None
    cpu_percent: float | None
    memory_percent: float | None
    network_bytes_per_s: float | None


@dataclass(frozen=True)
class GroupSample:
    ts_ms: int
    committed: int | None
    log_end: int | None
    lag: int | None
    time_lag_ms: int | None


class HistoryStore:
    """Write snapshots, read series, keep the size bounded."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: Engine = db.acquire_with_schema(url, metadata, echo=echo)

    def close(self) -> None:
        db.release(self.engine)

    # ------------------------------------------------------------------ write
    def record(
        self, snapshot: ClusterSnapshot, *, fence: Fence | None = None, offsets: bool = True
    ) -> int:
        """Store one snapshot's offsets and lag; returns the number of rows written.

        ``fence``: the cluster lease's check (``watch.sharing: per_cluster``), run first in the
        transaction; when it raises :class:`~kafkaops.store.lease.LeaseLost` nothing is written.
        ``offsets=False``: the broker samples only (the watch loop writes the two big offset
        series once per ``lag.history_every``, the few broker rows every cycle).

        At 20,000 partitions that is ~60,000 rows every cycle, so the two big series go in as
        plain tuples through the driver's bulk path (:func:`_bulk_insert`: one prepared
        ``executemany`` on SQLite, ``COPY`` on PostgreSQL) instead of one dict per row through
        SQLAlchemy's parameter processing, which was most of the write's cost.
        """
        ts = snapshot.taken_at_ms
        cluster = snapshot.cluster_name
        leo = [
            (cluster, p.topic, p.partition, ts, p.log_start_offset, p.log_end_offset, 0)
            for p in (snapshot.partitions if offsets else ())
            if p.log_end_offset is not None
        ]
        go = [
            (cluster, g.group_id, p.topic, p.partition, ts, p.committed, p.log_end_offset,
             p.lag, p.time_lag_ms, p.time_lag_method, 0)
            for g in (snapshot.groups if offsets else ())
            for p in g.partitions
        ]  # fmt: skip
        brokers = broker_rows(snapshot)
        with self.engine.begin() as conn:
            fenced(conn, fence)
            if leo:
                _bulk_insert(conn, log_end_offsets, _LEO_COLUMNS, leo)
            if go:
                _bulk_insert(conn, group_offsets, _GO_COLUMNS, go)
            if brokers:
                conn.execute(insert(broker_samples), brokers)
        return len(leo) + len(go) + len(brokers)

    # ------------------------------------------------------------------- read
    def group_window(
        self, cluster: str, group_id: str, *, since_ms: int | None = None, limit: int = 10
    ) -> dict[tuple[str, int], list[GroupSample]]:
        """The last ``limit`` samples per partition of a group, oldest first (Burrow's window)."""
        q = select(group_offsets).where(
            and_(group_offsets.c.cluster == cluster, group_offsets.c.group_id == group_id)
        )
        if since_ms is not None:
            q = q.where(group_offsets.c.ts_ms >= since_ms)
        q = q.order_by(group_offsets.c.topic, group_offsets.c.partition, group_offsets.c.ts_ms)
        out: dict[tuple[str, int], list[GroupSample]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(q):
                out.setdefault((row.topic, row.partition), []).append(
                    GroupSample(row.ts_ms, row.committed, row.log_end, row.lag, row.time_lag_ms)
                )
        return {k: v[-limit:] for k, v in out.items()}

    def group_windows(
        self, cluster: str, *, limit: int = 10
    ) -> dict[str, dict[tuple[str, int], list[GroupSample]]]:
        """Every group's window in one query: the rows of the cluster's last ``limit`` samples.

        Snapshots record every group at the same ``ts_ms``, so the last ``limit`` distinct
        sample times bound everyone's window; one query instead of one per group keeps status
        evaluation for thousands of groups cheap.
        """
        c = group_offsets.c
        times = (
            select(c.ts_ms)
            .where(c.cluster == cluster)
            .distinct()
            .order_by(c.ts_ms.desc())
            .limit(limit)
            .subquery()
        )
        q = (
            select(group_offsets)
            .where(and_(c.cluster == cluster, c.ts_ms >= select(func.min(times.c.ts_ms))
                        .scalar_subquery()))
            .order_by(c.group_id, c.topic, c.partition, c.ts_ms)
        )  # fmt: skip
        out: dict[str, dict[tuple[str, int], list[GroupSample]]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(q):
                out.setdefault(row.group_id, {}).setdefault((row.topic, row.partition), []).append(
                    GroupSample(row.ts_ms, row.committed, row.log_end, row.lag, row.time_lag_ms)
                )
        return {g: {k: v[-limit:] for k, v in parts.items()} for g, parts in out.items()}

    def log_end_brackets(
        self, cluster: str, positions: Iterable[tuple[str, int, int]]
    ) -> dict[tuple[str, int, int], list[tuple[int, int]]]:
        """For each (topic, partition, offset): the samples just before and after the log end
        passed ``offset`` — all the interpolated time lag needs, without reading whole series.

        Returns ``[(ts, log_end) before, (ts, log_end) after]`` oldest first; either may be
        missing (history too short, or the offset not reached yet).
        """
        c = log_end_offsets.c
        out: dict[tuple[str, int, int], list[tuple[int, int]]] = {}
        with self.engine.connect() as conn:
            for topic, partition, offset in positions:
                key = and_(c.cluster == cluster, c.topic == topic, c.partition == partition)
                before = conn.execute(
                    select(c.ts_ms, c.log_end)
                    .where(and_(key, c.log_end <= offset))
                    .order_by(c.ts_ms.desc())
                    .limit(1)
                ).first()
                after = conn.execute(
                    select(c.ts_ms, c.log_end)
                    .where(and_(key, c.log_end > offset))
                    .order_by(c.ts_ms)
                    .limit(1)
                ).first()
                out[(topic, partition, offset)] = [
                    (int(r.ts_ms), int(r.log_end)) for r in (before, after) if r is not None
                ]
        return out

    def recent_log_ends(
        self, cluster: str, *, samples: int
    ) -> list[tuple[int, dict[tuple[str, int], int]]]:
        """The cluster's last ``samples`` log-end sample times, oldest first, each with every
        partition's log end: what the watch loop's in-memory history starts from."""
        c = log_end_offsets.c
        times = (
            select(c.ts_ms)
            .where(c.cluster == cluster)
            .distinct()
            .order_by(c.ts_ms.desc())
            .limit(samples)
            .subquery()
        )
        q = (
            select(c.ts_ms, c.topic, c.partition, c.log_end)
            .where(and_(c.cluster == cluster, c.ts_ms >= select(func.min(times.c.ts_ms))
                        .scalar_subquery()))
            .order_by(c.ts_ms)
        )  # fmt: skip
        out: dict[int, dict[tuple[str, int], int]] = {}
        with self.engine.connect() as conn:
            for ts, topic, partition, log_end in conn.execute(q):
                if log_end is not None:
                    out.setdefault(int(ts), {})[(topic, int(partition))] = int(log_end)
        return sorted(out.items())

    def log_end_sample_times(self, cluster: str) -> int:
        """How many distinct log-end sample times the store holds for ``cluster``."""
        c = log_end_offsets.c
        q = select(func.count(func.distinct(c.ts_ms))).where(c.cluster == cluster)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def log_end_series(
        self, cluster: str, topic: str, partition: int, *, since_ms: int | None = None
    ) -> list[tuple[int, int]]:
        """(ts_ms, log_end) for one partition, oldest first: the interpolation table."""
        c = log_end_offsets.c
        q = select(c.ts_ms, c.log_end).where(
            and_(c.cluster == cluster, c.topic == topic, c.partition == partition)
        )
        if since_ms is not None:
            q = q.where(c.ts_ms >= since_ms)
        with self.engine.connect() as conn:
            return [(r.ts_ms, r.log_end) for r in conn.execute(q.order_by(c.ts_ms))]

    def group_lag_series(
        self, cluster: str, group_id: str, *, since_ms: int | None = None
    ) -> list[tuple[int, int, int | None]]:
        """(ts_ms, total offset lag, max time lag) per sample time: the lag chart."""
        c = group_offsets.c
        q = select(c.ts_ms, func.sum(c.lag), func.max(c.time_lag_ms)).where(
            and_(c.cluster == cluster, c.group_id == group_id)
        )
        if since_ms is not None:
            q = q.where(c.ts_ms >= since_ms)
        q = q.group_by(c.ts_ms).order_by(c.ts_ms)
        with self.engine.connect() as conn:
            return [(int(r[0]), int(r[1] or 0), r[2]) for r in conn.execute(q)]

    def broker_series(
        self, cluster: str, *, since_ms: int | None = None, broker: int | None = None
    ) -> list[BrokerSample]:
        """Every broker's samples (or one broker's), oldest first: disk and CPU charts."""
        c = broker_samples.c
        q = select(broker_samples).where(c.cluster == cluster)
        if since_ms is not None:
            q = q.where(c.ts_ms >= since_ms)
        if broker is not None:
            q = q.where(c.broker == broker)
        with self.engine.connect() as conn:
            return [
                BrokerSample(
                    int(r.ts_ms),
                    int(r.broker),
                    r.used_bytes,
                    r.disk_percent,
                    r.cpu_percent,
                    r.memory_percent,
                    r.network_bytes_per_s,
                )
                for r in conn.execute(q.order_by(c.ts_ms, c.broker))
            ]

    def count_rows(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (log_end_offsets, group_offsets, broker_samples)
            }

    # -------------------------------------------------------------- retention
    def compact(
        self,
        now_ms: int | None = None,
        tiers: Iterable[Tier] = DEFAULT_TIERS,
        max_age_s: int = DEFAULT_MAX_AGE_S,
    ) -> int:
        """Apply the retention tiers; returns the number of rows deleted."""
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        deleted = 0
        with self.engine.begin() as conn:
            for table, key in _series():
                cutoff = now_ms - max_age_s * 1000
                deleted += conn.execute(delete(table).where(table.c.ts_ms < cutoff)).rowcount
                for tier in sorted(tiers, key=lambda t: t.after_s):
                    deleted += _thin(conn, table, key, now_ms - tier.after_s * 1000, tier.bucket_s)
        return deleted


#: Column order of the tuples :meth:`HistoryStore.record` writes.
_LEO_COLUMNS = ("cluster", "topic", "partition", "ts_ms", "log_start", "log_end", "res_s")
_GO_COLUMNS = (
    "cluster", "group_id", "topic", "partition", "ts_ms", "committed", "log_end", "lag",
    "time_lag_ms", "time_lag_method", "res_s",
)  # fmt: skip


def _bulk_insert(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) in the connection's transaction.

    PostgreSQL: ``COPY … FROM STDIN`` (psycopg's copy, the fastest bulk path, same
    transaction); SQLite: one ``executemany`` of a prepared ``INSERT``, which the sqlite3
    module runs as a single statement re-bound per row.  Both skip SQLAlchemy's per-row
    parameter processing — the tables' column types need none (ints, strings, NULLs).
    """
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    target = quote(table.name)
    if conn.dialect.name == "postgresql":
        psycopg_conn = conn.connection.driver_connection
        if psycopg_conn is None:  # not inside begin(); says so instead of an AttributeError
            raise RuntimeError("history store: no open database connection for COPY")
        with (
            psycopg_conn.cursor() as cur,
            cur.copy(f"COPY {target} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {target} ({names}) VALUES ({marks})", rows)


def _series() -> Iterator[tuple[Table, tuple[str, ...]]]:
    yield log_end_offsets, ("cluster", "topic", "partition")
    yield group_offsets, ("cluster", "group_id", "topic", "partition")
    yield broker_samples, ("cluster", "broker")


def broker_rows(snapshot: ClusterSnapshot) -> list[dict[str, Any]]:
    """One row per broker: log-dir bytes and disk % from the admin protocol, the rest (and disk
    % when the brokers do not report capacity) from the first metrics source that has it."""
    used = snapshot.broker_bytes()
    disk: dict[int, float] = {}
    for broker, (total, in_use) in _log_dir_capacity(snapshot).items():
        disk[broker] = 100.0 * in_use / total
    metrics: dict[int, dict[str, float | None]] = {}
    for source in snapshot.metrics:
        for node in source.brokers:
            m = metrics.setdefault(node.node_id, {})
            for key, value in (
                ("disk_percent", node.disk_percent),
                ("cpu_percent", node.broker_cpu_percent),
                ("memory_percent", node.memory_percent),
                ("network_bytes_per_s", node.network_bytes_per_s),
            ):
                if m.get(key) is None:
                    m[key] = value
    rows = []
    for b in snapshot.brokers:
        m = metrics.get(b.node_id, {})
        row = {
            "cluster": snapshot.cluster_name,
            "broker": b.node_id,
            "ts_ms": snapshot.taken_at_ms,
            "used_bytes": used.get(b.node_id),
            "disk_percent": disk.get(b.node_id, m.get("disk_percent")),
            "cpu_percent": m.get("cpu_percent"),
            "memory_percent": m.get("memory_percent"),
            "network_bytes_per_s": m.get("network_bytes_per_s"),
            "res_s": 0,
        }
        if any(row[k] is not None for k in ("used_bytes", "disk_percent", "cpu_percent")):
            rows.append(row)
    return rows


def _log_dir_capacity(snapshot: ClusterSnapshot) -> dict[int, tuple[int, int]]:
    """``broker → (total, used)`` bytes of the log-dir filesystems that report capacity."""
    out: dict[int, tuple[int, int]] = {}
    for d in snapshot.log_dirs:
        if d.error or not d.total_bytes or d.usable_bytes is None:
            continue
        total, in_use = out.get(d.broker, (0, 0))
        out[d.broker] = (total + d.total_bytes, in_use + d.total_bytes - d.usable_bytes)
    return out


def _thin(conn: Any, table: Table, key: tuple[str, ...], cutoff_ms: int, bucket_s: int) -> int:
    """Keep the last row per (key, bucket) among rows older than ``cutoff_ms`` and finer than
    ``bucket_s``; mark the survivors as ``bucket_s`` rows."""
    bucket_ms = bucket_s * 1000
    c = table.c
    finer = and_(c.ts_ms < cutoff_ms, c.res_s < bucket_s)
    keep = select(func.max(c.id)).where(finer).group_by(*(c[k] for k in key), c.ts_ms // bucket_ms)
    removed = conn.execute(delete(table).where(and_(finer, c.id.not_in(keep)))).rowcount
    conn.execute(update(table).where(finer).values(res_s=bucket_s))
    return int(removed or 0)
