"""Burrow-style consumer status over a window of samples (10-second sampling)."""

from __future__ import annotations

from kafkaops.lag.status import LagStatus, group_status, partition_status
from kafkaops.store.history import GroupSample

S = 10_000  # sample interval, ms


def window(committed: list[int], lag: list[int], start: int = 0) -> list[GroupSample]:
    return [
        GroupSample(start + i * S, c, c + lg, lg, None)
        for i, (c, lg) in enumerate(zip(committed, lag, strict=True))
    ]


def status(samples, *, lag=None, now=None, members=True):
    """Status of a full window (the window is exactly these samples; no minimum span)."""
    now = now if now is not None else samples[-1].ts_ms + S
    lag = lag if lag is not None else samples[-1].lag
    return partition_status(
        samples,
        current_lag=lag,
        now_ms=now,
        has_members=members,
        window=len(samples),
        min_span_ms=0,
        min_unchanged_ms=S,
    )[0]


def test_ok_when_lag_zero_anywhere():
    w = window([10, 20, 30, 40], [5, 0, 8, 9])
    assert status(w) == LagStatus.OK


def test_ok_when_consuming_and_lag_decreasing():
    w = window([10, 20, 30, 40, 50], [9, 8, 9, 7, 6])
    assert status(w) == LagStatus.OK


def test_warn_when_moving_but_lag_never_decreases():
    w = window([10, 20, 30, 40, 50], [5, 6, 6, 8, 9])
    assert status(w) == LagStatus.WARN


def test_rewind():
    w = window([10, 20, 5, 30], [5, 6, 20, 7])
    assert status(w) == LagStatus.REWIND


def test_stall_with_members_stop_without():
    w = window([10, 10, 10, 10], [5, 6, 7, 8])
    assert status(w, members=True) == LagStatus.STALL
    assert status(w, members=False) == LagStatus.STOP


def test_stop_when_progress_ended_longer_ago_than_window_span():
    # Moved during the first 20 s, then nothing for 60 s.
    w = window([10, 20, 30, 30, 30, 30, 30, 30, 30], [5, 5, 6, 7, 8, 9, 10, 11, 12])
    assert status(w, members=False) == LagStatus.STOP


def test_no_samples_is_ok_and_incomplete():
    st, complete, _ = partition_status([], current_lag=5, now_ms=0, has_members=True)
    assert st == LagStatus.OK and complete == 0.0


def test_group_is_worst_partition_and_burrow_caps_at_err():
    windows = {
        ("t", 0): window([10, 20, 30], [1, 2, 3]),  # WARN
        ("t", 1): window([10, 10, 10], [4, 5, 6]),  # STALL
        ("t", 2): window([10, 20, 30], [0, 0, 0]),  # OK
    }
    lags = {k: v[-1].lag or 0 for k, v in windows.items()}
    g = group_status(
        "g",
        windows,
        lags,
        now_ms=40_000,
        has_members=True,
        window=3,
        min_span_ms=0,
        min_unchanged_ms=S,
    )
    assert g.status == LagStatus.STALL
    assert g.burrow_status == LagStatus.ERR
    assert [p.status for p in g.partitions] == [LagStatus.WARN, LagStatus.STALL, LagStatus.OK]
    assert g.complete == 1.0


# --------------------------------------------------------------- no verdict from a young window
def test_one_sample_of_ten_is_ok_evaluating_never_stall():
    """The demo's false alarm: 1 sample, "offset not moving for 0s", window 10% complete."""
    w = window([10], [50])
    st, complete, reason = partition_status(w, current_lag=50, now_ms=w[-1].ts_ms, has_members=True)
    assert st == LagStatus.OK and complete == 0.1
    assert reason.startswith("evaluating: 1/10 samples")
    g = group_status("g", {("t", 0): w}, {("t", 0): 50}, now_ms=w[-1].ts_ms, has_members=True)
    assert g.status == LagStatus.OK and g.evaluating
    assert g.label == "OK (evaluating, 1/10 samples)"


def test_full_window_taken_within_a_second_is_still_evaluating():
    w = [GroupSample(i * 100, 10, 60, 50, None) for i in range(10)]
    st, _, reason = partition_status(w, current_lag=50, now_ms=1_000, has_members=True)
    assert st == LagStatus.OK and "evaluating" in reason


def test_stall_needs_the_offset_unchanged_for_the_minimum_time():
    # Ten samples a second apart, offset never moves: only 10 s unchanged, minimum 60 s.
    w = [GroupSample(i * 1_000, 10, 60, 50, None) for i in range(10)]
    st, _, _ = partition_status(
        w, current_lag=50, now_ms=10_000, has_members=True, min_span_ms=0, min_unchanged_ms=60_000
    )
    assert st == LagStatus.WARN  # lag never decreases; not STALL after only 10 s
    st, _, reason = partition_status(
        w, current_lag=50, now_ms=10_000, has_members=True, min_span_ms=0, min_unchanged_ms=5_000
    )
    assert st == LagStatus.STALL and "for 10s" in reason


def test_consumer_committing_every_third_cycle_is_never_stop_or_stall():
    """Commits every 3 samples: at every position of the sliding window the status is OK/WARN."""
    committed = [10 * (i // 3) for i in range(40)]
    lag = [30 - (i % 3) * 0 + (i // 3) % 2 for i in range(40)]
    history = window(committed, lag)
    for end in range(10, 41):
        w = history[end - 10 : end]
        st, _, reason = partition_status(
            w,
            current_lag=w[-1].lag or 0,
            now_ms=w[-1].ts_ms + S,
            has_members=True,
            min_span_ms=60_000,
            min_unchanged_ms=60_000,
        )
        assert st in (LagStatus.OK, LagStatus.WARN), (end, st, reason)


def test_stopped_consumer_is_stop_once_window_is_complete_and_long():
    w = window([10] * 10, [5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
    st, _, reason = partition_status(w, current_lag=14, now_ms=w[-1].ts_ms + S, has_members=False)
    assert st == LagStatus.STOP and "for 100s" in reason
