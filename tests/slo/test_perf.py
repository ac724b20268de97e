"""perf-test logic on recorded tool output (no JVM): parsing, client properties, refusal,
the comparison with earlier months, the store, and the CLI's refusal and dry run."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from kafkaops.slo.perf import (
    PerfTestError,
    build_plan,
    compare,
    java_properties,
    monthly_trend,
    parse_consumer,
    parse_producer,
    refusal,
)
from kafkaops.slo.perf_store import PerfResult, PerfStore
from kafkaops.slo.settings import PerfTestSettings
from tests.conftest import run_cli

# What Kafka 4.1's tools print (a progress line every 5 s, then the final line / the CSV).
PRODUCER_OUT = """\
24911 records sent, 4982.2 records/sec (4.87 MB/sec), 1843.8 ms avg latency, 2958.0 ms max latency.
50000 records sent, 6622.516556 records/sec (6.47 MB/sec), 2360.11 ms avg latency, \
3710.00 ms max latency, 2440 ms 50th, 3400 ms 95th, 3600 ms 99th, 3700 ms 99.9th.
"""
CONSUMER_OUT = """\
start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, \
rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-12-01 08:40:01:123, 2026-12-01 08:40:03:456, 48.8281, 20.9293, 50000, 21431.6331, \
312, 2021, 24.1604, 24740.2276
"""


def test_parses_the_tools_final_results() -> None:
    p = parse_producer(PRODUCER_OUT)
    assert p["produce_records_per_s"] == pytest.approx(6622.52, abs=0.01)
    assert (p["latency_p50_ms"], p["latency_p99_ms"], p["latency_p999_ms"]) == (2440, 3600, 3700)
    assert p["latency_avg_ms"] == 2360.11 and p["records_sent"] == 50000
    c = parse_consumer(CONSUMER_OUT)
    assert c == {"records_consumed": 50000.0, "consume_records_per_s": 21431.6331,
                 "consume_mb_per_s": 20.9293}  # fmt: skip
    with pytest.raises(PerfTestError, match="no final result"):
        parse_producer(PRODUCER_OUT.splitlines()[0])
    with pytest.raises(PerfTestError, match="no result line"):
        parse_consumer("WARN nothing\n")


def test_java_client_properties_from_the_cluster_security() -> None:
    props = java_properties({
        "bootstrap_servers": ["a:9096", "b:9096"], "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "ops",
        "sasl_plain_password": 'p"w\\d', "ssl_cafile": "/etc/ca.pem",
    })  # fmt: skip
    assert props["bootstrap.servers"] == "a:9096,b:9096"
    assert props["sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="ops" password="p\\"w\\\\d";'
    )
    assert props["ssl.truststore.type"] == "PEM"
    with pytest.raises(PerfTestError, match="client_config"):
        java_properties({"bootstrap_servers": "a:1", "sasl_mechanism": "AWS_MSK_IAM"})
    with pytest.raises(PerfTestError, match="key store"):
        java_properties({"bootstrap_servers": "a:1", "ssl_certfile": "/c.pem"})


def test_refused_unless_allowed_and_plan_is_bounded() -> None:
    s = PerfTestSettings(allow=("staging",), records=1000, max_time="30s")
    assert refusal("staging", s, sandbox=False) is None
    assert refusal("sandbox", s, sandbox=True) is None
    why = refusal("prod", s, sandbox=False)
    assert why and "slo.perf_test.allow" in why and "1,000 records" in why
    plan = build_plan("staging", {"bootstrap_servers": "h:9092"}, s)
    assert plan.producer[plan.producer.index("--num-records") + 1] == "1000"
    assert plan.consumer[plan.consumer.index("--messages") + 1] == "1000"
    assert plan.max_time_ms == 30_000 and plan.topic == "kafkaops-perf-test"


def _run(month: int, rps: float, p99: float, cons: float, ok: bool = True) -> PerfResult:
    at = int(datetime(2026, month, 3, tzinfo=UTC).timestamp() * 1000)
    return PerfResult("c", at, "t", 1000, 1024, ok, produce_records_per_s=rps,
                      latency_p99_ms=p99, consume_records_per_s=cons)  # fmt: skip


def test_compare_with_the_median_of_earlier_months() -> None:
    earlier = [_run(8, 9000, 50, 20000), _run(9, 10000, 40, 21000), _run(10, 11000, 45, 19000),
               _run(11, 1, 1, 1, ok=False)]  # fmt: skip
    same = compare(_run(12, 9500, 47, 20500), earlier, 20)
    assert same["baseline_months"] == ["2026-08", "2026-09", "2026-10"]
    assert same["baseline"]["produce_records_per_s"] == 10000 and not same["regressions"]
    worse = compare(_run(12, 7000, 60, 20500), earlier, 20)
    assert {g["metric"]: g["change_percent"] for g in worse["regressions"]} == {
        "produce_records_per_s": -30.0, "latency_p99_ms": 33.3}  # fmt: skip
    assert compare(_run(12, 1, 1, 1), [], 20) == {
        "baseline_months": [], "baseline": {}, "regressions": []}  # fmt: skip
    assert [r.at_ms for r in monthly_trend(earlier)] == [r.at_ms for r in earlier[:3]]


def test_store_round_trip(tmp_path) -> None:
    store = PerfStore(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        r = _run(11, 5000, 30, 9000)
        r.detail = {"regressions": []}
        store.record(r)
        store.record(_run(12, 1, 1, 1, ok=False))
        got = store.runs("c")
        assert [g.ok for g in got] == [True, False] and got[0].detail == {"regressions": []}
        assert got[0].produce_records_per_s == 5000 and store.runs("other") == []
    finally:
        store.close()


def test_cli_refuses_a_cluster_not_allowed_and_dry_run_hides_the_password(tmp_path) -> None:
    cfg = tmp_path / "k.yaml"
    cfg.write_text(
        "clusters:\n"
        "  prod: {bootstrap: '127.0.0.1:1'}\n"
        "  staging:\n    bootstrap: '127.0.0.1:1'\n"
        "    security: {protocol: SASL_PLAINTEXT, sasl_mechanism: SCRAM-SHA-512,\n"
        "               username: ops, password_env: KO_PERF_PW}\n"
        "slo:\n  perf_test: {allow: [staging], records: 5000}\n"
    )
    proc = run_cli("perf-test", "-c", str(cfg), "--cluster", "prod")
    assert proc.returncode == 3 and "slo.perf_test.allow" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    env = {"KO_PERF_PW": "s3cret-perf"}
    bad = run_cli("perf-test", "-c", str(cfg), "--cluster", "staging", "--records", "0", env=env)
    assert bad.returncode == 3 and "--records" in bad.stderr
    dry = run_cli("perf-test", "-c", str(cfg), "--cluster", "staging", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "s3cret-perf" not in dry.stdout + dry.stderr and "sasl.jaas.config=***" in dry.stdout
    assert "ProducerPerformance" in dry.stdout and "ConsumerPerformance" in dry.stdout
    assert max(len(line) for line in dry.stdout.splitlines() if "tools" not in line) <= 80
    doc = json.loads(run_cli("perf-test", "-c", str(cfg), "--cluster", "staging", "--dry-run",
                             "--json", env=env).stdout)  # fmt: skip
    argv = doc["plan"]["producer_command"]
    assert doc["dry_run"] and argv[argv.index("--num-records") + 1] == "5000"
    assert "s3cret-perf" not in json.dumps(doc)
