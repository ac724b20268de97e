"""Benchmark: `kafkaops serve` at 20,000 partitions: load, 30-min soak, kafka_exporter beside.

Reuses the lag benchmark's cluster (:mod:`lag_bench`: Kafka 3.9.2 sandbox in ``.sandbox/lagbench``,
3 brokers + 1 KRaft controller from port 37092 up, ``--topics`` x 20 partitions (default 1,000 x
20 = 20,000 partitions), RF 2, and ``--groups`` consumer groups each committed at offset 0 on
every partition of one topic: 40,000 lagging group-partitions; ``--keep`` leaves it for the
next run).  Then, in one run:

1. starts ``kafkaops serve`` as a subprocess (its own config, a temporary SQLite store, watch
   interval 10 s, a free loopback port) and waits until ``GET /api/clusters/NAME/health`` is 200;
   from then on every watch cycle's duration (collect + lag + statuses + store + evaluate +
   incidents, from ``GET /health``) is recorded with the phase it ended in;
2. **quiet**: one minute of cycles with nothing else running;
3. **load**: ``wrk -c4 --latency`` on ``/metrics`` for ``--metrics-load-seconds`` (>= 30 cycles),
   then on ``/api/clusters/NAME/health`` and ``…/groups`` for ``--load-seconds`` each, with
   ``Accept-Encoding: gzip`` as Prometheus sends it unless ``--no-gzip`` (an httpx thread pool
   when ``wrk`` is missing: ``apt-get install -y wrk``); single-client latency for reference;
   then **scrapers**: ``--connections`` Prometheus-like clients, each scraping ``/metrics``
   every ``--scrape-every`` s for ``--scrape-seconds`` (the realistic reading of "scraped by 4
   clients"; wrk is the saturating one); every cycle is tagged with its phase and its wall time
   split by cycle phase (collect, lag, report, extras, incidents) from ``/health``;
4. **beside**: danielqsj/kafka_exporter (built beforehand into ``.cache/gobin``, see
   bench/README.md) started against the same brokers, and both ``/metrics`` put under the same
   wrk load *at the same time* for ``--peer-seconds``, the watch loop running; without the
   binary, Burrow's HTTP API (Debian ``burrow``) is measured after the soak instead;
5. **soak**: a steady, light, mixed load (``--soak-rate`` requests/s) for ``--soak-seconds``
   while the service's RSS (process tree, psutil) is sampled every ``--sample-every`` s: CSV +
   PNG chart (matplotlib, installed into the venv if missing), start/end/max and the slope.

Loopback only; every phase is bounded in time; the service, the peer and (unless ``--keep``) the
cluster are stopped at the end.  Raw results: ``bench/results/service-*.json|csv|png``.

    .venv/bin/python bench/service_bench.py --keep            # full run, ~50 min
    .venv/bin/python bench/service_bench.py --no-peer --metrics-load-seconds 60 \
        --load-seconds 10 --soak-seconds 120 --tag quick      # a quick look, ~6 min
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from kafkaops import __version__
from kafkaops.sandbox.cluster import Sandbox
from kafkaops.sandbox.jars import LEGACY_KAFKA_VERSION
from lag_bench import BASE_PORT, BURROW_PORT, ROOT, build, burrow_wait_loaded, start_burrow_stack

CLUSTER = "lagbench"
RESULTS = ROOT / "bench" / "results"
KAFKA_EXPORTER = ROOT / ".cache" / "gobin" / "kafka_exporter"
WRK_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def wait_for(what: str, check, timeout: float, interval: float = 1.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        with contextlib.suppress(httpx.HTTPError, OSError, ValueError):
            if check():
                return time.monotonic() - start
        time.sleep(interval)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f} s")


# ------------------------------------------------------------------------------ RSS sampling
@dataclass
class RssSampler:
    """RSS of a process and its children every ``period`` s, tagged with the current phase."""

    pid: int
    period: float
    rows: list[tuple[float, str, int, int, float, float]] = field(default_factory=list)
    phase: str = "start"
    _stop: threading.Event = field(default_factory=threading.Event)
    _t0: float = field(default_factory=time.monotonic)

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def sample(self) -> None:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(self.pid)
            main = proc.memory_info().rss
            kids = 0
            for child in proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    kids += child.memory_info().rss
            cpu = proc.cpu_times()
            self.rows.append(
                (time.monotonic() - self._t0, self.phase, main + kids, main,
                 cpu.user + cpu.system, os.getloadavg()[0])
            )  # fmt: skip

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.period)

    def write_csv(self, path: Path) -> None:
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["t_s", "phase", "rss_bytes_tree", "rss_bytes_main", "cpu_s", "loadavg_1m"])
            for t, phase, tree, main, cpu, load1 in self.rows:
                w.writerow([f"{t:.1f}", phase, tree, main, f"{cpu:.2f}", f"{load1:.2f}"])


@dataclass
class CycleSampler:
    """Every completed watch cycle's duration, read from ``GET /health`` once a second.

    ``/health`` reports each cluster's last cycle time and duration (collect + lag + statuses +
    store + evaluate + incidents); a cycle is new when its ``last_cycle_at`` changes.  Polling
    at 1 s cannot miss one at a 10-s interval.  Each cycle is tagged with the bench phase in
    which it *ended*.
    """

    base: str
    cycles: list[tuple[str, str, float]] = field(default_factory=list)
    #: Each cycle's wall time by cycle phase (``last_phases_s``: collect, lag, report, ...).
    cycle_phases: list[dict[str, float]] = field(default_factory=list)
    phase: str = "start"
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        seen = ""
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, IndexError):
                    loop = client.get(self.base + "/health").json()["clusters"][0]
                    at, took = loop["last_cycle_at"], loop["last_duration_s"]
                    if at and at != seen and took is not None:
                        seen = at
                        self.cycles.append((at, self.phase, float(took)))
                        self.cycle_phases.append(dict(loop.get("last_phases_s") or {}))
                self._stop.wait(1.0)

    def summary(self, phases: tuple[str, ...] | None = None) -> dict[str, Any]:
        picked = [
            (d, parts)
            for (_, ph, d), parts in zip(self.cycles, self.cycle_phases, strict=True)
            if phases is None or ph in phases
        ]
        took = [d for d, _ in picked]
        if not took:
            return {"n": 0}
        names = list(dict.fromkeys(n for _, parts in picked for n in parts))
        return {
            "n": len(took),
            "p50_s": round(pct(took, 50), 2),
            "p95_s": round(pct(took, 95), 2),
            "max_s": round(max(took), 2),
            "mean_s": round(statistics.fmean(took), 2),
            # Where the time went: the median of each cycle phase over the same cycles.
            "phase_p50_s": {
                n: round(pct([parts.get(n, 0.0) for _, parts in picked], 50), 2) for n in names
            },
        }


def slope_mib_per_min(rows: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS (MiB) over time (minutes)."""
    if len(rows) < 2:
        return 0.0
    xs = [t / 60 for t, _ in rows]
    ys = [r / 2**20 for _, r in rows]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def chart(sampler: RssSampler, path: Path, title: str) -> None:
    try:
        import matplotlib
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib"], check=True)
        import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=110)
    t0 = sampler.rows[0][0]
    xs = [(r[0] - t0) / 60 for r in sampler.rows]
    ax.plot(xs, [r[2] / 2**20 for r in sampler.rows], marker=".", lw=1.2, label="RSS (tree)")
    spans: dict[str, list[float]] = {}
    for x, r in zip(xs, sampler.rows, strict=True):
        spans.setdefault(r[1], []).append(x)
    colours = {"load": "#f4c7c3", "soak": "#c8e6c9"}
    for phase, pxs in spans.items():
        if phase in colours:
            ax.axvspan(min(pxs), max(pxs), color=colours[phase], alpha=0.5, label=phase)
    ax.set_xlabel("minutes since the service started")
    ax.set_ylabel("RSS (MiB)")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------------- load
