"""Where replicas are: the one input of diagnosis and planning, built from a snapshot.

Kept apart from :class:`~kafkaops.core.model.ClusterSnapshot` so the planner and its tests work on
hand-built or generated layouts (20,000 partitions in a benchmark) with no cluster at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkaops.core.model import ClusterSnapshot


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    topic: str
    partition: int
    #: Replica list in preference order: ``replicas[0]`` is the preferred leader.
    replicas: tuple[int, ...]
    #: Current leader, -1 when offline.
    leader: int
    #: Bytes of one copy (the largest copy reported by DescribeLogDirs; 0 when unknown).
    size: int = 0
    internal: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return (self.topic, self.partition)

    @property
    def name(self) -> str:
        return f"{self.topic}-{self.partition}"


@dataclass(frozen=True)
class Layout:
    """Brokers (id → rack, None when the broker has no rack) and every partition."""

    brokers: dict[int, str | None]
    partitions: tuple[PartitionInfo, ...]
    #: Bytes each broker actually stores (DescribeLogDirs), when known.
    broker_bytes: dict[int, int] = field(default_factory=dict)

    @property
    def racks(self) -> set[str]:
        return {r for r in self.brokers.values() if r is not None}

    def topics(self) -> set[str]:
        return {p.topic for p in self.partitions}


def layout_from_snapshot(snapshot: ClusterSnapshot) -> Layout:
    """Brokers, replicas, leaders and replica sizes from one snapshot."""
    sizes: dict[str, int] = {}
    for d in snapshot.log_dirs:
        for name, size in d.partition_bytes.items():
            sizes[name] = max(sizes.get(name, 0), size)
    partitions = tuple(
        PartitionInfo(
            topic=p.topic,
            partition=p.partition,
            replicas=p.replicas,
            leader=p.leader,
            size=sizes.get(p.name, 0),
            internal=t.internal,
        )
        for t in snapshot.topics
        for p in t.partitions
    )
    return Layout(
        brokers={b.node_id: b.rack for b in snapshot.brokers},
        partitions=partitions,
        broker_bytes=snapshot.broker_bytes(),
    )
