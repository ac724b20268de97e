"""The consumer-status rules of :func:`kafkaops.lag.status.partition_status`, on arrays.

Why: at 20,000 partitions the watch loop evaluates 40,000 group-partitions every cycle.  Done
sample by sample that meant building 400,000 :class:`~kafkaops.store.history.GroupSample`
objects and walking them in Python — about 4.5 s of a 7 s lag-engine cycle (bench/README.md,
issue 17).  The in-memory history (:mod:`kafkaops.lag.memory`) already holds every window as
int64 matrices (a row per group-partition, a column per sample time), so the same rules run
here as a handful of numpy passes over all rows at once, and only the verdicts (and the few
reason strings) are Python objects.

The rules, their order and the reason texts are exactly ``partition_status``'s; a property
test (tests/lag/test_status_arrays.py) compares the two on many random windows, and the
benchmark compares whole cycles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kafkaops.lag.status import LagStatus

_OK, _WARN, _STOP, _STALL, _REWIND = range(5)
_STATUSES = (LagStatus.OK, LagStatus.WARN, LagStatus.STOP, LagStatus.STALL, LagStatus.REWIND)
# Reason codes; the texts that carry numbers are formatted per row (see ``reasons``).
_R_NO_SAMPLES, _R_ZERO, _R_EVALUATING, _R_REWIND, _R_STILL, _R_WARN, _R_CONSUMING = range(7)


@dataclass(frozen=True)
class WindowVerdicts:
    """One verdict per row, in the row order of the input matrices."""

    statuses: list[LagStatus]
    #: Burrow's "complete": share of the window holding a committed offset (and lag).
    complete: list[float]
    #: Samples with a committed offset (and lag) in the window.
    samples: list[int]
    reasons: list[str]
    #: The reason starts with "evaluating": the window is too young for a verdict.
    evaluating: list[bool]


def window_verdicts(
    ts_ms: np.ndarray,
    committed: np.ndarray,
    lag: np.ndarray,
    valid: np.ndarray,
    current_lag: np.ndarray,
    has_members: np.ndarray,
    *,
    now_ms: int,
    window: int,
    min_complete: float,
    min_span_ms: int,
    min_unchanged_ms: int,
) -> WindowVerdicts:
    """``partition_status`` for every row of the window matrices at once.

    ``ts_ms``: (W,) sample times of the columns, oldest first, shared by all rows (one column
    per snapshot); ``committed``, ``lag``: (R, W) int64; ``valid``: (R, W) bool, True where the
    sample exists and has both a committed offset and a lag (``partition_status`` skips the
    others); ``current_lag`` (R,) the snapshot's lag; ``has_members`` (R,) bool.  The columns
    must already be the last ``window`` samples.
    """
    rows, width = valid.shape
    n = valid.sum(axis=1)
    complete = np.minimum(1.0, n / window) if window else np.ones(rows)
    # Move each row's valid samples to the front, keeping their order: the rules compare
    # consecutive *valid* samples, whatever gaps lie between them.
    order = np.argsort(~valid, axis=1, kind="stable")
    c = np.take_along_axis(committed, order, axis=1)
    g = np.take_along_axis(lag, order, axis=1)
    t = ts_ms[order] if width else np.zeros((rows, 0), dtype=np.int64)
    idx = np.arange(rows)
    last = np.maximum(n - 1, 0)
    first_ts = t[:, 0] if width else np.zeros(rows, dtype=np.int64)
    last_ts = t[idx, last] if width else first_ts
    span = last_ts - first_ts
    # Consecutive pairs (j, j + 1) of valid samples.
    pair = np.arange(max(width - 1, 0))[None, :] < (n - 1)[:, None]
    rewind = ((c[:, 1:] < c[:, :-1]) & pair).any(axis=1)
    changed = (c[:, 1:] != c[:, :-1]) & pair
    any_change = changed.any(axis=1)
    last_pair = width - 2 - np.argmax(changed[:, ::-1], axis=1) if width > 1 else last * 0
    last_change = np.where(any_change, t[idx, last_pair + 1] if width > 1 else first_ts, first_ts)
    moved = last_change != first_ts
    unchanged = now_ms - last_change
    still = (unchanged >= min_unchanged_ms) & (~moved | (unchanged > last_change - first_ts))
    lag_never_decreases = ~((g[:, 1:] < g[:, :-1]) & pair).any(axis=1)
    zero = (current_lag == 0) | ((lag == 0) & valid).any(axis=1)
    young = (complete + 1e-9 < min_complete) | (span < min_span_ms)

    code = np.select(
        [n == 0, zero, young, rewind, still, lag_never_decreases],
        [_R_NO_SAMPLES, _R_ZERO, _R_EVALUATING, _R_REWIND, _R_STILL, _R_WARN],
        default=_R_CONSUMING,
    )
    status = np.select(
        [code == _R_REWIND, (code == _R_STILL) & has_members, code == _R_STILL, code == _R_WARN],
        [_REWIND, _STALL, _STOP, _WARN],
        default=_OK,
    )
    return WindowVerdicts(
        statuses=[_STATUSES[s] for s in status.tolist()],
        complete=complete.tolist(),
        samples=n.tolist(),
        reasons=_reasons(
            code.tolist(),
            n.tolist(),
            span.tolist(),
            unchanged.tolist(),
            has_members.tolist(),
            window=window,
            min_complete=min_complete,
            min_span_ms=min_span_ms,
        ),
        evaluating=((code == _R_NO_SAMPLES) | (code == _R_EVALUATING)).tolist(),
    )


def _reasons(
    codes: list[int],
    n: list[int],
    span: list[int],
    unchanged: list[int],
    members: list[bool],
    *,
    window: int,
    min_complete: float,
    min_span_ms: int,
) -> list[str]:
    """The reason texts, word for word ``partition_status``'s (numbers from Python ints)."""
    fixed = {
        _R_NO_SAMPLES: "evaluating: no committed offsets sampled yet",
        _R_ZERO: "lag was zero within the window",
        _R_REWIND: "committed offset moved backwards",
        _R_WARN: "offsets move but lag never decreases",
        _R_CONSUMING: "consuming",
    }
    needs = f"(a verdict needs {min_complete:.0%} of the window and {min_span_ms / 1000:.0f}s)"
    out = []
    for i, code in enumerate(codes):
        text = fixed.get(code)
        if text is None:
            if code == _R_EVALUATING:
                text = f"evaluating: {n[i]}/{window} samples over {span[i] / 1000:.0f}s {needs}"
            elif members[i]:
                text = f"offset not moving for {unchanged[i] / 1000:.0f}s with lag"
            else:
                text = f"no progress for {unchanged[i] / 1000:.0f}s and no members"
        out.append(text)
    return out
