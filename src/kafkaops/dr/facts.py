"""What ``dr verify`` knows about a primary/replica pair: plain data, collected once.

Verification (``verify.py``) is a pure function of these facts, so every rule is tested on
hand-built facts as well as on the real MM2 pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkaops.dr.codec import Checkpoint, Heartbeat, OffsetSync
from kafkaops.dr.policy import ReplicationPolicy

#: Topic configs MM2 keeps in sync (its DefaultConfigPropertyFilter leaves out
#: min.insync.replicas, message.timestamp.type, throttles and unclean election on purpose).
KEY_CONFIGS = (
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "max.message.bytes",
    "compression.type",
    "min.compaction.lag.ms",
    "delete.retention.ms",
)

TP = tuple[str, int]


@dataclass(frozen=True, slots=True)
class TopicFacts:
    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)
    #: Log start and end offsets per partition.
    start: dict[int, int] = field(default_factory=dict)
    end: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GroupFacts:
    group: str
    state: str
    members: int
    #: Committed offsets: (topic, partition) → offset.
    committed: dict[TP, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    name: str
    bootstrap: str
    reachable: bool
    error: str | None = None
    topics: dict[str, TopicFacts] = field(default_factory=dict)
    groups: dict[str, GroupFacts] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DrFacts:
    collected_at_ms: int
    policy: ReplicationPolicy
    target_alias: str
    primary: ClusterFacts
    replica: ClusterFacts
    #: Offset syncs per *source* (topic, partition), oldest first.
    offset_syncs: dict[TP, list[OffsetSync]] = field(default_factory=dict)
    offset_syncs_error: str | None = None
    #: The latest checkpoint per (group, remote topic, partition).
    checkpoints: dict[tuple[str, str, int], Checkpoint] = field(default_factory=dict)
    checkpoints_error: str | None = None
    #: The latest heartbeat per (source alias, target alias), with the topic it was read from.
    heartbeats: dict[tuple[str, str], Heartbeat] = field(default_factory=dict)
    heartbeats_error: str | None = None
    #: Record timestamps read on the primary: (topic, partition, offset) → epoch ms.
    primary_timestamps: dict[tuple[str, int, int], int] = field(default_factory=dict)
    #: MM2 process / MSK Replicator state, when known (sandbox pid check, describe_replicator).
    replicator: dict[str, object] = field(default_factory=dict)
