"""The monthly performance benchmark: Kafka's own ``kafka-producer-perf-test`` and
``kafka-consumer-perf-test`` against a dedicated topic, bounded, stored, compared.

Why Kafka's tools and not a Python producer: the numbers must mean what every Kafka operator's
numbers mean (the same client, batching and percentiles), and a Python client would measure
Python.  Where they come from, first match: explicit commands (``producer_command`` /
``consumer_command``), an installation (``kafka_home``), else the classes from the jars
kafkaops caches for the sandbox (``kafka_version``).

Bounds: ``records`` at ``throughput`` records/s at most, each phase killed after ``max_time``;
the consumer stops after the same number of records, or after ``max_time`` without records.
Secrets: the Java client properties (SASL password) go to a 0600 temporary file deleted after
the run; a dry run and every output show them redacted.

Comparison: each metric against the median of the earlier months (each month's last good run
with the same record size, up to 3 months back).  Throughput that fell, or p99 latency that
rose, by more than ``regression_percent`` is a regression.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

from kafkaops.core.errors import KafkaopsError
from kafkaops.slo.perf_store import PerfResult
from kafkaops.slo.settings import PerfTestSettings

Progress = Callable[[str], None]
#: Placeholder for the client properties file in a plan's argv (filled in at run time).
CONFIG = "{client_config}"
REDACTED = "***"


class PerfTestError(KafkaopsError):
    """The benchmark cannot run (refused, no tools, bad security settings)."""


def refusal(cluster: str, settings: PerfTestSettings, *, sandbox: bool) -> str | None:
    """Why ``cluster`` may not be benchmarked, or None."""
    if sandbox or cluster in settings.allow:
        return None
    return (
        f"perf-test refused on cluster '{cluster}': it writes {settings.records:,} records of "
        f"{settings.record_size} B to it; name the cluster in slo.perf_test.allow to allow it"
    )


def _jaas(module: str, user: str, password: str) -> str:
    def q(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"')

    return f'{module} required username="{q(user)}" password="{q(password)}";'


def java_properties(client_kwargs: Mapping[str, Any]) -> dict[str, str]:
    """Java client properties for the cluster's kafka-python settings (secrets included)."""
    servers = client_kwargs.get("bootstrap_servers")
    props = {
        "bootstrap.servers": servers if isinstance(servers, str) else ",".join(servers or ()),
        "security.protocol": str(client_kwargs.get("security_protocol") or "PLAINTEXT"),
    }
    mech = client_kwargs.get("sasl_mechanism")
    if mech:
        props["sasl.mechanism"] = str(mech)
        user = str(client_kwargs.get("sasl_plain_username") or "")
        password = str(client_kwargs.get("sasl_plain_password") or "")
        if mech == "PLAIN":
            module = "org.apache.kafka.common.security.plain.PlainLoginModule"
            props["sasl.jaas.config"] = _jaas(module, user, password)
        elif str(mech).startswith("SCRAM-"):
            module = "org.apache.kafka.common.security.scram.ScramLoginModule"
            props["sasl.jaas.config"] = _jaas(module, user, password)
        else:
            raise PerfTestError(
                f"perf-test: sasl_mechanism {mech} needs its own Java client settings: write "
                "them to a properties file and set slo.perf_test.client_config"
            )
    if client_kwargs.get("ssl_certfile"):
        raise PerfTestError(
            "perf-test: TLS client certificates need a Java key store: set "
            "slo.perf_test.client_config to a client properties file"
        )
    if client_kwargs.get("ssl_cafile"):
        props["ssl.truststore.type"] = "PEM"
        props["ssl.truststore.location"] = str(client_kwargs["ssl_cafile"])
    if client_kwargs.get("ssl_check_hostname") is False:
        props["ssl.endpoint.identification.algorithm"] = ""
    return props


def redacted(props: Mapping[str, str]) -> dict[str, str]:
    return {k: (REDACTED if "jaas" in k or "password" in k else v) for k, v in props.items()}


