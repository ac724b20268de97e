"""Per-cluster leases (issue 17) without Kafka: epochs, assignment, takeover, fencing.

Every test drives time with an injected clock (``database_clock=False``) and runs on SQLite and
on a real PostgreSQL (``store_url``).  The clusters of the Watcher test are an address nobody
listens on: with ``offline_after=1`` each cycle is a P0 "cluster offline" - a page to fence.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from kafkaops.collect.admin import CollectOptions
from kafkaops.config import Config
from kafkaops.pipeline.health import Target
from kafkaops.pipeline.runtime import open_runtime
from kafkaops.pipeline.sharing import ClusterSharing
from kafkaops.pipeline.watch import Watcher
from kafkaops.store.lease import LeaseLost, Leases
from kafkaops.store.members import Members, balanced, rendezvous

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
INTERVAL = 10.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sharing(engine, name: str) -> ClusterSharing:
    return ClusterSharing(
        Leases(engine, database_clock=False),
        Members(engine, database_clock=False),
        interval_s=INTERVAL,
        instance=name,
    )


def test_epoch_goes_up_on_every_change_of_owner_and_fences_the_old_term(engine) -> None:
    leases = Leases(engine, database_clock=False)
    assert leases.acquire("cluster:a", "x", 10, at(0)) == 1
    assert leases.acquire("cluster:a", "x", 10, at(5)) == 1  # renewal: same term
    assert leases.acquire("cluster:a", "y", 10, at(9)) is None  # x still holds it
    assert leases.acquire("cluster:a", "y", 10, at(15)) == 2  # x's term ran out
    assert leases.release("cluster:a", "y")
    assert leases.acquire("cluster:a", "x", 10, at(16)) == 3  # released, not reset
    with engine.begin() as conn:
        leases.check_held(conn, "cluster:a", "x", 3, at(17))
        with pytest.raises(LeaseLost):
            leases.check_held(conn, "cluster:a", "x", 1, at(17))  # x's first term is over
        with pytest.raises(LeaseLost):
            leases.check_held(conn, "cluster:a", "y", 2, at(17))
        with pytest.raises(LeaseLost):
            leases.check_held(conn, "cluster:a", "x", 3, at(26))  # expired, even if not taken
    # The single-leader lease keeps its old meaning (bool, same holder semantics).
    assert leases.try_acquire("kafkaops-watch", "x", 30, at(0))
    assert leases.holder("kafkaops-watch", at(1)) == "x"


def test_renew_held_extends_only_live_leases_of_the_owner(engine) -> None:
    leases = Leases(engine, database_clock=False)
    leases.acquire("cluster:a", "x", 10, at(0))
    leases.acquire("cluster:b", "x", 10, at(0))
    leases.acquire("cluster:c", "y", 10, at(0))
    leases.acquire("kafkaops-watch", "x", 10, at(0))
    assert leases.renew_held("x", "cluster:", 10, at(8)) == 2
    assert leases.holder("cluster:a", at(17)) == "x"
    assert leases.holder("kafkaops-watch", at(17)) is None  # not a cluster lease
    assert leases.renew_held("x", "cluster:", 10, at(30)) == 0  # expired: cycles re-acquire


def test_rendezvous_moves_only_the_leaving_members_keys() -> None:
    clusters = [f"c{i}" for i in range(60)]
    three = {c: rendezvous(c, ["a", "b", "c"]) for c in clusters}
    assert set(Counter(three.values())) == {"a", "b", "c"}
    two = {c: rendezvous(c, ["a", "b"]) for c in clusters}
    moved = {c for c in clusters if three[c] != two[c]}
    assert moved == {c for c in clusters if three[c] == "c"}
    assert rendezvous("x", []) is None
    assert rendezvous("x", ["b", "a"]) == rendezvous("x", ["a", "b"])  # order does not matter


def test_balanced_assignment_gives_every_member_its_share() -> None:
    for n in range(1, 13):
        clusters = [f"cluster-{i}" for i in range(n)]
        got = balanced(clusters, ["a", "b", "c"])
        assert sorted(got) == sorted(clusters)
        load = Counter(got.values())
        assert max(load.values()) <= -(-n // 3), (n, load)
        assert got == balanced(list(reversed(clusters)), ["c", "a", "b"])  # order-free
    assert balanced(["x"], []) == {}
    # A leave moves the leaver's clusters and only a few others.
    clusters = [f"cluster-{i}" for i in range(30)]
    three, two = balanced(clusters, ["a", "b", "c"]), balanced(clusters, ["a", "b"])
    moved = {c for c in clusters if three[c] != two[c]}
    gone = {c for c in clusters if three[c] == "c"}
    assert gone <= moved and len(moved - gone) <= 5, (len(gone), len(moved))


def _owners(instances: list[ClusterSharing], clusters: list[str]) -> dict[str, list[str]]:
    return {c: [s.instance for s in instances if c in s.owned] for c in clusters}


def _beat(instances: list[ClusterSharing], start: float, end: float) -> None:
    """The heartbeat threads of ``instances`` from ``start`` to ``end`` (every 2 s)."""
    t = start
    while t <= end:
        for s in instances:
            s.beat(at(t))
        t += 2


def test_every_cluster_has_one_owner_and_a_dead_instances_move_within_two_intervals(
    engine,
) -> None:
    clusters = [f"c{i}" for i in range(9)]
    a, b, c = (sharing(engine, n) for n in ("a", "b", "c"))  # 3 clusters each (balanced)
    # Instances join one after another; after two rounds everything is settled.
    for t in (0, 5):
        for s in (a, b, c):
            s.assign(clusters, at(t))
            assert all(len(v) <= 1 for v in _owners([a, b, c], clusters).values())
        _beat([a, b, c], t + 1, t + 4)
    owners = _owners([a, b, c], clusters)
    assert all(len(v) == 1 for v in owners.values()), owners
    assert Counter(v[0] for v in owners.values()) == {"a": 3, "b": 3, "c": 3}
    c_had = dict(c.owned)
    assert a.ttl_s == 5  # half an interval
    # c's last heartbeat was at 8 s: its terms run to 13 s.  a and b cycle every 10 s (at 12
    # and 22) and keep beating: 22 s is within two intervals of c's death (worst case: the
    # next cycle of the new owner is nearly a whole interval after c's terms ran out).
    _beat([a, b], 10, 11)
    a.assign(clusters, at(12))
    b.assign(clusters, at(12))
    assert not (set(a.owned) | set(b.owned)) & set(c_had), "took over while c's terms ran"
    _beat([a, b], 14, 21)
    a.assign(clusters, at(22))
    b.assign(clusters, at(22))
    owners = _owners([a, b], clusters)
    assert all(len(v) == 1 for v in owners.values()), owners
    epochs = {**a.owned, **b.owned}
    assert all(epochs[x] == e + 1 for x, e in c_had.items()), (c_had, epochs)  # new terms


def test_a_new_instance_gets_its_clusters_within_about_one_interval(engine) -> None:
    clusters = [f"c{i}" for i in range(9)]
    a, b = sharing(engine, "a"), sharing(engine, "b")
    for s in (a, b):
        s.assign(clusters, at(0))
    _beat([a, b], 1, 1)
    d = sharing(engine, "d")
    d.assign(clusters, at(2))  # joins: desired owner of some, but a and b still hold them
    assert d.owned == {}
    _beat([a, b, d], 3, 7)
    a.assign(clusters, at(8))  # a and b see d and release what d wins
    b.assign(clusters, at(8))
    assert all(len(v) <= 1 for v in _owners([a, b, d], clusters).values())
    d.assign(clusters, at(9))
    owners = _owners([a, b, d], clusters)
    assert all(len(v) == 1 for v in owners.values()), owners
    wins = balanced(clusters, ["a", "b", "d"])
    assert d.owned == {x: 2 for x in clusters if wins[x] == "d"} and len(d.owned) == 3
    # A clean stop hands everything over at the others' next cycle, not after a term.
    d.stop()
    a.assign(clusters, at(10))
    b.assign(clusters, at(10))
    assert all(len(v) == 1 for v in _owners([a, b], clusters).values())


NO_WINDOWS = {"windows": []}


def _offline(name: str, cfg: Config) -> Target:
    return Target(
        name=name,
        client_kwargs={"bootstrap_servers": "127.0.0.1:1"},
        options=CollectOptions(
            connect_timeout_ms=500, request_timeout_ms=500, time_lag_method="none"
        ),
        config=cfg,
    )


class _PausingEngine:
    """The incident engine of an instance that freezes (GC, SIGSTOP) between judging a cycle
    and saving it: ``pause`` runs there, once, and the cycle then saves what it saw before -
    here "all clear", which unfenced would resolve the incident b still sees firing."""

    def __init__(self, engine, pause) -> None:
        self.engine, self.pause = engine, pause

    def cycle(self, cluster, checks, now, **kwargs):
        pause, self.pause = self.pause, None
        if pause is None:
            return self.engine.cycle(cluster, checks, now, **kwargs)
        pause()
        return self.engine.cycle(cluster, (), now, **kwargs)


def test_a_paused_old_owner_writes_nothing_after_the_takeover(store_url: str) -> None:
    cfg = Config.model_validate(
        {
            "incidents": {
                "maintenance": NO_WINDOWS,
                "routing": {"p0": ["webhook:ops"], "p1": ["webhook:ops"], "p2": ["webhook:ops"]},
                "alerts": {"keep_firing_for_s": 0},
            }
        }
    )
    ra, rb = open_runtime(cfg, store_url, owner="a"), open_runtime(cfg, store_url, owner="b")
    wa = wb = None
    try:
        eng = ra.incidents.engine
        wb = Watcher(targets=[_offline("prod", cfg)], engine=rb.engine, dispatcher=None,
                     offline_after=1, interval_s=INTERVAL,
                     sharing=sharing(eng, "b"))  # fmt: skip
        took_over = []

        def b_takes_over() -> None:
            # a is frozen for three intervals: its terms run out, b becomes the owner and
            # pages "cluster offline" itself.
            out = wb.cycle(at(30))
            took_over.append(out)

        wa = Watcher(targets=[_offline("prod", cfg)], engine=_PausingEngine(ra.engine, None),
                     dispatcher=None, offline_after=1, interval_s=INTERVAL,
                     sharing=sharing(eng, "a"))  # fmt: skip
        first = wa.cycle(at(0))  # a alone: owner, pages the P0
        assert first.clusters[0].epoch == 1 and first.clusters[0].notifications >= 1
        assert wa.ownership(at(1)) == {"prod": ("a", 1)}
        pages_before = [r.message.idempotency_key for r in ra.outbox.list(limit=100)]
        wa.engine.pause = b_takes_over
        paused = wa.cycle(at(10))  # renews its term at 10 s, judges, freezes, wakes at "40 s"
        [b_out] = took_over
        assert [c.cluster for c in b_out.clusters] == ["prod"] and b_out.clusters[0].epoch == 2
        # Nothing of a's late cycle reached the store: one offline incident, b's cycle was a
        # continuation (no new trigger: the alert was already firing and paged).
        [inc] = ra.incidents.list_incidents(status="open")
        assert inc.severity.value == "P0"
        keys = [r.message.idempotency_key for r in ra.outbox.list(limit=100)]
        assert Counter(keys) == Counter(pages_before), "a page was queued twice"
        [c] = paused.clusters
        assert c.error and "lease lost" in c.error and c.notifications == 0
        assert wa.sharing.owned == {} and wa.watched() == []
        assert wa.states["prod"].lag_memory is None and wa.states["prod"].probe is None
        assert wb.ownership(at(31)) == {"prod": ("b", 2)}
    finally:
        for w in (wa, wb):
            if w is not None:
                w.close()
        ra.close()
        rb.close()


def test_single_leader_mode_is_unchanged_by_default() -> None:
    assert Config.model_validate({}).watch.sharing == "leader"
    assert Config.model_validate({"watch": {"sharing": "per_cluster"}}).watch.sharing == (
        "per_cluster"
    )


def test_the_cycle_line_names_the_lease_epoch() -> None:
    from kafkaops.cli.watch import cycle_line
    from kafkaops.core.model import Severity
    from kafkaops.pipeline.watch import ClusterOutcome, CycleOutcome

    c = ClusterOutcome("prod", True, 0, Severity.OK, 0, 0, 0, 0.1, epoch=4)
    owned = CycleOutcome(T0, True, (c,), instance="h:1:ab", elsewhere=("dev",))
    assert cycle_line(owned, c).endswith("[owner, lease epoch 4]")
    plain = ClusterOutcome("prod", True, 0, Severity.OK, 0, 0, 0, 0.1)
    standby = CycleOutcome(T0, False, (plain,))
    assert cycle_line(standby, plain).endswith("[standby: another watcher holds the lease]")
