"""The alert state machine with an injected clock: pending/for, flapping, resolve, dedup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.incidents.alerts import (
    AlertPolicy,
    AlertStatus,
    PerSeverity,
    dedup_key,
    ensure_utc,
    firing,
    step,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = AlertPolicy(for_s=PerSeverity(p0=0, p1=10, p2=300), keep_firing_for_s=60)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def finding(
    rule: str = "under_replicated_partitions",
    severity: Severity = Severity.P1,
    subject: str = "cluster",
    status: CheckStatus = CheckStatus.TRIGGERED,
) -> Finding:
    return Finding(rule, severity, status, rule.replace("_", " "), 1.0, 0.0, "count", subject)


def run(cycles, policy=POLICY, cluster="prod"):
    """Run ``[(seconds, findings), ...]``; return final states and ``[(seconds, kind, key)]``."""
    states: dict = {}
    seen = []
    for seconds, findings in cycles:
        states, events = step(states, findings, at(seconds), cluster=cluster, policy=policy)
        seen.extend((seconds, e.kind, e.key) for e in events)
    return states, seen


URP = "prod/under_replicated_partitions/cluster"


def test_dedup_key_is_cluster_rule_subject():
    assert dedup_key("prod", finding("consumer_lag", subject="billing")) == (
        "prod/consumer_lag/billing"
    )


def test_p1_pending_until_for_elapsed_then_fires_once():
    states, events = run(
        [(0, [finding()]), (9.999, [finding()]), (10, [finding()]), (20, [finding()])]
    )
    assert events == [(10, "firing", URP)]
    s = states[URP]
    assert (s.status, s.active_since, s.fired_at, s.last_seen) == (
        AlertStatus.FIRING,
        at(0),
        at(10),
        at(20),
    )


def test_pending_state_is_visible_before_firing():
    states, events = run([(0, [finding()])])
    assert events == []
    assert states[URP].status == AlertStatus.PENDING


def test_p0_fires_on_first_sight():
    f = finding("offline_partitions", Severity.P0)
    _, events = run([(0, [f])])
    assert events == [(0, "firing", "prod/offline_partitions/cluster")]


def test_pending_that_disappears_goes_back_to_inactive_without_event():
    states, events = run([(0, [finding()]), (5, []), (10, [finding()]), (19, [finding()])])
    assert events == []
    assert states[URP].status == AlertStatus.PENDING
    assert states[URP].active_since == at(10)


def test_flapping_suppressed_by_keep_firing_for():
    cycles = [
        (0, [finding()]),
        (10, [finding()]),  # fires
        (20, []),
        (30, [finding()]),  # back within keep_firing_for: nothing
        (40, []),
        (50, []),
        (89.9, []),  # last seen at 30: 59.9 s < 60 s
        (90, [finding()]),
    ]
    states, events = run(cycles)
    assert events == [(10, "firing", URP)]
    assert states[URP].status == AlertStatus.FIRING
    assert states[URP].fired_at == at(10)


def test_resolves_after_keep_firing_for_from_last_seen():
    states, events = run([(0, [finding()]), (10, [finding()]), (20, []), (69.9, []), (70, [])])
    assert events == [(10, "firing", URP), (70, "resolved", URP)]
    assert states[URP].status == AlertStatus.RESOLVED
    assert states[URP].resolved_at == at(70)


def test_resolved_state_is_dropped_next_cycle_and_a_return_is_a_new_episode():
    base = [(0, [finding()]), (10, [finding()]), (70, [])]
    states, _ = run([*base, (80, [])])
    assert states == {}
    states, events = run([*base, (80, [finding()]), (90, [finding()])])
    assert events == [(10, "firing", URP), (70, "resolved", URP), (90, "firing", URP)]
    assert states[URP].active_since == at(80)
    assert states[URP].fired_at == at(90)


def test_severity_change_while_firing_is_an_event():
    lag = "prod/consumer_lag/billing"
    p2 = finding("consumer_lag", Severity.P2, "billing")
    p1 = finding("consumer_lag", Severity.P1, "billing")
    states, events = run([(0, [p2]), (300, [p2]), (310, [p1]), (320, [p1])])
    assert events == [(300, "firing", lag), (310, "severity_changed", lag)]
    assert states[lag].severity == Severity.P1


def test_severity_change_event_carries_previous_severity():
    p2 = finding("consumer_lag", Severity.P2, "billing")
    p1 = finding("consumer_lag", Severity.P1, "billing")
    policy = AlertPolicy(for_s=PerSeverity(p0=0, p1=0, p2=0))
    states, _ = step({}, [p2], at(0), cluster="prod", policy=policy)
    _, events = step(states, [p1], at(10), cluster="prod", policy=policy)
    assert [(e.kind, e.previous, e.severity) for e in events] == [
        ("severity_changed", Severity.P2, Severity.P1)
    ]


def test_pending_p2_that_worsens_to_p1_uses_p1_for_from_first_sight():
    p2 = finding("consumer_lag", Severity.P2, "billing")
    p1 = finding("consumer_lag", Severity.P1, "billing")
    _, events = run([(0, [p2]), (20, [p1])])
    assert events == [(20, "firing", "prod/consumer_lag/billing")]


def test_only_triggered_findings_count():
    ok = finding(status=CheckStatus.OK)
    unmeasured = finding("broker_cpu", status=CheckStatus.NOT_MEASURED)
    states, events = run([(0, [ok, unmeasured]), (20, [ok, unmeasured])])
    assert (states, events) == ({}, [])


def test_same_key_twice_in_one_cycle_is_one_alert_with_worst_severity():
    p2 = finding("consumer_lag", Severity.P2, "billing")
    p0 = finding("consumer_lag", Severity.P0, "billing")
    states, events = run([(0, [p2, p0, p2])])
    assert events == [(0, "firing", "prod/consumer_lag/billing")]
    assert list(states) == ["prod/consumer_lag/billing"]
    assert states["prod/consumer_lag/billing"].severity == Severity.P0


def test_other_clusters_pass_through_untouched():
    states, _ = step({}, [finding("offline_partitions", Severity.P0)], at(0), cluster="a")
    states2, events = step(states, [], at(500), cluster="b")
    assert events == []
    assert states2 == states


def test_events_are_ordered_by_key_and_deterministic():
    fs = [finding("offline_partitions", Severity.P0), finding("active_controller", Severity.P0)]
    _, events = step({}, fs, at(0), cluster="prod")
    assert [e.key for e in events] == [
        "prod/active_controller/cluster",
        "prod/offline_partitions/cluster",
    ]


def test_firing_lists_only_firing_states():
    states, _ = run([(0, [finding(), finding("offline_partitions", Severity.P0)])])
    assert [s.key for s in firing(states)] == ["prod/offline_partitions/cluster"]


def test_default_policy_values():
    p = AlertPolicy()
    assert (p.for_s.p0, p.for_s.p1, p.for_s.p2, p.keep_firing_for_s) == (0, 10, 300, 60)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        step({}, [], datetime(2026, 1, 1), cluster="prod")
    with pytest.raises(ValueError, match="naive"):
        ensure_utc(datetime(2026, 1, 1))
