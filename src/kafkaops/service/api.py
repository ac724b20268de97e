"""Read endpoints over the watch loop's latest facts: liveness, clusters, msk-health, brokers,
topics, partitions, consumer groups.

Everything here reads the watcher's last snapshot and report (taken at most one interval ago):
no request ever talks to Kafka, so the API stays fast and keeps answering while a cluster is
down — with the last known facts, and ``reachable: false``.  Route functions are plain ``def``
(FastAPI runs them in its thread pool): the few that read the store block on it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from kafkaops import __version__
from kafkaops.core.clock import utc_now
from kafkaops.report.health_view import health_to_dict
from kafkaops.service import schemas as s
from kafkaops.service import views
from kafkaops.service.auth import require_read, service_state
from kafkaops.service.errors import ApiError
from kafkaops.service.state import ServiceState

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": s.ErrorOut, "description": why}
    for code, why in (
        (401, "missing or wrong bearer token (with service.protect_reads)"),
        (404, "unknown cluster, group or incident"),
        (422, "invalid parameter"),
        (503, "no data yet (first collection pending) or the store is unavailable"),
    )
}

router = APIRouter(responses=ERRORS)
log = logging.getLogger(__name__)


def _dump(model: type[BaseModel], data: Any) -> bytes:
    """What FastAPI would send for ``data`` under ``model``, serialised once."""
    return model.model_validate(data).model_dump_json().encode()


def _json(body: bytes) -> Response:
    """A body serialised once per snapshot (on 10,000 partitions the health document is MBs:
    validating and encoding it again for every request was the endpoints' whole cost)."""
    return Response(content=body, media_type="application/json")


Reader = Annotated[ServiceState, Depends(require_read)]
ClusterName = Annotated[str, Path(description="Cluster name (from the config).")]


class Problem(StrEnum):
    offline = "offline"
    under_replicated = "under_replicated"
    under_min_isr = "under_min_isr"


def _iso(when: datetime | None) -> str | None:
    return None if when is None else f"{when.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def liveness(state: ServiceState) -> dict[str, Any]:
    """Loop freshness per cluster; a cluster being down is not staleness, a stuck loop is."""
    now = utc_now()
    stale_after = max(3 * state.interval_s, 60.0)
    uptime = (now - state.started_at).total_seconds()
    loops = []
    # Per-cluster sharing: a cluster another instance watches is not this loop's to be fresh on.
    for name in state.watcher.watched():
        st, cs = state.loop_stats(name), state.cluster(name)
        age = (now - st.last_at).total_seconds() if st.last_at else None
        fresh = age is not None and age <= stale_after
        loops.append(
            {
                "cluster": name,
                "last_cycle_at": _iso(st.last_at),
                "age_s": None if age is None else round(age, 3),
                "fresh": fresh,
                "reachable": cs.failures == 0 and cs.last_snapshot is not None,
                "consecutive_failures": cs.failures,
                "last_error": cs.last_error,
                "last_duration_s": st.last_duration_s,
                "last_phases_s": {name: round(s, 3) for name, s in st.last_phases},
            }
        )
    alive = state.loop_alive()
    starting = uptime <= stale_after
    status = "down" if not alive else (
        "ok" if starting or all(c["fresh"] for c in loops) else "degraded"
    )  # fmt: skip
    return {
        "status": status,
        "version": __version__,
        "started_at": _iso(state.started_at),
        "uptime_s": round(uptime, 3),
        "loop_alive": alive,
        "leader": bool(state.watcher.leader),
        "interval_s": state.interval_s,
        "clusters": loops,
    }


@router.get(
    "/health",
    response_model=s.LivenessOut,
    tags=["service"],
    responses={503: {"model": s.LivenessOut, "description": "the watch loop has stopped"}},
)
def health(state: Annotated[ServiceState, Depends(service_state)]) -> Any:
    """Liveness (never needs a token): 200 while the watch loop runs, 503 when it died.

    ``status`` is ``degraded`` when a cluster's loop has not completed a cycle for three
    intervals; an unreachable cluster is reported per cluster, not as a failed liveness.
    """
    data = liveness(state)
    if data["status"] == "down":
        return JSONResponse(data, status_code=503)
    return data


@router.get(
    "/readyz",
    response_model=s.ReadinessOut,
    tags=["service"],
    responses={503: {"model": s.ReadinessOut, "description": "not ready yet (reasons)"}},
)
def readyz(state: Annotated[ServiceState, Depends(service_state)]) -> Any:
    """Readiness (never needs a token): the store answers and every cluster's first cycle is done.

    Why apart from ``/health``: a Kubernetes liveness probe that failed while the store is down
    would restart a healthy process in a loop; readiness only takes it out of the Service.
    """
    from sqlalchemy import text

    reasons: list[str] = []
    try:
        with state.runtime.incidents.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        store_ok = True
    except Exception as exc:  # any failure means "not ready"; the type says which
        store_ok = False
        reasons.append(f"store unreachable: {type(exc).__name__}")
    waiting = [n for n in state.watcher.watched() if state.loop_stats(n).cycles == 0]
    if waiting:
        reasons.append(f"first cycle not done: {', '.join(waiting)}")
    data = {
        "status": "not_ready" if reasons else "ready",
        "store_ok": store_ok,
        "waiting_for": waiting,
        "reasons": reasons,
    }
    return JSONResponse(data, status_code=503) if reasons else data


@router.get("/api/clusters", response_model=list[s.ClusterOut], tags=["clusters"])
def clusters(state: Reader) -> Any:
    """Every watched cluster: state, severity, partitions at risk, loop failures, and which
    instance watches it (``owner``; ``epoch``: its lease term with ``watch.sharing:
    per_cluster``).  A cluster another instance owns shows no health here: ask its owner."""
    names = state.cluster_names()
    try:
        owners = state.watcher.ownership()
    except Exception as exc:  # the store is down: health is still worth showing
        log.warning("cluster ownership unavailable: %s", type(exc).__name__)
        owners = {}
    me = state.watcher.sharing.instance if state.watcher.sharing else state.watcher.owner
    out = []
    for n in names:
        view = views.cluster_view(n, state.cluster(n), state.loop_stats(n))
        owner, epoch = owners.get(n, (None, None))
        out.append({**view, "owner": owner, "epoch": epoch, "watched_here": owner == me})
    return out


@router.get("/api/clusters/{name}/health", response_model=s.HealthOut, tags=["clusters"])
def cluster_health(name: ClusterName, state: Reader) -> Any:
    """The runbook's ``/actuator/msk-health``: ``overall_healthy``, severity, findings, checks.

    The same document as ``kafkaops health --json``.  Example:
    ``curl -s localhost:8080/api/clusters/prod/health | jq .overall_healthy``.
    """
    report = state.report(name)
    return _json(
        state.cached_body(
            name, "health", (report,), lambda: _dump(s.HealthOut, health_to_dict(report))
        )
    )


@router.get("/api/clusters/{name}/brokers", response_model=s.BrokersOut, tags=["clusters"])
def brokers(name: ClusterName, state: Reader) -> Any:
    """Brokers with controller role, reachability, log-dir bytes, disk use and broker metrics."""
    return views.brokers_view(state.snapshot(name))


@router.get("/api/clusters/{name}/topics", response_model=s.TopicsOut, tags=["clusters"])
def topics(
    name: ClusterName,
    state: Reader,
    internal: Annotated[bool, Query(description="Include internal topics.")] = True,
) -> Any:
    """Topics with partition count, replication factor, min ISR and partitions at risk."""
    return views.topics_view(state.snapshot(name), internal=internal)


@router.get("/api/clusters/{name}/partitions", response_model=s.PartitionsOut, tags=["clusters"])
def partitions(
    name: ClusterName,
    state: Reader,
    problem: Annotated[
        Problem | None, Query(description="Only this problem (default: any problem).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> Any:
    """Partitions with problems: offline, under-replicated or under min ISR (offline first)."""
    return views.partitions_view(state.snapshot(name), problem.value if problem else None, limit)


@router.get("/api/clusters/{name}/groups", response_model=s.GroupsOut, tags=["consumer groups"])
def groups(
    name: ClusterName,
    state: Reader,
    top: Annotated[int | None, Query(ge=1, le=100_000, description="Only the N worst.")] = None,
) -> Any:
    """Consumer groups sorted by time lag, then offset lag, with time-lag method and status."""
    snap = state.snapshot(name)
    return _json(
        state.cached_body(
            name,
            "groups",
            (snap, top),
            lambda: _dump(s.GroupsOut, views.groups_view(snap, state.statuses(name), top=top)),
        )
    )


@router.get(
    # ``:path``: Kafka group ids may contain "/" (e.g. "team/app"), sent as-is or as %2F.
    "/api/clusters/{name}/groups/{group:path}",
    response_model=s.GroupDetailOut,
    tags=["consumer groups"],
)
def group(name: ClusterName, group: str, state: Reader) -> Any:
    """One group diagnosed: per-partition lag and status, members, skew, recommendations."""
    snap = state.snapshot(name)
    st = state.statuses(name).get(group)
    data = views.group_detail(snap, group, st, state.config.lag)
    if data is None:
        raise ApiError(404, f"no consumer group {group!r} on cluster {name!r}")
    return data
