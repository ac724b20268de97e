"""The verdict store on SQLite and PostgreSQL, the watch loop's hook, and ``kafkaops slo``.

The watch test runs the real Watcher, incident engine and outbox against an address nobody
listens on (no JVM): an hour of good history is written first (synthetic, on the injected
clock), then the cluster goes offline and the fast burn must page P1 through the normal
incident flow; ``kafkaops slo`` then reports the bad minutes and the incident that spent them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from kafkaops.collect.admin import CollectOptions
from kafkaops.config import Config
from kafkaops.pipeline.health import Target
from kafkaops.pipeline.runtime import open_runtime
from kafkaops.pipeline.watch import Watcher
from kafkaops.slo import watch_hook
from kafkaops.slo.report import build_report, month_bounds
from kafkaops.slo.settings import SloSettings
from kafkaops.slo.store import SloStore, Verdict
from tests.conftest import run_cli

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MS0 = int(T0.timestamp() * 1000)


def test_store_round_trip_and_prune(store_url: str) -> None:
    store = SloStore(store_url)
    try:
        store.record("a", Verdict(MS0, 10_000, True, None))
        store.record("a", Verdict(MS0 + 10_000, 10_000, False, True, "offline_partitions"))
        store.record("b", Verdict(MS0, 10_000, None, False, "x" * 400))
        got = store.verdicts("a", MS0, MS0 + 20_000)
        second = Verdict(MS0 + 10_000, 10_000, False, True, "offline_partitions")
        assert got == [Verdict(MS0, 10_000, True, None, ""), second]
        [b] = store.verdicts("b", MS0, MS0 + 1)
        assert b.available is None and b.fresh is False and len(b.reason) == 300
        assert store.clusters() == ["a", "b"]
        assert store.prune(MS0 + 401 * 86_400_000) == 3
    finally:
        store.close()


def test_month_bounds() -> None:
    assert month_bounds("2026-12", T0) == (datetime(2026, 12, 1, tzinfo=UTC),
                                           datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip
    assert month_bounds(None, T0)[0] == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_bounds("11/2026", T0)


NO_WINDOWS = {"windows": []}


def _config() -> Config:
    return Config.model_validate(
        {"incidents": {"maintenance": NO_WINDOWS,
                       "routing": {"p0": ["webhook:ops"], "p1": ["webhook:ops"],
                                   "p2": ["webhook:ops"]},
                       "alerts": {"keep_firing_for_s": 0}}}
    )  # fmt: skip


def test_fast_burn_pages_p1_through_watch_and_slo_reports_it(store_url: str) -> None:
    cfg = _config()
    runtime = open_runtime(cfg, store_url)
    down = Target(
        name="prod",
        client_kwargs={"bootstrap_servers": "127.0.0.1:1"},
        options=CollectOptions(connect_timeout_ms=1000, request_timeout_ms=1000,
                               time_lag_method="none"),
        config=cfg,
        store_url=store_url,
    )  # fmt: skip
    # An hour of good cycles before the outage (what an earlier watcher recorded).
    seed = SloStore(store_url)
    start = MS0 - 3_600_000
    for i in range(360):
        seed.record("prod", Verdict(start + i * 10_000, 10_000, True, None))
    seed.close()
    watch_hook.close_all()
    watcher = Watcher(targets=[down], engine=runtime.engine, dispatcher=None,
                      lease=runtime.incidents, offline_after=3, interval_s=10)  # fmt: skip
    try:
        fired_at = None
        for i in range(12):
            watcher.cycle(T0 + timedelta(seconds=10 * i))
            keys = [r.message.dedup_key for r in runtime.outbox.list(limit=1000)]
            if fired_at is None and any("slo_burn_1h" in k for k in keys):
                fired_at = i
        # Offline from cycle 0 (recorded at cycle 2, back-dated to cycle 0).  14.4x over
        # 1 h = 52 s bad; cycle i covers up to (i + 1) × 10 s: the finding triggers at
        # cycle 5 (60 s), and the P1 pages one cycle later (the engine's P1 ``for: 10s``).
        assert fired_at == 6, fired_at
        pages = [r.message for r in runtime.outbox.list(limit=1000)
                 if "slo_burn_1h" in r.message.dedup_key]  # fmt: skip
        assert pages[0].severity == "P1" and pages[0].action == "trigger"
        keys = [r.message.dedup_key for r in runtime.outbox.list(limit=1000)]
        assert not any("slo_burn_6h" in k for k in keys), "6 h: 2 min of 7 h is 4.6x"

        now = T0 + timedelta(seconds=120)
        store = SloStore(store_url)
        try:
            s, e = month_bounds("2026-11", now)
            incidents = runtime.incidents.list_incidents(None, "prod", 100)
            report = build_report(store, "prod", SloSettings(), s, e, now, incidents)
        finally:
            store.close()
        avail = report.slis["availability"]
        # The truth: offline from T0 to now (120 s); within one interval.
        assert abs(avail.spent_ms - 120_000) <= 10_000, avail.spent_ms
        assert avail.totals.good_ms == 3_600_000
        assert report.incidents and report.incidents[0]["bad_minutes"] > 1.5
        assert avail.totals.unknown_ms > 0  # the month before the seeded hour: not observed
    finally:
        watcher.close()
        watch_hook.close_all()
        runtime.close()

    proc = run_cli("slo", "--store", store_url, "--cluster", "prod", "--month", "2026-11",
                   "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    [doc] = json.loads(proc.stdout)["clusters"]
    a = doc["slis"]["availability"]
    assert 1.8 <= a["budget_spent_minutes"] <= 2.2 and a["budget_minutes"] == 43.2
    assert a["unknown_minutes"] > 30_000 and doc["incidents"]


def test_cli_text_chart_and_errors(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = SloStore(url)
    for i in range(360):
        store.record("prod", Verdict(MS0 + i * 10_000, 10_000, not 100 <= i < 400, None,
                                     "offline_partitions"))  # fmt: skip
    store.close()
    chart = tmp_path / "burn.png"
    proc = run_cli("slo", "--store", url, "--cluster", "prod", "--month", "2026-11",
                   "--chart", str(chart), env={"COLUMNS": "80"})  # fmt: skip
    # 260 bad cycles (+5 s grace of the last) = 43.6 min > 43.2: the budget is spent → exit 1.
    assert proc.returncode == 1, proc.stderr
    assert "NO" in proc.stdout
    lines = [x for x in proc.stdout.splitlines() if not x.startswith("chart written")]
    assert max(len(line) for line in lines) <= 80
    assert "availability" in proc.stdout and "offline_partitions" in proc.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000
    bad = run_cli("slo", "--store", url, "--month", "2026-13")
    assert bad.returncode == 3 and bad.stderr.startswith("error: --month") and not bad.stdout
    assert "Traceback" not in bad.stderr
    future = run_cli("slo", "--store", url, "--month", "2099-01")
    assert future.returncode == 3 and "not begun" in future.stderr


def test_sli_second_counters_for_prometheus_slo_tools(tmp_path) -> None:
    """What ``/metrics`` exposes (kafkaops_sli_*_seconds_total): known time only."""
    from kafkaops.core.model import HealthReport, Severity
    from kafkaops.evaluate.findings import result

    url = f"sqlite:///{tmp_path / 'c.db'}"
    watch_hook.close_all()

    def report(bad: bool) -> HealthReport:
        f = result("offline_partitions", Severity.P0, bad, int(bad), 0)
        return HealthReport("prod", "x:1", MS0, True, not bad, f.severity, (), (f,), {})

    try:
        for i, bad in enumerate((False, True, True, False)):
            found = watch_hook.slo_cycle(url, SloSettings(), "prod", T0 + timedelta(seconds=10 * i),
                                         10_000, report(bad), None)  # fmt: skip
        assert watch_hook.sli_seconds() == {("prod", "availability"): (40.0, 20.0)}
        # 20 s bad of 40 s: far above 14.4x on both windows.
        assert {f.rule for f in found if f.status.value == "triggered"} == {
            "slo_burn_1h",
            "slo_burn_6h",
        }
        assert watch_hook.slo_cycle("sqlite:////nonexistent/x.db", SloSettings(), "prod", T0,
                                    10_000, report(True), None) == []  # fmt: skip
        off = SloSettings(enabled=False)
        assert watch_hook.slo_cycle(url, off, "prod", T0, 10_000, report(True), None) == []
    finally:
        watch_hook.close_all()
