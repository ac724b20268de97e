"""``kafkaops jobs`` against the real sandbox cluster: run the daily check now, see it recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def _config(tmp_path: Path, bootstrap: str) -> Path:
    cfg = tmp_path / "kafkaops.yaml"
    cfg.write_text(
        f"clusters:\n  sbx:\n    bootstrap: {bootstrap}\n    time_lag_method: none\n"
        f"store:\n  url: sqlite:///{tmp_path / 'kafkaops.db'}\n"
        "jobs:\n  schedules:\n    capacity_check: null\n"
    )
    return cfg


def test_jobs_run_list_and_history(bootstrap: str, tmp_path: Path) -> None:
    cfg = _config(tmp_path, bootstrap)
    proc = run_cli("jobs", "list", "-c", str(cfg), "--json")
    assert proc.returncode == 0, proc.stderr
    names = {j["name"] for j in json.loads(proc.stdout)}
    # capacity off, no dr pair, no perf_test.allow
    assert names == {
        "daily_check", "weekly_review", "config_audit", "monthly_report", "compliance_check",
    }  # fmt: skip
    proc = run_cli("jobs", "run", "daily_check", "-c", str(cfg), "--json")
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout)
    assert run["ok"] and run["clusters"] == 1 and run["duration_s"] >= 0
    proc = run_cli("jobs", "history", "-c", str(cfg), "--json")
    rows = json.loads(proc.stdout)
    assert {r["cluster"] for r in rows} == {"*", "sbx"}
    (own,) = [r for r in rows if r["cluster"] == "sbx"]
    assert "overall_healthy" in own["result"]
    proc = run_cli("jobs", "list", "-c", str(cfg))
    assert "daily_check" in proc.stdout and "ok" in proc.stdout
    proc = run_cli("jobs", "run", "nope", "-c", str(cfg))
    assert proc.returncode == 4 and proc.stderr.startswith("error: no job 'nope'")


def test_weekly_config_audit_job_records_the_findings(
    bootstrap: str, tmp_path: Path, unique_name: str
) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20_000)
    try:
        admin.create_topics([NewTopic(unique_name, 1, 1)])
    finally:
        admin.close()
    cfg = _config(tmp_path, bootstrap)
    cfg.write_text(cfg.read_text() + "diagnose:\n  audit:\n    window: 1s\n")
    proc = run_cli("jobs", "run", "config_audit", "-c", str(cfg), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["severity_by_cluster"] == {"sbx": "P1"}
    proc = run_cli("jobs", "history", "--job", "config_audit", "-c", str(cfg), "--json")
    (own,) = [r for r in json.loads(proc.stdout) if r["cluster"] == "sbx"]
    assert not own["ok"] and own["severity"] == "P1"
    rules = {(f["subject"], f["rule"]) for f in own["result"]["findings"]}
    assert (f"topic:{unique_name}", "replication_factor_low") in rules
