"""Exact time lag vs ground truth in steady, burst and idle phases; estimates reported beside it.

Records carry known timestamps (the ground truth); groups are committed at known offsets inside
each phase.  The exact method must be within max(1 s, 5 %) of the truth in every phase.  The
interpolated estimate is computed from the (time, log-end) history a 10-second sampler would
have recorded, and its error per phase is written to test-artifacts/time_lag_accuracy.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kafka import KafkaProducer

from kafkaops.collect.admin import CollectOptions
from kafkaops.collect.snapshot import collect_snapshot
from kafkaops.lag.time_lag import interpolated_time_lag
from tests import kafka_helpers as kh

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _timeline(t0: int) -> list[int]:
    """Record timestamps: 100 s steady (1/s), a 1000-record burst, 200 s idle, 100 s steady."""
    steady = [t0 + i * 1000 for i in range(100)]
    burst = [t0 + 100_000 + j for j in range(1000)]
    after_idle = [t0 + 300_000 + i * 1000 for i in range(100)]
    return steady + burst + after_idle


def test_exact_time_lag_accuracy_per_phase(bootstrap, unique_name):
    topic = unique_name
    kh.create_topic(bootstrap, topic, partitions=1, rf=3)
    t0 = int(time.time() * 1000) - 400_000
    stamps = _timeline(t0)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        max_in_flight_requests_per_connection=1,
        linger_ms=5,
    )
    for ts in stamps:
        producer.send(topic, value=b"x", partition=0, timestamp_ms=ts)
    producer.flush(timeout=60)
    producer.close()

    phases = {"steady": 50, "burst": 600, "after idle": 1100, "steady again": 1150}
    for phase, offset in phases.items():
        kh.commit(bootstrap, f"{unique_name}-{phase.replace(' ', '-')}", {(topic, 0): offset})
    # Accuracy, not the read budget, is under test: other tests' lagging groups share the
    # cluster, so give the exact method room to read every position.
    snap = collect_snapshot(
        "t", {"bootstrap_servers": bootstrap}, CollectOptions(time_lag_budget_ms=60_000)
    )
    now = snap.taken_at_ms
    # What a 10-second sampler would have recorded: (time, log end = records written before).
    history = [(t, sum(1 for s in stamps if s < t)) for t in range(t0, now, 10_000)]

    rows = []
    for phase, offset in phases.items():
        group = next(g for g in snap.groups if g.group_id.endswith(phase.replace(" ", "-")))
        [p] = group.partitions
        truth = now - stamps[offset]
        assert p.time_lag_method == "exact", (phase, snap.errors)
        assert p.time_lag_ms is not None
        tolerance = max(1000, 0.05 * truth)
        assert abs(p.time_lag_ms - truth) <= tolerance, (phase, p.time_lag_ms, truth)
        estimate = interpolated_time_lag(history, offset, now)
        assert estimate.time_lag_ms is not None
        rows.append((phase, truth, p.time_lag_ms, estimate.time_lag_ms))

    ARTIFACTS.mkdir(exist_ok=True)
    lines = [
        "| phase | truth (s) | exact (s) | exact error | interpolated (s) | interpolated error |",
        "|---|---|---|---|---|---|",
    ]
    for phase, truth, exact, est in rows:
        exact_err, est_err = abs(exact - truth), abs(est - truth)
        lines.append(
            f"| {phase} | {truth / 1000:.1f} | {exact / 1000:.1f} | {exact_err / 1000:.2f} s "
            f"| {est / 1000:.1f} | {est_err / 1000:.1f} s ({est_err / truth:.0%}) |"
        )
    (ARTIFACTS / "time_lag_accuracy.md").write_text("\n".join(lines) + "\n")
    # The interpolation is visibly wrong inside the burst: that is why exact is the default.
    burst = next(r for r in rows if r[0] == "burst")
    assert abs(burst[3] - burst[1]) > abs(burst[2] - burst[1])
