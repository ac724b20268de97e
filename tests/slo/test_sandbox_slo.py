"""End to end on the sandbox: a broker holding the only replica of a topic stops for a measured
time; ``kafkaops slo`` reports the bad minutes within one watch interval of the truth.

The real Watcher collects from the real cluster each cycle; its cycle times are injected (10 s
apart), and each state change is waited for *between* two cycles (the stop until the cluster
shows the partition offline, the restart until it is back), so the truth in the injected clock
is exact: the cycles that ran while the partition was offline × 10 s.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta

import pytest

from kafkaops.collect.admin import CollectOptions
from kafkaops.collect.snapshot import collect_snapshot
from kafkaops.config import Config
from kafkaops.core.clock import utc_now
from kafkaops.pipeline.health import resolve_target
from kafkaops.pipeline.runtime import open_runtime
from kafkaops.pipeline.watch import Watcher
from kafkaops.slo import watch_hook
from tests import kafka_helpers as kh
from tests.conftest import run_cli, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

BAD_CYCLES = 6


def test_stopped_rf1_broker_is_counted_within_one_interval(
    sandbox, bootstrap, unique_name, tmp_path
) -> None:
    # min.insync.replicas 1: the sandbox's default (2) makes an RF-1 topic under min ISR —
    # unavailable to acks=all producers — even with its broker up.
    kh.create_topic(bootstrap, unique_name, assignment={0: [2]},
                    configs={"min.insync.replicas": "1"})  # fmt: skip
    url = f"sqlite:///{tmp_path / 'slo.db'}"
    # Watched topics: this test's own.  The shared sandbox holds other tests' RF-1 topics
    # under the cluster-wide min.insync.replicas=2, never writable with acks=all.
    cfg = Config.model_validate({"incidents": {"maintenance": {"windows": []}},
                                 "slo": {"topics": [re.escape(unique_name)]}})  # fmt: skip
    runtime = open_runtime(cfg, url)
    target = replace(
        resolve_target(bootstrap=bootstrap).with_overrides(time_lag_method="none", store_url=url),
        config=cfg,
    )
    watch_hook.close_all()
    watcher = Watcher(targets=[target], engine=runtime.engine, dispatcher=None, lease=None,
                      offline_after=3, interval_s=10)  # fmt: skip
    one = f"127.0.0.1:{sandbox._node(1).port}"
    options = CollectOptions(time_lag_method="none", include_log_dirs=False)

    def offline() -> bool:
        snap = collect_snapshot("probe", {"bootstrap_servers": one}, options)
        return any(p.topic == unique_name for p in snap.offline_partitions)

    # Ten minutes in the past: the report's "until" (the real now) covers every cycle.
    t0 = utc_now().replace(microsecond=0) - timedelta(minutes=10)
    tick = iter(range(1000))
    stopped = False
    try:
        for _ in range(4):
            [c] = watcher.cycle(t0 + timedelta(seconds=10 * next(tick))).clusters
            assert c.reachable and c.severity.value != "P0", c
        sandbox.stop_node(2)
        stopped = True
        wait_until(offline, timeout=60, interval=0.5, what="the RF-1 partition offline")
        for _ in range(BAD_CYCLES):
            [c] = watcher.cycle(t0 + timedelta(seconds=10 * next(tick))).clusters
            assert c.severity.value in ("P0", "P1"), c
        sandbox.start_node(2)
        stopped = False
        wait_until(lambda: not offline(), timeout=90, interval=0.5, what="partition online")
        for _ in range(3):
            watcher.cycle(t0 + timedelta(seconds=10 * next(tick)))
    finally:
        if stopped:
            sandbox.start_node(2)
        watcher.close()
        watch_hook.close_all()
        runtime.close()
    month = f"{t0:%Y-%m}"
    proc = run_cli("slo", "--store", url, "--cluster", target.name, "--month", month, "--json")
    assert proc.returncode == 0, proc.stderr
    [doc] = json.loads(proc.stdout)["clusters"]
    avail = doc["slis"]["availability"]
    truth_min = BAD_CYCLES * 10 / 60
    assert abs(avail["bad_minutes"] - truth_min) <= 10 / 60 + 0.01, (
        avail["bad_periods"],
        truth_min,
    )
    assert abs(avail["budget_spent_minutes"] - truth_min) <= 10 / 60 + 0.01
    assert avail["budget_left_minutes"] == pytest.approx(43.2 - avail["bad_minutes"], abs=0.01)
    [period] = avail["bad_periods"]
    assert "offline_partitions" in period["reason"]
    # 13 cycles observed (130 s + the last one's grace); the rest of the month is unknown.
    assert avail["good_minutes"] + avail["bad_minutes"] == pytest.approx(135 / 60, abs=0.01)
    assert avail["unknown_minutes"] > 0
