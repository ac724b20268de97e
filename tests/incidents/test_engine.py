"""The engine over a real store: restarts, escalation timing, ack/resolve, maintenance muting,
crash safety and notices.  Every test runs on SQLite and PostgreSQL, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kafkaops.core.model import Severity
from kafkaops.incidents.engine import Delivery, IncidentEngine, IncidentNotFound
from kafkaops.incidents.incident import IncidentStatus, IncidentTransitionError
from kafkaops.incidents.settings import IncidentSettings, MaintenanceSettings
from kafkaops.incidents.store import IncidentStore
from kafkaops.incidents.windows import Matchers

from .conftest import DAILY_START, T0, at, finding, restart

pytestmark = pytest.mark.pages

P1_CHANNELS = ["pagerduty", "slack:#ops-critical", "sns:msk-critical-alerts"]


def strs(chs) -> list[str]:
    return sorted(str(c) for c in chs)


def keys(result) -> list[str]:
    return [n.idempotency_key for n in result.notifications]


def fire_p1(engine: IncidentEngine, base: datetime = T0):
    """A P1 finding seen at ``base`` and ``base + 10 s``: it fires at the second cycle."""
    engine.cycle("prod", [finding()], base)
    return engine.cycle("prod", [finding()], base + timedelta(seconds=10))


# --- restarts ---------------------------------------------------------------------------------


def test_restart_in_the_middle_of_a_for_timer_keeps_the_timer(store_url: str) -> None:
    p2 = finding("consumer_lag", Severity.P2)  # for_s = 300
    assert not restart(store_url).cycle("prod", [p2], T0).notifications
    assert not restart(store_url).cycle("prod", [p2], at(200)).notifications
    fired = restart(store_url).cycle("prod", [p2], at(300))
    assert [e.kind for e in fired.events] == ["firing"]
    assert fired.events[0].at == at(300)  # counted from T0, not from the restart
    assert strs(n.channel for n in fired.notifications) == [
        "email:ops-team@example.com",
        "slack:#ops-monitoring",
        "sns:msk-warning-alerts",
    ]


def test_restart_does_not_refire_or_lose_the_page(store_url: str) -> None:
    first = fire_p1(restart(store_url))
    assert strs(n.channel for n in first.notifications) == P1_CHANNELS
    (inc,) = first.incidents
    assert strs(inc.paged) == P1_CHANNELS and inc.first_paged_at == at(10)
    again = restart(store_url).cycle("prod", [finding()], at(20))
    assert not again.notifications and not again.actions and not again.incidents


def test_escalation_follows_the_runbook_matrix_across_restarts(store_url: str) -> None:
    fired = fire_p1(restart(store_url))  # first page at T0 + 10 s
    (inc,) = fired.incidents
    paged_at = inc.first_paged_at
    assert paged_at == at(10)

    def cycle(minutes: float, seconds: float = 0):
        when = paged_at + timedelta(minutes=minutes, seconds=seconds)
        return restart(store_url).cycle("prod", [finding()], when)

    assert not cycle(14, 59).actions
    at15 = cycle(15)
    assert not at15.actions  # "escalate to P1": it already is P1
    assert at15.incidents[0].escalations_done == ("15m: escalate to P1",)
    at30 = cycle(30)
    (page,) = at30.actions
    assert page.kind == "page" and page.severity == Severity.P0
    assert strs(page.channels) == ["phone", "sms"]  # P0's channels not paged yet
    assert at30.incidents[0].severity == Severity.P0
    assert not cycle(45).actions
    (mgmt,) = cycle(60).actions
    assert mgmt.kind == "notify"
    assert [c.name for c in mgmt.contacts] == ["Engineering Manager", "Architecture Lead"]
    (execs,) = cycle(120).actions
    assert [c.name for c in execs.contacts] == ["VP Engineering", "CTO"]
    assert not cycle(600).actions  # every step applied exactly once

    store = IncidentStore(store_url)
    stored = store.get_incident(inc.id)
    assert stored is not None
    actions = [e.action for e in stored.audit]
    assert actions == [
        "opened",
        "paged",
        "escalation step",
        "escalated",
        "paged",
        "notified secondary",
        "notified executive",
    ]


# --- acknowledge and resolve ------------------------------------------------------------------


def test_ack_stops_escalation_and_acknowledges_every_paged_channel(
    store_url: str, engine: IncidentEngine
) -> None:
    (inc,) = fire_p1(engine).incidents
    acked, actions = restart(store_url).acknowledge(inc.id, "alice", at(minutes=5), "on it")
    assert acked.status == IncidentStatus.ACKNOWLEDGED and acked.acknowledged_by == "alice"
    (ack,) = actions
    assert ack.kind == "acknowledge"
    assert strs(ack.channels) == P1_CHANNELS
    assert ack.keys == ("prod/under_replicated_partitions/cluster",)
    for minutes in (15, 30, 60, 120, 240):
        assert not restart(store_url).cycle("prod", [finding()], at(minutes=minutes)).actions
    stored = IncidentStore(store_url).get_incident(inc.id)
    assert stored is not None and stored.severity == Severity.P1  # never escalated
    assert stored.audit[-1].action == "acknowledged"
    with pytest.raises(IncidentTransitionError):
        engine.acknowledge(inc.id, "bob", at(minutes=6))
    with pytest.raises(IncidentNotFound):
        engine.acknowledge("prod-nope", "bob", at(minutes=6))


def test_manual_resolve_reaches_every_channel_and_contact_ever_told(
    store_url: str, engine: IncidentEngine
) -> None:
    (inc,) = fire_p1(engine).incidents
    for minutes in (30, 60):  # P0 page (phone, sms), then management
        when = inc.first_paged_at + timedelta(minutes=minutes)
        restart(store_url).cycle("prod", [finding()], when)
    done, actions = restart(store_url).resolve(inc.id, "alice", at(minutes=70), "broker back")
    assert done.status == IncidentStatus.RESOLVED and done.resolved_by == "alice"
    (res,) = actions
    assert res.kind == "resolve"
    assert strs(res.channels) == sorted(["phone", "sms", *P1_CHANNELS])
    assert [c.name for c in res.contacts] == ["Engineering Manager", "Architecture Lead"]
    # The alert still fires: it neither reopens this incident nor pages again.
    later = restart(store_url).cycle("prod", [finding()], at(minutes=71))
    assert not later.notifications and not later.actions and not later.incidents


def test_alerts_clearing_resolve_the_incident_and_every_paged_channel(
    engine: IncidentEngine,
) -> None:
    (inc,) = fire_p1(engine).incidents
    assert not engine.cycle("prod", [], at(30)).notifications  # keep_firing_for_s = 60
    gone = engine.cycle("prod", [], at(70))
    assert {(n.kind, str(n.channel)) for n in gone.notifications} == {
        ("resolved", ch) for ch in P1_CHANNELS
    }
    (res,) = gone.actions
    assert res.kind == "resolve" and strs(res.channels) == P1_CHANNELS
    assert gone.incidents[0].status == IncidentStatus.RESOLVED
    # A new episode opens a new incident (with its own id), it does not reopen the old one.
    engine.cycle("prod", [finding()], at(80))
    new = engine.cycle("prod", [finding()], at(90))
    assert [i.id for i in new.incidents] != [inc.id]
    assert engine.store.get_incident(inc.id).status == IncidentStatus.RESOLVED  # type: ignore[union-attr]


def test_same_second_reopen_gets_a_fresh_id(engine: IncidentEngine) -> None:
    """A resolved incident's id is never reused, even when the next opens in the same second."""
    p0 = finding("offline_partitions", Severity.P0)
    first = engine.cycle("prod", [p0], T0).incidents[0]
    engine.resolve(first.id, "alice", T0 + timedelta(milliseconds=1))
    engine.cycle("prod", [], at(61))  # the alert resolves
    engine.cycle("prod", [p0], at(61, minutes=0) + timedelta(microseconds=500))
    ids = [i.id for i in engine.store.list_incidents("all")]
    assert len(ids) == len(set(ids)) == 2


