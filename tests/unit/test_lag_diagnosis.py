"""The lag diagnosis on hand-built snapshots: ranking, filters, recommendations."""

from __future__ import annotations

from kafkaops.core.model import (
    ClusterSnapshot,
    ConsumerGroup,
    GroupMember,
    PartitionLag,
    PartitionState,
    Topic,
)
from kafkaops.lag.diagnosis import diagnose_group, rank_groups


def topic(name: str, n: int) -> Topic:
    return Topic(
        name, False, tuple(PartitionState(name, i, 1, (1,), (1,), (), 1, 0, 1000) for i in range(n))
    )


def group(gid, lags, members=(), time_lag=None, tname="orders"):
    parts = tuple(
        PartitionLag(tname, i, 1000 - lag, 0, 1000, lag, False, None, time_lag, "exact")
        for i, lag in enumerate(lags)
    )
    return ConsumerGroup(
        gid, "Stable" if members else "Empty", "consumer", 1, tuple(members), parts
    )


def member(mid, parts, tname="orders"):
    return GroupMember(mid, "client", "10.0.0.1", tuple((tname, p) for p in parts))


def snap(groups, topics=(topic("orders", 4),)):
    return ClusterSnapshot(
        "c", "b", 0, 1, "id", 1, 100, (100,), (), tuple(topics), tuple(groups), ()
    )


def test_ranking_by_time_lag_then_offset_lag_and_filters():
    s = snap(
        [
            group("a", [10, 10], time_lag=5_000),
            group("b", [500, 0], time_lag=90_000),
            group("c", [9_000, 0], time_lag=5_000),
            group("pay", [1], time_lag=None, tname="payments"),
        ],
        topics=(topic("orders", 4), topic("payments", 1)),
    )
    assert [r.group_id for r in rank_groups(s)] == ["b", "c", "a", "pay"]
    assert [r.group_id for r in rank_groups(s, top=2)] == ["b", "c"]
    assert [r.group_id for r in rank_groups(s, group_pattern="^[ab]$")] == ["b", "a"]
    assert [r.group_id for r in rank_groups(s, topic_pattern="pay")] == ["pay"]


def test_fewer_consumers_than_partitions_recommends_scaling_consumers():
    g = group("g", [100, 100, 100, 100], members=[member("m1", [0, 1, 2, 3])])
    d = diagnose_group(snap([g]), "g")
    assert d is not None
    assert any(
        "Scale consumers up to the partition count: 1 member(s) for 4" in r
        for r in d.recommendations
    )
    assert not any("add 4 partitions" in r for r in d.recommendations)


def test_high_lag_with_consumers_equal_partitions_recommends_plus_four_partitions():
    members = [member(f"m{i}", [i]) for i in range(4)]
    g = group("g", [5_000, 5_000, 1, 1], members=members)
    d = diagnose_group(snap([g]), "g")
    assert d is not None
    assert any("add 4 partitions" in r and "orders" in r for r in d.recommendations)
    assert any("bottleneck" in r for r in d.recommendations)


def test_idle_members_and_skew():
    members = [member("m1", [0, 1, 2, 3]), member("m2", [])]
    g = group("g", [10, 10, 10, 10], members=members)
    d = diagnose_group(snap([g]), "g")
    assert d is not None
    assert d.idle_members == ("m2",)
    assert d.skew == 1.0
    assert any("no partitions" in r for r in d.recommendations)
    assert any("skewed" in r for r in d.recommendations)


def test_stopped_group():
    d = diagnose_group(snap([group("g", [10, 0])]), "g")
    assert d is not None
    assert d.recommendations and "stopped" in d.recommendations[0]


def test_unknown_group_is_none():
    assert diagnose_group(snap([]), "nope") is None
