"""The producer diagnosis from exporter text: attribution to the component that dominates."""

from __future__ import annotations

from kafkaops.collect.prometheus import parse_exposition
from kafkaops.diagnose.canary import BrokerCanary, canary_assignment, findings_for
from kafkaops.diagnose.producers import analyse
from kafkaops.diagnose.settings import CanarySettings


def exposition(
    *,
    requests: float,
    failed: float = 0,
    bytes_in: float,
    count: float,
    means: dict[str, float],
    idle: float = 0.9,
    topic_bytes: dict[str, float] | None = None,
) -> str:
    lines = [
        f"kafka_server_brokertopicmetrics_totalproducerequests_total {requests}",
        f"kafka_server_brokertopicmetrics_failedproducerequests_total {failed}",
        f"kafka_server_brokertopicmetrics_bytesin_total {bytes_in}",
        f"kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent {idle}",
        "kafka_network_socketserver_networkprocessoravgidlepercent 0.95",
        "kafka_server_replicamanager_underreplicatedpartitions 2",
        'kafka_network_requestmetrics_totaltimems{quantile="0.99",request="Produce"} 900',
    ]
    for name, mean in means.items():
        m = f"kafka_network_requestmetrics_{name.lower()}"
        lines += [
            f'{m}_count{{request="Produce"}} {count}',
            f'{m}_mean{{request="Produce"}} {mean}',
        ]
    for topic, b in (topic_bytes or {}).items():
        lines.append(f'kafka_server_brokertopicmetrics_bytesin_total{{topic="{topic}"}} {b}')
    return "\n".join(lines) + "\n"


BASE = {"TotalTimeMs": 10, "RequestQueueTimeMs": 1, "LocalTimeMs": 3, "RemoteTimeMs": 5}


def test_remote_time_shift_is_attributed_to_replication_not_the_client() -> None:
    # 1000 requests at 10 ms mean, then 100 more whose mean is 1000 ms, 900 of it remote.
    prev = parse_exposition(
        exposition(requests=1000, bytes_in=1e7, count=1000, means=BASE), taken_at=0
    )
    total = (10 * 1000 + 1000 * 100) / 1100
    remote = (5 * 1000 + 900 * 100) / 1100
    cur_means = {**BASE, "TotalTimeMs": total, "RemoteTimeMs": remote}
    cur = parse_exposition(
        exposition(requests=1100, bytes_in=2e7, count=1100, means=cur_means), taken_at=10
    )
    report = analyse("c", {1: (prev, cur)})
    b = report.brokers[0]
    assert round(b.mean_ms["TotalTimeMs"]) == 1000
    assert round(b.mean_ms["RemoteTimeMs"]) == 900
    assert b.dominant()[0] == "RemoteTimeMs"
    assert b.produce_requests_per_s == 10
    [cause] = [c for c in report.causes if c.code == "remote_time"]
    assert not cause.client_side
    assert any("under-replicated" in e for e in cause.evidence)
    assert report.severity == "P2"


def test_healthy_broker_has_no_cause_and_errors_and_batching_are_found() -> None:
    prev = parse_exposition(
        exposition(requests=0, bytes_in=0, count=0, means=BASE, topic_bytes={"a": 0, "b": 0}),
        taken_at=0,
    )
    cur = parse_exposition(
        exposition(
            requests=1000,
            failed=200,
            bytes_in=100_000,
            count=1000,
            means=BASE,
            topic_bytes={"a": 10, "b": 90_000},
        ),
        taken_at=10,
    )
    report = analyse("c", {1: (prev, cur)})
    codes = {c.code: c for c in report.causes}
    assert "remote_time" not in codes and "slow" not in codes
    assert codes["failed_produce"].severity == "P1"  # 20 % of requests fail
    assert any("enable.idempotence=true" in a for a in codes["failed_produce"].advice)
    assert codes["small_batches"].client_side  # 100 requests/s of 100 B
    assert [t.topic for t in report.topics] == ["b", "a"]


def test_quiet_broker_is_not_diagnosed() -> None:
    text = exposition(requests=5, bytes_in=500, count=5, means=BASE)
    report = analyse("c", {1: (parse_exposition(text), parse_exposition(text, taken_at=5))})
    assert report.causes == () and report.severity == "OK"
    assert report.brokers[0].mean_ms == {}  # no request finished in the window


def test_canary_assignment_spreads_preferred_leaders() -> None:
    assert canary_assignment([3, 1, 2]) == {0: [1, 2, 3], 1: [2, 3, 1], 2: [3, 1, 2]}
    assert canary_assignment([7]) == {0: [7]}


def test_canary_findings() -> None:
    s = CanarySettings()
    found = findings_for(
        [
            BrokerCanary(1, (0,), 20, 30),
            BrokerCanary(2, (1,), None, None, "timeout", "failed"),
            BrokerCanary(3, (2,), 2500, 2600, None, "slow"),
        ],
        s,
    )
    assert [(f.rule, f.severity.value, f.subject) for f in found] == [
        ("canary_produce_failed", "P1", "broker:2"),
        ("canary_produce_slow", "P2", "broker:3"),
    ]
