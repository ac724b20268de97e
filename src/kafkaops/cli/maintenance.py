"""``kafkaops maintenance …``: maintenance windows, their notices, emergency windows, silences.

Its own module because it is a different task from working incidents (planning and muting,
not responding); registered by the main CLI with ``app.add_typer(maintenance_app,
name="maintenance")``.  The engine, the tables and the exit codes are those of
:mod:`kafkaops.cli.incidents`.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer
from rich.console import Console

from kafkaops.cli.common import ConfigOpt, JsonFlag, StoreOpt, emit_json, fail, utcnow
from kafkaops.cli.incidents import make_table, open_engine
from kafkaops.incidents.windows import Impact, Matchers, Occurrence
from kafkaops.report.incidents_view import age, occurrence_dict
from kafkaops.report.incidents_view import iso as _iso

if TYPE_CHECKING:  # the engine pulls in SQLAlchemy: loaded only when a command runs
    from kafkaops.incidents.engine import NoticeOutcome

maintenance_app = typer.Typer(
    help="Maintenance windows (runbook schedule, UTC) and their notices.\n\n"
    "Examples:\n\n"
    "  kafkaops maintenance list --days 7\n\n"
    "  kafkaops maintenance next\n\n"
    "  kafkaops maintenance notify --dry-run        # notices due in the next 24 h\n\n"
    "  kafkaops maintenance start-emergency --duration 2h --reason 'broker disk failure'",
    no_args_is_help=True,
    rich_markup_mode=None,
)

out = Console()
err = Console(stderr=True)


def _print_occurrences(occs: Sequence[Occurrence], now: datetime, sent: set[str]) -> None:
    table = make_table("window", "type", "start (UTC)", "end (UTC)", "impact", "when", "notice")
    for o in occs:
        kind = "silence" if o.kind == "silence" else o.notice_type
        when = "active now" if o.contains(now) else age(o.start, now)
        notice = (
            "-" if o.kind == "silence" or not o.notify else ("sent" if o.id in sent else "not yet")
        )
        table.add_row(o.name, kind, _iso(o.start), _iso(o.end), o.impact, when, notice)
    out.print(table)


@maintenance_app.command("list")
def maintenance_list(
    days: Annotated[
        float, typer.Option(min=0, max=366, help="Look this many days ahead (at most 366).")
    ] = 7,
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Occurrences of every window and silence from now to N days ahead, times in UTC.

    Includes the runbook schedule (daily 02-04, weekly Sunday 01-05, monthly first Sunday
    00-06), configured ad-hoc windows, and emergency windows and silences from the store.

    Examples:

      kafkaops maintenance list

      kafkaops maintenance list --days 31 --json | jq '.[] | select(.type == "scheduled")'
    """
    if not 0 < days <= 366:
        fail("--days must be more than 0 and at most 366")
    now = utcnow()
    with open_engine(config, store) as engine:
        occs = engine.upcoming(now, days)
        sent = engine.store.sent_notice_ids([o.id for o in occs])
    if as_json:
        emit_json([occurrence_dict(o, now, sent) for o in occs])
        return
    if not occs:
        out.print(f"no maintenance windows in the next {days:g} days", markup=False)
        return
    _print_occurrences(occs, now, sent)