def metrics_stats(url: str) -> dict[str, Any]:
    """Body size, sample lines and the largest families of one exposition page."""
    start = time.perf_counter()
    resp = httpx.get(url, timeout=120)
    elapsed = time.perf_counter() - start
    resp.raise_for_status()
    families: dict[str, int] = {}
    series = 0
    for line in resp.text.splitlines():
        if not line or line.startswith("#"):
            continue
        series += 1
        name = line.split("{", 1)[0].split(" ", 1)[0]
        families[name] = families.get(name, 0) + 1
    top = sorted(families.items(), key=lambda kv: -kv[1])[:8]
    return {
        "bytes": len(resp.content),
        "series": series,
        "families": len(families),
        "largest_families": dict(top),
        "first_get_s": round(elapsed, 4),
    }


def single_client(url: str, n: int) -> dict[str, float]:
    """Latency of ``n`` sequential requests from one keep-alive client (no queueing)."""
    times = []
    with httpx.Client(timeout=120) as client:
        for _ in range(n):
            start = time.perf_counter()
            client.get(url).raise_for_status()
            times.append(time.perf_counter() - start)
    return {
        "n": n,
        "p50_ms": round(pct(times, 50) * 1000, 2),
        "p99_ms": round(pct(times, 99) * 1000, 2),
        "max_ms": round(max(times) * 1000, 2),
    }


