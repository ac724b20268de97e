"""Failover on the real pair: the plan changes nothing, a replica behind the RPO is refused,
and the drill — primary brokers killed mid-stream, ``failover --apply`` — brings the consumer
group up on the replica from its translated offsets with no acknowledged record lost beyond
the measured RPO.  (Named ``zy`` so it runs after the verify tests on the shared pair.)"""

from __future__ import annotations

import json
import time

import pytest

from kafkaops.collect.topic_reader import read_topic
from kafkaops.dr.drill import Drill
from kafkaops.dr.drill_report import render_drill
from kafkaops.dr.failover import Failover
from kafkaops.dr.settings import EndpointSwitch
from kafkaops.pipeline.dr_pair import resolve_pair
from tests.conftest import run_cli, wait_until
from tests.dr.conftest import Pair
from tests.dr.helpers import commit, create_topic, produce

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
    commit(bs, group, {(topic, 0): 25})
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


def test_replica_behind_the_rpo_is_refused(dr_pair: Pair, unique_name: str, tmp_path) -> None:
    topic = f"t-{unique_name}"
    bs = dr_pair.primary.bootstrap()
    create_topic(bs, topic, 1)
    produce(bs, topic, 5)
    pair = resolve_pair(None, base_dir=dr_pair.base)
    pair.settings = pair.settings.model_copy(update={"rpo": 1_000})
    dr_pair.mirror.down()
    try:
        produce(bs, topic, 10, start=5)
        time.sleep(2)
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
