"""The watch loop's in-memory lag history answers exactly as the store does (issue 17).

Every test drives the store-backed path and the memory-backed path with the same snapshots and
compares statuses and estimated time lags cycle by cycle — including positions older than the
memory's log-end history (answered from the store), a restart in the middle (memory restored
from the store), groups and partitions that come and go, and values the store keeps as NULL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.core.model import (
    ClusterSnapshot,
    ConsumerGroup,
    GroupMember,
    PartitionLag,
    PartitionState,
    Topic,
)
from kafkaops.lag.memory import LagMemory
from kafkaops.lag.observe import observe
from kafkaops.lag.settings import LagSettings
from kafkaops.store.history import HistoryStore

CLUSTER = "c1"
#: Every cycle's offsets in the store (history_every 0): the memory must answer as the store does.
LAG = LagSettings(window=4, min_complete=1.0, min_span="1s", min_unchanged="1s", history_every="0s")


def snapshot(cycle: int, *, extra_group: bool = False, partitions: int = 3) -> ClusterSnapshot:
    """Producers write 10 records a cycle; "reader" stays 25 behind, "stopped" stops at
    cycle 2 (its position soon falls out of a short log-end memory), "fresh" has a partition
    with no committed offset (NULL values in the store)."""
    ts = 1_780_000_000_000 + cycle * 5_000
    end = 100 + 10 * cycle
    parts = tuple(
        PartitionState("t", p, 1, (1,), (1,), log_start_offset=0, log_end_offset=end)
        for p in range(partitions)
    )
    member = GroupMember("m1", "client", "/127.0.0.1")

    def group(gid: str, committed: int | None, members=(member,)) -> ConsumerGroup:
        lags = tuple(
            PartitionLag("t", p, committed, 0, end, None if committed is None else end - committed)
            for p in range(partitions)
        )
        return ConsumerGroup(gid, "Stable", "consumer", 1, members, lags)

    groups = [group("reader", end - 25), group("stopped", 100 + 10 * min(cycle, 2) - 5, ())]
    groups.append(group("fresh", None))
    if extra_group:
        groups.append(group("sometimes", end - 3))
    return ClusterSnapshot(
        cluster_name=CLUSTER, bootstrap="127.0.0.1:1", taken_at_ms=ts, duration_ms=0,
        cluster_id="x", controller_id=1, quorum_leader_id=1, quorum_voters=(1,), brokers=(),
        topics=(Topic("t", False, parts),), groups=tuple(groups), log_dirs=(),
    )  # fmt: skip


def outputs(store: HistoryStore, snap: ClusterSnapshot, memory: LagMemory | None):
    stored, statuses = observe(store, snap, time_lag_method="estimated", lag=LAG, memory=memory)
    lags = {
        (g.group_id, p.partition): (p.time_lag_ms, p.time_lag_method)
        for g in stored.groups
        for p in g.partitions
    }
    # The whole GroupStatus (every partition's status, reason, complete, samples): the
    # memory evaluates on arrays, the store path sample by sample.
    labels = {g: (s.status, s.label, s) for g, s in statuses.items()}
    return labels, lags


def snapshots(cycles: int):
    for cycle in range(cycles):
        # a group that comes and goes; a partition added at cycle 12
        yield snapshot(cycle, extra_group=cycle % 5 in (1, 2), partitions=3 if cycle < 12 else 4)


@pytest.mark.parametrize("depth", [3, 60])
def test_memory_answers_as_the_store_does(tmp_path: Path, depth: int) -> None:
    by_store = HistoryStore(f"sqlite:///{tmp_path / 'a.db'}")
    by_memory = HistoryStore(f"sqlite:///{tmp_path / 'b.db'}")
    memory = LagMemory(by_memory, CLUSTER, window=LAG.window, depth=depth)
    try:
        seen_statuses = set()
        for cycle, snap in enumerate(snapshots(25)):
            expected = outputs(by_store, snap, None)
            assert outputs(by_memory, snap, memory) == expected, f"cycle {cycle}"
            seen_statuses |= {v[0] for v in expected[0].values()}
        assert {"OK", "STOP"} <= {str(s) for s in seen_statuses}  # the test exercises verdicts
    finally:
        by_store.close()
        by_memory.close()


def test_a_restarted_watcher_restores_the_memory_from_the_store(tmp_path: Path) -> None:
    by_store = HistoryStore(f"sqlite:///{tmp_path / 'a.db'}")
    by_memory = HistoryStore(f"sqlite:///{tmp_path / 'b.db'}")
    memory = LagMemory(by_memory, CLUSTER, window=LAG.window, depth=4)
    try:
        for cycle, snap in enumerate(snapshots(20)):
            if cycle in (7, 15):  # a restart (or a standby becoming the leader)
                memory = LagMemory(by_memory, CLUSTER, window=LAG.window, depth=4)
            assert outputs(by_memory, snap, memory) == outputs(by_store, snap, None), cycle
    finally:
        by_store.close()
        by_memory.close()


def test_memory_refuses_another_cluster(tmp_path: Path) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with pytest.raises(ValueError, match="c1"):
            LagMemory(store, CLUSTER).group_windows("other")
    finally:
        store.close()


def test_ring_is_sized_by_the_first_snapshot_and_grows_by_an_eighth() -> None:
    from kafkaops.lag.memory import MISSING, _Ring

    ring = _Ring(("a", "b"), 4)
    ring.append(1, {("t", p): (p, None) for p in range(20_000)})
    assert ring.data["a"].shape == (20_000, 4)  # exact, not the next power of two
    assert ring.data["b"][5, 0] == MISSING and ring.data["a"][5, 0] == 5
    ring.append(2, {("t", p): (p + 1, p) for p in range(20_001)})
    assert ring.data["a"].shape == (22_500, 4)  # one new key: an eighth more room, once
    assert ring.data["a"][20_000, 1] == 20_001 and ring.data["a"][19_999, 0] == 19_999
    ring.append(3, {("t", p): (0, 0) for p in range(22_500)})
    assert ring.data["a"].shape == (22_500, 4)


def test_the_loop_writes_offsets_once_per_history_every_and_answers_the_same(
    tmp_path: Path,
) -> None:
    """``lag.history_every`` thins the store's offset history, not the loop's answers.

    25 cycles 5 s apart with ``history_every: 30s``: the offset series get a row set at cycles
    0, 6, 12, 18, 24 (≥ 28.5 s apart, the 5 % slack), while statuses and estimated time lags are
    those of a loop writing every cycle (the memory holds every cycle either way).
    """
    every = LAG.model_copy(update={"history_every": 30_000})
    full = HistoryStore(f"sqlite:///{tmp_path / 'full.db'}")
    thin = HistoryStore(f"sqlite:///{tmp_path / 'thin.db'}")
    full_memory = LagMemory(full, CLUSTER, window=LAG.window, depth=60)
    thin_memory = LagMemory(thin, CLUSTER, window=LAG.window, depth=60)
    try:
        for cycle, snap in enumerate(snapshots(25)):
            a = observe(full, snap, time_lag_method="estimated", lag=LAG, memory=full_memory)
            b = observe(thin, snap, time_lag_method="estimated", lag=every, memory=thin_memory)
            assert a == b, f"cycle {cycle}"
        assert thin.log_end_sample_times(CLUSTER) == 5
        assert full.log_end_sample_times(CLUSTER) == 25
        groups = thin.group_window(CLUSTER, "reader", limit=100)
        assert sorted({s.ts_ms for s in groups[("t", 0)]}) == [
            1_780_000_000_000 + c * 5_000 for c in (0, 6, 12, 18, 24)
        ]
    finally:
        full.close()
        thin.close()