def run_wrk(
    url: str, seconds: int, conns: int, threads: int, lua: Path, gzip: bool = True
) -> dict[str, Any]:
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "60s", "--latency",
           "-s", str(lua), url]  # fmt: skip
    if gzip:  # as Prometheus scrapes (and httpx asks by default)
        cmd[1:1] = ["-H", "Accept-Encoding: gzip"]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=seconds + 120, check=True
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRKJSON "))
    raw = json.loads(line[len("WRKJSON ") :])
    secs = raw["duration_us"] / 1e6
    errors = sum(v for k, v in raw.items() if k.startswith("err_"))
    return {
        "tool": "wrk",
        "requests": raw["requests"],
        "rps": round(raw["requests"] / secs, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "mean_ms": round(raw["mean_us"] / 1000, 2),
        "errors": errors,
        "error_detail": {k: v for k, v in raw.items() if k.startswith("err_") and v},
        "mb_per_s": round(raw["bytes"] / secs / 2**20, 1),
    }


def scrapers(url: str, clients: int, every: float, seconds: float) -> dict[str, Any]:
    """``clients`` Prometheus-like scrapers: each GETs the gzip page, then waits out ``every``.

    The other reading of "scraped by 4 clients" (wrk -c4 is the saturating one): four scrapers
    at 1 s are fifteen times Prometheus' default rate, each with its own keep-alive connection.
    """
    deadline = time.monotonic() + seconds
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def scraper(offset: float) -> None:
        time.sleep(offset)  # spread over the interval, as independent servers would be
        with httpx.Client(timeout=60, headers={"Accept-Encoding": "gzip"}) as client:
            while time.monotonic() < deadline:
                start = time.perf_counter()
                try:  # the compressed bytes, as Prometheus reads them: inflating 30 MiB
                    # in this process's threads would time the client, not the server
                    with client.stream("GET", url) as r:
                        r.raise_for_status()
                        for _chunk in r.iter_raw():
                            pass
                except httpx.HTTPError:
                    with lock:
                        errors[0] += 1
                else:
                    with lock:
                        times.append(time.perf_counter() - start)
                time.sleep(max(0.0, every - (time.perf_counter() - start)))

    pool = [threading.Thread(target=scraper, args=(i * every / clients,)) for i in range(clients)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(seconds + 120)
    return {
        "clients": clients,
        "every_s": every,
        "requests": len(times),
        "p50_ms": round(pct(times, 50) * 1000, 1) if times else None,
        "p99_ms": round(pct(times, 99) * 1000, 1) if times else None,
        "max_ms": round(max(times) * 1000, 1) if times else None,
        "errors": errors[0],
    }


def run_httpx(url: str, seconds: int, conns: int) -> dict[str, Any]:
    """Closed-loop load with ``conns`` keep-alive clients in threads (when wrk is missing)."""
    deadline = time.monotonic() + seconds
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=60) as client:
            while time.monotonic() < deadline:
                start = time.perf_counter()
                try:
                    client.get(url).raise_for_status()
                except httpx.HTTPError:
                    with lock:
                        errors[0] += 1
                    continue
                with lock:
                    times.append(time.perf_counter() - start)

    started = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(conns)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(seconds + 120)
    secs = time.monotonic() - started
    return {
        "tool": "httpx",
        "requests": len(times),
        "rps": round(len(times) / secs, 1),
        "p50_ms": round(pct(times, 50) * 1000, 3),
        "p90_ms": round(pct(times, 90) * 1000, 3),
        "p99_ms": round(pct(times, 99) * 1000, 3),
        "max_ms": round(max(times) * 1000, 3),
        "mean_ms": round(statistics.fmean(times) * 1000, 2),
        "errors": errors[0],
    }


def load(
    url: str, args: argparse.Namespace, lua: Path, seconds: int | None = None
) -> dict[str, Any]:
    secs = args.load_seconds if seconds is None else seconds
    if shutil.which("wrk"):
        return run_wrk(url, secs, args.connections, args.threads, lua, not args.no_gzip)
    print("wrk not found (apt-get install -y wrk): using httpx threads", file=sys.stderr)
    return run_httpx(url, secs, args.connections)


def soak(base: str, paths: list[str], seconds: float, rate: float) -> dict[str, Any]:
    """Open-loop: one request every 1/rate s, endpoints in turn, one keep-alive client."""
    lat: dict[str, list[float]] = {p: [] for p in paths}
    errors: dict[str, int] = {p: 0 for p in paths}
    start = time.monotonic()
    i = 0
    with httpx.Client(base_url=base, timeout=30) as client:
        while True:
            due = start + i / rate
            now = time.monotonic()
            if due - start >= seconds:
                break
            if due > now:
                time.sleep(due - now)
            path = paths[i % len(paths)]
            t = time.perf_counter()
            try:
                client.get(path).raise_for_status()
                lat[path].append(time.perf_counter() - t)
            except httpx.HTTPError:
                errors[path] += 1
            i += 1
    return {
        "requests": i,
        "seconds": round(time.monotonic() - start, 1),
        "per_path": {
            p: {
                "n": len(v),
                "errors": errors[p],
                "p50_ms": round(pct(v, 50) * 1000, 2) if v else None,
                "p99_ms": round(pct(v, 99) * 1000, 2) if v else None,
                "max_ms": round(max(v) * 1000, 2) if v else None,
            }
            for p, v in lat.items()
        },
    }


# ---------------------------------------------------------------------------------- parts
def write_config(
    path: Path, bootstrap: str, store: Path, time_lag_method: str, hook_url: str
) -> None:
    path.write_text(
        f"""
clusters:
  {CLUSTER}:
    bootstrap: {bootstrap}
    time_lag_method: {time_lag_method}
store:
  url: sqlite:///{store}
watch:
  interval: 10s
incidents:
  # No maintenance windows: the runbook's defaults (daily 02:00-04:00 UTC ...) would mute the
  # page the fault phase waits for, and the result would depend on the hour of the run.
  maintenance:
    windows: []
  routing:
    p0: [webhook:bench]
    p1: [webhook:bench]
    p2: [webhook:bench]
channels:
  timeout: 5s
  webhooks:
    bench:
      url: {hook_url}
"""
    )


class PageReceiver:
    """A loopback webhook receiver: when each page arrived (monotonic) and what it said."""

    def __init__(self) -> None:
        import http.server

        received = self.received = []  # type: list[tuple[float, str]]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((time.monotonic(), body.decode("utf-8", "replace")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first_after(self, t0: float, *words: str) -> float | None:
        for at, body in list(self.received):
            if at >= t0 and all(w in body for w in words):
                return at - t0
        return None

    def stop(self) -> None:
        self.server.shutdown()


def fault_to_page(
    box: Sandbox, receiver: PageReceiver, node: int = 3, how: str = "stop"
) -> dict[str, Any]:
    """Stop (SIGTERM: controlled shutdown) or kill (SIGKILL: a crash) a broker, time its
    under-replicated P1 page at the receiver from the signal and from the process's exit,
    restart it."""
    t0 = time.monotonic()
    if how == "kill":
        box.kill_node(node)
    else:
        box.stop_node(node)
    stopped = time.monotonic() - t0
    page = None
    try:
        deadline = time.monotonic() + 120
        while page is None and time.monotonic() < deadline:
            time.sleep(0.2)
            page = receiver.first_after(t0, "under_replicated", "firing")
    finally:
        box.start_node(node, timeout_s=600)
    return {
        "how": how,
        "broker_stopped_after_s": round(stopped, 1),
        "page_after_stop_s": None if page is None else round(page, 1),
        "page_after_exit_s": None if page is None else round(page - stopped, 1),
        "restart_done_after_s": round(time.monotonic() - t0, 1),
    }


def start_service(tmp: Path, cfg: Path, port: int, interval: float) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "KAFKAOPS_API_TOKEN"}
    # As in production (README: `kafkaops db upgrade` once per release): the service starts on
    # a current schema, so it never loads alembic (~11 MiB) just to find nothing to migrate.
    subprocess.run(
        [str(ROOT / ".venv/bin/kafkaops"), "db", "upgrade", "--store",
         f"sqlite:///{tmp / 'kafkaops.db'}"],
        check=True, timeout=120, env=env, capture_output=True,
    )  # fmt: skip
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/kafkaops"), "serve", "--config", str(cfg),
         "--store", f"sqlite:///{tmp / 'kafkaops.db'}", "--bind", "127.0.0.1",
         "--port", str(port), "--interval", str(interval)],
        stdout=(tmp / "serve.out").open("wb"), stderr=(tmp / "serve.log").open("wb"), env=env,
    )  # fmt: skip


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 60) -> int | None:
    if proc is None or proc.poll() is not None:
        return None if proc is None else proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


