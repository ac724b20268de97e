"""The policy clock and the guard that keeps the suite independent of the hour of day.

The clock guard (tests/conftest.py) runs every paging test (marker ``pages``) with
``KAFKAOPS_NOW`` set inside every runbook maintenance window (first Sunday of December, 03:00
UTC) and this process's clock restarted from it; every other test runs on the real clock.  A
test that relied on the runbook's default windows would then see its page muted and fail,
whatever the hour CI starts at.  This module is marked ``pages``: it runs under the guard.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from kafkaops.core import clock
from kafkaops.incidents.windows import active_windows, default_windows
from tests.conftest import CLOCK_GUARD_NOW

pytestmark = pytest.mark.pages


def _clock_in_subprocess(value: str | None = None) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter's ``utc_now()``; ``value`` replaces KAFKAOPS_NOW (None: inherited)."""
    code = "from kafkaops.core.clock import utc_now; print(utc_now().isoformat())"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **({} if value is None else {clock.ENV_VAR: value})},
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
    """The guard must put this test, like every ``pages`` test, inside the daily, weekly and
    monthly windows - else it would pass without guarding anything - in this process and in
    the subprocesses the test starts (they inherit KAFKAOPS_NOW)."""
    assert os.environ.get(clock.ENV_VAR) == CLOCK_GUARD_NOW and clock.is_shifted()
    names = {occ.name for occ in active_windows(clock.utc_now(), default_windows())}
    assert names >= {"daily", "weekly", "monthly"}, names
    proc = _clock_in_subprocess()
    assert proc.returncode == 0, proc.stderr
    child = datetime.fromisoformat(proc.stdout.strip())
    names = {occ.name for occ in active_windows(child, default_windows())}
    assert names >= {"daily", "weekly", "monthly"}, (child, names)


def test_restart_from_env_follows_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.ENV_VAR, "2030-01-01T00:00:00Z")
    clock.restart_from_env()
    try:
        start = datetime(2030, 1, 1, tzinfo=UTC)
        assert start <= clock.utc_now() < start + timedelta(seconds=30)
        assert abs(clock.now_ms() - int(start.timestamp() * 1000)) < 30_000
    finally:
        monkeypatch.undo()
        clock.restart_from_env()
    assert os.environ.get(clock.ENV_VAR) == CLOCK_GUARD_NOW
    assert abs(clock.utc_now() - clock.parse_instant(CLOCK_GUARD_NOW)) < timedelta(seconds=30)
