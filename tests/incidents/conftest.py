"""Helpers for the persisted incident core: an injected clock, findings, engines on a store.

Every test drives time by passing ``now``: nothing sleeps.  ``store_url`` (tests/conftest.py)
runs each test on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.incidents.engine import IncidentEngine
from kafkaops.incidents.settings import IncidentSettings
from kafkaops.incidents.store import IncidentStore

#: A Tuesday noon: outside every runbook maintenance window.
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
#: The daily window of that day (02:00-04:00 UTC).
DAILY_START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def at(seconds: float = 0, *, minutes: float = 0, base: datetime = T0) -> datetime:
    return base + timedelta(seconds=seconds, minutes=minutes)


def finding(
    rule: str = "under_replicated_partitions",
    severity: Severity = Severity.P1,
    subject: str = "cluster",
    value: float = 3.0,
) -> Finding:
    return Finding(
        rule,
        severity,
        CheckStatus.TRIGGERED,
        f"{rule} triggered",
        value,
        0.0,
        "count",
        subject,
        evidence=("broker 2 down",),
        response=("kafka-topics.sh --describe --under-replicated-partitions",),
    )


@pytest.fixture
def store(store_url: str) -> Iterator[IncidentStore]:
    s = IncidentStore(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def engine(store: IncidentStore) -> IncidentEngine:
    return IncidentEngine(store, IncidentSettings())


def restart(store_url: str, settings: IncidentSettings | None = None) -> IncidentEngine:
    """A fresh engine on a fresh store object: what a process restart sees."""
    return IncidentEngine(IncidentStore(store_url), settings or IncidentSettings())