def _escape(value: str) -> str:
    """A value for a Java .properties file (backslash is its escape character)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n")


@dataclass
class PerfPlan:
    """What a run would do: the topic, the two commands, the client settings (redacted)."""

    cluster: str
    topic: str
    records: int
    record_size: int
    throughput: int
    max_time_ms: int
    tools: str
    producer: list[str]
    consumer: list[str]
    properties: dict[str, str] = field(default_factory=dict)
    client_config: str | None = None
    group: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "topic": self.topic,
            "records": self.records,
            "record_size": self.record_size,
            "throughput": self.throughput,
            "max_time_s": self.max_time_ms / 1000,
            "tools": self.tools,
            "producer_command": self.producer,
            "consumer_command": self.consumer,
            "client_properties": self.client_config or redacted(self.properties),
        }


def _tool_prefixes(settings: PerfTestSettings) -> tuple[str, list[str], list[str]]:
    if settings.producer_command and settings.consumer_command:
        return (
            "configured commands",
            list(settings.producer_command),
            list(settings.consumer_command),
        )
    if settings.kafka_home:
        bin_dir = Path(settings.kafka_home).expanduser() / "bin"
        prod = bin_dir / "kafka-producer-perf-test.sh"
        cons = bin_dir / "kafka-consumer-perf-test.sh"
        for script in (prod, cons):
            if not script.is_file():
                raise PerfTestError(f"slo.perf_test.kafka_home: {script} does not exist")
        return f"Kafka installation {settings.kafka_home}", [str(prod)], [str(cons)]
    from kafkaops.sandbox import jars
    from kafkaops.sandbox.tools import jar_tool_command

    v = settings.kafka_version
    if not any(jars.libs_dir(v).glob("kafka-tools-*.jar")):
        raise PerfTestError(
            f"perf-test: no Kafka {v} tools in {jars.libs_dir(v)}: run 'kafkaops sandbox up' "
            "once (it fetches them), or set slo.perf_test.kafka_home"
        )
    return (
        f"Kafka {v} jars ({jars.libs_dir(v)})",
        jar_tool_command(v, "kafka-producer-perf-test", []),
        jar_tool_command(v, "kafka-consumer-perf-test", []),
    )


def build_plan(
    cluster: str, client_kwargs: Mapping[str, Any], settings: PerfTestSettings
) -> PerfPlan:
    """The commands a run would execute (nothing is contacted)."""
    tools, producer, consumer = _tool_prefixes(settings)
    props = {} if settings.client_config else java_properties(client_kwargs)
    bootstrap = java_properties({"bootstrap_servers": client_kwargs.get("bootstrap_servers")})[
        "bootstrap.servers"
    ]
    group = f"kafkaops-perf-test-{uuid.uuid4().hex[:8]}"
    s = settings
    producer += [
        "--topic", s.topic, "--num-records", str(s.records), "--record-size", str(s.record_size),
        "--throughput", str(s.throughput), "--producer-props", "acks=all",
        "--producer.config", CONFIG,
    ]  # fmt: skip
    consumer += [
        "--bootstrap-server", bootstrap, "--topic", s.topic, "--messages", str(s.records),
        "--group", group, "--timeout", str(min(s.max_time, 60_000)),
        "--consumer.config", CONFIG,
    ]  # fmt: skip
    return PerfPlan(
        cluster, s.topic, s.records, s.record_size, s.throughput, s.max_time, tools,
        producer, consumer, props, s.client_config, group,
    )  # fmt: skip


# --------------------------------------------------------------------------- parsing output
_FINAL = re.compile(
    r"(?P<n>\d+) records sent, (?P<rps>[\d.]+) records/sec \((?P<mbps>[\d.]+) MB/sec\), "
    r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, (?P<p50>\d+) ms 50th, "
    r"(?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th, (?P<p999>\d+) ms 99.9th"
)


def parse_producer(text: str) -> dict[str, float]:
    """The producer perf test's final line (it prints percentiles only there)."""
    found = list(_FINAL.finditer(text))
    if not found:
        raise PerfTestError("kafka-producer-perf-test printed no final result line")
    m = found[-1]
    return {
        "records_sent": float(m["n"]),
        "produce_records_per_s": float(m["rps"]),
        "produce_mb_per_s": float(m["mbps"]),
        "latency_avg_ms": float(m["avg"]),
        "latency_max_ms": float(m["max"]),
        "latency_p50_ms": float(m["p50"]),
        "latency_p95_ms": float(m["p95"]),
        "latency_p99_ms": float(m["p99"]),
        "latency_p999_ms": float(m["p999"]),
    }


