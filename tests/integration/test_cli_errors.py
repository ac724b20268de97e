"""Bad input: one clear line naming what is wrong, exit 3, never a traceback."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def _assert_one_line_error(proc, *needles: str) -> None:
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_invalid_duration_names_file_field_and_value(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("thresholds:\n  warning:\n    consumer_lag: 5 minutes\n")
    proc = run_cli("health", "--config", str(cfg))
    _assert_one_line_error(proc, "bad.yaml", "thresholds.warning.consumer_lag", "5 minutes")


def test_missing_config_file(tmp_path):
    proc = run_cli("health", "--config", str(tmp_path / "nope.yaml"))
    _assert_one_line_error(proc, "nope.yaml")


def test_inline_password_is_refused_and_not_echoed(tmp_path):
    cfg = tmp_path / "secret.yaml"
    cfg.write_text(
        "clusters:\n  prod:\n    bootstrap: 127.0.0.1:1\n    security:\n"
        "      protocol: SASL_SSL\n      sasl_mechanism: SCRAM-SHA-512\n"
        "      username: ops\n      password: hunter2-very-secret\n"
    )
    proc = run_cli("health", "--config", str(cfg), "--cluster", "prod")
    _assert_one_line_error(proc, "password")
    assert "hunter2-very-secret" not in proc.stderr + proc.stdout


def test_unknown_cluster_name(tmp_path):
    cfg = tmp_path / "ok.yaml"
    cfg.write_text("clusters:\n  prod:\n    bootstrap: 127.0.0.1:1\n")
    proc = run_cli("health", "--config", str(cfg), "--cluster", "staging")
    _assert_one_line_error(proc, "staging")


def test_example_config_validates():
    proc = run_cli("config-check", "kafkaops.example.yaml")
    assert proc.returncode == 0, proc.stderr


def test_every_command_has_help_with_examples():
    for args in (
        ["health"],
        ["snapshot"],
        ["config-check"],
        ["sandbox", "up"],
        ["sandbox", "down"],
        ["sandbox", "status"],
        ["sandbox", "stop-broker"],
        ["sandbox", "start-broker"],
        ["sandbox", "kill-broker"],
        ["sandbox", "kafka-tool"],
        ["sandbox", "workload"],
    ):
        proc = run_cli(*args, "--help")
        assert proc.returncode == 0, (args, proc.stderr)
        assert "Example" in proc.stdout, args


def test_usage_errors_exit_3_not_2_which_means_p1_for_health():
    proc = run_cli("health", "--time-lag-method", "sometimes")
    _assert_one_line_error(proc, "--time-lag-method", "sometimes")
    proc = run_cli("health", "--no-such-option")
    _assert_one_line_error(proc, "--no-such-option")


def test_estimated_time_lag_needs_a_store(tmp_path):
    cfg = tmp_path / "est.yaml"
    cfg.write_text(
        "clusters:\n  prod:\n    bootstrap: 127.0.0.1:1\n    time_lag_method: estimated\n"
    )
    proc = run_cli("health", "--config", str(cfg), "--cluster", "prod")
    _assert_one_line_error(proc, "est.yaml", "clusters.prod.time_lag_method", "store")
