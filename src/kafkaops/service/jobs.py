"""The service's side of the scheduled jobs: the watch loop's latest state as the jobs' context.

The jobs themselves (what runs when, claiming, catch-up, records) are :mod:`kafkaops.jobs`;
``kafkaops jobs run`` uses the same ones with freshly collected reports.  Here the context reads
the loop's latest report of each cluster (collected at most one interval ago), so the 09:00
check costs no extra collection.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from kafkaops.config.service import ServiceSettings
from kafkaops.core.clock import utc_now
from kafkaops.jobs import catalog
from kafkaops.jobs.runner import Job, Runner
from kafkaops.jobs.runner import build_jobs as build_config_jobs
from kafkaops.jobs.store import JobsStore

if TYPE_CHECKING:
    from kafkaops.config import Config
    from kafkaops.core.model import ClusterSnapshot, HealthReport
    from kafkaops.incidents.store import IncidentStore
    from kafkaops.pipeline.health import Target
    from kafkaops.service.state import ServiceState


class ServiceContext:
    """:class:`kafkaops.jobs.catalog.JobContext` over the running service."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.config: Config = state.config
        self.store_url: str | None = state.store_url

    def cluster_names(self) -> list[str]:
        return list(self.state.cluster_names())

    def report(self, cluster: str) -> tuple[HealthReport | None, str | None]:
        st = self.state.cluster(cluster)
        if st.last_report is None:
            return None, st.last_error or "no report yet (first collection pending)"
        return st.last_report, None

    def snapshot(self, cluster: str) -> ClusterSnapshot | None:
        return self.state.cluster(cluster).last_snapshot

    def incidents(self) -> IncidentStore | None:
        return self.state.runtime.incidents

    def target(self, cluster: str) -> Target:
        return self.state.cluster(cluster).target


def build_jobs(
    settings: ServiceSettings, now: datetime | None = None, config: Config | None = None
) -> list[Job]:
    """The jobs of ``config`` (default: the runbook's, with these service settings)."""
    if config is None:
        from kafkaops.config import default_config

        config = default_config().model_copy(update={"service": settings})
    elif config.service is not settings:
        config = config.model_copy(update={"service": settings})
    return build_config_jobs(config)


def daily_check(state: ServiceState, scheduled_for: datetime) -> None:
    """The daily check against the loop's latest reports (recorded once per time)."""
    catalog.daily_check(ServiceContext(state), _store(state), scheduled_for)


def monthly_report(state: ServiceState, scheduled_for: datetime) -> None:
    """The monthly report (SLO, budget, incidents) against the service's store."""
    catalog.monthly_report(ServiceContext(state), _store(state), scheduled_for)


def _store(state: ServiceState) -> JobsStore:
    if state.scheduler is None:
        raise RuntimeError("no scheduler")
    return state.scheduler.store  # type: ignore[no-any-return]


class Scheduler:
    """Runs the jobs at their times in a thread until ``stop`` is set."""

    def __init__(self, state: ServiceState, store: JobsStore, jobs: list[Job]) -> None:
        self.state = state
        self.store = store
        self.jobs = jobs
        catch_up = timedelta(milliseconds=state.config.jobs.catch_up)
        self.runner = Runner(ServiceContext(state), store, jobs, catch_up=catch_up)

    def next_runs(self, now: datetime | None = None) -> dict[str, str | None]:
        return self.runner.next_runs(now or utc_now())

    def run_job(self, job: Job, scheduled_for: datetime) -> bool:
        outcome: dict[str, Any] | None = self.runner.run(job, scheduled_for)
        return bool(outcome and outcome.get("ok"))

    def run(self, stop: threading.Event) -> None:
        self.runner.loop(stop)
