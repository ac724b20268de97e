"""A stopwatch with named laps: where one cycle's wall time went, phase by phase."""

from __future__ import annotations

import time


class Laps:
    """``lap("collect")`` closes the phase that began at the previous lap (or at ``start``).

    Why wall clock, not CPU: the question an operator asks of a slow cycle is whether it waited
    on the brokers (``collect``) or on itself (``lag``, ``report``, ...), and only wall time
    answers it; the process's CPU is on /metrics already (``process_cpu_seconds_total``).
    """

    __slots__ = ("_last", "_phases")

    def __init__(self, start: float | None = None) -> None:
        self._last = time.monotonic() if start is None else start
        self._phases: list[tuple[str, float]] = []

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        self._phases.append((name, now - self._last))
        self._last = now

    @property
    def phases(self) -> tuple[tuple[str, float], ...]:
        return tuple(self._phases)
