"""Fixtures for the notification tests: receivers, a fake clock, messages, an outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.incidents.ledger import Notification
from kafkaops.incidents.routing import ChannelRef
from kafkaops.notify.message import OutboundMessage, from_notification
from kafkaops.notify.outbox import Outbox
from tests.notify.receivers import Recorder

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    """``clock()`` returns the current fake time; ``sleep(s)`` advances it instantly."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    advance = sleep


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    try:
        yield rec
    finally:
        rec.stop()


def finding(rule: str = "under_replicated_partitions", subject: str = "orders-3") -> Finding:
    return Finding(
        rule=rule,
        severity=Severity.P1,
        status=CheckStatus.TRIGGERED,
        title="Under-replicated partitions",
        value=2,
        threshold=0,
        unit="count",
        subject=subject,
        evidence=("orders-3: isr [1] of replicas [1, 2, 3]",),
        response=("Check broker health: kafkaops health", "Restart the lagging broker"),
    )


def notification(
    channel: str,
    kind: str = "firing",
    severity: Severity = Severity.P1,
    subject: str = "orders-3",
    at: datetime = T0,
) -> Notification:
    f = finding(subject=subject)
    return Notification(
        kind,  # type: ignore[arg-type]
        f"prod|{f.rule}|{subject}",
        "prod",
        ChannelRef.parse(channel),
        severity,
        f,
        T0,
        at,
    )


def message(channel: str, kind: str = "firing", subject: str = "orders-3", **kw) -> OutboundMessage:
    return from_notification(notification(channel, kind, subject=subject, **kw))


@pytest.fixture
def sqlite_outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(f"sqlite:///{tmp_path / 'outbox.db'}")
    try:
        yield box
    finally:
        box.close()


@pytest.fixture
def outbox(store_url: str) -> Iterator[Outbox]:
    """The outbox on SQLite and on PostgreSQL (``store_url`` from tests/conftest.py)."""
    box = Outbox(store_url)
    try:
        yield box
    finally:
        box.close()
