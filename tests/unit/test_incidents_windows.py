"""Maintenance windows, silences and the notification ledger, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.incidents.alerts import AlertPolicy, AlertState, AlertStatus, PerSeverity, step
from kafkaops.incidents.ledger import SentLedger, decide_notifications
from kafkaops.incidents.notices import (
    MaintenanceNotice,
    due_notices,
    emergency_window,
    notice_due_at,
    notice_for,
)
from kafkaops.incidents.routing import channels
from kafkaops.incidents.silences import Silence
from kafkaops.incidents.windows import (
    AdHocWindow,
    Matchers,
    RecurringWindow,
    active_windows,
    is_muted,
    next_windows,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def names(occs) -> list[str]:
    return [o.id for o in occs]


# --- schedule ---------------------------------------------------------------------------------


def test_second_sunday_is_weekly_but_not_monthly():
    assert names(active_windows(utc(2026, 12, 13, 1, 30))) == ["weekly@2026-12-13T01:00:00Z"]


def test_monday_the_7th_is_in_no_monthly_window():
    # The cron idiom "0 0 1-7 * 0" (day 1-7 OR Sunday) would match here.
    assert active_windows(utc(2026, 12, 7, 0, 30)) == []


def test_first_sunday_is_monthly():
    assert names(active_windows(utc(2026, 12, 6, 0, 0))) == ["monthly@2026-12-06T00:00:00Z"]
    assert names(active_windows(utc(2026, 12, 6, 2, 30))) == [
        "monthly@2026-12-06T00:00:00Z",
        "weekly@2026-12-06T01:00:00Z",
        "daily@2026-12-06T02:00:00Z",
    ]


def test_window_end_is_exclusive():
    assert names(active_windows(utc(2026, 12, 8, 3, 59, 59))) == ["daily@2026-12-08T02:00:00Z"]
    assert active_windows(utc(2026, 12, 8, 4, 0)) == []
    assert active_windows(utc(2026, 12, 8, 1, 59, 59)) == []


def test_monthly_occurrences_are_first_sundays_only():
    monthly = [w for w in next_windows(utc(2026, 11, 1), 200) if w.name == "monthly"]
    assert [o.start for o in monthly[:4]] == [
        utc(2026, 12, 6),
        utc(2027, 1, 3),
        utc(2027, 2, 7),
        utc(2027, 3, 7),
    ]
    assert all(o.start.weekday() == 6 and o.start.day <= 7 for o in monthly)


def test_next_windows_merges_schedules_in_order():
    nxt = next_windows(utc(2026, 12, 5, 3, 0), 5)
    assert names(nxt) == [
        "monthly@2026-12-06T00:00:00Z",
        "weekly@2026-12-06T01:00:00Z",
        "daily@2026-12-06T02:00:00Z",
        "daily@2026-12-07T02:00:00Z",
        "daily@2026-12-08T02:00:00Z",
    ]
    assert nxt[0].end == utc(2026, 12, 6, 6, 0)
    assert nxt[1].duration == timedelta(hours=4)


def test_ad_hoc_window_and_validation():
    w = AdHocWindow(name="upgrade", start=utc(2026, 12, 9, 10), end=utc(2026, 12, 9, 11))
    assert names(active_windows(utc(2026, 12, 9, 10, 30), [w])) == ["upgrade@2026-12-09T10:00:00Z"]
    assert names(next_windows(utc(2026, 12, 9, 9), 3, [w])) == ["upgrade@2026-12-09T10:00:00Z"]
    with pytest.raises(ValidationError, match="before it starts"):
        AdHocWindow(name="x", start=utc(2026, 1, 2), end=utc(2026, 1, 1))
    with pytest.raises(ValidationError):
        AdHocWindow(name="x", start=datetime(2026, 1, 1), end=datetime(2026, 1, 2))


def test_bad_rrule_fails_at_config_time():
    with pytest.raises(ValidationError):
        RecurringWindow(name="bad", rrule="RRULE:FREQ=SOMETIMES", duration_s=60)


# --- muting -----------------------------------------------------------------------------------


def alert(
    severity: Severity = Severity.P1,
    rule: str = "under_replicated_partitions",
    cluster: str = "prod",
    fired_at: datetime | None = None,
    status: AlertStatus = AlertStatus.FIRING,
) -> AlertState:
    f = Finding(rule, severity, CheckStatus.TRIGGERED, rule, 1.0, 0.0, "count")
    fired = fired_at or utc(2026, 12, 8, 1, 0)
    key = f"{cluster}/{rule}/cluster"
    return AlertState(key, cluster, status, f, fired, fired, fired)


IN_DAILY = utc(2026, 12, 8, 3, 0)


def test_muted_during_window_not_outside():
    assert is_muted(alert(), IN_DAILY) is True
    assert is_muted(alert(), utc(2026, 12, 8, 5, 0)) is False


def test_p0_pages_during_maintenance_by_default_configurable():
    assert is_muted(alert(Severity.P0), IN_DAILY) is False
    assert is_muted(alert(Severity.P0), IN_DAILY, p0_pages_during_maintenance=False) is True


def test_window_matchers_limit_muting():
    w = AdHocWindow(
        name="staging work",
        start=utc(2026, 12, 8, 10),
        end=utc(2026, 12, 8, 12),
        matchers=Matchers(cluster="staging-*"),
    )
    now = utc(2026, 12, 8, 11)
    assert is_muted(alert(cluster="staging-eu"), now, [w]) is True
    assert is_muted(alert(cluster="prod"), now, [w]) is False


def test_silence_by_labels():
    s = Silence(
        matchers=Matchers(rule="consumer_lag", severity="P2"),
        start=utc(2026, 12, 8, 10),
        end=utc(2026, 12, 8, 12),
        created_by="alice",
    )
    now = utc(2026, 12, 8, 11)
    assert is_muted(alert(Severity.P2, "consumer_lag"), now, [s]) is True
    assert is_muted(alert(Severity.P1, "consumer_lag"), now, [s]) is False
    assert is_muted(alert(Severity.P2, "disk_usage"), now, [s]) is False
    assert is_muted(alert(Severity.P2, "consumer_lag"), utc(2026, 12, 8, 12), [s]) is False


def test_silence_mutes_p0_only_when_it_names_p0():
    span = {"start": utc(2026, 12, 8, 10), "end": utc(2026, 12, 8, 12), "created_by": "bob"}
    broad = Silence(matchers=Matchers(cluster="prod"), **span)
    explicit = Silence(matchers=Matchers(cluster="prod", severity="P0"), **span)
    now = utc(2026, 12, 8, 11)
    assert is_muted(alert(Severity.P0), now, [broad]) is False
    assert is_muted(alert(Severity.P0), now, [explicit]) is True


# --- notification decisions -------------------------------------------------------------------

P1_CHANNELS = ["pagerduty", "slack:#ops-critical", "sns:msk-critical-alerts"]


def summary(notes) -> list[tuple[str, str, str]]:
    return [(n.kind, n.key, str(n.channel)) for n in notes]


def decide(ledger, now, alerts, windows=None):
    kwargs = {} if windows is None else {"windows": windows}
    return decide_notifications(ledger, now, {a.key: a for a in alerts}, **kwargs)


URP = "prod/under_replicated_partitions/cluster"
OUTSIDE = utc(2026, 12, 8, 12, 0)


def test_firing_sent_once_per_channel_then_nothing():
    a = alert(fired_at=OUTSIDE)
    ledger, notes = decide(SentLedger(), OUTSIDE, [a])
    assert summary(notes) == [("firing", URP, c) for c in P1_CHANNELS]
    ledger, notes = decide(ledger, OUTSIDE + timedelta(seconds=10), [a])
    assert notes == []
    assert {str(c) for c in ledger.paged(URP)} == set(P1_CHANNELS)


def test_dedup_same_key_twice_gives_one_notification_per_channel():
    states, _ = step({}, [alert(Severity.P0).finding] * 2, OUTSIDE, cluster="prod")
    _, notes = decide_notifications(SentLedger(), OUTSIDE, states)
    assert len(notes) == 5
    assert len({n.idempotency_key for n in notes}) == 5


def test_mute_during_window_then_still_firing_alert_sent_once_when_window_ends():
    a = alert(fired_at=utc(2026, 12, 8, 2, 30))
    ledger, notes = decide(SentLedger(), IN_DAILY, [a])
    assert notes == []
    assert ledger.entries == {}
    ledger, notes = decide(ledger, utc(2026, 12, 8, 3, 59, 59), [a])
    assert notes == []
    ledger, notes = decide(ledger, utc(2026, 12, 8, 4, 0), [a])
    assert summary(notes) == [("firing", URP, c) for c in P1_CHANNELS]
    assert {n.at for n in notes} == {utc(2026, 12, 8, 4, 0)}
    _, notes = decide(ledger, utc(2026, 12, 8, 4, 0, 10), [a])
    assert notes == []


def test_fire_and_resolve_inside_window_sends_nothing():
    a = alert(fired_at=utc(2026, 12, 8, 2, 30))
    ledger, notes = decide(SentLedger(), IN_DAILY, [a])
    resolved = alert(fired_at=a.fired_at, status=AlertStatus.RESOLVED)
    ledger, notes2 = decide(ledger, utc(2026, 12, 8, 3, 30), [resolved])
    ledger, notes3 = decide(ledger, utc(2026, 12, 8, 4, 30), [])
    assert (notes, notes2, notes3) == ([], [], [])


def test_resolve_always_sent_for_paged_even_inside_window():
    a = alert(fired_at=utc(2026, 12, 8, 1, 0))
    ledger, notes = decide(SentLedger(), utc(2026, 12, 8, 1, 0), [a])
    assert len(notes) == 3
    resolved = alert(fired_at=a.fired_at, status=AlertStatus.RESOLVED)
    ledger, notes = decide(ledger, IN_DAILY, [resolved])
    assert summary(notes) == [
        ("resolved", URP, "pagerduty"),
        ("resolved", URP, "slack:#ops-critical"),
        ("resolved", URP, "sns:msk-critical-alerts"),
    ]
    assert ledger.entries == {}
    _, notes = decide(ledger, IN_DAILY + timedelta(seconds=10), [])
    assert notes == []


def test_resolve_sent_when_alert_vanishes_from_the_map():
    ledger, _ = decide(SentLedger(), OUTSIDE, [alert(fired_at=OUTSIDE)])
    _, notes = decide(ledger, OUTSIDE + timedelta(minutes=5), [])
    assert [n.kind for n in notes] == ["resolved"] * 3


def test_severity_change_pages_new_channels_once_and_resolve_reaches_all():
    p2 = alert(Severity.P2, fired_at=OUTSIDE)
    ledger, notes = decide(SentLedger(), OUTSIDE, [p2])
    assert [str(n.channel) for n in notes] == [
        "slack:#ops-monitoring",
        "email:ops-team@example.com",
        "sns:msk-warning-alerts",
    ]
    p1 = alert(Severity.P1, fired_at=OUTSIDE)
    ledger, notes = decide(ledger, OUTSIDE + timedelta(seconds=10), [p1])
    assert [str(n.channel) for n in notes] == P1_CHANNELS
    _, notes = decide(ledger, OUTSIDE + timedelta(seconds=20), [])
    assert len(notes) == 6
    assert {n.severity for n in notes} == {Severity.P1}


def test_new_episode_resolves_old_and_fires_new():
    ledger, _ = decide(SentLedger(), OUTSIDE, [alert(fired_at=OUTSIDE)])
    later = OUTSIDE + timedelta(minutes=10)
    _, notes = decide(ledger, later, [alert(fired_at=later)])
    assert [n.kind for n in notes] == ["resolved"] * 3 + ["firing"] * 3
    assert notes[0].fired_at == OUTSIDE
    assert notes[3].fired_at == later


def test_p0_is_paged_inside_a_window_by_default():
    a = alert(Severity.P0, fired_at=IN_DAILY)
    _, notes = decide(SentLedger(), IN_DAILY, [a])
    assert [str(n.channel) for n in notes] == [
        "phone",
        "sms",
        "pagerduty",
        "slack:#ops-critical",
        "sns:msk-critical-alerts",
    ]


def test_pending_alerts_are_not_sent():
    a = alert(status=AlertStatus.PENDING, fired_at=OUTSIDE)
    assert decide(SentLedger(), OUTSIDE, [a]) == (SentLedger(), [])


def test_whole_cycle_with_state_machine_across_window_end():
    """Findings → alerts → notifications, over a window end, cycle by cycle."""
    policy = AlertPolicy(for_s=PerSeverity(p0=0, p1=10, p2=300), keep_firing_for_s=60)
    f = alert().finding
    states: dict = {}
    ledger = SentLedger()
    sent = []
    t = utc(2026, 12, 8, 3, 59, 0)
    for _ in range(12):  # 03:59:00 … 04:00:50 every 10 s
        states, _ = step(states, [f], t, cluster="prod", policy=policy)
        ledger, notes = decide_notifications(ledger, t, states)
        sent.extend((n.at, n.kind) for n in notes)
        t += timedelta(seconds=10)
    assert sent == [(utc(2026, 12, 8, 4, 0), "firing")] * 3


def test_idempotency_key_names_episode_channel_and_kind():
    a = alert(fired_at=OUTSIDE)
    _, notes = decide(SentLedger(), OUTSIDE, [a])
    assert notes[0].idempotency_key == (f"{URP}|2026-12-08T12:00:00.000000Z|pagerduty|firing")


def test_custom_routing_is_used():
    from kafkaops.incidents.routing import RoutingConfig

    routing = RoutingConfig(p1=list(channels("webhook:ops")))
    _, notes = decide_notifications(
        SentLedger(), OUTSIDE, {URP: alert(fired_at=OUTSIDE)}, routing=routing
    )
    assert summary(notes) == [("firing", URP, "webhook:ops")]


# --- notices ----------------------------------------------------------------------------------


def test_scheduled_notice_due_24h_ahead_and_payload_has_runbook_fields():
    occ = next_windows(utc(2026, 12, 5, 3, 0), 1)[0]
    assert occ.id == "monthly@2026-12-06T00:00:00Z"
    assert notice_due_at(occ) == utc(2026, 12, 5, 0, 0)
    notice = notice_for(occ)
    assert notice.payload() == {
        "type": "scheduled",
        "start_time": "2026-12-06T00:00:00Z",
        "duration": "6 hours",
        "impact": "medium",
        "services_affected": ["MSK Cluster", "Event Processing", "Real-time Analytics"],
        "contact": "ops-team@example.com",
    }
    assert notice.subject == "Scheduled MSK Maintenance - 2026-12-06T00:00:00Z"


def test_due_notices_window_and_sent_ids():
    before = utc(2026, 12, 8, 1, 59, 59)  # due at 2026-12-08 02:00 for the 12-09 window
    assert names(due_notices(before)) == ["daily@2026-12-08T02:00:00Z"]
    assert names(due_notices(utc(2026, 12, 8, 2, 0))) == ["daily@2026-12-09T02:00:00Z"]
    assert due_notices(utc(2026, 12, 8, 2, 0), sent=["daily@2026-12-09T02:00:00Z"]) == []


def test_emergency_window_and_immediate_notice():
    now = utc(2026, 12, 8, 13, 7)
    window, notice = emergency_window(now, impact="high")
    assert (window.start, window.end, window.type) == (now, utc(2026, 12, 8, 15, 7), "emergency")
    assert notice.payload()["duration"] == "variable"
    assert notice.payload()["type"] == "emergency"
    assert notice.subject == "Emergency MSK Maintenance - Starting Now"
    assert names(due_notices(now, [window])) == ["emergency@2026-12-08T13:07:00Z"]
    assert is_muted(alert(), now + timedelta(minutes=1), [window]) is True


def test_notice_duration_wording():
    base = {"type": "scheduled", "start_time": utc(2026, 1, 1), "impact": "low"}
    assert MaintenanceNotice(duration_s=3600, **base).payload()["duration"] == "1 hour"
    assert MaintenanceNotice(duration_s=5400, **base).payload()["duration"] == "90 minutes"
