"""Benchmark: the lag engine's share of a watch cycle at 20,000 partitions (issue 17).

What the watch loop does after the snapshot arrives — estimated time lag, one history write,
consumer statuses for every group — timed on synthetic snapshots of the issue's target size:
1,000 topics x 20 partitions = 20,000 partitions, 2,000 groups each reading one topic (half the
topics are read by two groups), every one of the 40,000 group-partitions lagging.  No Kafka is
needed: the snapshot is built in memory, so the figure is the lag engine's cost alone, the part
issue 17 found growing with the history (windows re-read from the store every cycle, two
single-row queries per lagging position for the time-lag estimate).

Engines, in the same run, on the same snapshots and a fresh store each:

* ``store``: the store-backed path (``observe(store, snapshot)``) — what watch did before the
  in-memory history: windows re-read and evaluated sample by sample;
* ``memory-objects``: a :class:`~kafkaops.lag.memory.LagMemory` whose windows are handed to the
  status rules as one :class:`~kafkaops.store.history.GroupSample` per sample — the first
  lever of issue 17 as it was;
* ``memory``: what watch does now — the same memory, statuses evaluated on its arrays
  (:mod:`kafkaops.lag.status_arrays`).

All engines share the history write and the time-lag estimate code.  Every engine must give
the first engine's answers on every cycle — each group's whole status (every partition's
status, reason, completeness, sample count) and every time lag and its method — or the script
exits 1.  Prints a Markdown table: per-cycle median and p95 (cycles after the window filled),
the first cycle, the median CPU time per cycle of this process (SQLite runs in it; a
PostgreSQL server's share is not counted) — the figure a busy machine does not inflate — and
the RSS growth.

    .venv/bin/python bench/observe_bench.py                 # 20,000 partitions, 15 cycles
    .venv/bin/python bench/observe_bench.py --topics 100    # a quick run
    .venv/bin/python bench/observe_bench.py --engines memory-objects,memory --postgres
        # the store on a throw-away PostgreSQL (tests/postgres.py: Debian's server, loopback)
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
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
from kafkaops.store.history import GroupSample, HistoryStore

CLUSTER = "bench"
ENGINES = ("store", "memory-objects", "memory")


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


class ObjectsMemory:
    """The ``memory-objects`` engine: a LagMemory that is not one to ``evaluate_statuses``, so
    the status rules get its windows as sample objects (``group_windows``), as before."""

    def __init__(self, memory: LagMemory) -> None:
        self.memory = memory

    def restore(self) -> None:
        self.memory.restore()

    def add(self, snapshot: ClusterSnapshot) -> None:
        self.memory.add(snapshot)

    def group_windows(
        self, cluster: str, *, limit: int = 10
    ) -> dict[str, dict[tuple[str, int], list[GroupSample]]]:
        return self.memory.group_windows(cluster, limit=limit)

    def log_end_brackets(
        self, cluster: str, positions: Iterable[tuple[str, int, int]]
    ) -> dict[tuple[str, int, int], list[tuple[int, int]]]:
        return self.memory.log_end_brackets(cluster, positions)


def digest(stored: ClusterSnapshot, statuses: dict) -> str:
    """One cycle's answers, fingerprinted (keeping 40,000 statuses per cycle per engine would
    weigh on the RSS being measured): every GroupStatus in full, every time lag and method."""
    h = hashlib.sha256()
    for gid in sorted(statuses):
        h.update(repr(statuses[gid]).encode())
    for g in stored.groups:
        for p in g.partitions:
            h.update(f"{g.group_id}/{p.topic}/{p.partition}:{p.time_lag_ms}:{p.time_lag_method};"
                     .encode())  # fmt: skip
    return h.hexdigest()


def run(
    engine: str, snaps: list[ClusterSnapshot], lag: LagSettings, url: str, profile: bool = False
) -> dict:
    """Feed every snapshot through one engine; per-cycle seconds, RSS growth, the outputs.

    ``profile``: run the last cycle under cProfile and print where its time went (stderr).
    """
    store = HistoryStore(url)
    memory: LagMemory | ObjectsMemory | None = None
    if engine != "store":
        memory = LagMemory(store, CLUSTER, window=lag.window)
        if engine == "memory-objects":
            memory = ObjectsMemory(memory)
    proc = psutil.Process()
    gc.collect()
    rss0 = proc.memory_info().rss
    times: list[float] = []
    cpu: list[float] = []  # this process's CPU time: what the engine costs whatever the load
    outputs, labels = [], []
    try:
        for i, snap in enumerate(snaps):
            profiler = cProfile.Profile() if profile and i == len(snaps) - 1 else None
            if profiler is not None:
                profiler.enable()
            t0, c0 = time.perf_counter(), time.process_time()
            stored, statuses = observe(
                store,
                snap,
                time_lag_method="estimated",
                lag=lag,
                memory=memory,  # type: ignore[arg-type]
            )
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            if profiler is not None:
                profiler.disable()
                print(f"--- {engine}: last cycle under cProfile", file=sys.stderr)
                stats = pstats.Stats(profiler, stream=sys.stderr)
                stats.sort_stats("cumulative").print_stats(30)
            outputs.append(digest(stored, statuses))
            labels.append(sorted({s.label for s in statuses.values()}))
    finally:
        store.close()
    rss = (proc.memory_info().rss - rss0) / 2**20
    return {"times": times, "cpu": cpu, "rss_mib": rss, "out": outputs, "labels": labels}


def store_urls(args: argparse.Namespace, stack: ExitStack, engines: list[str]) -> dict[str, str]:
    """A fresh, empty database per engine: SQLite files, or databases on a PostgreSQL."""
    if not args.postgres:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kafkaops-obs-")))
        return {e: f"sqlite:///{folder / f'{e}.db'}" for e in engines}
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.postgres
    import sqlalchemy
    from tests.postgres import temporary_postgres

    base = stack.enter_context(temporary_postgres())
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    urls = {}
    with admin.connect() as conn:
        for e in engines:
            name = "obs_" + uuid.uuid4().hex[:12]
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
            urls[e] = base.rsplit("/", 1)[0] + "/" + name
    admin.dispose()
    return urls


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=20)
    ap.add_argument("--cycles", type=int, default=15)
    ap.add_argument("--interval-ms", type=int, default=10_000)
    ap.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="comma-separated, the first is the reference (default: all)",
    )
    ap.add_argument(
        "--postgres",
        action="store_true",
        help="the store on a throw-away PostgreSQL instead of SQLite files",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="cProfile each engine's last cycle (its time then includes the overhead)",
    )
    args = ap.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        ap.error(
            f"unknown engine {', '.join(unknown) or '(none)'}: choose from {', '.join(ENGINES)}"
        )
    lag = LagSettings(window=10, history_every="0s")  # both engines: every sample in the store
    snaps = list(snapshots(args.topics, args.partitions, args.cycles, args.interval_ms))
    groups = len(snaps[0].groups)
    lagging = sum(len(g.partitions) for g in snaps[0].groups)
    print(
        f"{args.topics * args.partitions:,} partitions, {groups:,} groups, "
        f"{lagging:,} lagging group-partitions, {args.cycles} cycles, "
        f"store {'PostgreSQL' if args.postgres else 'SQLite'}",
        file=sys.stderr,
    )
    results = {}
    with ExitStack() as stack:
        urls = store_urls(args, stack, engines)
        for engine in engines:
            results[engine] = run(engine, snaps, lag, urls[engine], args.profile)
            print(f"  {engine}: done", file=sys.stderr)
    reference = engines[0]
    for engine in engines[1:]:
        for cycle, (want, got) in enumerate(
            zip(results[reference]["out"], results[engine]["out"], strict=True)
        ):
            if want != got:
                print(f"MISMATCH: {engine} disagrees with {reference} at cycle {cycle}",
                      file=sys.stderr)  # fmt: skip
                return 1
    full = lag.window  # cycles after the window filled: the steady state
    print(
        "| engine | median s/cycle | p95 s/cycle | first cycle s | median CPU s/cycle "
        "| RSS growth MiB |"
    )
    print("|---|---|---|---|---|---|")
    for engine, r in results.items():
        steady = sorted(r["times"][full:]) or sorted(r["times"])
        p95 = steady[min(len(steady) - 1, int(0.95 * len(steady)))]
        cpu = statistics.median(r["cpu"][full:] or r["cpu"])
        print(
            f"| {engine} | {statistics.median(steady):.2f} | {p95:.2f} | "
            f"{r['times'][0]:.2f} | {cpu:.2f} | {r['rss_mib']:.0f} |"
        )
    last = engines[-1]
    print()
    for engine in engines[:-1]:
        ratio = statistics.median(results[engine]["times"][full:] or results[engine]["times"])
        ratio /= statistics.median(results[last]["times"][full:] or results[last]["times"])
        print(f"{last}: {ratio:.1f}x faster per steady-state cycle than {engine}.")
    print(f"Answers identical to {reference}'s on every cycle; statuses seen at the last "
          f"cycle: {', '.join(results[reference]['labels'][-1])}.")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
