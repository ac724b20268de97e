"""The ``dr:`` config section: parsed with units, bad values named by field."""

from __future__ import annotations

import pytest

from kafkaops.config import load_config
from kafkaops.core.errors import ConfigError
from kafkaops.pipeline.dr_pair import resolve_pair


def test_dr_section(tmp_path) -> None:
    cfg = tmp_path / "k.yaml"
    cfg.write_text(
        "clusters:\n  prod: {bootstrap: 'a:9092'}\n  prod-dr: {bootstrap: 'b:9092'}\n"
        "dr:\n  primary: prod\n  replica: prod-dr\n  replication_policy: identity\n"
        "  rpo: 30s\n  rto: 5m\n  switch: {type: file, path: /tmp/x}\n"
    )
    c = load_config(cfg)
    assert (c.dr.rpo, c.dr.rto, c.dr.switch.type) == (30_000, 300_000, "file")
    pair = resolve_pair(cfg)
    assert pair.policy.remote_topic("orders") == "orders" and pair.target_alias == "prod-dr"
    assert pair.targets.rpo_ms == 30_000
    back = resolve_pair(cfg, reverse=True)
    assert (back.primary, back.replica, back.policy.source_alias) == ("prod-dr", "prod", "prod-dr")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("dr: {rpo: soon}\n", "dr.rpo"),
        ("dr: {replication_policy: mirror}\n", "dr.replication_policy"),
        ("dr: {switch: {type: dns}}\n", "dr.switch.type"),
    ],
)
def test_bad_dr_values_are_named(tmp_path, body, needle) -> None:
    cfg = tmp_path / "k.yaml"
    cfg.write_text(body)
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert needle in str(exc.value)


def test_unset_primary_is_named(tmp_path) -> None:
    cfg = tmp_path / "k.yaml"
    cfg.write_text("clusters:\n  prod: {bootstrap: 'a:9092'}\n")
    with pytest.raises(ConfigError, match=r"dr.primary is not set"):
        resolve_pair(cfg)


def test_named_sandbox_cli_without_jvms(tmp_path) -> None:
    from tests.conftest import run_cli

    env = {"KAFKAOPS_SANDBOX_DIR": str(tmp_path / "default")}
    proc = run_cli("sandbox", "status", "--name", "dr", "--json", env=env)
    assert proc.returncode == 0 and f'"root": "{tmp_path / "dr"}"' in proc.stdout
    proc = run_cli("sandbox", "status", "--name", "../etc", env=env)
    assert proc.returncode == 3 and "sandbox name '../etc'" in proc.stderr
    proc = run_cli("sandbox", "mirror", "up", "--from", "default", "--to", "dr", env=env)
    assert proc.returncode == 3 and "no sandbox named 'default'" in proc.stderr
    proc = run_cli("dr", "verify", env=env)
    assert proc.returncode == 3 and "unknown cluster 'default'" in proc.stderr
    assert not (tmp_path / "dr").exists()
