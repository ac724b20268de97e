"""Capacity history: what the forecasts read, raw for a few weeks and as daily min/mean/max for
a year and more.

Same approach as :mod:`kafkaops.store.history` (SQLAlchemy Core on one ``MetaData``; SQLite by
default, PostgreSQL for shared state); kept in its own module so it can be folded into the
history store without rewriting it.  Four raw series, all keyed by cluster:

* ``cap_logdir``  — per broker and log dir: bytes Kafka stores there (sum of its replicas) and,
  when the broker reports them (DescribeLogDirs v4+, Kafka 3.3+), the filesystem's total and
  usable bytes;
* ``cap_broker``  — per broker: client bytes in/out, produce requests and failed produce requests
  per second (from the metrics sources), CPU and network (for broker-count advice), and the
  partition replicas and leaders it holds;
* ``cap_topic``   — per topic: bytes on disk (all replicas), partitions, replication factor,
  retention, summed log-start/log-end offsets and the bytes-in rate derived from them;
* ``cap_daily``   — one row per (series, subject, metric, day): count, min, mean, max.

Why daily min/mean/max: segment deletion makes disk usage a saw-tooth, and it is the daily
*max* that reaches capacity; the mean is what a chart of "usage" shows, the min the trough.
:meth:`CapacityStore.rollup` recomputes the days that still have raw rows (idempotent);
:meth:`CapacityStore.compact` rolls up, then drops raw rows older than ``raw_days`` whole days.
Back-filled days (CloudWatch) are written straight into ``cap_daily`` with their source.

Why this module is long: the capacity tables, their daily roll-ups (min/mean/max) and retention
are one schema with one set of queries on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
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
)
from sqlalchemy.engine import Connection, Engine

from kafkaops.core.model import ClusterSnapshot
from kafkaops.store import db
from kafkaops.store.lease import Fence, fenced

DAY_MS = 86_400_000
#: Raw samples are kept this many whole days after their day was rolled up.
DEFAULT_RAW_DAYS = 35

metadata = MetaData()


def _id() -> Column[int]:
    return Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True)


cap_logdir = Table(
    "cap_logdir",
    metadata,
    _id(),
    Column("cluster", String(200), nullable=False),
    Column("broker", Integer, nullable=False),
    Column("log_dir", String(1024), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("used_bytes", BigInteger),
    Column("fs_total_bytes", BigInteger),
    Column("fs_usable_bytes", BigInteger),
    Index("ix_cap_logdir", "cluster", "broker", "log_dir", "ts_ms"),
)

cap_broker = Table(
    "cap_broker",
    metadata,
    _id(),
    Column("cluster", String(200), nullable=False),
    Column("broker", Integer, nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("bytes_in_per_s", Float),
    Column("bytes_out_per_s", Float),
    Column("produce_requests_per_s", Float),
    Column("failed_produce_requests_per_s", Float),
    Column("cpu_percent", Float),
    Column("network_bytes_per_s", Float),
    Column("partitions", Integer),
    Column("leaders", Integer),
    Index("ix_cap_broker", "cluster", "broker", "ts_ms"),
)

cap_topic = Table(
    "cap_topic",
    metadata,
    _id(),
    Column("cluster", String(200), nullable=False),
    Column("topic", String(249), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("size_bytes", BigInteger),
    Column("partitions", Integer),
    Column("replication_factor", Integer),
    Column("retention_ms", BigInteger),
    Column("retention_bytes", BigInteger),
    Column("log_start_sum", BigInteger),
    Column("log_end_sum", BigInteger),
    #: Client bytes in per second (leader bytes, not counting replicas), derived from the log-end
    #: offsets' rate and the bytes per retained offset; None on a topic's first sample.
    Column("bytes_in_per_s", Float),
    Index("ix_cap_topic", "cluster", "topic", "ts_ms"),
)

cap_daily = Table(
    "cap_daily",
    metadata,
    _id(),
    Column("cluster", String(200), nullable=False),
    #: "logdir", "broker" or "topic".
    Column("series", String(16), nullable=False),
    #: "<broker>:<log dir>", "<broker>" or the topic name.
    Column("subject", String(1100), nullable=False),
    Column("metric", String(64), nullable=False),
    #: Days since 1970-01-01 (UTC).
    Column("day", Integer, nullable=False),
    Column("n", Integer, nullable=False),
    Column("min", Float),
    Column("mean", Float),
    Column("max", Float),
    #: "local" (rolled up from raw samples) or "cloudwatch" (back-filled).
    Column("source", String(32), nullable=False, default="local"),
    Index("ix_cap_daily", "cluster", "series", "subject", "metric", "day"),
)

#: Which columns of which raw table become daily metrics, and the subject key.
_ROLLUPS: tuple[tuple[str, Table, tuple[str, ...], tuple[str, ...]], ...] = (
    ("logdir", cap_logdir, ("broker", "log_dir"), ("used_bytes", "fs_total_bytes",
                                                   "fs_usable_bytes")),
    ("broker", cap_broker, ("broker",), ("bytes_in_per_s", "bytes_out_per_s",
                                         "produce_requests_per_s", "failed_produce_requests_per_s",
                                         "cpu_percent", "network_bytes_per_s", "partitions",
                                         "leaders")),
    ("topic", cap_topic, ("topic",), ("size_bytes", "bytes_in_per_s", "partitions")),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Daily:
    """One day of one metric."""

    day: int
    n: int
    min: float | None
    mean: float | None
    max: float | None
    source: str = "local"


@dataclass(frozen=True, slots=True)
class TopicState:
    """A topic's latest sample: what the retention steady state needs."""

    topic: str
    ts_ms: int
    size_bytes: int | None
    partitions: int | None
    replication_factor: int | None
    retention_ms: int | None
    retention_bytes: int | None
    bytes_in_per_s: float | None


