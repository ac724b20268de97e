"""Runs jobs at their times: claims each run, times it, stores status, duration and output.

* Claimed before it starts (a row keyed by job and scheduled time), so with two instances on
  one PostgreSQL store exactly one runs the 09:00 check; the other sees the claim and skips.
* Caught up once: on start, a run missed while nothing was up (at most ``jobs.catch_up`` ago)
  runs at once; older misses are not replayed (yesterday's "daily check" of a cluster *now*
  would be a lie).
* A job that raises is recorded as failed with the error type and message, and the runner goes
  on; a hung job cannot block the others forever because each job runs in the runner's thread
  only after the previous one returned — jobs are short, bounded reads.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kafkaops.core.clock import utc_now
from kafkaops.jobs.catalog import CATALOG, JobContext, JobFn, applies
from kafkaops.jobs.schedule import Schedule, schedules
from kafkaops.jobs.store import JobsStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    schedule: Schedule
    run: JobFn

    def next_after(self, now: datetime) -> datetime:
        return self.schedule.after(now)


def build_jobs(config: Any) -> list[Job]:
    """The jobs this config asks for, with their schedules (jobs turned off are left out)."""
    found = schedules(config.service, config.jobs)
    return [
        Job(name, sched, CATALOG[name])
        for name, sched in found.items()
        if sched is not None and name in CATALOG and applies(name, config)
    ]


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Runner:
    """Runs ``jobs`` against ``ctx``; results in ``store``."""

    def __init__(
        self,
        ctx: JobContext,
        store: JobsStore,
        jobs: Sequence[Job],
        *,
        catch_up: timedelta = timedelta(hours=6),
        owner: str | None = None,
    ) -> None:
        self.ctx, self.store, self.jobs = ctx, store, list(jobs)
        self.catch_up = catch_up
        self.owner = owner or default_owner()

    def job(self, name: str) -> Job:
        for j in self.jobs:
            if j.name == name:
                return j
        raise KeyError(name)

    def next_runs(self, now: datetime | None = None) -> dict[str, str | None]:
        now = now or utc_now()
        return {j.name: f"{j.next_after(now):%Y-%m-%dT%H:%M:%SZ}" for j in self.jobs}

    def run(self, job: Job, scheduled_for: datetime) -> dict[str, Any] | None:
        """Claim and run one occurrence; None when another instance already claimed it."""
        if not self.store.claim(job.name, scheduled_for, self.owner):
            log.info("job %s at %s: claimed by another instance", job.name, scheduled_for)
            return None
        started = time.monotonic()
        try:
            output = job.run(self.ctx, self.store, scheduled_for)
            ok = True
        except Exception as exc:  # recorded as failed; the scheduler goes on
            output, ok = {"error": f"{type(exc).__name__}: {exc}"[:500]}, False
            log.error("job %s failed: %s", job.name, output["error"])
            log.debug("job failure", exc_info=True)
        duration = time.monotonic() - started
        self.store.finish(job.name, scheduled_for, ok=ok, output=output, duration_s=duration)
        when = f"{scheduled_for:%Y-%m-%dT%H:%MZ}"
        log.info("job %s for %s: %s in %.1fs", job.name, when, "ok" if ok else "failed", duration)
        return {"ok": ok, "duration_s": round(duration, 3), **output}

    def missed(self, now: datetime) -> list[tuple[Job, datetime]]:
        """Runs due within the catch-up window that nobody claimed."""
        out = []
        for job in self.jobs:
            last = job.schedule.last_before(now, self.catch_up)
            if last is not None and not self.store.has_run(job.name, last):
                out.append((job, last))
        return out

    def loop(self, stop: threading.Event) -> None:
        """Catch up once, then run each job at its time until ``stop`` is set."""
        for job, at in self.missed(utc_now()):
            if stop.is_set():
                return
            log.info("job %s missed at %s: catching up", job.name, at)
            self.run(job, at)
        while not stop.is_set() and self.jobs:
            now = utc_now()
            at, job = min(((j.next_after(now), j) for j in self.jobs), key=lambda d: d[0])
            # Wake at least once a minute: a suspended host or a clock step must not make a
            # job minutes late.
            while not stop.is_set() and utc_now() < at:
                if stop.wait(min(60.0, max(0.0, (at - utc_now()).total_seconds()))):
                    return
            if not stop.is_set():
                self.run(job, at)