def parse_consumer(text: str) -> dict[str, float]:
    """The consumer perf test's CSV: a header naming the columns, then one line of values."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for i, line in enumerate(lines[:-1]):
        if line.startswith("start.time"):
            cols = [c.strip() for c in line.split(",")]
            vals = [v.strip() for v in lines[i + 1].split(",")]
            row = dict(zip(cols, vals, strict=False))
            try:
                return {
                    "records_consumed": float(row["data.consumed.in.nMsg"]),
                    "consume_records_per_s": float(row["nMsg.sec"]),
                    "consume_mb_per_s": float(row["MB.sec"]),
                }
            except (KeyError, ValueError):
                break
    raise PerfTestError("kafka-consumer-perf-test printed no result line")


# ------------------------------------------------------------------------------- running
def ensure_topic(client_kwargs: Mapping[str, Any], topic: str, timeout_ms: int = 15_000) -> bool:
    """Create the dedicated topic when missing; True when created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(
        **{"request_timeout_ms": timeout_ms, "client_id": "kafkaops-perf-test", **client_kwargs}
    )
    try:
        if topic in set(admin.list_topics()):
            return False
        brokers = len(admin.describe_cluster()["brokers"])
        rf = min(3, brokers)
        configs = {"retention.ms": "86400000", "min.insync.replicas": str(min(2, rf))}
        try:
            admin.create_topics([NewTopic(topic, max(1, brokers), rf, topic_configs=configs)])
        except TopicAlreadyExistsError:
            return False
        return True
    finally:
        admin.close()


def _delete_group(client_kwargs: Mapping[str, Any], group: str) -> None:
    """The consumer perf test's group is ours: leave no group behind for ``watch`` to report."""
    from kafka import KafkaAdminClient

    with contextlib.suppress(Exception):
        admin = KafkaAdminClient(**{"request_timeout_ms": 10_000, **client_kwargs})
        try:
            admin.delete_consumer_groups([group])
        finally:
            admin.close()


def _run(argv: list[str], limit_s: float, progress: Progress | None, label: str) -> str:
    """Run one tool, relaying its lines as progress; killed after ``limit_s``."""
    try:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
    except OSError as exc:
        raise PerfTestError(f"{label}: cannot start {argv[0]}: {exc.strerror}") from None
    out: list[str] = []
    err: list[str] = []

    def pump(stream: Any, sink: list[str], relay: bool) -> None:
        for line in stream:
            sink.append(line)
            if relay and progress and line.strip() and not line.startswith("start.time"):
                progress(f"{label}: {line.strip()[:110]}")

    readers = [
        threading.Thread(target=pump, args=(proc.stdout, out, True), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, err, False), daemon=True),
    ]
    for r in readers:
        r.start()
    try:
        proc.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait(timeout=10)
        raise PerfTestError(f"{label} did not finish within {limit_s:.0f} s (max_time)") from None
    for r in readers:
        r.join(timeout=5)
    if proc.returncode != 0:
        tail = " | ".join(ln.strip() for ln in err[-3:] if ln.strip())
        raise PerfTestError(f"{label} failed (exit {proc.returncode}): {tail[-300:]}")
    return "".join(out)


