"""``kafkaops incidents …``: the incident store from a shell.

A typer app registered by the main CLI (``app.add_typer(incidents_app, name="incidents")``);
``kafkaops maintenance …`` (:mod:`kafkaops.cli.maintenance`) shares its engine and table helpers.

Exit codes: the one table in :mod:`kafkaops.cli.common` (0 success, 3 bad input or a failed
operation, 4 incident not found; one line on stderr, never a traceback).

Every command takes ``--config`` (incident settings: the config's ``incidents:`` section, the
runbook's defaults without one) and ``--store`` (default: the config's ``store.url``).

Delivery: ack/resolve/notify/start-emergency print what must be sent (PagerDuty
acknowledge/resolve actions, the runbook's maintenance-notice.json).  Sending is the outbox's
job: :func:`open_engine` hands out the engine wired to the outbox (``pipeline.runtime``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
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
from kafkaops.report.incidents_view import (
    action_dict,
    age,
    delivery_dict,
    incident_deliveries,
    incident_dict,
)
from kafkaops.report.incidents_view import iso as _iso

if TYPE_CHECKING:  # the engine and store pull in SQLAlchemy: loaded only when a command runs
    from kafkaops.incidents.engine import IncidentEngine
    from kafkaops.pipeline.runtime import Runtime

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
out = Console()
err = Console(stderr=True)


def _safe_url(url: str) -> str:
    """The URL without anything before ``@`` (user names, and passwords that should not be)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('@')[-1]}" if rest else url


@contextmanager
def open_engine(config: Path | None, store_url: str | None) -> Iterator[IncidentEngine]:
    """:func:`_runtime`'s incident engine."""
    with _runtime(config, store_url) as runtime:
        yield runtime.engine


@contextmanager
def _runtime(config: Path | None, store_url: str | None) -> Iterator[Runtime]:
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
    if runtime.store_origin.startswith("embedded"):  # say where, first: no flag named it
        err.print(f"store: {_safe_url(url)} ({runtime.store_origin})", markup=False, soft_wrap=True)
    try:
        yield runtime
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


def make_table(
    *columns: str, title: str | None = None, whole: int = 0, keep: Sequence[str] = ()
) -> Table:
    """A table whose cells fold instead of being cut with "…": ids and times must stay whole.

    The first column is kept on one line at least ``whole`` characters wide, so an incident id
    can be copied from a narrow terminal; columns named in ``keep`` never wrap either.
    """
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for i, name in enumerate(columns):
        if i == 0 and whole:
            table.add_column(name, no_wrap=True, min_width=whole)
        elif name in keep:
            table.add_column(name, no_wrap=True)
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
    with open_engine(config, store) as engine:
        if status == "active":
            found = [
                *engine.store.list_incidents("open", cluster, limit),
                *engine.store.list_incidents("acknowledged", cluster, limit),
            ]
            found = sorted(found, key=lambda i: (i.opened_at, i.id), reverse=True)[:limit]
        else:
            found = engine.store.list_incidents(status, cluster, limit)
        open_clusters = sorted({i.cluster for i in found if i.is_open})
        mutes = [m for c in open_clusters for m in engine.mutes(c, now)]
    views = {i.id: incident_dict(i, now, audit=False, mutes=mutes) for i in found}
    if as_json:
        emit_json(list(views.values()))
        return
    if not found:
        out.print("no incidents", markup=False)
        return
    # Wide terminals get every column; at 80 columns the opening time and the cluster (the
    # id starts with it) give way, so ids, statuses and severities stay whole.
    wide = out.width >= 110
    columns = ["id", "sev", "status", "age", "firing", "owner"]
    if wide:
        columns[1:1] = ["cluster"]
        columns.insert(4, "opened (UTC)")
    table = make_table(*columns, whole=max(len(i.id) for i in found), keep=("sev", "status"))
    for i in found:
        owner = i.acknowledged_by or i.resolved_by
        row = {
            "id": i.id,
            "cluster": i.cluster,
            "sev": i.severity.value,
            "status": i.status.value,
            "opened (UTC)": _iso(i.opened_at),
            "age": age(i.opened_at, now),
            "firing": f"{len(i.firing_keys)}/{len(i.members)}",
            "owner": _text(owner),
        }
        table.add_row(*(row[c] for c in columns))
    out.print(table)
    # Under the table, not in it: a mute's explanation is long and must stay whole at 80 columns.
    for i in found:
        for m in views[i.id]["muted"]:
            out.print(f"{i.id}: {m['alert']} not paged yet — {m['text']}", markup=False)


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
    with _runtime(config, store) as runtime:
        engine = runtime.engine
        inc = engine.store.get_incident(incident_id)
        mutes = engine.mutes(inc.cluster, now) if inc is not None and inc.is_open else []
        deliveries = incident_deliveries(runtime.outbox, inc) if inc is not None else None
    if inc is None:
        hint = "see 'kafkaops incidents list --status all'"
        fail(f"no incident {incident_id!r} ({hint})", EXIT_NOT_FOUND)
    view = incident_dict(inc, now, mutes=mutes)
    if as_json:
        emit_json(view)
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
    for m in view["muted"]:
        p(f"not paged yet: {m['alert']} → {', '.join(m['channels'])}: {m['text']}", markup=False)
    if deliveries:
        sent = make_table("channel", "action", "state", "tries", "last error", title="delivery")
        for d in (delivery_dict(r) for r in deliveries):
            error = d["last_error"] or ""
            if d["state"] in ("queued", "retrying") and d["next_attempt_at"]:
                error = f"next try {d['next_attempt_at']}; {error}".rstrip("; ")
            sent.add_row(d["channel"], d["what"], d["state"], str(d["attempts"]), error)
        p(sent)
    if inc.escalations_done:
        p(f"escalation steps done: {', '.join(inc.escalations_done)}", markup=False)
    members = make_table("alert", "severity", "state", "joined (UTC)", "title", title="alerts")
    for m in inc.members:
        state = "firing" if m.firing else "resolved"
        members.add_row(m.key, m.severity.value, state, _iso(m.joined_at), m.title)
    p(members)
    trail = make_table("at (UTC)", "age", "actor", "action", "detail", title="audit trail")
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

    with open_engine(config, store) as engine:
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
