"""Consumer status from stored samples of the real sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading

import pytest
from kafka import KafkaConsumer

from kafkaops.collect.admin import CollectOptions
from kafkaops.collect.snapshot import collect_snapshot
from kafkaops.lag.observe import record_and_evaluate
from kafkaops.lag.status import LagStatus
from kafkaops.store.history import HistoryStore
from tests import kafka_helpers as kh
from tests.conftest import run_cli, wait_until

pytestmark = pytest.mark.integration
NO_TIME_LAG = CollectOptions(time_lag_method="none")


def _sample(store, bootstrap):
    snap = collect_snapshot("sandbox", {"bootstrap_servers": bootstrap}, NO_TIME_LAG)
    return record_and_evaluate(store, snap, window=5)


def test_ok_stop_rewind_and_stall(bootstrap, unique_name, store_url):
    topic = unique_name
    ok, stop, rewind, stall = (f"{unique_name}-{s}" for s in ("ok", "stop", "rewind", "stall"))
    kh.create_topic(bootstrap, topic, partitions=1, rf=3)
    kh.produce(bootstrap, topic, 30, 1)
    kh.commit(bootstrap, ok, {(topic, 0): 30})
    kh.commit(bootstrap, stop, {(topic, 0): 10})
    kh.commit(bootstrap, rewind, {(topic, 0): 20})
    kh.commit(bootstrap, stall, {(topic, 0): 5})
    # A live member that never commits: the group is alive but its offset does not move.
    stop_member = threading.Event()

    def member() -> None:
        c = KafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=stall,
            enable_auto_commit=False,
            max_poll_records=1,
        )
        try:
            while not stop_member.is_set():
                c.poll(timeout_ms=200)
        finally:
            c.close(autocommit=False)

    thread = threading.Thread(target=member, daemon=True)
    thread.start()
    store = HistoryStore(store_url)
    try:
        wait_until(
            lambda: any(
                g.group_id == stall and g.members
                for g in collect_snapshot(
                    "sandbox", {"bootstrap_servers": bootstrap}, NO_TIME_LAG
                ).groups
            ),
            timeout=60,
            what="stall group member",
        )
        _sample(store, bootstrap)
        kh.commit(bootstrap, rewind, {(topic, 0): 12})
        statuses = _sample(store, bootstrap)
        assert statuses[ok].status == LagStatus.OK
        assert statuses[stop].status == LagStatus.STOP
        assert statuses[rewind].status == LagStatus.REWIND
        assert statuses[stall].status == LagStatus.STALL
        assert statuses[stall].burrow_status == LagStatus.ERR
    finally:
        stop_member.set()
        thread.join(10)
        store.close()


def test_lag_cli_watch_reports_status(bootstrap, unique_name, tmp_path):
    topic, group = unique_name, unique_name + "-g"
    kh.create_topic(bootstrap, topic, partitions=1, rf=3)
    kh.produce(bootstrap, topic, 10, 1)
    kh.commit(bootstrap, group, {(topic, 0): 3})
    db = f"sqlite:///{tmp_path / 'h.db'}"
    proc = run_cli(
        "lag",
        "--bootstrap",
        bootstrap,
        "--store",
        db,
        "--watch",
        "1",
        "--count",
        "3",
        "--group-regex",
        unique_name,
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    [row] = json.loads(proc.stdout)
    assert row["group_id"] == group and row["status"] == "STOP"
    proc = run_cli("lag", "--bootstrap", bootstrap, "--watch", "1")
    assert proc.returncode == 3 and "needs a history store" in proc.stderr


def test_warn_when_offsets_move_but_lag_keeps_growing(bootstrap, unique_name, store_url):
    topic, warn, ok = unique_name, f"{unique_name}-warn", f"{unique_name}-ok"
    kh.create_topic(bootstrap, topic, partitions=1, rf=3)
    store = HistoryStore(store_url)
    try:
        written = committed = 0
        statuses = {}
        for i in range(5):
            # The producer writes 20 records per interval; the consumer gets through only 10.
            kh.produce(bootstrap, topic, 20, 1)
            written += 20
            committed += 10
            kh.commit(bootstrap, warn, {(topic, 0): committed})
            # Behind, but the lag goes down at times: OK.  (Constant lag is WARN in Burrow too:
            # its rule is "lag never decreases over the window".)
            kh.commit(bootstrap, ok, {(topic, 0): written - (5 if i % 2 else 3)})
            statuses = _sample(store, bootstrap)
        assert statuses[warn].status == LagStatus.WARN, statuses[warn]
        assert statuses[warn].partitions[0].current_lag == written - committed
        assert statuses[ok].status == LagStatus.OK, statuses[ok]
    finally:
        store.close()


def test_health_with_a_store_reports_stopped_groups_as_p2(bootstrap, unique_name, tmp_path):
    topic, group = unique_name, f"{unique_name}-stopped"
    kh.create_topic(bootstrap, topic, partitions=2, rf=3)
    kh.produce(bootstrap, topic, 10, 2)
    kh.commit(bootstrap, group, {(topic, 0): 1, (topic, 1): 2})
    db = f"sqlite:///{tmp_path / 'health.db'}"
    report = {}
    for _ in range(3):
        proc = run_cli("health", "--bootstrap", bootstrap, "--store", db, "--json")
        assert proc.returncode in (0, 1, 2), proc.stderr
        report = json.loads(proc.stdout)
    ours = [
        f for f in report["findings"] if f["rule"] == "consumer_status" and f["subject"] == group
    ]
    assert len(ours) == 1, report["findings"]
    assert ours[0]["severity"] == "P2"
    assert "2 of 2 partitions STOP" in ours[0]["evidence"][0]
    # Without a store the rule is listed as not measured, never silently healthy.
    proc = run_cli("health", "--bootstrap", bootstrap, "--json")
    checks = json.loads(proc.stdout)["checks"]
    [status_check] = [c for c in checks if c["rule"] == "consumer_status"]
    assert status_check["status"] == "not_measured"
