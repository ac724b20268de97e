"""Balance end to end on a real cluster of its own: 3 brokers, then a 4th added empty.

Proves the issue's "done when": the new broker shows empty, plan + apply move data to it
under a throttle, the cluster is in band afterwards, no throttle config remains (read back
with DescribeConfigs), consumers see every record; bad plans are refused with nothing applied;
an interrupted apply removes its throttle; a SIGKILLed one is repaired by status/cancel; a
drained broker ends with zero replicas; partitions add places rack-aware and guards keyed
topics.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from kafkaops.balance.admin import RATE_KEYS, REPLICA_KEYS
from kafkaops.sandbox.cluster import Sandbox
from tests.conftest import TEST_BASE_PORT, run_cli, wait_until
from tests.kafka_helpers import admin, create_topic

pytestmark = [pytest.mark.integration, pytest.mark.destructive]

SKEWED = {i: [[1, 2], [2, 3], [3, 1]][i % 3] for i in range(12)}
RECORD = b"v" * 1000


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    root = Path(tempfile.mkdtemp(prefix="kafkaops-balance-"))
    sb = Sandbox(root)
    try:
        sb.up(
            brokers=3,
            base_port=TEST_BASE_PORT + 40,
            heap_mb=256,
            jmx_exporter=False,
            node_exporter=False,
        )
        yield sb
    finally:
        sb.down()


@pytest.fixture(scope="module")
def env(box: Sandbox) -> dict[str, str]:
    home = box.root / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home)}


def cli(box: Sandbox, env: dict[str, str], *args: str, timeout: float = 180):
    """``kafkaops ARGS`` against this module's cluster (``balance --dir X sub …``)."""
    where = ("--dir", str(box.root))
    argv = (args[0], *where, *args[1:]) if args[0] == "balance" else (*args, *where)
    return run_cli(*argv, env=env, timeout=timeout)


def produce(bootstrap: str, topic: str, per_partition: int, partitions: int, keyed=False) -> int:
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    try:
        for part in range(partitions):
            for i in range(per_partition):
                key = f"k{i}".encode() if keyed else None
                p.send(topic, value=RECORD, key=key, partition=part)
        p.flush(timeout=60)
    finally:
        p.close()
    return per_partition * partitions


def count_records(bootstrap: str, topic: str) -> int:
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or [])]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        ends = c.end_offsets(tps)
        seen = 0
        positions = dict.fromkeys(tps, 0)
        for _ in range(600):
            for tp, recs in c.poll(timeout_ms=200).items():
                seen += len(recs)
                positions[tp] = recs[-1].offset + 1
            if all(positions[tp] >= ends[tp] for tp in tps):
                break
        return seen
    finally:
        c.close()


def throttle_configs(bootstrap: str, topics: list[str]) -> dict:
    a = admin(bootstrap)
    try:
        brokers = [b["broker_id"] for b in a.describe_cluster()["brokers"]]
        res = [
            ConfigResource(ConfigResourceType.BROKER, str(b), dict.fromkeys(RATE_KEYS))
            for b in brokers
        ] + [
            ConfigResource(ConfigResourceType.TOPIC, t, dict.fromkeys(REPLICA_KEYS)) for t in topics
        ]
        raw = a.describe_configs(res)
    finally:
        a.close()
    return {
        f"{kind} {name}": {k: v["value"] for k, v in cfg.items()}
        for kind, by_name in raw.items()
        for name, cfg in by_name.items()
        if cfg
    }


def replicas_of(bootstrap: str, topic: str) -> dict[int, list[int]]:
    a = admin(bootstrap)
    try:
        t = a.describe_topics([topic])[0]
        return {p["partition_index"]: p["replica_nodes"] for p in t["partitions"]}
    finally:
        a.close()


def running_reassignments(bootstrap: str) -> dict:
    a = admin(bootstrap)
    try:
        return a.list_partition_reassignments()
    finally:
        a.close()


@pytest.fixture(scope="module")
def loaded(box: Sandbox, env: dict[str, str]) -> dict:
    bs = box.bootstrap()
    create_topic(bs, "bal-orders", assignment=SKEWED)
    create_topic(bs, "bal-keyed", assignment={i: [[1, 2], [2, 3], [3, 1]][i % 3] for i in range(3)})
    produced = produce(bs, "bal-orders", 300, 12)
    produce(bs, "bal-keyed", 20, 3, keyed=True)
    create_topic(bs, "bal-big", assignment={0: [1, 2], 1: [2, 3]})
    produce(bs, "bal-big", 6000, 2)
    proc = cli(box, env, "sandbox", "add-broker")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "4"
    return {"produced": produced, "bootstrap": box.bootstrap()}


