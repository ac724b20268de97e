"""Benchmark: lag for 2,000 groups over 10,000 partitions — kafkaops vs Kafka's CLI vs Burrow.

Builds (once per run) a Kafka 3.9.2 sandbox on 127.0.0.1 — 3.9 because Debian's Burrow 1.2.1
cannot speak to Kafka 4 (KIP-896) — with ``--topics`` topics of ``--partitions-per-topic``
partitions (RF 2), a few records in every partition, and ``--groups`` consumer groups, each with
committed offsets on every partition of one topic (a microservice reading its topic).  Then, in
the same run, against the same cluster state:

* ``kafkaops lag --json --time-lag-method none`` (the CLI, Python start-up included; offset lag,
  like the peers) and the same through the library in-process; peak RSS of the CLI process;
* ``kafka-consumer-groups --describe --all-groups`` from the same jars;
* Burrow (Debian ``burrow``): once it has loaded every group, ``GET /v3/kafka/{cluster}/consumer/
  {group}/lag`` for every group over one keep-alive connection.  Burrow answers from memory
  (it consumes ``__consumer_offsets`` and polls log-end offsets in the background), so this is
  the cost of *reading* its view, not of computing it; the time it took to load the view
  after start is printed too.

Medians over ``--runs``; everything stopped at the end.  Prints a Markdown table.

    .venv/bin/python bench/lag_bench.py               # 500 topics x 20 partitions, 2,000 groups
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from kafka import KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata
from rich.progress import Progress

from burrow_support import start_burrow, start_zookeeper
from kafkaops.collect.admin import CollectOptions
from kafkaops.collect.snapshot import collect_snapshot
from kafkaops.sandbox.cluster import Sandbox
from kafkaops.sandbox.jars import LEGACY_KAFKA_VERSION
from kafkaops.sandbox.tools import tool_command
from snapshot_bench import _commit_with_retry

ROOT = Path(__file__).resolve().parent.parent
BASE_PORT = 37092
ZK_PORT = 22182
BURROW_PORT = 18001


def build(bootstrap: str, topics: int, per_topic: int, groups: int) -> None:
    """Topics, a few records per partition, and committed offsets for every group."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=120_000)
    names = [f"lagbench.t{i:04d}" for i in range(topics)]
    if set(names) <= set(admin.list_topics()):
        print("reusing the cluster built by an earlier --keep run", file=sys.stderr)
        admin.close()
        return
    with Progress() as progress:
        task = progress.add_task("topics", total=topics)
        for i in range(0, topics, 25):
            chunk = names[i : i + 25]
            admin.create_topics([NewTopic(n, per_topic, 2) for n in chunk], timeout_ms=120_000)
            progress.advance(task, len(chunk))
        producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, acks=1)
        task = progress.add_task("records", total=topics)
        for n in names:
            for p in range(per_topic):
                for _ in range(1 + p % 5):
                    producer.send(n, b"x" * 64, partition=p)
            progress.advance(task)
        producer.flush(timeout=300)
        producer.close()
        task = progress.add_task("group commits", total=groups)
        for g in range(groups):
            topic = names[g % topics]
            offsets = {
                # Offset 0 on every partition: every partition holds >= 1 record, so all
                # groups x partitions lag (issue 17's "40,000 lagging group-partitions").
                TopicPartition(topic, p): OffsetAndMetadata(0, "", -1)
                for p in range(per_topic)
            }
            _commit_with_retry(admin, f"lagbench.g{g:05d}", offsets)
            progress.advance(task)
    admin.close()


def run_measured(cmd: list[str], timeout: float = 900) -> tuple[float, int, bytes]:
    """Wall time, peak RSS (bytes, sampled every 20 ms) and stdout of one command."""
    start = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0
    chunks: list[bytes] = []
    import threading

    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, proc.memory_info().rss)
        if time.perf_counter() - start > timeout:
            proc.kill()
            raise TimeoutError(" ".join(cmd[:3]))
        time.sleep(0.02)
    reader.join(10)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1, 2):
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}")
    return elapsed, peak, b"".join(chunks)


def start_burrow_stack(root: Path, bootstrap: str) -> list[subprocess.Popen[bytes]]:
    zk = start_zookeeper(root, ZK_PORT)
    time.sleep(3)
    burrow = start_burrow(
        root, bootstrap, zk_port=ZK_PORT, http_port=BURROW_PORT, cluster="bench",
        whitelist="^lagbench\\.",
    )  # fmt: skip
    return [zk, burrow]


def burrow_get(conn: http.client.HTTPConnection, path: str) -> dict:
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"Burrow {path}: HTTP {resp.status}")
    return json.loads(body)


