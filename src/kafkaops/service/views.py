"""Plain-data views of a snapshot for the API: pure functions, no I/O, no FastAPI.

Why here and not in the route functions: the dashboard (``service/ui.py``) renders the same
facts, and pure functions over a :class:`ClusterSnapshot` are unit-testable without a server.
The group ranking and diagnosis are the CLI's own (:mod:`kafkaops.lag.diagnosis`), so
``kafkaops lag`` and ``GET /api/clusters/{name}/groups`` cannot disagree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kafkaops.core.broker_metrics import NodeMetrics
from kafkaops.core.model import ClusterSnapshot, LogDir, PartitionState
from kafkaops.lag.diagnosis import GroupLagSummary, diagnose_group, rank_groups
from kafkaops.report.health_view import utc

if TYPE_CHECKING:
    from kafkaops.lag.settings import LagSettings
    from kafkaops.lag.status import GroupStatus
    from kafkaops.pipeline.watch import ClusterState
    from kafkaops.service.state import LoopStats

PROBLEMS = ("offline", "under_replicated", "under_min_isr")
_METRIC_FIELDS = tuple(
    f.name for f in dataclasses.fields(NodeMetrics) if f.name not in ("node_id", "role")
)


def active_controller(snap: ClusterSnapshot) -> int | None:
    """The KRaft quorum leader, or the metadata controller on a ZooKeeper-mode cluster."""
    if snap.quorum_leader_id is not None or snap.quorum_voters:
        return snap.quorum_leader_id
    return snap.controller_id


def disk_percent(d: LogDir) -> float | None:
    if not d.total_bytes or d.usable_bytes is None:
        return None
    return round(100.0 * (d.total_bytes - d.usable_bytes) / d.total_bytes, 3)


def problems(p: PartitionState) -> list[str]:
    flags = (p.offline, p.under_replicated, p.under_min_isr)
    return [name for name, flag in zip(PROBLEMS, flags, strict=True) if flag]


def cluster_view(name: str, state: ClusterState, stats: LoopStats) -> dict[str, Any]:
    report, snap = state.last_report, state.last_snapshot
    s: Mapping[str, Any] = report.summary if report else {}
    bootstrap = report.bootstrap if report else (snap.bootstrap if snap else "")
    return {
        "name": name,
        "bootstrap": bootstrap or state.target.bootstrap,
        "reachable": state.failures == 0 and report is not None and report.reachable,
        "state": s.get("state", "PENDING") if report else "PENDING",
        "severity": report.severity.value if report else None,
        "overall_healthy": report.overall_healthy if report else None,
        "checked_at": utc(report.checked_at_ms) if report else None,
        "brokers": s.get("brokers"),
        "partitions": s.get("partitions"),
        "offline_partitions": s.get("offline_partitions"),
        "under_replicated_partitions": s.get("under_replicated_partitions"),
        "under_min_isr_partitions": s.get("under_min_isr_partitions"),
        "consumer_groups": s.get("consumer_groups"),
        "consecutive_failures": state.failures,
        "last_error": state.last_error,
    }


def _node_metrics(snap: ClusterSnapshot, node_id: int) -> dict[str, Any]:
    """The first configured source's metrics for a node (sources are in preference order)."""
    for source in snap.metrics:
        for n in source.nodes:
            if n.node_id == node_id:
                values = {k: getattr(n, k) for k in _METRIC_FIELDS if getattr(n, k) is not None}
                return {"source": source.source, **values} if values else {}
    return {}


def brokers_view(snap: ClusterSnapshot) -> dict[str, Any]:
    controller = active_controller(snap)
    dirs: dict[int, list[LogDir]] = {}
    for d in snap.log_dirs:
        dirs.setdefault(d.broker, []).append(d)
    brokers = []
    for b in sorted(snap.brokers, key=lambda b: b.node_id):
        mine = dirs.get(b.node_id, [])
        pcts = [p for p in (disk_percent(d) for d in mine) if p is not None]
        metrics = _node_metrics(snap, b.node_id)
        disk = max(pcts) if pcts else metrics.get("disk_percent")
        brokers.append(
            {
                "node_id": b.node_id,
                "host": b.host,
                "port": b.port,
                "rack": b.rack,
                "reachable": b.reachable,
                "error": b.error,
                "active_controller": b.node_id == controller,
                "used_bytes": sum(d.used_bytes for d in mine),
                "disk_percent": disk,
                "log_dirs": [
                    {
                        "path": d.path,
                        "error": d.error,
                        "used_bytes": d.used_bytes,
                        "total_bytes": d.total_bytes,
                        "usable_bytes": d.usable_bytes,
                        "disk_percent": disk_percent(d),
                    }
                    for d in mine
                ],
                "metrics": metrics,
            }
        )
    return {
        "cluster": snap.cluster_name,
        "taken_at": utc(snap.taken_at_ms),
        "controller_id": snap.controller_id,
        "quorum_leader_id": snap.quorum_leader_id,
        "quorum_voters": list(snap.quorum_voters),
        "brokers": brokers,
    }


