"""`kafkaops lag` on the real sandbox: ranking and one group's diagnosis."""

from __future__ import annotations

import json
import time

import pytest

from tests import kafka_helpers as kh
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def test_lag_ranking_and_group_diagnosis(bootstrap, unique_name):
    topic, slow, fast = unique_name, unique_name + "-slow", unique_name + "-fast"
    kh.create_topic(bootstrap, topic, partitions=2, rf=3)
    kh.produce(bootstrap, topic, 20, 2, timestamp_ms=int((time.time() - 90) * 1000))
    kh.commit(bootstrap, slow, {(topic, 0): 0, (topic, 1): 5})
    kh.commit(bootstrap, fast, {(topic, 0): 20, (topic, 1): 20})

    proc = run_cli("lag", "--bootstrap", bootstrap, "--json", "--group-regex", unique_name)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["group_id"] for r in rows] == [slow, fast]
    assert rows[0]["offset_lag"] == 35
    assert 80_000 < rows[0]["max_time_lag_ms"] < 110_000
    assert rows[0]["time_lag_method"] == "exact"
    assert rows[1]["offset_lag"] == 0

    proc = run_cli("lag", slow, "--bootstrap", bootstrap, "--json")
    assert proc.returncode == 0, proc.stderr
    diag = json.loads(proc.stdout)
    assert diag["summary"]["members"] == 0
    assert "stopped" in diag["recommendations"][0]
    assert {(p["partition"], p["lag"]) for p in diag["partitions"]} == {(0, 20), (1, 15)}

    proc = run_cli("lag", "no-such-group", "--bootstrap", bootstrap)
    assert proc.returncode == 4 and "not found" in proc.stderr
