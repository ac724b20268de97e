"""The job mechanism on a real store (SQLite and PostgreSQL): cron schedules, one run per
occurrence across instances, status/duration/output recorded, catch-up once, failures kept."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from kafkaops.config import Config
from kafkaops.jobs.runner import Job, Runner, build_jobs
from kafkaops.jobs.schedule import Schedule
from kafkaops.jobs.store import JobsStore

T = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # a Monday, 10:00


class _Ctx:
    def __init__(self) -> None:
        self.config = Config()
        self.store_url = None

    def cluster_names(self) -> list[str]:
        return ["prod"]

    def report(self, cluster: str) -> tuple[Any, str | None]:
        return None, "no report in this test"

    def snapshot(self, cluster: str) -> Any:
        return None

    def incidents(self) -> Any:
        return None

    def target(self, cluster: str) -> Any:
        raise AssertionError("no cluster in this test")


def test_cron_schedules_and_config_errors() -> None:
    jobs = {j.name: j for j in build_jobs(Config())}
    assert set(jobs) == {
        "daily_check",
        "capacity_check",
        "weekly_review",
        "config_audit",
        "monthly_report",
        "compliance_check",
    }  # no dr, no perf_test.allow: no such jobs
    assert jobs["config_audit"].next_after(T) == datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
    assert jobs["weekly_review"].next_after(T) == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert jobs["daily_check"].next_after(T) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    cfg = Config.model_validate({"jobs": {"schedules": {"daily_check": "30 6 * * MON-FRI",
                                                        "capacity_check": None}}})  # fmt: skip
    jobs = {j.name: j for j in build_jobs(cfg)}
    assert "capacity_check" not in jobs
    assert jobs["daily_check"].next_after(T) == datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    with pytest.raises(ValidationError, match="not a cron expression"):
        Config.model_validate({"jobs": {"schedules": {"daily_check": "every morning"}}})


def test_one_run_per_occurrence_with_status_duration_and_output(store_url: str) -> None:
    calls: list[datetime] = []

    def job(ctx: Any, store: JobsStore, at: datetime) -> dict[str, Any]:
        calls.append(at)
        return {"checked": 3}

    j = Job("daily_check", Schedule("0 9 * * *"), job)
    a, b = JobsStore(store_url), JobsStore(store_url)  # two instances on one database
    try:
        at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
        first = Runner(_Ctx(), a, [j], owner="a").run(j, at)
        second = Runner(_Ctx(), b, [j], owner="b").run(j, at)
        assert first is not None and first["ok"] and first["checked"] == 3
        assert second is None and calls == [at]  # the second instance saw the claim
        (run,) = [r for r in a.recent("daily_check") if r["cluster"] == "*"]
        assert run["ok"] and run["result"]["status"] == "ok"
        assert run["result"]["checked"] == 3 and run["result"]["duration_s"] >= 0
    finally:
        a.close()
        b.close()


def test_a_failing_job_is_recorded_failed_and_others_go_on(store_url: str) -> None:
    def broken(ctx: Any, store: JobsStore, at: datetime) -> dict[str, Any]:
        raise RuntimeError("cluster exploded")

    store = JobsStore(store_url)
    try:
        j = Job("capacity_check", Schedule("5 9 * * *"), broken)
        out = Runner(_Ctx(), store, [j]).run(j, datetime(2026, 11, 30, 9, 5, tzinfo=UTC))
        assert out is not None and not out["ok"] and "cluster exploded" in out["error"]
        (run,) = store.recent("capacity_check")
        assert run["result"]["status"] == "failed" and not run["ok"]
    finally:
        store.close()


def test_a_missed_run_is_caught_up_once(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service was down at 09:00; started at 09:40 it runs the 09:00 check once, and a
    second start does not run it again.  Last week's review (> catch_up ago) is not replayed."""
    import kafkaops.jobs.runner as runner_mod

    now = datetime(2026, 12, 1, 9, 40, tzinfo=UTC)
    monkeypatch.setattr(runner_mod, "utc_now", lambda: now)
    calls: list[tuple[str, datetime]] = []

    def job(name: str) -> Any:
        def run(ctx: Any, store: JobsStore, at: datetime) -> dict[str, Any]:
            calls.append((name, at))
            return {}

        return run

    jobs = [Job("daily_check", Schedule("0 9 * * *"), job("daily_check")),
            Job("weekly_review", Schedule("0 10 * * MON"), job("weekly_review"))]  # fmt: skip
    store = JobsStore(store_url)
    try:
        for _ in range(2):  # two starts
            stop = threading.Event()
            stop.set()  # catch up, then return at once
            r = Runner(_Ctx(), store, jobs, catch_up=timedelta(hours=6))
            for j, at in r.missed(now):
                r.run(j, at)
        assert calls == [("daily_check", datetime(2026, 12, 1, 9, 0, tzinfo=UTC))]
    finally:
        store.close()
