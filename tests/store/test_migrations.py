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
    """Every store's tables, found the way ``kafkaops db revision`` finds them."""
    from kafkaops.cli.db import store_metadata

    return store_metadata()


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


def test_head_is_exactly_the_stores_tables(store_url: str) -> None:
    """On both databases: the schema at head is the stores' tables, column types included."""
    engine = sa.create_engine(store_url)
    before, after = migrate.upgrade(engine)
    assert (before, after) == (None, migrate.head())
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), _all_metadata())
    assert [
        d for d in diffs if not (d[0] == "remove_table" and d[1].name == migrate.VERSION_TABLE)
    ] == []
    # the stores found include the ones added after the baseline (not a fixed list)
    assert migrate.BASELINE_TABLES | {"act_audit", "slo_cycles"} <= set(_all_metadata().tables)
    assert migrate.head() == migrate.HEAD  # the file-name head of the fast path is alembic's
    engine.dispose()


def test_first_revision_with_data_upgrades_to_head_losing_nothing(store_url: str) -> None:
    """Rows in every table at revision 0001, and in each table a later revision adds as soon as
    it exists; one step before head the store is opened: every row is still there (the
    PostgreSQL case first refuses without --auto-upgrade)."""
    engine = sa.create_engine(store_url)
    revs = [r.revision for r in migrate.history()]
    filled = sa.MetaData()  # each table as it was when its rows were written
    for rev in revs[:-1]:
        migrate.upgrade(engine, rev)
        with engine.begin() as conn:
            for name in sorted(set(sa.inspect(conn).get_table_names()) - set(filled.tables)):
                if name == migrate.VERSION_TABLE:
                    continue
                table = sa.Table(name, filled, autoload_with=conn)
                conn.execute(table.insert(), _rows(table))
    assert migrate.current(engine) == revs[-2]
    assert set(filled.tables) >= migrate.BASELINE_TABLES
    before = _dump(engine, filled)
    assert all(len(rows) == 3 for rows in before.values())

    from kafkaops.incidents.store import IncidentStore

    if store_url.startswith("postgresql"):
        with pytest.raises(migrate.SchemaBehindError, match=r"kafkaops db upgrade") as exc:
            IncidentStore(store_url)
        assert "\n" not in str(exc.value) and revs[-2] in str(exc.value)
        assert migrate.current(engine) == revs[-2]  # refused: nothing changed
        proc = run_cli("db", "upgrade", "--store", store_url, "--json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["after"] == migrate.head()
    store = IncidentStore(store_url)  # SQLite: upgraded on open
    try:
        assert migrate.current(engine) == migrate.head()
        assert _dump(engine, filled) == before
        names = {ix["name"] for ix in sa.inspect(engine).get_indexes("group_offsets")}
        assert "ix_go_ts" in names
        assert set(_all_metadata().tables) <= set(sa.inspect(engine).get_table_names())
    finally:
        store.close()
        engine.dispose()


#: The last revision whose tables a kafkaops of the create_all era could have made itself.
LAST_CREATE_ALL_ERA_REVISION = "0003"


def _create_all_era_tables(tmp_path) -> dict[str, set[str]]:
    """The tables of the schema at LAST_CREATE_ALL_ERA_REVISION (a scratch database), with
    their columns then (a column added later, like ``inc_leases.epoch``, was not there)."""
    scratch = sa.create_engine(f"sqlite:///{tmp_path / 'era.db'}")
    try:
        migrate.upgrade(scratch, LAST_CREATE_ALL_ERA_REVISION)
        inspector = sa.inspect(scratch)
        return {
            name: {c["name"] for c in inspector.get_columns(name)}
            for name in set(inspector.get_table_names()) - {"alembic_version"}
        }
    finally:
        scratch.dispose()


def test_legacy_create_all_database_is_adopted(tmp_path) -> None:
    """A database made by an older kafkaops (create_all, no version table) keeps its rows."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    md = _all_metadata()
    engine = sa.create_engine(url)
    legacy = sa.MetaData()
    era = _create_all_era_tables(tmp_path)
    for table in md.tables.values():
        if table.name not in era:
            continue  # added after the migrations came: never made by create_all
        t = table.to_metadata(legacy)
        for col in [c for c in t.columns if c.name not in era[table.name]]:
            t._columns.remove(col)  # added by a later migration
        for ix in list(t.indexes):
            if ix.name in ("ix_leo_ts", "ix_go_ts", "ix_bs_ts"):
                t.indexes.discard(ix)
    legacy.create_all(engine)
    with engine.begin() as conn:
        for table in legacy.tables.values():
            conn.execute(table.insert(), _rows(table))
    before = _dump(engine, legacy)
    shared = db.acquire(url)
    try:
        db.ensure_schema(shared, md)
        assert migrate.current(shared) == migrate.head()
    finally:
        db.release(shared)
    assert _dump(engine, legacy) == before
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


def test_a_store_table_without_migration_is_refused_in_one_line(tmp_path) -> None:
    """No store creates a table behind the migrations' back: a table no migration made fails
    on open, naming the table and the command that writes its migration."""
    extra = sa.MetaData()
    sa.Table("not_migrated", extra, sa.Column("id", sa.Integer, primary_key=True))
    engine = db.acquire(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(migrate.TableNotMigratedError) as exc:
            db.ensure_schema(engine, extra)
        assert "not_migrated" in str(exc.value) and "kafkaops db revision" in str(exc.value)
        assert "\n" not in str(exc.value)
        assert "not_migrated" not in sa.inspect(engine).get_table_names()
    finally:
        db.release(engine)


def test_db_revision_writes_the_migration_of_a_new_table(tmp_path, monkeypatch) -> None:
    """How a new table gets its migration (``kafkaops db revision -m …``): on a copy of the
    migrations folder, a table added to the stores' metadata gets NNNN+1 that creates it, and
    with it the history upgrades an empty database to a schema equal to the stores' tables."""
    import shutil

    from alembic.migration import MigrationContext

    from kafkaops.cli.db import store_metadata

    copy = tmp_path / "migrations"
    shutil.copytree(migrate.VERSIONS_DIR.parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "_SCRIPT_LOCATION", str(copy))
    monkeypatch.setattr(migrate, "VERSIONS_DIR", copy / "versions")
    migrate._script.cache_clear()
    md = store_metadata()
    assert migrate.new_revision("nothing new", md) is None  # the real history is complete
    sa.Table(
        "perf_results",
        md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("cluster", sa.String(200), nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Index("ix_perf_cluster", "cluster"),
    )
    try:
        made = migrate.new_revision("perf-test results", md)
        assert made is not None
        path, changes = made
        want = f"{int(migrate.HEAD) + 1:04d}"
        assert path == copy / "versions" / f"{want}_perf_test_results.py" and path.exists()
        assert changes == ["add_table perf_results", "add_index perf_results.ix_perf_cluster"]
        migrate._script.cache_clear()
        assert migrate.head() == want
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'n.db'}")
        assert migrate.upgrade(engine) == (None, want)
        with engine.connect() as conn:
            assert [
                d
                for d in compare_metadata(MigrationContext.configure(conn), md)
                if not (d[0] == "remove_table" and d[1].name == migrate.VERSION_TABLE)
            ] == []
        engine.dispose()
    finally:
        migrate._script.cache_clear()
