"""The topic optimizer's logic on constructed traffic and configs (no cluster)."""

from __future__ import annotations

from kafkaops.core.model import ClusterSnapshot, LogDir, PartitionState, Topic
from kafkaops.diagnose.optimizer import recommend
from kafkaops.diagnose.settings import OptimizerSettings
from kafkaops.diagnose.traffic import TopicTraffic, topic_traffic

DAY = 86_400_000
MIB = 1024 * 1024


def traffic(bytes_per_s: float | None, partitions: int = 3, rf: int = 3, hot: float = 0.0):
    per_msg = None if bytes_per_s is None else 1000.0
    msgs = 0.0 if bytes_per_s is None else bytes_per_s / 1000
    return TopicTraffic(
        "t", partitions, rf, 10.0, msgs, hot or msgs / partitions, 10**9, 10**6, per_msg,
        bytes_per_s,
    )  # fmt: skip


def plan(t: TopicTraffic, **configs: str):
    base = {"min.insync.replicas": "2", "retention.ms": str(7 * DAY), "segment.ms": str(7 * DAY),
            "segment.bytes": str(1024 * MIB), "cleanup.policy": "delete",
            "compression.type": "producer", "unclean.leader.election.enable": "false"}  # fmt: skip
    base.update({k.replace("_", "."): v for k, v in configs.items()})
    return recommend(t, base, 3, OptimizerSettings(), "b:9092")


def test_busy_topic_with_kafka_defaults_needs_nothing() -> None:
    # 30 MiB/s over 3 partitions fills a 1 GiB segment in ~100 s: segments roll often.
    p = plan(traffic(30 * MIB, partitions=6))
    assert p.changes == []


def test_quiet_topic_gets_segment_ms_at_a_tenth_of_retention_not_retention() -> None:
    p = plan(traffic(1000.0))
    assert p.settings == {"segment.ms": str(7 * DAY // 10)}
    assert "retention.ms" not in p.settings


def test_the_runbooks_segment_ms_equal_to_retention_is_undone() -> None:
    p = plan(traffic(None), retention_ms=str(DAY), segment_ms=str(DAY))
    assert p.settings["segment.ms"] == str(DAY // 10)


def test_durability_and_compression_fixes() -> None:
    p = plan(
        traffic(2 * MIB, partitions=6),
        min_insync_replicas="1",
        unclean_leader_election_enable="true",
        compression_type="uncompressed",
        segment_bytes=str(MIB),
    )
    assert p.settings == {
        "min.insync.replicas": "2",
        "unclean.leader.election.enable": "false",
        "compression.type": "producer",
        "segment.bytes": str(1024 * MIB),
        # with 1 GiB segments again, 2 MiB/s over 6 partitions fills one in ~51 min: rolls
        # well within retention/4, so segment.ms is left alone
    }
    assert any("lz4" in a for a in p.advice)  # heavy topic: producers should compress


def test_partitions_are_advice_rounded_to_the_broker_count_never_a_change() -> None:
    p = plan(traffic(40 * MIB, partitions=3))
    assert "partitions" not in p.settings
    [advice] = [a for a in p.advice if "--partitions" in a]
    assert "--partitions 9" in advice  # 8 needed at 5 MiB/s, rounded up to 3 brokers


def test_skewed_partition_is_named() -> None:
    p = plan(traffic(12 * MIB, partitions=6, hot=6 * MIB / 1000))
    assert any("skewed" in a for a in p.advice)


def test_rf1_is_advice_only() -> None:
    p = plan(traffic(None, rf=1), min_insync_replicas="1")
    assert "min.insync.replicas" not in p.settings
    assert any("replication factor 1" in a for a in p.advice)


def _snap(at_ms: int, end: int, size: int) -> ClusterSnapshot:
    parts = tuple(
        PartitionState("t", i, 1, (1, 2), (1, 2), log_start_offset=0, log_end_offset=end + i)
        for i in range(2)
    )
    return ClusterSnapshot(
        "c", "b:9092", at_ms, 1, None, None, None, (), (), (Topic("t", False, parts),), (),
        (LogDir(1, "/d", None, {"t-0": size, "t-1": size}), LogDir(2, "/d", None, {"t-0": 1})),
    )  # fmt: skip


def test_traffic_from_two_snapshots() -> None:
    t = topic_traffic(_snap(0, 100, 0), _snap(10_000, 1100, 50_000))["t"]
    assert t.messages_per_s == 200.0  # 2 × 1000 offsets in 10 s
    assert t.max_partition_messages_per_s == 100.0
    assert t.size_bytes == 100_000  # largest replica per partition
    assert t.retained_messages == 1100 + 1101
    assert t.bytes_per_s == t.messages_per_s * 100_000 / 2201
    assert t.replication_factor == 2
