"""Benchmark: a full kafkaops snapshot vs Kafka's `kafka-consumer-groups --describe --all-groups`.

Builds (once) a dedicated sandbox cluster with ``--partitions`` partitions over ``--topics``
topics and ``--groups`` consumer groups with committed offsets, then times, in the same run:

* ``kafkaops snapshot --json --no-time-lag`` (the CLI, Python start-up included) — the like-for-
  like peer of the Kafka tool, which reports offset lag only;
* ``kafkaops snapshot --json`` with exact time lag on every lagging position;
* ``kafka-consumer-groups --describe --all-groups`` from the same jars.

Medians over ``--runs`` runs; peak RSS of each kafkaops process.  Results are printed as a
Markdown table for bench/README.md.  Loopback only; the cluster is stopped at the end unless
``--keep``.

    .venv/bin/python bench/snapshot_bench.py --partitions 5000 --groups 500
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
from kafka import TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    NotCoordinatorError,
)
from kafka.producer import KafkaProducer
from kafka.structs import OffsetAndMetadata
from rich.progress import Progress

from kafkaops.collect.admin import CollectOptions
from kafkaops.collect.snapshot import collect_snapshot
from kafkaops.sandbox.cluster import Sandbox
from kafkaops.sandbox.tools import tool_command

ROOT = Path(__file__).resolve().parent.parent


def build(box: Sandbox, topics: int, partitions: int, groups: int, rf: int) -> str:
    bootstrap = box.up(brokers=3, heap_mb=1024, base_port=39092)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=120000)
    try:
        existing = set(admin.list_topics())
        per_topic = partitions // topics
        names = [f"bench.t{i:04d}" for i in range(topics)]
        todo = [n for n in names if n not in existing]
        with Progress() as progress:
            task = progress.add_task("creating topics", total=len(todo))
            for i in range(0, len(todo), 10):
                chunk = todo[i : i + 10]
                admin.create_topics([NewTopic(n, per_topic, rf) for n in chunk])
                progress.advance(task, len(chunk))
            admin.wait_for_topics(names, timeout_ms=300000)
            existing_groups = {g["group_id"] for g in admin.list_groups()}
            if len(existing_groups) < groups:
                producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, acks=1)
                task = progress.add_task("producing 10 records per partition", total=len(names))
                for n in names:
                    for p in range(per_topic):
                        for _ in range(10):
                            producer.send(n, value=b"x" * 100, partition=p)
                    progress.advance(task)
                producer.flush(timeout=300)
                producer.close()
                task = progress.add_task("committing group offsets", total=groups)
                for g in range(groups):
                    # Each group reads 2 topics, half-way: real lag on every partition.
                    offsets = {
                        TopicPartition(names[(g + k) % topics], p): OffsetAndMetadata(5, "", -1)
                        for k in range(2)
                        for p in range(per_topic)
                    }
                    _commit_with_retry(admin, f"bench.g{g:04d}", offsets)
                    progress.advance(task)
    finally:
        admin.close()
    return bootstrap


def _commit_with_retry(admin: KafkaAdminClient, group: str, offsets: dict) -> None:
    """The offsets topic is created on first use: retry while its coordinators come up."""
    deadline = time.monotonic() + 120
    while True:
        try:
            admin.alter_group_offsets(group, offsets)
            return
        except (CoordinatorNotAvailableError, CoordinatorLoadInProgressError, NotCoordinatorError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def timed(cmd: list[str], timeout: float = 900) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) of the child, stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(cmd[:4])} …: {proc.stderr[-400:]}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(rss, before), proc.stdout


def peak_rss_kib(cmd: list[str]) -> int:
    """Peak RSS of one command and its children, sampled every 10 ms with psutil.

    (``wait4``'s ru_maxrss would count the forked parent's memory before ``exec``.)
    """
    proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            rss = proc.memory_info().rss + sum(
                c.memory_info().rss for c in proc.children(recursive=True)
            )
            peak = max(peak, rss)
        time.sleep(0.01)
    return peak // 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--partitions", type=int, default=5000)
    ap.add_argument("--topics", type=int, default=100)
    ap.add_argument("--groups", type=int, default=500)
    ap.add_argument("--rf", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cli-runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    box = Sandbox(ROOT / ".sandbox" / "bench")
    try:
        bootstrap = build(box, args.topics, args.partitions, args.groups, args.rf)
        kafkaops = [sys.executable, "-m", "kafkaops.cli", "snapshot", "--bootstrap", bootstrap]
        no_lag = [*kafkaops, "--json", "--no-time-lag"]
        with_lag = [*kafkaops, "--json"]
        kcg = tool_command(
            box,
            "kafka-consumer-groups",
            ["--bootstrap-server", bootstrap, "--describe", "--all-groups"],
        )
        # Warm up both (page cache, JIT in the brokers) and check the data is what we built.
        _, _, text = timed(no_lag)
        snap = json.loads(text)
        n_parts = sum(len(t["partitions"]) for t in snap["topics"] if not t["internal"])
        n_groups = len([g for g in snap["groups"] if g["group_id"].startswith("bench.")])
        n_offsets = sum(len(g["partitions"]) for g in snap["groups"])
        round_trips = snap["round_trips"]
        timed(kcg)

        results: dict[str, list[float]] = {
            "library": [],
            "table": [],
            "no_lag": [],
            "with_lag": [],
            "kcg": [],
        }
        table = [*kafkaops, "--no-time-lag"]
        rss: dict[str, int] = {}
        with Progress() as progress:
            task = progress.add_task("timing", total=4 * args.runs + args.cli_runs)
            for _ in range(args.runs):
                started = time.perf_counter()
                collect_snapshot(
                    "bench",
                    {"bootstrap_servers": bootstrap},
                    CollectOptions(time_lag_method="none"),
                )
                results["library"].append(time.perf_counter() - started)
                progress.advance(task)
                results["table"].append(timed(table)[0])
                progress.advance(task)
                results["no_lag"].append(timed(no_lag)[0])
                progress.advance(task)
                results["with_lag"].append(timed(with_lag)[0])
                progress.advance(task)
            for _ in range(args.cli_runs):
                results["kcg"].append(timed(kcg)[0])
                progress.advance(task)
        # The bench process's own peak: it holds one snapshot at a time, like the service.
        rss["library"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rss["table"] = peak_rss_kib(table)
        rss["no_lag"] = peak_rss_kib(no_lag)
        rss["with_lag"] = peak_rss_kib(with_lag)
        rss["kcg"] = peak_rss_kib(kcg)

        med = {k: statistics.median(v) for k, v in results.items()}
        print()
        print(
            f"cluster: 3 brokers, {n_parts} partitions (RF {args.rf}) in {args.topics} topics, "
            f"{n_groups} groups, {n_offsets} committed group-partition offsets; "
            f"Kafka {box.version}; kafkaops round trips: {sum(round_trips.values())} {round_trips}"
        )
        print()
        print(
            "| command | runs | median wall (s) | min / max (s) | peak RSS (MiB) | vs Kafka CLI |"
        )
        print("|---|---|---|---|---|---|")
        labels = {
            "library": "`collect_snapshot()` in-process (what `kafkaops serve` does each cycle)",
            "table": "`kafkaops snapshot --no-time-lag` (CLI, human table)",
            "no_lag": "`kafkaops snapshot --json --no-time-lag` (CLI, full JSON document)",
            "with_lag": "`kafkaops snapshot --json` (CLI, plus exact time lag)",
            "kcg": "`kafka-consumer-groups --describe --all-groups`",
        }
        for key in ("library", "table", "no_lag", "with_lag", "kcg"):
            v = results[key]
            ratio = med["kcg"] / med[key]
            print(
                f"| {labels[key]} | {len(v)} | {med[key]:.2f} | {min(v):.2f} / {max(v):.2f} | "
                f"{rss[key] / 1024:.0f} | {ratio:.1f}× faster |"
                if key != "kcg"
                else f"| {labels[key]} | {len(v)} | {med[key]:.2f} | {min(v):.2f} / {max(v):.2f} "
                f"| {rss[key] / 1024:.0f} | 1.0× |"
            )
        return 0
    finally:
        if not args.keep:
            box.down()


if __name__ == "__main__":
    sys.exit(main())
