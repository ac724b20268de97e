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
