"""On the real sandbox: real capacity samples from the running cluster plus weeks of synthetic
history with a known growth → ``kafkaops capacity --json`` reports days-to-full within the
backtest's error of the truth, and ``watch`` raises the P2 "disk full in < 30 days"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from kafkaops.capacity.store import DAY_MS, CapacityStore, cap_logdir
from tests import kafka_helpers as kh
from tests.conftest import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

MiB = 1024**2
#: The backtest's days-to-full error bound at a 30-day horizon (bench/README.md).
ERROR_BOUND = 0.10
DAYS = 35


def _config(tmp_path: Path, bootstrap: str, volume: int | None = None) -> Path:
    cfg = tmp_path / "kafkaops.yaml"
    capacity = f"capacity:\n  broker_volume: {volume}B\n" if volume else ""
    cfg.write_text(
        f"""
clusters:
  capsbx:
    bootstrap: {bootstrap}
    time_lag_method: none
store:
  url: sqlite:///{tmp_path / "kafkaops.db"}
incidents:
  maintenance:
    windows: []
  alerts:
    for: {{p0: 0s, p1: 0s, p2: 0s}}
{capacity}"""
    )
    return cfg


def test_known_growth_on_sandbox_history(sandbox, bootstrap, unique_name, tmp_path) -> None:
    kh.create_topic(bootstrap, unique_name, partitions=3, rf=3)
    kh.produce(bootstrap, unique_name, 300, 3)
    cfg = _config(tmp_path, bootstrap)
    proc = run_cli("capacity", "record", "-c", str(cfg), "--count", "2", "--interval", "1s")
    assert proc.returncode == 0, proc.stderr
    store = CapacityStore(f"sqlite:///{tmp_path / 'kafkaops.db'}")
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(select(cap_logdir).where(cap_logdir.c.cluster == "capsbx")).all()
        assert {r.broker for r in rows} == {1, 2, 3}, "a real sample per broker"
        now_ms = max(r.ts_ms for r in rows)
        today = now_ms // DAY_MS
        real = {(r.broker, r.log_dir): r.used_bytes for r in rows if r.ts_ms == now_ms}
        assert all(v > 0 for v in real.values()), real
        # Weeks of history before today: each log dir grew g a day, a saw-tooth inside each
        # day (4 samples, the peak last) ending at today's real value.
        g = 1 * MiB
        synthetic = []
        for (broker, path), used in real.items():
            for back in range(DAYS, 0, -1):
                peak = used - g * back
                for k in range(4):
                    synthetic.append(
                        {"cluster": "capsbx", "broker": broker, "log_dir": path,
                         "ts_ms": (today - back) * DAY_MS + k * 6 * 3_600_000,
                         "used_bytes": int(peak - (g // 2) * (3 - k) / 3),
                         "fs_total_bytes": None, "fs_usable_bytes": None}
                    )  # fmt: skip
        with store.engine.begin() as conn:
            conn.execute(insert(cap_logdir), synthetic)
    finally:
        store.close()
    # Capacity such that the fullest log dir is 20 days from full: a P2.
    volume = max(real.values()) + 20 * g
    cfg = _config(tmp_path, bootstrap, volume)
    proc = run_cli("capacity", "-c", str(cfg), "--json")
    assert proc.returncode == 1, proc.stderr  # P2
    report = json.loads(proc.stdout)
    assert len(report["disks"]) == 3
    for d in report["disks"]:
        truth = (volume - real[(d["broker"], d["log_dir"])]) / g
        got = d["forecast"]["days_until"]["full"]["days"]
        assert got == pytest.approx(truth, rel=ERROR_BOUND, abs=1.0), (d, truth)
        assert d["basis"] == "kafka"
    assert report["worst"]["days_to_full"] <= 21
    # Human output at 80 columns.
    text = run_cli("capacity", "-c", str(cfg), env={"COLUMNS": "80"})
    assert "full" in text.stdout and "Traceback" not in text.stderr
    # The chart is drawn from the same report.
    chart = tmp_path / "capacity.png"
    proc = run_cli("capacity", "-c", str(cfg), "--chart", str(chart))
    assert chart.stat().st_size > 10_000 and chart.read_bytes()[:4] == b"\x89PNG"
    # The watch loop records another real sample and raises the P2 through the incident flow.
    proc = run_cli("watch", "-c", str(cfg), "--count", "1", "--json", timeout=180)
    assert proc.returncode in (0, 1, 2), proc.stderr
    proc = run_cli("incidents", "list", "-c", str(cfg), "--json")
    assert proc.returncode == 0, proc.stderr
    incidents = json.loads(proc.stdout)
    items = incidents if isinstance(incidents, list) else incidents.get("incidents", [])
    forecast = [i for i in items if "disk_full_forecast" in json.dumps(i)]
    assert forecast, items
    assert all(i["severity"] == "P2" for i in forecast), forecast
