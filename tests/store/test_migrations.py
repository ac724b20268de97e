"""Schema migrations (alembic, one history for every kafkaops table) on SQLite and PostgreSQL.

The central promise: a database at the first revision, holding data, upgrades to head with
nothing lost — and the migrations' head is exactly the tables the stores use.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kafkaops.store import db, migrate
from tests.conftest import run_cli


def _all_metadata() -> sa.MetaData:
    from kafkaops.capacity import store as cap
    from kafkaops.incidents import store as inc
    from kafkaops.notify import outbox
    from kafkaops.service import jobs_store
    from kafkaops.store import history, lease

    merged = sa.MetaData()
    for md in (history.metadata, lease.metadata, inc.metadata, outbox.metadata,
               jobs_store.metadata, cap.metadata):  # fmt: skip
        for table in md.tables.values():
            table.to_metadata(merged)
    return merged


def _value(col: sa.Column[Any], i: int) -> Any:
    t = col.type
    if isinstance(t, sa.JSON):
        return {"i": i, "text": "ü"}
    if isinstance(t, sa.Boolean):
        return True
    if isinstance(t, sa.Float):
        return 1.5 + i
    if isinstance(t, sa.BigInteger):
        return 1_000_000_000_000 + i  # past 32 bits: the column must stay BIGINT
    if isinstance(t, sa.Integer):
        return 7 + i
    text = f"{col.name}-{i}"
    length = getattr(t, "length", None)
    return text[-length:] if length else text


def _rows(table: sa.Table, n: int = 3) -> list[dict[str, Any]]:
    auto = {c.name for c in table.primary_key.columns if isinstance(c.type, sa.Integer)}
    return [{c.name: _value(c, i) for c in table.columns if c.name not in auto} for i in range(n)]


def _dump(engine: sa.Engine, md: sa.MetaData) -> dict[str, list[str]]:
    with engine.connect() as conn:
        return {
            name: sorted(
                json.dumps(dict(r._mapping), sort_keys=True, default=str)
                for r in conn.execute(sa.select(table))
            )
            for name, table in md.tables.items()
        }


def test_head_is_exactly_the_stores_tables(tmp_path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'k.db'}")
    before, after = migrate.upgrade(engine)
    assert (before, after) == (None, migrate.head())
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), _all_metadata())
    assert [
        d for d in diffs if not (d[0] == "remove_table" and d[1].name == migrate.VERSION_TABLE)
    ] == []
    assert set(_all_metadata().tables) == migrate.BASELINE_TABLES
    assert migrate.head() == migrate.HEAD  # the constant of the fast path is bumped
    engine.dispose()


def test_first_revision_with_data_upgrades_to_head_losing_nothing(store_url: str) -> None:
    """Every table gets rows at revision 0001; after the upgrade every row is still there and
    the store opens on it (the PostgreSQL case first refuses without --auto-upgrade)."""
    md = _all_metadata()
    engine = sa.create_engine(store_url)
    first = migrate.history()[0].revision
    assert migrate.upgrade(engine, first) == (None, first)
    with engine.begin() as conn:
        for table in md.tables.values():
            conn.execute(table.insert(), _rows(table))
    before = _dump(engine, md)
    assert all(len(rows) == 3 for rows in before.values())

    from kafkaops.incidents.store import IncidentStore

    if store_url.startswith("postgresql"):
        with pytest.raises(migrate.SchemaBehindError, match=r"kafkaops db upgrade") as exc:
            IncidentStore(store_url)
        assert "\n" not in str(exc.value) and "0001" in str(exc.value)
        assert migrate.current(engine) == first  # refused: nothing changed
        proc = run_cli("db", "upgrade", "--store", store_url, "--json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["after"] == migrate.head()
    store = IncidentStore(store_url)  # SQLite: upgraded on open
    try:
        assert migrate.current(engine) == migrate.head() != first
        assert _dump(engine, md) == before
        names = {ix["name"] for ix in sa.inspect(engine).get_indexes("group_offsets")}
        assert "ix_go_ts" in names
    finally:
        store.close()
        engine.dispose()


def test_legacy_create_all_database_is_adopted(tmp_path) -> None:
    """A database made by an older kafkaops (create_all, no version table) keeps its rows."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    md = _all_metadata()
    engine = sa.create_engine(url)
    legacy = sa.MetaData()
    for table in md.tables.values():
        t = table.to_metadata(legacy)
        for ix in list(t.indexes):
            if ix.name in ("ix_leo_ts", "ix_go_ts", "ix_bs_ts"):
                t.indexes.discard(ix)
    legacy.create_all(engine)
    with engine.begin() as conn:
        for table in legacy.tables.values():
            conn.execute(table.insert(), _rows(table))
    before = _dump(engine, md)
    shared = db.acquire(url)
    try:
        db.ensure_schema(shared, md)
        assert migrate.current(shared) == migrate.head()
    finally:
        db.release(shared)
    assert _dump(engine, md) == before
    engine.dispose()


def test_db_cli_current_history_and_dry_run(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    proc = run_cli("db", "current", "--store", url, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["current"] is None and data["pending"] == [r.revision for r in migrate.history()]
    proc = run_cli("db", "upgrade", "--store", url, "--dry-run")
    assert proc.returncode == 0 and "would upgrade none -> head" in proc.stdout
    assert json.loads(run_cli("db", "current", "--store", url, "--json").stdout)["current"] is None
    proc = run_cli("db", "upgrade", "--store", url)
    assert proc.returncode == 0 and f"upgraded none -> {migrate.head()}" in proc.stdout
    proc = run_cli("db", "history")
    assert proc.returncode == 0 and proc.stdout.startswith("0001  Baseline")
    proc = run_cli("db", "upgrade", "--store", url, "--revision", "9999")
    assert (
        proc.returncode == 3
        and proc.stderr.startswith("error: ")
        and "Traceback" not in proc.stderr
    )


def test_concurrent_upgrades_of_an_empty_database_all_succeed(store_url: str) -> None:
    """Four processes upgrading one empty database at once: the lock (BEGIN IMMEDIATE /
    pg_advisory_xact_lock) makes one create the tables and the others find them at head."""
    import os
    import subprocess
    import sys

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "kafkaops.cli", "db", "upgrade", "--store", store_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0, 0, 0, 0], [err for _, _, err in results]
    outs = sorted(out.splitlines()[-1] for _, out, _ in results)
    assert outs == [f"already at {migrate.head()}"] * 3 + [f"upgraded none -> {migrate.head()}"]


def test_postgres_behind_refuses_in_one_line_unless_auto_upgrade(store_url: str) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("SQLite is always upgraded on open")
    engine = sa.create_engine(store_url)
    migrate.upgrade(engine, migrate.history()[0].revision)
    proc = run_cli("incidents", "list", "--store", store_url)
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1, proc.stderr
    assert "kafkaops db upgrade" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("--auto-upgrade", "incidents", "list", "--store", store_url, "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout) == [], proc.stderr
    assert migrate.current(engine) == migrate.head()
    engine.dispose()