def kafka_exporter_version() -> str:
    out = subprocess.run(
        [str(KAFKA_EXPORTER), "--version"], capture_output=True, text=True, timeout=10
    )
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else "?"


def start_kafka_exporter(tmp: Path, bootstrap: str, port: int) -> subprocess.Popen[bytes]:
    servers = [f"--kafka.server={s}" for s in bootstrap.split(",")]
    return subprocess.Popen(
        [str(KAFKA_EXPORTER), *servers, f"--kafka.version={LEGACY_KAFKA_VERSION}",
         f"--web.listen-address=127.0.0.1:{port}", "--verbosity=0"],
        stdout=(tmp / "kafka_exporter.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def fmt_ms(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.1f} ms" if v < 1000 else f"{v / 1000:.2f} s"


def beside(
    tmp: Path,
    bootstrap: str,
    base: str,
    args: argparse.Namespace,
    lua: Path,
    procs: list[subprocess.Popen[bytes]],
    cycles: CycleSampler,
) -> dict[str, Any]:
    """kafka_exporter started next to the running service; both ``/metrics`` under the same
    wrk load at the same time, so both see the same machine, the same brokers and each other."""
    pport = free_port()
    peer = start_kafka_exporter(tmp, bootstrap, pport)
    procs.append(peer)
    purl = f"http://127.0.0.1:{pport}/metrics"
    seen: dict[str, Any] = {}

    def peer_ready() -> bool:
        if peer.poll() is not None:
            raise RuntimeError((tmp / "kafka_exporter.log").read_text()[-2000:])
        seen.update(metrics_stats(purl))  # one full scrape
        return seen["largest_families"].get("kafka_consumergroup_lag", 0) > 0

    warm = wait_for("kafka_exporter", peer_ready, timeout=900, interval=2)
    print(f"kafka_exporter ready after {warm:.0f} s; both /metrics under load", file=sys.stderr)
    cycles.phase = "beside"
    psampler = RssSampler(peer.pid, 5)
    psampler.start()
    loads: dict[str, dict[str, Any]] = {}

    def run(name: str, url: str) -> None:
        loads[name] = load(url, args, lua, args.peer_seconds)

    pool = [
        threading.Thread(target=run, args=("kafkaops", base + "/metrics")),
        threading.Thread(target=run, args=("kafka_exporter", purl)),
    ]
    for t in pool:
        t.start()
    for t in pool:
        t.join(args.peer_seconds + 300)
    psampler.stop()
    stop(peer, 15)
    procs.remove(peer)
    for name, r in loads.items():
        print(f"beside: {name} /metrics {r['rps']} req/s, p99 {fmt_ms(r['p99_ms'])}",
              file=sys.stderr)  # fmt: skip
    return {
        "peer": {
            "name": "kafka_exporter",
            "version": kafka_exporter_version(),
            "ready_after_s": round(warm, 1),
            "metrics": seen,
            "rss_max_mib": round(max(r[2] for r in psampler.rows) / 2**20, 1),
        },
        "load": loads,
        "host_loadavg_1m": round(os.getloadavg()[0], 2),
    }


# ----------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--partitions-per-topic", type=int, default=20)
    ap.add_argument("--groups", type=int, default=2000)
    ap.add_argument(
        "--time-lag-method", default="estimated", choices=["exact", "estimated", "none"]
    )
    ap.add_argument("--interval", type=float, default=10.0, help="watch interval (s)")
    ap.add_argument("--load-seconds", type=int, default=60, help="per API endpoint")
    ap.add_argument(
        "--metrics-load-seconds", type=int, default=300,
        help="wrk on /metrics alone (>= 30 watch cycles at the default interval)",
    )  # fmt: skip
    ap.add_argument("--connections", type=int, default=4, help="concurrent connections (wrk -c)")
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument(
        "--scrape-seconds", type=int, default=300,
        help="Prometheus-like phase: --connections scrapers of /metrics, each every --scrape-every",
    )  # fmt: skip
    ap.add_argument("--scrape-every", type=float, default=1.0, help="seconds between scrapes")
    ap.add_argument("--soak-seconds", type=int, default=1800)
    ap.add_argument("--soak-rate", type=float, default=5.0, help="requests/s during the soak")
    ap.add_argument("--sample-every", type=float, default=10.0, help="RSS sampling period (s)")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument(
        "--no-fault", action="store_true",
        help="skip stopping broker 3 at the end to time the under-replicated page",
    )  # fmt: skip
    ap.add_argument(
        "--fault", choices=("stop", "kill"), default="stop",
        help="stop: SIGTERM, the broker's controlled shutdown; kill: SIGKILL, a crash",
    )  # fmt: skip
    ap.add_argument("--no-gzip", action="store_true", help="wrk without Accept-Encoding: gzip")
    ap.add_argument(
        "--profile", type=int, default=0, metavar="S",
        help="py-spy record the service for S s at the start of the /metrics load",
    )  # fmt: skip
    ap.add_argument(
        "--peer-seconds", type=int, default=240,
        help="wrk on both /metrics at once, kafka_exporter beside (its scrapes take a minute)",
    )  # fmt: skip
    ap.add_argument("--tag", default="", help="suffix of the result file names")
    ap.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = ap.parse_args()
    sfx = f"-{args.tag}" if args.tag else ""

    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kafkaops-servicebench-"))
    lua = tmp / "report.lua"
    lua.write_text(WRK_LUA)
    box = Sandbox(ROOT / ".sandbox" / "lagbench")
    service: subprocess.Popen[bytes] | None = None
    peer_procs: list[subprocess.Popen[bytes]] = []
    sampler: RssSampler | None = None
    cycles: CycleSampler | None = None
    result: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kafkaops": __version__,
        "kafka": LEGACY_KAFKA_VERSION,
        "cpus": os.cpu_count(),
        "args": vars(args),
    }
    try:
        bootstrap = box.up(
            brokers=3,
            heap_mb=2048,
            jvm="server",
            base_port=BASE_PORT,
            version=LEGACY_KAFKA_VERSION,
        )
        build(bootstrap, args.topics, args.partitions_per_topic, args.groups)
        result["bootstrap"] = bootstrap
        cfg = tmp / "kafkaops.yaml"
        receiver = PageReceiver()
        write_config(cfg, bootstrap, tmp / "kafkaops.db", args.time_lag_method, receiver.url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        service = start_service(tmp, cfg, port, args.interval)
        sampler = RssSampler(service.pid, args.sample_every)
        sampler.start()
        health = f"/api/clusters/{CLUSTER}/health"
        groups = f"/api/clusters/{CLUSTER}/groups"

        def ready() -> bool:
            if service.poll() is not None:
                log = (tmp / "serve.log").read_text()[-3000:]
                raise RuntimeError(f"serve exited {service.returncode}: {log}")
            return httpx.get(base + health, timeout=10).status_code == 200

        first = wait_for("first cycle", ready, timeout=300)
        print(f"service ready ({base}); first cycle after {first:.1f} s", file=sys.stderr)

        def in_sync() -> bool:
            """No under-replicated partition: after a broker restart (an earlier run's fault
            phase) the brokers re-sync 20,000 partitions for minutes, and every cycle's
            `collect` would measure that instead of the service."""
            page = httpx.get(base + "/metrics", timeout=60).text
            urp = [
                float(ln.rsplit(" ", 1)[1])
                for ln in page.splitlines()
                if ln.startswith("kafkaops_under_replicated_partitions{")
            ]
            return bool(urp) and max(urp) == 0

        synced = wait_for("brokers in sync (URP = 0)", in_sync, timeout=900, interval=10)
        print(f"brokers in sync after {synced:.0f} s", file=sys.stderr)
        cycles = CycleSampler(base)
        cycles.start()
        cycles.phase = "quiet"
        time.sleep(6 * args.interval + 2)  # cycles with nothing but the loop running
        live = httpx.get(base + "/health", timeout=10).json()
        result["loop_after_start"] = live["clusters"]
        n_groups = len(httpx.get(base + groups, timeout=60).json()["groups"])
        result["groups_seen"] = n_groups
        result["metrics"] = metrics_stats(base + "/metrics")
        for p in (health, groups):
            result.setdefault("bodies", {})[p] = len(httpx.get(base + p, timeout=60).content)
        result["bodies"]["/metrics"] = result["metrics"]["bytes"]
        m = result["metrics"]
        print(f"/metrics: {m['bytes'] / 2**20:.1f} MiB, {m['series']} series; "
              f"{n_groups} groups", file=sys.stderr)  # fmt: skip

        # ---- unloaded reference and bounded load, loop running
        sampler.phase = "load"
        endpoints = ("/metrics", health, groups)
        result["single_client"] = {p: single_client(base + p, 20) for p in endpoints}
        result["load"] = {}
        for p in endpoints:
            spy = None
            if args.profile and p == "/metrics":
                spy = subprocess.Popen(
                    [str(ROOT / ".venv/bin/py-spy"), "record", "--pid", str(service.pid),
                     "--duration", str(args.profile), "--format", "raw", "--rate", "50",
                     "--output", str(RESULTS / f"service-pyspy{sfx}.txt"), "--threads"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            cycles.phase = f"load {p}"
            cpu0 = psutil.Process(service.pid).cpu_times()
            secs = args.metrics_load_seconds if p == "/metrics" else args.load_seconds
            result["load"][p] = load(base + p, args, lua, secs)
            cpu1 = psutil.Process(service.pid).cpu_times()
            result["load"][p]["service_cpu_s"] = round(
                cpu1.user + cpu1.system - cpu0.user - cpu0.system, 1
            )
            result["load"][p]["host_loadavg_1m"] = round(os.getloadavg()[0], 2)
            if spy is not None:
                spy.wait(args.profile + 60)
            r = result["load"][p]
            print(f"{p}: {r['rps']} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                  f"max {r['max_ms']} ms, errors {r['errors']}", file=sys.stderr)  # fmt: skip
        result["loop_after_load"] = httpx.get(base + "/health", timeout=10).json()["clusters"]
        if args.scrape_seconds:
            cycles.phase = f"{args.connections} scrapers every {args.scrape_every:g} s"
            result["scrapers"] = scrapers(
                base + "/metrics", args.connections, args.scrape_every, args.scrape_seconds
            )
            r = result["scrapers"]
            print(f"{cycles.phase}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                  f"max {r['max_ms']} ms, errors {r['errors']}", file=sys.stderr)  # fmt: skip

        # ---- kafka_exporter beside: both /metrics under wrk -c4 at the same time
        if not args.no_peer and KAFKA_EXPORTER.exists():
            cycles.phase = "peer warm-up"
            result["beside"] = beside(tmp, bootstrap, base, args, lua, peer_procs, cycles)

        # ---- soak
        sampler.phase = "soak"
        cycles.phase = "soak"
        sampler.sample()
        soak_from = len(sampler.rows) - 1
        print(f"soak: {args.soak_seconds} s at {args.soak_rate} req/s", file=sys.stderr)
        mix = ["/metrics", health, groups, "/health", "/api/clusters"]
        result["soak"] = soak(base, mix, args.soak_seconds, args.soak_rate)
        sampler.sample()
        sampler.phase = "end"
        rows = sampler.rows[soak_from:]
        rss = [(t - rows[0][0], tree) for t, _, tree, _, _, _ in rows]
        half = [(t, r) for t, r in rss if t >= rss[-1][0] / 2]
        result["rss"] = {
            "service_start_mib": round(sampler.rows[0][2] / 2**20, 1),
            "soak_start_mib": round(rss[0][1] / 2**20, 1),
            "soak_end_mib": round(rss[-1][1] / 2**20, 1),
            "soak_max_mib": round(max(r for _, r in rss) / 2**20, 1),
            "soak_min_mib": round(min(r for _, r in rss) / 2**20, 1),
            "overall_max_mib": round(max(r[2] for r in sampler.rows) / 2**20, 1),
            "slope_mib_per_min": round(slope_mib_per_min(rss), 3),
            "slope_second_half_mib_per_min": round(slope_mib_per_min(half), 3),
            "samples": len(rss),
            "service_cpu_s_during_soak": round(rows[-1][4] - rows[0][4], 1),
            "host_loadavg_1m_mean": round(statistics.fmean(r[5] for r in rows), 2),
        }
        result["loop_after_soak"] = httpx.get(base + "/health", timeout=10).json()["clusters"]
        with contextlib.suppress(httpx.HTTPError):
            page = httpx.get(base + "/metrics", timeout=60).text
            result["metrics_render_seconds"] = next(
                float(ln.split()[-1]) for ln in page.splitlines()
                if ln.startswith("kafkaops_metrics_render_seconds ")
            )  # fmt: skip
            # The collector's pauses over the whole run (kafkaops.core.gc_policy).
            result["gc_pauses"] = {
                ln.split()[0]: float(ln.split()[-1]) for ln in page.splitlines()
                if ln.startswith(("kafkaops_gc_pause", "kafkaops_gc_frozen"))
            }  # fmt: skip
        sampler.stop()
        cycles.stop()
        phases = dict.fromkeys(ph for _, ph, _ in cycles.cycles)
        result["cycles"] = {ph: cycles.summary((ph,)) for ph in phases}
        result["cycles"]["all after warm-up"] = cycles.summary(
            tuple(ph for ph in phases if ph not in ("start", "peer warm-up"))
        )
        result["cycle_durations"] = [
            [*c, parts] for c, parts in zip(cycles.cycles, cycles.cycle_phases, strict=True)
        ]
        sampler.write_csv(RESULTS / f"service-rss{sfx}.csv")
        chart(sampler, RESULTS / f"service-rss{sfx}.png",
              f"kafkaops serve RSS — {args.topics * args.partitions_per_topic:,} partitions, "
              f"{n_groups:,} groups, interval {args.interval:g} s")  # fmt: skip
        if not args.no_fault:
            cycles.phase = "fault"
            result["fault"] = fault_to_page(box, receiver, how=args.fault)
            print(f"fault -> page: {result['fault']}", file=sys.stderr)
        result["service_exit"] = stop(service)
        service = None

        # ---- without kafka_exporter: Burrow as the peer, our service stopped
        if not args.no_peer and not KAFKA_EXPORTER.exists():
            peer_procs += start_burrow_stack(tmp, bootstrap)
            warm = burrow_wait_loaded(n_groups)
            burl = (f"http://127.0.0.1:{BURROW_PORT}"
                    "/v3/kafka/bench/consumer/lagbench.g00000/lag")  # fmt: skip
            result["peer"] = {
                "name": "Burrow 1.2.1 (one group's lag)",
                "ready_after_s": round(warm, 1),
                "single_client": single_client(burl, 20),
                "load": load(burl, args, lua),
            }
            p = result["peer"]["load"]
            print(f"peer {result['peer']['name']}: {p['rps']} req/s, p99 {p['p99_ms']} ms",
                  file=sys.stderr)  # fmt: skip

        out = json.dumps(result, indent=2, default=str)
        (RESULTS / f"service-load{sfx}.json").write_text(out)
        print_table(result, args)
        return 0
    finally:
        if sampler is not None:
            sampler.stop()
        if cycles is not None:
            cycles.stop()
        stop(service)
        for proc in peer_procs:
            stop(proc, 15)
        if not args.keep:
            box.down()
        shutil.rmtree(tmp, ignore_errors=True)


def print_table(r: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\n{args.topics * args.partitions_per_topic:,} partitions, "
          f"{r['groups_seen']:,} groups, Kafka {r['kafka']}, wrk -t{args.threads} "
          f"-c{args.connections}, watch loop running (interval {args.interval:g} s)\n")  # fmt: skip
    print("| endpoint | wrk s | req/s | p50 | p90 | p99 | max | errors | body "
          "| 1 client p50 / p99 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path, x in r["load"].items():
        one = r["single_client"][path]
        secs = args.metrics_load_seconds if path == "/metrics" else args.load_seconds
        print(f"| `{path}` | {secs} | {x['rps']:.0f} | {fmt_ms(x['p50_ms'])} | "
              f"{fmt_ms(x['p90_ms'])} | {fmt_ms(x['p99_ms'])} | {fmt_ms(x['max_ms'])} | "
              f"{x['errors']} | {r['bodies'][path] / 1024:,.0f} KiB | {fmt_ms(one['p50_ms'])} / "
              f"{fmt_ms(one['p99_ms'])} |")  # fmt: skip
    side = r.get("beside")
    if side:
        print(f"\nBoth /metrics at once, wrk -c{args.connections} each for "
              f"{args.peer_seconds} s (host load {side['host_loadavg_1m']}):\n")  # fmt: skip
        print("| exporter | req/s | p50 | p90 | p99 | max | errors | series | RSS max |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, x in side["load"].items():
            series = (r["metrics"] if name == "kafkaops" else side["peer"]["metrics"])["series"]
            rss = side["peer"]["rss_max_mib"] if name != "kafkaops" else r["rss"]["overall_max_mib"]
            print(f"| {name} | {x['rps']:.2f} | {fmt_ms(x['p50_ms'])} | {fmt_ms(x['p90_ms'])} | "
                  f"{fmt_ms(x['p99_ms'])} | {fmt_ms(x['max_ms'])} | {x['errors']} | "
                  f"{series:,} | {rss} MiB |")  # fmt: skip
        ours, theirs = side["load"]["kafkaops"], side["load"]["kafka_exporter"]
        print(f"\np99 ratio (kafka_exporter / kafkaops): "
              f"{theirs['p99_ms'] / max(ours['p99_ms'], 1e-9):.0f}x")  # fmt: skip
    peer = r.get("peer")
    if peer:
        x = peer["load"]
        print(f"\npeer {peer['name']}: {x['rps']:.1f} req/s, p99 {fmt_ms(x['p99_ms'])}")
    print("\n| watch cycle, phase | cycles | p50 | p95 | max |")
    print("|---|---|---|---|---|")
    for phase, c in r["cycles"].items():
        if c["n"]:
            print(f"| {phase} | {c['n']} | {c['p50_s']} s | {c['p95_s']} s | {c['max_s']} s |")
    if r.get("fault"):
        f = r["fault"]
        print(f"\nfault -> page: broker 3 stopped; P1 under-replicated page at the receiver "
              f"{f['page_after_stop_s']} s after the stop began (restart took "
              f"{f['restart_done_after_s']} s)")  # fmt: skip
    m = r["metrics"]
    print(f"\n/metrics: {m['bytes']:,} bytes, {m['series']:,} series in {m['families']} families")
    s = r["rss"]
    print(f"RSS: soak start {s['soak_start_mib']} MiB, end {s['soak_end_mib']} MiB, max "
          f"{s['soak_max_mib']} MiB, overall max {s['overall_max_mib']} MiB, slope "
          f"{s['slope_mib_per_min']} MiB/min (second half "
          f"{s['slope_second_half_mib_per_min']})")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
