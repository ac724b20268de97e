"""``kafkaops outbox``: what notifications are queued, delivered or failed, and why.

The on-call's first question when "PagerDuty never rang" is whether kafkaops tried; the outbox
keeps every message with its attempts and last error (never a secret: channels strip URLs and
keys from errors).  ``retry`` puts a failed message back after the cause (a missing routing key,
a wrong webhook) was fixed.  Exit codes: the table in :mod:`kafkaops.cli.common`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from kafkaops.cli.common import (
    EXIT_NOT_FOUND,
    ConfigOpt,
    JsonFlag,
    StoreOpt,
    emit_json,
    fail,
    utcnow,
)
from kafkaops.cli.incidents import out
from kafkaops.core.errors import KafkaopsError

if TYPE_CHECKING:
    from kafkaops.notify.outbox import Outbox

outbox_app = typer.Typer(
    help="Queued notifications: list them with their delivery state, retry failed ones.\n\n"
    "Examples:\n\n"
    "  kafkaops outbox list                  # newest first, every status\n\n"
    "  kafkaops outbox list --status failed --json\n\n"
    "  kafkaops outbox stats\n\n"
    "  kafkaops outbox retry 42              # after fixing the channel's config",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@contextmanager
def _outbox(config: Path | None, store_url: str | None) -> Iterator[Outbox]:
    from sqlalchemy.exc import SQLAlchemyError

    from kafkaops.config import default_config, load_config
    from kafkaops.notify.outbox import Outbox
    from kafkaops.notify.redact import Redactor

    try:
        cfg = load_config(config) if config is not None else default_config()
    except KafkaopsError as exc:
        fail(str(exc))
    from kafkaops.pipeline.runtime import resolve_store_url

    try:
        url, origin = resolve_store_url(cfg, store_url)
    except KafkaopsError as exc:
        fail(str(exc))
    if origin.startswith("embedded"):  # say where, first: no flag named it
        sys.stderr.write(f"store: {url} ({origin})\n")
    try:
        # Listings redact the configured secrets from stored errors (older rows included).
        box = Outbox(url, redact=Redactor(cfg.channels))
    except (SQLAlchemyError, OSError, ValueError) as exc:
        fail(f"store {url.split('@')[-1]} cannot be opened: {type(exc).__name__}")
    try:
        yield box
    finally:
        box.close()


def _utc(ms: int | None) -> str:
    if ms is None:
        return "-"
    return f"{datetime.fromtimestamp(ms / 1000, UTC):%Y-%m-%dT%H:%M:%SZ}"


@outbox_app.command("list")
def outbox_list(
    status: Annotated[
        str | None, typer.Option(help="pending | delivered | failed (default: all).")
    ] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel, e.g. pagerduty.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most N rows.")] = 50,
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Notifications with their delivery state, attempts and last error (UTC times).

    Examples:

      kafkaops outbox list --status failed

      kafkaops outbox list --channel slack:#ops-critical --json
    """
    if status is not None and status not in ("pending", "delivered", "failed"):
        fail(f"--status {status!r}: use pending, delivered or failed")
    with _outbox(config, store) as box:
        rows = box.list(status, limit=limit, channel=channel)  # type: ignore[arg-type]
    if as_json:
        emit_json([r.to_dict() for r in rows])
        return
    table = Table("id", "status", "channel", "action", "sev", "summary", "attempts", "last change",
                  "last error")  # fmt: skip
    for r in rows:
        m = r.message
        table.add_row(
            str(r.id), r.status, m.channel, m.action, m.severity, m.summary[:60],
            str(r.attempts), _utc(r.delivered_ms or r.updated_ms), (r.last_error or "")[:80],
        )  # fmt: skip
    out.print(table)


@outbox_app.command("stats")
def outbox_stats(
    as_json: JsonFlag = False, config: ConfigOpt = None, store: StoreOpt = None
) -> None:
    """Counts by status, plus how many pending messages are due or leased to a dispatcher.

    Examples:

      kafkaops outbox stats --json
    """
    with _outbox(config, store) as box:
        stats = box.stats(utcnow())
    if as_json:
        emit_json(stats)
        return
    out.print("  ".join(f"{k} {v}" for k, v in stats.items()), markup=False)


@outbox_app.command("retry")
def outbox_retry(
    message_id: Annotated[
        int, typer.Argument(metavar="ID", min=1, max=2**63 - 1, help="Outbox message id.")
    ],
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Put a failed message back in the queue (attempts reset); a watcher delivers it.

    Exit code 1 if there is no failed message with that id.

    Examples:

      kafkaops outbox retry 42
    """
    with _outbox(config, store) as box:
        if not box.retry_failed(message_id, utcnow()):
            fail(f"no failed outbox message with id {message_id}", EXIT_NOT_FOUND)
    out.print(f"message {message_id} queued again", markup=False)
