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
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection, Engine

from kafkaops.core.errors import KafkaopsError

VERSION_TABLE = "kafkaops_alembic_version"
#: Arbitrary constant for ``pg_advisory_xact_lock``: "kafkaops schema".
_PG_LOCK_KEY = 0x6B61666B61
_SCRIPT_LOCATION = "kafkaops.store:migrations"
VERSIONS_DIR = Path(__file__).parent / "migrations" / "versions"
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


def _head_from_files() -> str:
    """The highest ``NNNN_*.py`` in the versions folder: the history is one straight line of
    four-digit revisions (``kafkaops db revision`` writes them so), so that is its head."""
    revs = [m.group(1) for p in VERSIONS_DIR.iterdir() if (m := _REVISION_FILE.match(p.name))]
    return max(revs)


#: The newest revision, read from the file names: the check every store makes on open then costs
#: one SELECT and no alembic import (≈0.3 s on a loaded machine).  tests/store/test_migrations.py
#: checks that it equals alembic's head of the scripts (one head, no branch).
HEAD = _head_from_files()
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


class TableNotMigratedError(KafkaopsError):
    """A store defines a table that no migration creates (a developer forgot ``db revision``)."""


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


def missing_tables(engine: Engine, metadata: MetaData) -> list[str]:
    """The tables of ``metadata`` that the database (at head) does not have.

    Why: the stores no longer ``create_all``; a table added to a store without a migration would
    otherwise fail later with "no such table" in the middle of a watch cycle.
    """
    from sqlalchemy import inspect

    have = set(inspect(engine).get_table_names())
    return sorted(set(metadata.tables) - have)


def _next_revision() -> str:
    return f"{int(HEAD) + 1:04d}"


def new_revision(message: str, metadata: MetaData) -> tuple[Path, list[str]] | None:
    """Write the migration from head to ``metadata`` (alembic autogenerate); for developers.

    ``metadata`` holds every kafkaops table (``kafkaops db revision`` collects them from every
    store module).  The comparison runs against a scratch SQLite database upgraded to head, so
    no server is needed; the script is written with ``render_as_batch`` (SQLite cannot ALTER a
    column in place; on PostgreSQL a batch is plain ALTERs).  Returns the new file and a line
    per change, or ``None`` when the migrations already match ``metadata``.
    """
    import tempfile

    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "change"
    rev = _next_revision()
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/scratch.db")
        try:
            upgrade(engine)
            with engine.begin() as conn:
                diffs = [
                    d
                    for d in compare_metadata(MigrationContext.configure(conn), metadata)
                    if not (
                        isinstance(d, tuple)
                        and d[0] == "remove_table"
                        and d[1].name == VERSION_TABLE
                    )
                ]
                if not diffs:
                    return None
                cfg = _config(conn)
                cfg.attributes["target_metadata"] = metadata
                command.revision(cfg, message=message, autogenerate=True, rev_id=rev)
        finally:
            engine.dispose()
    _script.cache_clear()
    path = VERSIONS_DIR / f"{rev}_{slug}.py"
    made = [p for p in VERSIONS_DIR.glob(f"{rev}_*.py")]
    if made and made[0] != path:
        made[0].rename(path)
    return path, [_describe(d) for d in diffs]


def _describe(diff: Any) -> str:
    """One line for a change alembic found (``add_table act_audit``)."""
    if isinstance(diff, list):  # column modifications come as a list of tuples
        return "; ".join(_describe(d) for d in diff)
    kind, obj = diff[0], diff[1]
    name = getattr(obj, "name", None) or (diff[3] if len(diff) > 3 else obj)
    table = getattr(getattr(obj, "table", None), "name", None)
    return f"{kind} {table + '.' if table else ''}{name}"
