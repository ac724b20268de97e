"""The estimate's fast copy of a PartitionLag is ``dataclasses.replace`` (issue 17)."""

from __future__ import annotations

from dataclasses import replace

from kafkaops.core.model import PartitionLag
from kafkaops.lag.observe import _with_time_lag


def test_with_time_lag_is_replace() -> None:
    p = PartitionLag("t", 3, 90, 10, 120, 30, committed_below_log_start=True, member_id="m",
                     time_lag_ms=5, time_lag_method="exact")  # fmt: skip
    got = _with_time_lag(p, 1234, "interpolated")
    assert got == replace(p, time_lag_ms=1234, time_lag_method="interpolated")
    assert p.time_lag_ms == 5  # the original is untouched