# --- maintenance muting -----------------------------------------------------------------------


def test_muted_during_the_window_then_sent_at_once_when_it_ends(engine: IncidentEngine) -> None:
    start = DAILY_START + timedelta(minutes=30)  # 02:30, inside the daily 02:00-04:00 window
    fired = fire_p1(engine, start)
    assert [e.kind for e in fired.events] == ["firing"]
    assert not fired.notifications and not fired.actions  # muted
    (inc,) = fired.incidents
    assert inc.first_paged_at is None  # no page: escalation clock not started
    quiet = engine.cycle("prod", [finding()], DAILY_START + timedelta(hours=1, minutes=30))
    assert not quiet.notifications and not quiet.actions  # 03:30: no escalation either
    end = DAILY_START + timedelta(hours=2)
    released = engine.cycle("prod", [finding()], end)
    assert strs(n.channel for n in released.notifications) == P1_CHANNELS
    assert released.incidents[0].first_paged_at == end
    # Escalation counts from that page: P0 at 04:30, not at 03:00.
    assert not engine.cycle("prod", [finding()], end + timedelta(minutes=29)).actions
    (page,) = engine.cycle("prod", [finding()], end + timedelta(minutes=30)).actions
    assert page.severity == Severity.P0


def test_fire_and_resolve_inside_a_window_sends_nothing(engine: IncidentEngine) -> None:
    start = DAILY_START + timedelta(minutes=30)
    results = [
        engine.cycle("prod", [finding()], start),
        engine.cycle("prod", [finding()], start + timedelta(seconds=10)),  # fires, muted
        engine.cycle("prod", [], start + timedelta(minutes=5)),  # resolves
        engine.cycle("prod", [], DAILY_START + timedelta(hours=2)),  # window over
    ]
    assert [len(r.notifications) for r in results] == [0, 0, 0, 0]
    assert [len(r.actions) for r in results] == [0, 0, 0, 0]
    (inc,) = engine.store.list_incidents("all")
    assert inc.status == IncidentStatus.RESOLVED and not inc.paged


