"""Every write of a cluster's watch cycle is fenced by its lease epoch (issue 17), not only the
incident engine's save: history, capacity, SLO verdicts, automatic-action records and the
incident updates (and outbox messages) they queue.  An instance whose term is over writes
nothing and is counted; the current owner writes; an operator's ack needs no lease.

No Kafka: SQLite and a real PostgreSQL (``store_url``), time driven by an injected clock.  The
scenario everywhere: ``a`` owned ``prod`` (epoch 1) and froze; its membership and lease ran out
and ``b`` took ``prod`` over (epoch 2); ``a`` wakes up still believing it owns ``prod``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from kafkaops.actions.audit import AuditLog
from kafkaops.capacity.store import CapacityStore, cap_broker
from kafkaops.config import Config
from kafkaops.core.model import Severity
from kafkaops.evaluate.findings import result
from kafkaops.pipeline.runtime import open_runtime
from kafkaops.pipeline.sharing import ClusterSharing
from kafkaops.pipeline.watch import Watcher
from kafkaops.service.exporter.catalogue import _lease_families
from kafkaops.slo.store import SloStore, Verdict
from kafkaops.store.history import HistoryStore
from kafkaops.store.lease import LeaseLost, Leases
from kafkaops.store.members import Members
from tests.pipeline.test_sharing import _offline
from tests.store.test_history_store import snap

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
INTERVAL = 10.0
ROUTING = {"p0": ["webhook:ops"], "p1": ["webhook:ops"], "p2": ["webhook:ops"]}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sharing(engine: object, name: str) -> ClusterSharing:
    return ClusterSharing(
        Leases(engine, database_clock=False),  # type: ignore[arg-type]
        Members(engine, database_clock=False),  # type: ignore[arg-type]
        interval_s=INTERVAL,
        instance=name,
    )


@pytest.fixture
def stale_and_current(engine: object) -> tuple[ClusterSharing, ClusterSharing]:
    """``a`` held ``prod`` in epoch 1 and froze; ``b`` holds it in epoch 2 at 30 s."""
    a, b = sharing(engine, "a"), sharing(engine, "b")
    assert a.assign(["prod"], at(0)) == {"prod": 1}
    assert b.assign(["prod"], at(30)) == {"prod": 2}  # a's terms ran out at 5 s
    assert a.owned == {"prod": 1}  # a has not noticed
    return a, b


def _count(eng: object, table: object) -> int:
    with eng.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_history_capacity_slo_and_action_writes_of_a_stale_owner_are_rejected(
    store_url: str, stale_and_current: tuple[ClusterSharing, ClusterSharing]
) -> None:
    a, b = stale_and_current
    now = at(31)
    sample = snap(int(now.timestamp() * 1000), 100, 40, cluster="prod")
    history, slo, cap = HistoryStore(store_url), SloStore(store_url), CapacityStore(store_url)
    audit = AuditLog(history.engine)
    verdict = Verdict(sample.taken_at_ms, 10_000, True, True)

    def action(fence: object) -> None:
        audit.record(cluster="prod", operation="auto:scale_storage", result="dry_run",
                     summary="would have done: +100 GiB", actor="kafkaops-auto", at=now,
                     fence=fence)  # type: ignore[arg-type]  # fmt: skip

    try:
        writes = {
            "history": lambda f: history.record(sample, fence=f),
            "capacity": lambda f: cap.record(sample, fence=f),
            "slo": lambda f: slo.record("prod", verdict, fence=f),
            "action": action,
        }
        for write, call in writes.items():
            with pytest.raises(LeaseLost, match="epoch 1"):
                call(a.guard("prod", now, write))
        assert sum(history.count_rows().values()) == 0
        assert _count(cap.engine, cap_broker) == 0
        assert slo.verdicts("prod", 0, sample.taken_at_ms + 1) == []
        assert audit.list() == []
        assert a.fenced_writes() == {("prod", w): 1 for w in writes}
        # The owner's writes go through, in the same transactions.
        for write, call in writes.items():
            call(b.guard("prod", now, write))
        assert history.count_rows()["log_end_offsets"] == 2
        assert _count(cap.engine, cap_broker) == 1
        assert len(slo.verdicts("prod", 0, sample.taken_at_ms + 1)) == 1
        assert [r["result"] for r in audit.list()] == ["dry_run"]
        assert b.fenced_writes() == {}
        # Once a has forgotten the cluster, a new guard rejects too (it does not watch it).
        a.lost("prod")
        with pytest.raises(LeaseLost, match="not held"):
            history.record(sample, fence=a.guard("prod", now, "history"))
        assert a.fenced_writes()[("prod", "history")] == 2
    finally:
        for store in (history, slo, cap):
            store.close()


def test_incident_updates_and_their_outbox_messages_are_fenced_but_an_operators_ack_is_not(
    store_url: str, engine: object
) -> None:
    cfg = Config.model_validate({"incidents": {"maintenance": {"windows": []}, "routing": ROUTING}})
    rt = open_runtime(cfg, store_url, owner="a")
    try:
        a, b = sharing(rt.incidents.engine, "a"), sharing(rt.incidents.engine, "b")
        a.assign(["prod"], at(0))
        offline = result("cluster_offline", Severity.P0, True, 1, 0, source="kafkaops")
        first = rt.engine.cycle("prod", [offline], at(0), guard=a.guard("prod", at(0)))
        assert first.opened == 1
        [inc] = rt.incidents.list_incidents(status="open")
        queued = len(rt.outbox.list(limit=100))
        assert queued >= 1  # the page
        b.assign(["prod"], at(30))  # a froze; b owns prod now
        with pytest.raises(LeaseLost):
            rt.engine.annotate(inc.id, "kafkaops-auto", at(31), "auto-action", "scaled",
                               notify=True, guard=a.guard("prod", at(31), "action"))  # fmt: skip
        assert rt.incidents.get_incident(inc.id) == inc
        assert len(rt.outbox.list(limit=100)) == queued
        with pytest.raises(LeaseLost):
            rt.engine.acknowledge(inc.id, "kafkaops", at(31), guard=a.guard("prod", at(31)))
        assert rt.incidents.get_incident(inc.id) == inc
        # The owner's update is written with its message; an operator acks on any instance.
        rt.engine.annotate(inc.id, "kafkaops-auto", at(32), "auto-action", "scaled",
                           notify=True, guard=b.guard("prod", at(32), "action"))  # fmt: skip
        assert len(rt.outbox.list(limit=100)) == queued + 1
        acked, _ = rt.engine.acknowledge(inc.id, "alice", at(33))
        assert acked.status.value == "acknowledged"
        assert a.fenced_writes() == {("prod", "action"): 1, ("prod", "incident"): 1}
    finally:
        rt.close()


def test_a_stale_owners_cycle_writes_nothing_logs_once_and_stops_watching(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The loop: a froze between taking its lease and its cluster's cycle.  Its first write
    (the SLO verdict of the "cluster offline" cycle) is rejected; nothing else is attempted,
    the loss is logged once, and a does not act for prod again while b holds it."""
    cfg = Config.model_validate({"incidents": {"maintenance": {"windows": []}, "routing": ROUTING}})
    ra, rb = open_runtime(cfg, store_url, owner="a"), open_runtime(cfg, store_url, owner="b")
    target = replace(_offline("prod", cfg), store_url=store_url)
    eng = ra.incidents.engine
    wa = Watcher(targets=[target], engine=ra.engine, dispatcher=None, offline_after=1,
                 interval_s=INTERVAL, sharing=sharing(eng, "a"))  # fmt: skip
    wb = Watcher(targets=[target], engine=rb.engine, dispatcher=None, offline_after=1,
                 interval_s=INTERVAL, sharing=sharing(eng, "b"))  # fmt: skip
    slo = SloStore(store_url)
    try:
        assert wa.cycle(at(0)).clusters[0].epoch == 1
        assert len(slo.verdicts("prod", 0, 10**13)) == 1
        assert wb.cycle(at(30)).clusters[0].epoch == 2  # a's terms ran out: b pages now
        assert len(slo.verdicts("prod", 0, 10**13)) == 2
        pages = len(ra.outbox.list(limit=100))
        state = wa.states["prod"]
        with caplog.at_level(logging.WARNING, logger="kafkaops.pipeline.watch"):
            out = wa._isolated_cycle(state, True, at(31))  # the frozen cycle wakes up
        assert out.error and "lease lost" in out.error and out.notifications == 0
        lost = [r for r in caplog.records if "handing it over" in r.getMessage()]
        assert len(lost) == 1 and "epoch 1" in lost[0].getMessage()
        assert len(slo.verdicts("prod", 0, 10**13)) == 2  # nothing from a
        assert len(ra.outbox.list(limit=100)) == pages
        assert wa.sharing is not None and wa.sharing.fenced_writes() == {("prod", "slo"): 1}
        assert wa.watched() == []
        # Its next cycle: b still holds prod, so a does not watch (nor write for) it.
        nxt = wa.cycle(at(32))
        assert nxt.clusters == () and nxt.elsewhere == ("prod",)
        assert wa.sharing.fenced_writes() == {("prod", "slo"): 1}
    finally:
        slo.close()
        for w in (wa, wb):
            w.close()
        ra.close()
        rb.close()


