"""Estimated time lag, for when reading the record itself is not affordable.

Two estimates, each labelled wherever it is shown (the *exact* method — timestamp of the first
unconsumed record — lives in the collector):

* ``interpolated``: kafka-lag-exporter's method.  From the recorded (time, log-end offset)
  history, find when the log end was at the group's committed offset; time lag = now − that
  time.  Cheap, but wrong where the history is coarse: inside a burst it over-estimates (the
  burst's records all look as old as the sample before them), after an idle spell it
  over-estimates too, and before the first sample it can only give a lower bound.
* ``drain``: what MSK calls EstimatedTimeLag — lag ÷ the group's consume rate over the window.
  It answers "how long to catch up", not "how old is the oldest unread record"; it is infinite
  for a group that is not consuming.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    time_lag_ms: int | None
    method: str
    #: True when the history does not reach back far enough: the true lag is at least this.
    lower_bound: bool = False


def interpolated_time_lag(
    history: Sequence[tuple[int, int]], committed: int, now_ms: int
) -> Estimate:
    """Time lag from (ts_ms, log_end) samples, oldest first."""
    if not history:
        return Estimate(None, "interpolated")
    ends = [end for _, end in history]
    if committed >= ends[-1]:
        return Estimate(0, "interpolated")
    if committed < ends[0]:
        return Estimate(max(0, now_ms - history[0][0]), "interpolated", lower_bound=True)
    # First sample whose log end is above the committed offset: the record at ``committed``
    # was written between that sample and the one before it.
    i = bisect.bisect_right(ends, committed)
    (t0, e0), (t1, e1) = history[i - 1], history[i]
    frac = (committed - e0) / (e1 - e0) if e1 > e0 else 0.0
    written_at = t0 + frac * (t1 - t0)
    return Estimate(max(0, round(now_ms - written_at)), "interpolated")


def drain_time_lag(committed_history: Sequence[tuple[int, int]], lag: int) -> Estimate:
    """MSK-style EstimatedTimeLag: lag ÷ consume rate over the (ts_ms, committed) window."""
    if lag <= 0:
        return Estimate(0, "drain")
    if len(committed_history) < 2:
        return Estimate(None, "drain")
    (t0, c0), (t1, c1) = committed_history[0], committed_history[-1]
    if t1 <= t0 or c1 <= c0:
        return Estimate(None, "drain")  # not consuming: it never drains
    rate_per_ms = (c1 - c0) / (t1 - t0)
    return Estimate(round(lag / rate_per_ms), "drain")
