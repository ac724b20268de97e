"""Config validation: every error names the file, the field and the value; secrets never leak."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.config import Config, default_config, load_config
from kafkaops.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kafkaops.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_defaults_are_exactly_the_runbook():
    t = default_config().thresholds
    assert t.critical.offline_partitions == 0
    assert t.critical.under_replicated_partitions == 0
    assert t.critical.consumer_lag == 300_000
    assert t.critical.broker_cpu == 90 and t.critical.broker_memory == 90
    assert t.critical.disk_usage == 85
    assert t.critical.producer_error_rate == 1.0
    assert t.warning.consumer_lag == 60_000
    assert t.warning.broker_cpu == 70 and t.warning.broker_memory == 80
    assert t.warning.disk_usage == 80
    assert t.warning.producer_error_rate == pytest.approx(0.1)
    assert t.warning.network_io == 60


def test_example_file_loads_and_matches_defaults():
    cfg = load_config(ROOT / "kafkaops.example.yaml")
    assert cfg.thresholds == default_config().thresholds
    assert cfg.clusters["sandbox"].bootstrap[0] == "127.0.0.1:19092"


def test_bad_duration_names_file_field_value(tmp_path):
    msg = error_of(tmp_path, "thresholds:\n  warning:\n    consumer_lag: 5 minutes\n")
    assert "kafkaops.yaml" in msg
    assert "thresholds.warning.consumer_lag" in msg
    assert "'5 minutes'" in msg


def test_bare_number_duration_is_refused(tmp_path):
    msg = error_of(tmp_path, "thresholds:\n  critical:\n    consumer_lag: 300000\n")
    assert "thresholds.critical.consumer_lag" in msg and "300000" in msg and "unit" in msg


def test_unknown_key(tmp_path):
    msg = error_of(tmp_path, "thresholds:\n  warnings:\n    consumer_lag: 1m\n")
    assert "thresholds.warnings" in msg and "unknown field" in msg


def test_warning_above_critical(tmp_path):
    msg = error_of(tmp_path, "thresholds:\n  warning:\n    disk_usage: 90%\n")
    assert "warning.disk_usage" in msg and "critical.disk_usage" in msg


def test_bad_yaml_reports_line(tmp_path):
    msg = error_of(tmp_path, "clusters:\n  a:\n    bootstrap: [unclosed\n")
    assert "kafkaops.yaml" in msg and "line" in msg


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found"):
        load_config(tmp_path / "nope.yaml")


def test_bootstrap_must_be_host_port(tmp_path):
    msg = error_of(tmp_path, "clusters:\n  a:\n    bootstrap: localhost\n")
    assert "clusters.a.bootstrap" in msg and "HOST:PORT" in msg


def test_inline_password_refused_without_echoing_it(tmp_path):
    msg = error_of(
        tmp_path,
        "clusters:\n  a:\n    bootstrap: h:9096\n    security:\n      protocol: SASL_SSL\n"
        "      sasl_mechanism: SCRAM-SHA-512\n      username: u\n      password: s3cr3t-value\n",
    )
    assert "password_env" in msg
    assert "s3cr3t-value" not in msg


def test_scram_needs_password_source(tmp_path):
    msg = error_of(
        tmp_path,
        "clusters:\n  a:\n    bootstrap: h:9096\n    security:\n      protocol: SASL_SSL\n"
        "      sasl_mechanism: SCRAM-SHA-512\n      username: u\n",
    )
    assert "password_env or password_file" in msg


def test_msk_iam_needs_sasl_ssl(tmp_path):
    msg = error_of(
        tmp_path,
        "clusters:\n  a:\n    bootstrap: h:9098\n    security:\n      protocol: SASL_PLAINTEXT\n"
        "      sasl_mechanism: AWS_MSK_IAM\n",
    )
    assert "SASL_SSL" in msg


def test_password_from_env_is_resolved_but_never_shown(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKA_PW", "very-secret-pw")
    cfg = load_config(
        write(
            tmp_path,
            "clusters:\n  a:\n    bootstrap: h:9096\n    security:\n      protocol: SASL_SSL\n"
            "      sasl_mechanism: SCRAM-SHA-256\n      username: u\n"
            "      password_env: KAFKA_PW\n",
        )
    )
    cluster = cfg.clusters["a"]
    kwargs = cluster.kafka_client_kwargs()
    assert kwargs["sasl_plain_password"] == "very-secret-pw"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-256"
    assert kwargs["security_protocol"] == "SASL_SSL"
    secret = cluster.security.resolve_password()
    assert secret is not None
    for text in (repr(cfg), str(cfg), str(cfg.model_dump()), repr(secret), str(secret)):
        assert "very-secret-pw" not in text


def test_password_file(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("from-file\n")
    cfg = Config.model_validate(
        {
            "clusters": {
                "a": {
                    "bootstrap": "h:1",
                    "security": {
                        "protocol": "SASL_PLAINTEXT",
                        "sasl_mechanism": "PLAIN",
                        "username": "u",
                        "password_file": str(pw),
                    },
                }
            }
        }
    )
    assert cfg.clusters["a"].kafka_client_kwargs()["sasl_plain_password"] == "from-file"


def test_missing_env_var_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_PW", raising=False)
    cfg = Config.model_validate(
        {
            "clusters": {
                "a": {
                    "bootstrap": "h:1",
                    "security": {
                        "protocol": "SASL_SSL",
                        "sasl_mechanism": "SCRAM-SHA-512",
                        "username": "u",
                        "password_env": "NOPE_PW",
                    },
                }
            }
        }
    )
    with pytest.raises(ConfigError, match="NOPE_PW"):
        cfg.clusters["a"].kafka_client_kwargs()


def test_timeouts_reach_the_client():
    cfg = Config.model_validate(
        {
            "clusters": {
                "a": {
                    "bootstrap": ["h:1", "h:2"],
                    "timeouts": {"request": "3s", "connect": "500ms"},
                }
            }
        }
    )
    kwargs = cfg.clusters["a"].kafka_client_kwargs()
    assert kwargs["request_timeout_ms"] == 3000
    assert kwargs["bootstrap_timeout_ms"] == 500
    assert kwargs["bootstrap_servers"] == ["h:1", "h:2"]
