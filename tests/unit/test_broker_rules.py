"""Rules fed by broker-metric sources, on hand-built ClusterMetrics (no I/O)."""

from __future__ import annotations

from dataclasses import replace

from kafkaops.core.broker_metrics import ClusterMetrics, GroupLagMetric, NodeMetrics
from kafkaops.core.model import CheckStatus, CollectionError, ConsumerGroup, PartitionLag, Severity
from kafkaops.evaluate.rules import evaluate
from kafkaops.evaluate.settings import Thresholds
from tests.unit.test_thresholds import snap

T = Thresholds()


def metrics(*nodes: NodeMetrics, source="prometheus", window=5.0, **kw) -> ClusterMetrics:
    return ClusterMetrics(source, 0, window, tuple(nodes), **kw)


def check(findings, rule, subject=None):
    found = [f for f in findings if f.rule == rule and (subject is None or f.subject == subject)]
    assert found, f"no {rule} finding"
    return found


def test_first_source_in_preference_order_wins_and_is_named():
    cw = metrics(NodeMetrics(1, cpu_percent=95.0), source="cloudwatch", window=60.0)
    prom = metrics(NodeMetrics(1, cpu_percent=10.0))
    [cpu] = check(evaluate(replace(snap(), metrics=(cw, prom)), T), "broker_cpu")
    assert cpu.severity == Severity.P1 and cpu.value == 95.0
    assert cpu.source == "cloudwatch (60s window)"


def test_a_source_without_the_value_falls_through_to_the_next():
    cw = metrics(NodeMetrics(1, cpu_percent=20.0), source="cloudwatch")  # no produce counters
    prom = metrics(NodeMetrics(1, produce_requests_per_s=100.0, failed_produce_requests_per_s=2.0))
    [rate] = check(evaluate(replace(snap(), metrics=(cw, prom)), T), "producer_error_rate")
    assert rate.severity == Severity.P1 and rate.value == 2.0
    assert rate.source.startswith("prometheus")


def test_producer_error_rate_bands_and_idle_cluster():
    def rate(failed, total):
        m = metrics(
            NodeMetrics(1, produce_requests_per_s=total, failed_produce_requests_per_s=failed)
        )
        [f] = check(evaluate(replace(snap(), metrics=(m,)), T), "producer_error_rate")
        return f

    assert rate(0.5, 100.0).severity == Severity.P2  # 0.5 % > 0.1 %
    assert rate(0.1, 100.0).status == CheckStatus.OK  # exactly 0.1 % is not above it
    idle = rate(0.0, 0.0)
    assert idle.status == CheckStatus.OK and idle.value == 0.0


def test_host_cpu_preferred_over_the_jvm_share():
    m = metrics(NodeMetrics(1, cpu_percent=92.0, process_cpu_percent=30.0))
    [cpu] = check(evaluate(replace(snap(), metrics=(m,)), T), "broker_cpu")
    assert cpu.value == 92.0 and "(host)" in cpu.evidence[0] and "JVM 30.0%" in cpu.evidence[0]
    jvm_only = metrics(NodeMetrics(1, process_cpu_percent=75.0))
    [cpu] = check(evaluate(replace(snap(), metrics=(jvm_only,)), T), "broker_cpu")
    assert cpu.severity == Severity.P2 and "broker JVM" in cpu.evidence[0]


def test_network_needs_a_bandwidth_to_be_a_percentage():
    m = metrics(NodeMetrics(1, network_bytes_per_s=50e6))
    [net] = check(evaluate(replace(snap(), metrics=(m,)), T), "network_io")
    assert net.status == CheckStatus.NOT_MEASURED
    assert "network_bandwidth" in net.evidence[0]
    m = replace(m, network_capacity_bytes_per_s=62.5e6)  # 500 Mbit/s
    [net] = check(evaluate(replace(snap(), metrics=(m,)), T), "network_io")
    assert net.severity == Severity.P2 and net.value == 80.0


