"""Benchmark: the lag engine's share of a watch cycle at 20,000 partitions (issue 17).

What the watch loop does after the snapshot arrives — estimated time lag, one history write,
consumer statuses for every group — timed on synthetic snapshots of the issue's target size:
1,000 topics x 20 partitions = 20,000 partitions, 2,000 groups each reading one topic (half the
topics are read by two groups), every one of the 40,000 group-partitions lagging.  No Kafka is
needed: the snapshot is built in memory, so the figure is the lag engine's cost alone, the part
issue 17 found growing with the history (windows re-read from the store every cycle, two
single-row queries per lagging position for the time-lag estimate).

Two engines in the same run, on the same snapshots and a fresh SQLite store each:

* ``store``: the store-backed path (``observe(store, snapshot)``) — what watch did before;
* ``memory``: the same calls with a :class:`~kafkaops.lag.memory.LagMemory` (windows and log-end
  history kept in memory, restored from the store once at start).

Both must give identical statuses and time lags every cycle (checked).  Prints a Markdown
table: per-cycle median and p95 (cycles after the window filled), and the peak RSS growth.

    .venv/bin/python bench/observe_bench.py                 # 20,000 partitions, 15 cycles
    .venv/bin/python bench/observe_bench.py --topics 100    # a quick run
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from kafkaops.core.model import (
    Broker,
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

CLUSTER = "bench"


def snapshots(
    topics: int, partitions: int, cycles: int, interval_ms: int
) -> Iterator[ClusterSnapshot]:
    """``cycles`` snapshots ``interval_ms`` apart: producers write 100 records per partition per
    cycle; of each topic's two groups one keeps 250 records behind, the other stops at cycle 5."""
    start = 1_780_000_000_000
    brokers = tuple(Broker(i, "127.0.0.1", 9092 + i) for i in (1, 2, 3))
    for cycle in range(cycles):
        now = start + cycle * interval_ms
        end = 10_000 + 100 * cycle
        states = []
        groups = []
        for t in range(topics):
            name = f"topic-{t:04d}"
            parts = tuple(
                PartitionState(name, p, 1 + p % 3, (1, 2, 3), (1, 2, 3),
                               log_start_offset=0, log_end_offset=end)
                for p in range(partitions)
            )  # fmt: skip
            states.append(Topic(name, False, parts))
            for k in (0, 1):  # two groups per topic: one keeps reading, one stops
                # 2.5 cycles behind (time lag ~25 s), or stuck since cycle 5 (a STOP)
                committed = 10_000 + 100 * (cycle if k == 0 else min(cycle, 5)) - 250
                gid = f"group-{t:04d}-{k}"
                member = GroupMember(f"m-{gid}", "client", "/127.0.0.1")
                lags = tuple(
                    PartitionLag(name, p, committed, 0, end, end - committed,
                                 member_id=member.member_id)
                    for p in range(partitions)
                )  # fmt: skip
                groups.append(ConsumerGroup(gid, "Stable", "consumer", 1, (member,), lags))
        yield ClusterSnapshot(
            cluster_name=CLUSTER,
            bootstrap="127.0.0.1:9092",
            taken_at_ms=now,
            duration_ms=0,
            cluster_id="bench",
            controller_id=1,
            quorum_leader_id=1,
            quorum_voters=(1,),
            brokers=brokers,
            topics=tuple(states),
            groups=tuple(groups),
            log_dirs=(),
        )


def run(engine: str, snaps: list[ClusterSnapshot], lag: LagSettings, folder: Path) -> dict:
    """Feed every snapshot through one engine; per-cycle seconds, RSS growth, the outputs."""
    store = HistoryStore(f"sqlite:///{folder / f'{engine}.db'}")
    memory = LagMemory(store, CLUSTER, window=lag.window) if engine == "memory" else None
    proc = psutil.Process()
    gc.collect()
    rss0 = proc.memory_info().rss
    times, outputs = [], []
    try:
        for snap in snaps:
            t0 = time.perf_counter()
            stored, statuses = observe(
                store, snap, time_lag_method="estimated", lag=lag, memory=memory
            )
            times.append(time.perf_counter() - t0)
            outputs.append(
                (
                    {g: s.label for g, s in statuses.items()},
                    [
                        (p.time_lag_ms, p.time_lag_method)
                        for g in stored.groups
                        for p in g.partitions
                    ],
                )
            )
    finally:
        store.close()
    return {"times": times, "rss_mib": (proc.memory_info().rss - rss0) / 2**20, "out": outputs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=20)
    ap.add_argument("--cycles", type=int, default=15)
    ap.add_argument("--interval-ms", type=int, default=10_000)
    args = ap.parse_args(argv)
    lag = LagSettings(window=10)
    snaps = list(snapshots(args.topics, args.partitions, args.cycles, args.interval_ms))
    groups = len(snaps[0].groups)
    lagging = sum(len(g.partitions) for g in snaps[0].groups)
    print(
        f"{args.topics * args.partitions:,} partitions, {groups:,} groups, "
        f"{lagging:,} lagging group-partitions, {args.cycles} cycles",
        file=sys.stderr,
    )
    results = {}
    with tempfile.TemporaryDirectory(prefix="kafkaops-observe-bench-") as tmp:
        for engine in ("store", "memory"):
            results[engine] = run(engine, snaps, lag, Path(tmp))
            print(f"  {engine}: done", file=sys.stderr)
    if results["store"]["out"] != results["memory"]["out"]:
        print("MISMATCH: the two engines disagree", file=sys.stderr)
        return 1
    full = lag.window  # cycles after the window filled: the steady state
    print("| engine | median s/cycle | p95 s/cycle | first cycle s | RSS growth MiB |")
    print("|---|---|---|---|---|")
    for engine, r in results.items():
        steady = sorted(r["times"][full:]) or sorted(r["times"])
        p95 = steady[min(len(steady) - 1, int(0.95 * len(steady)))]
        print(
            f"| {engine} | {statistics.median(steady):.2f} | {p95:.2f} | "
            f"{r['times'][0]:.2f} | {r['rss_mib']:.0f} |"
        )
    ratio = statistics.median(results["store"]["times"][full:]) / statistics.median(
        results["memory"]["times"][full:]
    )
    print(f"\nmemory engine: {ratio:.1f}x faster per steady-state cycle; outputs identical.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
