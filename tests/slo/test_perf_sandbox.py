"""``kafkaops perf-test`` for real: Kafka's own perf tools against the session sandbox, through
its SASL/SCRAM listener (the generated Java client settings), bounded to a few seconds.

An earlier month's result is seeded 10× faster than any sandbox run, so the real run must be
flagged as a regression (exit 1) and both months must be in the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from kafkaops.sandbox.cluster import SANDBOX_SCRAM_PASSWORD, SANDBOX_SCRAM_USER
from kafkaops.slo.perf_store import PerfResult, PerfStore
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def test_perf_test_runs_bounded_stores_and_flags_a_regression(sandbox, tmp_path, unique_name):
    store_url = f"sqlite:///{tmp_path / 'perf.db'}"
    topic = unique_name.replace("_", "-")[:60]
    cfg = tmp_path / "k.yaml"
    cfg.write_text(
        "clusters:\n"
        "  sb:\n"
        f"    bootstrap: {sandbox.sasl_bootstrap()}\n"
        "    security: {protocol: SASL_PLAINTEXT, sasl_mechanism: SCRAM-SHA-512,\n"
        f"               username: {SANDBOX_SCRAM_USER}, password_env: KO_PERF_PW}}\n"
        f"store: {{url: '{store_url}'}}\n"
        f"slo:\n  perf_test: {{allow: [sb], topic: {topic}, max_time: 90s}}\n"
    )
    last_month = datetime.now(UTC).replace(day=1) - timedelta(days=3)
    seed = PerfStore(store_url)
    try:
        seed.record(PerfResult("sb", int(last_month.timestamp() * 1000), topic, 3000, 100, True,
                               produce_records_per_s=10_000_000.0, latency_p99_ms=1.0,
                               consume_records_per_s=10_000_000.0))  # fmt: skip
    finally:
        seed.close()
    env = {"KO_PERF_PW": SANDBOX_SCRAM_PASSWORD}
    proc = run_cli("perf-test", "-c", str(cfg), "--cluster", "sb", "--records", "3000",
                   "--record-size", "100", "--json", env=env, timeout=240)  # fmt: skip
    assert proc.stdout, proc.stderr
    result = json.loads(proc.stdout)["result"]
    assert result["ok"], result["error"]
    assert proc.returncode == 1, "10x slower than the seeded month: a regression"
    assert result["produce_records_per_s"] > 0 and result["latency_p99_ms"] is not None
    assert result["latency_p50_ms"] <= result["latency_p99_ms"] <= result["latency_max_ms"]
    assert result["consume_records_per_s"] > 0
    metrics = {g["metric"] for g in result["detail"]["regressions"]}
    assert {"produce_records_per_s", "consume_records_per_s"} <= metrics
    assert SANDBOX_SCRAM_PASSWORD not in proc.stdout + proc.stderr

    store = PerfStore(store_url)
    try:
        runs = store.runs("sb")
    finally:
        store.close()
    assert len(runs) == 2 and runs[-1].ok and runs[-1].records == 3000
    # Text output (progress on stderr) reads well at 80 columns.
    text = run_cli("perf-test", "-c", str(cfg), "--cluster", "sb", "--records", "500",
                   "--record-size", "100", env=env, timeout=240)  # fmt: skip
    assert text.returncode in (0, 1), text.stderr
    assert "produce" in text.stdout and "consume" in text.stdout and "records sent" in text.stderr
    assert max(len(line) for line in text.stdout.splitlines()) <= 80, text.stdout
