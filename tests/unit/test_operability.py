"""Zero-config defaults, environment variables, logging and the entry points (no Kafka needed)."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kafkaops.cli.logs import setup_logging
from kafkaops.config import default_config
from kafkaops.core.errors import ConfigError
from kafkaops.pipeline.runtime import resolve_store_url
from tests.conftest import run_cli


def test_store_url_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKAOPS_SANDBOX_DIR", str(tmp_path / "sb"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("KAFKAOPS_STORE", raising=False)
    cfg = default_config()
    url, origin = resolve_store_url(cfg, None)
    assert (url, origin) == (
        f"sqlite:///{(tmp_path / 'sb' / 'kafkaops.db').resolve()}",
        "embedded default: sandbox",
    )
    url, origin = resolve_store_url(cfg, None, sandbox=False)
    assert origin == "embedded default: state directory"
    assert url == f"sqlite:///{tmp_path / 'state' / 'kafkaops' / 'kafkaops.db'}"
    monkeypatch.setenv("KAFKAOPS_STORE", "sqlite:///env.db")
    assert resolve_store_url(cfg, None) == ("sqlite:///env.db", "KAFKAOPS_STORE")
    assert resolve_store_url(cfg, "sqlite:///flag.db") == ("sqlite:///flag.db", "--store")
    monkeypatch.setenv("KAFKAOPS_STORE", "postgresql+psycopg://u:secret@db/k")
    with pytest.raises(ConfigError) as exc:
        resolve_store_url(cfg, None)
    assert "secret" not in str(exc.value) and str(exc.value).startswith("KAFKAOPS_STORE: ")


def test_json_logs_one_object_per_line_in_utc(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info", "json")
    try:
        logging.getLogger("kafkaops.test").info("cluster %s: %s", "prod", "P1\nsecond line")
        logging.getLogger("kafkaops.test").debug("not shown at info")
    finally:
        logging.getLogger().handlers.clear()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["level"] == "INFO" and event["logger"] == "kafkaops.test"
    assert event["msg"] == "cluster prod: P1\nsecond line"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["ts"])


def test_text_logs_carry_a_utc_timestamp(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("debug", "text")
    try:
        logging.getLogger("kafkaops.test").debug("hello")
    finally:
        logging.getLogger().handlers.clear()
    line = capsys.readouterr().err.strip()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z DEBUG kafkaops.test: hello", line)


def test_bootstrap_and_config_from_the_environment(tmp_path: Path) -> None:
    proc = run_cli("health", env={"KAFKAOPS_BOOTSTRAP": "127.0.0.1:1"}, timeout=120)
    assert proc.returncode == 3 and "127.0.0.1:1" in proc.stderr
    bad = tmp_path / "k.yaml"
    bad.write_text("clusters: [\n")
    proc = run_cli("health", env={"KAFKAOPS_CONFIG": str(bad)})
    assert proc.returncode == 3 and str(bad) in proc.stderr


def test_entry_points_and_completion() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kafkaops", "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.startswith("kafkaops ")
    proc = run_cli("--help", env={"COLUMNS": "80"})
    assert "--install-completion" in proc.stdout and "db" in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80
