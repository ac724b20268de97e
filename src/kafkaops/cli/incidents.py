"""``kafkaops incidents …`` and ``kafkaops maintenance …``: the incident store from a shell.

Two typer apps, registered by the main CLI with::

    app.add_typer(incidents_app, name="incidents")
    app.add_typer(maintenance_app, name="maintenance")

Exit codes: the one table in :mod:`kafkaops.cli.common` (0 success, 3 bad input or a failed
operation, 4 incident not found; one line on stderr, never a traceback).

Every command takes ``--config`` (incident settings: the config's ``incidents:`` section, the
runbook's defaults without one) and ``--store`` (default: the config's ``store.url``).

Delivery: ack/resolve/notify/start-emergency print what must be sent (PagerDuty
acknowledge/resolve actions, the runbook's maintenance-notice.json).  Sending is the outbox's
job: :func:`build_engine` is the one place to hand the engine its outbox hook.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer
from rich.console import Console
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
from kafkaops.core.errors import KafkaopsError
from kafkaops.incidents.incident import IncidentAction, IncidentTransitionError
from kafkaops.incidents.windows import Impact, Matchers, Occurrence
from kafkaops.report.incidents_view import (
    action_dict,
    age,
    incident_dict,
    occurrence_dict,
)
from kafkaops.report.incidents_view import iso as _iso

if TYPE_CHECKING:  # the engine and store pull in SQLAlchemy: loaded only when a command runs
    from kafkaops.incidents.engine import IncidentEngine, NoticeOutcome

STATUSES = ("open", "acknowledged", "resolved", "all")

incidents_app = typer.Typer(
    help="Incidents: firing alerts grouped per cluster, with escalation and an audit trail.\n\n"
    "Examples:\n\n"
    "  kafkaops incidents list                      # open and acknowledged\n\n"
    "  kafkaops incidents show prod-20261201T120010Z\n\n"
    "  kafkaops incidents ack prod-20261201T120010Z --by alice --note 'on it'\n\n"
    "  kafkaops incidents resolve prod-20261201T120010Z --by alice",
    no_args_is_help=True,
    rich_markup_mode=None,
)
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


def _safe_url(url: str) -> str:
    """The URL without anything before ``@`` (user names, and passwords that should not be)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('@')[-1]}" if rest else url