def test_p0_pages_through_maintenance_unless_configured_off(store: IncidentStore) -> None:
    p0 = finding("offline_partitions", Severity.P0)
    during = DAILY_START + timedelta(minutes=10)
    paged = IncidentEngine(store).cycle("prod", [p0], during)
    assert "phone" in strs(n.channel for n in paged.notifications)
    quiet = IncidentSettings(maintenance=MaintenanceSettings(p0_pages_during_maintenance=False))
    muted = IncidentEngine(store, quiet).cycle("staging", [p0], during)
    assert not muted.notifications


# --- crash safety and concurrency ---------------------------------------------------------------


def test_crash_before_commit_reproduces_the_same_notifications(store_url: str) -> None:
    handed: list[Delivery] = []

    def crashing_outbox(conn, delivery: Delivery) -> None:
        handed.append(delivery)
        raise RuntimeError("power cut")

    store = IncidentStore(store_url)
    IncidentEngine(store).cycle("prod", [finding()], T0)
    with pytest.raises(RuntimeError, match="power cut"):
        IncidentEngine(store, outbox=crashing_outbox).cycle("prod", [finding()], at(10))
    assert store.load_state("prod").ledger.entries == {}  # rolled back: nothing recorded
    assert store.list_incidents("all") == []
    written: list[Delivery] = []
    engine = IncidentEngine(IncidentStore(store_url), outbox=lambda c, d: written.append(d))
    redo = engine.cycle("prod", [finding()], at(10))
    lost = [n.idempotency_key for n in handed[0].notifications]
    assert keys(redo) == lost and len(lost) == 3
    assert written == [redo.delivery]
    assert not engine.cycle("prod", [finding()], at(20)).notifications  # now recorded


def test_a_cycle_that_races_an_ack_is_recomputed_on_fresh_state(store_url: str) -> None:
    engine = restart(store_url)
    (inc,) = fire_p1(engine).incidents
    other = restart(store_url)
    original = engine.store.load_state
    raced = []

    def load_then_ack(cluster, now=None):
        state = original(cluster, now)
        if not raced:  # someone acks between this cycle's load and its save
            raced.append(other.acknowledge(inc.id, "alice", at(minutes=29)))
        return state

    engine.store.load_state = load_then_ack  # type: ignore[method-assign]
    result = engine.cycle("prod", [finding()], inc.first_paged_at + timedelta(minutes=30))
    assert raced and not result.actions  # the retry saw the ack: no P0 escalation
    stored = engine.store.get_incident(inc.id)
    assert stored is not None
    assert stored.status == IncidentStatus.ACKNOWLEDGED and stored.severity == Severity.P1


# --- maintenance notices ----------------------------------------------------------------------


