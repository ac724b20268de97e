"""The compliance rules on constructed facts (no cluster): listeners, ACLs, the DR replica,
the audit trail, and the text output at 80 columns."""

from __future__ import annotations

from datetime import UTC, datetime

from kafkaops.pipeline.compliance import (
    AUDIT_OPEN_US,
    ComplianceReport,
    acl_checks,
    audit_checks,
    dr_checks,
    listener_checks,
    render_text,
)

SANDBOX_BROKER = {
    "listeners": "PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9142",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
    "SASL_PLAINTEXT:SASL_PLAINTEXT",
    "controller.listener.names": "CONTROLLER",
}
DAY = 86_400_000


def _by(checks):
    return {(c.check, c.subject): c.status for c in checks}


def test_listeners_need_tls_and_authentication() -> None:
    got = _by(listener_checks("1", SANDBOX_BROKER))
    assert got == {
        ("listener_tls", "broker:1 listener:PLAINTEXT"): "fail",
        ("listener_auth", "broker:1 listener:PLAINTEXT"): "fail",
        ("listener_tls", "broker:1 listener:SASL_PLAINTEXT"): "fail",
        ("listener_auth", "broker:1 listener:SASL_PLAINTEXT"): "pass",
    }
    mtls = {"listeners": "CLIENTS://h:9094,IAM://h:9098",
            "listener.security.protocol.map": "CLIENTS:SSL,IAM:SASL_SSL",
            "listener.name.clients.ssl.client.auth": "required"}  # fmt: skip
    assert set(_by(listener_checks("2", mtls)).values()) == {"pass"}
    one_way = {**mtls, "listener.name.clients.ssl.client.auth": "none"}
    assert _by(listener_checks("2", one_way))[("listener_auth", "broker:2 listener:CLIENTS")] == (
        "fail"
    )
    assert {c.status for c in listener_checks("3", {})} == {"unknown"}


def test_acls_where_authorization_is_on() -> None:
    assert _by(acl_checks("c", False, None)) == {
        ("authorization", "cluster:c"): "fail", ("acls_present", "cluster:c"): "n/a"}  # fmt: skip
    assert _by(acl_checks("c", True, []))[("acls_present", "cluster:c")] == "fail"
    acl = ("User:app", "TOPIC", "orders", "LITERAL")
    assert set(_by(acl_checks("c", True, [acl])).values()) == {"pass"}
    assert {c.status for c in acl_checks("c", None, None, "timeout")} == {"unknown"}


def test_dr_replica_acls_configs_and_compliance_retention() -> None:
    acls = [("User:app", "TOPIC", "orders", "LITERAL"), ("User:app", "TOPIC", "pay", "LITERAL"),
            ("User:adm", "CLUSTER", "kafka-cluster", "LITERAL")]  # fmt: skip
    remote = {"orders": "prod.orders", "pay": "prod.pay"}
    replica = [("User:app", "TOPIC", "prod.orders", "LITERAL")]
    got = dr_checks("prod", "dr", acls, replica, remote,
                    {"pay": {"cleanup.policy": ("compact", "delete")}}, [],
                    {"prod.orders": 90 * DAY, "prod.pay": 7 * DAY}, 90 * DAY)  # fmt: skip
    by = {c.check: c for c in got}
    assert by["dr_acls_replicated"].status == "fail"
    assert "1 of 2" in by["dr_acls_replicated"].evidence and "User:app on pay" in (
        by["dr_acls_replicated"].evidence
    )
    assert by["dr_topic_configs_replicated"].status == "fail"
    assert "cleanup.policy compact vs delete" in by["dr_topic_configs_replicated"].evidence
    assert by["compliance_retention"].status == "fail"
    assert "prod.pay (7.0 d)" in by["compliance_retention"].evidence
    both = [*replica, ("User:app", "TOPIC", "prod.pay", "LITERAL")]
    keep = {"prod.orders": -1, "prod.pay": 91 * DAY}
    good = dr_checks("prod", "dr", acls, both, remote, {}, [], keep, 90 * DAY)
    assert {c.status for c in good} == {"pass"}
    unknown = dr_checks("prod", "dr", None, [], remote, {}, ["new"], {"prod.orders": None},
                        90 * DAY)  # fmt: skip
    assert [c.status for c in unknown] == ["unknown", "fail", "unknown"]


def test_audit_trail_intact_or_not() -> None:
    now = 10 * AUDIT_OPEN_US
    ok = [(1, 100, "c", "scale", "started"), (2, 200, "c", "scale", "succeeded"),
          (3, 300, "c", "scale", "refused")]  # fmt: skip
    assert [c.status for c in audit_checks(ok, now)] == ["pass"]
    assert [c.status for c in audit_checks([], now)] == ["pass"]
    assert [c.status for c in audit_checks(None, now, "no store")] == ["unknown"]
    [bad] = audit_checks([(1, 100, "c", "a", "started"), (3, 200, "c", "b", "succeeded"),
                          (4, 100 - 10_000_000, "c", "b", "dry_run")], now)  # fmt: skip
    assert bad.status == "fail"
    assert "1 row id(s) missing between 1 and 4" in bad.evidence
    assert "time runs backwards at id(s) 4" in bad.evidence
    assert "started without a result: id(s) 1" in bad.evidence
    # A started action still within the hour is in progress, not lost.
    fresh = audit_checks([(1, now - 1_000, "c", "a", "started")], now)
    assert fresh[0].status == "pass"


def test_text_report_reads_at_80_columns() -> None:
    report = ComplianceReport("prod", datetime(2026, 12, 7, 9, tzinfo=UTC))
    report.checks += listener_checks("1", SANDBOX_BROKER) + acl_checks("prod", False, None)
    lines = render_text(report)
    assert lines[0].startswith("prod: compliance FAILED (") and "fail" in lines[0]
    assert max(len(line) for line in lines) <= 80
    assert lines[1].split()[0] == "FAIL"  # failures first
    d = report.to_dict()
    assert d["ok"] is False and d["counts"] == {"fail": 4, "pass": 1, "n/a": 1}
