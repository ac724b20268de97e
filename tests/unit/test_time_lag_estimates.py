"""Interpolated and drain-time estimates on synthetic histories."""

from __future__ import annotations

from kafkaops.lag.time_lag import drain_time_lag, interpolated_time_lag

HISTORY = [(0, 0), (10_000, 100), (20_000, 200), (30_000, 200), (40_000, 300)]


def test_interpolation_inside_a_sample_interval():
    est = interpolated_time_lag(HISTORY, 150, now_ms=40_000)
    assert est.time_lag_ms == 25_000 and est.method == "interpolated" and not est.lower_bound


def test_caught_up_is_zero_and_before_history_is_a_lower_bound():
    assert interpolated_time_lag(HISTORY, 300, 40_000).time_lag_ms == 0
    assert interpolated_time_lag(HISTORY, 400, 40_000).time_lag_ms == 0
    early = interpolated_time_lag(HISTORY[1:], 50, 40_000)
    assert early.lower_bound and early.time_lag_ms == 30_000
    assert interpolated_time_lag([], 5, 1).time_lag_ms is None


def test_after_an_idle_spell_the_record_is_placed_after_the_idle_samples():
    # Log end stayed 200 from 20 s to 30 s: record 200 was written between 30 s and 40 s.
    assert interpolated_time_lag(HISTORY, 200, 40_000).time_lag_ms == 10_000


def test_drain_time():
    assert drain_time_lag([(0, 0), (10_000, 100)], lag=500).time_lag_ms == 50_000
    assert drain_time_lag([(0, 0), (10_000, 0)], lag=500).time_lag_ms is None
    assert drain_time_lag([(0, 0)], lag=5).time_lag_ms is None
    assert drain_time_lag([], lag=0).time_lag_ms == 0
