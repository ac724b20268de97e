"""Lag engine orchestration: snapshot → history store → Burrow-style status per group.

The pure parts live in :mod:`kafkaops.evaluate.lag_status`; this module only moves data between
the collector, the store and the evaluator, so the CLI (and later the service) stay thin.
"""

from __future__ import annotations

from kafkaops.evaluate.lag_status import GroupStatus, group_status
from kafkaops.model import ClusterSnapshot
from kafkaops.store.history import HistoryStore


def record_and_evaluate(
    store: HistoryStore, snapshot: ClusterSnapshot, *, window: int = 10
) -> dict[str, GroupStatus]:
    """Store the snapshot, then evaluate every group over its last ``window`` samples."""
    store.record(snapshot)
    statuses = {}
    for g in snapshot.groups:
        samples = store.group_window(snapshot.cluster_name, g.group_id, limit=window)
        current = {(p.topic, p.partition): p.lag or 0 for p in g.partitions}
        statuses[g.group_id] = group_status(
            g.group_id,
            samples,
            current,
            now_ms=snapshot.taken_at_ms,
            has_members=bool(g.members),
            window=window,
        )
    return statuses
