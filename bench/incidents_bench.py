"""Benchmark: the incident engine's cycle with thousands of firing alerts (issue 17).

At 20,000 partitions and 2,000 lagging groups the watch cycle's ``incidents`` phase took
1.4–2.3 s (``/health`` → ``last_phases_s``, bench/README.md): one alert per group and rule
(~4,000), each cycle loading and decoding every alert state and ledger entry (~13 MB of JSON)
and writing all of them back.  This script times :meth:`IncidentEngine.cycle` alone on a
throw-away SQLite store with ``--groups`` groups × 2 rules firing at P2 (lag numbers changing
every cycle, as in a real cluster), no maintenance windows, no outbox.

    .venv/bin/python bench/incidents_bench.py                  # 2,000 groups, 12 cycles
    PYTHONPATH=/path/to/other/checkout/src .venv/bin/python bench/incidents_bench.py
        # the same on another version of the engine (the before/after in bench/README.md)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.incidents.engine import IncidentEngine
from kafkaops.incidents.store import IncidentStore


def findings(groups: int, cycle: int) -> list[Finding]:
    out = []
    for g in range(groups):
        for rule in ("consumer_lag", "consumer_status"):
            lag = 1_000 + g + cycle * 7
            out.append(Finding(
                rule, Severity.P2, CheckStatus.TRIGGERED, f"{rule} triggered", float(lag),
                100.0, "records", f"bench.g{g:05d}",
                evidence=(f"lag {lag} on 20 partitions", f"cycle {cycle}"),
            ))  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", type=int, default=2000)
    ap.add_argument("--cycles", type=int, default=12)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kafkaops-incbench-"))
    store = IncidentStore(f"sqlite:///{root / 'incidents.db'}")
    settings = {"maintenance": {"windows": []}, "routing": {"p2": ["slack:#ops"]}}
    engine = IncidentEngine(store, settings)
    t0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    took = []
    for c in range(args.cycles):
        batch = findings(args.groups, c)
        start = time.perf_counter()
        engine.cycle("bench", batch, t0 + timedelta(seconds=10 * c))
        took.append(time.perf_counter() - start)
    steady = took[2:]  # the first cycles open the alerts and send the firing notifications
    median, worst = statistics.median(steady), max(steady)
    print(f"{args.groups * 2} firing alerts: first {took[0]:.3f} s, steady median "
          f"{median:.3f} s, max {worst:.3f} s over {len(steady)} cycles")  # fmt: skip
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