@maintenance_app.command("next")
def maintenance_next(
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """The window running now (if any) and the next one to start.

    Examples:

      kafkaops maintenance next

      kafkaops maintenance next --json | jq -r .next.start
    """
    from kafkaops.incidents.windows import active_windows, next_windows

    now = utcnow()
    with open_engine(config, store) as engine:
        windows = engine.windows(now)
        active = active_windows(now, windows)
        upcoming = next_windows(now, 1, windows)
        sent = engine.store.sent_notice_ids([o.id for o in (*active, *upcoming)])
    nxt = upcoming[0] if upcoming else None
    if as_json:
        emit_json(
            {
                "now": _iso(now),
                "active": [occurrence_dict(o, now, sent) for o in active],
                "next": occurrence_dict(nxt, now, sent) if nxt else None,
            }
        )
        return
    for o in active:
        out.print(
            f"active: {o.name} ({o.impact}) until {_iso(o.end)} ({age(o.end, now)})",
            markup=False,
        )
    if nxt is None:
        out.print("no upcoming maintenance window", markup=False)
    else:
        out.print(
            f"next: {nxt.name} ({nxt.impact}) {_iso(nxt.start)} – {_iso(nxt.end)} "
            f"({age(nxt.start, now)})",
            markup=False,
        )


def _notice_json(n: NoticeOutcome) -> dict[str, Any]:
    return {**n.message, "sent": n.sent}


@maintenance_app.command("notify")
def maintenance_notify(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what is due; record and send nothing.")
    ] = False,
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Emit the runbook's maintenance notice for windows starting within the lead time (24 h).

    Each occurrence gets its notice once: it is recorded in the store, so running this from
    cron every few minutes, or from two hosts, sends it once.  Prints the runbook's
    maintenance-notice.json payload of each notice emitted.

    Examples:

      kafkaops maintenance notify --dry-run

      kafkaops maintenance notify --json      # e.g. from cron every 5 minutes
    """
    now = utcnow()
    with open_engine(config, store) as engine:
        notices = engine.notify_maintenance(now, dry_run=dry_run)
    if as_json:
        emit_json([_notice_json(n) for n in notices])
        return
    if not notices:
        out.print("no maintenance notice due", markup=False)
        return
    for n in notices:
        tag = "would send" if dry_run else "sent"
        out.print(
            f"{tag}: {n.message['subject']} (to the {n.message['topic']} topic)", markup=False
        )
        out.print(json.dumps(n.message["payload"], indent=2), markup=False, highlight=False)


@maintenance_app.command("start-emergency")
def maintenance_start_emergency(
    reason: Annotated[str, typer.Option(help="Why (kept with the window, sent in the notice).")],
    duration: Annotated[
        str | None, typer.Option(help="How long alerts are muted, e.g. 2h, 90m (default 2h).")
    ] = None,
    impact: Annotated[str, typer.Option(help="minimal | low | medium | high.")] = "high",
    cluster: Annotated[
        str | None, typer.Option(help="Mute only this cluster (glob, e.g. 'prod-*').")
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who starts it (default: $USER).")] = None,
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Start emergency maintenance now: a window that mutes alerts, and the immediate notice.

    P0 alerts still page (unless maintenance.p0_pages_during_maintenance is off).  The notice
    says duration "variable" as the runbook does; --duration only bounds the muting.

    Examples:

      kafkaops maintenance start-emergency --reason 'replace failed broker disk'

      kafkaops maintenance start-emergency --duration 90m --impact medium --cluster prod \\
          --reason 'emergency patch' --json
    """
    from kafkaops.core.units import parse_duration_ms

    if impact not in get_args(Impact):
        fail(f"--impact {impact!r}: use one of {', '.join(get_args(Impact))}")
    if not reason.strip():
        fail("--reason must say why (it goes into the notice and the window record)")
    length: timedelta | None = None
    if duration is not None:
        try:
            length = timedelta(milliseconds=parse_duration_ms(duration))
        except ValueError as exc:
            fail(f"--duration: {exc}")
        if length <= timedelta(0) or length > timedelta(days=7):
            fail("--duration must be more than 0 and at most 7d")
    actor = (by or _user()).strip() or "kafkaops"
    now = utcnow()
    with open_engine(config, store) as engine:
        window, notice = engine.start_emergency(
            now,
            duration=length,
            impact=impact,  # type: ignore[arg-type]
            reason=reason.strip(),
            actor=actor,
            matchers=Matchers(cluster=cluster) if cluster else None,
        )
    if as_json:
        emit_json(
            {
                "window": {**window.model_dump(mode="json"), "created_by": actor},
                "notice": _notice_json(notice),
            }
        )
        return
    out.print(
        f"emergency window {window.name}: {_iso(window.start)} – {_iso(window.end)} "
        f"(impact {window.impact}) by {actor}",
        markup=False,
    )
    out.print(
        f"notice queued for delivery: {notice.message['subject']} (emergency topic)", markup=False
    )
    out.print(json.dumps(notice.message["payload"], indent=2), markup=False, highlight=False)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "kafkaops"


@maintenance_app.command("silence")
def maintenance_silence(
    comment: Annotated[str, typer.Option(help="Why (kept with the silence, shown in listings).")],
    duration: Annotated[str, typer.Option(help="How long, e.g. 30m, 2h (at most 7d).")] = "1h",
    cluster: Annotated[str | None, typer.Option(help="Cluster name or glob ('prod-*').")] = None,
    rule: Annotated[
        str | None, typer.Option(help="Rule id or glob, e.g. consumer_status, 'disk_*'.")
    ] = None,
    severity: Annotated[str | None, typer.Option(help="P0 | P1 | P2.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who silences (default: $USER).")] = None,
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Silence matching alerts from now on: no page while it lasts, resolves still sent.

    Alertmanager-style, but with kafkaops's guarantees: an alert still firing when the silence
    ends is sent at once; one that fires and clears inside it sends nothing.  At least one of
    --cluster/--rule/--severity is required (silencing everything is a maintenance window).

    Examples:

      kafkaops maintenance silence --rule consumer_status --cluster prod --duration 2h \\
          --comment 'batch consumers paused for the migration'

      kafkaops maintenance silence --severity P2 --duration 30m --comment 'noisy disk alert'
    """
    from kafkaops.core.units import parse_duration_ms
    from kafkaops.incidents.silences import Silence

    if not comment.strip():
        fail("--comment must say why (it is kept with the silence)")
    if cluster is None and rule is None and severity is None:
        fail("name what to silence: --cluster, --rule and/or --severity")
    if severity is not None and severity not in ("P0", "P1", "P2"):
        fail(f"--severity {severity!r}: use P0, P1 or P2")
    try:
        length = timedelta(milliseconds=parse_duration_ms(duration))
    except ValueError as exc:
        fail(f"--duration: {exc}")
    if length <= timedelta(0) or length > timedelta(days=7):
        fail("--duration must be more than 0 and at most 7d")
    actor = (by or _user()).strip() or "kafkaops"
    now = utcnow()
    silence = Silence(
        matchers=Matchers(cluster=cluster, rule=rule, severity=severity),
        start=now,
        end=now + length,
        created_by=actor,
        comment=comment.strip(),
    )
    with open_engine(config, store) as engine:
        silence_id = engine.store.add_silence(silence, now)
    matchers: dict[str, str] = silence.matchers.model_dump(exclude_none=True)
    data = {
        "id": silence_id,
        "matchers": matchers,
        "start": _iso(silence.start),
        "end": _iso(silence.end),
        "created_by": actor,
        "comment": silence.comment,
    }
    if as_json:
        emit_json(data)
        return
    what = ", ".join(f"{k}={v}" for k, v in matchers.items())
    out.print(f"silenced {what} until {data['end']} (by {actor})", markup=False)
