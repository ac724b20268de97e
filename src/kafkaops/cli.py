"""The ``kafkaops`` command line: a thin shell over the library.

Exit codes (stable, scripts rely on them):

* ``health``: 0 healthy, 1 P2 findings only, 2 a P1 or P0 finding, 3 cluster unreachable or bad
  input (config, arguments);
* every other command: 0 success, 3 bad input or a failed operation (one line on stderr).
"""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from kafkaops import __version__
from kafkaops.cli_options import (
    LoopBootstrapOption,
    LoopClustersOption,
    LoopConfigOption,
    LoopIntervalOption,
)
from kafkaops.errors import KafkaopsError
from kafkaops.model import Severity

EXIT_OK, EXIT_P2, EXIT_P1_P0, EXIT_ERROR = 0, 1, 2, 3

app = typer.Typer(
    help="Apache Kafka / Amazon MSK operations runbook, as software.\n\n"
    "Examples:\n\n"
    "  kafkaops sandbox up            # a real 3-broker KRaft cluster on 127.0.0.1\n\n"
    "  kafkaops health                # daily health check + P0/P1/P2 classification\n\n"
    "  kafkaops health --bootstrap b-1.example:9092 --json\n\n"
    "  kafkaops health --config kafkaops.yaml --cluster prod",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
sandbox_app = typer.Typer(
    help="A real local Apache Kafka cluster (KRaft, one JVM per node) for demos and tests.\n\n"
    "Examples:\n\n"
    "  kafkaops sandbox up --brokers 3\n\n"
    "  kafkaops sandbox status --json\n\n"
    "  kafkaops sandbox stop-broker 2 && kafkaops health; kafkaops sandbox start-broker 2\n\n"
    "  kafkaops sandbox down",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(sandbox_app, name="sandbox")
# Disaster recovery (issue 13): `kafkaops dr …` and `kafkaops sandbox mirror …`.
from kafkaops.cli_dr import dr_app, mirror_app  # noqa: E402

app.add_typer(dr_app, name="dr")
sandbox_app.add_typer(mirror_app, name="mirror")


def _register_subcommands(argv: list[str]) -> None:
    """Add the incident commands only when they can be asked for.

    They import SQLAlchemy and the incident engine (~0.2 s); ``kafkaops lag`` and ``health``
    are run from scripts and watch loops and should not pay for commands they do not use.
    """
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in (None, "serve"):
        from kafkaops.cli_serve import register

        register(app)
    if first not in (None, "incidents", "maintenance", "outbox"):
        return
    from kafkaops.cli_incidents import incidents_app, maintenance_app
    from kafkaops.cli_outbox import outbox_app

    app.add_typer(incidents_app, name="incidents")
    app.add_typer(maintenance_app, name="maintenance")
    app.add_typer(outbox_app, name="outbox")


out = Console()
err = Console(stderr=True)

SandboxDir = Annotated[
    Path | None,
    typer.Option(
        "--dir", help="Sandbox state folder (default .sandbox/default or $KAFKAOPS_SANDBOX_DIR)."
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
SandboxName = Annotated[
    str | None,
    typer.Option(
        "--name", help="A named sandbox beside the default one (e.g. 'dr' for a DR replica)."
    ),
]


class TimeLagChoice(enum.StrEnum):
    exact = "exact"
    estimated = "estimated"
    none = "none"


TimeLagMethodOption = Annotated[
    TimeLagChoice | None,
    typer.Option(
        "--time-lag-method",
        help="exact: timestamp of the first unconsumed record; estimated: interpolated from "
        "the history store; none: offset lag only. Default: the cluster's config (exact).",
    ),
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="History store URL (sqlite:///FILE or postgresql+psycopg://…); default: store.url "
        "from the config. Enables consumer status and estimated time lag.",
    ),
]


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """One line on stderr and a non-zero exit: never a traceback for a user error."""
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)


def emit_json(data: Any, *, compact: bool = False) -> None:
    """JSON on stdout; ``compact`` for large documents (snapshots of big clusters)."""
    if compact:
        text = json.dumps(data, separators=(",", ":"), default=str)
    else:
        text = json.dumps(data, indent=2, default=str)
    sys.stdout.write(text + "\n")


def version_callback(value: bool) -> None:
    if value:
        out.print(f"kafkaops {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True)
    ] = False,
) -> None:
    """Global options."""


# ----------------------------------------------------------------------------- health
@app.command()
def health(
    bootstrap: Annotated[
        str | None, typer.Option(help="Bootstrap servers, HOST:PORT[,HOST:PORT].")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="kafkaops YAML config file.")
    ] = None,
    cluster: Annotated[str | None, typer.Option(help="Cluster name from the config.")] = None,
    time_lag_method: TimeLagMethodOption = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """The runbook's daily health check and P0/P1/P2 incident classification.

    Target: --bootstrap, or --config FILE [--cluster NAME], or with neither the running sandbox.
    Exit codes: 0 healthy, 1 P2 only, 2 P1 or P0, 3 unreachable cluster or bad config.

    Examples:

      kafkaops health

      kafkaops health --bootstrap 127.0.0.1:19092 --json | jq .overall_healthy

      kafkaops health -c kafkaops.yaml --cluster prod

      kafkaops health --store sqlite:///history.db   # adds consumer status (STOP/STALL)
    """
    from kafkaops.health import check_health, resolve_target
    from kafkaops.report.health_view import health_to_dict, render_health

    try:
        target = resolve_target(
            bootstrap=bootstrap, config_path=config, cluster=cluster, sandbox_root=sandbox_dir
        ).with_overrides(
            time_lag_method=time_lag_method.value if time_lag_method else None, store_url=store
        )
        report = check_health(target)
    except KafkaopsError as exc:
        fail(str(exc))
    if not report.reachable and not as_json:
        # One clear line for people; --json still gets the P0 "cluster_offline" report.
        fail(report.findings[0].evidence[0] if report.findings else "cluster unreachable")
    if as_json:
        emit_json(health_to_dict(report))
    else:
        render_health(report, out)
    if not report.reachable:
        raise typer.Exit(EXIT_ERROR)
    if report.severity in (Severity.P0, Severity.P1):
        raise typer.Exit(EXIT_P1_P0)
    if report.severity == Severity.P2:
        raise typer.Exit(EXIT_P2)


@app.command()
def snapshot(
    bootstrap: Annotated[str | None, typer.Option(help="Bootstrap servers.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c")] = None,
    cluster: Annotated[str | None, typer.Option()] = None,
    time_lag: Annotated[
        bool, typer.Option("--time-lag/--no-time-lag", help="Read exact time lag.")
    ] = True,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Take one cluster snapshot (brokers, partitions, groups, offsets, lag, log dirs).

    Examples:

      kafkaops snapshot

      kafkaops snapshot --bootstrap 127.0.0.1:19092 --json > snapshot.json
    """
    from dataclasses import replace

    from kafkaops.health import resolve_target, take_snapshot
    from kafkaops.report.health_view import render_snapshot_summary

    try:
        target = resolve_target(
            bootstrap=bootstrap, config_path=config, cluster=cluster, sandbox_root=sandbox_dir
        )
        if not time_lag:
            target = replace(target, options=replace(target.options, time_lag_method="none"))
        snap = take_snapshot(target)
    except KafkaopsError as exc:
        fail(str(exc))
    if as_json:
        emit_json(snap.to_dict(), compact=True)
    else:
        render_snapshot_summary(snap, out)


@app.command()
def lag(
    group: Annotated[str | None, typer.Argument(help="Diagnose this group in detail.")] = None,
    bootstrap: Annotated[str | None, typer.Option(help="Bootstrap servers.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c")] = None,
    cluster: Annotated[str | None, typer.Option()] = None,
    top: Annotated[int | None, typer.Option(min=1, help="Show only the N worst groups.")] = None,
    group_regex: Annotated[str | None, typer.Option(help="Only groups matching.")] = None,
    topic_regex: Annotated[str | None, typer.Option(help="Only groups reading a match.")] = None,
    store: StoreOption = None,
    time_lag_method: TimeLagMethodOption = None,
    watch: Annotated[
        float | None, typer.Option(min=1, help="Sample every N seconds (needs a store).")
    ] = None,
    count: Annotated[int, typer.Option(min=1, max=10_000, help="Samples with --watch.")] = 10,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Consumer lag: every group by time lag then offset lag, or one group diagnosed.

    The runbook's diagnose-consumer-lag.sh: per-partition lag, members and their assignment,
    idle members, skew, and what to do (scale consumers up to the partition count; above
    10,000 lag with consumers = partitions, add 4 partitions).

    Examples:

      kafkaops lag --top 10

      kafkaops lag --group-regex '^payments-' --json

      kafkaops lag orders-service

      kafkaops lag --store sqlite:///history.db --watch 10 --count 30   # Burrow-style status

      kafkaops lag --store sqlite:///history.db --time-lag-method estimated
    """
    import re
    import time as _time

    from kafkaops.diagnose.lag import diagnose_group, rank_groups
    from kafkaops.health import open_history, resolve_target, take_snapshot
    from kafkaops.report.lag_view import diagnosis_to_dict, render_diagnosis, render_ranking

    for name, pattern in (("--group-regex", group_regex), ("--topic-regex", topic_regex)):
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                fail(f"{name} {pattern!r} is not a valid regular expression: {exc}")
    try:
        target = resolve_target(
            bootstrap=bootstrap, config_path=config, cluster=cluster, sandbox_root=sandbox_dir
        ).with_overrides(
            time_lag_method=time_lag_method.value if time_lag_method else None, store_url=store
        )
        if watch and not target.store_url:
            fail("--watch needs a history store: pass --store sqlite:///FILE or set store.url")
        history = open_history(target.store_url) if target.store_url else None
        statuses: dict[str, Any] = {}
        for i in range(count if watch else 1):
            if i:
                _time.sleep(watch or 0)
            snap = take_snapshot(target)
            if history is not None:
                from kafkaops.lagcheck import observe

                snap, statuses = observe(
                    history,
                    snap,
                    time_lag_method=target.time_lag_method,
                    window=target.config.lag.window,
                )
            if watch and not as_json:
                err.print(f"sample {i + 1}/{count} at {snap.taken_at_ms}", markup=False)
    except KafkaopsError as exc:
        fail(str(exc))
    if group is None:
        rows = rank_groups(snap, top=top, group_pattern=group_regex, topic_pattern=topic_regex)
        status_of = {gid: st.status.value for gid, st in statuses.items()}
        if as_json:
            import dataclasses

            emit_json(
                [{**dataclasses.asdict(r), "status": status_of.get(r.group_id)} for r in rows]
            )
        else:
            render_ranking(rows, out, status_of)
        return
    diagnosis = diagnose_group(snap, group)
    if diagnosis is None:
        fail(f"consumer group {group!r} not found on {snap.bootstrap}")
    group_st = statuses.get(group)
    if as_json:
        data = diagnosis_to_dict(diagnosis, snap)
        if group_st is not None:
            import dataclasses

            data["status"] = dataclasses.asdict(group_st)
        emit_json(data)
    else:
        render_diagnosis(diagnosis, snap, out)
        if group_st is not None:
            out.print(f"status: {group_st.status.value} (Burrow: {group_st.burrow_status.value})")
            for p in group_st.partitions:
                if p.status.value != "OK":
                    out.print(
                        f"  {p.topic}-{p.partition}: {p.status.value} — {p.reason}", markup=False
                    )


@app.command()
def watch(
    config: LoopConfigOption = None,
    cluster: LoopClustersOption = None,
    bootstrap: LoopBootstrapOption = None,
    store: StoreOption = None,
    interval: LoopIntervalOption = None,
    count: Annotated[
        int | None, typer.Option(min=1, help="Stop after N cycles (default: run until Ctrl-C).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON line per cycle on stdout.")
    ] = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Watch clusters: collect → evaluate → incidents → notify, every interval, in the foreground.

    Alerts become incidents (grouped per cluster), escalate per the runbook matrix when nobody
    acknowledges, and are delivered through the outbox to the channels in the config (PagerDuty,
    Slack, e-mail, SNS, webhook, Alertmanager) with retries; nothing is lost on a restart.  A
    cluster unreachable for watch.offline_after_cycles cycles in a row is a P0.  With two
    watchers on one PostgreSQL store, only the lease holder pages.

    Examples:

      kafkaops watch -c kafkaops.yaml

      kafkaops watch -c kafkaops.yaml --cluster prod --interval 30

      kafkaops watch --bootstrap 127.0.0.1:19092 --store sqlite:///kafkaops.db --count 6 --json
    """
    import dataclasses

    from kafkaops.runtime import open_watch
    from kafkaops.watch import CycleOutcome

    try:
        runtime, watcher = open_watch(
            config,
            clusters=cluster,
            bootstrap=bootstrap,
            store=store,
            sandbox_dir=sandbox_dir,
            interval_s=interval,
        )
    except KafkaopsError as exc:
        fail(str(exc))
    targets = watcher.targets
    targets_text = ", ".join(
        f"{t.name} ({t.client_kwargs.get('bootstrap_servers')})" for t in targets
    )
    err.print(
        f"watching {targets_text} every {watcher.interval_s:g}s; store "
        f"{runtime.store_url.split('@')[-1]}; Ctrl-C to stop",
        markup=False,
        soft_wrap=True,
    )

    def show(outcome: CycleOutcome) -> None:
        if as_json:
            emit_json(dataclasses.asdict(outcome), compact=True)
            return
        for c in outcome.clusters:
            state = "unreachable" if not c.reachable else c.severity.value
            err.print(
                f"{outcome.at:%Y-%m-%dT%H:%M:%SZ} {c.cluster}: {state}, {c.triggered} triggered, "
                f"{c.notifications} notifications, {c.actions} incident actions"
                + (f" ({c.error})" if c.error else "")
                + ("" if outcome.leader else " [standby: another watcher holds the lease]"),
                markup=False,
                soft_wrap=True,
            )
        if outcome.delivered or outcome.failed or outcome.retried:
            err.print(
                f"  notifications delivered {outcome.delivered}, retrying {outcome.retried}, "
                f"failed {outcome.failed}",
                markup=False,
            )
        for key, reason in sorted(outcome.errors.items()):
            err.print(f"  {key}: {reason}", markup=False, soft_wrap=True)

    try:
        watcher.run(count=count, on_cycle=show)
    except KeyboardInterrupt:
        err.print("stopping", markup=False)
    finally:
        watcher.close()
        runtime.close()


@app.command("config-check")
def config_check(
    path: Annotated[Path, typer.Argument(help="YAML config file to validate.")],
) -> None:
    """Validate a config file; prints the first problem with file, field and value.

    Example:

      kafkaops config-check kafkaops.yaml
    """
    from kafkaops.config import load_config

    try:
        cfg = load_config(path)
    except KafkaopsError as exc:
        fail(str(exc))
    out.print(f"{path}: OK ({len(cfg.clusters)} cluster(s))", markup=False)


# ---------------------------------------------------------------------------- sandbox
def _sandbox(root: Path | None, name: str | None = None) -> Any:
    from kafkaops.sandbox.cluster import Sandbox, named_root

    if root is None and name:
        try:
            root = named_root(name)
        except KafkaopsError as exc:
            fail(str(exc))
    return Sandbox(root)


@sandbox_app.command("up")
def sandbox_up(
    brokers: Annotated[int, typer.Option(min=1, max=9, help="Broker JVMs.")] = 3,
    controllers: Annotated[int, typer.Option(min=1, max=3, help="KRaft controller JVMs.")] = 1,
    kafka_version: Annotated[
        str | None, typer.Option(help="Apache Kafka version (default 4.1.1; e.g. 3.9.2).")
    ] = None,
    base_port: Annotated[int | None, typer.Option(help="First broker port.")] = None,
    heap_mb: Annotated[int, typer.Option(help="Broker heap (MiB).")] = 512,
    sasl_scram: Annotated[
        bool, typer.Option(help="Also open a SASL_PLAINTEXT/SCRAM-SHA-512 listener (port+50).")
    ] = False,
    jmx_exporter: Annotated[
        bool,
        typer.Option(
            help="Run the Prometheus JMX exporter agent in every node, like MSK Open "
            "Monitoring (metrics at http://127.0.0.1:<port>/metrics, see 'sandbox status')."
        ),
    ] = True,
    node_exporter: Annotated[
        bool,
        typer.Option(
            help="Run a Prometheus node exporter for host CPU, memory and disk, like MSK Open "
            "Monitoring's port 11002 (one for all nodes: they share this host)."
        ),
    ] = True,
    sandbox_dir: SandboxDir = None,
    name: SandboxName = None,
) -> None:
    """Start (or resume) the sandbox cluster and print its bootstrap servers.

    Examples:

      kafkaops sandbox up

      kafkaops sandbox up --brokers 4 --kafka-version 3.9.2

      kafkaops sandbox up --name dr --brokers 1     # a second cluster: a DR replica
    """
    from kafkaops.sandbox.jars import DEFAULT_KAFKA_VERSION

    box = _sandbox(sandbox_dir, name)
    try:
        with err.status("starting the sandbox …"):
            bootstrap = box.up(
                brokers=brokers,
                controllers=controllers,
                version=kafka_version or DEFAULT_KAFKA_VERSION,
                base_port=base_port,
                heap_mb=heap_mb,
                sasl_scram=sasl_scram,
                jmx_exporter=jmx_exporter,
                node_exporter=node_exporter,
                progress=lambda m: err.print(m, markup=False, highlight=False),
            )
    except KafkaopsError as exc:
        fail(str(exc))
    if kafka_version and kafka_version != box.version:
        err.print(
            f"note: the sandbox already runs Kafka {box.version}; "
            "'kafkaops sandbox down' first to change version",
            markup=False,
        )
    out.print(bootstrap, markup=False, highlight=False)


@sandbox_app.command("down")
def sandbox_down(
    keep_data: Annotated[bool, typer.Option(help="Keep logs and data on disk.")] = False,
    sandbox_dir: SandboxDir = None,
    name: SandboxName = None,
) -> None:
    """Stop every sandbox JVM (and delete its data unless --keep-data).

    Example:

      kafkaops sandbox down
    """
    stopped = _sandbox(sandbox_dir, name).down(keep_data=keep_data)
    err.print(f"stopped {stopped} process(es)", markup=False)


@sandbox_app.command("status")
def sandbox_status(
    as_json: JsonFlag = False, sandbox_dir: SandboxDir = None, name: SandboxName = None
) -> None:
    """Bootstrap servers and each node's id, role, port, pid and whether it is up.

    Examples:

      kafkaops sandbox status

      kafkaops sandbox status --json | jq '.nodes[] | select(.up == false)'
    """
    from rich.table import Table

    box = _sandbox(sandbox_dir, name)
    try:
        data = box.status_dict()
    except KafkaopsError as exc:
        fail(str(exc))
    if as_json:
        emit_json(data)
        return
    if not box.exists:
        out.print(f"no sandbox at {box.root} (start one with 'kafkaops sandbox up')")
        return
    out.print(f"bootstrap: {data['bootstrap']}   Kafka {data['version']}", markup=False)
    if data.get("sasl_bootstrap"):
        out.print(f"SASL/SCRAM-SHA-512 bootstrap: {data['sasl_bootstrap']}", markup=False)
    if data.get("node_exporter"):
        state = "up" if data.get("node_exporter_up") else "DOWN"
        out.print(f"node exporter: {data['node_exporter']} ({state})", markup=False)
    table = Table("id", "role", "port", "pid", "rack", "metrics", "state")
    for n in data["nodes"]:
        state = "[green]up[/green]" if n["up"] else "[red]down[/red]"
        metrics = n.get("metrics_port")
        table.add_row(
            str(n["node_id"]),
            n["role"],
            str(n["port"]),
            str(n["pid"] or "-"),
            n["rack"] or "-",
            f"127.0.0.1:{metrics}/metrics" if metrics else "-",
            state,
        )
    out.print(table)


def _node_command(
    action: str, node_id: int, sandbox_dir: Path | None, name: str | None = None
) -> None:
    box = _sandbox(sandbox_dir, name)
    try:
        if action == "stop":
            box.stop_node(node_id)
        elif action == "kill":
            box.kill_node(node_id)
        else:
            with err.status(f"starting node {node_id} …"):
                box.start_node(node_id)
    except KafkaopsError as exc:
        fail(str(exc))
    err.print(f"node {node_id}: {action} done", markup=False)


@sandbox_app.command("stop-broker")
def stop_broker(
    node_id: Annotated[int, typer.Argument(help="Node id (brokers 1..N, controllers 100+).")],
    sandbox_dir: SandboxDir = None,
    name: SandboxName = None,
) -> None:
    """Stop a broker gracefully (SIGTERM, controlled shutdown).

    Example:

      kafkaops sandbox stop-broker 2
    """
    _node_command("stop", node_id, sandbox_dir, name)


@sandbox_app.command("start-broker")
def start_broker(
    node_id: Annotated[int, typer.Argument(help="Node id.")],
    sandbox_dir: SandboxDir = None,
    name: SandboxName = None,
) -> None:
    """Start a stopped broker and wait until it has rejoined the cluster.

    Example:

      kafkaops sandbox start-broker 2
    """
    _node_command("start", node_id, sandbox_dir, name)


@sandbox_app.command("kill-broker")
def kill_broker(
    node_id: Annotated[int, typer.Argument(help="Node id.")],
    sandbox_dir: SandboxDir = None,
    name: SandboxName = None,
) -> None:
    """SIGKILL a broker: no controlled shutdown, like a crashed host.

    Example:

      kafkaops sandbox kill-broker 3
    """
    _node_command("kill", node_id, sandbox_dir, name)


@sandbox_app.command(
    "kafka-tool", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def kafka_tool(
    ctx: typer.Context,
    tool: Annotated[str, typer.Argument(help="kafka-topics, kafka-consumer-groups, …")],
    sandbox_dir: SandboxDir = None,
) -> None:
    """Run one of Kafka's own CLI tools from the sandbox's jars (the reference implementation).

    Examples:

      kafkaops sandbox kafka-tool kafka-topics --bootstrap-server 127.0.0.1:19092 --list

      kafkaops sandbox kafka-tool kafka-consumer-groups --bootstrap-server 127.0.0.1:19092 \\
          --describe --all-groups
    """
    import subprocess

    from kafkaops.sandbox.tools import tool_command

    box = _sandbox(sandbox_dir)
    try:
        cmd = tool_command(box, tool, list(ctx.args))
    except KafkaopsError as exc:
        fail(str(exc))
    raise typer.Exit(subprocess.call(cmd))


@sandbox_app.command("workload")
def workload(
    duration: Annotated[float, typer.Option(help="Seconds to run (bounded).")] = 30.0,
    rate: Annotated[int, typer.Option(help="Records per second produced.")] = 200,
    prefix: Annotated[str, typer.Option(help="Prefix for topic and group names.")] = "demo",
    sandbox_dir: SandboxDir = None,
) -> None:
    """A realistic, bounded workload: topics, a producer, a healthy, a lagging and a stopped group.

    Example:

      kafkaops sandbox workload --duration 60 --rate 200
    """
    from kafkaops.sandbox.workload import Workload

    box = _sandbox(sandbox_dir)
    try:
        wl = Workload(box.bootstrap(), prefix=prefix, rate=rate)
        wl.setup()
        wl.run(duration, progress=lambda m: err.print(m, markup=False))
    except KafkaopsError as exc:
        fail(str(exc))


_register_subcommands(sys.argv[1:])


def main() -> None:
    """Entry point: user errors are one line and exit 3; Ctrl-C exits 130 quietly.

    Usage errors (unknown option, bad choice) would exit 2 by default, which scripts would
    read as ``health``'s "P1 or P0": they exit 3 like every other bad input.
    """
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        sys.exit(EXIT_ERROR)
    except typer.TyperException as exc:  # usage errors: unknown option, bad value
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare ``kafkaops``: just the help
            sys.stdout.write(f"{message}\n")
            sys.exit(EXIT_OK)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        sys.stderr.write(f"error: {' '.join(str(message).split())}{hint}\n")
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
