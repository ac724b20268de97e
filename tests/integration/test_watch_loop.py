"""The watch loop's own rules: N unreachable cycles → P0 "completely offline", recovery resolves it.

Runs the real Watcher with the real incident engine and outbox on SQLite; the cluster is first
an address nobody listens on, then the sandbox (the same watched cluster "coming back").
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kafkaops.collect.admin import CollectOptions
from kafkaops.config import Config
from kafkaops.pipeline.health import Target
from kafkaops.pipeline.runtime import open_runtime
from kafkaops.pipeline.watch import Watcher

pytestmark = [pytest.mark.integration, pytest.mark.pages]


def _pending_offline(runtime) -> list:
    """Queued messages about the offline alert (alert-level: dedup key cluster|rule|subject)."""
    return [
        r.message
        for r in runtime.outbox.list(limit=1000)
        if "cluster_offline" in r.message.dedup_key
    ]


#: No maintenance windows: the runbook's defaults would mute P1/P2 by the hour of day.
NO_WINDOWS = {"windows": []}


def test_offline_after_n_cycles_is_p0_and_recovery_resolves(bootstrap, tmp_path):
    cfg = Config.model_validate(
        {"incidents": {"maintenance": NO_WINDOWS,
                       "routing": {"p0": ["webhook:ops"], "p1": ["webhook:ops"],
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


def test_two_watchers_on_one_postgresql_only_the_lease_holder_pages(postgres_url, request):
    """A hot standby shares the store: it collects, but neither runs the engine nor delivers."""
    import uuid

    from sqlalchemy import create_engine, text

    db = f"watch_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {db}"))
    admin.dispose()
    url = postgres_url.rsplit("/", 1)[0] + f"/{db}"
    cfg = Config.model_validate(
        {"incidents": {"maintenance": NO_WINDOWS,
                       "routing": {"p0": ["webhook:ops"], "p1": ["webhook:ops"],
                                   "p2": ["webhook:ops"]}}}
    )  # fmt: skip
    target = Target(
        name="prod",
        client_kwargs={"bootstrap_servers": "127.0.0.1:1"},
        options=CollectOptions(connect_timeout_ms=1000, request_timeout_ms=1000,
                               time_lag_method="none"),
        config=cfg,
    )  # fmt: skip
    a, b = open_runtime(cfg, url, owner="a"), open_runtime(cfg, url, owner="b")
    t0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    watchers = [
        Watcher(targets=[target], engine=rt.engine, dispatcher=rt.dispatcher,
                lease=rt.incidents, offline_after=1, interval_s=10, owner=owner)
        for rt, owner in ((a, "a"), (b, "b"))
    ]  # fmt: skip
    try:
        leaders = []
        for i in range(3):
            now = t0 + timedelta(seconds=10 * i)
            outcomes = [w.cycle(now) for w in watchers]
            leaders.append([o.leader for o in outcomes])
            standby = [o for o in outcomes if not o.leader]
            assert len(standby) == 1 and standby[0].clusters[0].notifications == 0
        assert leaders == [[True, False]] * 3, leaders
        triggers = [r for r in a.outbox.list(limit=100) if r.message.action == "trigger"]
        assert len(triggers) == 1, [r.message.idempotency_key for r in triggers]
    finally:
        a.close()
        b.close()


class _BrokenTarget(Target):
    """A cluster whose collection raises something that is not "unreachable" (a bug, a
    malformed response): it must not stop the other clusters of the same cycle."""

    def probe(self):  # type: ignore[override]
        raise RuntimeError("collector exploded")


def test_one_broken_cluster_does_not_blind_the_others(bootstrap, tmp_path):
    """Issue 10, item 5: the broken cluster comes first (sorted by name), and the other
    cluster's P1 is still paged in the same cycle; the broken one is a visible P1 finding."""
    from tests.notify.receivers import Recorder

    hook = Recorder()
    try:
        cfg = Config.model_validate(
            {"incidents": {"maintenance": NO_WINDOWS,
                           "routing": {"p0": ["webhook:ops"], "p1": ["webhook:ops"],
                                       "p2": ["webhook:ops"]},
                           "alerts": {"for_s": {"p0": 0, "p1": 0, "p2": 0}}},
             "channels": {"webhooks": {"ops": {"url": f"{hook.url}/hook"}}, "timeout": "5s"},
             # Any used disk is "critical": the healthy sandbox yields a P1 to page.
             "thresholds": {"critical": {"disk_usage": "0.01%"},
                            "warning": {"disk_usage": "0.001%"}}}
        )  # fmt: skip
        runtime = open_runtime(cfg, f"sqlite:///{tmp_path / 'watch.db'}")
        options = CollectOptions(connect_timeout_ms=5000, request_timeout_ms=10000,
                                 time_lag_method="none")  # fmt: skip
        good = Target(name="b-good", client_kwargs={"bootstrap_servers": bootstrap},
                      options=options, config=cfg)  # fmt: skip
        broken = _BrokenTarget(name="a-broken", client_kwargs={"bootstrap_servers": bootstrap},
                               options=options, config=cfg)  # fmt: skip
        watcher = Watcher(targets=[broken, good], engine=runtime.engine,
                          dispatcher=runtime.dispatcher, interval_s=10)  # fmt: skip
        try:
            out = watcher.cycle(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
        finally:
            watcher.close()
            runtime.close()
        by_name = {c.cluster: c for c in out.clusters}
        assert by_name["a-broken"].error and "collector exploded" in by_name["a-broken"].error
        assert by_name["a-broken"].severity.value == "P1"
        assert by_name["b-good"].severity.value == "P1" and by_name["b-good"].error is None
        bodies = [r.json() for r in hook.completed]
        texts = " ".join(str(b) for b in bodies)
        assert "disk_usage" in texts, "the healthy cluster's P1 was not paged in that cycle"
        assert "watch_cycle_failed" in texts, "the broken cluster's blind spot was not paged"
    finally:
        hook.stop()
