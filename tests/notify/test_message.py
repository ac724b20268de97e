"""Outbound messages: builders from the incident core, JSON round trip."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from kafkaops.core.model import Severity
from kafkaops.incidents.incident import Contact, IncidentAction
from kafkaops.incidents.notices import MaintenanceNotice
from kafkaops.incidents.routing import ChannelRef
from kafkaops.notify.message import (
    OutboundMessage,
    from_incident_action,
    from_notice,
    from_notification,
)
from tests.notify.conftest import T0, notification

pytestmark = pytest.mark.timeout(30)


def test_from_notification_firing_and_resolve() -> None:
    n = notification("slack:#ops-critical")
    msg = from_notification(n)
    assert msg.action == "trigger"
    assert msg.channel == "slack:#ops-critical"
    assert msg.dedup_key == "prod|under_replicated_partitions|orders-3"
    assert msg.idempotency_key == n.idempotency_key
    assert msg.severity == "P1"
    assert msg.summary.startswith("[P1] prod: Under-replicated partitions (orders-3)")
    assert "\n" not in msg.summary
    d = msg.details
    assert d["rule"] == "under_replicated_partitions"
    assert d["value"] == 2 and d["threshold"] == 0 and d["unit"] == "count"
    assert d["evidence"] and d["response"]
    resolved = from_notification(notification("slack:#ops-critical", "resolved"))
    assert resolved.action == "resolve"
    assert resolved.summary.startswith("RESOLVED")
    assert resolved.idempotency_key != msg.idempotency_key
    assert resolved.dedup_key == msg.dedup_key


def test_json_round_trip_and_frozen() -> None:
    msg = from_notification(notification("pagerduty"))
    text = msg.to_json()
    assert json.loads(text)["channel"] == "pagerduty"
    assert OutboundMessage.from_json(text) == msg
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.summary = "x"  # type: ignore[misc]
    assert hash(msg) == hash(OutboundMessage.from_json(text))


def test_unknown_action_or_channel_refused() -> None:
    msg = from_notification(notification("pagerduty"))
    with pytest.raises(ValueError):
        dataclasses.replace(msg, action="explode")
    with pytest.raises(ValueError):
        dataclasses.replace(msg, channel="carrier-pigeon:roof")


def test_from_incident_action_one_per_channel_with_phone_and_sms() -> None:
    action = IncidentAction(
        "page",
        "INC-1",
        T0,
        Severity.P0,
        frozenset({ChannelRef("phone"), ChannelRef("sms"), ChannelRef("pagerduty")}),
        keys=("prod|offline_partitions|cluster", "prod|broker_down|b-2"),
        detail="30m: escalate to P0",
    )
    msgs = from_incident_action(action)
    assert sorted(m.channel for m in msgs) == ["pagerduty", "phone", "sms"]
    assert {m.action for m in msgs} == {"trigger"}
    assert len({m.idempotency_key for m in msgs}) == 3
    pd = next(m for m in msgs if m.kind == "pagerduty")
    assert pd.details["alert_keys"] == list(action.keys)
    assert pd.cluster == "prod"
    assert pd.dedup_key == "incident:INC-1"


def test_notify_action_goes_to_contact_emails() -> None:
    action = IncidentAction(
        "notify",
        "INC-2",
        T0,
        Severity.P0,
        contacts=(
            Contact(name="EM", email="em@example.com"),
            Contact(name="No mail", phone="+1"),
        ),
        keys=("prod|x|y",),
    )
    msgs = from_incident_action(action)
    assert [m.channel for m in msgs] == ["email:em@example.com"]


def test_acknowledge_and_resolve_actions() -> None:
    for kind in ("acknowledge", "resolve"):
        action = IncidentAction(
            kind, "INC-3", T0, Severity.P1, frozenset({ChannelRef("pagerduty")}), keys=("a|b|c",)
        )
        (msg,) = from_incident_action(action)
        assert msg.action == kind


def test_from_notice_carries_runbook_payload() -> None:
    notice = MaintenanceNotice(
        type="scheduled",
        start_time=datetime(2025, 3, 2, 2, 0, tzinfo=UTC),
        duration_s=7200,
        impact="minimal",
    )
    msg = from_notice(notice, ChannelRef("sns", "msk-maintenance"), cluster="prod")
    assert msg.action == "notice"
    assert msg.details["notice"] == notice.payload()
    assert msg.summary == "Scheduled MSK Maintenance - 2025-03-02T02:00:00Z"
    again = from_notice(notice, "sns:msk-maintenance", cluster="prod")
    assert again.idempotency_key == msg.idempotency_key
