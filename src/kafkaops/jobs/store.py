"""Runs and results of the scheduled jobs, one row per job, cluster and scheduled time.

A job's run itself is the row with cluster ``*``: :meth:`JobsStore.claim` inserts it before the
job starts (so one instance runs it when several share PostgreSQL) and :meth:`finish` stores its
status, duration and output; per-cluster results are rows of their own (:meth:`record`).

SQLAlchemy Core on the shared store (SQLite or PostgreSQL), in a table of its own (``svc_job_runs``,
created if absent) so the history and incident schemas stay untouched.  The unique key
(job, cluster, scheduled time) makes a run idempotent: two service instances on one PostgreSQL
database, or a restart in the same minute, record the 09:00 check once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.engine import Engine

from kafkaops.core.clock import utc_now
from kafkaops.store import db

metadata = MetaData()

job_runs = Table(
    "svc_job_runs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("job", String(64), nullable=False),
    Column("cluster", String(200), nullable=False),
    #: Microseconds since the epoch, like the incident store.
    Column("scheduled_us", BigInteger, nullable=False, index=True),
    Column("ran_us", BigInteger, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("severity", String(4)),
    Column("result", JSON, nullable=False),
    UniqueConstraint("job", "cluster", "scheduled_us", name="uq_svc_job_runs"),
)


def _us(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


#: The ``cluster`` of a job's own run record (per-cluster results carry the cluster name).
RUN = "*"


def _iso(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def _iso_us(us: int) -> str:
    return f"{datetime.fromtimestamp(us / 1_000_000, tz=UTC):%Y-%m-%dT%H:%M:%SZ}"


class JobsStore:
    """Write job results once; read the recent ones for the API and dashboard."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        url = url_or_engine if isinstance(url_or_engine, str) else db.url_of(url_or_engine)
        self.engine: Engine = db.acquire_with_schema(url, metadata)

    def close(self) -> None:
        db.release(self.engine)

    def record(
        self,
        job: str,
        cluster: str,
        scheduled_for: datetime,
        *,
        ok: bool,
        severity: str | None,
        result: dict[str, Any],
        ran_at: datetime | None = None,
    ) -> bool:
        """Store one result; False when this (job, cluster, time) was already recorded."""
        row = {
            "job": job,
            "cluster": cluster,
            "scheduled_us": _us(scheduled_for),
            "ran_us": _us(ran_at or utc_now()),
            "ok": ok,
            "severity": severity,
            "result": result,
        }
        stmt = db.insert_ignoring_conflicts(self.engine, job_runs).values(row)
        stmt = stmt.on_conflict_do_nothing()
        with self.engine.begin() as conn:
            return bool(conn.execute(stmt).rowcount)

    def claim(self, job: str, scheduled_for: datetime, owner: str) -> bool:
        """Take the run of ``job`` at ``scheduled_for``; False if another instance has it."""
        started = utc_now()
        return self.record(
            job,
            RUN,
            scheduled_for,
            ok=False,
            severity=None,
            result={"status": "running", "owner": owner, "started_at": _iso(started)},
            ran_at=started,
        )

    def finish(
        self,
        job: str,
        scheduled_for: datetime,
        *,
        ok: bool,
        output: dict[str, Any],
        duration_s: float,
        severity: str | None = None,
    ) -> None:
        """Store how the claimed run ended (status, duration, output)."""
        c = job_runs.c
        result = {"status": "ok" if ok else "failed", "duration_s": round(duration_s, 3), **output}
        with self.engine.begin() as conn:
            conn.execute(
                update(job_runs)
                .where(c.job == job, c.cluster == RUN, c.scheduled_us == _us(scheduled_for))
                .values(ok=ok, severity=severity, result=result, ran_us=_us(utc_now()))
            )

    def has_run(self, job: str, scheduled_for: datetime) -> bool:
        """Whether the run of ``job`` at ``scheduled_for`` was claimed (by anyone, ever)."""
        c = job_runs.c
        q = select(c.id).where(c.job == job, c.cluster == RUN, c.scheduled_us == _us(scheduled_for))
        with self.engine.connect() as conn:
            return conn.execute(q).first() is not None

    def recent(self, job: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Newest first."""
        c = job_runs.c
        q = select(job_runs)
        if job is not None:
            q = q.where(c.job == job)
        q = q.order_by(c.scheduled_us.desc(), c.cluster).limit(limit)
        with self.engine.connect() as conn:
            return [
                {
                    "job": r.job,
                    "cluster": r.cluster,
                    "scheduled_for": _iso_us(r.scheduled_us),
                    "ran_at": _iso_us(r.ran_us),
                    "ok": bool(r.ok),
                    "severity": r.severity,
                    "result": r.result,
                }
                for r in conn.execute(q)
            ]
