"""Lag engine orchestration: snapshot → (estimated time lag) → history store → status per group.

The pure parts live in :mod:`kafkaops.lag.status` and :mod:`kafkaops.lag.time_lag`;
this module only moves data between the collector, the store and the evaluators, so the CLI, the
health check and the watch loop share one path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields, replace
from operator import attrgetter
from typing import Protocol

from kafkaops.core.model import ClusterSnapshot, ConsumerGroup, PartitionLag
from kafkaops.lag.memory import LagMemory
from kafkaops.lag.settings import LagSettings
from kafkaops.lag.status import GroupStatus, group_status
from kafkaops.lag.time_lag import interpolated_time_lag
from kafkaops.store.history import GroupSample, HistoryStore
from kafkaops.store.lease import Fence


class LagHistory(Protocol):
    """What the estimate and the status evaluation read: the store, or the watch loop's
    in-memory copy of its recent part (:class:`~kafkaops.lag.memory.LagMemory`)."""

    def group_windows(
        self, cluster: str, *, limit: int = 10
    ) -> dict[str, dict[tuple[str, int], list[GroupSample]]]: ...

    def log_end_brackets(
        self, cluster: str, positions: Iterable[tuple[str, int, int]]
    ) -> dict[tuple[str, int, int], list[tuple[int, int]]]: ...


#: Time-lag method labels written into PartitionLag.time_lag_method by the estimate.
INTERPOLATED = "interpolated"
#: The history did not reach back to the committed offset: the true lag is at least this.
INTERPOLATED_LOWER_BOUND = "interpolated_lower_bound"


def with_estimated_time_lag(store: LagHistory, snapshot: ClusterSnapshot) -> ClusterSnapshot:
    """Fill time lag by interpolation over the stored (time, log-end) history.

    kafka-lag-exporter's method, for clusters where reading one record per lagging partition
    (the exact method) is not affordable.  The snapshot's own log-end offsets count as the
    newest sample, so the first cycle already gives a (lower-bound) answer.  Labelled
    ``interpolated`` — or ``interpolated_lower_bound`` where the history is too short — in
    every output, because it is wrong on bursts and after idle spells (see bench/README.md).
    """
    log_ends = {(p.topic, p.partition): p.log_end_offset for p in snapshot.partitions}
    wanted = {
        (p.topic, p.partition, _position(p))
        for g in snapshot.groups
        for p in g.partitions
        if p.lag and p.committed is not None
    }
    brackets = store.log_end_brackets(snapshot.cluster_name, sorted(wanted))
    now = snapshot.taken_at_ms

    def estimate(p: PartitionLag) -> PartitionLag:
        if p.lag == 0:
            return _with_time_lag(p, 0, INTERPOLATED)
        if not p.lag or p.committed is None:
            return p
        position = _position(p)
        history = list(brackets.get((p.topic, p.partition, position), ()))
        end = log_ends.get((p.topic, p.partition))
        if end is not None and (not history or history[-1][1] <= position):
            history.append((now, end))  # the newest sample: this snapshot
        est = interpolated_time_lag(history, position, now)
        if est.time_lag_ms is None:
            return p
        method = INTERPOLATED_LOWER_BOUND if est.lower_bound else INTERPOLATED
        return _with_time_lag(p, est.time_lag_ms, method)

    groups = [_map_partitions(g, estimate) for g in snapshot.groups]
    return replace(snapshot, groups=tuple(groups))


#: PartitionLag's fields in constructor order, and where the two time-lag fields sit.
_LAG_FIELDS = tuple(f.name for f in fields(PartitionLag))
_LAG_VALUES = attrgetter(*_LAG_FIELDS)
_TIME_LAG = _LAG_FIELDS.index("time_lag_ms")
_TIME_LAG_METHOD = _LAG_FIELDS.index("time_lag_method")


def _with_time_lag(p: PartitionLag, time_lag_ms: int, method: str) -> PartitionLag:
    """``replace(p, time_lag_ms=…, time_lag_method=…)`` at a fifth of the cost: one call per
    lagging group-partition (40,000 a cycle at issue 17's size), where ``replace`` looks the
    fields up again every time."""
    values = list(_LAG_VALUES(p))
    values[_TIME_LAG] = time_lag_ms
    values[_TIME_LAG_METHOD] = method
    return PartitionLag(*values)


def _position(p: PartitionLag) -> int:
    """Where the group reads next: its committed offset, or log start if retention passed it."""
    return max(p.committed or 0, p.log_start_offset or 0)


def _map_partitions(
    group: ConsumerGroup, fn: Callable[[PartitionLag], PartitionLag]
) -> ConsumerGroup:
    parts = tuple(fn(p) for p in group.partitions)
    return replace(group, partitions=parts)


def evaluate_statuses(
    store: LagHistory,
    snapshot: ClusterSnapshot,
    *,
    window: int | None = None,
    lag: LagSettings | None = None,
) -> dict[str, GroupStatus]:
    """Every group's Burrow-style status over its last ``window`` stored samples.

    ``lag``: the config's lag settings (window, minimum complete/span/unchanged time);
    ``window`` overrides the window size alone (the defaults otherwise).
    """
    lag = lag or LagSettings()
    if window is not None:
        lag = lag.model_copy(update={"window": window})
    window = lag.window
    if isinstance(store, LagMemory):  # the windows are arrays there: no object per sample
        return store.group_statuses(
            snapshot,
            window=window,
            min_complete=lag.min_complete,
            min_span_ms=lag.min_span,
            min_unchanged_ms=lag.min_unchanged,
        )
    windows = store.group_windows(snapshot.cluster_name, limit=window)
    statuses = {}
    for g in snapshot.groups:
        current = {(p.topic, p.partition): p.lag or 0 for p in g.partitions}
        statuses[g.group_id] = group_status(
            g.group_id,
            windows.get(g.group_id, {}),
            current,
            now_ms=snapshot.taken_at_ms,
            has_members=bool(g.members),
            window=window,
            min_complete=lag.min_complete,
            min_span_ms=lag.min_span,
            min_unchanged_ms=lag.min_unchanged,
        )
    return statuses


def observe(
    store: HistoryStore,
    snapshot: ClusterSnapshot,
    *,
    time_lag_method: str = "exact",
    window: int | None = None,
    lag: LagSettings | None = None,
    memory: LagMemory | None = None,
    fence: Fence | None = None,
) -> tuple[ClusterSnapshot, dict[str, GroupStatus]]:
    """One lag-engine cycle: estimate time lag if asked, store the sample, evaluate statuses.

    Returns the snapshot as stored (with estimated time lag filled in when that is the method)
    and each group's status.  ``memory``: the watch loop's in-memory recent history of this
    cluster; the store is read only to fill the memory once, and written once per
    ``lag.history_every`` (the broker samples every cycle).
    ``fence``: the cluster lease's check for the history write (see
    :meth:`HistoryStore.record`); a rejected write raises before the memory learns the sample.
    """
    reader: LagHistory = store
    if memory is not None:
        memory.restore()  # before this snapshot is recorded, so it is not counted twice
        reader = memory
    if time_lag_method == "estimated":
        snapshot = with_estimated_time_lag(reader, snapshot)
    offsets = memory is None or offsets_due(memory, snapshot.taken_at_ms, lag)
    store.record(snapshot, fence=fence, offsets=offsets)
    if memory is not None:
        if offsets:
            memory.offsets_stored_ms = snapshot.taken_at_ms
        memory.add(snapshot)
    return snapshot, evaluate_statuses(reader, snapshot, window=window, lag=lag)


def offsets_due(memory: LagMemory, now_ms: int, lag: LagSettings | None) -> bool:
    """Whether this cycle writes the offset history to the store (``lag.history_every``).

    Only the watch loop (which holds every cycle's samples in ``memory``) thins its writes; a
    one-off ``kafkaops health`` records every snapshot it takes.  5 % slack: a cycle that
    starts a little early does not push the write a whole interval later.
    """
    every = (lag or LagSettings()).history_every
    last = memory.offsets_stored_ms
    return every <= 0 or last is None or now_ms - last >= every * 0.95


def record_and_evaluate(
    store: HistoryStore,
    snapshot: ClusterSnapshot,
    *,
    window: int | None = None,
    lag: LagSettings | None = None,
) -> dict[str, GroupStatus]:
    """Store the snapshot, then evaluate every group over its last ``window`` samples."""
    return observe(store, snapshot, time_lag_method="none", window=window, lag=lag)[1]
