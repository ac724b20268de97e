"""Schema migrations for every kafkaops table: one alembic history, run from code.

Why: the stores used to call ``create_all``, which creates missing tables but never changes an
existing one — a column added next month would have no upgrade path on a shared PostgreSQL.
Now :func:`kafkaops.store.db.ensure_schema` calls :func:`ensure_current` once per engine:

* SQLite (one instance, the file is ours): upgrade to head automatically;
* PostgreSQL (shared, perhaps by several replicas of different versions): an empty database
  gets the schema; one with an older kafkaops schema makes the process refuse to start with one
  line saying what to run, unless auto-upgrade was asked for (``--auto-upgrade`` or
  ``KAFKAOPS_AUTO_UPGRADE=1``).  An upgrade while an older replica still runs is an operator's
  decision, not a side effect of a restart.

Every upgrade runs inside one transaction that first takes a lock (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL ``pg_advisory_xact_lock``) and then reads the current revision, so two processes
starting together on an empty database do not both create the tables; the DDL rolls back as a
whole if a step fails (both databases have transactional DDL).

The version is kept in ``kafkaops_alembic_version``, not alembic's default ``alembic_version``:
a PostgreSQL database shared with another application may already have that table.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from kafkaops.core.errors import KafkaopsError

VERSION_TABLE = "kafkaops_alembic_version"
#: Arbitrary constant for ``pg_advisory_xact_lock``: "kafkaops schema".
_PG_LOCK_KEY = 0x6B61666B61
_SCRIPT_LOCATION = "kafkaops.store:migrations"
#: The newest revision, also as a constant: the check every store makes on open then costs one
#: SELECT and no alembic import (≈0.3 s on a loaded machine).  tests/store/test_migrations.py
#: checks that it equals the migration scripts' head; bump it with every new migration.
HEAD = "0002"
#: The tables of the baseline revision: a database with none of them (and no version table) is
#: new, and creating the schema there cannot surprise an older replica.
BASELINE_TABLES = frozenset(
    {
        "broker_samples", "cap_broker", "cap_daily", "cap_logdir", "cap_topic", "group_offsets",
        "inc_alert_states", "inc_audit", "inc_clusters", "inc_incidents", "inc_leases",
        "inc_notices", "inc_sent_ledger", "inc_windows", "log_end_offsets", "outbox_messages",
        "svc_job_runs",
    }
)  # fmt: skip

_auto_upgrade_lock = threading.Lock()
_auto_upgrade = os.environ.get("KAFKAOPS_AUTO_UPGRADE", "").lower() in ("1", "true", "yes")


class SchemaBehindError(KafkaopsError):
    """The database's schema is older than this kafkaops and may not be upgraded implicitly."""


class SchemaAheadError(KafkaopsError):
    """The database was upgraded by a newer kafkaops: this one does not know its revision."""


def set_auto_upgrade(enabled: bool) -> None:
    """Allow (``--auto-upgrade``) upgrading a PostgreSQL schema on start."""
    global _auto_upgrade
    with _auto_upgrade_lock:
        _auto_upgrade = enabled


@dataclass(frozen=True, slots=True)
class Revision:
    """One migration: its id, the one before it and the first line of its docstring."""

    revision: str
    down_revision: str | None
    summary: str


def _config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", _SCRIPT_LOCATION)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache
def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision this kafkaops knows."""
    return str(_script().get_current_head())


def history() -> list[Revision]:
    """Every migration, oldest first."""
    revs = list(_script().walk_revisions())
    revs.reverse()
    return [
        Revision(
            r.revision,
            r.down_revision if isinstance(r.down_revision, str) else None,
            (r.doc or "").strip().splitlines()[0] if r.doc else "",
        )
        for r in revs
    ]


def _current_on(conn: Connection) -> str | None:
    from alembic.migration import MigrationContext

    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()  # type: ignore[no-any-return]


def current(engine: Engine) -> str | None:
    """The database's revision (``None``: no kafkaops schema yet, or one from before alembic)."""
    with engine.connect() as conn:
        return _current_on(conn)


def safe_url(engine: Engine) -> str:
    """The URL without its password, for messages."""
    return engine.url.render_as_string(hide_password=True)


def upgrade(
    engine: Engine, target: str = "head", *, lock_engine: Engine | None = None
) -> tuple[str | None, str | None]:
    """Upgrade (under the lock) to ``target``; returns the revisions before and after.

    ``lock_engine``: for an SQLite file, an engine on the same file whose transactions begin
    with ``BEGIN IMMEDIATE`` (:func:`kafkaops.store.db.upgrade_schema` passes it), so the write
    lock is held before the current revision is read.
    """
    from alembic import command

    with (lock_engine or engine).begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        before = _current_on(conn)
        if target == "head" and before == head():
            return before, before
        command.upgrade(_config(conn), target)
        return before, _current_on(conn)


def _is_empty(engine: Engine, now: str | None) -> bool:
    from sqlalchemy import inspect

    return now is None and not BASELINE_TABLES & set(inspect(engine).get_table_names())


def _fast_current(engine: Engine) -> str | None:
    """The version row by plain SQL (``None`` when the table is missing or empty)."""
    from sqlalchemy import inspect

    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        row = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
        return None if row is None else str(row[0])


def ensure_current(engine: Engine, *, lock_engine: Engine | None = None) -> None:
    """Make sure the schema is at head before a store uses it (see the module docstring)."""
    if _fast_current(engine) == HEAD:
        return
    now = current(engine)
    want = head()
    if now == want:
        return
    known = {r.revision for r in history()}
    if now is not None and now not in known:
        raise SchemaAheadError(
            f"store {safe_url(engine)} is at schema revision {now}, newer than this kafkaops "
            f"knows (head {want}): upgrade kafkaops"
        )
    if engine.dialect.name == "postgresql" and not _auto_upgrade and not _is_empty(engine, now):
        raise SchemaBehindError(
            f"store {safe_url(engine)} is at schema revision {now or 'none'}, this kafkaops "
            f"needs {want}: run 'kafkaops db upgrade --store URL' (or start with --auto-upgrade)"
        )
    upgrade(engine, lock_engine=lock_engine)
