"""``kafkaops outbox list|stats|retry`` through the real entry point, on an SQLite store."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.notify.conftest import message

pytestmark = pytest.mark.timeout(120)


def test_list_stats_and_retry_a_failed_message(tmp_path):
    from kafkaops.notify.outbox import Outbox

    url = f"sqlite:///{tmp_path / 'o.db'}"
    box = Outbox(url)
    try:
        box.enqueue([message("pagerduty"), message("slack:#ops-critical")], now=1_000)
        [row] = box.claim("test", 2_000, limit=1)
        box.mark_failed(row.id, "test", "pagerduty: HTTP 400 invalid routing key", 3_000)
    finally:
        box.close()

    proc = run_cli("outbox", "list", "--status", "failed", "--json", "--store", url)
    assert proc.returncode == 0, proc.stderr
    [failed] = json.loads(proc.stdout)
    assert failed["id"] == row.id and "invalid routing key" in failed["last_error"]

    proc = run_cli("outbox", "stats", "--json", "--store", url)
    assert json.loads(proc.stdout)["failed"] == 1

    proc = run_cli("outbox", "retry", str(row.id), "--store", url)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("outbox", "stats", "--json", "--store", url)
    stats = json.loads(proc.stdout)
    assert stats["failed"] == 0 and stats["pending"] == 2

    proc = run_cli("outbox", "retry", "999", "--store", url)
    assert proc.returncode == 4 and proc.stderr.startswith("error: no failed outbox message")
    proc = run_cli("outbox", "list", "--status", "lost", "--store", url)
    assert proc.returncode == 3 and "--status" in proc.stderr
