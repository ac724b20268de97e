"""The policy clock and the guard that keeps the suite independent of the hour of day.

``make test`` runs the paging tests (marker ``pages``) with ``KAFKAOPS_NOW`` set inside every
runbook maintenance window (first Sunday of December, 03:00 UTC); every other test runs on the
real clock.  A test that relied on the runbook's default windows would then see its page muted
and fail, whatever the hour CI starts at.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from kafkaops.core import clock
from kafkaops.incidents.windows import active_windows, default_windows

pytestmark = pytest.mark.pages


def _clock_in_subprocess(value: str) -> subprocess.CompletedProcess[str]:
    code = "from kafkaops.core.clock import utc_now; print(utc_now().isoformat())"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, clock.ENV_VAR: value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_kafkaops_now_starts_the_clock_there_and_it_runs_forward() -> None:
    proc = _clock_in_subprocess("2026-12-06T03:00:00Z")
    assert proc.returncode == 0, proc.stderr
    seen = datetime.fromisoformat(proc.stdout.strip())
    start = datetime(2026, 12, 6, 3, tzinfo=UTC)
    assert start <= seen < start + timedelta(seconds=30)


def test_kafkaops_now_garbage_is_a_one_line_error() -> None:
    proc = _clock_in_subprocess("three o'clock")
    assert proc.returncode != 0
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "KAFKAOPS_NOW" in proc.stderr


def test_parse_instant_forms() -> None:
    assert clock.parse_instant("2026-12-06T03:00:00+01:00") == datetime(2026, 12, 6, 2, tzinfo=UTC)
    assert clock.parse_instant("2026-12-06T03:00:00") == datetime(2026, 12, 6, 3, tzinfo=UTC)
    with pytest.raises(clock.ClockError):
        clock.parse_instant("")


def test_guard_run_really_sits_in_every_default_window() -> None:
    """When the guard run sets KAFKAOPS_NOW, it must be inside the daily, weekly and monthly
    windows - else the guard would pass without guarding anything."""
    if not clock.is_shifted():
        pytest.skip("KAFKAOPS_NOW not set: run the pages tests as make test-clock-guard does")
    names = {occ.name for occ in active_windows(clock.utc_now(), default_windows())}
    assert names >= {"daily", "weekly", "monthly"}, names
