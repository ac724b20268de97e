"""Failover on the real pair: the plan changes nothing (a replica behind the RPO is refused in
test_verify_pair's stopped-mirror test); the drill — primary brokers killed mid-stream,
``failover --apply`` — brings the consumer group up on the replica from its translated offsets
with no acknowledged record lost beyond the measured RPO; ``failback`` through a reverse mirror
brings it back to the primary.  (Named ``zy`` so it runs after the verify tests.)"""

from __future__ import annotations

import json

import pytest

from kafkaops.collect.topic_reader import read_topic
from kafkaops.dr.drill import Drill
from kafkaops.dr.drill_report import render_drill
from kafkaops.dr.failover import Failover
from kafkaops.pipeline.dr_pair import resolve_pair
from kafkaops.sandbox.mirror import Mirror
from tests.conftest import run_cli, wait_until
from tests.dr.conftest import MIRROR_EXTRA, Pair
from tests.dr.helpers import commit, consume, create_topic, end_offsets, produce, read_at

pytestmark = [pytest.mark.integration, pytest.mark.destructive, pytest.mark.timeout(900)]


def _replica_offsets(pair: Pair, group: str) -> dict:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=pair.replica.bootstrap())
    try:
        got = admin.list_group_offsets({group: None}).get(group, {})
        return {(tp.topic, tp.partition): om.offset for tp, om in got.items()}
    finally:
        admin.close()


def test_plan_changes_nothing(dr_pair: Pair, unique_name: str, tmp_path) -> None:
    topic, group = f"t-{unique_name}", f"g-{unique_name}"
    bs = dr_pair.primary.bootstrap()
    create_topic(bs, topic, 1)
    produce(bs, topic, 30)
    # At the end of what was written: always translatable by MM2 (see test_verify_pair).
    commit(bs, group, {(topic, 0): 30})
    pair = resolve_pair(None, base_dir=dr_pair.base)
    wait_until(
        lambda: any(g == group for g, _t, _p in Failover(pair).collect().checkpoints),
        timeout=60,
        what="a checkpoint for the group",
    )
    before = _replica_offsets(dr_pair, group)
    switch = tmp_path / "bootstrap"
    switch.write_text(bs + "\n")
    proc = run_cli("dr", "failover", "--json", "--switch-file", str(switch), env=dr_pair.env)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["mode"] == "plan" and plan["ok"]
    assert [s["status"] for s in plan["steps"]][:2] == ["planned", "planned"]
    assert f"write {dr_pair.replica.bootstrap()} to {switch}" in plan["steps"][4]["detail"]
    assert dr_pair.mirror.running()
    assert switch.read_text().strip() == bs
    assert _replica_offsets(dr_pair, group) == before


def test_drill_primary_killed_consumer_resumes_on_replica(dr_pair: Pair, tmp_path) -> None:
    pair = resolve_pair(None, base_dir=dr_pair.base)
    drill = Drill(pair, rate=40, warmup_s=6, after_s=8, fail_back=False, workdir=tmp_path,
                  progress=print)  # fmt: skip
    try:
        report = drill.run()
        assert report.failover["ok"], report.failover
        # The truth from both clusters (the primary's brokers back, MM2 still stopped).
        for n in dr_pair.primary.nodes():
            if n.role == "broker":
                dr_pair.primary.start_node(n.node_id)
        on_primary = {int(r.value): r for r in read_topic(pair.primary_kwargs, report.topic)}
        on_replica = {int(r.value) for r in read_topic(pair.replica_kwargs, report.remote_topic)}
        acked_p = {a.seq for a in drill.producer.acks if a.cluster == "primary"}
        acked_r = {a.seq for a in drill.producer.acks if a.cluster == "replica"}
        # Every record the primary acknowledged is on the primary's disk …
        assert acked_p <= set(on_primary)
        # … and on the replica unless it is among the lost ones the drill measured (RPO).
        lost = acked_p - on_replica
        assert set(report.lost_seqs) == lost and report.rpo_records == len(lost)
        assert acked_r <= on_replica
        # The group came up on the replica at its translated offsets.
        translated = report.failover["groups"][report.group]
        first = {}
        for cluster, part, offset, _seq in drill.consumer.seen:
            if cluster == "replica":
                first.setdefault(part, offset)
        assert first, "the consumer read nothing on the replica"
        for part, offset in first.items():
            assert offset == translated[f"{report.remote_topic}:{part}"]
        # Duplicates: records consumed on the primary and again on the replica (the replay).
        seen_p = [s for c, _p, _o, s in drill.consumer.seen if c == "primary"]
        seen_r = [s for c, _p, _o, s in drill.consumer.seen if c == "replica"]
        assert report.duplicates == len(set(seen_p) & set(seen_r)) + (
            len(seen_p) - len(set(seen_p)) + len(seen_r) - len(set(seen_r))
        )
        assert report.gaps == 0
        assert report.rto_s is not None and 0 < report.rto_s < 300
        assert report.rpo_s < 60
        # The report's timeline counts every replica ack; its page draws it (review style).
        assert sum(r["acked_replica"] for r in report.timeline) == len(acked_r) > 0
        assert 'id="chart-timeline"><svg' in render_drill(report).html
        print(
            f"DRILL rto_s={report.rto_s} rpo_s={report.rpo_s} rpo_records={report.rpo_records} "
            f"duplicates={report.duplicates} gaps={report.gaps} acked={len(acked_p)}"
        )
    finally:
        for n in dr_pair.primary.nodes():
            if n.role == "broker":
                dr_pair.primary.start_node(n.node_id)
        dr_pair.restart_mirror()


