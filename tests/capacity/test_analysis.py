"""History → report: known growth written into the store comes back as the right fill date,
findings, and a plan within MSK's rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from kafkaops.capacity.analysis import analyse
from kafkaops.capacity.check import RULE, capacity_findings
from kafkaops.capacity.plan import storage_command
from kafkaops.capacity.settings import CapacitySettings
from kafkaops.capacity.store import DAY_MS, CapacityStore, record_capacity_sample
from kafkaops.core.model import CheckStatus, Severity
from tests.capacity.snapshots import GiB, snapshot

TODAY = 20_500
NOW = datetime.fromtimestamp((TODAY + 0.5) * 86400, UTC)


def _grow(store: CapacityStore, days: int, per_day: dict[int, float], start: dict[int, float],
          *, total: int = 1000 * GiB, retention_ms: int | None = -1) -> None:  # fmt: skip
    """``days`` days up to yesterday, 6 samples a day, saw-tooth of 15 GiB within each day."""
    for i in range(days):
        day = TODAY - days + i
        for k in range(6):
            used = {b: int((start[b] + per_day[b] * i + 3.0 * k) * GiB) for b in per_day}
            ts = day * DAY_MS + k * 4 * 3_600_000
            record_capacity_sample(
                store,
                snapshot(ts, used=used, total=total, log_end=1000 + i * 600 + k * 100,
                         retention_ms=retention_ms),
            )  # fmt: skip


def test_known_growth_days_to_full_and_p2(tmp_path) -> None:
    store = CapacityStore(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        # Broker 1 grows 12 GiB/day from 400 GiB: its daily peak (start + 12 i + 15) reaches
        # 1000 GiB when i = 48.75; the last sample is i = 29 → about 19.75 days after it.
        _grow(store, 30, {1: 12.0, 2: 1.0, 3: 0.0}, {1: 400.0, 2: 300.0, 3: 200.0})
        settings = CapacitySettings(
            msk=dict(cluster_arn="arn:aws:kafka:eu-west-1:1:cluster/c1/x", volume_gib=1000)
        )
        report = analyse(store, "c1", settings, now=NOW, current_version="K3AEGXETSR30VB")
        d1 = next(d for d in report.disks if d.broker == 1)
        assert d1.basis == "kafka"
        full = d1.crossings["full"]
        assert full.days == pytest.approx(19.75, rel=0.10)
        assert full.earliest is not None and full.latest is not None
        assert full.earliest <= full.days <= full.latest
        assert d1.fit is not None and d1.fit.slope_per_day / GiB == pytest.approx(12, rel=0.02)
        # 80 % / 85 % come first.
        assert report.disks[0].crossings["warning"].days < full.days  # type: ignore[operator]
        d3 = next(d for d in report.disks if d.broker == 3)
        assert d3.crossings["full"].days is None
        findings = {f.subject: f for f in capacity_findings(report)}
        f1 = findings["broker 1 /data"]
        assert f1.rule == RULE and f1.severity == Severity.P2 and f1.status == CheckStatus.TRIGGERED
        assert findings["broker 3 /data"].severity == Severity.OK
        # The plan: upper bound in 30 days ≈ 400 + 12·59 + 15 ≈ 1123 GiB → /0.8 ≈ 1404 GiB,
        # but the runbook caps a broker at 1 TB: it says so instead of exceeding it.
        storage = next(r for r in report.recommendations if r.kind == "storage")
        assert "cap" in storage.action or any("cap" in n for n in storage.notes)
        data = report.to_dict()
        json.dumps(data)
        assert data["worst"]["broker"] == 1
    finally:
        store.close()


def test_storage_plan_steps_cooldown_and_exact_command(tmp_path) -> None:
    store = CapacityStore(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        _grow(store, 30, {1: 4.0, 2: 4.0, 3: 4.0}, {1: 250.0, 2: 250.0, 3: 250.0},
              total=500 * GiB)  # fmt: skip
        arn = "arn:aws:kafka:eu-west-1:1:cluster/c1/x"
        settings = CapacitySettings(msk=dict(cluster_arn=arn), storage_cap_gib=2000)
        report = analyse(store, "c1", settings, now=NOW, current_version="V1")
        # Filesystem basis (the brokers report 500 GiB totals).  Upper bound at +30 d ≈
        # 250 + 4·59 + 15 = 501 GiB plus band → /0.8 ≈ 630 GiB → +200 GiB in 100 GiB steps.
        storage = next(r for r in report.recommendations if r.kind == "storage")
        assert [s.size_gib for s in storage.steps] == [600, 700]
        assert (
            storage.steps[1].not_before - storage.steps[0].not_before
        ).total_seconds() == 6 * 3600
        first = storage.steps[0].command
        assert first is not None
        assert '--current-version "V1"' in first
        assert '"KafkaBrokerNodeId": "All", "VolumeSizeGB": 600' in first
        assert storage.steps[1].command and "describe-cluster-v2" in storage.steps[1].command
        one = CapacitySettings(msk=dict(cluster_arn=arn), storage_cap_gib=2000,
                               one_step_per_change=False)  # fmt: skip
        report = analyse(store, "c1", one, now=NOW)
        storage = next(r for r in report.recommendations if r.kind == "storage")
        assert [s.size_gib for s in storage.steps] == [700]
    finally:
        store.close()


def test_retention_steady_state_caps_the_forecast(tmp_path) -> None:
    store = CapacityStore(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        # Growing 10 GiB/day towards a retention plateau: bytes in (derived from the offsets,
        # ≈ 0.35 MB/s) × 25 days × RF 3 ≈ 2,110 GiB across the cluster, ≈ 703 GiB a broker —
        # above today's 605 GiB, below the 800 GiB warning line: never warned, never full.
        _grow(store, 20, {1: 10.0, 2: 10.0, 3: 10.0}, {1: 400.0, 2: 400.0, 3: 400.0},
              retention_ms=25 * 86_400_000)  # fmt: skip
        report = analyse(store, "c1", CapacitySettings(), now=NOW)
        assert report.steady_state["bounded"] is True
        d1 = report.disks[0]
        assert d1.steady_state_bytes is not None
        assert 650 * GiB < d1.steady_state_bytes < 760 * GiB
        assert d1.crossings["warning"].days is None
        assert d1.crossings["full"].days is None
        assert d1.projection(90)[-1][1] == pytest.approx(d1.steady_state_bytes)
        # The same growth with a 1-hour retention: a steady state far below today's usage
        # contradicts the trend, so it is reported and not applied.
        store2 = CapacityStore(f"sqlite:///{tmp_path / 'h2.db'}")
        _grow(store2, 20, {1: 10.0, 2: 10.0, 3: 10.0}, {1: 400.0, 2: 400.0, 3: 400.0},
              retention_ms=3_600_000)  # fmt: skip
        other = analyse(store2, "c1", CapacitySettings(), now=NOW).disks[0]
        assert other.note and "not applied" in other.note
        assert other.crossings["full"].days is not None
        store2.close()
    finally:
        store.close()


def test_not_enough_history_is_not_measured(tmp_path) -> None:
    store = CapacityStore(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        _grow(store, 3, {1: 10.0, 2: 10.0, 3: 10.0}, {1: 400.0, 2: 400.0, 3: 400.0})
        report = analyse(store, "c1", CapacitySettings(), now=NOW)
        assert str(report.disks[0].not_enough) == "not enough history (3 days, needs 7)"
        f = capacity_findings(report)[0]
        assert f.status == CheckStatus.NOT_MEASURED
        assert report.to_dict()["disks"][0]["forecast"] is None
    finally:
        store.close()


def test_storage_command_without_version_asks_for_it() -> None:
    cmd = storage_command("arn:x", None, 300)
    assert cmd is not None and "describe-cluster-v2 --cluster-arn arn:x" in cmd
    assert storage_command(None, "v", 300) is None
