"""``kafkaops producers``, ``canary``, ``audit`` and ``jvm``: diagnosis beyond lag.

Exit codes (the one table in cli/common): 0 nothing found, 1 P2 findings, 2 P1 findings
(``canary``: a broker cannot take writes), 3 bad input / unreachable / no metrics source.

Why this module is long: four commands (producers, canary, audit, jvm) with
their ``--help`` examples and 80-column printers; the printers are what makes it long.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from kafkaops.cli.common import (
    EXIT_OK,
    EXIT_P1_P0,
    EXIT_P2,
    JsonFlag,
    emit_json,
    fail,
)
from kafkaops.core.errors import KafkaopsError

if TYPE_CHECKING:
    from kafkaops.diagnose.canary import CanaryReport
    from kafkaops.diagnose.producers import ProducerReport
    from kafkaops.pipeline.health import Target

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

Bootstrap = Annotated[str | None, typer.Option(help="Bootstrap servers, HOST:PORT[,…].")]
ConfigFile = Annotated[Path | None, typer.Option("--config", "-c", help="kafkaops YAML config.")]
ClusterName = Annotated[str | None, typer.Option(help="Cluster name from the config.")]
SandboxDir = Annotated[
    Path | None, typer.Option("--dir", help="Sandbox state folder (when no other target).")
]


def _target(bootstrap: str | None, config: Path | None, cluster: str | None, box: Path | None):
    from kafkaops.pipeline.health import resolve_target

    try:
        return resolve_target(
            bootstrap=bootstrap, config_path=config, cluster=cluster, sandbox_root=box
        )
    except KafkaopsError as exc:
        fail(str(exc))


def _exit_for(severity: str) -> int:
    return {"P0": EXIT_P1_P0, "P1": EXIT_P1_P0, "P2": EXIT_P2}.get(severity, EXIT_OK)


# ------------------------------------------------------------------------------ producers
def producers(
    bootstrap: Bootstrap = None,
    config: ConfigFile = None,
    cluster: ClusterName = None,
    window: Annotated[
        float, typer.Option(min=1, max=600, help="Seconds between the two scrapes (1-600).")
    ] = 10.0,
    top: Annotated[int, typer.Option(min=0, max=1000, help="Busiest topics to show.")] = 5,
    source: Annotated[
        str | None,
        typer.Option(
            help="prometheus (JMX exporters) or cloudwatch (MSK AWS/Kafka, PER_BROKER level). "
            "Default: prometheus when configured, else cloudwatch."
        ),
    ] = None,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Producer performance per broker and topic, with the cause and the advice it calls for.

    Prometheus source: reads each broker's JMX exporter twice, WINDOW seconds apart (MSK Open
    Monitoring port 11001, or the sandbox's exporters): produce requests/s, failed ratio,
    bytes in, the produce request time split into queue / local (disk) / remote (followers) /
    throttle / response time, request-handler and network-processor idle, throttling, busiest
    topics.

    CloudWatch source (MSK without Open Monitoring; needs PER_BROKER monitoring, busiest topics
    PER_TOPIC_PER_BROKER): the latest minute of the same split (remote time derived), no
    request or error rates (MSK does not publish them).  WINDOW is not used.

    Examples:

      kafkaops producers                       # the sandbox, 10 s window

      kafkaops producers -c kafkaops.yaml --cluster prod --window 30 --json

      kafkaops producers -c kafkaops.yaml --cluster msk-prod --source cloudwatch

    Exit: 0 nothing found, 1 P2, 2 P1 (produce failing), 3 no metrics source / error.
    """
    target = _target(bootstrap, config, cluster, sandbox_dir)
    chosen = _producer_source(target, source)
    if chosen == "cloudwatch":
        report = _producers_cloudwatch(target)
    else:
        from kafkaops.diagnose.producers import measure

        endpoints = _jmx_endpoints(target)
        report = measure(
            target.name,
            endpoints,
            window_s=window,
            timeout_s=_scrape_timeout(target),
            settings=target.config.diagnose.producers,
            progress=None if as_json else (lambda m: err.print(m, markup=False)),
        )
    if as_json:
        d = report.to_dict()
        d["topics"] = d["topics"][:top] if top else d["topics"]
        emit_json(d)
    else:
        _print_producers(report, top)
    raise typer.Exit(_exit_for(report.severity))


