"""``dr verify`` on a real MirrorMaker 2 pair: its figures against what the test computes
from both clusters, a missing topic, a broken mirror, bad input."""

from __future__ import annotations

import json
import time

import pytest

from kafkaops.dr.collect import collect_facts
from kafkaops.dr.failover import Failover
from kafkaops.dr.settings import EndpointSwitch
from kafkaops.dr.verify import DrTargets, verify
from kafkaops.pipeline.dr_pair import resolve_pair
from tests.conftest import run_cli, wait_until
from tests.dr.conftest import SKIP_PREFIX, Pair
from tests.dr.helpers import (
    Missing,
    commit,
    create_topic,
    delete_topic,
    end_offsets,
    produce,
    read_at,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def report(pair: Pair, targets: DrTargets | None = None):
    p = resolve_pair(None, base_dir=pair.base)
    facts = collect_facts(
        p.primary, p.primary_kwargs, p.replica, p.replica_kwargs, p.policy, p.target_alias,
        replicator=p.replicator_state(),
    )  # fmt: skip
    return facts, verify(facts, targets or p.targets)


def mm2_warnings(pair: Pair, last: int = 3) -> list[str]:
    """The last WARN/ERROR lines of MirrorMaker 2's log (for a wait's failure message)."""
    log = pair.mirror.log_dir / "server.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return [x[:300] for x in lines if "] WARN " in x or "] ERROR " in x][-last:]


def verify_json(pair: Pair, *args: str) -> tuple[int, dict]:
    proc = run_cli("dr", "verify", "--json", *args, env=pair.env)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_verify_matches_both_clusters(dr_pair: Pair, unique_name: str) -> None:
    topic, group = f"t-{unique_name}", f"g-{unique_name}"
    primary_bs, replica_bs = dr_pair.primary.bootstrap(), dr_pair.replica.bootstrap()
    create_topic(primary_bs, topic, 2)
    # MM2 checkpoints a group only at an offset it can translate: at or after an offset sync
    # its checkpoint task holds (KAFKA-14666).  That task restarts, and reloads the syncs,
    # whenever a new group appears; a reload that could not read the checkpoints topic keeps
    # only the latest sync per partition.  So a group committed mid-topic before MM2 replicated
    # the topic may never be checkpointed.  The end of what was written is always translatable
    # (the latest sync is before it): commit there, then write as much again — the group has
    # then read about half of each partition.
    acked = produce(primary_bs, topic, 200)
    committed = end_offsets(primary_bs, topic)
    commit(primary_bs, group, {(topic, p): o for p, o in committed.items()})
    remote = f"default.{topic}"

    def checkpointed():
        _facts, r = report(dr_pair)
        rows = [g for g in r.groups if g.group == group]
        if len(rows) != 2:
            return Missing(
                f"group rows: {len(rows)} of 2 (groups: {sorted(_facts.primary.groups)})"
            )
        got = {g.partition: g.checkpoint_upstream for g in rows}
        if got != committed:
            return Missing(
                f"checkpoint upstream offsets {got} != committed {committed}; "
                f"MM2 warnings: {mm2_warnings(dr_pair)}"
            )
        return True

    def caught_up():
        ok = checkpointed()
        if not ok:
            return ok
        lags = [x for x in report(dr_pair)[1].partitions if x.topic == topic]
        if not lags or any(x.lag_records != 0 for x in lags):
            return Missing(f"lag: {[(x.partition, x.lag_records, x.method) for x in lags]}")
        return True

    wait_until(checkpointed, timeout=120, what="MM2 checkpointed the group")
    acked += produce(primary_bs, topic, 200, start=200)
    ends = end_offsets(primary_bs, topic)
    assert all(committed[p] < ends[p] for p in ends)
    wait_until(caught_up, timeout=120, what="MM2 replicated the second half, group checkpointed")
    _code, data = verify_json(dr_pair)
    assert data["policy"] == "default"
    row = next(t for t in data["topics"] if t["topic"] == topic)
    assert row["remote"] == remote and row["status"] == "ok"
    assert row["primary_partitions"] == row["replica_partitions"] == 2
    # Lag: the primary's end offsets are what the producer was acked; nothing is behind.
    for x in (x for x in data["partitions"] if x["topic"] == topic):
        assert x["primary_end"] == ends[x["partition"]]
        assert x["replica_end"] == end_offsets(replica_bs, remote)[x["partition"]]
        assert x["lag_records"] == 0 and x["lag_ms"] == 0
    # Translated offsets: the record at the translated replica offset carries a sequence
    # number; the producer's acks say at which primary offset that record was written.
    by_seq = {a.seq: a for a in acked}
    rows = [g for g in data["groups"] if g["group"] == group]
    assert len(rows) == 2
    for g in rows:
        p = g["partition"]
        assert g["primary_committed"] == committed[p]
        value = read_at(replica_bs, remote, p, g["translated"])
        assert value is not None, "translated offset points past the replica's end"
        truth = by_seq[int(value)].offset
        assert by_seq[int(value)].partition == p
        assert g["translated_upstream"] == truth
        assert g["replay_records"] == committed[p] - truth
        # MM2 translates conservatively: never ahead of the primary's committed offset.  How
        # far behind depends on which offset syncs MM2's OffsetSyncStore kept (it thins them
        # out exponentially), not just offset.lag.max: 100+ records were seen here.
        assert 0 <= g["replay_records"] <= committed[p]
        if g["replay_records"]:
            first = next(a for a in acked if a.partition == p and a.offset == truth)
            last = next(a for a in acked if a.partition == p and a.offset == committed[p] - 1)
            assert g["replay_ms"] == last.timestamp_ms - first.timestamp_ms
    assert data["heartbeat_age_ms"] is not None and data["heartbeat_age_ms"] < 10_000
    assert data["replicator"]["state"] == "RUNNING"
    assert data["rpo_estimate_ms"] == 0
    assert not [f for f in data["findings"] if f["rule"] in ("dr_rpo", "dr_heartbeat")]


