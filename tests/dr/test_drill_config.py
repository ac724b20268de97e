"""``dr drill`` on a configured pair (the ``dr:`` section of a config file, not the sandbox
pair): nothing is killed — the drill's own clients lose the primary (a simulated outage) — and
the drill moves only its own clients: the configured fence command and endpoint switch are not
run, MM2 keeps running, and the drill's topic and group are gone afterwards.  Real Kafka and a
real MirrorMaker 2 either way (the DR pair, named in a config file)."""

from __future__ import annotations

import json

import pytest
from kafka import KafkaAdminClient

from kafkaops.collect.topic_reader import read_topic
from kafkaops.dr.drill import Drill
from kafkaops.pipeline.dr_pair import resolve_pair
from tests.conftest import run_cli
from tests.dr.conftest import Pair

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _topics(bootstrap: str) -> set[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def test_drill_on_a_configured_pair(dr_pair: Pair, tmp_path) -> None:
    app_endpoint, audit = tmp_path / "app.bootstrap", tmp_path / "audit.jsonl"
    cfg = tmp_path / "kafkaops.yaml"
    # Cluster names are MM2's aliases (default -> dr), as on a real deployment's dr: section.
    cfg.write_text(
        "clusters:\n"
        f"  default: {{bootstrap: '{dr_pair.primary.bootstrap()}'}}\n"
        f"  dr: {{bootstrap: '{dr_pair.replica.bootstrap()}'}}\n"
        "dr:\n  primary: default\n  replica: dr\n"
        f"  audit_log: {audit}\n"
        "  fence_command: 'false'\n"  # would fail the failover if a drill ran it
        f"  switch: {{type: file, path: {app_endpoint}}}\n"
    )
    # Bad input through the CLI: one line, nothing run.
    proc = run_cli("dr", "drill", "--config", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 3 and "Traceback" not in proc.stderr

    pair = resolve_pair(cfg)
    assert pair.mirror is None  # a configured pair, not the sandbox's
    drill = Drill(pair, rate=40, warmup_s=3, after_s=4, workdir=tmp_path, progress=print)
    report = drill.run()
    try:
        assert report.outage == "simulated" and report.failover["ok"], report.failover
        steps = {s["name"]: s for s in report.failover["steps"]}
        assert steps["stop replication"]["status"] == "skipped"
        assert steps["fence producers"]["status"] == "skipped"
        assert not app_endpoint.exists()  # the applications' endpoint is untouched
        assert dr_pair.mirror.running() and dr_pair.primary.bootstrap()
        assert json.loads(audit.read_text().splitlines()[-1])["event"] == "dr_failover"
        # The truth from both clusters.
        on_primary = {int(r.value) for r in read_topic(pair.primary_kwargs, report.topic)}
        acked_p = {a.seq for a in drill.producer.acks if a.cluster == "primary"}
        acked_r = {a.seq for a in drill.producer.acks if a.cluster == "replica"}
        assert acked_p and acked_r and acked_p <= on_primary
        assert drill.replica_at_outage is not None
        assert set(report.lost_seqs) == acked_p - drill.replica_at_outage
        # No acknowledged record lost: all that the replica held at the outage or was written
        # to it afterwards reached the consumer (on the primary before, the replica after).
        consumed = {s for _c, _p, _o, s in drill.consumer.seen}
        assert (acked_p & drill.replica_at_outage) | acked_r <= consumed
        assert report.gaps == 0 and report.duplicates >= 0
        # The group resumed on the replica at (or, after MM2's own group sync, past) the
        # translated offsets the failover committed.
        translated = report.failover["groups"][report.group]
        first: dict[int, int] = {}
        for cluster, part, offset, _seq in drill.consumer.seen:
            if cluster == "replica":
                first.setdefault(part, offset)
        assert first
        for part, offset in first.items():
            assert offset >= translated[f"{report.remote_topic}:{part}"]
        assert report.rto_s is not None and 0 < report.rto_s < 300
        print(
            f"DRILL(config) rto_s={report.rto_s} rpo_records={report.rpo_records} "
            f"duplicates={report.duplicates} acked={len(acked_p)}+{len(acked_r)}"
        )
    finally:
        left = drill.cleanup()
    assert left == []
    assert report.topic not in _topics(dr_pair.primary.bootstrap())
    assert report.remote_topic not in _topics(dr_pair.replica.bootstrap())