def test_notify_sends_each_due_notice_once(engine: IncidentEngine) -> None:
    sat = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)  # first Sunday of December is the 6th
    dry = engine.notify_maintenance(sat, dry_run=True)
    assert [n.occurrence.id for n in dry] == [
        "daily@2026-12-05T02:00:00Z",
        "monthly@2026-12-06T00:00:00Z",
        "weekly@2026-12-06T01:00:00Z",
    ]
    assert not any(n.sent for n in dry)
    sent = engine.notify_maintenance(sat)
    assert [n.occurrence.id for n in sent] == [n.occurrence.id for n in dry]
    assert all(n.sent for n in sent)
    monthly = sent[1].message
    assert monthly["topic"] == "maintenance"
    assert monthly["subject"] == "Scheduled MSK Maintenance - 2026-12-06T00:00:00Z"
    assert monthly["payload"] == {
        "type": "scheduled",
        "start_time": "2026-12-06T00:00:00Z",
        "duration": "6 hours",
        "impact": "medium",
        "services_affected": ["MSK Cluster", "Event Processing", "Real-time Analytics"],
        "contact": "ops-team@example.com",
    }
    assert engine.notify_maintenance(sat) == []
    assert engine.notify_maintenance(sat + timedelta(minutes=30)) == []
    # The window started: no late "24 h ahead" notice; the next day's comes 24 h ahead.
    later = engine.notify_maintenance(datetime(2026, 12, 6, 2, 0, tzinfo=UTC))
    assert [n.occurrence.id for n in later] == ["daily@2026-12-07T02:00:00Z"]


def test_start_emergency_mutes_now_and_notifies_once(engine: IncidentEngine) -> None:
    window, notice = engine.start_emergency(
        T0, duration=timedelta(minutes=90), reason="disk failure", actor="alice",
        matchers=Matchers(cluster="prod"),
    )  # fmt: skip
    assert (window.start, window.end, window.type) == (T0, at(minutes=90), "emergency")
    assert notice.sent and notice.message["topic"] == "emergency"
    assert notice.message["subject"] == "Emergency MSK Maintenance - Starting Now"
    assert notice.message["payload"]["duration"] == "variable"
    assert notice.message["payload"]["impact"] == "high"
    again = engine.notify_maintenance(at(60))
    assert [n.occurrence.notice_type for n in again] == ["scheduled"]  # tomorrow's daily only
    # prod is muted, staging is not.
    assert not fire_p1(engine, at(60)).notifications
    engine.cycle("staging", [finding()], at(60))
    assert engine.cycle("staging", [finding()], at(70)).notifications
    (stored,) = engine.store.list_windows()
    assert stored.created_by == "alice" and stored.reason == "disk failure"
    # After the emergency window the muted prod alert is sent at once.
    assert engine.cycle("prod", [finding()], at(minutes=90)).notifications


# --- mutes are never silent (issue 10, item 1) ------------------------------------------------


def test_a_muted_page_is_reported_with_its_window_and_end(engine: IncidentEngine) -> None:
    start = DAILY_START + timedelta(minutes=30)  # 02:30, inside the daily 02:00-04:00 window
    engine.cycle("prod", [finding()], start)
    fired = engine.cycle("prod", [finding()], start + timedelta(seconds=10))
    assert fired.opened == 1 and not fired.notifications  # fires (for: 10s), opens, muted
    (mute,) = fired.mutes
    assert mute.window == "daily" and mute.until == DAILY_START + timedelta(hours=2)
    assert mute.describe().startswith("muted by window `daily` until 2026-12-01 04:00Z")
    assert "will be sent then if still firing" in mute.describe()
    # Asked later (incidents show, the API), the same mute is still visible ...
    (again,) = engine.mutes("prod", start + timedelta(minutes=20))
    assert again.key == mute.key and again.channels == mute.channels
    # ... and gone once the window ended and the page went out.
    end = DAILY_START + timedelta(hours=2)
    released = engine.cycle("prod", [finding()], end)
    assert released.notifications and not released.mutes
    assert engine.mutes("prod", end) == []


def test_cycle_counts_opened_and_resolved_incidents(engine: IncidentEngine) -> None:
    pending = engine.cycle("prod", [finding()], T0)
    assert (pending.opened, pending.resolved) == (0, 0)  # pending for 10 s: no incident yet
    fired = engine.cycle("prod", [finding()], at(10))
    assert (fired.opened, fired.resolved) == (1, 0)
    gone = [engine.cycle("prod", [], at(s)) for s in (20, 30, 40, 600)]
    assert sum(r.resolved for r in gone) == 1 and sum(r.opened for r in gone) == 0
