"""The capacity store on SQLite and PostgreSQL: raw samples, daily min/mean/max, back-fill."""

from __future__ import annotations

import pytest

from kafkaops.capacity.store import DAY_MS, CapacityStore, Daily, record_capacity_sample
from tests.capacity.snapshots import GiB, snapshot

DAY0 = 20_400  # a day number (2025-11-08)


def test_record_rollup_and_daily_saw_tooth(store_url: str) -> None:
    store = CapacityStore(store_url)
    try:
        # Two days, four samples each: a saw-tooth on broker 1 (up, up, deleted, up).
        for day, base in ((DAY0, 100), (DAY0 + 1, 110)):
            for i, extra in enumerate((0, 5, -3, 2)):
                ts = day * DAY_MS + i * 3_600_000
                used = {1: (base + extra) * GiB, 2: 50 * GiB, 3: 60 * GiB}
                n = record_capacity_sample(store, snapshot(ts, used=used, log_end=1000 + 100 * i))
                assert n == 3 + 3 + 1
        assert store.rollup("c1") > 0
        assert store.rollup("c1") > 0  # idempotent: the same days again
        days = store.daily("c1", "logdir", "used_bytes", subject="1:/data")["1:/data"]
        assert [d.day for d in days] == [DAY0, DAY0 + 1]
        # partition_bytes splits used into 3 equal parts (integer division).
        assert days[0].max == pytest.approx(105 * GiB, rel=1e-6)
        assert days[0].min == pytest.approx(97 * GiB, rel=1e-6)
        assert days[0].mean == pytest.approx(101 * GiB, rel=1e-6)
        assert days[1].n == 4
        fs = store.daily("c1", "logdir", "fs_total_bytes")["1:/data"]
        assert fs[-1].max == 1000 * GiB
        parts = store.daily("c1", "broker", "partitions")
        assert parts["1"][0].max == 3
        bytes_in = store.daily("c1", "broker", "bytes_in_per_s")["2"]
        assert bytes_in[0].mean == pytest.approx(1000.0)
        # Topic bytes in derived from offsets: 300 offsets/h, bytes per offset = size/rf/offsets.
        topics = store.latest_topics("c1")
        assert topics and topics[0].retention_ms == 7 * 86_400_000
        assert topics[0].bytes_in_per_s is not None and topics[0].bytes_in_per_s > 0
        assert store.count_rows()["cap_daily"] > 0
    finally:
        store.close()


def test_backfill_and_local_precedence(store_url: str) -> None:
    store = CapacityStore(store_url)
    try:
        cw = [Daily(DAY0 + i, 24, 1.0, 2.0, 3.0 + i, "cloudwatch") for i in range(3)]
        assert store.write_daily("c1", "logdir", "1:/data", "used_bytes", cw) == 3
        assert store.write_daily("c1", "logdir", "1:/data", "used_bytes", cw) == 3  # replaces
        record_capacity_sample(
            store, snapshot((DAY0 + 2) * DAY_MS + 1000, used={1: 9 * GiB, 2: GiB, 3: GiB})
        )
        store.rollup()
        days = store.daily("c1", "logdir", "used_bytes", subject="1:/data")["1:/data"]
        assert [(d.day, d.source) for d in days] == [
            (DAY0, "cloudwatch"),
            (DAY0 + 1, "cloudwatch"),
            (DAY0 + 2, "local"),
        ]
        # Raw retention: rows of whole days older than raw_days go; the daily rows stay.
        assert store.compact(now_ms=(DAY0 + 40) * DAY_MS, raw_days=35) > 0
        assert store.count_rows()["cap_logdir"] == 0
        assert store.daily("c1", "logdir", "used_bytes", subject="1:/data")["1:/data"][-1].max
    finally:
        store.close()
