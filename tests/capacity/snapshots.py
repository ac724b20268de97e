"""Snapshots built by hand for the capacity tests (the model is plain frozen dataclasses)."""

from __future__ import annotations

from kafkaops.core.broker_metrics import ClusterMetrics, NodeMetrics
from kafkaops.core.model import Broker, ClusterSnapshot, LogDir, PartitionState, Topic

GiB = 1024**3


def snapshot(
    ts_ms: int,
    *,
    cluster: str = "c1",
    used: dict[int, int] | None = None,
    total: int = 1000 * GiB,
    log_end: int = 1000,
    retention_ms: int | None = 7 * 86_400_000,
    bytes_in: float | None = 1000.0,
) -> ClusterSnapshot:
    """Three brokers, one topic ``t`` (3 partitions, RF 3); broker b holds ``used[b]`` bytes."""
    used = used or {1: 100 * GiB, 2: 110 * GiB, 3: 120 * GiB}
    parts = tuple(
        PartitionState("t", p, leader=p + 1, replicas=(1, 2, 3), isr=(1, 2, 3),
                       log_start_offset=0, log_end_offset=log_end)
        for p in range(3)
    )  # fmt: skip
    configs = {"retention.ms": str(retention_ms)} if retention_ms is not None else {}
    dirs = tuple(
        LogDir(
            broker=b,
            path="/data",
            error=None,
            partition_bytes={f"t-{p}": u // 3 for p in range(3)},
            total_bytes=total,
            usable_bytes=total - u,
        )
        for b, u in used.items()
    )
    metrics = (
        ClusterMetrics(
            source="prometheus",
            collected_at_ms=ts_ms,
            window_s=30,
            nodes=tuple(
                NodeMetrics(b, bytes_in_per_s=bytes_in, bytes_out_per_s=2 * (bytes_in or 0),
                            produce_requests_per_s=10.0, failed_produce_requests_per_s=0.1,
                            cpu_percent=20.0)
                for b in used
            ),
        ),
    )  # fmt: skip
    return ClusterSnapshot(
        cluster_name=cluster,
        bootstrap="127.0.0.1:1",
        taken_at_ms=ts_ms,
        duration_ms=5,
        cluster_id="x",
        controller_id=1,
        quorum_leader_id=None,
        quorum_voters=(),
        brokers=tuple(Broker(b, "127.0.0.1", 9000 + b) for b in used),
        topics=(Topic("t", False, parts, configs),),
        groups=(),
        log_dirs=dirs,
        metrics=metrics,
    )
