"""Which HTTP request leaves memory behind in `kafkaops serve`: RSS around one request kind.

``service_bench.py`` showed the service at ~208 MiB before its first request and ~270 MiB after
the load phase (one uncompressed ``/metrics`` fetch, 20 single-client requests per endpoint, wrk
on ``/metrics``); ``memory_probe.py`` (no HTTP) does not see the difference.  This starts the
same service on the lag benchmark's cluster and, after a settling period, runs one kind of
request per step, then watches RSS for ``--window`` seconds (several watch cycles: RSS swings
by tens of MiB inside a cycle, so each step reports the window's minimum, median and maximum).

    .venv/bin/kafkaops sandbox up --dir .sandbox/lagbench
    .venv/bin/python bench/rss_steps.py --bootstrap 127.0.0.1:37092,127.0.0.1:37093,127.0.0.1:37094
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from service_bench import (
    CLUSTER,
    ROOT,
    PageReceiver,
    free_port,
    start_service,
    stop,
    wait_for,
    write_config,
)


def window(pid: int, seconds: float, every: float = 0.5) -> dict[str, float]:
    """RSS (MiB) of ``pid`` sampled for ``seconds``: min, median, max."""
    proc = psutil.Process(pid)
    rows = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rows.append(proc.memory_info().rss / 2**20)
        time.sleep(every)
    return {
        "min": round(min(rows), 1),
        "median": round(statistics.median(rows), 1),
        "max": round(max(rows), 1),
    }


def repeat(url: str, n: int, headers: dict[str, str] | None = None) -> Callable[[], None]:
    def run() -> None:
        with httpx.Client(timeout=120, headers=headers or {}) as client:
            for _ in range(n):
                client.get(url).raise_for_status()

    return run


def wrk(url: str, seconds: int) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(
            ["wrk", "-H", "Accept-Encoding: gzip", "-t1", "-c4", f"-d{seconds}s", url],
            capture_output=True, timeout=seconds + 60, check=True,
        )  # fmt: skip

    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--settle", type=float, default=90, help="seconds before the first step")
    ap.add_argument("--window", type=float, default=40, help="seconds watched after each step")
    ap.add_argument("--time-lag-method", default="estimated")
    ap.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench/results/rss-steps.json",
        help="where the JSON goes",
    )
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kafkaops-rsssteps-"))
    cfg = tmp / "kafkaops.yaml"
    receiver = PageReceiver()
    write_config(cfg, args.bootstrap, tmp / "kafkaops.db", args.time_lag_method, receiver.url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    service = start_service(tmp, cfg, port, 10.0)
    health = f"{base}/api/clusters/{CLUSTER}/health"
    groups = f"{base}/api/clusters/{CLUSTER}/groups"
    plain = {"Accept-Encoding": "identity"}
    steps: list[tuple[str, Callable[[], None]]] = [
        ("nothing (drift)", lambda: None),
        ("/metrics gzip x1", repeat(base + "/metrics", 1)),
        ("/metrics gzip x20", repeat(base + "/metrics", 20)),
        ("/metrics plain x1", repeat(base + "/metrics", 1, plain)),
        ("health x20", repeat(health, 20)),
        ("groups x1", repeat(groups, 1)),
        ("groups x20", repeat(groups, 20)),
        ("/metrics wrk -c4 10s", wrk(base + "/metrics", 10)),
        ("nothing (after)", lambda: None),
    ]
    results: list[dict[str, object]] = []
    try:
        wait_for(
            "first cycle",
            lambda: httpx.get(health, timeout=10).status_code == 200,
            timeout=300,
        )
        time.sleep(args.settle)
        results.append({"step": "baseline", **window(service.pid, args.window)})
        print(json.dumps(results[-1]), flush=True)
        for name, action in steps:
            started = time.perf_counter()
            action()
            took = round(time.perf_counter() - started, 1)
            results.append({"step": name, "took_s": took, **window(service.pid, args.window)})
            print(json.dumps(results[-1]), flush=True)
    finally:
        stop(service)
        receiver.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"{'step':24} {'min':>7} {'median':>7} {'max':>7}  MiB")
    for row in results:
        print(f"{row['step']:24} {row['min']:7.1f} {row['median']:7.1f} {row['max']:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