def _producer_source(target: Target, source: str | None) -> str:
    """The source asked for, or the configured one (Prometheus first: it has more)."""
    metrics = target.metrics
    if source is None:
        if metrics.prometheus is None and metrics.cloudwatch is not None:
            return "cloudwatch"
        return "prometheus"
    if source not in ("prometheus", "cloudwatch"):
        fail(f"--source: {source!r} is not prometheus or cloudwatch")
    if source == "cloudwatch" and metrics.cloudwatch is None:
        fail(
            f"cluster {target.name}: --source cloudwatch needs clusters.NAME.metrics.cloudwatch "
            "(cluster_name: the MSK cluster name)"
        )
    return source


def _producers_cloudwatch(target: Target) -> ProducerReport:
    """Broker ids and topic names from the cluster (else MSK list_nodes), then CloudWatch."""
    from dataclasses import replace

    from kafkaops.collect import msk
    from kafkaops.collect.cloudwatch import CloudWatchSource
    from kafkaops.collect.snapshot import collect_snapshot
    from kafkaops.diagnose.producers_cloudwatch import measure

    settings = target.metrics.cloudwatch
    assert settings is not None
    try:
        cw = CloudWatchSource(settings, region=target.aws_region)
    except KafkaopsError as exc:
        fail(str(exc))
    try:
        brokers: list[int] = []
        topics: list[str] = []
        try:
            snap = collect_snapshot(
                target.name,
                target.client_kwargs,
                replace(target.options, time_lag_method="none", include_log_dirs=False),
            )
            brokers = sorted(b.node_id for b in snap.brokers)
            topics = [t.name for t in snap.user_topics]
        except KafkaopsError as exc:
            if not settings.cluster_arn:
                fail(f"{exc} (and no metrics.cloudwatch.cluster_arn to list the brokers)")
            try:
                brokers = [
                    b.broker_id for b in msk.list_brokers(cw.kafka_client, settings.cluster_arn)
                ]
            except Exception as aws_exc:  # boto3 raises many types: one line
                fail(f"MSK list_nodes {settings.cluster_arn}: {aws_exc}")
        return measure(target.name, cw, brokers, topics, target.config.diagnose.producers)
    finally:
        cw.close()


def _scrape_timeout(target: Target) -> float:
    """The configured scrape timeout, at least 5 s: a one-shot diagnosis on a loaded broker
    should wait for its exporter rather than report nothing."""
    prom = target.metrics.prometheus
    return max(5.0, prom.timeout / 1000) if prom else 5.0


def _jmx_endpoints(
    target: Target, *, controllers_too: bool = False, command: str = "producers"
) -> dict[int, str]:
    """Each broker's JMX exporter URL (controllers left out unless asked for: they take no
    produce, but their JVM matters)."""
    prom = target.metrics.prometheus
    if prom is None:
        also = ", or metrics.cloudwatch and --source cloudwatch" if command == "producers" else ""
        fail(
            f"cluster {target.name}: {command} needs the Prometheus JMX exporter: set "
            "clusters.NAME.metrics.prometheus (jmx_port: 11001 on MSK Open Monitoring)" + also
        )
    if prom.server:
        fail(
            f"cluster {target.name}: metrics.prometheus.server is set; {command} scrapes the "
            "exporters directly: set metrics.prometheus.jmx_port or jmx_endpoints"
            + (", or use --source cloudwatch" if command == "producers" else "")
        )
    from kafkaops.collect.prometheus import resolve_targets

    snapshot = None
    if prom.jmx_port or "*" in prom.jmx_endpoints:
        from dataclasses import replace

        from kafkaops.collect.snapshot import collect_snapshot

        try:
            snapshot = collect_snapshot(
                target.name, target.client_kwargs, replace(target.options, time_lag_method="none")
            )
        except KafkaopsError as exc:
            fail(str(exc))
    controllers = (
        set(snapshot.quorum_voters) - {b.node_id for b in snapshot.brokers} if (snapshot) else set()
    )
    urls = {t.node_id: t.jmx_url for t in resolve_targets(prom, snapshot) if t.jmx_url}
    if not controllers_too:
        urls = {n: u for n, u in urls.items() if n not in controllers}
    if not urls:
        fail(f"cluster {target.name}: no JMX exporter endpoint resolved from metrics.prometheus")
    return urls if controllers_too else _brokers_only(urls, target)


def _brokers_only(urls: dict[int, str], target: Target) -> dict[int, str]:
    """Drop KRaft controllers the sandbox also exposes (its controller ids are ≥ 100)."""
    try:
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(
            **{
                "request_timeout_ms": 10_000,
                "client_id": "kafkaops-producers",
                **target.client_kwargs,
            }
        )
        try:
            brokers = {b["broker_id"] for b in admin.describe_cluster()["brokers"]}
        finally:
            admin.close()
    except Exception:  # metadata unavailable: keep every endpoint, the report says per node
        return urls
    return {n: u for n, u in urls.items() if n in brokers} or urls


