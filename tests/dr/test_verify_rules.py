"""The verification rules on hand-built facts (pure: no cluster, no clock)."""

from __future__ import annotations

from kafkaops.dr.codec import Checkpoint, Heartbeat, OffsetSync
from kafkaops.dr.facts import ClusterFacts, DrFacts, GroupFacts, TopicFacts
from kafkaops.dr.policy import ReplicationPolicy
from kafkaops.dr.verify import DrTargets, policy_mismatch, verify

NOW = 1_800_000_000_000


def facts(**kw) -> DrFacts:
    primary = ClusterFacts(
        "prod",
        "p:9092",
        True,
        topics={
            "orders": TopicFacts("orders", 1, {"retention.ms": "604800000"}, {0: 0}, {0: 1000}),
            "audit": TopicFacts("audit", 2, {}, {0: 0, 1: 0}, {0: 0, 1: 0}),
        },
        groups={"billing": GroupFacts("billing", "Stable", 2, {("orders", 0): 900})},
    )
    replica = ClusterFacts(
        "dr",
        "r:9092",
        True,
        topics={
            "prod.orders": TopicFacts(
                "prod.orders", 1, {"retention.ms": "86400000"}, {0: 0}, {0: 950}
            ),
            "prod.gone": TopicFacts("prod.gone", 1, {}, {0: 0}, {0: 5}),
        },
    )
    syncs = [OffsetSync("orders", 0, 0, 0), OffsetSync("orders", 0, 940, 940)]
    cp = Checkpoint("billing", "prod.orders", 0, 900, 880, "", NOW - 5000)
    base = dict(
        collected_at_ms=NOW,
        policy=ReplicationPolicy("default", "prod"),
        target_alias="dr",
        primary=primary,
        replica=replica,
        offset_syncs={("orders", 0): syncs},
        checkpoints={("billing", "prod.orders", 0): cp},
        heartbeats={("prod", "dr"): Heartbeat("prod", "dr", NOW - 1000)},
        primary_timestamps={
            ("orders", 0, 950): NOW - 90_000,
            ("orders", 0, 880): NOW - 200_000,
            ("orders", 0, 899): NOW - 150_000,
        },
    )
    base.update(kw)
    return DrFacts(**base)


def test_lag_rpo_and_findings() -> None:
    r = verify(facts(), DrTargets(rpo_ms=60_000, heartbeat_max_age_ms=30_000))
    lag = next(p for p in r.partitions if p.topic == "orders")
    # Replica end 950 ↔ sync (940, 940): upstream 950 replicated; primary end 1000.
    assert (lag.replicated_upto, lag.lag_records, lag.lag_ms) == (950, 50, 90_000)
    assert r.rpo_estimate_ms == 90_000
    # A topic missing on the replica counts in the RPO (its records are unprotected).
    audit = [p for p in r.partitions if p.topic == "audit"]
    assert [(p.method, p.lag_records) for p in audit] == [("missing on replica", 0)] * 2
    rules = {f.rule: f for f in r.findings}
    assert rules["dr_rpo"].severity.value == "P1"
    # audit has no remote topic at all; prod.gone has no source any more.
    assert rules["dr_missing_topic"].subject == "audit"
    assert r.extra_topics == ("prod.gone",)
    assert rules["dr_config_diff"].evidence == (
        "orders: retention.ms primary=604800000 replica=86400000",
    )
    g = r.groups[0]
    # Checkpoint 900 → 880 on the replica; sync (940,940) is past 880, so (0,0) applies.
    assert (g.translated, g.translated_upstream, g.replay_records) == (880, 880, 20)
    assert g.replay_ms == 50_000 and g.checkpoint_age_ms == 5000
    assert "dr_heartbeat" not in rules
    assert r.severity.value == "P1"


def test_stale_heartbeat_and_stopped_replicator() -> None:
    f = facts(heartbeats={("prod", "dr"): Heartbeat("prod", "dr", NOW - 120_000)},
              replicator={"name": "mm2", "state": "STOPPED"})  # fmt: skip
    rules = {x.rule: x for x in verify(f).findings}
    assert rules["dr_heartbeat"].severity.value == "P1"
    assert rules["dr_replicator_state"].severity.value == "P1"
    rules = {x.rule: x for x in verify(facts(heartbeats={})).findings}
    assert rules["dr_heartbeat"].value is None


def test_no_checkpoint_and_unmeasurable_lag() -> None:
    f = facts(checkpoints={}, offset_syncs={})
    r = verify(f)
    rules = {x.rule: x for x in r.findings}
    assert rules["dr_no_checkpoint"].subject == "billing"
    assert rules["dr_lag_not_measured"].evidence[0] == "orders[0]: no offset sync"
    assert r.rpo_estimate_ms is None


def test_unreachable_primary_is_p1_and_nothing_else_is_guessed() -> None:
    f = facts(primary=ClusterFacts("prod", "p:9092", False, "KafkaTimeoutError: no bootstrap"))
    r = verify(f)
    assert [x.rule for x in r.findings if x.severity.value == "P1"] == ["dr_primary_unreachable"]
    assert r.rpo_estimate_ms is None and r.partitions == () and r.groups == ()


def test_policy_mismatch_is_named() -> None:
    f = facts(policy=ReplicationPolicy("identity", "prod"))
    msg = policy_mismatch(f)
    assert msg and "'prod.orders'" in msg and "'orders'" in msg
    assert policy_mismatch(facts()) is None