def test_failback_consumer_resumes_on_the_primary(
    dr_pair: Pair, unique_name: str, tmp_path
) -> None:
    """Fail over, write on the replica, fail back through a reverse mirror (``dr failback``):
    the group resumes on the primary, every acknowledged record was read, and the duplicates
    are exactly the replays the two translated offsets imply.

    The applications follow MM2's active/passive pattern: they write to ``T`` on whichever
    cluster serves and read ``T`` plus the other cluster's copy (``default.T`` on dr,
    ``dr.T`` on default): MM2 never copies ``default.T`` back (a cycle), but it copies the
    replica's own ``T`` to ``dr.T`` and checkpoints the group there."""
    topic, group = f"fb-{unique_name}", f"gfb-{unique_name}"
    primary_bs, replica_bs = dr_pair.primary.bootstrap(), dr_pair.replica.bootstrap()
    switch = tmp_path / "bootstrap"
    switch.write_text(primary_bs + "\n")
    create_topic(primary_bs, topic, 1)
    acked = produce(primary_bs, topic, 60)
    seen_p1 = consume(primary_bs, group, [topic])
    pair = resolve_pair(None, base_dir=dr_pair.base)
    wait_until(
        lambda: Failover(pair).collect().checkpoints.get((group, f"default.{topic}", 0)),
        timeout=60,
        what="a forward checkpoint for the group",
    )
    # Fail over (stops the forward mirror, commits the translated offset on dr).
    proc = run_cli("dr", "failover", "--apply", "--json", "--group", group,
                   "--switch-file", str(switch), env=dr_pair.env)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    forward = json.loads(proc.stdout)["groups"][group][f"default.{topic}:0"]
    assert switch.read_text().strip() == replica_bs
    # Serving from dr: read, write 40 and read them, write 20 more that wait for the failback.
    create_topic(replica_bs, topic, 1)
    acked += produce(replica_bs, topic, 40, start=60)
    seen_r = consume(replica_bs, group, [f"default.{topic}", topic])
    acked += produce(replica_bs, topic, 20, start=100)
    # Fail back: the reverse mirror dr -> default first.
    reverse = Mirror("dr", "default", base_dir=dr_pair.base)
    try:
        reverse.up(policy="default", extra=MIRROR_EXTRA)
        reverse.wait_flowing(timeout_s=240)
        back = resolve_pair(None, source="dr", target="default", base_dir=dr_pair.base)
        wait_until(
            lambda: (
                Failover(back).collect().checkpoints.get((group, f"dr.{topic}", 0))
                and end_offsets(primary_bs, f"dr.{topic}") == {0: 60}
            ),
            timeout=90,
            what="the reverse mirror copied dr's topic and checkpointed the group",
        )
        proc = run_cli("dr", "failback", "--apply", "--json", "--group", group,
                       "--switch-file", str(switch), env=dr_pair.env)  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        res = json.loads(proc.stdout)
        assert (res["primary"], res["replica"]) == ("dr", "default")
        assert not reverse.running()  # the failback stopped the reverse mirror
    finally:
        reverse.down()
    backward = res["groups"][group][f"dr.{topic}:0"]
    assert switch.read_text().strip() == primary_bs
    # The group resumes on the primary: its own topic where it left it (nothing new there),
    # dr's copy from the translated offset.
    seen_p2 = consume(primary_bs, group, [topic, f"dr.{topic}"])
    assert seen_p2 and seen_p2[0][:3] == (f"dr.{topic}", 0, backward)
    everything = [s for *_x, s in seen_p1 + seen_r + seen_p2]
    # No acknowledged record lost …
    assert {a.seq for a in acked} <= set(everything)

    # … and the duplicates are the two replays: default.T from the forward translated offset
    # up to what the group had read on the primary (seq 59), dr.T from the backward one up to
    # what it had read on dr (seq 99).  Which seq sits at a translated offset: read it.
    def seq_at(bootstrap: str, remote: str, offset: int, default: int) -> int:
        value = read_at(bootstrap, remote, 0, offset)
        return default if value is None else int(value)

    fwd_from = seq_at(replica_bs, f"default.{topic}", forward, 60)
    back_from = seq_at(primary_bs, f"dr.{topic}", backward, 100)
    replay_fwd = [s for t, _p, _o, s in seen_r if t == f"default.{topic}"]
    replay_back = [s for t, _p, _o, s in seen_p2 if t == f"dr.{topic}" and s < 100]
    assert replay_fwd == list(range(fwd_from, 60))
    assert replay_back == list(range(back_from, 100))
    duplicates = len(everything) - len(set(everything))
    assert duplicates == len(replay_fwd) + len(replay_back)
    print(f"FAILBACK duplicates={duplicates} (forward replay {len(replay_fwd)}, "
          f"backward replay {len(replay_back)}), acked={len(acked)}")  # fmt: skip
