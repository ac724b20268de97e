"""The runbook's scheduled checks: "Daily Checks" (09:00) and "Weekly Review" (Monday 10:00).

Why in the service and not cron: the service already holds every cluster's current report and
the store; a cron job would collect again and need its own credentials.  Next run times come
from :mod:`dateutil.rrule` (UTC, as the maintenance windows), so "Monday 10:00" is a rule, not
arithmetic on seconds.  A run missed while the service was down is not caught up: the daily
check describes the cluster *now*, and the next one is at most a day away.

* daily check — each cluster's current health report (the loop's latest: collected at most one
  interval ago), recorded with ``overall_healthy``, severity, summary and findings;
* weekly review — per cluster over the last 7 days: incidents by severity, each group's worst
  offset and time lag (from the history store), and current disk use per broker.  The runbook's
  CloudWatch trends and cost analysis need AWS and are the MSK sources' job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule, weekday

from kafkaops.config.service import ServiceSettings, parse_time, parse_weekly
from kafkaops.core.clock import utc_now
from kafkaops.report.health_view import health_to_dict
from kafkaops.service.jobs_store import JobsStore

if TYPE_CHECKING:
    from kafkaops.service.state import ServiceState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    rule: rrule
    run: Callable[[ServiceState, datetime], None]

    def next_after(self, now: datetime) -> datetime | None:
        found = self.rule.after(now, inc=False)
        return found if isinstance(found, datetime) else None


def _rule(
    freq: int, now: datetime, hour: int, minute: int, day: int | None = None, nth: int | None = None
) -> rrule:
    """``nth``: the nth such weekday of the month (MONTHLY: 1 = the first Monday)."""
    start = now.replace(second=0, microsecond=0) - timedelta(days=8 if nth is None else 40)
    return rrule(
        freq,
        dtstart=start,
        byhour=hour,
        byminute=minute,
        bysecond=0,
        byweekday=weekday(day, nth) if day is not None else None,
    )


def build_jobs(settings: ServiceSettings, now: datetime) -> list[Job]:
    jobs = []
    if settings.daily_check:
        hour, minute = parse_time(settings.daily_check)
        jobs.append(Job("daily_check", _rule(DAILY, now, hour, minute), daily_check))
    if settings.weekly_review:
        day, hour, minute = parse_weekly(settings.weekly_review)
        jobs.append(Job("weekly_review", _rule(WEEKLY, now, hour, minute, day), weekly_review))
    if settings.monthly_report:
        day, hour, minute = parse_weekly(settings.monthly_report)
        rule = _rule(MONTHLY, now, hour, minute, day, nth=1)
        jobs.append(Job("monthly_report", rule, monthly_report))
    return jobs


# -------------------------------------------------------------------------------- the jobs
def daily_check(state: ServiceState, scheduled_for: datetime) -> None:
    """Record every cluster's current health report (without the full check list)."""
    store = _store(state)
    for name in state.cluster_names():
        report = state.cluster(name).last_report
        if report is None:
            err = state.cluster(name).last_error or "no report yet (first collection pending)"
            store.record("daily_check", name, scheduled_for, ok=False, severity=None,
                         result={"error": err})  # fmt: skip
            continue
        doc = health_to_dict(report)
        doc.pop("checks", None)  # every rule × subject: large and in the findings already
        store.record(
            "daily_check",
            name,
            scheduled_for,
            ok=report.overall_healthy,
            severity=report.severity.value,
            result=doc,
        )


def _group_extremes(state: ServiceState, cluster: str, since_ms: int) -> list[dict[str, Any]]:
    """Each group's worst partition offset lag and time lag since ``since_ms``, worst first."""
    return state.history().group_extremes(cluster, since_ms)


def weekly_review(state: ServiceState, scheduled_for: datetime) -> None:
    """Per cluster: last week's incidents, worst lag per group, disk use per broker."""
    from kafkaops.service.views import brokers_view

    store = _store(state)
    since = scheduled_for - timedelta(days=7)
    for name in state.cluster_names():
        incidents = [
            i
            for i in state.runtime.incidents.list_incidents(None, name, 1000)
            if i.opened_at >= since
        ]
        by_severity: dict[str, int] = {}
        for i in incidents:
            by_severity[i.severity.value] = by_severity.get(i.severity.value, 0) + 1
        snap = state.cluster(name).last_snapshot
        disks = (
            [
                {"broker": b["node_id"], "used_bytes": b["used_bytes"],
                 "disk_percent": b["disk_percent"]}
                for b in brokers_view(snap)["brokers"]
            ]
            if snap else []
        )  # fmt: skip
        result = {
            "since": f"{since:%Y-%m-%dT%H:%M:%SZ}",
            "incidents": len(incidents),
            "incidents_by_severity": by_severity,
            "groups": _group_extremes(state, name, int(since.timestamp() * 1000))[:50],
            "disk": disks,
        }
        store.record("weekly_review", name, scheduled_for, ok=True, severity=None, result=result)


def monthly_report(state: ServiceState, scheduled_for: datetime) -> None:
    """Per cluster, the month that just ended: SLO and budget, incidents with MTTA/MTTR."""
    from kafkaops.slo.monthly import monthly_summary, previous_month
    from kafkaops.slo.store import SloStore

    store = _store(state)
    month = previous_month(scheduled_for)
    slo_store = SloStore(state.store_url)
    try:
        for name in state.cluster_names():
            incidents = state.runtime.incidents.list_incidents(None, name, 5000)
            result = monthly_summary(slo_store, name, state.config.slo, month, scheduled_for,
                                     incidents)  # fmt: skip
            avail = result["slo"]["slis"]["availability"]
            store.record("monthly_report", name, scheduled_for, ok=avail["met"] is not False,
                         severity=None, result=result)  # fmt: skip
    finally:
        slo_store.close()


def _store(state: ServiceState) -> JobsStore:
    if state.scheduler is None:
        raise RuntimeError("no scheduler")
    return state.scheduler.store


# ------------------------------------------------------------------------------ scheduler
class Scheduler:
    """Runs the jobs at their next times in a thread until ``stop`` is set."""

    def __init__(self, state: ServiceState, store: JobsStore, jobs: list[Job]) -> None:
        self.state = state
        self.store = store
        self.jobs = jobs

    def next_runs(self, now: datetime | None = None) -> dict[str, str | None]:
        now = now or utc_now()
        out = {}
        for job in self.jobs:
            at = job.next_after(now)
            out[job.name] = f"{at:%Y-%m-%dT%H:%M:%SZ}" if at else None
        return out

    def run_job(self, job: Job, scheduled_for: datetime) -> bool:
        """Run one job; a failure is logged (type only) and the scheduler goes on."""
        try:
            job.run(self.state, scheduled_for)
        except Exception as exc:
            log.error("scheduled job %s failed: %s", job.name, type(exc).__name__)
            log.debug("scheduled job failure", exc_info=True)
            return False
        log.info("scheduled job %s for %s done", job.name, f"{scheduled_for:%Y-%m-%dT%H:%MZ}")
        return True

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            now = utc_now()
            due = [(at, job) for job in self.jobs if (at := job.next_after(now)) is not None]
            if not due:
                return
            at, job = min(due, key=lambda d: d[0])
            # Wake at least once a minute: a suspended laptop or a clock step must not make a
            # job minutes late.
            if stop.wait(min(60.0, max(0.0, (at - utc_now()).total_seconds()))):
                return
            if utc_now() >= at:
                self.run_job(job, at)