def test_lease_gauges_and_the_fenced_writes_counter(engine: object) -> None:
    a, b = sharing(engine, "a"), sharing(engine, "b")
    a.assign(["prod", "stage"], at(0))
    b.assign(["prod", "stage"], at(30))  # b joins after a's terms ran out: takes both
    with engine.begin() as conn, pytest.raises(LeaseLost):  # type: ignore[attr-defined]
        a.guard("prod", at(31), "history")(conn)
    names = ["prod", "stage"]

    def families(s: ClusterSharing | None, leader: bool = False) -> dict[str, dict]:
        state = SimpleNamespace(
            watcher=SimpleNamespace(sharing=s, leader=leader), cluster_names=lambda: names
        )
        return {
            f.name: {tuple(x.labels.values()): x.value for x in f.samples}
            for f in _lease_families(state)  # type: ignore[arg-type]
        }

    got = families(b)
    assert got["kafkaops_cluster_lease_owned"] == {("prod",): 1.0, ("stage",): 1.0}
    assert got["kafkaops_cluster_lease_epoch"] == {("prod",): 2.0, ("stage",): 2.0}
    assert got["kafkaops_fenced_writes"] == {}
    a.lost("prod")  # what the loop does after the rejection
    got = families(a)
    assert got["kafkaops_cluster_lease_owned"] == {("prod",): 0.0, ("stage",): 1.0}
    assert got["kafkaops_cluster_lease_epoch"] == {("stage",): 1.0}
    assert got["kafkaops_fenced_writes"] == {("prod", "history"): 1.0}
    # Single leader: owned follows the watch lease, no epochs, no fencing.
    got = families(None, leader=True)
    assert got["kafkaops_cluster_lease_owned"] == {("prod",): 1.0, ("stage",): 1.0}
    assert got["kafkaops_cluster_lease_epoch"] == {} and got["kafkaops_fenced_writes"] == {}
    assert families(None)["kafkaops_cluster_lease_owned"] == {("prod",): 0.0, ("stage",): 0.0}


