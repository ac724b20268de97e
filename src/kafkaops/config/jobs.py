"""The ``jobs:`` section: when the runbook's scheduled jobs run (cron syntax, UTC).

Why cron: operators already read it, and it says "every first Sunday" or "weekdays at 09:00"
without inventing a syntax.  Expressions are checked at load time with cronsim (the parser
Healthchecks.io uses), so a typo fails ``config-check``, not the first Monday.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from cronsim import CronSim, CronSimError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from kafkaops.core.units import DurationMs

#: The runbook's schedule ("Daily Checks (09:00)", "Weekly Review (Monday 10:00)", the daily
#: capacity and backup checks, the weekly config audit + security scan after the review, the
#: monthly report on the first Monday).  ``daily_check``,
#: ``weekly_review`` and ``monthly_report`` follow the ``service:`` settings unless set here.
#: ``MON#1`` is "the first Monday" — not ``1-7 * MON``, which cron reads as "day 1-7 OR Monday".
DEFAULT_SCHEDULES: dict[str, str] = {
    "daily_check": "0 9 * * *",
    "capacity_check": "5 9 * * *",
    "dr_backup_check": "10 9 * * *",
    "weekly_review": "0 10 * * MON",
    "config_audit": "30 10 * * MON",
    "monthly_report": "0 11 * * MON#1",
    # Before the report on the same first Monday; read-only.
    "compliance_check": "0 9 * * MON#1",
    # Load on the cluster: the first Sunday at 02:30, inside the runbook's monthly maintenance
    # window; only clusters in slo.perf_test.allow.
    "monthly_benchmark": "30 2 * * SUN#1",
}


_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def check_cron(expr: str | None) -> str | None:
    """A five-field cron expression (UTC), or None for "off"."""
    if expr is None:
        return None
    try:
        CronSim(expr, _EPOCH)
    except (CronSimError, ValueError) as exc:
        raise ValueError(f"{expr!r} is not a cron expression ({exc}); e.g. '0 9 * * *'") from None
    return expr


Cron = Annotated[str | None, AfterValidator(check_cron)]


class JobsSettings(BaseModel):
    """``jobs: {schedules: {weekly_review: "0 10 * * MON"}, catch_up: 24h}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Per job, a cron expression in UTC; ``null`` turns the job off.  Unnamed jobs keep the
    #: runbook's default (:data:`DEFAULT_SCHEDULES`).
    schedules: dict[str, Cron] = Field(default_factory=dict)
    #: A run missed while no instance was up is run once on start if it is at most this late
    #: (the 09:00 check at 09:40 still helps; last Monday's review on Thursday does not).
    catch_up: DurationMs = 6 * 3600 * 1000
    #: Also write the weekly review's HTML here (one file per cluster and week); default: not
    #: written (the report store keeps it: /api/reports, the dashboard; channels.reports).
    reports_dir: str | None = None
