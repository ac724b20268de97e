"""`kafkaops health` against the real sandbox: the runbook's P0/P1/P2 classification."""

from __future__ import annotations

import time

import pytest

from kafkaops.collect.snapshot import collect_snapshot
from tests import kafka_helpers as kh
from tests.conftest import health_json, run_cli, wait_until

pytestmark = pytest.mark.integration


def _rules(report: dict) -> dict[str, dict]:
    return {f"{f['rule']}:{f['subject']}": f for f in report["findings"]}


def test_healthy_cluster_exits_zero_with_daily_check_facts(sandbox, bootstrap, unique_name):
    kh.wait_no_urp(bootstrap)
    code, report = health_json("--bootstrap", bootstrap)
    triggered = [f for f in report["findings"] if f["rule"] != "consumer_lag"]
    assert triggered == [], triggered
    assert report["reachable"] is True
    summary = report["summary"]
    assert summary["brokers"] == 3
    assert summary["brokers_reachable"] == 3
    assert summary["active_controller"] == 100
    # The admin protocol cannot measure these yet: listed, never silently healthy.
    not_measured = {n["rule"] for n in report["not_measured"]}
    assert {"broker_cpu", "broker_memory", "producer_error_rate"} <= not_measured
    if not report["findings"]:
        assert code == 0 and report["overall_healthy"] is True


def test_stopped_broker_is_p1_naming_under_replicated_partitions(sandbox, bootstrap, unique_name):
    topic = unique_name
    kh.create_topic(bootstrap, topic, partitions=3, rf=3)
    sandbox.stop_node(2)
    try:

        def urp_report():
            code, report = health_json("--bootstrap", f"127.0.0.1:{sandbox._node(1).port}")
            return (
                (code, report) if "under_replicated_partitions:cluster" in _rules(report) else None
            )

        code, report = wait_until(urp_report, timeout=60, what="URP finding")
        assert code == 2, report["findings"][:2]
        assert report["severity"] in ("P1", "P0")
        urp = _rules(report)["under_replicated_partitions:cluster"]
        assert urp["severity"] == "P1"
        assert urp["value"] >= 3
        evidence = " ".join(urp["evidence"])
        for p in range(3):
            assert f"{topic}-{p}" in evidence
        assert urp["threshold"] == 0
        assert report["overall_healthy"] is False
    finally:
        sandbox.start_node(2)
        kh.wait_no_urp(bootstrap)


def test_offline_partitions_are_p0(sandbox, bootstrap, unique_name):
    topic = unique_name
    # Replication factor 1, both replicas on broker 3: stopping it takes them offline.
    kh.create_topic(bootstrap, topic, assignment={0: [3], 1: [3]})
    sandbox.stop_node(3)
    try:

        def offline_report():
            code, report = health_json("--bootstrap", f"127.0.0.1:{sandbox._node(1).port}")
            return (code, report) if "offline_partitions:cluster" in _rules(report) else None

        code, report = wait_until(offline_report, timeout=60, what="offline partitions")
        assert code == 2, report["findings"][:2]
        assert report["severity"] == "P0"
        offline = _rules(report)["offline_partitions:cluster"]
        assert offline["severity"] == "P0"
        assert offline["value"] == 2
        assert f"{topic}-0" in " ".join(offline["evidence"])
        assert report["findings"][0]["severity"] == "P0"  # worst first
    finally:
        sandbox.start_node(3)
        kh.wait_no_urp(bootstrap)


def test_no_active_controller_is_p0(sandbox, bootstrap):
    snap = collect_snapshot("t", {"bootstrap_servers": bootstrap})
    assert snap.quorum_leader_id == 100
    assert snap.quorum_voters == (100,)
    sandbox.stop_node(100)
    try:

        def no_controller():
            code, report = health_json("--bootstrap", bootstrap)
            return (code, report) if "active_controller:cluster" in _rules(report) else None

        code, report = wait_until(no_controller, timeout=60, what="no-controller finding")
        assert code == 2, report["findings"][:2]
        assert _rules(report)["active_controller:cluster"]["severity"] == "P0"
    finally:
        sandbox.start_node(100)
        wait_until(
            lambda: collect_snapshot("t", {"bootstrap_servers": bootstrap}).quorum_leader_id == 100,
            timeout=60,
            what="controller back",
        )
        kh.wait_no_urp(bootstrap)


@pytest.mark.parametrize(
    ("age_s", "severity"),
    [(10 * 60, "P1"), (2 * 60, "P2"), (5, None)],
    ids=["10min-P1", "2min-P2", "5s-ok"],
)
def test_consumer_time_lag_thresholds(bootstrap, unique_name, age_s, severity):
    """Records backdated by a known age, a group committed before them: exact time lag."""
    topic, group = unique_name, unique_name + "-g"
    kh.create_topic(bootstrap, topic, partitions=2, rf=3)
    kh.produce(bootstrap, topic, 5, 2, timestamp_ms=int((time.time() - age_s) * 1000))
    kh.commit(bootstrap, group, {(topic, 0): 1, (topic, 1): 0})
    code, report = health_json("--bootstrap", bootstrap)
    finding = _rules(report).get(f"consumer_lag:{group}")
    if severity is None:
        assert finding is None
        return
    assert finding is not None, report["findings"]
    assert finding["severity"] == severity
    assert finding["unit"] == "ms"
    assert abs(finding["value"] - age_s * 1000) < 15_000
    assert finding["threshold"] == (300_000 if severity == "P1" else 60_000)
    assert "exact" in " ".join(finding["evidence"])
    assert code == 2 if severity == "P1" else code in (1, 2)


def test_unreachable_cluster_one_line_exit_3_within_timeout():
    started = time.monotonic()
    proc = run_cli("health", "--bootstrap", "127.0.0.1:1", timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "unreachable" in (proc.stdout + proc.stderr).lower()
    assert elapsed < 30


def test_unreachable_cluster_json_is_p0_cluster_offline():
    code, report = health_json("--bootstrap", "127.0.0.1:1")
    assert code == 3
    assert report["reachable"] is False
    assert report["severity"] == "P0"
    assert report["findings"][0]["rule"] == "cluster_offline"


def test_paused_broker_is_reported_not_waited_on(sandbox, bootstrap, tmp_path):
    """SIGSTOP a broker (a hung host): the check finishes within its timeouts and names it."""
    import os
    import signal

    cfg = tmp_path / "k.yaml"
    cfg.write_text(
        f"clusters:\n  s:\n    bootstrap: 127.0.0.1:{sandbox._node(1).port}\n"
        "    timeouts:\n      request: 3s\n      connect: 3s\n"
    )
    pid = next(n.pid for n in sandbox.status() if n.node_id == 3)
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        code, report = health_json("--config", str(cfg), "--cluster", "s")
        elapsed = time.monotonic() - started
        assert elapsed < 45, elapsed
        assert code == 2, [f["evidence"] for f in report["findings"]][:2]
        down = _rules(report)["broker_unreachable:cluster"]
        assert "broker 3" in " ".join(down["evidence"])
    finally:
        os.kill(pid, signal.SIGCONT)
        kh.wait_no_urp(bootstrap)