def test_no_source_says_how_to_configure_one_and_a_failing_source_says_why():
    [mem] = check(evaluate(snap(), T), "broker_memory")
    assert mem.status == CheckStatus.NOT_MEASURED and "metrics.sources" in mem.evidence[0]
    down = metrics(errors=("JMX exporter http://h:11001/metrics: connection refused",))
    [mem] = check(evaluate(replace(snap(), metrics=(down,)), T), "broker_memory")
    assert "connection refused" in mem.evidence[0]


def test_a_silent_broker_is_not_measured_not_ok():
    m = metrics(NodeMetrics(1, cpu_percent=20.0), NodeMetrics(2, error="timed out"))
    found = {f.subject: f for f in check(evaluate(replace(snap(), metrics=(m,)), T), "broker_cpu")}
    assert found["broker 1"].status == CheckStatus.OK
    assert found["broker 2"].status == CheckStatus.NOT_MEASURED
    assert found["broker 2"].evidence == ("timed out",)


def test_controller_metric_decides_when_the_admin_protocol_cannot_tell():
    no_quorum_info = snap(quorum=(None, ()))
    ctrl = NodeMetrics(100, role="controller", active_controller=0)
    [f] = check(evaluate(replace(no_quorum_info, metrics=(metrics(ctrl),)), T), "active_controller")
    assert f.severity == Severity.P0 and f.source.startswith("prometheus")
    ok = replace(ctrl, active_controller=1)
    [f] = check(evaluate(replace(no_quorum_info, metrics=(metrics(ok),)), T), "active_controller")
    assert f.status == CheckStatus.OK and "ActiveControllerCount = 1" in f.evidence[0]


def test_silent_controller_endpoint_is_evidence_next_to_the_quorum_verdict():
    failed = snap(
        quorum=(None, ()),
        errors=[CollectionError("DescribeQuorum", "cluster", "RequestTimedOutError")],
    )
    silent = NodeMetrics(100, role="controller", error="connection refused")
    [f] = check(evaluate(replace(failed, metrics=(metrics(silent),)), T), "active_controller")
    assert f.severity == Severity.P0
    assert any("controller 100 metrics not answering" in e for e in f.evidence)


def test_offline_partitions_reported_by_the_controller_count_when_metadata_shows_fewer():
    ctrl = NodeMetrics(100, role="controller", offline_partitions=4)
    [f] = check(evaluate(replace(snap(), metrics=(metrics(ctrl),)), T), "offline_partitions")
    assert f.severity == Severity.P0 and f.value == 4 and f.source.startswith("prometheus")


def test_disk_falls_back_to_the_metrics_source_without_log_dir_capacity():
    m = metrics(NodeMetrics(1, disk_percent=86.0), NodeMetrics(2, disk_percent=40.0))
    found = {f.subject: f for f in check(evaluate(replace(snap(), metrics=(m,)), T), "disk_usage")}
    assert found["broker 1"].severity == Severity.P1 and found["broker 2"].status == "ok"


def test_cloudwatch_estimated_max_time_lag_feeds_consumer_lag_when_kafkaops_has_none():
    part = PartitionLag("orders", 0, 10, 0, 500, 490, False, None, None, None)
    group = ConsumerGroup("billing", "Stable", "consumer", 1, (), (part,))
    cw = metrics(
        source="cloudwatch",
        window=60.0,
        group_lag=(GroupLagMetric("billing", "orders", estimated_max_time_lag_ms=420_000),),
    )
    [f] = check(evaluate(replace(snap(groups=[group]), metrics=(cw,)), T), "consumer_lag")
    assert f.severity == Severity.P1 and f.value == 420_000 and f.subject == "billing"
    assert f.source == "cloudwatch (60s window)"
    # Without the source the same group is "not measured", never OK.
    [f] = check(evaluate(snap(groups=[group]), T), "consumer_lag")
    assert f.status == CheckStatus.NOT_MEASURED
