"""``kafkaops sandbox …``: a real local Apache Kafka cluster for demos and tests.

A command group of its own module because it is a different audience (people trying kafkaops,
the test suite) from the operations commands in :mod:`kafkaops.cli.main`, which registers it.
Everything under :mod:`kafkaops.sandbox` is imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kafkaops.cli.common import JsonFlag, SandboxDir, emit_json, fail, lazy_console
from kafkaops.core.errors import KafkaopsError

out = lazy_console()
err = lazy_console(stderr=True)

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


SandboxName = Annotated[
    str | None,
    typer.Option(
        "--name", help="A named sandbox beside the default one (e.g. 'dr' for a DR replica)."
    ),
]


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
    base_port: Annotated[
        int | None, typer.Option(min=1024, max=65_000, help="First broker port.")
    ] = None,
    heap_mb: Annotated[int, typer.Option(min=128, max=65_536, help="Broker heap (MiB).")] = 512,
    jvm: Annotated[
        str,
        typer.Option(
            help="Broker JVM profile: 'light' (serial GC, C1 JIT: cheap on a laptop or CI) or "
            "'server' (G1 and the full JIT, as kafka-server-start.sh; for big benchmarks)."
        ),
    ] = "light",
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

      kafkaops sandbox up --jvm server --heap-mb 2048   # brokers as in production
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
                jvm=jvm,
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
    node_id: Annotated[
        int, typer.Argument(min=0, max=10_000, help="Node id (brokers 1..N, controllers 100+).")
    ],
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
    node_id: Annotated[int, typer.Argument(min=0, max=10_000, help="Node id.")],
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
    node_id: Annotated[int, typer.Argument(min=0, max=10_000, help="Node id.")],
    sandbox_dir: SandboxDir = None,
    name: SandboxName = None,
) -> None:
    """SIGKILL a broker: no controlled shutdown, like a crashed host.

    Example:

      kafkaops sandbox kill-broker 3
    """
    _node_command("kill", node_id, sandbox_dir, name)


@sandbox_app.command("add-broker")
def add_broker(
    rack: Annotated[
        str | None, typer.Option(help="broker.rack (default: next of az1-az3).")
    ] = None,
    sandbox_dir: SandboxDir = None,
    name: SandboxName = None,
) -> None:
    """Start one more broker (next id); it joins empty, like a broker added to MSK.

    Example:

      kafkaops sandbox add-broker && kafkaops balance plan --add 4 -o plan.json
    """
    box = _sandbox(sandbox_dir, name)
    try:
        with err.status("adding a broker …"):
            nid = box.add_broker(rack=rack)
    except KafkaopsError as exc:
        fail(str(exc))
    err.print(f"broker {nid} added", markup=False)
    out.print(str(nid), markup=False)


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
    duration: Annotated[
        float, typer.Option(min=1, max=86_400, help="Seconds to run, 1-86400.")
    ] = 30.0,
    rate: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="Records per second produced.")
    ] = 200,
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
