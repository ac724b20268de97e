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

Sampling also means a young window is noise: two samples a second apart of a slow consumer
"do not move".  So no verdict other than OK is given until the window is complete enough
(:attr:`LagSettings.min_complete`, Burrow's ``complete``) *and* spans long enough
(``min_span``); until then the group is "OK (evaluating, n/10 samples)".  STOP/STALL further
need the committed offset unchanged for at least ``min_unchanged``.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the store pulls in SQLAlchemy; evaluation only reads sample attributes
    from kafkaops.store.history import GroupSample

#: Defaults of :class:`kafkaops.lag.settings.LagSettings`, for callers without a config.
DEFAULT_MIN_COMPLETE = 1.0
DEFAULT_MIN_SPAN_MS = 60_000
DEFAULT_MIN_UNCHANGED_MS = 60_000


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
    #: The window is still too short or too sparse for a verdict (status is then OK).
    evaluating: bool = False
    #: Samples with a committed offset in the window.
    samples: int = 0


@dataclass(frozen=True)
class GroupStatus:
    group_id: str
    #: Worst partition status (OK, WARN, STOP, STALL, REWIND).
    status: LagStatus
    #: Burrow's group status: STOP/STALL/REWIND folded into ERR.
    burrow_status: LagStatus
    partitions: tuple[PartitionStatus, ...]
    complete: float
    #: Some partition's window is not yet complete/long enough: the OK is provisional.
    evaluating: bool = False
    #: Fewest samples of any partition, and the window size (for "n/10 samples").
    samples: int = 0
    window: int = 10

    @property
    def label(self) -> str:
        """``"STALL"``, or ``"OK (evaluating, 3/10 samples)"`` while the window fills."""
        if self.evaluating and self.status == LagStatus.OK:
            return f"OK (evaluating, {self.samples}/{self.window} samples)"
        return self.status.value


def partition_status(
    samples: Sequence[GroupSample],
    *,
    current_lag: int,
    now_ms: int,
    has_members: bool,
    window: int = 10,
    min_complete: float = DEFAULT_MIN_COMPLETE,
    min_span_ms: int = DEFAULT_MIN_SPAN_MS,
    min_unchanged_ms: int = DEFAULT_MIN_UNCHANGED_MS,
) -> tuple[LagStatus, float, str]:
    """Status of one partition from its last ``window`` samples (oldest first).

    Any verdict other than OK needs ``min_complete`` of the window filled and the samples
    spanning ``min_span_ms``; until then the reason starts with "evaluating".
    """
    offsets = [s for s in samples[-window:] if s.committed is not None and s.lag is not None]
    complete = len(offsets) / window if window else 1.0
    complete = min(1.0, complete)
    if not offsets:
        return LagStatus.OK, complete, "evaluating: no committed offsets sampled yet"
    if current_lag == 0 or any(s.lag == 0 for s in offsets):
        return LagStatus.OK, complete, "lag was zero within the window"
    span_ms = offsets[-1].ts_ms - offsets[0].ts_ms
    if complete + 1e-9 < min_complete or span_ms < min_span_ms:
        return (
            LagStatus.OK,
            complete,
            f"evaluating: {len(offsets)}/{window} samples over {span_ms / 1000:.0f}s "
            f"(a verdict needs {min_complete:.0%} of the window and {min_span_ms / 1000:.0f}s)",
        )
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
    unchanged_ms = now_ms - last_change
    if unchanged_ms >= min_unchanged_ms and (not moved or unchanged_ms > (last_change - start)):
        since = unchanged_ms / 1000
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
    min_complete: float = DEFAULT_MIN_COMPLETE,
    min_span_ms: int = DEFAULT_MIN_SPAN_MS,
    min_unchanged_ms: int = DEFAULT_MIN_UNCHANGED_MS,
) -> GroupStatus:
    """The group's status: its worst partition, and whether any partition is still evaluating."""
    parts = []
    for key in sorted(set(windows) | set(current_lags)):
        samples = windows.get(key, ())
        status, complete, reason = partition_status(
            samples,
            current_lag=current_lags.get(key, 0),
            now_ms=now_ms,
            has_members=has_members,
            window=window,
            min_complete=min_complete,
            min_span_ms=min_span_ms,
            min_unchanged_ms=min_unchanged_ms,
        )
        count = sum(1 for s in samples[-window:] if s.committed is not None and s.lag is not None)
        evaluating = reason.startswith("evaluating")
        parts.append(
            PartitionStatus(
                key[0],
                key[1],
                status,
                current_lags.get(key, 0),
                complete,
                reason,
                evaluating,
                count,
            )
        )
    return fold_group(group_id, parts, window=window)


def fold_group(group_id: str, parts: Sequence[PartitionStatus], *, window: int) -> GroupStatus:
    """The group's status from its partitions' (sorted by topic, partition): the worst one,
    and whether any is still evaluating.  Shared with the array evaluation
    (:mod:`kafkaops.lag.status_arrays`), so both fold partitions into a group the same way."""
    worst = max((p.status for p in parts), key=lambda s: s.rank, default=LagStatus.OK)
    burrow = LagStatus.ERR if worst.rank > LagStatus.ERR.rank else worst
    complete = sum(p.complete for p in parts) / len(parts) if parts else 1.0
    waiting = [p for p in parts if p.evaluating]
    return GroupStatus(
        group_id,
        worst,
        burrow,
        tuple(parts),
        complete,
        evaluating=bool(waiting),
        samples=min((p.samples for p in waiting), default=window),
        window=window,
    )
