"""The watch loop's own rules: N unreachable cycles → P0 "completely offline", recovery resolves it.

Runs the real Watcher with the real incident engine and outbox on SQLite; the cluster is first
an address nobody listens on, then the sandbox (the same watched cluster "coming back").
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kafkaops.collect.kafka import CollectOptions
from kafkaops.config import Config
from kafkaops.health import Target
from kafkaops.runtime import open_runtime
from kafkaops.watch import Watcher

pytestmark = pytest.mark.integration


def _pending_offline(runtime) -> list:
    """Queued messages about the offline alert (alert-level: dedup key cluster|rule|subject)."""
    return [
        r.message
        for r in runtime.outbox.list(limit=1000)
        if "cluster_offline" in r.message.dedup_key
    ]


def test_offline_after_n_cycles_is_p0_and_recovery_resolves(bootstrap, tmp_path):
    cfg = Config.model_validate(
        {"incidents": {"routing": {"p0": ["webhook:ops"], "p1": ["webhook:ops"],
                                   "p2": ["webhook:ops"]},
                       "alerts": {"keep_firing_for_s": 0}}}
    )  # fmt: skip
    runtime = open_runtime(cfg, f"sqlite:///{tmp_path / 'watch.db'}")
    down = Target(
        name="prod",
        client_kwargs={"bootstrap_servers": "127.0.0.1:1"},
        options=CollectOptions(connect_timeout_ms=2000, request_timeout_ms=2000,
                               time_lag_method="none"),
        config=cfg,
    )  # fmt: skip
    t0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    watcher = Watcher(
        targets=[down], engine=runtime.engine, dispatcher=None, lease=runtime.incidents,
        offline_after=3, interval_s=10,
    )  # fmt: skip
    try:
        for i in range(2):
            out = watcher.cycle(t0 + timedelta(seconds=10 * i))
            [c] = out.clusters
            assert not c.reachable and c.failures == i + 1
            assert c.notifications == 0, "paged before N consecutive failures"
        assert not _pending_offline(runtime)
        out = watcher.cycle(t0 + timedelta(seconds=20))
        [c] = out.clusters
        assert c.failures == 3 and c.severity.value == "P0"
        assert c.notifications >= 1
        triggers = _pending_offline(runtime)
        assert triggers and all(r.action == "trigger" for r in triggers)
        assert triggers[0].severity == "P0"
        [inc] = runtime.incidents.list_incidents(status="open")
        assert inc.severity.value == "P0"

        # The cluster comes back: the first good cycle resolves the offline alert.
        watcher.states["prod"].target = replace(
            down, client_kwargs={"bootstrap_servers": bootstrap}
        )
        out = watcher.cycle(t0 + timedelta(seconds=30))
        [c] = out.clusters
        assert c.reachable and c.failures == 0
        resolves = [r for r in _pending_offline(runtime) if r.action == "resolve"]
        assert resolves, "no resolve queued for the channels that were paged"
    finally:
        runtime.close()
