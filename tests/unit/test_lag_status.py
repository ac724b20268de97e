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
    now = now if now is not None else samples[-1].ts_ms + S
    lag = lag if lag is not None else samples[-1].lag
    return partition_status(samples, current_lag=lag, now_ms=now, has_members=members)[0]


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
    g = group_status("g", windows, lags, now_ms=40_000, has_members=True, window=3)
    assert g.status == LagStatus.STALL
    assert g.burrow_status == LagStatus.ERR
    assert [p.status for p in g.partitions] == [LagStatus.WARN, LagStatus.STALL, LagStatus.OK]
    assert g.complete == 1.0