def test_missing_topic_is_detected_under_policy_names(dr_pair: Pair, unique_name: str) -> None:
    primary_bs = dr_pair.primary.bootstrap()
    skipped, kept = f"{SKIP_PREFIX}{unique_name}", f"kept-{unique_name}"
    create_topic(primary_bs, skipped, 1)
    create_topic(primary_bs, kept, 3)
    produce(primary_bs, skipped, 5)
    wait_until(
        lambda: f"default.{kept}" in report(dr_pair)[0].replica.topics,
        timeout=60,
        what="MM2 created the remote topic",
    )
    code, data = verify_json(dr_pair)
    assert code == 2
    missing = next(f for f in data["findings"] if f["rule"] == "dr_missing_topic")
    assert missing["severity"] == "P1"
    assert f"{skipped} → expected default.{skipped} on dr" in missing["evidence"]
    # The replicated topic is found under its remote name, not reported missing.
    assert not [e for e in missing["evidence"] if e.startswith(f"{kept} ")]
    row = next(t for t in data["topics"] if t["topic"] == kept)
    assert row["remote"] == f"default.{kept}" and row["replica_partitions"] == 3
    # The unreplicated topic's records count in the RPO estimate: they are unprotected.
    lag = next(x for x in data["partitions"] if x["topic"] == skipped)
    assert (lag["method"], lag["lag_records"]) == ("missing on replica", 5)
    # Leave the shared pair without an unprotected topic (the failover tests need a clean RPO).
    delete_topic(primary_bs, skipped)


