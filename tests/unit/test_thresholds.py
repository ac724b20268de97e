"""The pure runbook evaluator on hand-built snapshots: every rule, boundaries, ordering."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kafkaops.core.broker_metrics import ClusterMetrics, NodeMetrics
from kafkaops.core.model import (
    Broker,
    CheckStatus,
    ClusterSnapshot,
    CollectionError,
    ConsumerGroup,
    Finding,
    LogDir,
    PartitionLag,
    PartitionState,
    Severity,
    Topic,
)
from kafkaops.evaluate.findings import EVIDENCE_CAP
from kafkaops.evaluate.report import build_report
from kafkaops.evaluate.rules import evaluate
from kafkaops.evaluate.settings import Thresholds

T = Thresholds()


def part(topic="orders", p=0, leader=1, replicas=(1, 2, 3), isr=(1, 2, 3), min_isr=2):
    return PartitionState(topic, p, leader, replicas, isr, (), min_isr, 0, 100)


def snap(partitions=(), groups=(), brokers=None, log_dirs=(), quorum=(100, (100,)), errors=()):
    topics: dict[str, list[PartitionState]] = {}
    for p in partitions:
        topics.setdefault(p.topic, []).append(p)
    return ClusterSnapshot(
        cluster_name="t",
        bootstrap="h:1",
        taken_at_ms=1_700_000_000_000,
        duration_ms=5,
        cluster_id="cid",
        controller_id=1,
        quorum_leader_id=quorum[0],
        quorum_voters=quorum[1],
        brokers=tuple(brokers or [Broker(i, "127.0.0.1", 9090 + i) for i in (1, 2, 3)]),
        topics=tuple(Topic(n, False, tuple(ps)) for n, ps in topics.items()),
        groups=tuple(groups),
        log_dirs=tuple(log_dirs),
        errors=tuple(errors),
    )


def group(gid="g", time_lags=(0,), lag=5, below_start=False):
    parts = tuple(
        PartitionLag("orders", i, 10, 0, 10 + lag, lag, below_start, None, t, "exact")
        for i, t in enumerate(time_lags)
    )
    return ConsumerGroup(gid, "Stable", "consumer", 1, (), parts)


def triggered(findings, rule=None):
    return [
        f
        for f in findings
        if f.status == CheckStatus.TRIGGERED and (rule is None or f.rule == rule)
    ]


def test_healthy_snapshot_triggers_nothing_and_lists_not_measured():
    report = build_report(
        snap([part()], [group()]), T, cluster_name="t", bootstrap="h:1", checked_at_ms=0
    )
    assert report.overall_healthy is True
    assert report.severity == Severity.OK
    assert report.findings == ()
    nm = {c.rule for c in report.checks if c.status == CheckStatus.NOT_MEASURED}
    assert nm == {
        "broker_cpu",
        "broker_memory",
        "producer_error_rate",
        "network_io",
        "disk_usage",
        "consumer_status",
    }


def test_under_replicated_is_p1_with_partitions_and_missing_broker():
    s = snap([part(p=0, isr=(1, 3)), part(p=1, isr=(1, 3)), part(p=2)])
    [f] = triggered(evaluate(s, T), "under_replicated_partitions")
    assert f.severity == Severity.P1
    assert f.value == 2 and f.threshold == 0
    assert "brokers missing from ISR: 2 (2 partitions)" in f.evidence[0]
    assert any(e.startswith("orders-0 ") for e in f.evidence)
    assert f.response  # runbook steps attached


def test_under_min_isr_is_p1():
    s = snap([part(isr=(1,), min_isr=2)])
    [f] = triggered(evaluate(s, T), "under_min_isr_partitions")
    assert f.severity == Severity.P1 and f.value == 1


def test_offline_is_p0_and_not_double_counted_as_urp():
    s = snap([part(leader=-1, replicas=(3,), isr=()), part(p=1)])
    findings = evaluate(s, T)
    [off] = triggered(findings, "offline_partitions")
    assert off.severity == Severity.P0 and off.value == 1
    assert triggered(findings, "under_replicated_partitions") == []
    report = build_report(s, T, cluster_name="t", bootstrap="h", checked_at_ms=0)
    assert report.severity == Severity.P0
    assert report.findings[0].rule == "offline_partitions"


def test_offline_threshold_is_strictly_greater():
    t = Thresholds.model_validate({"critical": {"offline_partitions": 1}})
    assert triggered(evaluate(snap([part(leader=-1, isr=())]), t), "offline_partitions") == []


def test_no_active_controller_is_p0():
    [f] = triggered(evaluate(snap([part()], quorum=(None, (100,))), T), "active_controller")
    assert f.severity == Severity.P0


def test_quorum_failure_is_p0_but_zookeeper_cluster_is_not():
    err = CollectionError("DescribeQuorum", "controller quorum", "KafkaTimeoutError: timed out")
    assert triggered(evaluate(snap(quorum=(None, ()), errors=[err]), T), "active_controller")
    zk = CollectionError("DescribeQuorum", "q", "UnsupportedVersionError: no")
    assert not triggered(evaluate(snap(quorum=(None, ()), errors=[zk]), T), "active_controller")


def test_data_loss_is_p0():
    [f] = triggered(evaluate(snap(groups=[group(below_start=True)]), T), "data_loss")
    assert f.severity == Severity.P0 and "group g" in f.evidence[0]


@pytest.mark.parametrize(
    ("worst_ms", "severity"),
    [(60_000, None), (60_001, Severity.P2), (300_000, Severity.P2), (300_001, Severity.P1)],
)
def test_consumer_lag_boundaries(worst_ms, severity):
    findings = triggered(
        evaluate(snap(groups=[group(time_lags=(1000, worst_ms))]), T), "consumer_lag"
    )
    if severity is None:
        assert findings == []
    else:
        [f] = findings
        assert f.severity == severity and f.value == worst_ms and f.subject == "g"
        assert f.threshold == (300_000 if severity == Severity.P1 else 60_000)
        assert "exact" in f.evidence[0]


def test_consumer_lag_not_measured_when_no_time_lag():
    g = group(time_lags=(None,))
    [f] = [c for c in evaluate(snap(groups=[g]), T) if c.rule == "consumer_lag"]
    assert f.status == CheckStatus.NOT_MEASURED


def test_disk_usage_per_broker():
    dirs = [
        LogDir(1, "/d1", None, {}, total_bytes=100, usable_bytes=10),  # 90% → P1
        LogDir(2, "/d2", None, {}, total_bytes=100, usable_bytes=18),  # 82% → P2
        LogDir(3, "/d3", None, {}, total_bytes=100, usable_bytes=20),  # 80% → ok
    ]
    found = {f.subject: f for f in triggered(evaluate(snap(log_dirs=dirs), T), "disk_usage")}
    assert found["broker 1"].severity == Severity.P1
    assert found["broker 2"].severity == Severity.P2
    assert "broker 3" not in found


def test_unreachable_broker_is_p1():
    brokers = [Broker(1, "h", 1), Broker(2, "h", 2, reachable=False, error="timeout")]
    [f] = triggered(evaluate(snap(brokers=brokers), T), "broker_unreachable")
    assert f.severity == Severity.P1 and "broker 2" in f.evidence[0]


def test_metrics_are_evaluated_when_a_source_provides_them():
    nodes = (
        NodeMetrics(1, cpu_percent=95.0, network_bytes_per_s=0.61e9),
        NodeMetrics(2, cpu_percent=75.0, network_bytes_per_s=1e6),
        NodeMetrics(3, cpu_percent=10.0, network_bytes_per_s=1e6),
    )
    metrics = ClusterMetrics("prometheus", 0, 5.0, nodes, network_capacity_bytes_per_s=1e9)
    findings = evaluate(replace(snap(), metrics=(metrics,)), T)
    cpu = {f.subject: f.severity for f in triggered(findings, "broker_cpu")}
    assert cpu == {"broker 1": Severity.P1, "broker 2": Severity.P2}
    [net] = triggered(findings, "network_io")
    assert net.severity == Severity.P2 and net.subject == "broker 1"
    assert net.source == "prometheus (5s window)"
    nm = {f.rule for f in findings if f.status == CheckStatus.NOT_MEASURED}
    assert "broker_cpu" not in nm and "broker_memory" in nm


def test_unreachable_cluster_is_p0_and_everything_else_not_measured():
    report = build_report(
        None,
        T,
        cluster_name="t",
        bootstrap="h:1",
        checked_at_ms=0,
        reachable=False,
        unreachable_reason="no broker answered",
    )
    assert report.severity == Severity.P0
    assert [f.rule for f in report.findings] == ["cluster_offline"]
    assert report.reachable is False
    assert all(c.status == CheckStatus.NOT_MEASURED for c in report.checks[1:])


def test_evidence_is_capped():
    parts = [part(p=i, isr=(1,)) for i in range(EVIDENCE_CAP + 20)]
    [f] = triggered(evaluate(snap(parts), T), "under_replicated_partitions")
    assert len(f.evidence) == EVIDENCE_CAP + 1
    assert f.evidence[-1].endswith("more")


def test_findings_sorted_worst_first():
    s = snap(
        [part(leader=-1, replicas=(3,), isr=()), part(p=1, isr=(1,))],
        groups=[group(time_lags=(120_000,))],
    )
    report = build_report(s, T, cluster_name="t", bootstrap="h", checked_at_ms=0)
    ranks = [f.severity.rank for f in report.findings]
    assert ranks == sorted(ranks)
    assert report.findings[0].severity == Severity.P0
    assert report.findings[-1].severity == Severity.P2


def test_partition_lag_model_semantics():
    p = replace(part(), isr=(1,))
    assert p.under_replicated and p.under_min_isr and not p.offline


def _status(gid, status, parts=1):
    from kafkaops.lag.status import GroupStatus, LagStatus, PartitionStatus

    st = LagStatus(status)
    ps = tuple(PartitionStatus("t", i, st, 100, 1.0, "why") for i in range(parts))
    burrow = LagStatus.ERR if st.rank > LagStatus.ERR.rank else st
    return GroupStatus(gid, st, burrow, ps, 1.0)


def test_consumer_status_stuck_groups_are_p2_and_warn_is_only_evidence():
    statuses = {
        "a-stopped": _status("a-stopped", "STOP", 2),
        "b-ok": _status("b-ok", "OK"),
        "c-growing": _status("c-growing", "WARN"),
        "d-stalled": _status("d-stalled", "STALL"),
    }
    report = build_report(
        snap([part()], [group()]), T, cluster_name="t", bootstrap="h:1", checked_at_ms=0,
        statuses=statuses,
    )  # fmt: skip
    hits = triggered(report.findings, "consumer_status")
    assert [(f.subject, f.severity) for f in hits] == [
        ("a-stopped", Severity.P2),
        ("d-stalled", Severity.P2),
    ]
    assert "2 of 2 partitions STOP" in hits[0].evidence[0]
    assert report.severity == Severity.P2


def test_consumer_status_all_fine_lists_growing_groups():
    statuses = {"c-growing": _status("c-growing", "WARN"), "b": _status("b", "OK")}
    report = build_report(
        snap([part()], [group()]), T, cluster_name="t", bootstrap="h:1", checked_at_ms=0,
        statuses=statuses,
    )  # fmt: skip
    [check] = [c for c in report.checks if c.rule == "consumer_status"]
    assert check.status == CheckStatus.OK
    assert check.evidence == ("lag growing (WARN): c-growing",)


def test_report_orders_findings_of_rules_it_does_not_know() -> None:
    """Capability packages add rules (balance, capacity, DR, SLO, canary); a triggered one the
    runbook table does not list must not break the report (it did: KeyError in sorting)."""
    from kafkaops.evaluate.report import _worst_first

    extra = Finding("disk_full_forecast", Severity.P2, CheckStatus.TRIGGERED, "Disk full soon",
                    20.0, 30.0, "days", "broker 1")  # fmt: skip
    known = Finding("under_replicated_partitions", Severity.P2, CheckStatus.TRIGGERED, "URP",
                    1.0, 0.0, "count")  # fmt: skip
    assert sorted([extra, known], key=_worst_first) == [known, extra]
