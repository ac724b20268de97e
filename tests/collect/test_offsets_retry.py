"""ListOffsets retries: one fresh Metadata for every failed partition, then their new leaders."""

from __future__ import annotations

from typing import Any

from kafka import TopicPartition
from kafka.protocol.consumer import OffsetSpec

from kafkaops.collect.admin import Errors
from kafkaops.collect.snapshot import _offsets_or_retry


class FakeAdmin:
    """Answers Metadata with new leaders and ListOffsets per leader; counts the requests."""

    def __init__(self, leaders: dict[tuple[str, int], int], dead: set[int]) -> None:
        self.leaders = leaders
        self.dead = dead
        self.sent: list[tuple[Any, ...]] = []

    def metadata_call(self) -> tuple[str]:
        return ("Metadata",)

    def leader_offsets_call(self, node: int, tps: list[TopicPartition], spec: Any) -> tuple:
        return ("ListOffsets", node, tuple(tps))

    def gather(self, calls: list[tuple[Any, ...]]) -> list[Any]:
        self.sent.extend(calls)
        out: list[Any] = []
        for call in calls:
            if call[0] == "Metadata":
                topics: dict[str, list[dict[str, int]]] = {}
                for (t, p), leader in self.leaders.items():
                    topics.setdefault(t, []).append({"partition_index": p, "leader_id": leader})
                out.append({"topics": [{"name": t, "partitions": ps} for t, ps in topics.items()]})
            elif call[1] in self.dead:
                out.append(TimeoutError(f"broker {call[1]}"))
            else:
                out.append(({(tp.topic, tp.partition): 100 + tp.partition for tp in call[2]}, []))
        return out


def test_failed_partitions_are_asked_of_their_new_leaders_after_one_metadata() -> None:
    tps = [TopicPartition(f"t{i}", p) for i in range(50) for p in range(2)]
    by_leader = {1: tps[:50], 2: tps[50:]}
    new_leaders = {(tp.topic, tp.partition): 3 for tp in tps}
    new_leaders["t49", 1] = -1  # no leader yet: reported, not asked
    admin = FakeAdmin(new_leaders, dead=set())
    errors = Errors()
    raws: list[Any] = [
        ({("t0", 0): 7}, tps[1:50]),  # leader 1 answered one, the others moved
        TimeoutError("broker 2 did not answer"),
    ]
    out = _offsets_or_retry(
        admin,  # type: ignore[arg-type]
        by_leader,
        [1, 2],
        raws,
        OffsetSpec.LATEST,
        "log-end",
        errors,
    )
    assert [c[0] for c in admin.sent] == ["Metadata", "ListOffsets"]
    assert out["t0", 0] == 7 and out["t10", 1] == 101 and len(out) == 99
    assert [(e.source, e.target) for e in errors.items] == [
        ("ListOffsets", "log-end on broker 2"),
        ("ListOffsets", "log-end t49"),
    ]
    assert "partitions 1: no answer twice" in errors.items[1].message


def test_a_leader_that_fails_again_is_one_error() -> None:
    tps = [TopicPartition("t", p) for p in range(4)]
    admin = FakeAdmin({("t", p): 2 for p in range(4)}, dead={2})
    errors = Errors()
    out = _offsets_or_retry(
        admin,  # type: ignore[arg-type]
        {2: tps},
        [2],
        [TimeoutError("x")],
        OffsetSpec.EARLIEST,
        "log-start",
        errors,
    )
    assert out == {}
    assert [e.target for e in errors.items] == [
        "log-start on broker 2",
        "log-start retry on broker 2",
    ]
