"""Producers and the canary on a real 3-broker KRaft cluster of this module's own.

Its own cluster (not the session sandbox): the tests kill and pause brokers.  Base port
TEST_BASE_PORT + 10 (brokers +10..12, controller +110, JMX exporters +160..162, +190): inside
this suite's 200-port range and apart from the session cluster's ports.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafkaops.sandbox.cluster import Sandbox
from kafkaops.sandbox.jars import DEFAULT_KAFKA_VERSION
from kafkaops.sandbox.workload import Workload
from tests.conftest import TEST_BASE_PORT, run_cli, unique, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.destructive]


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    root = Path(tempfile.mkdtemp(prefix="kafkaops-diagnose-"))
    sb = Sandbox(root)
    try:
        sb.up(
            brokers=3,
            controllers=1,
            version=os.environ.get("KAFKAOPS_TEST_KAFKA", DEFAULT_KAFKA_VERSION),
            base_port=TEST_BASE_PORT + 10,
            heap_mb=384,
            node_exporter=False,
        )
        yield sb
    finally:
        sb.down()
        shutil.rmtree(root, ignore_errors=True)


def _pid(box: Sandbox, node_id: int) -> int:
    [node] = [n for n in box.nodes() if n.node_id == node_id]
    assert node.pid
    return node.pid


def _producers(box: Sandbox, window: int) -> dict:
    proc = run_cli("producers", "--dir", str(box.root), "--window", str(window), "--json")
    assert proc.returncode in (0, 1, 2), proc.stderr
    return json.loads(proc.stdout)


def test_stopped_follower_shifts_produce_latency_to_remote_time(box: Sandbox) -> None:
    """acks=all producer (the sandbox workload); SIGKILL a broker: the surviving leaders'
    produce time grows, and the growth is in RemoteTimeMs (waiting for the dead follower
    until the controller fences it and the ISR shrinks), not in queue or local time."""
    # A light workload (30 records/s): the few requests stuck on the dead follower then weigh
    # on the window mean instead of being diluted by hundreds of fast ones.
    workload = Workload(box.bootstrap(), prefix=unique("wl"), rate=30)
    workload.setup()
    workload.start()
    try:
        wait_until(lambda: workload.stats.produced > 100, 60, what="workload traffic")
        before = {b["node_id"]: b for b in _producers(box, 5)["brokers"]}
        box.kill_node(3)
        report = _producers(box, 12)
        after = report
    finally:
        workload.stop()
        box.start_node(3)
    assert workload.stats.produced > 300
    survivors = [b for b in after["brokers"] if b["node_id"] in (1, 2)]
    assert next(b for b in after["brokers"] if b["node_id"] == 3)["error"]  # not scraped
    shifted = 0
    for b in survivors:
        b0 = before[b["node_id"]]
        if "TotalTimeMs" not in b0["mean_ms"] or "TotalTimeMs" not in b["mean_ms"]:
            continue  # led nothing the workload wrote to in one of the windows
        t0, t1 = b0["mean_ms"]["TotalTimeMs"], b["mean_ms"]["TotalTimeMs"]
        r0, r1 = b0["mean_ms"]["RemoteTimeMs"], b["mean_ms"]["RemoteTimeMs"]
        if t1 > t0 + 10:
            shifted += 1
            assert (r1 - r0) / (t1 - t0) > 0.8, (b0["mean_ms"], b["mean_ms"])
            assert b["dominant"]["component"] == "RemoteTimeMs"
            if t1 >= 100:  # slow enough to be a finding: named as replication, not the client
                causes = [c for c in report["causes"] if c["subject"] == f"broker {b['node_id']}"]
                assert any(c["code"] == "remote_time" and not c["client_side"] for c in causes)
    assert shifted, f"no latency shift measured: before {before}, after {survivors}"
    assert any(t["topic"].startswith("wl-") for t in after["topics"])


def test_canary_fails_a_paused_broker_still_in_metadata(box: Sandbox) -> None:
    """SIGSTOP a broker (a hung broker: its listener accepts, nothing answers).  Within the
    first rounds metadata still lists it and the canary names it: P1, exit 2."""
    others = ",".join(f"127.0.0.1:{n.port}" for n in box.nodes() if n.node_id in (1, 3))
    topic = unique("canary")
    missing = run_cli("canary", "--bootstrap", others, "--topic", topic)
    assert missing.returncode == 3 and "--create" in missing.stderr
    ok = run_cli("canary", "--bootstrap", others, "--topic", topic, "--create", "--json")
    assert ok.returncode == 0, ok.stderr
    healthy = json.loads(ok.stdout)
    assert healthy["created"] and {b["state"] for b in healthy["brokers"]} == {"ok"}
    assert {b["partitions"][0] for b in healthy["brokers"]} == {0, 1, 2}

    pid = _pid(box, 2)
    os.kill(pid, signal.SIGSTOP)
    try:
        proc = run_cli(
            "canary", "--bootstrap", others, "--topic", topic, "--timeout", "3s", "--json"
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    assert proc.returncode == 2, proc.stderr
    report = json.loads(proc.stdout)
    by_id = {b["node_id"]: b for b in report["brokers"]}
    assert 2 in by_id  # still listed in metadata
    assert by_id[2]["state"] == "failed"
    assert all(by_id[n]["state"] != "failed" for n in (1, 3))
    p1 = [f for f in report["findings"] if f["severity"] == "P1"]
    assert p1 and all(f["subject"] == "broker:2" for f in p1)


def test_watch_raises_the_canary_p1_within_two_cycles(box: Sandbox, tmp_path: Path) -> None:
    others = [f"127.0.0.1:{n.port}" for n in box.nodes() if n.node_id in (1, 2)]
    store = f"sqlite:///{tmp_path / 'store.db'}"
    config = tmp_path / "kafkaops.yaml"
    config.write_text(
        "clusters:\n"
        "  diag:\n"
        f"    bootstrap: {','.join(others)}\n"
        f"store:\n  url: {store}\n"
        "diagnose:\n  canary:\n    enabled: true\n    timeout: 3s\n"
    )
    warm = run_cli("watch", "-c", str(config), "--count", "1", "--interval", "2", "--json")
    assert warm.returncode == 0, warm.stderr
    pid = _pid(box, 3)
    os.kill(pid, signal.SIGSTOP)
    try:
        proc = run_cli(
            "watch", "-c", str(config), "--count", "2", "--interval", "2", "--json", timeout=120
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    cycles = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert len(cycles) == 2, proc.stderr
    assert any(c["clusters"][0]["severity"] in ("P1", "P0") for c in cycles)
    listed = run_cli("incidents", "list", "-c", str(config), "--status", "all", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "canary_produce_failed" in listed.stdout, (listed.stdout, proc.stderr[-3000:])
    # The canary is the SLO's availability signal: the failed rounds are bad minutes, named.
    slo = run_cli("slo", "-c", str(config), "--cluster", "diag", "--json")
    assert slo.returncode == 0, slo.stderr
    avail = json.loads(slo.stdout)["clusters"][0]["slis"]["availability"]
    assert avail["bad_minutes"] > 0, avail
    assert any("canary_produce_failed(broker:3)" in p["reason"] for p in avail["bad_periods"])


def test_audit_finds_each_deliberate_misconfiguration_and_none_on_a_clean_topic(
    box: Sandbox,
) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    p = unique("audit")
    day = "86400000"
    topics = {
        f"{p}-rf1": NewTopic(f"{p}-rf1", 1, 1),
        f"{p}-unclean": NewTopic(
            f"{p}-unclean", 1, 3, topic_configs={"unclean.leader.election.enable": "true"}
        ),
        f"{p}-minisr": NewTopic(f"{p}-minisr", 1, 3, topic_configs={"min.insync.replicas": "3"}),
        f"{p}-segment": NewTopic(
            f"{p}-segment", 1, 3, topic_configs={"segment.ms": day, "retention.ms": day}
        ),
        f"{p}-clean": NewTopic(f"{p}-clean", 3, 3, topic_configs={"min.insync.replicas": "2"}),
    }
    admin = KafkaAdminClient(bootstrap_servers=box.bootstrap(), request_timeout_ms=20_000)
    try:
        admin.create_topics(list(topics.values()))
    finally:
        admin.close()
    proc = run_cli("audit", "--dir", str(box.root), "--json")
    assert proc.returncode == 2, proc.stderr  # P1 findings
    found: dict[str, set[str]] = {}
    for f in json.loads(proc.stdout)["findings"]:
        found.setdefault(f["subject"], set()).add(f["rule"])
        assert f["fix"] and f["evidence"]
    assert "replication_factor_low" in found[f"topic:{p}-rf1"]
    assert found[f"topic:{p}-unclean"] == {"unclean_election_on"}
    assert found[f"topic:{p}-minisr"] == {"min_isr_not_below_rf"}
    assert found[f"topic:{p}-segment"] == {"segment_ms_not_below_retention"}
    assert f"topic:{p}-clean" not in found
    assert "listener_plaintext" in found["broker:1"]  # the sandbox's PLAINTEXT listener