@contextmanager
def _engine(config: Path | None, store_url: str | None) -> Iterator[IncidentEngine]:
    """Load the config and open the shared store, turning every set-up problem into one line.

    The engine comes wired to the outbox (:mod:`kafkaops.pipeline.runtime`): an ``ack`` or
    ``resolve`` queues the PagerDuty acknowledge/resolve in the same transaction, and the
    command then tries to deliver it at once (a running ``kafkaops watch`` delivers what is
    left).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from kafkaops.config import default_config, load_config
    from kafkaops.incidents.store import ConcurrentUpdateError
    from kafkaops.pipeline.runtime import open_runtime

    try:
        cfg = load_config(config) if config is not None else default_config()
        runtime = open_runtime(cfg, store_url)
    except KafkaopsError as exc:
        fail(str(exc))
    url = runtime.store_url
    try:
        yield runtime.engine
        try:
            runtime.dispatcher.deliver_due()
        except Exception as exc:  # delivery is retried by the watcher; say so, do not fail
            err.print(f"queued; not delivered yet ({type(exc).__name__})", markup=False)
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        fail(f"incident store {_safe_url(url)}: {type(exc).__name__}: {detail}")
    except ConcurrentUpdateError as exc:
        fail(str(exc))
    finally:
        runtime.close()


# --- formatting --------------------------------------------------------------------------------


def _table(*columns: str, title: str | None = None, whole: int = 0) -> Table:
    """A table whose cells fold instead of being cut with "…": ids and times must stay whole.

    The first column is kept on one line at least ``whole`` characters wide, so an incident id
    can be copied from a narrow terminal.
    """
    table = Table(title=title)
    for i, name in enumerate(columns):
        if i == 0 and whole:
            table.add_column(name, no_wrap=True, min_width=whole)
        else:
            table.add_column(name, overflow="fold")
    return table


def _text(value: Any) -> str:
    return "-" if value in (None, "") else str(value)


def _print_actions(actions: Sequence[IncidentAction]) -> None:
    for a in actions:
        chans = ", ".join(sorted(str(c) for c in a.channels)) or "-"
        people = ", ".join(c.name for c in a.contacts)
        line = f"  to send: {a.kind} ({a.severity.value}) → {chans}"
        if people:
            line += f"; contacts: {people}"
        out.print(line, markup=False, highlight=False)


# --- incidents ---------------------------------------------------------------------------------


@incidents_app.command("list")
def incidents_list(
    status: Annotated[
        str, typer.Option(help="open | acknowledged | resolved | all; default: open + ack'd.")
    ] = "active",
    cluster: Annotated[str | None, typer.Option(help="Only this cluster.")] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=10_000, help="At most this many, newest first.")
    ] = 50,
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Incidents, newest first: id, cluster, status, severity, opened (UTC and age), alerts.

    Examples:

      kafkaops incidents list

      kafkaops incidents list --status all --cluster prod --json | jq '.[].id'
    """
    if status not in (*STATUSES, "active"):
        fail(f"--status {status!r}: use one of {', '.join(STATUSES)}")
    if limit < 1:
        fail("--limit must be at least 1")
    now = utcnow()
    with _engine(config, store) as engine:
        if status == "active":
            found = [
                *engine.store.list_incidents("open", cluster, limit),
                *engine.store.list_incidents("acknowledged", cluster, limit),
            ]
            found = sorted(found, key=lambda i: (i.opened_at, i.id), reverse=True)[:limit]
        else:
            found = engine.store.list_incidents(status, cluster, limit)
    if as_json:
        emit_json([incident_dict(i, now, audit=False) for i in found])
        return
    if not found:
        out.print("no incidents", markup=False)
        return
    table = _table(
        "id",
        "cluster",
        "status",
        "sev",
        "opened (UTC)",
        "age",
        "alerts",
        "owner",
        whole=max(len(i.id) for i in found),
    )
    for i in found:
        owner = i.acknowledged_by or i.resolved_by
        table.add_row(
            i.id,
            i.cluster,
            i.status.value,
            i.severity.value,
            _iso(i.opened_at),
            age(i.opened_at, now),
            f"{len(i.firing_keys)}/{len(i.members)} firing",
            _text(owner),
        )
    out.print(table)


