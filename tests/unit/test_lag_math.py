"""Lag arithmetic: max(0, end − committed), clamped to log start, no-offset reported as such."""

from __future__ import annotations

from kafkaops.collect.snapshot import _parse_log_dirs, _partition_lag
from kafkaops.core.model import ClusterSnapshot, PartitionState


def ps(start: int | None, end: int | None) -> PartitionState:
    return PartitionState("t", 0, 1, (1,), (1,), (), 1, start, end)


def test_plain_lag():
    lag = _partition_lag(("t", 0), 40, ps(0, 100), "m1")
    assert lag.lag == 60 and not lag.committed_below_log_start and lag.member_id == "m1"


def test_committed_ahead_of_end_is_zero_not_negative():
    assert _partition_lag(("t", 0), 120, ps(0, 100), None).lag == 0


def test_committed_below_log_start_is_clamped_and_flagged():
    lag = _partition_lag(("t", 0), 5, ps(50, 100), None)
    assert lag.lag == 50
    assert lag.committed_below_log_start is True
    assert lag.committed == 5  # the real committed offset is kept for the operator


def test_no_committed_offset_is_none_not_minus_one():
    for committed in (None, -1):
        lag = _partition_lag(("t", 0), committed, ps(0, 100), "m1")
        assert lag.committed is None and lag.lag is None


def test_deleted_topic_has_unknown_lag():
    lag = _partition_lag(("gone", 0), 10, None, None)
    assert lag.lag is None and lag.log_end_offset is None


def test_log_dirs_parse_sizes_and_capacity():
    raw = [
        {
            "broker": 2,
            "log_dirs": [
                {
                    "error_code": 0,
                    "log_dir": "/data",
                    "total_bytes": 1000,
                    "usable_bytes": 400,
                    "topics": [
                        {
                            "name": "t",
                            "partitions": [
                                {
                                    "partition_index": 0,
                                    "partition_size": 10,
                                    "is_future_key": False,
                                },
                                {"partition_index": 1, "partition_size": 5, "is_future_key": True},
                            ],
                        }
                    ],
                }
            ],
        }
    ]
    [d] = _parse_log_dirs(2, raw)
    assert d.partition_bytes == {"t-0": 10}
    assert d.total_bytes == 1000 and d.usable_bytes == 400 and d.used_bytes == 10


def test_snapshot_to_dict_is_the_same_json_as_asdict():
    import dataclasses
    import json

    from kafkaops.core.model import Broker

    snap = ClusterSnapshot(
        "c", "b", 1, 2, "id", 1, 100, (100,), (Broker(1, "h", 9),), (), (), (), round_trips={"x": 1}
    )
    assert json.dumps(snap.to_dict()) == json.dumps(dataclasses.asdict(snap))
