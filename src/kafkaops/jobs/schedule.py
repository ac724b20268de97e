"""When each job runs: cron expressions (UTC) from ``jobs.schedules``, the service's legacy
``daily_check``/``weekly_review`` settings, and the runbook's defaults."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cronsim import CronSim

from kafkaops.config.jobs import DEFAULT_SCHEDULES, JobsSettings
from kafkaops.config.service import DAYS, ServiceSettings, parse_time, parse_weekly


@dataclass(frozen=True)
class Schedule:
    """A cron expression evaluated in UTC."""

    cron: str

    def after(self, now: datetime) -> datetime:
        """The first run strictly after ``now``."""
        start = now.astimezone(UTC).replace(tzinfo=None)
        # cronsim yields times >= start at minute precision; step past "now" itself.
        for at in CronSim(self.cron, start + timedelta(seconds=1)):
            return at.replace(tzinfo=UTC)
        raise ValueError(f"{self.cron!r} never runs")

    def last_before(self, now: datetime, within: timedelta) -> datetime | None:
        """The latest run time in ``(now - within, now]``, for catch-up; None if there is none."""
        found = None
        for at in self._between(now - within, now):
            found = at
        return found

    def _between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        naive = start.astimezone(UTC).replace(tzinfo=None)
        for at in CronSim(self.cron, naive + timedelta(seconds=1)):
            aware = at.replace(tzinfo=UTC)
            if aware > end:
                return
            yield aware


def _from_service(settings: ServiceSettings) -> dict[str, str | None]:
    out: dict[str, str | None] = {
        "daily_check": None,
        "weekly_review": None,
        "monthly_report": None,
    }
    if settings.daily_check:
        hour, minute = parse_time(settings.daily_check)
        out["daily_check"] = f"{minute} {hour} * * *"
    if settings.weekly_review:
        day, hour, minute = parse_weekly(settings.weekly_review)
        out["weekly_review"] = f"{minute} {hour} * * {DAYS[day]}"
    if settings.monthly_report:
        day, hour, minute = parse_weekly(settings.monthly_report)
        out["monthly_report"] = f"{minute} {hour} * * {DAYS[day]}#1"  # the first such weekday
    return out


def schedules(
    service: ServiceSettings, jobs: JobsSettings | None = None
) -> dict[str, Schedule | None]:
    """Every known job's schedule (None: off), defaults < service settings < ``jobs:``."""
    merged: dict[str, str | None] = {**DEFAULT_SCHEDULES, **_from_service(service)}
    if jobs is not None:
        merged.update(jobs.schedules)
    return {name: Schedule(expr) if expr else None for name, expr in merged.items()}
