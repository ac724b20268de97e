"""One engine per database URL, the dialect helpers, and the SQLite settings — for every store.

Why one module: before it, five stores each called ``create_engine`` (the watch loop even made a
new history engine and ran ``create_all`` every cycle for every cluster), and three of them
copied the SQLite/PostgreSQL ``INSERT … ON CONFLICT DO NOTHING`` switch.  Now:

* :func:`acquire` hands out one shared engine per URL (reference-counted; the last
  :func:`release` disposes it), with ``pool_pre_ping`` and ``preserve_rowcount`` (psycopg leaves
  ``rowcount`` at -1 for INSERTs otherwise, and "did my insert win?" is how the stores detect a
  race);
* SQLite files get WAL and a 30 s busy timeout, so the watch loop, the service and a CLI command
  can share one file;
* :func:`acquire_serialized` is the SQLite flavour whose transactions start with
  ``BEGIN IMMEDIATE`` (the outbox's claim must hold the write lock from its first read);
* :func:`ensure_schema` brings the database to the newest schema revision (alembic, one history
  for every kafkaops table: :mod:`kafkaops.store.migrate`) once per engine, not once per call,
  and refuses a store table that no migration creates;
* :func:`insert_ignoring_conflicts` is the one dialect switch.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import MetaData, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

#: The databases kafkaops supports (and tests): SQLite for one instance, PostgreSQL for HA.
SUPPORTED = ("sqlite", "postgresql")

_lock = threading.Lock()
#: (url, serialized) → [engine, reference count]
_engines: dict[tuple[str, bool], list[Any]] = {}
#: id(engine) of databases already checked to be at the newest schema revision.
_schemas: set[int] = set()
#: (id(engine), id(metadata)): table sets already found at head.
_checked: set[tuple[int, int]] = set()


def _is_memory(url: str) -> bool:
    return url in ("sqlite://", "sqlite:///:memory:")


def _sqlite_engine(url: str, echo: bool, serialized: bool) -> Engine:
    memory = _is_memory(url)
    kwargs: dict[str, Any] = {
        "connect_args": {"timeout": 30, "check_same_thread": False},
        "execution_options": {"preserve_rowcount": True},
    }
    if memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, echo=echo, future=True, **kwargs)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        if serialized:
            dbapi_conn.isolation_level = None  # BEGIN IMMEDIATE is issued below
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    if serialized:
        # pysqlite begins lazily (BEGIN DEFERRED before the first write), so two processes
        # could both read the same due row and race to update it; taking the write lock at
        # BEGIN makes a claim a plain critical section (SQLAlchemy SQLite dialect docs).
        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _new_engine(url: str, echo: bool, serialized: bool) -> Engine:
    if url.startswith("sqlite"):
        engine = _sqlite_engine(url, echo, serialized)
    else:
        engine = create_engine(
            url,
            echo=echo,
            future=True,
            pool_pre_ping=True,
            execution_options={"preserve_rowcount": True},
        )
    if engine.dialect.name not in SUPPORTED:
        engine.dispose()
        raise ValueError(f"unsupported database {engine.dialect.name!r}: use sqlite or postgresql")
    return engine


def acquire(url: str, *, echo: bool = False) -> Engine:
    """The shared engine for ``url`` (made on first use); pair with :func:`release`."""
    return _acquire(url, echo, serialized=False)


def acquire_serialized(url: str, *, echo: bool = False) -> Engine:
    """Like :func:`acquire`, but SQLite transactions take the write lock at BEGIN.

    On PostgreSQL this is the ordinary shared engine (row locks do the job there).
    """
    return _acquire(url, echo, serialized=url.startswith("sqlite"))


def _acquire(url: str, echo: bool, serialized: bool) -> Engine:
    key = (url, serialized)
    with _lock:
        entry = _engines.get(key)
        if entry is None:
            entry = _engines[key] = [_new_engine(url, echo, serialized), 0]
        entry[1] += 1
        return entry[0]  # type: ignore[no-any-return]


def release(engine: Engine) -> None:
    """Give back an engine from :func:`acquire`; the last user disposes its pool."""
    with _lock:
        for key, entry in list(_engines.items()):
            if entry[0] is engine:
                entry[1] -= 1
                if entry[1] <= 0:
                    del _engines[key]
                    _schemas.discard(id(engine))
                    _checked.difference_update({k for k in _checked if k[0] == id(engine)})
                    engine.dispose()
                return


def url_of(engine: Engine) -> str:
    """The engine's URL with its password (to open a sibling engine on the same database)."""
    return engine.url.render_as_string(hide_password=False)


def ensure_schema(engine: Engine, metadata: MetaData) -> None:
    """Bring the database to the newest schema revision, once per engine; check the tables.

    Every kafkaops table is created by a migration under ``store/migrations`` (one alembic
    history; nothing calls ``create_all``).  SQLite is upgraded on the spot; PostgreSQL behind
    head raises :class:`kafkaops.store.migrate.SchemaBehindError` unless auto-upgrade is on.
    ``metadata`` is the calling store's tables: once per engine and table set they are checked
    to exist at head, so a table added to a store without a migration fails here, in one line
    naming it, instead of "no such table" in the middle of a watch cycle.
    """
    from kafkaops.store import migrate

    if id(engine) not in _schemas:
        lock = _lock_engine(engine)
        try:
            migrate.ensure_current(engine, lock_engine=lock)
        finally:
            if lock is not None:
                release(lock)
        with _lock:
            _schemas.add(id(engine))
    key = (id(engine), id(metadata))
    if key in _checked:
        return
    missing = migrate.missing_tables(engine, metadata)
    if missing:
        raise migrate.TableNotMigratedError(
            f"store {migrate.safe_url(engine)}: table {', '.join(missing)} is created by no "
            f"schema migration (head {migrate.HEAD}); a kafkaops developer must add one: "
            "'kafkaops db revision -m \"WHAT\"'"
        )
    with _lock:
        _checked.add(key)


def _lock_engine(engine: Engine) -> Engine | None:
    """For an SQLite file, the serialized engine (``BEGIN IMMEDIATE``) to migrate under."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return acquire_serialized(url_of(engine))


def upgrade_schema(engine: Engine, target: str = "head") -> tuple[str | None, str | None]:
    """``kafkaops db upgrade``: :func:`kafkaops.store.migrate.upgrade` under the right lock."""
    from kafkaops.store import migrate

    lock = _lock_engine(engine)
    try:
        return migrate.upgrade(engine, target, lock_engine=lock)
    finally:
        if lock is not None:
            release(lock)


def acquire_with_schema(url: str, metadata: MetaData, *, echo: bool = False) -> Engine:
    """:func:`acquire` plus :func:`ensure_schema`, the engine released again if the schema
    cannot be created: how every store opens (it was copied into each of them)."""
    engine = acquire(url, echo=echo)
    try:
        ensure_schema(engine, metadata)
    except BaseException:
        release(engine)
        raise
    return engine


def insert_ignoring_conflicts(engine: Engine, table: Table) -> Any:
    """``INSERT`` for ``table`` in the engine's dialect; chain ``.on_conflict_do_nothing()``."""
    name = engine.dialect.name
    if name == "postgresql":
        return pg_insert(table)
    if name == "sqlite":
        return sqlite_insert(table)
    raise ValueError(f"unsupported database {name!r}: use sqlite or postgresql")
