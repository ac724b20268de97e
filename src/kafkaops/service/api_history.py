"""Series for the dashboard's charts, read from the history store: lag over time, disk per broker.

``since`` takes a duration back from now (``1h``, ``30m``, ``7d``) or an ISO-8601 UTC time, so a
chart asks for "the last hour" without computing timestamps.  Series are as stored: full
resolution for the last hour, thinned further back (see :mod:`kafkaops.store.history`).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from kafkaops.core.units import parse_duration_ms
from kafkaops.report.health_view import utc
from kafkaops.service import schemas as s
from kafkaops.service.api import ERRORS, Reader
from kafkaops.service.errors import ApiError

router = APIRouter(responses=ERRORS, tags=["history"])
ClusterName = Annotated[str, Path(description="Cluster name (from the config).")]
Since = Annotated[
    str,
    Query(max_length=40, description="Duration back from now (1h, 30m, 7d) or ISO-8601 time."),
]
#: A year: the store keeps nothing older.
MAX_BACK_MS = 366 * 86_400_000


def parse_since(text: str, now_ms: int) -> int:
    """``"1h"`` → now − 1 h; ``"2026-01-01T00:00:00Z"`` → that instant; epoch milliseconds."""
    value = text.strip()
    try:
        back = parse_duration_ms(value)
    except ValueError:
        pass
    else:
        if back > MAX_BACK_MS:
            raise ApiError(422, f"since: {value!r} reaches back more than 366 days")
        return now_ms - back
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            422, f"since: {value!r} is neither a duration (1h, 30m, 7d) nor an ISO-8601 time"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        since_ms = int(when.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        raise ApiError(422, f"since: {value!r} is out of range") from None
    # The same cap as a duration: an ISO time must not be the way round it (0001-01-01).
    if now_ms - since_ms > MAX_BACK_MS:
        raise ApiError(422, f"since: {value!r} reaches back more than 366 days")
    return since_ms


@router.get("/api/clusters/{name}/history/lag", response_model=s.LagHistoryOut)
def lag_history(
    name: ClusterName,
    state: Reader,
    group: Annotated[str, Query(min_length=1, max_length=255, description="Consumer group.")],
    since: Since = "1h",
) -> Any:
    """A group's total offset lag and worst time lag per sample: the lag chart."""
    state.cluster(name)
    since_ms = parse_since(since, int(time.time() * 1000))
    rows = state.history().group_lag_series(name, group, since_ms=since_ms)
    return {
        "cluster": name,
        "group": group,
        "since": utc(since_ms),
        "points": [
            {"ts": utc(ts), "ts_ms": ts, "offset_lag": lag, "max_time_lag_ms": tl}
            for ts, lag, tl in rows
        ],
    }


@router.get("/api/clusters/{name}/history/brokers", response_model=s.BrokerHistoryOut)
def broker_history(
    name: ClusterName,
    state: Reader,
    since: Since = "1h",
    broker: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> Any:
    """Log-dir bytes, disk use, CPU, memory and network per broker over time: the disk chart."""
    state.cluster(name)
    since_ms = parse_since(since, int(time.time() * 1000))
    samples = state.history().broker_series(name, since_ms=since_ms, broker=broker)
    points = [{**asdict(p), "ts": utc(p.ts_ms)} for p in samples]
    return {"cluster": name, "since": utc(since_ms), "points": points}