def test_the_lease_metrics_are_documented() -> None:
    """The service test checks every exposed name against docs/metrics.md with Kafka running;
    this one checks the new names without it."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    for name in ("kafkaops_cluster_lease_owned", "kafkaops_cluster_lease_epoch",
                 "kafkaops_fenced_writes_total"):  # fmt: skip
        assert f"`{name}`" in doc, name


def test_a_stale_owner_takes_no_automatic_action_and_records_none(store_url: str, tmp_path) -> None:
    """``actions.auto`` in apply mode: the lease is checked right before acting (a command
    here), and the audit row and the incident's entry are fenced."""
    from kafkaops.actions.auto import auto_cycle
    from kafkaops.core.model import CheckStatus, Finding
    from kafkaops.pipeline.health import Target

    marker = tmp_path / "acted"
    cfg = Config.model_validate({
        "incidents": {"maintenance": {"windows": []}, "routing": ROUTING,
                      "alerts": {"for": {"p0": "0s", "p1": "0s", "p2": "0s"}}},
        "actions": {"auto": {"disk_usage": {"p1": {
            "action": "command", "command": ["touch", str(marker)], "mode": "apply",
            "for": "0s", "cooldown": "1h"}}}},
    })  # fmt: skip
    disk = Finding("disk_usage", Severity.P1, CheckStatus.TRIGGERED, "Broker disk usage",
                   value=91.0, threshold=85, unit="percent", subject="broker-2")  # fmt: skip
    rt = open_runtime(cfg, store_url, owner="a")
    target = Target(name="prod", client_kwargs={}, options=None, config=cfg,  # type: ignore[arg-type]
                    store_url=store_url)  # fmt: skip
    try:
        a, b = sharing(rt.incidents.engine, "a"), sharing(rt.incidents.engine, "b")
        a.assign(["prod"], at(0))
        rt.engine.cycle("prod", [disk], at(0), guard=a.guard("prod", at(0)))
        [inc] = rt.incidents.list_incidents(status="open")
        queued = len(rt.outbox.list(limit=100))
        b.assign(["prod"], at(30))
        with pytest.raises(LeaseLost):
            auto_cycle(target, rt.engine, [disk], at(31), None, a.guard("prod", at(31), "action"))
        assert not marker.exists()
        with AuditLog.open(store_url) as audit:
            assert audit.list() == []
        assert rt.incidents.get_incident(inc.id) == inc
        assert len(rt.outbox.list(limit=100)) == queued
        [out] = auto_cycle(target, rt.engine, [disk], at(32), None,
                           b.guard("prod", at(32), "action"))  # fmt: skip
        assert out.result == "succeeded" and marker.exists()
        with AuditLog.open(store_url) as audit:
            assert [r["result"] for r in audit.list()] == ["succeeded"]
        assert len(rt.outbox.list(limit=100)) == queued + 1  # the incident's update
        assert a.fenced_writes() == {("prod", "action"): 1}
    finally:
        rt.close()