def test_stopped_mirror_lag_grows_into_a_p1(dr_pair: Pair, unique_name: str, tmp_path) -> None:
    """… and ``dr failover --apply`` refuses a replica behind the RPO (the same stopped
    mirror: one MM2 restart less for the DR tests)."""
    topic = f"t-{unique_name}"
    primary_bs = dr_pair.primary.bootstrap()
    create_topic(primary_bs, topic, 1)
    produce(primary_bs, topic, 20)
    wait_until(
        lambda: any(x.topic == topic and x.lag_records == 0 for x in report(dr_pair)[1].partitions),
        timeout=60,
        what="the topic replicated",
    )
    dr_pair.mirror.down()
    try:
        acked = produce(primary_bs, topic, 37, start=20)
        targets = DrTargets(rpo_ms=3_000, rto_ms=300_000, heartbeat_max_age_ms=2_000)
        _f, first = report(dr_pair, targets)
        lag = next(x for x in first.partitions if x.topic == topic)
        assert lag.lag_records == 37
        assert lag.replicated_upto == acked[0].offset
        time.sleep(4)
        facts, later = report(dr_pair, targets)
        lag2 = next(x for x in later.partitions if x.topic == topic)
        assert lag2.lag_records == 37
        # Age of the first unreplicated record, from its own timestamp on the primary.
        assert lag2.lag_ms == facts.collected_at_ms - acked[0].timestamp_ms
        assert lag2.lag_ms > lag.lag_ms >= 0
        rules = {f.rule: f for f in later.findings}
        assert rules["dr_rpo"].severity.value == "P1"
        assert later.rpo_estimate_ms is not None and later.rpo_estimate_ms >= lag2.lag_ms
        assert rules["dr_heartbeat"].severity.value == "P1"
        assert rules["dr_replicator_state"].severity.value == "P1"
        code, data = verify_json(dr_pair)
        assert code == 2 and data["replicator"]["state"] == "STOPPED"
        # Failover preflight: behind the RPO → refused, nothing switched, the refusal audited.
        pair = resolve_pair(None, base_dir=dr_pair.base)
        pair.settings = pair.settings.model_copy(update={"rpo": 1_000})
        switch = tmp_path / "bootstrap"
        res = Failover(
            pair, switch=EndpointSwitch(type="file", path=str(switch)), audit_log=tmp_path / "a"
        ).run(apply=True)
        assert not res.ok and len(res.steps) == 1
        assert "replication behind" in res.steps[0].detail
        assert "--accept-data-loss" in res.steps[0].detail
        assert not switch.exists()
        audit = json.loads((tmp_path / "a").read_text().splitlines()[-1])
        assert audit["event"] == "dr_failover" and audit["ok"] is False
    finally:
        dr_pair.restart_mirror()
    wait_until(
        lambda: next(x for x in report(dr_pair)[1].partitions if x.topic == topic).lag_records == 0,
        timeout=90,
        what="replication caught up after MM2 restarted",
    )


def test_bad_input_gives_a_reason_and_changes_nothing(dr_pair: Pair, tmp_path) -> None:
    before = sorted(report(dr_pair)[0].replica.groups)
    proc = run_cli("dr", "verify", "--to", "nosuch", env=dr_pair.env)
    assert proc.returncode == 3 and "unknown cluster 'nosuch'" in proc.stderr
    proc = run_cli("dr", "verify", "--policy", "identity", env=dr_pair.env)
    assert proc.returncode == 3 and "policy mismatch" in proc.stderr
    cfg = tmp_path / "k.yaml"
    cfg.write_text(
        "clusters:\n"
        f"  prim: {{bootstrap: '{dr_pair.primary.bootstrap()}'}}\n"
        f"  rep: {{bootstrap: '{dr_pair.replica.bootstrap()}'}}\n"
        "dr: {primary: prim, replica: nope}\n"
    )
    proc = run_cli("dr", "verify", "--config", str(cfg))
    assert proc.returncode == 3
    assert "dr.replica: unknown cluster 'nope'" in proc.stderr and "Traceback" not in proc.stderr
    # A config naming the pair with the wrong policy: the replica's names say which it is.
    cfg.write_text(
        "clusters:\n"
        f"  default: {{bootstrap: '{dr_pair.primary.bootstrap()}'}}\n"
        f"  dr: {{bootstrap: '{dr_pair.replica.bootstrap()}'}}\n"
        "dr: {primary: default, replica: dr, replication_policy: identity}\n"
    )
    proc = run_cli("dr", "verify", "--config", str(cfg))
    assert proc.returncode == 3 and "policy mismatch" in proc.stderr, proc.stderr
    assert sorted(report(dr_pair)[0].replica.groups) == before
