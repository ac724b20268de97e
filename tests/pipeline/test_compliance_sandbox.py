"""``kafkaops compliance`` against the session sandbox through its SASL/SCRAM listener: the
brokers' real listeners and DescribeAcls, and an audit trail with a deleted row."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from kafkaops.actions.audit import AuditLog, act_audit
from kafkaops.sandbox.cluster import SANDBOX_SCRAM_PASSWORD, SANDBOX_SCRAM_USER
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def test_compliance_on_the_sandbox(sandbox, tmp_path):
    store = f"sqlite:///{tmp_path / 'store.db'}"
    t0 = datetime.now(UTC) - timedelta(days=2)
    with AuditLog.open(store) as log:
        for i, result in enumerate(("started", "succeeded", "dry_run")):
            log.record(cluster="sb", operation="scale_storage", result=result, summary="s",
                       at=t0 + timedelta(minutes=i), actor="test")  # fmt: skip
        with log.engine.begin() as conn:  # someone removes the "succeeded" row
            conn.execute(delete(act_audit).where(act_audit.c.result == "succeeded"))
    cfg = tmp_path / "k.yaml"
    cfg.write_text(
        "clusters:\n"
        "  sb:\n"
        f"    bootstrap: {sandbox.sasl_bootstrap()}\n"
        "    security: {protocol: SASL_PLAINTEXT, sasl_mechanism: SCRAM-SHA-512,\n"
        f"               username: {SANDBOX_SCRAM_USER}, password_env: KO_COMP_PW}}\n"
        f"store: {{url: '{store}'}}\n"
    )
    env = {"KO_COMP_PW": SANDBOX_SCRAM_PASSWORD}
    proc = run_cli("compliance", "-c", str(cfg), "--json", env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    [doc] = json.loads(proc.stdout)["clusters"]
    got = {(c["check"], c["subject"]): c["status"] for c in doc["checks"]}
    for broker in (1, 2, 3):
        plain, sasl = (
            f"broker:{broker} listener:PLAINTEXT",
            f"broker:{broker} listener:SASL_PLAINTEXT",
        )
        assert got[("listener_tls", plain)] == "fail" and got[("listener_auth", plain)] == "fail"
        assert got[("listener_tls", sasl)] == "fail" and got[("listener_auth", sasl)] == "pass"
    assert got[("authorization", "cluster:sb")] == "fail"  # the sandbox runs no authorizer
    assert got[("acls_present", "cluster:sb")] == "n/a"
    [audit] = [c for c in doc["checks"] if c["check"] == "audit_trail"]
    assert audit["status"] == "fail" and "row id(s) missing" in audit["evidence"]
    assert "started without a result" in audit["evidence"]
    assert not any(c["check"].startswith("dr_") for c in doc["checks"])  # no dr: configured
    text = run_cli("compliance", "-c", str(cfg), env=env, timeout=120)
    assert text.returncode == 1 and text.stdout.startswith("sb: compliance FAILED")
    assert max(len(line) for line in text.stdout.splitlines()) <= 80
    assert SANDBOX_SCRAM_PASSWORD not in proc.stdout + text.stdout + text.stderr
