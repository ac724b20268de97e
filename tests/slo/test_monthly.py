"""The monthly report's SLO part and the first-Monday schedule (injected clock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kafkaops.config.service import ServiceSettings
from kafkaops.core.model import Severity
from kafkaops.incidents.incident import IncidentStatus
from kafkaops.service.jobs import build_jobs
from kafkaops.slo.monthly import incident_stats, monthly_summary, previous_month
from kafkaops.slo.settings import SloSettings
from kafkaops.slo.store import SloStore, Verdict


@dataclass
class FakeIncident:
    """The fields the summary reads (the real Incident is exercised in the watch test)."""

    id: str
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    severity: Severity = Severity.P1
    status: IncidentStatus = IncidentStatus.RESOLVED


def test_first_monday_schedule_and_previous_month() -> None:
    now = datetime(2027, 1, 2, 9, 0, tzinfo=UTC)
    [job] = [j for j in build_jobs(ServiceSettings(), now) if j.name == "monthly_report"]
    assert job.next_after(now) == datetime(2027, 1, 4, 11, 0, tzinfo=UTC)
    assert job.next_after(datetime(2027, 1, 4, 11, 0, tzinfo=UTC)) == datetime(
        2027, 2, 1, 11, 0, tzinfo=UTC
    )
    assert previous_month(datetime(2027, 1, 4, 11, 0, tzinfo=UTC)) == "2026-12"


def test_monthly_summary_with_mtta_mttr(store_url: str) -> None:
    t = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    ms = int(t.timestamp() * 1000)
    store = SloStore(store_url)
    try:
        for i in range(60):  # 10 minutes, 2 of them bad
            store.record("prod", Verdict(ms + i * 10_000, 10_000, not 30 <= i < 42, None, "x"))
        incidents = [
            FakeIncident(
                "a", t + timedelta(minutes=5), t + timedelta(minutes=9), t + timedelta(minutes=25)
            ),
            FakeIncident("b", t + timedelta(days=1), None, None),
            FakeIncident("c", t - timedelta(days=30), None, None),  # October: not counted
        ]
        now = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
        doc = monthly_summary(store, "prod", SloSettings(), "2026-11", now, incidents)
    finally:
        store.close()
    avail = doc["slo"]["slis"]["availability"]
    assert avail["bad_minutes"] == 2.0 and avail["budget_left_minutes"] == 41.2
    assert doc["slo"]["incidents"][0]["id"] == "a"
    stats = doc["incidents"]
    assert stats == {
        "incidents": 2,
        "by_severity": {"P1": 2},
        "mtta_minutes": 4.0,
        "mttr_minutes": 20.0,
        "never_acknowledged": 1,
        "still_open": 1,
    }
    assert incident_stats([], t, now)["mtta_minutes"] is None


def test_the_service_job_records_last_months_report(tmp_path) -> None:
    from kafkaops.service.jobs import monthly_report
    from tests.service.test_inprocess import make_state

    state = make_state(tmp_path, token=None)
    at = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    store = SloStore(state.store_url)
    try:
        ms = int(datetime(2026, 11, 3, tzinfo=UTC).timestamp() * 1000)
        for i in range(6):
            store.record("big", Verdict(ms + i * 10_000, 10_000, i != 2, None, "x"))
    finally:
        store.close()
    monthly_report(state, at)
    assert state.scheduler is not None
    [run] = state.scheduler.store.recent("monthly_report")
    assert run["cluster"] == "big" and run["result"]["slo"]["month"] == "2026-11"
    assert run["result"]["slo"]["slis"]["availability"]["bad_minutes"] == 0.17
    assert run["ok"] is False  # 10 s bad of 65 s observed: 84.6 % < 99.9 %
