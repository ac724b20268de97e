"""Issue 17 with real processes and no Kafka: 3 ``kafkaops watch`` on one PostgreSQL.

The three clusters are addresses nobody listens on, so each pages a P0 "cluster offline" after
``offline_after_cycles`` - to a real loopback webhook.  One instance that owns a cluster is
killed with SIGKILL; a survivor must hold that cluster's lease, in a new epoch, within two
intervals (measured on the database's clock, printed), and every cluster's page must have
arrived exactly once (the new owner continues the stored alert: no second page).

The Kafka version of this test (real clusters, a resolve sent by the new owner) is
``test_sharing_sandbox.py``; this one runs in seconds and needs no JVM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from tests.conftest import wait_until
from tests.notify.receivers import Recorder
from tests.pipeline.sharing_support import fresh_database, write_sharing_config

pytestmark = [pytest.mark.pages, pytest.mark.timeout(180)]

INTERVAL_S = 4
CLUSTERS = ("east", "north", "west")


def _config(path: Path, store: str, hook: str) -> Path:
    bootstraps = {name: f"127.0.0.1:{i + 1}" for i, name in enumerate(CLUSTERS)}
    return write_sharing_config(path, bootstraps, store, hook, interval_s=INTERVAL_S,
                                timeouts=("1s", "1s"),
                                watch_extra="  offline_after_cycles: 2\n")  # fmt: skip


def _owners(db) -> dict[str, tuple[str, int, int]]:
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT name, owner, epoch, acquired_us FROM inc_leases"
                " WHERE name LIKE 'cluster:%' AND expires_us > extract(epoch FROM now()) * 1e6"
            )
        ).all()
    return {
        r.name.removeprefix("cluster:"): (r.owner, int(r.epoch), int(r.acquired_us)) for r in rows
    }


def _offline_pages(hook: Recorder) -> list[dict]:
    return [
        b
        for b in (r.json() for r in hook.completed)
        if "cluster_offline" in str(b.get("dedup_key")) and b.get("action") == "trigger"
    ]


def test_killed_instances_cluster_moves_within_two_intervals_and_pages_once(
    postgres_url, tmp_path
) -> None:
    store = fresh_database(postgres_url)
    hook = Recorder()
    cfg = _config(tmp_path / "kafkaops.yaml", store, f"{hook.url}/hook")
    env = {**os.environ, "KAFKAOPS_AUTO_UPGRADE": "1"}
    procs: dict[int, subprocess.Popen[str]] = {}
    db = create_engine(store)
    try:
        for n in range(3):
            procs[n] = subprocess.Popen(
                [sys.executable, "-m", "kafkaops.cli", "watch", "-c", str(cfg), "--json"],
                stdout=(tmp_path / f"watch-{n}.out").open("w"),
                stderr=(tmp_path / f"watch-{n}.log").open("w"),
                env=env,
                text=True,
            )

        def spread() -> dict[str, tuple[str, int, int]] | None:
            for n, p in procs.items():
                if p.poll() is not None:
                    log = (tmp_path / f"watch-{n}.log").read_text()[-2000:]
                    raise AssertionError(f"watch {n} exited {p.returncode}: {log}")
            try:
                owners = _owners(db)
            except ProgrammingError:  # the first instance is still creating the tables
                return None
            holders = {o for o, _, _ in owners.values()}
            return owners if len(owners) == 3 and len(holders) == 3 else None

        owners = wait_until(spread, timeout=60, interval=0.2, what="one cluster per instance")
        # Which process is which instance: the id is host:pid:random.
        by_pid = {p.pid: n for n, p in procs.items()}
        victim_cluster = CLUSTERS[1]
        old_owner, old_epoch, _ = owners[victim_cluster]
        victim = by_pid[int(old_owner.split(":")[-2])]
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait(10)
        with db.connect() as conn:
            killed_us = conn.execute(
                text("SELECT (extract(epoch FROM now()) * 1e6)::bigint")
            ).scalar_one()

        def taken_over() -> tuple[str, int, int] | None:
            got = _owners(db).get(victim_cluster)
            return got if got and got[0] != old_owner and got[2] > killed_us else None

        new_owner, epoch, acquired_us = wait_until(
            taken_over, timeout=10 * INTERVAL_S, interval=0.1, what="takeover"
        )
        handover_s = (acquired_us - killed_us) / 1e6
        print(f"\nhandover of {victim_cluster}: {handover_s:.2f}s after SIGKILL "
              f"(interval {INTERVAL_S}s, epoch {old_epoch} -> {epoch})")  # fmt: skip
        assert handover_s <= 2 * INTERVAL_S, f"handover took {handover_s:.2f}s"
        assert epoch > old_epoch
        assert by_pid[int(new_owner.split(":")[-2])] != victim

        def all_paged() -> list[dict] | None:
            got = _offline_pages(hook)
            return got if {m["cluster"] for m in got} == set(CLUSTERS) else None

        wait_until(all_paged, timeout=15 * INTERVAL_S, interval=0.2, what="a page per cluster")
        time.sleep(3 * INTERVAL_S)  # room for a second page to show up
        pages = Counter(m["cluster"] for m in _offline_pages(hook))
        assert pages == dict.fromkeys(CLUSTERS, 1), pages
        keys = Counter(hook.completed_keys())
        assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1]
        survivors = [n for n in procs if n != victim]
        lines = (tmp_path / f"watch-{survivors[0]}.out").read_text().splitlines()
        assert lines and '"instance"' in lines[-1]  # the cycle line names the instance
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        db.dispose()
        hook.stop()