def test_a_takeover_waits_for_the_fenced_transaction_it_would_invalidate(engine) -> None:
    """Not check-then-write: once a writer's fence passed, a takeover of the lease cannot
    commit before that writer's transaction ends (PostgreSQL ``FOR SHARE``; SQLite's write
    lock, taken by the check)."""
    import threading
    import time

    leases = Leases(engine, database_clock=False)  # type: ignore[arg-type]
    assert leases.acquire("cluster:prod", "a", 5, at(0)) == 1
    taken: list[int | None] = []
    taker = threading.Thread(
        target=lambda: taken.append(leases.acquire("cluster:prod", "b", 5, at(5))), daemon=True
    )
    with engine.begin() as conn:  # type: ignore[attr-defined]
        leases.check_held(conn, "cluster:prod", "a", 1, at(4.9))  # a's fence: still its term
        taker.start()  # b's clock says a's term is over
        time.sleep(0.5)
        assert taker.is_alive() and taken == []  # b waits for a's transaction
    taker.join(timeout=30)
    assert taken == [2]


def test_a_cluster_that_comes_back_reads_its_slo_verdicts_from_the_store_again(
    store_url: str,
) -> None:
    """While another instance owned the cluster it recorded verdicts this one never saw; the
    burn windows must include them when the cluster comes back (watch.forget drops the cache)."""
    from kafkaops.pipeline.health import unreachable_report
    from kafkaops.pipeline.watch import ClusterState, forget
    from kafkaops.slo import watch_hook

    cfg = Config.model_validate({})
    target = replace(_offline("prod", cfg), store_url=store_url)
    report = unreachable_report(target, "no broker answered")
    ms = 10_000

    def cycle(t: float) -> None:
        watch_hook.slo_cycle(store_url, cfg.slo, "prod", at(t), ms, report, None)

    watch_hook.close_all()
    slo = SloStore(store_url)
    try:
        cycle(0)  # this instance owns prod
        for t in (10, 20):  # another instance owns it meanwhile
            slo.record("prod", Verdict(int(at(t).timestamp() * 1000), ms, False, None))
        forget(ClusterState(target))  # what the loop does when prod is not its own any more
        cycle(30)  # back
        assert len(watch_hook._recent[(store_url, "prod")]) == 4
    finally:
        slo.close()
        watch_hook.close_all()