@incidents_app.command("show")
def incidents_show(
    incident_id: Annotated[str, typer.Argument(metavar="ID", help="Incident id.")],
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """One incident: members, channels paged, escalation, and the full audit trail.

    Exit code 1 if there is no such incident.

    Examples:

      kafkaops incidents show prod-20261201T120010Z

      kafkaops incidents show prod-20261201T120010Z --json | jq '.audit[] | .action'
    """
    now = utcnow()
    with _engine(config, store) as engine:
        inc = engine.store.get_incident(incident_id)
    if inc is None:
        hint = "see 'kafkaops incidents list --status all'"
        fail(f"no incident {incident_id!r} ({hint})", EXIT_NOT_FOUND)
    if as_json:
        emit_json(incident_dict(inc, now))
        return
    p = out.print
    p(f"{inc.id}  [{inc.status.value}]  {inc.severity.value}  cluster {inc.cluster}", markup=False)
    p(f"opened {_iso(inc.opened_at)} ({age(inc.opened_at, now)})", markup=False)
    if inc.acknowledged_at:
        p(f"acknowledged {_iso(inc.acknowledged_at)} by {inc.acknowledged_by}", markup=False)
    if inc.resolved_at:
        p(f"resolved {_iso(inc.resolved_at)} by {inc.resolved_by}", markup=False)
    paged = ", ".join(sorted(str(c) for c in inc.paged)) or "(nothing paged yet)"
    p(f"paged: {paged}", markup=False, highlight=False)
    if inc.escalations_done:
        p(f"escalation steps done: {', '.join(inc.escalations_done)}", markup=False)
    members = _table("alert", "severity", "state", "joined (UTC)", "title", title="alerts")
    for m in inc.members:
        state = "firing" if m.firing else "resolved"
        members.add_row(m.key, m.severity.value, state, _iso(m.joined_at), m.title)
    p(members)
    trail = _table("at (UTC)", "age", "actor", "action", "detail", title="audit trail")
    for e in inc.audit:
        trail.add_row(_iso(e.at), age(e.at, now), e.actor, e.action, e.detail)
    p(trail)


def _transition(
    kind: str,
    incident_id: str,
    by: str,
    note: str,
    as_json: bool,
    config: Path | None,
    store: str | None,
) -> None:
    if not by.strip():
        fail("--by must name who is acting (it goes into the audit trail)")
    now = utcnow()
    from kafkaops.incidents.engine import IncidentNotFound

    with _engine(config, store) as engine:
        change = engine.acknowledge if kind == "ack" else engine.resolve
        try:
            inc, actions = change(incident_id, by.strip(), now, note)
        except IncidentNotFound:
            fail(f"no incident {incident_id!r}", EXIT_NOT_FOUND)
        except IncidentTransitionError as exc:
            fail(str(exc))
    if as_json:
        emit_json(
            {"incident": incident_dict(inc, now), "actions": [action_dict(a) for a in actions]}
        )
        return
    verb = "acknowledged" if kind == "ack" else "resolved"
    out.print(f"{inc.id} {verb} by {by.strip()}", markup=False)
    _print_actions(actions)


@incidents_app.command("ack")
def incidents_ack(
    incident_id: Annotated[str, typer.Argument(metavar="ID", help="Incident id.")],
    by: Annotated[str, typer.Option("--by", help="Who acknowledges (audit trail).")],
    note: Annotated[str, typer.Option(help="Free text for the audit trail.")] = "",
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Acknowledge: stops escalation; every paged channel gets an acknowledge (PagerDuty).

    Exit code 1 if there is no such incident, 3 if it is already acknowledged or resolved.

    Examples:

      kafkaops incidents ack prod-20261201T120010Z --by alice

      kafkaops incidents ack prod-20261201T120010Z --by alice --note 'rolling broker 2' --json
    """
    _transition("ack", incident_id, by, note, as_json, config, store)


@incidents_app.command("resolve")
def incidents_resolve(
    incident_id: Annotated[str, typer.Argument(metavar="ID", help="Incident id.")],
    by: Annotated[str, typer.Option("--by", help="Who resolves (audit trail).")],
    note: Annotated[str, typer.Option(help="Free text for the audit trail.")] = "",
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Resolve by hand: every channel paged and every contact notified gets the resolve.

    Alerts still firing are not silenced: they send their own resolve when they clear.
    Exit code 1 if there is no such incident, 3 if it is already resolved.

    Examples:

      kafkaops incidents resolve prod-20261201T120010Z --by alice

      kafkaops incidents resolve prod-20261201T120010Z --by alice --note 'disk replaced'
    """
    _transition("resolve", incident_id, by, note, as_json, config, store)


# --- maintenance -------------------------------------------------------------------------------


def _print_occurrences(occs: Sequence[Occurrence], now: datetime, sent: set[str]) -> None:
    table = _table("window", "type", "start (UTC)", "end (UTC)", "impact", "when", "notice")
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
    with _engine(config, store) as engine:
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
    with _engine(config, store) as engine:
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
    with _engine(config, store) as engine:
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
    with _engine(config, store) as engine:
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
    from kafkaops.incidents.windows import Silence

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
    with _engine(config, store) as engine:
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
