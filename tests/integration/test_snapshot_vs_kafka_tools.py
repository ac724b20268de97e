"""The snapshot must say exactly what Kafka's own tools say about the same cluster state."""

from __future__ import annotations

import re

import pytest

from kafkaops.collect.admin import CollectOptions
from kafkaops.collect.snapshot import collect_snapshot
from kafkaops.sandbox.tools import run_tool
from tests import kafka_helpers as kh

pytestmark = pytest.mark.integration


def _groups_cli(sandbox, bootstrap: str, group: str) -> dict[tuple[str, int], tuple[str, str, str]]:
    """Parse `kafka-consumer-groups --describe --group G` into {(topic, p): (current, end, lag)}."""
    text = run_tool(
        sandbox,
        "kafka-consumer-groups",
        ["--bootstrap-server", bootstrap, "--describe", "--group", group],
    )
    rows = {}
    for line in text.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[0] == group:
            rows[(cols[1], int(cols[2]))] = (cols[3], cols[4], cols[5])
    return rows


def test_group_offsets_and_lag_match_kafka_consumer_groups(sandbox, bootstrap, unique_name):
    topic, group = unique_name, unique_name + "-g"
    kh.create_topic(bootstrap, topic, partitions=4, rf=3)
    kh.produce(bootstrap, topic, 10, 4)
    # p0 fully consumed, p1 half, p2 at start, p3 never committed.
    kh.commit(bootstrap, group, {(topic, 0): 10, (topic, 1): 5, (topic, 2): 0})
    snap = collect_snapshot(
        "t", {"bootstrap_servers": bootstrap}, CollectOptions(time_lag_method="none")
    )
    ours = {g.group_id: g for g in snap.groups}[group]
    cli = _groups_cli(sandbox, bootstrap, group)
    assert set(cli) == {(topic, 0), (topic, 1), (topic, 2)}
    for p in ours.partitions:
        current, end, lag = cli[(p.topic, p.partition)]
        assert str(p.committed) == current
        assert str(p.log_end_offset) == end
        assert str(p.lag) == lag
    assert ours.total_lag == 15
    assert ours.state == "Empty"
    assert ours.members == ()


def test_topic_partitions_match_kafka_topics_describe(sandbox, bootstrap, unique_name):
    topic = unique_name
    kh.create_topic(bootstrap, topic, partitions=5, rf=3, configs={"min.insync.replicas": "3"})
    text = run_tool(
        sandbox, "kafka-topics", ["--bootstrap-server", bootstrap, "--describe", "--topic", topic]
    )
    pattern = re.compile(
        r"Partition:\s*(\d+)\s+Leader:\s*(-?\d+|none)\s+Replicas:\s*([\d,]+)\s+Isr:\s*([\d,]*)"
    )
    cli = {int(m.group(1)): (m.group(2), m.group(3), m.group(4)) for m in pattern.finditer(text)}
    assert len(cli) == 5
    snap = collect_snapshot(
        "t", {"bootstrap_servers": bootstrap}, CollectOptions(time_lag_method="none")
    )
    t = {t.name: t for t in snap.topics}[topic]
    for p in t.partitions:
        leader, replicas, isr = cli[p.partition]
        assert str(p.leader) == leader
        assert ",".join(map(str, p.replicas)) == replicas
        assert ",".join(map(str, p.isr)) == isr
        assert p.min_isr == 3  # topic override wins over the broker default of 2
    assert t.replication_factor == 3
    # The broker default (2) applies to topics without an override.
    other = next(t for t in snap.topics if t.name == "__consumer_offsets")
    assert other.partitions[0].min_isr == 2


def test_round_trips_do_not_grow_with_group_count(sandbox, bootstrap, unique_name):
    topic = unique_name
    kh.create_topic(bootstrap, topic, partitions=3, rf=3)
    kh.produce(bootstrap, topic, 3, 3)
    opts = CollectOptions(time_lag_method="none")
    before = collect_snapshot("t", {"bootstrap_servers": bootstrap}, opts).round_trips
    for i in range(30):
        kh.commit(bootstrap, f"{unique_name}-g{i}", {(topic, 0): 1, (topic, 1): 2})
    snap = collect_snapshot("t", {"bootstrap_servers": bootstrap}, opts)
    after = snap.round_trips
    assert len([g for g in snap.groups if g.group_id.startswith(unique_name)]) == 30
    for api in ("OffsetFetch", "DescribeGroups", "FindCoordinator", "ListGroups", "ListOffsets"):
        # At most one request per broker (3) whatever the number of groups.
        assert after.get(api, 0) <= max(before.get(api, 0), 3) + 3, (api, before, after)
    assert after["OffsetFetch"] <= 3
    assert after["DescribeGroups"] <= 3
    assert after["FindCoordinator"] == 1


def test_log_dirs_report_sizes_and_disk(sandbox, bootstrap, unique_name):
    topic = unique_name
    kh.create_topic(bootstrap, topic, partitions=1, rf=3)
    kh.produce(bootstrap, topic, 200, 1)
    snap = collect_snapshot(
        "t", {"bootstrap_servers": bootstrap}, CollectOptions(time_lag_method="none")
    )
    dirs = [d for d in snap.log_dirs if f"{topic}-0" in d.partition_bytes]
    assert {d.broker for d in dirs} == {1, 2, 3}
    for d in dirs:
        assert d.partition_bytes[f"{topic}-0"] > 0
        assert d.total_bytes and d.usable_bytes and d.usable_bytes <= d.total_bytes
        assert str(sandbox.root) in d.path
