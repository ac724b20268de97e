"""Incident store: exact round trips, one-transaction saves, optimistic locks, append-only audit."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from kafkaops.core.model import Severity
from kafkaops.incidents.alerts import AlertEvent, AlertState, AlertStatus
from kafkaops.incidents.incident import (
    Contact,
    IncidentStatus,
    acknowledge,
    open_incident,
    record_paged,
)
from kafkaops.incidents.ledger import SentEntry, SentLedger
from kafkaops.incidents.routing import channels
from kafkaops.incidents.silences import Silence
from kafkaops.incidents.store import ConcurrentUpdateError, IncidentStore, inc_audit
from kafkaops.incidents.windows import AdHocWindow, Matchers

from .conftest import T0, at, finding


def _alert(key_rule: str = "urp", when=T0) -> AlertState:
    f = finding(key_rule)
    return AlertState(
        f"prod/{key_rule}/cluster",
        "prod",
        AlertStatus.FIRING,
        f,
        when,
        when + timedelta(microseconds=123),
        fired_at=when + timedelta(seconds=10, microseconds=7),
    )


def _incident(inc_id: str = "prod-1"):
    f = finding()
    ev = AlertEvent("firing", "prod/urp/cluster", "prod", f, T0)
    inc = open_incident(inc_id, ev, T0)
    inc = record_paged(inc, channels("pagerduty", "slack:#ops-critical"), at(1))
    return replace(
        inc,
        escalated_to=Severity.P0,
        escalations_done=("30m: escalate to P0",),
        notified=("secondary",),
        notified_contacts=(Contact(name="EM", email="em@example.com"),),
    )


def test_cluster_state_round_trip_is_exact(store: IncidentStore) -> None:
    alert = _alert()
    entry = SentEntry(
        alert.key,
        "prod",
        alert.fired_at,
        Severity.P1,
        alert.finding,
        frozenset(channels("pagerduty", "sns:msk-critical-alerts")),
    )
    other = replace(_alert("lag"), cluster="staging", key="staging/lag/cluster")
    loaded = store.load_state("prod")
    assert loaded.version == 0 and not loaded.alerts
    inc = _incident()
    version = store.save_state(
        loaded, at(20), {alert.key: alert, other.key: other}, SentLedger({alert.key: entry}), [inc]
    )
    assert version == 1
    # Read back through a second store: from the database, not from what this one committed.
    with IncidentStore(store.url) as fresh:
        again = fresh.load_state("prod")
    assert again.version == 1
    assert again.alerts == {alert.key: alert}  # the other cluster's state is not written here
    assert again.ledger.entries == {alert.key: entry}
    assert again.incidents == {inc.id: inc}
    assert again.last_cycle == at(20)
    assert store.load_state("staging").alerts == {}


def test_second_writer_of_the_same_cluster_conflicts_and_writes_nothing(
    store: IncidentStore,
) -> None:
    first = store.load_state("prod")
    second = store.load_state("prod")
    store.save_state(first, at(1), {}, SentLedger(), [])
    alert = _alert()
    with pytest.raises(ConcurrentUpdateError):
        store.save_state(second, at(2), {alert.key: alert}, SentLedger(), [])
    assert store.load_state("prod").alerts == {}


def test_incident_versions_guard_concurrent_changes(store: IncidentStore) -> None:
    inc = _incident()
    store.save_incident(inc, None)
    with pytest.raises(ConcurrentUpdateError):
        store.save_incident(inc, None)  # "new" but exists
    acked, _ = acknowledge(inc, at(minutes=5), "alice", "on it")
    store.save_incident(acked, inc)
    # A writer that still holds the pre-ack version loses.
    stale, _ = acknowledge(inc, at(minutes=6), "bob")
    with pytest.raises(ConcurrentUpdateError):
        store.save_incident(stale, inc)
    got = store.get_incident(inc.id)
    assert got == acked
    assert got is not None and got.acknowledged_by == "alice"


def test_audit_is_append_only(store: IncidentStore) -> None:
    inc = _incident()
    store.save_incident(inc, None)
    acked, _ = acknowledge(inc, at(minutes=5), "alice", "on it")
    store.save_incident(acked, inc)
    with store.engine.connect() as conn:
        rows = conn.execute(select(inc_audit).order_by(inc_audit.c.seq)).all()
    assert [r.action for r in rows] == [e.action for e in acked.audit]
    assert rows[-1].actor == "alice" and rows[-1].detail == "on it"
    rewritten = replace(acked, audit=acked.audit[1:])
    with pytest.raises(ValueError, match="append-only"):
        store.save_incident(rewritten, acked)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(inc_audit)).scalar_one() == len(
            acked.audit
        )


def test_list_incidents_filters_and_orders_newest_first(store: IncidentStore) -> None:
    a = _incident("prod-a")
    b = replace(_incident("staging-b"), cluster="staging", opened_at=at(60))
    c = replace(_incident("prod-c"), opened_at=at(120))
    for inc in (a, b, c):
        store.save_incident(inc, None)
    acked, _ = acknowledge(c, at(130), "alice")
    store.save_incident(acked, c)
    assert [i.id for i in store.list_incidents()] == ["prod-c", "staging-b", "prod-a"]
    assert [i.id for i in store.list_incidents(cluster="prod")] == ["prod-c", "prod-a"]
    assert [i.id for i in store.list_incidents("open")] == ["staging-b", "prod-a"]
    assert [i.id for i in store.list_incidents(IncidentStatus.ACKNOWLEDGED)] == ["prod-c"]
    assert [i.id for i in store.list_incidents("all", limit=1)] == ["prod-c"]
    assert store.get_incident("nope") is None


def test_windows_silences_and_notices(store: IncidentStore) -> None:
    win = AdHocWindow(name="emergency-x", start=T0, end=at(minutes=90), type="emergency")
    sil = Silence(
        matchers=Matchers(cluster="staging"),
        start=T0,
        end=at(minutes=30),
        created_by="bob",
        comment="load test",
    )
    store.add_window(win, "alice", T0, "disk failure")
    store.add_silence(sil, T0)
    stored = store.list_windows()
    assert [w.window for w in stored] == [win, sil]
    assert stored[0].created_by == "alice" and stored[0].reason == "disk failure"
    assert stored[1].reason == "load test"
    # Ended windows are not returned for "still relevant" queries.
    assert [w.window for w in store.list_windows(ending_after=at(minutes=45))] == [win]

    payload = {"type": "scheduled", "start_time": "x"}
    assert store.record_notice_sent("daily@x", "scheduled", at(3600), payload, T0)
    assert not store.record_notice_sent("daily@x", "scheduled", at(3600), payload, at(60))
    assert store.sent_notice_ids(["daily@x", "weekly@y"]) == {"daily@x"}
    (sent,) = store.notices_sent()
    assert sent.payload == payload and sent.sent_at == T0


def test_reopening_the_store_keeps_everything(store_url: str, store: IncidentStore) -> None:
    inc = _incident()
    store.save_incident(inc, None)
    with IncidentStore(store_url) as again:  # create_all on an existing schema is harmless
        assert again.get_incident(inc.id) == inc


def _entry(alert: AlertState, severity: Severity = Severity.P1) -> SentEntry:
    return SentEntry(
        alert.key, "prod", alert.fired_at, severity, alert.finding,
        frozenset(channels("pagerduty")),
    )  # fmt: skip


def test_a_steady_ledger_is_not_rewritten_and_changes_are(store: IncidentStore) -> None:
    """Thousands of firing alerts each cycle: only the ledger rows that changed are written."""
    a, b = _alert("urp"), _alert("lag")
    written: list[str] = []

    def spy(_conn, _cursor, statement, *_args) -> None:
        if "inc_sent_ledger" in statement and statement.lstrip().upper().startswith(
            ("INSERT", "DELETE")
        ):
            written.append(statement.split()[0].upper())

    event.listen(store.engine, "before_cursor_execute", spy)
    try:
        both = SentLedger({a.key: _entry(a), b.key: _entry(b)})
        store.save_state(store.load_state("prod"), at(1), {}, both, [])
        assert written == ["INSERT"]
        written.clear()
        store.save_state(store.load_state("prod"), at(2), {}, both, [])
        assert written == []  # nothing changed: nothing written
        changed = SentLedger({a.key: _entry(a, Severity.P0)})  # a escalated, b resolved
        store.save_state(store.load_state("prod"), at(3), {}, changed, [])
        assert written == ["DELETE", "INSERT"]
    finally:
        event.remove(store.engine, "before_cursor_execute", spy)
    with IncidentStore(store.url) as fresh:
        assert fresh.load_state("prod").ledger == changed


def test_what_another_writer_saved_is_read_not_the_state_committed_here(
    store: IncidentStore,
) -> None:
    """The reuse of this store's last committed state holds only while the cluster's version
    is the one it committed; another instance's save (a takeover) is read from the database."""
    a, b = _alert("urp"), _alert("lag")
    store.save_state(
        store.load_state("prod"), at(1), {a.key: a}, SentLedger({a.key: _entry(a)}), []
    )
    with IncidentStore(store.url) as other:
        theirs = other.load_state("prod")
        assert theirs.alerts == {a.key: a}
        other.save_state(theirs, at(2), {b.key: b}, SentLedger({b.key: _entry(b)}), [])
    mine = store.load_state("prod")
    assert mine.version == 2
    assert mine.alerts == {b.key: b} and mine.ledger == SentLedger({b.key: _entry(b)})
