"""``kafkaops db …``: the store's schema revision, and upgrading it (alembic, one history).

Why a command: on PostgreSQL a process refuses to start on an older schema (several replicas
may share the database, see :mod:`kafkaops.store.migrate`); ``kafkaops db upgrade`` is the
deliberate step an operator takes, ``current`` and ``history`` say where things stand.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kafkaops.cli.common import ConfigOpt, JsonFlag, StoreOpt, emit_json, fail
from kafkaops.core.errors import KafkaopsError

if TYPE_CHECKING:
    from sqlalchemy import MetaData

db_app = typer.Typer(
    help="Schema migrations of the kafkaops store (SQLite or PostgreSQL).\n\n"
    "Examples:\n\n"
    "  kafkaops db current --store postgresql+psycopg://kafkaops@db/kafkaops\n\n"
    "  kafkaops db upgrade --dry-run      # the migrations that would run\n\n"
    "  kafkaops db upgrade\n\n"
    "  kafkaops db history --json\n\n"
    "  kafkaops db revision -m 'perf results'  # developers: a new table",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _engine(config: Path | None, store: str | None):  # type: ignore[no-untyped-def]
    from kafkaops.config import default_config, load_config
    from kafkaops.pipeline.runtime import resolve_store_url
    from kafkaops.store import db

    try:
        cfg = load_config(config) if config is not None else default_config()
        url, origin = resolve_store_url(cfg, store)
        return db.acquire(url), origin
    except KafkaopsError as exc:
        fail(str(exc))
    except (ValueError, ImportError) as exc:
        fail(f"store: {exc}")


def _pending(current: str | None) -> list[str]:
    from kafkaops.store import migrate

    revs = [r.revision for r in migrate.history()]
    start = revs.index(current) + 1 if current in revs else 0
    return revs[start:]


@db_app.command()
def current(config: ConfigOpt = None, store: StoreOpt = None, as_json: JsonFlag = False) -> None:
    """The store's schema revision, the newest this kafkaops knows, and what is pending.

    Example:

      kafkaops db current --store sqlite:///kafkaops.db
    """
    from sqlalchemy.exc import SQLAlchemyError

    from kafkaops.store import db, migrate

    engine, origin = _engine(config, store)
    try:
        now = migrate.current(engine)
    except SQLAlchemyError as exc:
        fail(f"store {migrate.safe_url(engine)}: {type(exc).__name__}")
    finally:
        db.release(engine)
    data = {
        "store": migrate.safe_url(engine),
        "store_origin": origin,
        "current": now,
        "head": migrate.head(),
        "pending": _pending(now),
    }
    if as_json:
        emit_json(data)
        return
    typer.echo(f"store: {data['store']} ({origin})")
    typer.echo(f"current: {now or 'none (no kafkaops schema yet)'}")
    typer.echo(f"head:    {data['head']}")
    typer.echo(f"pending: {', '.join(data['pending']) or 'none'}")


@db_app.command()
def upgrade(
    config: ConfigOpt = None,
    store: StoreOpt = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the migrations that would run; change nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Upgrade the store's schema (one transaction, locked against a concurrent upgrade).

    Stop older kafkaops processes that share the database first: they may not read the new
    schema.

    Examples:

      kafkaops db upgrade --dry-run

      kafkaops db upgrade --store postgresql+psycopg://kafkaops@db/kafkaops
    """
    from sqlalchemy.exc import SQLAlchemyError

    from kafkaops.store import db, migrate

    engine, origin = _engine(config, store)
    try:
        before = migrate.current(engine)
        if dry_run:
            pending = _pending(before)
            after = before
        else:
            before, after = db.upgrade_schema(engine, revision)
            pending = []
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        fail(f"store {migrate.safe_url(engine)}: {type(exc).__name__}: {detail}")
    except Exception as exc:  # alembic's CommandError for an unknown revision
        fail(f"store {migrate.safe_url(engine)}: {exc}")
    finally:
        db.release(engine)
    if as_json:
        emit_json(
            {"store": migrate.safe_url(engine), "store_origin": origin, "before": before,
             "after": after, "dry_run": dry_run, "pending": pending}
        )  # fmt: skip
        return
    typer.echo(f"store: {migrate.safe_url(engine)} ({origin})")
    if dry_run:
        typer.echo(f"would upgrade {before or 'none'} -> {revision}: {', '.join(pending) or '-'}")
    elif before == after:
        typer.echo(f"already at {after}")
    else:
        typer.echo(f"upgraded {before or 'none'} -> {after}")


@db_app.command("history")
def history_cmd(as_json: JsonFlag = False) -> None:
    """Every migration this kafkaops knows, oldest first.

    Example:

      kafkaops db history
    """
    import dataclasses

    from kafkaops.store import migrate

    revs = migrate.history()
    if as_json:
        emit_json([dataclasses.asdict(r) for r in revs])
        return
    for r in revs:
        typer.echo(f"{r.revision}  {r.summary}")


def store_metadata() -> MetaData:
    """Every table of every kafkaops store, in one ``MetaData``.

    Found, not listed: each module of the package whose source makes a ``MetaData()`` is
    imported and its module-level ``MetaData`` objects merged.  A store added next month is
    therefore seen by ``kafkaops db revision`` and by the test that the migrations' head equals
    the stores' tables without anyone remembering to register it.  (Here in the CLI layer, the
    only one allowed to import every package.)
    """
    import importlib

    from sqlalchemy import MetaData

    import kafkaops

    root = Path(kafkaops.__file__).parent
    merged = MetaData()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[:2] == ("store", "migrations") or "MetaData(" not in path.read_text("utf-8"):
            continue
        parts = rel.with_suffix("").parts
        name = ".".join(("kafkaops", *(parts[:-1] if parts[-1] == "__init__" else parts)))
        for value in vars(importlib.import_module(name)).values():
            if isinstance(value, MetaData) and value is not merged:
                for table in value.tables.values():
                    if table.name not in merged.tables:
                        table.to_metadata(merged)
    return merged


@db_app.command()
def revision(
    message: Annotated[
        str, typer.Option("--message", "-m", help="What the migration does (its docstring).")
    ],
) -> None:
    """For kafkaops developers: write the migration for a table or column added to a store.

    Compares every store's table definitions with the schema at head (a scratch SQLite
    database; no server needed) and writes src/kafkaops/store/migrations/versions/NNNN_*.py
    (alembic autogenerate).  Read it, run 'make format', commit it with the store change.
    Nothing to do: exit 0 and says so.

    Example:

      kafkaops db revision -m "perf-test results"
    """
    from kafkaops.store import migrate

    try:
        made = migrate.new_revision(message, store_metadata())
    except OSError as exc:
        fail(f"cannot write {migrate.VERSIONS_DIR}: {exc.strerror} (run from a source checkout)")
    if made is None:
        typer.echo(f"nothing to migrate: head {migrate.HEAD} has every store's tables")
        return
    path, changes = made
    typer.echo(f"wrote {path}")
    for line in changes:
        typer.echo(f"  {line}")