def test_new_broker_shows_empty(box, env, loaded):
    proc = cli(box, env, "balance", "--json")
    assert proc.returncode == 1, proc.stderr  # outside the band
    data = json.loads(proc.stdout)
    by_broker = {b["broker"]: b for b in data["brokers"]}
    assert by_broker[4]["replicas"] == 0 and by_broker[4]["rack"] == "az1"
    assert data["finding"]["rule"] == "partition_imbalance"
    assert data["finding"]["severity"] == "P2"


@pytest.mark.parametrize(
    "entry, reason",
    [
        ({"topic": "bal-orders", "partition": 0, "replicas": [1, 9]}, "broker 9 is not in"),
        ({"topic": "bal-orders", "partition": 0, "replicas": [1, 2, 4]}, "replication factor"),
        ({"topic": "bal-orders", "partition": 0, "replicas": [2, 2]}, "repeats broker 2"),
        ({"topic": "no-such-topic", "partition": 0, "replicas": [1, 2]}, "does not exist"),
    ],
)
def test_bad_plans_refused_nothing_applied(box, env, loaded, tmp_path, entry, reason):
    good = {"topic": "bal-orders", "partition": 1, "replicas": [4, 3]}
    plan = tmp_path / "bad.json"
    plan.write_text(json.dumps({"version": 1, "partitions": [good, entry]}))
    before = replicas_of(loaded["bootstrap"], "bal-orders")
    proc = cli(box, env, "balance", "apply", str(plan))
    assert proc.returncode == 3
    assert reason in proc.stderr and "nothing applied" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert replicas_of(loaded["bootstrap"], "bal-orders") == before
    assert not running_reassignments(loaded["bootstrap"])


def test_plan_and_apply_to_new_broker_under_throttle(box, env, loaded, tmp_path):
    bs = loaded["bootstrap"]
    plan = tmp_path / "plan.json"
    proc = cli(
        box,
        env,
        "balance",
        "plan",
        "--add",
        "4",
        "--topics",
        "^bal-(orders|keyed)$",
        "-o",
        str(plan),
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(plan.read_text())
    assert data["partitions"] and data["kafkaops"]["complete"]
    assert all(4 in p["replicas"] for p in data["partitions"] if p["replicas"] != [])
    assert any(4 in p["replicas"] for p in data["partitions"])
    cmd = [
        sys.executable,
        "-m",
        "kafkaops.cli",
        "balance",
        "--dir",
        str(box.root),
        "apply",
        str(plan),
        "--throttle",
        "256KiB/s",
        "--batch",
        "3",
    ]
    apply = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env}
    )
    try:
        # While it runs, the throttle is on the cluster (read back with DescribeConfigs).
        seen = wait_until(
            lambda: throttle_configs(bs, ["bal-orders"]),
            timeout=60,
            interval=0.3,
            what="throttle configs during apply",
        )
        assert any("replication.throttled.rate" in str(v) for v in seen.values())
        out, errtext = apply.communicate(timeout=240)
    finally:
        if apply.poll() is None:
            apply.kill()
    assert apply.returncode == 0, errtext
    assert "throttle removed" in out
    assert throttle_configs(bs, ["bal-orders", "bal-keyed"]) == {}
    after = cli(box, env, "balance", "--json")
    diag = json.loads(after.stdout)
    assert after.returncode == 0, diag["dimensions"]
    assert {b["broker"]: b["replicas"] for b in diag["brokers"]}[4] > 0
    assert count_records(bs, "bal-orders") == loaded["produced"]
    audit = (Path(env["HOME"]) / ".kafkaops" / "balance-audit.jsonl").read_text().splitlines()
    last = json.loads(audit[-1])
    assert last["action"] == "apply" and last["result"] == "completed"
    assert last["throttle_removed"] and len(last["plan_hash"]) == 64 and last["who"]


def _start_slow_apply(box, env, tmp_path):
    """An apply that runs for minutes: 2 partitions of 6 MB each to broker 4 at 10 KiB/s.

    (The first replica fetch may return up to 1 MiB per partition before the quota bites,
    so the partitions must be larger than that for the throttle to show.)"""
    plan = tmp_path / "slow.json"
    moves = [
        {"topic": "bal-big", "partition": 0, "replicas": [4, 2]},
        {"topic": "bal-big", "partition": 1, "replicas": [4, 3]},
    ]
    plan.write_text(json.dumps({"version": 1, "partitions": moves}))
    cmd = [
        sys.executable, "-m", "kafkaops.cli", "balance", "--dir", str(box.root), "apply",
        str(plan), "--throttle", "10KiB/s",
    ]  # fmt: skip
    apply = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env}
    )
    bs = box.bootstrap()
    wait_until(
        lambda: running_reassignments(bs),
        timeout=60,
        interval=0.3,
        what="the reassignment to start",
    )
    return apply


