"""Incidents (list, show, acknowledge, resolve), maintenance windows and scheduled-job runs.

Acknowledge and resolve call the very library functions ``kafkaops incidents ack|resolve``
calls (:meth:`IncidentEngine.acknowledge` / :meth:`~IncidentEngine.resolve`), through the same
outbox-wired engine, so the PagerDuty acknowledge/resolve is queued in the transaction that
saves the change; the service's watch loop delivers it within a second or so (leader only).
The JSON is the CLI's ``--json`` (:func:`kafkaops.report.incidents_view.incident_dict`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query

from kafkaops.core.clock import utc_now
from kafkaops.incidents.incident import IncidentTransitionError
from kafkaops.incidents.ledger import Mute
from kafkaops.report.incidents_view import (
    action_dict,
    incident_deliveries,
    incident_dict,
    occurrence_dict,
)
from kafkaops.service import schemas as s
from kafkaops.service.api import ERRORS, Reader
from kafkaops.service.auth import require_write
from kafkaops.service.errors import ApiError
from kafkaops.service.state import ServiceState

router = APIRouter(responses=ERRORS)
Writer = Annotated[ServiceState, Depends(require_write)]
IncidentId = Annotated[str, Path(max_length=300, description="Incident id.")]


class IncidentState(StrEnum):
    active = "active"
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"
    all = "all"


@router.get("/api/incidents", response_model=list[s.IncidentOut], tags=["incidents"])
def list_incidents(
    state: Reader,
    status: Annotated[
        IncidentState,
        Query(alias="state", description="active = open + acknowledged (the default)."),
    ] = IncidentState.active,
    cluster: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Any:
    """Incidents, newest first (``kafkaops incidents list --json``, without audit trails)."""
    store, now = state.runtime.incidents, utc_now()
    if status == IncidentState.active:
        found = [
            *store.list_incidents("open", cluster, limit),
            *store.list_incidents("acknowledged", cluster, limit),
        ]
        found = sorted(found, key=lambda i: (i.opened_at, i.id), reverse=True)[:limit]
    else:
        found = store.list_incidents(status.value, cluster, limit)
    mutes = _mutes(state, {i.cluster for i in found if i.is_open}, now)
    return [incident_dict(i, now, audit=False, mutes=mutes) for i in found]


@router.get("/api/incidents/{incident_id}", response_model=s.IncidentOut, tags=["incidents"])
def show_incident(incident_id: IncidentId, state: Reader) -> Any:
    """One incident with members, channels paged (and each message's delivery state),
    escalation and its audit trail."""
    inc = state.runtime.incidents.get_incident(incident_id)
    if inc is None:
        raise ApiError(404, f"no incident {incident_id!r}")
    now = utc_now()
    mutes = _mutes(state, {inc.cluster} if inc.is_open else set(), now)
    outbox = getattr(state.runtime, "outbox", None)
    return incident_dict(inc, now, mutes=mutes, deliveries=incident_deliveries(outbox, inc))


def _transition(
    kind: str, incident_id: str, body: s.TransitionIn | None, state: ServiceState
) -> dict[str, Any]:
    from kafkaops.incidents.engine import IncidentNotFound
    from kafkaops.incidents.store import ConcurrentUpdateError

    body = body or s.TransitionIn()
    actor = (body.actor or "").strip() or "api"
    now = utc_now()
    engine = state.runtime.engine
    change = engine.acknowledge if kind == "ack" else engine.resolve
    try:
        inc, actions = change(incident_id, actor, now, body.note.strip())
    except IncidentNotFound:
        raise ApiError(404, f"no incident {incident_id!r}") from None
    except (IncidentTransitionError, ConcurrentUpdateError) as exc:
        raise ApiError(409, str(exc)) from None
    return {"incident": incident_dict(inc, now), "actions": [action_dict(a) for a in actions]}


_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": s.ErrorOut, "description": "no API token configured"},
    409: {"model": s.ErrorOut, "description": "already acknowledged / resolved"},
}


@router.post(
    "/api/incidents/{incident_id}/ack",
    response_model=s.TransitionOut,
    tags=["incidents"],
    responses=_WRITE_ERRORS,
)
def ack_incident(
    incident_id: IncidentId, state: Writer, body: Annotated[s.TransitionIn | None, Body()] = None
) -> Any:
    """Acknowledge (bearer token): stops escalation; paged channels get an acknowledge."""
    return _transition("ack", incident_id, body, state)


@router.post(
    "/api/incidents/{incident_id}/resolve",
    response_model=s.TransitionOut,
    tags=["incidents"],
    responses=_WRITE_ERRORS,
)
def resolve_incident(
    incident_id: IncidentId, state: Writer, body: Annotated[s.TransitionIn | None, Body()] = None
) -> Any:
    """Resolve by hand (bearer token): every channel paged and contact notified is told."""
    return _transition("resolve", incident_id, body, state)


@router.get("/api/maintenance/windows", response_model=s.WindowsOut, tags=["maintenance"])
def maintenance_windows(
    state: Reader,
    days: Annotated[float, Query(gt=0, le=366, description="Look this many days ahead.")] = 7,
) -> Any:
    """Maintenance windows and silences from now to ``days`` ahead (UTC), as the CLI lists them."""
    now = utc_now()
    engine = state.runtime.engine
    occs = engine.upcoming(now, days)
    sent = engine.store.sent_notice_ids([o.id for o in occs])
    return {
        "now": f"{now:%Y-%m-%dT%H:%M:%SZ}",
        "days": days,
        "windows": [occurrence_dict(o, now, sent) for o in occs],
    }


@router.get("/api/jobs", response_model=s.JobsOut, tags=["service"])
def jobs(
    state: Reader,
    job: Annotated[str | None, Query(pattern="^(daily_check|weekly_review)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> Any:
    """The daily health check's and the weekly review's recent results and next run times."""
    sched = state.scheduler
    if sched is None:
        return {"next_runs": {}, "runs": []}
    return {"next_runs": sched.next_runs(), "runs": sched.store.recent(job, limit)}


def _mutes(state: ServiceState, clusters: set[str], now: datetime) -> list[Mute]:
    """Pages the engine holds back right now for ``clusters`` (never silent: shown)."""
    engine = state.runtime.engine
    if engine is None:
        return []
    return [m for c in sorted(clusters) for m in engine.mutes(c, now)]
