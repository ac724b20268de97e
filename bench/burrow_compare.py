"""Consumer status: kafkaops vs the real Burrow, on the same scripted scenarios, same cluster.

Starts (all on 127.0.0.1, all stopped at the end):
* a Kafka 3.9.2 sandbox — Debian's Burrow 1.2.1 speaks protocol versions that Kafka 4 removed
  (KIP-896), so the comparison runs on 3.9, what most MSK clusters run;
* ZooKeeper from the same Kafka jars (Burrow 1.x needs one for its own coordination);
* Burrow (Debian package ``burrow``) with ``kafka-version = "2.1.0"``.

Scenarios, one group each on one single-partition topic written at 20 records/s:
ok (keeps up), warn (commits moving offsets at half the write rate), stop (committed once, no
members), stall (a live member re-committing one offset), rewind (commits go backwards once).
kafkaops samples every 3 s into an SQLite store and evaluates a 10-sample window; Burrow is
asked over HTTP at the same moment.  Prints a Markdown table for bench/README.md.

    .venv/bin/python bench/burrow_compare.py
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    KafkaError,
)
from kafka.structs import OffsetAndMetadata

from burrow_support import start_burrow, start_zookeeper
from kafkaops.collect.admin import CollectOptions
from kafkaops.collect.snapshot import collect_snapshot
from kafkaops.lag.observe import record_and_evaluate
from kafkaops.sandbox.cluster import Sandbox
from kafkaops.sandbox.jars import LEGACY_KAFKA_VERSION
from kafkaops.store.history import HistoryStore

TOPIC = "cmp.events"
TP = TopicPartition(TOPIC, 0)
BURROW_PORT = 18000
ZK_PORT = 22181
SCENARIOS = ("ok", "warn", "stop", "stall", "rewind")


def commit(c: KafkaConsumer | None, bootstrap: str, group: str, offset: int) -> None:
    if c is not None:
        c.commit({TP: OffsetAndMetadata(offset, "", -1)})
        return
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    deadline = time.monotonic() + 120
    try:
        while True:  # the offsets topic is created on first use: wait for its coordinators
            try:
                admin.alter_group_offsets(group, {TP: OffsetAndMetadata(offset, "", -1)})
                return
            except (CoordinatorNotAvailableError, CoordinatorLoadInProgressError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
    finally:
        admin.close()


def scenario_threads(bootstrap: str, stop: threading.Event) -> list[threading.Thread]:
    def producer() -> None:
        p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        while not stop.wait(0.05):
            p.send(TOPIC, b"x", partition=0)
        p.close()

    def member(group: str, behaviour: str) -> None:
        c = KafkaConsumer(
            TOPIC,
            bootstrap_servers=bootstrap,
            group_id=f"cmp.{group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        started = time.monotonic()
        position = 0
        rewound = False
        while not stop.is_set():
            c.poll(timeout_ms=200)
            end = c.end_offsets([TP])[TP]
            elapsed = time.monotonic() - started
            if behaviour == "ok":
                position = end
            elif behaviour == "warn":
                position += 10  # half of 20 records/s, one commit a second
            elif behaviour == "stall":
                position = 5
            elif behaviour == "rewind":
                position = end - 5 if not rewound else position + 20
                if elapsed > 58 and not rewound:  # inside both windows at evaluation time
                    position, rewound = max(0, position - 200), True
            try:
                commit(c, bootstrap, f"cmp.{group}", min(position, end))
            except KafkaError as exc:  # rebalances happen; the next second commits again
                print(
                    f"scenario {group}: commit retried after {type(exc).__name__}", file=sys.stderr
                )
            stop.wait(1.0)
        c.close(autocommit=False)

    threads = [threading.Thread(target=producer, daemon=True)]

    def guarded(group: str, behaviour: str) -> None:
        try:
            member(group, behaviour)
        except Exception as exc:  # a scenario that dies must show up, not vanish
            print(f"scenario {group} failed: {type(exc).__name__}: {exc}", file=sys.stderr)

    threads += [
        threading.Thread(target=guarded, args=(name, name), daemon=True)
        for name in ("ok", "warn", "stall", "rewind")
    ]
    return threads


def burrow_status(group: str) -> tuple[str, str]:
    url = f"http://127.0.0.1:{BURROW_PORT}/v3/kafka/sandbox/consumer/{group}/lag"
    with urllib.request.urlopen(url, timeout=5) as resp:
        data = json.load(resp)["status"]
    parts = data.get("partitions") or [{}]
    return data.get("status", "?"), parts[0].get("status", "?")


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="kafkaops-burrow-"))
    box = Sandbox(root / "kafka")
    procs: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    try:
        bootstrap = box.up(version=LEGACY_KAFKA_VERSION, base_port=35092)
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.create_topics([NewTopic(TOPIC, 1, 3)])
        admin.close()
        procs.append(start_zookeeper(root, ZK_PORT))
        commit(None, bootstrap, "cmp.stop", 0)  # creates __consumer_offsets before Burrow starts
        threads = scenario_threads(bootstrap, stop)
        for t in threads:
            t.start()
        time.sleep(5)
        procs.append(
            start_burrow(
                root, bootstrap, zk_port=ZK_PORT, http_port=BURROW_PORT, cluster="sandbox",
                whitelist="^cmp\\.", offset_refresh_s=3, topic_refresh_s=10,
            )
        )  # fmt: skip
        store = HistoryStore(f"sqlite:///{root / 'history.db'}")
        statuses = {}
        for i in range(20):  # 60 s of 3-second samples
            snap = collect_snapshot(
                "sandbox", {"bootstrap_servers": bootstrap}, CollectOptions(time_lag_method="none")
            )
            statuses = record_and_evaluate(store, snap, window=10)
            print(f"sample {i + 1}/20", file=sys.stderr)
            time.sleep(3)
        print(
            "| scenario | kafkaops partition | kafkaops group (Burrow-style) | Burrow partition "
            "| Burrow group | agree |"
        )
        print("|---|---|---|---|---|---|")
        for name in SCENARIOS:
            gid = f"cmp.{name}"
            ours = statuses.get(gid)
            ours_part = ours.partitions[0].status.value if ours and ours.partitions else "-"
            ours_group = ours.burrow_status.value if ours else "-"
            try:
                b_group, b_part = burrow_status(gid)
            except OSError as exc:
                b_group, b_part = f"error: {exc}", "-"
            agree = "yes" if (ours_part, ours_group) == (b_part, b_group) else "**no**"
            print(f"| {name} | {ours_part} | {ours_group} | {b_part} | {b_group} | {agree} |")
        store.close()
        return 0
    finally:
        stop.set()
        for p in procs:
            p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
        box.down()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
