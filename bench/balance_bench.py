"""Benchmark: kafkaops' balance planner vs ``kafka-reassign-partitions --generate``.

On a sandbox cluster of its own: 3 brokers with a deliberately skewed layout (replicas
dealt unevenly over brokers 1-3, record volumes per partition from a Pareto distribution),
then a 4th broker added empty (``Sandbox.add_broker``).  In the same run, from the same
snapshot (real sizes from DescribeLogDirs):

* ``kafkaops balance plan`` with and without ``--add 4`` (only the new broker receives data),
  goal replicas and goal disk;
* ``kafka-reassign-partitions --generate --broker-list 1,2,3,4`` from the same Kafka jars,
  over every benchmark topic (it is rack-aware by default, like kafkaops).

Reported for each: bytes moved (size × replicas that change broker), replicas moved, and the
final skew (largest distance from the mean, in %) of replicas, preferred leaders and bytes.
Then kafkaops' plan (``--goal disk``, no ``--add``) is applied under a throttle (time measured)
and every broker and topic is read back with DescribeConfigs: no throttle config remains.
Finally the planner alone is timed on a generated 20,000-partition layout.

    .venv/bin/python bench/balance_bench.py --topics 100 --partitions-per-topic 10

Loopback only; the cluster is removed at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from kafka import KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic

from kafkaops.balance.admin import RATE_KEYS, REPLICA_KEYS
from kafkaops.balance.layout import Layout, PartitionInfo, layout_from_snapshot
from kafkaops.balance.planner import PlanRequest, plan_reassignment
from kafkaops.collect.snapshot import CollectOptions, collect_snapshot
from kafkaops.sandbox.cluster import Sandbox
from kafkaops.sandbox.tools import run_tool

ROOT = Path(__file__).resolve().parent.parent


def build(box: Sandbox, topics: int, per_topic: int, rf: int, mib: int, seed: int) -> str:
    bootstrap = box.up(
        brokers=3, heap_mb=512, base_port=31092 + 80, jmx_exporter=False, node_exporter=False
    )
    rng = random.Random(seed)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=120_000)
    names = [f"bb.t{i:03d}" for i in range(topics)]
    # Skew: broker 1 is preferred twice as often as 2, 2 twice as often as 3.
    weights = {1: 4, 2: 2, 3: 1}
    try:
        for i in range(0, topics, 20):
            new = []
            for name in names[i : i + 20]:
                assignment = {}
                for p in range(per_topic):
                    pool = dict(weights)
                    reps = []
                    for _ in range(rf):
                        b = rng.choices(list(pool), weights=list(pool.values()))[0]
                        reps.append(b)
                        pool.pop(b)
                    assignment[p] = reps
                new.append(NewTopic(name, -1, -1, replica_assignments=assignment))
            admin.create_topics(new, timeout_ms=120_000)
    finally:
        admin.close()
    # Pareto-distributed volumes: a few partitions hold most of the bytes.
    sizes = [rng.paretovariate(1.1) for _ in range(topics * per_topic)]
    scale = mib * 2**20 / sum(sizes)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks=1, linger_ms=50, batch_size=256 * 1024
    )
    value = b"x" * 1000
    k = 0
    for name in names:
        for p in range(per_topic):
            for _ in range(max(1, int(sizes[k] * scale / 1000))):
                producer.send(name, value=value, partition=p)
            k += 1
    producer.flush(timeout=300)
    producer.close()
    return bootstrap


def skew(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return 100 * max(abs(v - mean) / mean for v in values) if mean else 0.0


def evaluate(layout: Layout, assignment: dict[tuple[str, int], tuple[int, ...]]) -> dict:
    replicas: Counter[int] = Counter({b: 0 for b in layout.brokers})
    leaders: Counter[int] = Counter({b: 0 for b in layout.brokers})
    data: Counter[int] = Counter({b: 0 for b in layout.brokers})
    moved_bytes = moved = 0
    for p in layout.partitions:
        after = assignment.get(p.key, p.replicas)
        new = [b for b in after if b not in p.replicas]
        moved += len(new)
        moved_bytes += p.size * len(new)
        for b in after:
            replicas[b] += 1
            data[b] += p.size
        leaders[after[0]] += 1
    return {
        "bytes_moved": moved_bytes,
        "replicas_moved": moved,
        "skew_replicas_pct": round(skew(list(replicas.values())), 1),
        "skew_leaders_pct": round(skew(list(leaders.values())), 1),
        "skew_bytes_pct": round(skew(list(data.values())), 1),
    }


def kafka_generate(box: Sandbox, bootstrap: str, topics: list[str], brokers: str) -> tuple:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"version": 1, "topics": [{"topic": t} for t in topics]}, f)
    started = time.monotonic()
    text = run_tool(
        box,
        "kafka-reassign-partitions",
        [
            "--bootstrap-server",
            bootstrap,
            "--generate",
            "--topics-to-move-json-file",
            f.name,
            "--broker-list",
            brokers,
        ],
        timeout_s=600,
    )
    took = time.monotonic() - started
    proposed = json.loads(text.strip().splitlines()[-1])
    return {
        (p["topic"], p["partition"]): tuple(p["replicas"]) for p in proposed["partitions"]
    }, took


def throttles_left(bootstrap: str, topics: list[str]) -> dict:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=60_000)
    try:
        brokers = [b["broker_id"] for b in admin.describe_cluster()["brokers"]]
        res = [
            ConfigResource(ConfigResourceType.BROKER, str(b), dict.fromkeys(RATE_KEYS))
            for b in brokers
        ] + [
            ConfigResource(ConfigResourceType.TOPIC, t, dict.fromkeys(REPLICA_KEYS)) for t in topics
        ]
        raw = admin.describe_configs(res)
    finally:
        admin.close()
    return {f"{k} {n}": c for k, by in raw.items() for n, c in by.items() if c}


def synthetic_plan_time(partitions: int = 20_000, seed: int = 5) -> dict:
    rng = random.Random(seed)
    brokers = {b: f"az{(b - 1) % 3 + 1}" for b in range(1, 10)}
    parts = []
    for i in range(partitions):
        # Six brokers over three racks hold everything; 7, 8, 9 (one per rack) are new.
        reps = [rng.choice([1, 4]), rng.choice([2, 5]), rng.choice([3, 6])]
        rng.shuffle(reps)
        parts.append(
            PartitionInfo(
                f"t{i % 500}", i // 500, tuple(reps), reps[0], int(rng.paretovariate(1.1) * 1e6)
            )
        )
    layout = Layout(brokers, tuple(parts))
    started, cpu = time.monotonic(), time.process_time()
    plan = plan_reassignment(layout, PlanRequest(add=frozenset({7, 8, 9})))
    took, took_cpu = time.monotonic() - started, time.process_time() - cpu
    assert plan.moves
    return {"wall_s": round(took, 2), "cpu_s": round(took_cpu, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--topics", type=int, default=100)
    ap.add_argument("--partitions-per-topic", type=int, default=10)
    ap.add_argument("--rf", type=int, default=2)
    ap.add_argument("--mib", type=int, default=200, help="total data written (MiB)")
    ap.add_argument("--throttle", default="50MiB/s")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "balance.json")
    args = ap.parse_args()

    box = Sandbox(ROOT / ".sandbox" / "balancebench")
    box.down()
    results: dict = {"args": {k: str(v) for k, v in vars(args).items()}}
    try:
        t0 = time.monotonic()
        bootstrap = build(box, args.topics, args.partitions_per_topic, args.rf, args.mib, args.seed)
        box.add_broker(rack="az4")
        bootstrap = box.bootstrap()
        results["build_s"] = round(time.monotonic() - t0, 1)
        snap = collect_snapshot(
            "bench",
            {"bootstrap_servers": bootstrap},
            CollectOptions(time_lag_method="none", request_timeout_ms=60_000),
        )
        full = layout_from_snapshot(snap)
        names = sorted(t.name for t in snap.topics if t.name.startswith("bb."))
        layout = Layout(full.brokers, tuple(p for p in full.partitions if p.topic in names))
        results["partitions"] = len(layout.partitions)
        results["bytes_total"] = sum(p.size * len(p.replicas) for p in layout.partitions)
        results["before"] = evaluate(layout, {})

        rows = {}
        for label, req in (
            ("kafkaops --add 4 (goal replicas)", PlanRequest(add=frozenset({4}))),
            ("kafkaops --add 4 --goal disk", PlanRequest(goal="disk", add=frozenset({4}))),
            ("kafkaops (goal replicas)", PlanRequest()),
            ("kafkaops --goal disk", PlanRequest(goal="disk")),
        ):
            started = time.monotonic()
            plan = plan_reassignment(layout, req)
            took = time.monotonic() - started
            rows[label] = {
                **evaluate(layout, {(m.topic, m.partition): m.after for m in plan.moves}),
                "plan_s": round(took, 3),
            }
        generated, took = kafka_generate(box, bootstrap, names, "1,2,3,4")
        rows["kafka-reassign-partitions --generate"] = {
            **evaluate(layout, generated),
            "plan_s": round(took, 3),
        }
        results["plans"] = rows

        # Apply kafkaops' plan under the throttle, through the CLI, and time it.
        plan_path = box.root / "plan.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "kafkaops.cli",
                "balance",
                "--dir",
                str(box.root),
                "plan",
                "--goal",
                "disk",
                "--topics",
                r"^bb\.",
                "-o",
                str(plan_path),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
        started = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "kafkaops.cli",
                "balance",
                "--dir",
                str(box.root),
                "apply",
                str(plan_path),
                "--throttle",
                args.throttle,
                "--batch",
                "50",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=3600,
            env={**os.environ, "HOME": str(box.root)},
        )
        results["apply"] = {
            "returncode": proc.returncode,
            "wall_s": round(time.monotonic() - started, 1),
            "result": json.loads(proc.stdout) if proc.stdout.strip() else proc.stderr[-500:],
            "throttle": args.throttle,
            "throttle_configs_left": throttles_left(bootstrap, names),
        }
        results["plan_time_20000_partitions"] = synthetic_plan_time()
    finally:
        if not args.keep:
            box.down()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print()
    print(
        "| planner | bytes moved | replicas moved | skew replicas | skew leaders | skew bytes "
        "| plan time |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    b = results["before"]
    print(
        f"| (before) | – | – | {b['skew_replicas_pct']} % | {b['skew_leaders_pct']} % | "
        f"{b['skew_bytes_pct']} % | – |"
    )
    for label, r in results["plans"].items():
        print(
            f"| {label} | {r['bytes_moved'] / 2**20:.1f} MiB | {r['replicas_moved']} | "
            f"{r['skew_replicas_pct']} % | {r['skew_leaders_pct']} % | {r['skew_bytes_pct']} % "
            f"| {r['plan_s']} s |"
        )


if __name__ == "__main__":
    main()
