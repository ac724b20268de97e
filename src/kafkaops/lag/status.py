"""Consumer status over a sliding window, with Burrow's evaluation rules as the reference.

Burrow (linkedin/Burrow, ``core/internal/evaluator``) evaluates each partition over its last N
offset *commits*, in this order: lag zero anywhere in the window → OK; committed offset went
backwards → REWIND; no commit for longer than the window spans → STOP; commits that do not move
→ STALL; offsets moving but lag never decreasing → WARN; else OK.  The group takes the worst
partition (Burrow caps STOP/STALL/REWIND at ERR for the group; we report both).

One honest difference: Burrow reads every commit (with its timestamp) from ``__consumer_offsets``;
kafkaops samples committed offsets at each snapshot.  A sample cannot tell "committed the same
offset again" from "did not commit", so the two are told apart by the group's membership, which
Burrow does not look at: no progress *with* live members is STALL (consumers alive but stuck),
without members it is STOP (consumers gone).  bench/README.md records where the two disagree.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the store pulls in SQLAlchemy; evaluation only reads sample attributes
    from kafkaops.store.history import GroupSample


class LagStatus(enum.StrEnum):
    OK = "OK"
    WARN = "WARN"
    ERR = "ERR"
    STOP = "STOP"
    STALL = "STALL"
    REWIND = "REWIND"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {
    LagStatus.OK: 0,
    LagStatus.WARN: 1,
    LagStatus.ERR: 2,
    LagStatus.STOP: 3,
    LagStatus.STALL: 4,
    LagStatus.REWIND: 5,
}


@dataclass(frozen=True)
class PartitionStatus:
    topic: str
    partition: int
    status: LagStatus
    current_lag: int
    #: Fraction of the window that had samples (Burrow's "complete").
    complete: float
    reason: str


@dataclass(frozen=True)
class GroupStatus:
    group_id: str
    #: Worst partition status (OK, WARN, STOP, STALL, REWIND).
    status: LagStatus
    #: Burrow's group status: STOP/STALL/REWIND folded into ERR.
    burrow_status: LagStatus
    partitions: tuple[PartitionStatus, ...]
    complete: float


def partition_status(
    samples: Sequence[GroupSample],
    *,
    current_lag: int,
    now_ms: int,
    has_members: bool,
    window: int = 10,
) -> tuple[LagStatus, float, str]:
    """Status of one partition from its last ``window`` samples (oldest first)."""
    offsets = [s for s in samples[-window:] if s.committed is not None and s.lag is not None]
    complete = len(offsets) / window if window else 1.0
    complete = min(1.0, complete)
    if not offsets:
        return LagStatus.OK, complete, "no committed offsets sampled yet"
    if current_lag == 0 or any(s.lag == 0 for s in offsets):
        return LagStatus.OK, complete, "lag was zero within the window"
    committed = [s.committed or 0 for s in offsets]
    if any(b < a for a, b in itertools.pairwise(committed)):
        return LagStatus.REWIND, complete, "committed offset moved backwards"
    # When did the committed offset last change?  (first sample that saw its current value)
    last_change = offsets[0].ts_ms
    for prev, cur in itertools.pairwise(offsets):
        if cur.committed != prev.committed:
            last_change = cur.ts_ms
    start = offsets[0].ts_ms
    moved = last_change != start
    if not moved or (now_ms - last_change) > (last_change - start):
        since = (now_ms - last_change) / 1000
        if has_members:
            return LagStatus.STALL, complete, f"offset not moving for {since:.0f}s with lag"
        return LagStatus.STOP, complete, f"no progress for {since:.0f}s and no members"
    lags = [s.lag or 0 for s in offsets]
    if all(b >= a for a, b in itertools.pairwise(lags)):
        return LagStatus.WARN, complete, "offsets move but lag never decreases"
    return LagStatus.OK, complete, "consuming"


def group_status(
    group_id: str,
    windows: Mapping[tuple[str, int], Sequence[GroupSample]],
    current_lags: Mapping[tuple[str, int], int],
    *,
    now_ms: int,
    has_members: bool,
    window: int = 10,
) -> GroupStatus:
    parts = []
    for key in sorted(set(windows) | set(current_lags)):
        status, complete, reason = partition_status(
            windows.get(key, ()),
            current_lag=current_lags.get(key, 0),
            now_ms=now_ms,
            has_members=has_members,
            window=window,
        )
        parts.append(
            PartitionStatus(key[0], key[1], status, current_lags.get(key, 0), complete, reason)
        )
    worst = max((p.status for p in parts), key=lambda s: s.rank, default=LagStatus.OK)
    burrow = LagStatus.ERR if worst.rank > LagStatus.ERR.rank else worst
    complete = sum(p.complete for p in parts) / len(parts) if parts else 1.0
    return GroupStatus(group_id, worst, burrow, tuple(parts), complete)