def burrow_wait_loaded(groups: int, timeout: float = 600) -> float:
    """Seconds until Burrow lists every benchmark group with lag for every partition."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            conn = http.client.HTTPConnection("127.0.0.1", BURROW_PORT, timeout=10)
            listed = burrow_get(conn, "/v3/kafka/bench/consumer").get("consumers", [])
            if len([g for g in listed if g.startswith("lagbench.")]) >= groups:
                last = sorted(listed)[-1]
                status = burrow_get(conn, f"/v3/kafka/bench/consumer/{last}/lag")["status"]
                if status.get("partitions") and status.get("status") != "NOTFOUND":
                    return time.monotonic() - start
        time.sleep(2)
    raise TimeoutError("Burrow did not load every group")


def burrow_all_lag(group_ids: list[str]) -> tuple[float, int]:
    """Time to read every group's lag from Burrow over one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", BURROW_PORT, timeout=10)
    start = time.perf_counter()
    total = 0
    for gid in group_ids:
        total += burrow_get(conn, f"/v3/kafka/bench/consumer/{gid}/lag")["status"]["totallag"]
    return time.perf_counter() - start, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topics", type=int, default=500)
    ap.add_argument("--partitions-per-topic", type=int, default=20)
    ap.add_argument("--groups", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="leave the cluster running")
    ap.add_argument("--base-port", type=int, default=BASE_PORT, help="first broker port")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kafkaops-lagbench-"))
    box = Sandbox(ROOT / ".sandbox" / "lagbench")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        bootstrap = box.up(
            brokers=3,
            heap_mb=2048,
            jvm="server",
            base_port=args.base_port,
            version=LEGACY_KAFKA_VERSION,
        )
        build(bootstrap, args.topics, args.partitions_per_topic, args.groups)
        procs = start_burrow_stack(root, bootstrap)
        burrow_started = time.monotonic()
        group_ids = [f"lagbench.g{g:05d}" for g in range(args.groups)]
        partitions = args.topics * args.partitions_per_topic

        cli = [str(ROOT / ".venv/bin/kafkaops"), "lag", "--json", "--bootstrap", bootstrap,
               "--time-lag-method", "none", "--group-regex", "^lagbench\\."]  # fmt: skip
        kcg = tool_command(box, "kafka-consumer-groups", [
            "--bootstrap-server", bootstrap, "--describe", "--all-groups"])  # fmt: skip
        ours_cli, ours_lib, peaks, theirs = [], [], [], []
        for run in range(args.runs):
            t, peak, out = run_measured(cli)
            rows = json.loads(out)
            assert len(rows) == args.groups, len(rows)
            ours_cli.append(t)
            peaks.append(peak)
            start = time.perf_counter()
            snap = collect_snapshot(
                "bench", {"bootstrap_servers": bootstrap}, CollectOptions(time_lag_method="none")
            )
            ours_lib.append(time.perf_counter() - start)
            ours_total = sum(g.total_lag for g in snap.groups if g.group_id.startswith("lagbench"))
            t, _, out = run_measured(kcg)
            theirs.append(t)
            lines = [ln for ln in out.decode().splitlines() if ln.startswith("lagbench.")]
            print(f"run {run + 1}: kafkaops {ours_cli[-1]:.2f} s, kafka-consumer-groups "
                  f"{t:.1f} s ({len(lines)} rows)", file=sys.stderr)  # fmt: skip
        burrow_wait_loaded(args.groups)
        load_s = time.monotonic() - burrow_started
        burrow = [burrow_all_lag(group_ids) for _ in range(args.runs)]
        burrow_total = burrow[-1][1]
        burrow_times = [t for t, _ in burrow]
        med = statistics.median
        print(f"\n{args.groups} groups, {partitions} partitions (RF 2), "
              f"{args.groups * args.partitions_per_topic} committed offsets, "
              f"Kafka {LEGACY_KAFKA_VERSION}, medians of {args.runs}\n")  # fmt: skip
        print("| tool | median | kafkaops is faster by | peak RSS | total lag |")
        print("|---|---|---|---|---|")
        base = med(ours_cli)
        print(f"| `kafkaops lag --json` (CLI, start-up included) | {base:.2f} s | — | "
              f"{max(peaks) / 2**20:.0f} MB | {ours_total} |")  # fmt: skip
        print(f"| kafkaops library (`collect_snapshot`, in process) | {med(ours_lib):.2f} s | — "
              f"| — | {ours_total} |")  # fmt: skip
        print(f"| `kafka-consumer-groups --describe --all-groups` | {med(theirs):.1f} s | "
              f"{med(theirs) / base:.1f}× | — | — |")  # fmt: skip
        print(f"| Burrow HTTP `…/consumer/{{group}}/lag` × {args.groups} (from memory) | "
              f"{med(burrow_times):.2f} s | {med(burrow_times) / base:.2f}× | — | "
              f"{burrow_total} (last run) |")  # fmt: skip
        print(f"\nBurrow needed {load_s:.0f} s after start before it had every group.")
        return 0
    finally:
        for p in procs:
            p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
        if not args.keep:
            box.down()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
