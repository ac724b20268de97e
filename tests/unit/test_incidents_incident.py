"""Incidents: grouping, lifecycle, audit trail and the runbook's escalation matrix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.incidents.alerts import AlertEvent
from kafkaops.incidents.incident import (
    Contact,
    Contacts,
    EscalationPolicy,
    EscalationStep,
    Incident,
    IncidentStatus,
    IncidentTransitionError,
    acknowledge,
    apply_alert_events,
    escalate,
    new_incident_id,
    open_incident,
    record_paged,
    resolve,
)
from kafkaops.incidents.routing import channels, route

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def event(
    kind="firing",
    rule="under_replicated_partitions",
    severity=Severity.P1,
    cluster="prod",
    subject="cluster",
    when=T0,
    previous=None,
) -> AlertEvent:
    f = Finding(rule, severity, CheckStatus.TRIGGERED, rule, 1.0, 0.0, "count", subject)
    return AlertEvent(kind, f"{cluster}/{rule}/{subject}", cluster, f, when, previous)


def paged_incident(severity=Severity.P2) -> Incident:
    """An incident opened and paged per its severity at T0."""
    inc = open_incident("prod-1", event(rule="consumer_lag", severity=severity), T0)
    return record_paged(inc, route(severity), T0)


def strs(chs) -> list[str]:
    return sorted(str(c) for c in chs)


# --- grouping ---------------------------------------------------------------------------------


def test_first_firing_opens_incident_with_readable_id_and_audit():
    incidents, actions = apply_alert_events({}, [event()], T0)
    assert actions == []
    assert list(incidents) == ["prod-20261201T120000Z"]
    inc = incidents["prod-20261201T120000Z"]
    assert (inc.status, inc.severity, inc.cluster, inc.opened_at) == (
        IncidentStatus.OPEN,
        Severity.P1,
        "prod",
        T0,
    )
    assert [(a.actor, a.action) for a in inc.audit] == [("kafkaops", "opened")]


def test_alerts_of_same_cluster_join_open_incident_other_cluster_gets_its_own():
    incidents, _ = apply_alert_events({}, [event()], T0)
    incidents, _ = apply_alert_events(
        incidents,
        [
            event(rule="offline_partitions", severity=Severity.P0, when=at(1)),
            event(cluster="dr", when=at(1)),
        ],
        at(1),
    )
    assert sorted(incidents) == ["dr-20261201T120100Z", "prod-20261201T120000Z"]
    prod = incidents["prod-20261201T120000Z"]
    assert prod.firing_keys == (
        "prod/under_replicated_partitions/cluster",
        "prod/offline_partitions/cluster",
    )
    assert prod.severity == Severity.P0  # worst member


def test_incident_resolves_when_all_members_resolved_returning_paged_channels():
    incidents, _ = apply_alert_events({}, [event(), event(rule="unreachable_brokers")], T0)
    (iid,) = incidents
    incidents = {iid: record_paged(incidents[iid], route(Severity.P1), T0)}
    incidents, actions = apply_alert_events(incidents, [event("resolved", when=at(5))], at(5))
    assert incidents[iid].status == IncidentStatus.OPEN
    assert actions == []
    incidents, actions = apply_alert_events(
        incidents, [event("resolved", rule="unreachable_brokers", when=at(6))], at(6)
    )
    inc = incidents[iid]
    assert (inc.status, inc.resolved_at, inc.resolved_by) == (
        IncidentStatus.RESOLVED,
        at(6),
        "kafkaops",
    )
    assert [(a.kind, strs(a.channels)) for a in actions] == [
        ("resolve", ["pagerduty", "slack:#ops-critical", "sns:msk-critical-alerts"])
    ]


def test_firing_in_same_cycle_as_last_resolve_joins_instead_of_reopening():
    incidents, _ = apply_alert_events({}, [event()], T0)
    incidents, actions = apply_alert_events(
        incidents,
        # Keys sort "resolved" first, so only the firing-before-resolved rule keeps one incident.
        [event("resolved", when=at(2)), event(rule="unreachable_brokers", when=at(2))],
        at(2),
    )
    assert actions == []
    assert len(incidents) == 1
    (inc,) = incidents.values()
    assert inc.firing_keys == ("prod/unreachable_brokers/cluster",)


def test_after_resolution_a_new_alert_opens_a_new_incident():
    incidents, _ = apply_alert_events({}, [event()], T0)
    incidents, _ = apply_alert_events(incidents, [event("resolved", when=at(1))], at(1))
    incidents, _ = apply_alert_events(incidents, [event(when=at(2))], at(2))
    assert sorted((i.id, i.status) for i in incidents.values()) == [
        ("prod-20261201T120000Z", IncidentStatus.RESOLVED),
        ("prod-20261201T120200Z", IncidentStatus.OPEN),
    ]


def test_severity_change_updates_member_and_incident():
    incidents, _ = apply_alert_events({}, [event(severity=Severity.P2)], T0)
    incidents, _ = apply_alert_events(
        incidents, [event("severity_changed", severity=Severity.P0, previous=Severity.P2)], at(1)
    )
    (inc,) = incidents.values()
    assert inc.severity == Severity.P0
    assert inc.audit[-1].detail == "prod/under_replicated_partitions/cluster: P2 → P0"


def test_incident_id_collision_gets_suffix():
    assert new_incident_id("prod", T0, ["prod-20261201T120000Z"]) == "prod-20261201T120000Z-2"


# --- escalation -------------------------------------------------------------------------------


def run_escalation(inc: Incident, minutes: list[float]):
    """Call escalate at each minute mark; return the incident and ``[(minute, kind, detail)]``."""
    log = []
    for m in minutes:
        inc, actions = escalate(inc, at(m))
        log.extend((m, a.kind, a.detail) for a in actions)
    return inc, log


def test_escalation_boundaries_exactly_15_30_60_120_minutes():
    inc = paged_incident(Severity.P2)
    inc, log = run_escalation(inc, [14.99, 15, 29.99, 30, 59.99, 60, 119.99, 120, 600])
    assert log == [
        (15, "page", "15m: escalate to P1"),
        (30, "page", "30m: escalate to P0"),
        (60, "notify", "1h: management"),
        (120, "notify", "2h: CEO/CTO"),
    ]
    assert inc.severity == Severity.P0
    assert inc.escalations_done == (
        "15m: escalate to P1",
        "30m: escalate to P0",
        "1h: management",
        "2h: CEO/CTO",
    )


def test_escalation_pages_only_channels_not_yet_paged_and_names_contacts():
    inc = paged_incident(Severity.P2)
    inc, a15 = escalate(inc, at(15))
    assert (a15[0].severity, strs(a15[0].channels)) == (
        Severity.P1,
        ["pagerduty", "slack:#ops-critical", "sns:msk-critical-alerts"],
    )
    inc, a30 = escalate(inc, at(30))
    assert (a30[0].severity, strs(a30[0].channels)) == (Severity.P0, ["phone", "sms"])
    inc, a60 = escalate(inc, at(60))
    assert [c.name for c in a60[0].contacts] == ["Engineering Manager", "Architecture Lead"]
    inc, a120 = escalate(inc, at(120))
    assert [c.name for c in a120[0].contacts] == ["VP Engineering", "CTO"]


def test_p1_incident_is_not_raised_at_15_minutes_but_at_30():
    inc, log = run_escalation(paged_incident(Severity.P1), [15, 30])
    assert log == [(30, "page", "30m: escalate to P0")]
    assert inc.audit[-3].detail == "15m: escalate to P1: already P1"


def test_late_check_applies_all_overdue_steps_once_in_order():
    _, log = run_escalation(paged_incident(Severity.P2), [61, 62])
    assert log == [
        (61, "page", "15m: escalate to P1"),
        (61, "page", "30m: escalate to P0"),
        (61, "notify", "1h: management"),
    ]


def test_acknowledge_stops_escalation():
    inc = paged_incident(Severity.P2)
    inc, _ = escalate(inc, at(15))
    inc, actions = acknowledge(inc, at(20), "alice", "looking")
    assert [(a.kind, strs(a.channels)) for a in actions] == [
        (
            "acknowledge",
            [
                "email:ops-team@example.com",
                "pagerduty",
                "slack:#ops-critical",
                "slack:#ops-monitoring",
                "sns:msk-critical-alerts",
                "sns:msk-warning-alerts",
            ],
        )
    ]
    inc, log = run_escalation(inc, [30, 60, 120, 1000])
    assert log == []
    assert (inc.status, inc.severity, inc.acknowledged_by) == (
        IncidentStatus.ACKNOWLEDGED,
        Severity.P1,
        "alice",
    )


def test_unpaged_incident_does_not_escalate_clock_starts_at_first_page():
    inc = open_incident("prod-1", event(severity=Severity.P2), T0)
    inc, log = run_escalation(inc, [15, 30, 60])
    assert log == []
    inc = record_paged(inc, route(Severity.P2), at(60))  # e.g. a maintenance window ended
    inc, log = run_escalation(inc, [74.99, 75])
    assert log == [(75, "page", "15m: escalate to P1")]


def test_resolve_returns_every_paged_channel_and_notified_contact():
    inc = paged_incident(Severity.P2)
    inc, _ = escalate(inc, at(120))
    inc, actions = resolve(inc, at(130), "bob", "broker replaced")
    (action,) = actions
    assert action.kind == "resolve"
    assert strs(action.channels) == [
        "email:ops-team@example.com",
        "pagerduty",
        "phone",
        "slack:#ops-critical",
        "slack:#ops-monitoring",
        "sms",
        "sns:msk-critical-alerts",
        "sns:msk-warning-alerts",
    ]
    assert [c.name for c in action.contacts] == [
        "Engineering Manager",
        "Architecture Lead",
        "VP Engineering",
        "CTO",
    ]
    assert action.keys == ("prod/consumer_lag/cluster",)
    assert (inc.status, inc.resolved_by, inc.resolved_at) == (
        IncidentStatus.RESOLVED,
        "bob",
        at(130),
    )
    assert escalate(inc, at(500)) == (inc, [])


def test_invalid_transitions_raise():
    inc = paged_incident()
    acked, _ = acknowledge(inc, at(1), "alice")
    with pytest.raises(IncidentTransitionError, match="acknowledged"):
        acknowledge(acked, at(2), "bob")
    done, _ = resolve(acked, at(3), "alice")
    with pytest.raises(IncidentTransitionError, match="already resolved by alice"):
        resolve(done, at(4), "bob")
    with pytest.raises(IncidentTransitionError):
        acknowledge(done, at(4), "bob")


def test_audit_trail_records_every_transition_with_actor_and_time():
    incidents, _ = apply_alert_events({}, [event()], T0)
    (inc,) = incidents.values()
    inc = record_paged(inc, channels("pagerduty"), T0)
    inc, _ = escalate(inc, at(30))
    inc, _ = acknowledge(inc, at(31), "alice", "on it")
    inc, _ = resolve(inc, at(40), "alice", "fixed")
    assert [(e.at, e.actor, e.action) for e in inc.audit] == [
        (T0, "kafkaops", "opened"),
        (T0, "kafkaops", "paged"),
        (at(30), "kafkaops", "escalation step"),
        (at(30), "kafkaops", "escalated"),
        (at(30), "kafkaops", "paged"),
        (at(31), "alice", "acknowledged"),
        (at(40), "alice", "resolved"),
    ]


def test_record_paged_is_idempotent():
    inc = paged_incident(Severity.P1)
    assert record_paged(inc, route(Severity.P1), at(5)) is inc


def test_custom_policy_and_contacts():
    policy = EscalationPolicy(
        steps=(EscalationStep(name="5m: boss", after_s=300, notify="secondary"),)
    )
    contacts = Contacts(secondary=(Contact(name="Pat", phone="+10000000000"),))
    _, actions = escalate(paged_incident(), at(5), policy, contacts=contacts)
    assert [(a.kind, [c.name for c in a.contacts]) for a in actions] == [("notify", ["Pat"])]


def test_policy_validation():
    with pytest.raises(ValidationError, match="ordered"):
        EscalationPolicy(
            steps=(
                EscalationStep(name="b", after_s=60, notify="secondary"),
                EscalationStep(name="a", after_s=30, notify="executive"),
            )
        )
    with pytest.raises(ValidationError, match="neither"):
        EscalationStep(name="x", after_s=1)
    with pytest.raises(ValidationError):
        Contact(name="x", pager="1")  # extra=forbid


def test_default_contacts_follow_runbook_structure_without_numbers():
    c = Contacts()
    assert [x.name for x in c.primary] == ["SRE Team Lead", "Platform Engineer"]
    assert [x.name for x in c.secondary] == ["Engineering Manager", "Architecture Lead"]
    assert [x.name for x in c.executive] == ["VP Engineering", "CTO"]
    assert all(x.phone is None for x in (*c.primary, *c.secondary, *c.executive))
