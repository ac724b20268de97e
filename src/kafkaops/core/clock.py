"""The one clock for every time-based decision (maintenance windows, escalation, retries).

Why a module and not ``datetime.now``: the runbook's default maintenance windows (daily
02:00–04:00 UTC, Sunday 01:00–05:00, first Sunday 00:00–06:00) mute P1/P2 pages, so anything
that pages behaves differently by the hour of day.  ``KAFKAOPS_NOW`` lets a test run (or an
operator rehearsing a schedule) start the process's clock at a chosen instant; it then runs
forward in real time, so ``for: 10s`` and retry back-offs still elapse normally.

Measurements are *not* taken on this clock: snapshot times, record timestamps and lag stay on
the real wall clock, because they are compared with timestamps Kafka wrote.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta

#: Environment variable: an ISO-8601 instant (``2026-12-06T03:00:00Z``) the clock starts at.
ENV_VAR = "KAFKAOPS_NOW"


class ClockError(ValueError):
    """``KAFKAOPS_NOW`` is not an ISO-8601 instant."""


def parse_instant(text: str) -> datetime:
    """``2026-12-06T03:00:00Z`` (or with an offset) → aware UTC datetime; naive means UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ClockError(
            f"{ENV_VAR}={text!r} is not an ISO-8601 time (e.g. 2026-12-06T03:00:00Z)"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _offset_from_env() -> timedelta:
    """The shift ``KAFKAOPS_NOW`` asks for; a bad value stops the process with one line."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return timedelta(0)
    try:
        return parse_instant(raw) - datetime.now(UTC)
    except ClockError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None


_offset: timedelta = _offset_from_env()


def restart_from_env() -> None:
    """Start this process's clock again from ``KAFKAOPS_NOW`` as it is *now*.

    The shift is read once at import; a process that changes the variable afterwards (the test
    suite's clock guard sets it around each paging test) calls this so its own clock follows,
    as a freshly started subprocess's would."""
    global _offset
    _offset = _offset_from_env()


def utc_now() -> datetime:
    """Now, in UTC, on the policy clock (shifted when ``KAFKAOPS_NOW`` is set)."""
    return datetime.now(UTC) + _offset


def now_ms() -> int:
    """:func:`utc_now` as epoch milliseconds."""
    return int((time.time() + _offset.total_seconds()) * 1000)


def is_shifted() -> bool:
    """True when ``KAFKAOPS_NOW`` moved this process's clock (shown in the watch banner)."""
    return _offset != timedelta(0)
