"""Smoke subset on Kafka 3.9.x — what most Amazon MSK clusters run today.

A cluster of its own (module scope), started after the main one's tests in this module run.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from kafkaops.collect.snapshot import collect_snapshot
from kafkaops.sandbox.cluster import Sandbox
from kafkaops.sandbox.jars import LEGACY_KAFKA_VERSION
from tests import kafka_helpers as kh
from tests.conftest import LEGACY_BASE_PORT, health_json, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.smoke]


@pytest.fixture(scope="module")
def legacy():
    # Brokers only: these tests speak the admin protocol (--bootstrap), so the JMX exporter
    # agents, the node exporter and the SCRAM listener would only slow the start.
    root = Path(tempfile.mkdtemp(prefix=f"kafkaops-test-{LEGACY_KAFKA_VERSION}-"))
    box = Sandbox(root)
    try:
        box.up(
            brokers=3,
            version=LEGACY_KAFKA_VERSION,
            base_port=LEGACY_BASE_PORT,
            heap_mb=384,
            jmx_exporter=False,
            node_exporter=False,
        )
        yield box
    finally:
        box.down()
        shutil.rmtree(root, ignore_errors=True)


def test_snapshot_and_lag_on_kafka_3_9(legacy, unique_name):
    bootstrap = legacy.bootstrap()
    topic, group = unique_name, unique_name + "-g"
    kh.create_topic(bootstrap, topic, partitions=3, rf=3)
    kh.produce(bootstrap, topic, 4, 3)
    kh.commit(bootstrap, group, {(topic, 0): 4, (topic, 1): 1})
    snap = collect_snapshot("legacy", {"bootstrap_servers": bootstrap})
    assert snap.quorum_leader_id == 100
    assert len(snap.brokers) == 3
    g = {g.group_id: g for g in snap.groups}[group]
    assert {(p.partition, p.lag) for p in g.partitions} == {(0, 0), (1, 3)}
    assert all(p.time_lag_method == "exact" for p in g.partitions)
    code, report = health_json("--bootstrap", bootstrap)
    assert report["summary"]["brokers"] == 3
    assert code in (0, 1), report["findings"]


def test_stopped_broker_is_p1_on_kafka_3_9(legacy, unique_name):
    bootstrap = legacy.bootstrap()
    kh.create_topic(bootstrap, unique_name, partitions=2, rf=3)
    legacy.stop_node(3)
    try:

        def urp():
            code, report = health_json("--bootstrap", f"127.0.0.1:{legacy._node(1).port}")
            rules = {f["rule"] for f in report["findings"]}
            return (code, report) if "under_replicated_partitions" in rules else None

        code, report = wait_until(urp, timeout=60, what="URP on 3.9")
        assert code == 2
        assert report["severity"] == "P1"
    finally:
        legacy.start_node(3)
        kh.wait_no_urp(bootstrap)
