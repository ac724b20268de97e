"""The array evaluation of consumer status gives the per-sample evaluator's answers (issue 17).

Two levels, both on random inputs (hypothesis):

* the rules alone: :func:`window_verdicts` on random window matrices (gaps, NULL committed
  offsets or lags, zeros, rewinds, repeated offsets, equal sample times, any settings) against
  :func:`partition_status` on the same windows as sample objects — status, reason, complete,
  sample count;
* the whole group: :meth:`LagMemory.group_statuses` against :func:`group_status` over
  :meth:`LagMemory.group_windows`, after random snapshot sequences where groups and
  partitions come and go — the GroupStatus objects must be equal, field for field.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkaops.core.model import ClusterSnapshot, ConsumerGroup, GroupMember, PartitionLag
from kafkaops.lag.memory import MISSING, LagMemory
from kafkaops.lag.status import group_status, partition_status
from kafkaops.lag.status_arrays import window_verdicts
from kafkaops.store.history import GroupSample

T0 = 1_780_000_000_000
#: Examples per property: enough in every CI run to have found each bug these tests ever caught
#: (a few hundred); ``KAFKAOPS_THOROUGH=1`` runs five times more when the rules change.
SCALE = 5 if os.environ.get("KAFKAOPS_THOROUGH") == "1" else 1

# A value or None; small ranges so ties, zeros and backward moves are common.
maybe_offset = st.none() | st.integers(0, 6)
rule_settings = st.fixed_dictionaries(
    {
        "window": st.integers(1, 12),
        "min_complete": st.sampled_from([0.1, 0.5, 0.7, 0.9, 1.0]),
        "min_span_ms": st.sampled_from([0, 5_000, 10_000, 30_000, 60_000]),
        "min_unchanged_ms": st.sampled_from([1, 5_000, 10_000, 20_000, 60_000]),
    }
)


@st.composite
def windows(draw: st.DrawFn) -> dict:
    """Rows of one window: shared sample times (steps of 0–20 s), per-row samples that may be
    absent or carry NULL committed offset / lag."""
    conf = draw(rule_settings)
    width = draw(st.integers(0, conf["window"]))
    steps = draw(st.lists(st.sampled_from([0, 5_000, 10_000, 20_000]), min_size=width,
                          max_size=width))  # fmt: skip
    times = [T0 + sum(steps[: i + 1]) for i in range(width)]
    rows = draw(
        st.lists(
            st.tuples(
                st.lists(st.tuples(st.booleans(), maybe_offset, maybe_offset),
                         min_size=width, max_size=width),
                st.integers(0, 3),  # current lag
                st.booleans(),  # has members
            ),
            min_size=1,
            max_size=8,
        )
    )  # fmt: skip
    now = (times[-1] if times else T0) + draw(st.sampled_from([0, 1, 10_000, 60_000, 90_000]))
    return {"conf": conf, "times": times, "rows": rows, "now": now}


@settings(max_examples=600 * SCALE, deadline=None)
@given(windows())
def test_window_verdicts_equal_partition_status(case: dict) -> None:
    conf, times, rows, now = case["conf"], case["times"], case["rows"], case["now"]
    width = len(times)

    def arr(values: list[list[int | None]]) -> np.ndarray:
        out = np.array(
            [[MISSING if v is None else v for v in row] for row in values], dtype=np.int64
        )
        return out.reshape(len(values), width)

    committed = arr([[c if seen else None for seen, c, _ in samples] for samples, _, _ in rows])
    lag = arr([[g if seen else None for seen, _, g in samples] for samples, _, _ in rows])
    got = window_verdicts(
        np.array(times, dtype=np.int64),
        committed,
        lag,
        (committed != MISSING) & (lag != MISSING),
        np.array([cur for _, cur, _ in rows], dtype=np.int64),
        np.array([m for _, _, m in rows], dtype=bool),
        now_ms=now,
        **conf,
    )
    for i, (samples, current, members) in enumerate(rows):
        objects = [
            GroupSample(times[j], c, None if c is None else 9, g, None)
            for j, (seen, c, g) in enumerate(samples)
            if seen
        ]
        status, complete, reason = partition_status(
            objects, current_lag=current, now_ms=now, has_members=members, **conf
        )
        count = sum(1 for s in objects if s.committed is not None and s.lag is not None)
        assert (got.statuses[i], got.complete[i], got.reasons[i]) == (status, complete, reason)
        assert got.samples[i] == count
        assert got.evaluating[i] == reason.startswith("evaluating")


class _EmptyStore:
    """A store with no history: the memory then holds exactly the snapshots added to it."""

    def group_windows(self, cluster: str, *, limit: int = 10) -> dict:
        return {}

    def recent_log_ends(self, cluster: str, *, samples: int) -> list:
        return []

    def log_end_sample_times(self, cluster: str) -> int:
        return 0


group_cycle = st.dictionaries(
    st.sampled_from(["g1", "g2", "g3"]),
    st.tuples(
        st.booleans(),  # has members
        st.dictionaries(
            st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 2)),
            st.tuples(maybe_offset, maybe_offset),  # committed, lag
            max_size=4,
        ),
    ),
    max_size=3,
)


def _snapshot(ts: int, groups: dict) -> ClusterSnapshot:
    member = GroupMember("m", "client", "/127.0.0.1")
    return ClusterSnapshot(
        cluster_name="c", bootstrap="127.0.0.1:1", taken_at_ms=ts, duration_ms=0,
        cluster_id="x", controller_id=1, quorum_leader_id=1, quorum_voters=(1,), brokers=(),
        topics=(), log_dirs=(),
        groups=tuple(
            ConsumerGroup(gid, "Stable", "consumer", 1, (member,) if members else (), tuple(
                PartitionLag(t, p, c, 0, None, g) for (t, p), (c, g) in parts.items()
            ))
            for gid, (members, parts) in groups.items()
        ),
    )  # fmt: skip


@settings(max_examples=100 * SCALE, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([0, 5_000, 10_000]), group_cycle), min_size=1,
             max_size=14),
    rule_settings,
    st.integers(2, 6),
)  # fmt: skip
def test_group_statuses_equal_group_status(cycles: list, conf: dict, depth: int) -> None:
    memory = LagMemory(_EmptyStore(), "c", window=depth)  # type: ignore[arg-type]
    ts = T0
    for step, groups in cycles:
        ts += step
        snap = _snapshot(ts, groups)
        memory.add(snap)
        got = memory.group_statuses(snap, **conf)
        windows = memory.group_windows("c", limit=conf["window"])
        want = {}
        for g in snap.groups:
            want[g.group_id] = group_status(
                g.group_id,
                windows.get(g.group_id, {}),
                {(p.topic, p.partition): p.lag or 0 for p in g.partitions},
                now_ms=ts,
                has_members=bool(g.members),
                **conf,
            )
        assert got == want
