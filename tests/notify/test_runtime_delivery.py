"""What one saved change queues: no channel told twice that the same thing resolved."""

from __future__ import annotations

from kafkaops.core.model import Severity
from kafkaops.incidents.engine import Delivery
from kafkaops.incidents.incident import IncidentAction
from kafkaops.incidents.routing import ChannelRef
from kafkaops.pipeline.runtime import delivery_messages
from tests.notify.conftest import T0, notification


def _resolve_action(*channels: str) -> IncidentAction:
    return IncidentAction(
        "resolve", "prod-1", T0, Severity.P1,
        channels=frozenset(ChannelRef.parse(c) for c in channels),
        keys=("prod|under_replicated_partitions|orders-3",), detail="all alerts resolved",
    )  # fmt: skip


def test_incident_resolve_skips_channels_that_get_the_alert_resolve():
    delivery = Delivery(
        notifications=(notification("slack:#ops-critical", "resolved"),),
        actions=(_resolve_action("slack:#ops-critical", "pagerduty"),),
    )
    messages = delivery_messages(delivery)
    by_channel = [(m.channel, m.action, m.dedup_key.startswith("incident:")) for m in messages]
    # Slack hears the alert's resolve only; PagerDuty (no alert resolve here) the incident's.
    assert ("slack:#ops-critical", "resolve", False) in by_channel
    assert not any(ch == "slack:#ops-critical" and inc for ch, _, inc in by_channel)
    assert any(ch == "pagerduty" and action == "resolve" for ch, action, _ in by_channel)


def test_hand_resolve_without_alert_resolves_reaches_every_paged_channel():
    messages = delivery_messages(Delivery(actions=(_resolve_action("slack:#ops-critical"),)))
    assert [(m.channel, m.action) for m in messages] == [("slack:#ops-critical", "resolve")]
