"""SASL/SCRAM end to end against the sandbox's real SCRAM listener; secrets never printed."""

from __future__ import annotations

import pytest

from kafkaops.sandbox.cluster import SANDBOX_SCRAM_PASSWORD, SANDBOX_SCRAM_USER
from tests.conftest import health_json, run_cli

pytestmark = pytest.mark.integration


def _config(tmp_path, sandbox, env_var: str) -> str:
    cfg = tmp_path / "scram.yaml"
    cfg.write_text(
        "clusters:\n"
        "  secure:\n"
        f"    bootstrap: {sandbox.sasl_bootstrap()}\n"
        "    timeouts:\n      request: 5s\n      connect: 5s\n"
        "    security:\n"
        "      protocol: SASL_PLAINTEXT\n"
        "      sasl_mechanism: SCRAM-SHA-512\n"
        f"      username: {SANDBOX_SCRAM_USER}\n"
        f"      password_env: {env_var}\n"
    )
    return str(cfg)


def test_scram_with_password_from_env(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("KO_TEST_PW", SANDBOX_SCRAM_PASSWORD)
    cfg = _config(tmp_path, sandbox, "KO_TEST_PW")
    code, report = health_json("--config", cfg, "--cluster", "secure")
    assert report["reachable"] is True, report
    assert report["summary"]["brokers"] == 3
    assert code in (0, 1, 2)
    proc = run_cli("health", "--config", cfg, "--cluster", "secure")
    assert SANDBOX_SCRAM_PASSWORD not in proc.stdout + proc.stderr


def test_wrong_password_is_one_line_and_not_echoed(sandbox, tmp_path):
    wrong = "definitely-wrong-password-123"
    cfg = _config(tmp_path, sandbox, "KO_WRONG_PW")
    proc = run_cli(
        "health", "--config", cfg, "--cluster", "secure", env={"KO_WRONG_PW": wrong}, timeout=60
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert wrong not in proc.stdout + proc.stderr
    assert len([line for line in proc.stderr.splitlines() if line.strip()]) == 1


def test_missing_password_env_is_named(sandbox, tmp_path, monkeypatch):
    monkeypatch.delenv("KO_UNSET_PW", raising=False)
    cfg = _config(tmp_path, sandbox, "KO_UNSET_PW")
    proc = run_cli("health", "--config", cfg, "--cluster", "secure")
    assert proc.returncode == 3
    assert "KO_UNSET_PW" in proc.stderr
