"""History store on SQLite and on a real PostgreSQL server: write, read, retention."""

from __future__ import annotations

from kafkaops.core.broker_metrics import ClusterMetrics, NodeMetrics
from kafkaops.core.model import (
    Broker,
    ClusterSnapshot,
    ConsumerGroup,
    LogDir,
    PartitionLag,
    PartitionState,
    Topic,
)
from kafkaops.store.history import HistoryStore, Tier

MIN = 60_000


def snap(ts_ms: int, end: int, committed: int, cluster: str = "c") -> ClusterSnapshot:
    parts = tuple(PartitionState("orders", i, 1, (1,), (1,), (), 1, 0, end) for i in range(2))
    lags = tuple(
        PartitionLag("orders", i, committed, 0, end, end - committed, False, None,
                     (end - committed) * 10, "exact")
        for i in range(2)
    )  # fmt: skip
    group = ConsumerGroup("g", "Stable", "consumer", 1, (), lags)
    # One broker whose log dir reports its capacity (1,000 bytes, 400 usable → 60 % used).
    log_dir = LogDir(1, "/data", None, {"orders-0": end, "orders-1": end}, 1_000, 400)
    cpu = ClusterMetrics("prometheus", ts_ms, 5.0, (NodeMetrics(1, cpu_percent=42.0),))
    return ClusterSnapshot(
        cluster, "b", ts_ms, 1, "id", 1, 100, (100,), (Broker(1, "h", 9092),),
        (Topic("orders", False, parts),), (group,), (log_dir,), metrics=(cpu,),
    )  # fmt: skip


def test_record_and_read_window(store_url):
    store = HistoryStore(store_url)
    try:
        for i in range(15):
            assert store.record(snap(1_000_000 + i * 10_000, 100 + i * 10, 90 + i * 9)) == 5
        window = store.group_window("c", "g", limit=10)
        assert set(window) == {("orders", 0), ("orders", 1)}
        samples = window[("orders", 0)]
        assert len(samples) == 10
        assert [s.ts_ms for s in samples] == [1_000_000 + i * 10_000 for i in range(5, 15)]
        assert samples[-1].committed == 90 + 14 * 9 and samples[-1].lag == 100 + 140 - 216
        series = store.log_end_series("c", "orders", 1)
        assert series[0] == (1_000_000, 100) and len(series) == 15
        chart = store.group_lag_series("c", "g")
        assert chart[0] == (1_000_000, 20, 100)
        assert store.group_window("other", "g") == {}
        [first, *_, last] = store.broker_series("c")
        assert (first.broker, first.disk_percent, first.cpu_percent) == (1, 60.0, 42.0)
        assert last.used_bytes == 2 * (100 + 140) and last.ts_ms == 1_000_000 + 14 * 10_000
    finally:
        store.close()


def test_retention_thins_old_samples_to_last_per_bucket(store_url):
    store = HistoryStore(store_url)
    try:
        now = 100 * 60 * MIN  # 100 hours after the epoch
        # 3 hours of 10-second samples.
        start = now - 3 * 60 * MIN
        for i in range(0, 3 * 360):
            ts = start + i * 10_000
            store.record(snap(ts, 1000 + i, 900 + i))
        before = store.count_rows()
        assert before == {
            "log_end_offsets": 2 * 1080,
            "group_offsets": 2 * 1080,
            "broker_samples": 1080,
        }
        deleted = store.compact(
            now_ms=now, tiers=(Tier(3_600, 60), Tier(2 * 3_600, 600)), max_age_s=365 * 86_400
        )
        after = store.count_rows()
        # Last hour raw (360/partition); hour 2 at 1 minute (60); hour 3 at 10 minutes (6).
        assert after["log_end_offsets"] == 2 * (360 + 60 + 6)
        assert after["broker_samples"] == 360 + 60 + 6
        assert deleted == sum(before.values()) - sum(after.values())
        series = store.log_end_series("c", "orders", 0)
        # The survivor of each old bucket is its last sample: exact for offsets.
        oldest_ts, oldest_end = series[0]
        assert (oldest_ts - start) % 600_000 == 590_000
        assert oldest_end == 1000 + (oldest_ts - start) // 10_000
        # Idempotent.
        assert store.compact(now_ms=now, tiers=(Tier(3_600, 60), Tier(2 * 3_600, 600))) == 0
        # Past max age everything goes.
        store.compact(now_ms=now + 400 * 86_400_000)
        assert store.count_rows() == {"log_end_offsets": 0, "group_offsets": 0, "broker_samples": 0}
    finally:
        store.close()


def test_group_windows_reads_every_group_in_one_query(store_url):
    store = HistoryStore(store_url)
    try:
        for i in range(12):
            store.record(snap(2_000_000 + i * 10_000, 100 + i * 10, 90 + i * 9, cluster="gw"))
        bulk = store.group_windows("gw", limit=10)
        assert set(bulk) == {"g"}
        assert bulk["g"] == store.group_window("gw", "g", limit=10)
        assert store.group_windows("nothing-here") == {}
    finally:
        store.close()


def test_estimated_time_lag_interpolates_over_recorded_log_ends(store_url):
    from dataclasses import replace

    from kafkaops.lag.observe import INTERPOLATED, INTERPOLATED_LOWER_BOUND, observe

    store = HistoryStore(store_url)
    try:
        # Log end grows 10 records per 10 s: offset 150 was written at t0 + 50 s.
        t0 = 3_000_000
        for i in range(10):
            store.record(snap(t0 + i * 10_000, 100 + i * 10, 100 + i * 10, cluster="est"))
        now = t0 + 100_000
        current = snap(now, 200, 150, cluster="est")
        current = replace(
            current,
            groups=tuple(
                replace(g, partitions=tuple(
                    replace(p, time_lag_ms=None, time_lag_method=None) for p in g.partitions))
                for g in current.groups
            ),
        )  # fmt: skip
        stored, statuses = observe(store, current, time_lag_method="estimated", window=5)
        [p0, _p1] = stored.groups[0].partitions
        assert p0.time_lag_method == INTERPOLATED
        assert p0.time_lag_ms == now - (t0 + 50_000)
        assert set(statuses) == {"g"}
        # A committed offset older than all history: a lower bound, labelled as such.
        old = replace(
            current,
            taken_at_ms=now + 10_000,
            groups=tuple(
                replace(g, partitions=tuple(replace(p, committed=50, lag=150)
                                            for p in g.partitions))
                for g in current.groups
            ),
        )  # fmt: skip
        stored, _ = observe(store, old, time_lag_method="estimated")
        p = stored.groups[0].partitions[0]
        assert p.time_lag_method == INTERPOLATED_LOWER_BOUND
        assert p.time_lag_ms == now + 10_000 - t0
    finally:
        store.close()
