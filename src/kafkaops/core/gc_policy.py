"""When Python's cycle collector runs in the long-running service, and how long it stops it.

Why: at 20,000 partitions the watch loop keeps a few hundred thousand container objects alive
(the last snapshot, the consumer-status windows, the rendered views) on top of the ~half a million
that imports and configuration create.  CPython's automatic full collection walks *all* of them
whenever a quarter more have survived since the last one, which here is every few cycles: a
pause of hundreds of milliseconds with the GIL held, during which the HTTP thread answers
nothing (it was the /metrics p99 in bench/README.md).  The usual remedy for long-lived servers
(CPython's ``gc.freeze`` documentation; Instagram's write-up) is to move what is meant to live
long out of the collector's sight:

- at start-up, after the wiring, everything that exists is frozen (imports, config, clients);
- after each cycle, the collector runs once over what that cycle left (only the objects created
  since the last freeze: tens of milliseconds), then freezes the survivors;
- every ``full_every`` cycles everything is unfrozen and collected once, so a reference cycle
  that died after being frozen is reclaimed within minutes instead of never (bounded, measured
  by the soak's RSS slope).

``GcPauses`` records every collection's duration per generation (``gc.callbacks``), so the
effect is visible on /metrics (``kafkaops_gc_pause_seconds``) and in the benchmark, not assumed.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from dataclasses import dataclass, field

#: ``gc.set_threshold``'s third value while the policy runs (CPython's default is 10).
FULL_THRESHOLD = 100
log = logging.getLogger(__name__)

#: A full (unfrozen) collection every this many cycles: 30 × 10 s = every 5 minutes by default.
FULL_EVERY_CYCLES = 30


@dataclass
class PauseStats:
    """Collections of one generation: how many, their total and longest pause (seconds)."""

    count: int = 0
    total_s: float = 0.0
    max_s: float = 0.0


@dataclass
class GcPauses:
    """Times every collection via ``gc.callbacks``; install once per process."""

    by_generation: dict[int, PauseStats] = field(
        default_factory=lambda: {g: PauseStats() for g in range(3)}
    )
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        # Runs inside the collector, holding the GIL: keep it to a clock read and additions.
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        stats = self.by_generation[info.get("generation", 2)]
        stats.count += 1
        stats.total_s += took
        stats.max_s = max(stats.max_s, took)

    def install(self) -> GcPauses:
        if self not in gc.callbacks:
            gc.callbacks.append(self)
        return self

    def uninstall(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)

    def snapshot(self) -> dict[int, PauseStats]:
        """A copy, for a renderer on another thread."""
        return {g: PauseStats(s.count, s.total_s, s.max_s) for g, s in self.by_generation.items()}


@dataclass
class CycleCollector:
    """The per-cycle policy above; call :meth:`start` once wired, :meth:`after_cycle` per cycle."""

    full_every: int = FULL_EVERY_CYCLES
    cycles: int = 0

    def start(self) -> None:
        gc.collect()
        gc.freeze()
        # Full collections only every 100 (not 10) young-generation passes: the explicit one
        # after each cycle does that job, and CPython's own trigger (a quarter more survivors
        # than the last full pass counted) fired ~6 times a cycle at 20,000 partitions, each
        # 30-100 ms with the GIL held.  Measured: 0.28 -> 0.19 s of collection per cycle.
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_THRESHOLD)

    def after_cycle(self) -> None:
        self.cycles += 1
        if self.full_every > 0 and self.cycles % self.full_every == 0:
            gc.unfreeze()
        gc.collect()
        gc.freeze()


#: The process's recorder (the exporter reads it); installed by :func:`manage_collector`.
PAUSES = GcPauses()


#: ``off`` keeps CPython's own schedule (for comparisons); a number sets ``full_every``.
ENV = "KAFKAOPS_GC_POLICY"


@dataclass
class DefaultCollector(CycleCollector):
    """CPython's schedule, untouched (``KAFKAOPS_GC_POLICY=off``)."""

    def start(self) -> None:
        return None

    def after_cycle(self) -> None:
        self.cycles += 1


def manage_collector() -> CycleCollector:
    """Install the pause recorder and freeze what exists; returns the per-cycle policy.

    ``$KAFKAOPS_GC_POLICY``: ``off`` for CPython's default schedule, or the number of cycles
    between full collections (default :data:`FULL_EVERY_CYCLES`); anything else gets the default
    and a one-line warning naming the value: a tuning knob must never stop the service.
    """
    PAUSES.install()
    raw = os.environ.get(ENV, "").strip().lower()
    if raw == "off":
        return DefaultCollector()
    full_every = int(raw) if raw.isdigit() else FULL_EVERY_CYCLES
    if raw and not raw.isdigit():
        log.warning("%s=%r is neither 'off' nor a number of cycles: using %d", ENV, raw, full_every)
    collector = CycleCollector(full_every=full_every)
    collector.start()
    return collector