def _f(value: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def _wrap(text: str, first: str) -> str:
    return textwrap.fill(text, 80, initial_indent=first, subsequent_indent=" " * 6)


def _print_producers(report: ProducerReport, top: int) -> None:
    from kafkaops.core.units import format_bytes

    window = f"window {report.window_s:g} s"
    if report.source == "cloudwatch":
        window = f"CloudWatch, latest {report.window_s:g} s period"
    out.print(f"Producers on {report.cluster} ({window})", markup=False)
    out.print(
        f"{'broker':>6} {'req/s':>7} {'fail%':>5} {'in/s':>9} {'mean':>6} {'queue':>6} "
        f"{'local':>6} {'remote':>6} {'p99':>5} {'h.idle':>6} {'n.idle':>6}",
        markup=False,
    )
    for b in report.brokers:
        if b.error:
            out.print(f"{b.node_id:>6} error: {b.error}"[:80], markup=False)
            continue
        m = b.mean_ms
        ratio = b.failed_ratio
        out.print(
            f"{b.node_id:>6} {_f(b.produce_requests_per_s):>7} "
            f"{_f(None if ratio is None else 100 * ratio):>5} "
            f"{(format_bytes(b.bytes_in_per_s) if b.bytes_in_per_s is not None else '-'):>9} "
            f"{_f(m.get('TotalTimeMs')):>6} {_f(m.get('RequestQueueTimeMs')):>6} "
            f"{_f(m.get('LocalTimeMs')):>6} {_f(m.get('RemoteTimeMs')):>6} "
            f"{_f(b.total_ms_quantiles.get('0.99'), '{:.0f}'):>5} "
            f"{_f(b.request_handler_idle_percent, '{:.0f}%'):>6} "
            f"{_f(b.network_processor_idle_percent, '{:.0f}%'):>6}",
            markup=False,
        )
    if report.source == "cloudwatch":
        out.print("  times: mean ms over the period; no p99 in CloudWatch", markup=False)
    else:
        out.print("  times: window mean ms; p99 from the broker's ~5 min reservoir", markup=False)
    if top and report.topics:
        out.print(f"\nBusiest topics (top {top} by bytes in)", markup=False)
        for t in report.topics[:top]:
            out.print(
                f"  {t.topic[:40]:<40} {format_bytes(t.bytes_in_per_s):>9}/s "
                f"{t.messages_in_per_s:>8.1f} msg/s",
                markup=False,
            )
    if not report.causes:
        out.print("\nNo producer-side problem measured.", markup=False)
    for c in report.causes:
        side = "client" if c.client_side else "broker/cluster"
        out.print(f"\n[{c.severity}] {c.subject}: {c.title} ({side})", markup=False)
        for e in c.evidence:
            out.print(_wrap(e, "    measured: "), markup=False)
        for a in c.advice:
            out.print(_wrap(a, "    → "), markup=False)
    for e in report.errors:
        err.print(f"warning: {e}", markup=False)


# --------------------------------------------------------------------------------- canary
def canary(
    bootstrap: Bootstrap = None,
    config: ConfigFile = None,
    cluster: ClusterName = None,
    rounds: Annotated[int, typer.Option(min=1, max=10_000, help="Rounds to run.")] = 1,
    interval: Annotated[float, typer.Option(min=0, max=3600, help="Seconds between rounds.")] = 5.0,
    timeout: Annotated[
        str | None, typer.Option(help="Per-round produce/delivery timeout, e.g. 5s.")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="Canary topic (default: config).")] = None,
    create: Annotated[
        bool,
        typer.Option(
            "--create",
            help="Create the canary topic when missing (one partition per broker, RF "
            "min(3, brokers)). Without it a missing topic is an error (nothing is changed).",
        ),
    ] = False,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """End-to-end canary: can every broker take a write (acks=all) and deliver it?

    Writes one record to each canary partition (one per broker, each led by its broker), with
    acks=all and with acks=1 at the same time, and reads them back: produce and end-to-end
    latency per broker.  acks=1 failing means the leader cannot take writes (P1); only acks=all
    failing means a follower stalls replication (P1, the suspect follower named).  Catches a
    broker that is listed in metadata but cannot write (hung disk, stuck handler, paused).

    Examples:

      kafkaops canary --create                # first time: create __kafkaops_canary

      kafkaops canary --rounds 6 --interval 10 --json

      kafkaops canary -c kafkaops.yaml --cluster prod --timeout 3s

    In the watch loop: diagnose.canary.enabled: true in the config.

    Exit: 0 every broker writes, 1 slow (P2), 2 a broker cannot take writes (P1), 3 error.
    """
    from pydantic import ValidationError

    from kafkaops.diagnose.canary import Canary
    from kafkaops.diagnose.settings import CanarySettings

    target = _target(bootstrap, config, cluster, sandbox_dir)
    base = target.config.diagnose.canary
    try:
        updates: dict[str, object] = {}
        if timeout:
            updates["timeout"] = CanarySettings.model_validate({"timeout": timeout}).timeout
        if topic:
            updates["topic"] = CanarySettings.model_validate({"topic": topic}).topic
        settings = base.model_copy(update=updates)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        fail(f"--{where}: {first['msg']} (value {first.get('input')!r})")
    reports = []
    worst = "OK"
    try:
        with Canary(target.name, target.client_kwargs, settings, create=create) as probe:
            for i in range(rounds):
                if i:
                    time.sleep(interval)
                report = probe.run()
                reports.append(report)
                if report.severity.rank < {"P0": 0, "P1": 1, "P2": 2, "OK": 3}[worst]:
                    worst = report.severity.value
                if not as_json:
                    _print_canary(report, i + 1, rounds)
    except KafkaopsError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if as_json:
        emit_json(reports[0].to_dict() if rounds == 1 else [r.to_dict() for r in reports])
    raise typer.Exit(_exit_for(worst))


def _print_canary(report: CanaryReport, i: int, n: int) -> None:
    head = f"Canary on {report.cluster} ({report.topic})"
    if n > 1:
        head += f", round {i}/{n}"
    if report.created:
        head += " — topic created"
    out.print(head, markup=False)
    out.print(f"{'broker':>6} {'parts':<8} {'produce':>9} {'end-to-end':>11}  state", markup=False)
    for b in report.brokers:
        parts = ",".join(map(str, b.partitions)) or "-"
        line = (
            f"{b.node_id:>6} {parts:<8} {_f(b.produce_ms, '{:.0f} ms'):>9} "
            f"{_f(b.end_to_end_ms, '{:.0f} ms'):>11}  {b.state}"
        )
        out.print(line[:80], markup=False)
        if b.error and b.state != "ok":
            out.print(f"{'':>8}{b.error}"[:80], markup=False)
    for f in report.findings:
        out.print(f"[{f.severity.value}] {f.title}"[:80], markup=False)
    for note in report.notes:
        out.print(f"note: {note}"[:80], markup=False)


# ---------------------------------------------------------------------------------- audit
def audit(
    bootstrap: Bootstrap = None,
    config: ConfigFile = None,
    cluster: ClusterName = None,
    window: Annotated[
        float,
        typer.Option(
            min=0,
            max=600,
            help="Seconds of traffic to measure for the disk/compression rules (0: skip them).",
        ),
    ] = 5.0,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Configuration audit (the runbook's weekly "config audit" + the admin part of its
    security scan): broker and topic configs from DescribeConfigs, RF from metadata, ACLs,
    and the ingest rate measured over WINDOW seconds.

    Finds: replication factor < 3, min.insync.replicas >= RF or < 2, unclean leader election
    on, auto.create.topics.enable on, segment.ms >= retention.ms when set on a topic (the
    runbook's optimizer does that: data then lives up to twice the retention), tiny segments,
    retention that will not fit a broker's disk at the current ingest rate, compression off on
    heavy topics, partition replicas per broker above MSK's limit for
    capacity.msk.instance_type, client listeners without TLS or authentication, an authorizer
    with no ACLs.  Each
    finding with its fix as a command.  Read-only.

    Examples:

      kafkaops audit

      kafkaops audit -c kafkaops.yaml --cluster prod --json | jq '.findings[].fix'

      kafkaops audit --window 0                # configs only, no traffic measurement

    Runs weekly as the job "config-audit" (kafkaops jobs).

    Exit: 0 clean, 1 P2 findings, 2 P1 findings, 3 error.
    """
    from kafkaops.diagnose.audit import report_dict

    target = _target(bootstrap, config, cluster, sandbox_dir)
    findings = run_audit(
        target, window, progress=None if as_json else (lambda m: err.print(m, markup=False))
    )
    report = report_dict(findings)
    if as_json:
        emit_json({"cluster": target.name, **report})
    else:
        out.print(f"Config audit of {target.name}: {len(findings)} finding(s)", markup=False)
        for f in findings:
            out.print(_wrap(f"{f.title}", f"[{f.severity}] {f.subject}: "), markup=False)
            out.print(_wrap(f.evidence, "    evidence: "), markup=False)
            out.print(_wrap(f.fix, "    fix: "), markup=False)
    raise typer.Exit(_exit_for(report["severity"]))


def run_audit(target: Target, window: float, progress=None):  # type: ignore[no-untyped-def]
    """The audit of one target; one-line exit on a Kafka error."""
    from kafkaops.pipeline.audit import audit_target

    try:
        return audit_target(target, window, progress)
    except KafkaopsError as exc:
        fail(str(exc))


# ------------------------------------------------------------------------------------ jvm
def jvm(
    bootstrap: Bootstrap = None,
    config: ConfigFile = None,
    cluster: ClusterName = None,
    window: Annotated[
        float, typer.Option(min=1, max=600, help="Seconds between the two scrapes (1-600).")
    ] = 10.0,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Broker JVMs against the runbook's tuning guide: heap, collector and GC load.

    Reads every node's JMX exporter twice, WINDOW seconds apart: -Xmx / -Xms, the collector
    in use (runbook: G1), share of time in GC, mean pause, old generation occupancy after GC
    (MSK's HeapMemoryAfterGC).  Flags the exporter cannot show (MaxGCPauseMillis, IHOP) and OS
    settings are named, not guessed.  On MSK the JVM and OS are AWS's: only the load findings
    are reported, with "scale the instance type" as the fix.

    Examples:

      kafkaops jvm                             # the sandbox

      kafkaops jvm -c kafkaops.yaml --cluster prod --window 60 --json

    Exit: 0 nothing found, 1 P2, 2 P1 (old generation full after GC), 3 no metrics source.
    """
    from kafkaops.diagnose.jvm import analyse
    from kafkaops.diagnose.producers import scrape_twice

    target = _target(bootstrap, config, cluster, sandbox_dir)
    endpoints = _jmx_endpoints(target, controllers_too=True, command="jvm")
    pairs, errors = scrape_twice(
        endpoints,
        window_s=window,
        timeout_s=_scrape_timeout(target),
        progress=None if as_json else (lambda m: err.print(m, markup=False)),
        what="GC activity",
    )
    report = analyse(target.name, pairs, errors, _is_msk(target))
    if as_json:
        emit_json(report.to_dict())
    else:
        _print_jvm(report)
    raise typer.Exit(_exit_for(report.severity))


def _is_msk(target: Target) -> bool:
    from kafkaops.collect.msk import region_from_host

    hosts = [h.rsplit(":", 1)[0] for h in target.bootstrap.split(",")]
    return target.metrics.cloudwatch is not None or any(region_from_host(h) for h in hosts)


def _print_jvm(report: object) -> None:
    from kafkaops.core.units import format_bytes
    from kafkaops.diagnose.jvm import JvmReport

    assert isinstance(report, JvmReport)
    out.print(f"Broker JVMs on {report.cluster} (window {report.window_s:g} s)", markup=False)
    out.print(
        f"{'node':>5} {'gc':<10} {'-Xmx':>9} {'-Xms':>9} {'used':>9} {'gc%':>5} "
        f"{'pause':>6} {'old':>4} {'afterGC':>7}",
        markup=False,
    )
    for n in report.nodes:
        if n.error:
            out.print(f"{n.node_id:>5} error: {n.error}"[:80], markup=False)
            continue

        def b(v: float | None) -> str:
            return "-" if v is None else format_bytes(v)

        out.print(
            f"{n.node_id:>5} {n.gc:<10} {b(n.heap_max_bytes):>9} {b(n.heap_init_bytes):>9} "
            f"{b(n.heap_used_bytes):>9} {_f(n.gc_time_percent):>5} "
            f"{_f(n.gc_mean_pause_ms, '{:.0f}ms'):>6} {_f(n.old_collections, '{:d}'):>4} "
            f"{_f(n.old_after_gc_percent, '{:.0f}%'):>7}",
            markup=False,
        )
    if not report.findings:
        out.print("\nNothing against the runbook's guide.", markup=False)
    for f in report.findings:
        out.print(_wrap(f.title, f"[{f.severity}] {f.subject}: "), markup=False)
        out.print(_wrap(f.evidence, "    measured: "), markup=False)
        out.print(_wrap(f.advice, "    → "), markup=False)
    for note in report.notes:
        out.print(_wrap(note, "note: "), markup=False)


def register(app: typer.Typer) -> None:
    """Add ``producers``, ``canary``, ``audit`` and ``jvm`` to the main CLI."""
    app.command("jvm")(jvm)
    app.command("producers")(producers)
    app.command("canary")(canary)
    app.command("audit")(audit)