def run_plan(
    plan: PerfPlan,
    client_kwargs: Mapping[str, Any],
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> PerfResult:
    """Create the topic if needed, produce then consume; the measured result (``ok`` False
    with the error when a phase failed — the numbers measured before it are kept)."""
    at = now or datetime.now(UTC)
    result = PerfResult(
        plan.cluster, int(at.timestamp() * 1000), plan.topic, plan.records, plan.record_size,
        ok=False, detail={"tools": plan.tools},
    )  # fmt: skip
    tmp: str | None = None
    try:
        if ensure_topic(client_kwargs, plan.topic) and progress:
            progress(f"created topic {plan.topic}")
        path = plan.client_config
        if path is None:
            fd, tmp = tempfile.mkstemp(prefix="kafkaops-perf-", suffix=".properties")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp: mode 0600
                fh.write("".join(f"{k}={_escape(v)}\n" for k, v in plan.properties.items()))
                fh.write("enable.auto.commit=false\n")
            path = tmp
        limit = plan.max_time_ms / 1000
        started = time.monotonic()
        if progress:
            progress(f"producing {plan.records:,} records of {plan.record_size} B …")
        prod = parse_producer(
            _run([a.replace(CONFIG, path) for a in plan.producer], limit, progress, "produce")
        )
        result.detail["produce_s"] = round(time.monotonic() - started, 1)
        for k, v in prod.items():
            if hasattr(result, k):
                setattr(result, k, v)
        if progress:
            progress(f"consuming {plan.records:,} records …")
        started = time.monotonic()
        cons = parse_consumer(
            _run([a.replace(CONFIG, path) for a in plan.consumer], limit, progress, "consume")
        )
        result.detail["consume_s"] = round(time.monotonic() - started, 1)
        result.consume_records_per_s = cons["consume_records_per_s"]
        result.consume_mb_per_s = cons["consume_mb_per_s"]
        if cons["records_consumed"] < plan.records:
            raise PerfTestError(
                f"consumed {cons['records_consumed']:.0f} of {plan.records} records before "
                "the consumer's timeout"
            )
        result.ok = True
    except PerfTestError as exc:
        result.error = str(exc)
    except Exception as exc:  # kafka-python errors (topic creation): one line, kept
        result.error = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        _delete_group(client_kwargs, plan.group)
    return result


# ---------------------------------------------------------------------------- comparison
#: Metrics compared with earlier months, and which direction is worse.
COMPARED = {
    "produce_records_per_s": "lower",
    "consume_records_per_s": "lower",
    "latency_p99_ms": "higher",
}


def _month(ms: int) -> str:
    return f"{datetime.fromtimestamp(ms / 1000, UTC):%Y-%m}"


def monthly_trend(runs: list[PerfResult]) -> list[PerfResult]:
    """Each month's last good run, oldest first (the benchmark trend)."""
    by_month: dict[str, PerfResult] = {}
    for r in runs:
        if r.ok:
            by_month[_month(r.at_ms)] = r
    return [by_month[m] for m in sorted(by_month)]


def compare(
    result: PerfResult, earlier: list[PerfResult], regression_percent: float
) -> dict[str, Any]:
    """The baseline (median of up to 3 earlier months) and the regressions against it."""
    same = [
        r for r in earlier
        if r.record_size == result.record_size and _month(r.at_ms) < _month(result.at_ms)
    ]  # fmt: skip
    months = monthly_trend(same)[-3:]
    baseline: dict[str, float] = {}
    regressions = []
    for metric, worse in COMPARED.items():
        values = [getattr(r, metric) for r in months if getattr(r, metric) is not None]
        now = getattr(result, metric)
        if not values or now is None:
            continue
        base = median(values)
        baseline[metric] = round(base, 2)
        change = 100 * (now - base) / base if base else 0.0
        if (worse == "lower" and change <= -regression_percent) or (
            worse == "higher" and change >= regression_percent
        ):
            regressions.append(
                {"metric": metric, "value": now, "baseline": round(base, 2),
                 "change_percent": round(change, 1)}
            )  # fmt: skip
    return {
        "baseline_months": [_month(r.at_ms) for r in months],
        "baseline": baseline,
        "regressions": regressions,
    }
