"""The sandbox CLI: status, stop/start/kill, real JVMs."""

from __future__ import annotations

import json

import psutil
import pytest

from tests import kafka_helpers as kh
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def test_status_json_lists_every_node_with_pid(sandbox):
    proc = run_cli("sandbox", "status", "--json", "--dir", str(sandbox.root))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["bootstrap"] == sandbox.bootstrap()
    brokers = [n for n in data["nodes"] if n["role"] == "broker"]
    assert [b["node_id"] for b in brokers] == [1, 2, 3]
    for n in data["nodes"]:
        assert n["up"] is True
        assert psutil.Process(n["pid"]).is_running()
        assert any("kafka.Kafka" in part for part in psutil.Process(n["pid"]).cmdline())


def test_kill_broker_then_start_broker_via_cli(sandbox, bootstrap):
    d = str(sandbox.root)
    pid = next(n.pid for n in sandbox.status() if n.node_id == 3)
    proc = run_cli("sandbox", "kill-broker", "3", "--dir", d)
    assert proc.returncode == 0, proc.stderr
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    status = {n.node_id: n for n in sandbox.status()}
    assert status[3].up is False and status[3].pid is None
    proc = run_cli("sandbox", "start-broker", "3", "--dir", d, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert {n.node_id: n for n in sandbox.status()}[3].up is True
    kh.wait_no_urp(bootstrap)


def test_unknown_node_is_one_line_error(sandbox):
    proc = run_cli("sandbox", "stop-broker", "42", "--dir", str(sandbox.root))
    assert proc.returncode == 3
    assert "no sandbox node with id 42" in proc.stderr
    assert "Traceback" not in proc.stderr


def _scrape(port: int) -> dict[str, float]:
    """The unlabelled samples of one JMX exporter endpoint (name → value)."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.partition(" ")
            samples[name] = float(value.split()[0])
    return samples


def test_every_node_exposes_open_monitoring_metrics(sandbox, bootstrap, unique_name):
    """Like MSK Open Monitoring: the JMX exporter agent on every node, runbook metrics named."""
    kh.create_topic(bootstrap, unique_name, partitions=3, rf=3)
    kh.produce(bootstrap, unique_name, 5, 3)
    nodes = sandbox.status()
    assert all(n.metrics_port for n in nodes), nodes
    brokers = [n for n in nodes if n.role == "broker"]
    produce_requests = 0.0
    for b in brokers:
        m = _scrape(b.metrics_port)
        assert m["kafka_server_replicamanager_underreplicatedpartitions"] == 0
        assert "kafka_server_brokertopicmetrics_failedproducerequests_total" in m
        assert "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent" in m
        assert "java_lang_operatingsystem_cpuload" in m
        produce_requests += m["kafka_server_brokertopicmetrics_totalproducerequests_total"]
    assert produce_requests > 0
    [controller] = [n for n in nodes if n.role == "controller"]
    m = _scrape(controller.metrics_port)
    assert m["kafka_controller_kafkacontroller_activecontrollercount"] == 1
    assert m["kafka_controller_kafkacontroller_offlinepartitionscount"] == 0