def topics_view(snap: ClusterSnapshot, *, internal: bool = True) -> dict[str, Any]:
    topics = []
    for t in sorted(snap.topics, key=lambda t: t.name):
        if t.internal and not internal:
            continue
        parts = t.partitions
        topics.append(
            {
                "name": t.name,
                "internal": t.internal,
                "partitions": len(parts),
                "replication_factor": t.replication_factor,
                "min_isr": parts[0].min_isr if parts else None,
                "offline_partitions": sum(1 for p in parts if p.offline),
                "under_replicated_partitions": sum(1 for p in parts if p.under_replicated),
                "under_min_isr_partitions": sum(1 for p in parts if p.under_min_isr),
                "configs": dict(t.configs),
            }
        )
    return {"cluster": snap.cluster_name, "taken_at": utc(snap.taken_at_ms), "topics": topics}


def partitions_view(snap: ClusterSnapshot, problem: str | None, limit: int) -> dict[str, Any]:
    """Partitions with ``problem`` (or with any problem), offline first."""
    found = []
    for p in snap.partitions:
        flags = problems(p)
        if (problem in flags) if problem else flags:
            found.append((p, flags))
    found.sort(key=lambda pf: (not pf[0].offline, not pf[0].under_min_isr, pf[0].name))
    return {
        "cluster": snap.cluster_name,
        "taken_at": utc(snap.taken_at_ms),
        "problem": problem,
        "total": len(found),
        "truncated": len(found) > limit,
        "partitions": [
            {
                "topic": p.topic,
                "partition": p.partition,
                "leader": p.leader,
                "replicas": list(p.replicas),
                "isr": list(p.isr),
                "offline_replicas": list(p.offline_replicas),
                "min_isr": p.min_isr,
                "problems": flags,
                "log_start_offset": p.log_start_offset,
                "log_end_offset": p.log_end_offset,
            }
            for p, flags in found[:limit]
        ],
    }


def _group_row(r: GroupLagSummary, st: GroupStatus | None) -> dict[str, Any]:
    row = dataclasses.asdict(r)
    row["topics"] = list(r.topics)
    row["status"] = st.status.value if st else None
    row["burrow_status"] = st.burrow_status.value if st else None
    # "OK (evaluating, 3/10 samples)" while the window is too young for a verdict.
    row["status_label"] = st.label if st else None
    return row


def groups_view(
    snap: ClusterSnapshot, statuses: Mapping[str, GroupStatus], *, top: int | None = None
) -> dict[str, Any]:
    """Groups by time lag, then offset lag (worst first) — ``kafkaops lag``'s order."""
    rows = rank_groups(snap, top=top)
    return {
        "cluster": snap.cluster_name,
        "taken_at": utc(snap.taken_at_ms),
        "groups": [_group_row(r, statuses.get(r.group_id)) for r in rows],
    }


def group_detail(
    snap: ClusterSnapshot, group_id: str, st: GroupStatus | None, lag: LagSettings
) -> dict[str, Any] | None:
    """``kafkaops lag GROUP``: diagnosis, per-partition lag and status; None if no such group."""
    d = diagnose_group(
        snap,
        group_id,
        scale_up_lag_threshold=lag.scale_up_lag_threshold,
        partition_increment=lag.partition_increment,
    )
    if d is None:
        return None
    group = next(g for g in snap.groups if g.group_id == group_id)
    by_tp = {(p.topic, p.partition): p for p in st.partitions} if st else {}
    partitions = []
    for p in sorted(group.partitions, key=lambda p: (-(p.lag or 0), p.topic, p.partition)):
        row = dataclasses.asdict(p)
        ps = by_tp.get((p.topic, p.partition))
        row["status"] = ps.status.value if ps else None
        row["status_reason"] = ps.reason if ps else None
        partitions.append(row)
    return {
        "cluster": snap.cluster_name,
        "taken_at": utc(snap.taken_at_ms),
        "summary": _group_row(d.summary, st),
        "members": [dataclasses.asdict(m) for m in d.members],
        "idle_members": list(d.idle_members),
        "unassigned_lagging_partitions": list(d.unassigned_lagging_partitions),
        "skew": d.skew,
        "recommendations": list(d.recommendations),
        "partitions": partitions,
    }
