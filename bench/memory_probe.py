"""Where the service's memory goes: ``kafkaops serve``'s state, cycled in-process, traced.

Builds the same state as ``kafkaops serve`` (config, store, watcher, app with its exporter),
runs ``--cycles`` watch cycles plus the per-cycle ``/metrics`` render, with the serve loop's
collector policy and malloc release, and prints:

* RSS after imports, after the app is built, and after each cycle;
* with ``--trace``: the top allocations still alive after the last cycle (tracemalloc, grouped
  by ``--group`` = lineno|filename|traceback), and the live object count by type.

No HTTP server runs, so this is the loop's memory alone.  Against the lag benchmark's cluster:

    .venv/bin/python bench/memory_probe.py --bootstrap 127.0.0.1:37092 --cycles 4 --trace
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import psutil


def rss_mib() -> float:
    return psutil.Process().memory_info().rss / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--cycles", type=int, default=4)
    ap.add_argument("--trace", action="store_true", help="tracemalloc (slows the cycles 2-3x)")
    ap.add_argument("--group", default="lineno", choices=("lineno", "filename", "traceback"))
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--time-lag-method", default="estimated")
    args = ap.parse_args()

    print(f"start: {rss_mib():.0f} MiB")
    from kafkaops.core.gc_policy import manage_collector
    from kafkaops.core.memory import release_free_memory, tune_malloc
    from kafkaops.service.app import create_app
    from kafkaops.service.server import ServeOptions, build_state

    tune_malloc()
    print(f"imports: {rss_mib():.0f} MiB")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "kafkaops.yaml"
        cfg.write_text(
            f"clusters:\n  probe:\n    bootstrap: {args.bootstrap}\n"
            f"    time_lag_method: {args.time_lag_method}\n"
            f"store:\n  url: sqlite:///{tmp}/kafkaops.db\n"
            "incidents:\n  maintenance:\n    windows: []\n"
        )
        state = build_state(ServeOptions(config=cfg))
        app = create_app(state, bind="127.0.0.1")
        exporter = app.state.exporter
        collector = manage_collector()
        print(f"app built: {rss_mib():.0f} MiB")
        if args.trace:
            tracemalloc.start(12 if args.group == "traceback" else 1)
        try:
            for i in range(args.cycles):
                started = time.perf_counter()
                outcome = state.watcher.cycle()
                state.record_cycle(outcome)
                exporter.refresh()
                collector.after_cycle()
                release_free_memory()
                took = time.perf_counter() - started
                phases = {k: round(v, 2) for c in outcome.clusters for k, v in c.phases}
                print(f"cycle {i + 1}: {took:.1f} s, RSS {rss_mib():.0f} MiB, {phases}")
            if args.trace:
                snap = tracemalloc.take_snapshot()
                stats = snap.statistics(args.group)
                total = sum(s.size for s in stats)
                print(f"\ntraced, alive: {total / 2**20:.1f} MiB in {len(stats)} places")
                for s in stats[: args.top]:
                    where = (
                        s.traceback.format(limit=6)
                        if args.group == "traceback"
                        else [str(s.traceback[0])]
                    )
                    print(f"{s.size / 2**20:8.2f} MiB {s.count:9d}  {where[-1].strip()}")
                    if args.group == "traceback":
                        for line in where[:-1]:
                            print(f"{'':29}{line.strip()}")
            kinds = Counter(type(o).__name__ for o in gc.get_objects())
            print("\nlive objects by type (gc-tracked):")
            for name, n in kinds.most_common(15):
                print(f"{n:10d}  {name}")
        finally:
            state.close()
            state.runtime.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