def test_sigterm_apply_removes_throttle_and_cancels(box, env, loaded, tmp_path):
    bs = loaded["bootstrap"]
    apply = _start_slow_apply(box, env, tmp_path)
    apply.send_signal(signal.SIGTERM)
    _, errtext = apply.communicate(timeout=60)
    assert apply.returncode == 130, errtext
    assert "throttle removed" in errtext
    assert throttle_configs(bs, ["bal-big"]) == {}
    wait_until(lambda: not running_reassignments(bs), timeout=30, what="cancelled batch")
    # Cancelling restores the replica set (Kafka 4.1 may reorder it: [1, 2] came back [2, 1]).
    assert {p: set(r) for p, r in replicas_of(bs, "bal-big").items()} == {0: {1, 2}, 1: {2, 3}}


def test_killed_apply_is_repaired_by_status_and_cancel(box, env, loaded, tmp_path):
    bs = loaded["bootstrap"]
    apply = _start_slow_apply(box, env, tmp_path)
    apply.kill()  # SIGKILL: no finally runs
    apply.wait(timeout=30)
    status = cli(box, env, "balance", "status", "--json")
    data = json.loads(status.stdout)
    assert data["reassignments"] and data["throttles"]["brokers"]
    refused = cli(box, env, "balance", "cleanup")
    assert refused.returncode == 3 and "still running" in refused.stderr
    cancel = cli(box, env, "balance", "cancel", "--json")
    assert cancel.returncode == 0, cancel.stderr
    result = json.loads(cancel.stdout)
    assert result["cancelled"] and not result["still_running"]
    assert result["remaining"] == {"brokers": {}, "topics": {}}
    assert not running_reassignments(bs)
    assert throttle_configs(bs, ["bal-big"]) == {}
    # Cancelling restores the replica set (Kafka 4.1 may reorder it: [1, 2] came back [2, 1]).
    assert {p: set(r) for p, r in replicas_of(bs, "bal-big").items()} == {0: {1, 2}, 1: {2, 3}}
    assert cli(box, env, "balance", "cleanup").stdout.startswith("no throttle config")


def test_drain_empties_the_broker(box, env, loaded, tmp_path):
    bs = loaded["bootstrap"]
    plan = tmp_path / "drain.json"
    proc = cli(box, env, "balance", "plan", "--drain", "4", "-o", str(plan))
    assert proc.returncode == 0, proc.stderr
    proc = cli(box, env, "balance", "apply", str(plan), "--throttle", "100MiB/s")
    assert proc.returncode == 0, proc.stderr
    diag = json.loads(cli(box, env, "balance", "--json").stdout)
    assert {b["broker"]: b["replicas"] for b in diag["brokers"]}[4] == 0
    assert all(4 not in r for r in replicas_of(bs, "bal-orders").values())
    assert count_records(bs, "bal-orders") == loaded["produced"]
    assert throttle_configs(bs, ["bal-orders", "bal-keyed"]) == {}


def test_partitions_add_dry_run_keyed_guard_and_apply(box, env, loaded):
    bs = loaded["bootstrap"]
    dry = cli(box, env, "partitions", "add", "bal-keyed", "--by", "2", "--json")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["keyed"] and report["partitions_after"] == 5 and not report["applied"]
    assert len(replicas_of(bs, "bal-keyed")) == 3
    refused = cli(box, env, "partitions", "add", "bal-keyed", "--by", "2", "--apply")
    assert refused.returncode == 3 and "keyed" in refused.stderr
    assert len(replicas_of(bs, "bal-keyed")) == 3
    done = cli(box, env, "partitions", "add", "bal-orders", "--by", "4", "--apply", "--json")
    assert done.returncode == 0, done.stderr
    placed = {e["partition"]: e["replicas"] for e in json.loads(done.stdout)["new_partitions"]}
    actual = replicas_of(bs, "bal-orders")
    assert len(actual) == 16
    racks = {1: "az1", 2: "az2", 3: "az3", 4: "az1"}
    for p, reps in placed.items():
        assert actual[p] == reps
        assert len({racks[b] for b in reps}) == len(reps)