class CapacityStore:
    """Record capacity samples, roll them up per day, read daily series."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        # One engine per URL (store.db): shared with the history and incident stores.
        self._owned = engine is None
        self.engine: Engine = engine or db.acquire(url)
        try:
            db.ensure_schema(self.engine, metadata)
        except BaseException:
            if self._owned:
                db.release(self.engine)
            raise

    def close(self) -> None:
        if self._owned:
            db.release(self.engine)

    # ------------------------------------------------------------------ write
    def record(
        self, snapshot: ClusterSnapshot, *, topics: bool = True, fence: Fence | None = None
    ) -> int:
        """One snapshot's capacity facts; returns rows written.  ``topics=False`` skips the
        per-topic rows (thousands on a big cluster; the watch hook samples them hourly).
        ``fence``: the cluster lease's check, first in the transaction (per-cluster sharing)."""
        cluster, ts = snapshot.cluster_name, snapshot.taken_at_ms
        logdirs = [
            {
                "cluster": cluster,
                "broker": d.broker,
                "log_dir": d.path,
                "ts_ms": ts,
                "used_bytes": d.used_bytes,
                "fs_total_bytes": d.total_bytes,
                "fs_usable_bytes": d.usable_bytes,
            }
            for d in snapshot.log_dirs
            if not d.error
        ]
        brokers = _broker_rows(snapshot)
        with self.engine.begin() as conn:
            fenced(conn, fence)
            topic_rows = _topic_rows(snapshot, self._last_topics(conn, cluster)) if topics else []
            for table, rows in (
                (cap_logdir, logdirs),
                (cap_broker, brokers),
                (cap_topic, topic_rows),
            ):
                if rows:
                    conn.execute(insert(table), rows)
        return len(logdirs) + len(brokers) + len(topic_rows)

    def write_daily(
        self,
        cluster: str,
        series: str,
        subject: str,
        metric: str,
        days: Iterable[Daily],
    ) -> int:
        """Store daily aggregates from elsewhere (a back-fill), replacing that source's days."""
        rows = list(days)
        if not rows:
            return 0
        c = cap_daily.c
        sources = {r.source for r in rows}
        with self.engine.begin() as conn:
            conn.execute(
                delete(cap_daily).where(
                    and_(
                        c.cluster == cluster,
                        c.series == series,
                        c.subject == subject,
                        c.metric == metric,
                        c.source.in_(sources),
                        c.day.in_([r.day for r in rows]),
                    )
                )
            )
            conn.execute(
                insert(cap_daily),
                [
                    {
                        "cluster": cluster,
                        "series": series,
                        "subject": subject,
                        "metric": metric,
                        "day": r.day,
                        "n": r.n,
                        "min": r.min,
                        "mean": r.mean,
                        "max": r.max,
                        "source": r.source,
                    }
                    for r in rows
                ],
            )
        return len(rows)

    # ------------------------------------------------------------- roll-up
    def rollup(self, cluster: str | None = None) -> int:
        """(Re)compute the daily rows of every day that has raw samples; returns rows written."""
        written = 0
        with self.engine.begin() as conn:
            for series, table, key, metrics in _ROLLUPS:
                t = table.c
                day = t.ts_ms // DAY_MS
                where = t.cluster == cluster if cluster is not None else None
                cols = [t.cluster, *(t[k] for k in key)]
                aggs = []
                for m in metrics:
                    aggs += [func.count(t[m]), func.min(t[m]), func.avg(t[m]), func.max(t[m])]
                q = select(*cols, day.label("day"), *aggs).group_by(*cols, day)
                if where is not None:
                    q = q.where(where)
                rows = conn.execute(q).all()
                if not rows:
                    continue
                touched: dict[tuple[str, str], set[int]] = {}
                out = []
                nk = len(key)
                for r in rows:
                    subject = ":".join(str(v) for v in r[1 : 1 + nk])
                    d = int(r[1 + nk])
                    touched.setdefault((r[0], subject), set()).add(d)
                    for i, m in enumerate(metrics):
                        n, lo, mean, hi = r[2 + nk + 4 * i : 6 + nk + 4 * i]
                        if not n:
                            continue
                        out.append(
                            {
                                "cluster": r[0],
                                "series": series,
                                "subject": subject,
                                "metric": m,
                                "day": d,
                                "n": int(n),
                                "min": float(lo),
                                "mean": float(mean),
                                "max": float(hi),
                                "source": "local",
                            }
                        )
                c = cap_daily.c
                for (cl, subject), days in touched.items():
                    conn.execute(
                        delete(cap_daily).where(
                            and_(
                                c.cluster == cl,
                                c.series == series,
                                c.subject == subject,
                                c.source == "local",
                                c.day.in_(sorted(days)),
                            )
                        )
                    )
                if out:
                    conn.execute(insert(cap_daily), out)
                    written += len(out)
        return written

    def compact(self, now_ms: int | None = None, raw_days: int = DEFAULT_RAW_DAYS) -> int:
        """Roll up, then delete raw rows of whole days older than ``raw_days``."""
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        self.rollup()
        cutoff = (now_ms // DAY_MS - raw_days) * DAY_MS
        deleted = 0
        with self.engine.begin() as conn:
            for table in (cap_logdir, cap_broker, cap_topic):
                deleted += conn.execute(delete(table).where(table.c.ts_ms < cutoff)).rowcount or 0
        return deleted

    # ------------------------------------------------------------------- read
    def daily(
        self,
        cluster: str,
        series: str,
        metric: str,
        *,
        subject: str | None = None,
        since_day: int | None = None,
    ) -> dict[str, list[Daily]]:
        """``subject → days`` oldest first.  Where a day has both a local and a back-filled row,
        the local one wins (measured here beats measured elsewhere)."""
        c = cap_daily.c
        q = select(cap_daily).where(
            and_(c.cluster == cluster, c.series == series, c.metric == metric)
        )
        if subject is not None:
            q = q.where(c.subject == subject)
        if since_day is not None:
            q = q.where(c.day >= since_day)
        by: dict[str, dict[int, Daily]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(q.order_by(c.subject, c.day)):
                days = by.setdefault(r.subject, {})
                if r.day in days and days[r.day].source == "local":
                    continue
                days[r.day] = Daily(r.day, r.n, r.min, r.mean, r.max, r.source)
        return {s: [d[k] for k in sorted(d)] for s, d in by.items()}

    def latest_topics(self, cluster: str) -> list[TopicState]:
        """Each topic's newest sample."""
        with self.engine.connect() as conn:
            rows = self._last_topics(conn, cluster)
        return [
            TopicState(
                r["topic"],
                r["ts_ms"],
                r["size_bytes"],
                r["partitions"],
                r["replication_factor"],
                r["retention_ms"],
                r["retention_bytes"],
                r["bytes_in_per_s"],
            )
            for r in rows.values()
        ]

    def latest_brokers(self, cluster: str) -> dict[int, dict[str, Any]]:
        """Each broker's newest ``cap_broker`` row as a dict."""
        c = cap_broker.c
        newest = (
            select(c.broker, func.max(c.ts_ms).label("ts"))
            .where(c.cluster == cluster)
            .group_by(c.broker)
            .subquery()
        )
        q = select(cap_broker).join(
            newest, and_(c.broker == newest.c.broker, c.ts_ms == newest.c.ts)
        )
        with self.engine.connect() as conn:
            return {
                int(r.broker): dict(r._mapping) for r in conn.execute(q.where(c.cluster == cluster))
            }

    def clusters(self) -> list[str]:
        with self.engine.connect() as conn:
            names = set(conn.execute(select(cap_daily.c.cluster).distinct()).scalars())
            names |= set(conn.execute(select(cap_logdir.c.cluster).distinct()).scalars())
        return sorted(names)

    def count_rows(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (cap_logdir, cap_broker, cap_topic, cap_daily)
            }

    # -------------------------------------------------------------- internals
    def _last_topics(self, conn: Connection, cluster: str) -> dict[str, dict[str, Any]]:
        c = cap_topic.c
        newest = (
            select(c.topic, func.max(c.ts_ms).label("ts"))
            .where(c.cluster == cluster)
            .group_by(c.topic)
            .subquery()
        )
        q = select(cap_topic).join(newest, and_(c.topic == newest.c.topic, c.ts_ms == newest.c.ts))
        return {r.topic: dict(r._mapping) for r in conn.execute(q.where(c.cluster == cluster))}


def record_capacity_sample(
    store: CapacityStore,
    snapshot: ClusterSnapshot,
    *,
    topics: bool = True,
    fence: Fence | None = None,
) -> int:
    """What the watch cycle calls after a good snapshot (leader only, like history)."""
    return store.record(snapshot, topics=topics, fence=fence)


# ----------------------------------------------------------------------------- row builders


def _broker_rows(snapshot: ClusterSnapshot) -> list[dict[str, Any]]:
    replicas: dict[int, int] = {}
    leaders: dict[int, int] = {}
    for p in snapshot.partitions:
        for r in p.replicas:
            replicas[r] = replicas.get(r, 0) + 1
        if p.leader >= 0:
            leaders[p.leader] = leaders.get(p.leader, 0) + 1
    metrics: dict[int, dict[str, float | None]] = {}
    fields = (
        "bytes_in_per_s",
        "bytes_out_per_s",
        "produce_requests_per_s",
        "failed_produce_requests_per_s",
        "network_bytes_per_s",
    )
    for source in snapshot.metrics:
        for node in source.brokers:
            m = metrics.setdefault(node.node_id, {})
            for f in fields:
                if m.get(f) is None:
                    m[f] = getattr(node, f)
            if m.get("cpu_percent") is None:
                m["cpu_percent"] = node.broker_cpu_percent
    return [
        {
            "cluster": snapshot.cluster_name,
            "broker": b.node_id,
            "ts_ms": snapshot.taken_at_ms,
            **{f: metrics.get(b.node_id, {}).get(f) for f in (*fields, "cpu_percent")},
            "partitions": replicas.get(b.node_id, 0),
            "leaders": leaders.get(b.node_id, 0),
        }
        for b in snapshot.brokers
    ]


def _int_config(configs: dict[str, str], key: str) -> int | None:
    try:
        return int(configs[key])
    except (KeyError, ValueError):
        return None


def _sum_all(values: list[int | None]) -> int | None:
    """The sum, or None when any value is missing (a partial sum would fake a rate)."""
    present = [v for v in values if v is not None]
    return sum(present) if len(present) == len(values) else None


def _topic_rows(
    snapshot: ClusterSnapshot, previous: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    sizes: dict[str, int] = {}
    for d in snapshot.log_dirs:
        if d.error:
            continue
        for name, replica_bytes in d.partition_bytes.items():
            topic = name.rsplit("-", 1)[0]
            sizes[topic] = sizes.get(topic, 0) + replica_bytes
    rows = []
    for t in snapshot.topics:
        start_sum = _sum_all([p.log_start_offset for p in t.partitions])
        end_sum = _sum_all([p.log_end_offset for p in t.partitions])
        size = sizes.get(t.name)
        rf = t.replication_factor or None
        rate = None
        prev = previous.get(t.name)
        if (
            prev
            and end_sum is not None
            and start_sum is not None
            and prev["log_end_sum"] is not None
            and size
            and rf
            and snapshot.taken_at_ms > prev["ts_ms"]
            and end_sum > start_sum
        ):
            d_offsets = end_sum - prev["log_end_sum"]
            if d_offsets >= 0:
                bytes_per_offset = size / rf / (end_sum - start_sum)
                rate = (
                    d_offsets * bytes_per_offset * 1000.0 / (snapshot.taken_at_ms - prev["ts_ms"])
                )
        rows.append(
            {
                "cluster": snapshot.cluster_name,
                "topic": t.name,
                "ts_ms": snapshot.taken_at_ms,
                "size_bytes": size,
                "partitions": len(t.partitions),
                "replication_factor": rf,
                "retention_ms": _int_config(t.configs, "retention.ms"),
                "retention_bytes": _int_config(t.configs, "retention.bytes"),
                "log_start_sum": start_sum,
                "log_end_sum": end_sum,
                "bytes_in_per_s": rate,
            }
        )
    return rows


def day_of(ts_ms: int) -> int:
    return ts_ms // DAY_MS


def maxima(days: Sequence[Daily]) -> list[tuple[int, float]]:
    """(day, max) of the days that have one."""
    return [(d.day, d.max) for d in days if d.max is not None]
