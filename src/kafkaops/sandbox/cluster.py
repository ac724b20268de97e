"""A real Apache Kafka cluster on 127.0.0.1: one JVM per KRaft node.

The sandbox exists so that the demo and the tests face a real cluster: stopping a broker JVM
produces real under-replicated partitions, stopping the controller leaves the quorum without a
leader, and so on.  Layout: ``controllers`` dedicated KRaft controller nodes (ids 100, 101, …)
and ``brokers`` broker nodes (ids 1..N).  Dedicated controllers (as MSK runs them) mean a test can
stop every broker holding a partition and still get metadata that says "offline", or stop the
controller and see "no active controller".

State lives in ``<root>/sandbox.json`` so that separate CLI invocations (``up``, ``stop-broker``,
``status``, ``down``) agree on what is running.  Processes are started in their own session so
they outlive the CLI that started them; ``down`` finds them by pid *and* by their config path,
so nothing is left behind even if the state file was lost.

Why this module is long: it is the lifecycle of one local cluster (format, start, stop, kill, add a
broker, status) and every step shares the same on-disk state file; split, each piece would need
the others' private layout.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from kafkaops.collect.settings import ANY_NODE, PrometheusSettings
from kafkaops.core.errors import SandboxError
from kafkaops.sandbox import jars
from kafkaops.sandbox.node_exporter import NODE_EXPORTER_PORT_OFFSET, NodeExporter
from kafkaops.sandbox.node_exporter import binary as node_exporter_binary

DEFAULT_BASE_PORT = 19092
CONTROLLER_ID_BASE = 100
#: Offset of each broker's SASL/SCRAM listener from its PLAINTEXT port (when enabled).
SASL_PORT_OFFSET = 50
#: Offset of each node's Prometheus JMX exporter port (MSK Open Monitoring's 11001) from the
#: base port: brokers at base+150+i, controllers at base+180+i.
METRICS_PORT_OFFSET = 150
CONTROLLER_METRICS_OFFSET = 180
#: The sandbox's SCRAM user: a local test credential, not a secret (loopback-only cluster).
SANDBOX_SCRAM_USER = "kafkaops"
SANDBOX_SCRAM_PASSWORD = "kafkaops-sandbox-password"
RACKS = ("az1", "az2", "az3")

#: JVM options for sandbox nodes.  C1-only JIT and the serial collector keep CPU use low on a
#: 2-core machine where several JVMs start at once; heap is modest but room enough for
#: thousands of partitions.
NODE_JVM_OPTS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xss512k",
    "-Djava.awt.headless=true",
    "-Dcom.sun.management.jmxremote=false",
)
#: ``jvm="server"``: what Kafka's own ``kafka-server-start.sh`` runs a broker with (G1, 20-ms
#: pause target, the full JIT).  For benchmarks at production sizes: at 20,000 partitions the
#: light profile's serial collector paused each broker for ~1.6 s every ~20 s (a 1 GiB heap
#: 50-90 % full), and those pauses, not kafkaops, were the slow watch cycles (bench/README.md).
SERVER_JVM_OPTS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Xss512k",
    "-Djava.awt.headless=true",
    "-Dcom.sun.management.jmxremote=false",
)
#: The JVM profiles a sandbox's nodes can run with (``Sandbox.up(jvm=...)``).
JVM_PROFILES = {"light": NODE_JVM_OPTS, "server": SERVER_JVM_OPTS}
#: What Kafka's own ``kafka-run-class.sh`` uses for CLI tools, so comparisons are fair.
TOOL_JVM_OPTS = (
    "-Xmx256M",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)


@dataclass
class Node:
    """One KRaft node (a broker or a controller) and where it lives."""

    node_id: int
    role: str  # "broker" | "controller"
    port: int
    dir: str
    pid: int | None = None
    rack: str | None = None
    #: Port of the JMX exporter agent (``http://127.0.0.1:PORT/metrics``); None when off.
    metrics_port: int | None = None

    @property
    def config_path(self) -> Path:
        return Path(self.dir) / "server.properties"


@dataclass
class NodeStatus:
    node_id: int
    role: str
    port: int
    pid: int | None
    up: bool
    rack: str | None
    metrics_port: int | None = None


def _kafka_uuid() -> str:
    """A Kafka-style base64url UUID (what ``kafka-storage random-uuid`` prints)."""
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not value.startswith("-"):
            return value


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def startup_failure_cause(log_dir: Path, *, max_chars: int = 300) -> str:
    """The last ERROR/FATAL/exception line a node wrote before it exited, or ``""``.

    Why: "exited during start-up; see <file>" names a file that a CI run deletes with its
    temporary folder; the cause (a port taken, a bad setting, an out-of-memory) has to be in
    the message itself.
    """
    markers = ("FATAL", "ERROR", "Exception", "Error:")
    for name in ("server.log", "stdout.log"):
        path = log_dir / name
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-400:]
        except OSError:
            continue
        for line in reversed(lines):
            if any(marker in line for marker in markers):
                return line.strip()[:max_chars]
    return ""


def _port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


#: How reaped children ended (pid → "exit code N" / "killed by SIGX"), for start-up errors.
_ENDED: dict[int, str] = {}


def _reap(pid: int) -> None:
    """Collect an exited child so it does not linger as a zombie (no-op for non-children)."""
    with contextlib.suppress(ChildProcessError, OSError):
        reaped, status = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            if os.WIFSIGNALED(status):
                _ENDED[pid] = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
            else:
                _ENDED[pid] = f"exit code {os.waitstatus_to_exitcode(status)}"


def _alive(pid: int | None, marker: str) -> bool:
    """True if ``pid`` is a running process whose command line mentions ``marker``.

    Checking the command line protects against pid reuse after a reboot or a kill.
    """
    if not pid:
        return False
    _reap(pid)
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return any(marker in part for part in proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def default_root() -> Path:
    return Path(os.environ.get("KAFKAOPS_SANDBOX_DIR", jars.repo_root() / ".sandbox" / "default"))


def named_root(name: str | None) -> Path:
    """The folder of the sandbox called ``name`` (``default`` or None: :func:`default_root`).

    Named sandboxes (``sandbox up --name dr``) live beside the default one, so a test that
    points ``KAFKAOPS_SANDBOX_DIR`` at a temporary folder keeps its pair there too.
    """
    if not name or name == "default":
        return default_root()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}", name):
        raise SandboxError(
            f"sandbox name {name!r}: use letters, digits, '_' and '-' (at most 40 characters)"
        )
    return default_root().parent / name


class Sandbox:
    """Manage a local multi-JVM KRaft cluster rooted at ``root``."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or default_root()).resolve()
        self.state_file = self.root / "sandbox.json"

    # ----------------------------------------------------------------- state
    def _load(self) -> dict:
        if not self.state_file.exists():
            return {}
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError) as exc:
            raise SandboxError(f"sandbox state {self.state_file} is unreadable: {exc}") from exc

    def _save(self, state: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    @property
    def exists(self) -> bool:
        return self.state_file.exists()

    def nodes(self) -> list[Node]:
        return [Node(**n) for n in self._load().get("nodes", [])]

    @property
    def version(self) -> str:
        return str(self._load().get("version", jars.DEFAULT_KAFKA_VERSION))

    def bootstrap(self) -> str:
        brokers = [n for n in self.nodes() if n.role == "broker"]
        if not brokers:
            raise SandboxError(f"no sandbox at {self.root}; run 'kafkaops sandbox up' first")
        return ",".join(f"127.0.0.1:{n.port}" for n in brokers)

    def sasl_bootstrap(self) -> str:
        """Bootstrap servers of the SASL/SCRAM listeners (sandbox created with sasl_scram)."""
        if not self._load().get("sasl_scram"):
            raise SandboxError("this sandbox has no SASL listener; create it with --sasl-scram")
        brokers = [n for n in self.nodes() if n.role == "broker"]
        return ",".join(f"127.0.0.1:{n.port + SASL_PORT_OFFSET}" for n in brokers)

    def _node(self, node_id: int) -> Node:
        for n in self.nodes():
            if n.node_id == node_id:
                return n
        ids = ", ".join(str(n.node_id) for n in self.nodes()) or "none"
        raise SandboxError(f"no sandbox node with id {node_id} (nodes: {ids})")

    def _update_pid(self, node_id: int, pid: int | None) -> None:
        state = self._load()
        for n in state["nodes"]:
            if n["node_id"] == node_id:
                n["pid"] = pid
        self._save(state)

    def node_exporter(self) -> NodeExporter | None:
        """The sandbox's node exporter (host CPU/memory/disk), or None when it has none."""
        port = self._load().get("node_exporter_port")
        return NodeExporter(self.root, int(port)) if port else None

    def prometheus_settings(self, *, window_ms: int = 3_000) -> PrometheusSettings:
        """Settings that scrape this sandbox directly: every node's JMX exporter, one node
        exporter for all (``"*"``: the nodes share this host), the log dirs' filesystem.

        A 3 s window keeps a one-shot ``health`` quick while CPU still averages ~600 ticks.
        """
        jmx = {
            str(n.node_id): f"http://127.0.0.1:{n.metrics_port}/metrics"
            for n in self.nodes()
            if n.metrics_port
        }
        exporter = self.node_exporter()
        node = {ANY_NODE: exporter.url} if exporter else {}
        if not jmx and not node:
            raise SandboxError("this sandbox runs no metrics exporter (created without them)")
        return PrometheusSettings.model_validate(
            {
                "jmx_endpoints": jmx,
                "node_endpoints": node,
                "window": f"{window_ms}ms",
                "timeout": "2s",
                "data_mountpoint": _mountpoint(self.root),
                "controller_ids": [n.node_id for n in self.nodes() if n.role == "controller"],
            }
        )

    # ---------------------------------------------------------------- status
    def status(self) -> list[NodeStatus]:
        out = []
        for n in self.nodes():
            up = _alive(n.pid, str(n.config_path)) and _port_open(n.port)
            out.append(
                NodeStatus(
                    n.node_id, n.role, n.port, n.pid if up else None, up, n.rack, n.metrics_port
                )
            )
        return out

    def status_dict(self) -> dict:
        nodes = self.status()
        exporter = self.node_exporter() if self.exists else None
        return {
            "root": str(self.root),
            "version": self.version if self.exists else None,
            "bootstrap": self.bootstrap() if self.exists else None,
            "sasl_bootstrap": (
                self.sasl_bootstrap() if self.exists and self._load().get("sasl_scram") else None
            ),
            "nodes": [asdict(s) for s in nodes],
            "brokers_up": sum(1 for s in nodes if s.role == "broker" and s.up),
            "brokers": sum(1 for s in nodes if s.role == "broker"),
            "node_exporter": exporter.url if exporter else None,
            "node_exporter_up": exporter.running() if exporter else False,
        }

    # ------------------------------------------------------------------- up
    def up(
        self,
        *,
        brokers: int = 3,
        controllers: int = 1,
        version: str = jars.DEFAULT_KAFKA_VERSION,
        base_port: int | None = None,
        heap_mb: int = 512,
        jvm: str = "light",
        extra_broker_config: dict[str, str] | None = None,
        sasl_scram: bool = False,
        jmx_exporter: bool = True,
        node_exporter: bool = True,
        timeout_s: float = 180.0,
        progress: Callable[[str], None] | None = None,
    ) -> str:
        """Start the cluster (creating it on first use) and return the bootstrap servers.

        Idempotent: if the sandbox exists, nodes that are down are started again and the
        requested shape is ignored (say ``down`` first to change it).
        """
        say = progress or (lambda _msg: None)
        if brokers < 1 or controllers < 1:
            raise SandboxError("a sandbox needs at least 1 broker and 1 controller")
        if jvm not in JVM_PROFILES:
            known = ", ".join(sorted(JVM_PROFILES))
            raise SandboxError(f"unknown JVM profile {jvm!r}: expected one of {known}")
        if not self.exists:
            if node_exporter and node_exporter_binary() is None:
                say("prometheus-node-exporter is not installed: no host CPU/memory/disk metrics")
                node_exporter = False
            libs = jars.ensure_kafka_jars(version)
            say(f"Kafka {version} jars ready in {libs}")
            if jmx_exporter:
                agent = jars.ensure_jmx_exporter()
                say(f"JMX exporter agent ready: {agent.name}")
            self._create(
                brokers,
                controllers,
                version,
                base_port,
                heap_mb,
                jvm,
                extra_broker_config,
                sasl_scram,
                jmx_exporter,
                node_exporter,
            )
            say(f"formatted {brokers} broker(s) + {controllers} controller(s) in {self.root}")
        else:
            jars.ensure_kafka_jars(self.version)
        for node in sorted(self.nodes(), key=lambda n: n.role != "controller"):
            if not _alive(node.pid, str(node.config_path)):
                self._launch(node)
                say(f"started {node.role} {node.node_id} on 127.0.0.1:{node.port}")
        self._start_node_exporter(say)
        self.wait_ready(timeout_s=timeout_s)
        return self.bootstrap()

    def _start_node_exporter(self, say: Callable[[str], None]) -> None:
        exporter = self.node_exporter()
        if exporter is not None and not exporter.running():
            exporter.start()
            say(f"started node exporter on {exporter.url}")

    def _pick_base_port(self, count: int, requested: int | None) -> int:
        # Start at the requested port and move up in steps: several sandboxes (a demo and a
        # test run) can coexist on one machine.
        for base in range(requested or DEFAULT_BASE_PORT, 60000, 200):
            offsets = (
                0,
                SASL_PORT_OFFSET,
                100,
                METRICS_PORT_OFFSET,
                CONTROLLER_METRICS_OFFSET,
                NODE_EXPORTER_PORT_OFFSET,
            )
            if all(_port_free(base + off + i) for off in offsets for i in range(count)):
                return base
        raise SandboxError(f"no free ports for the sandbox (asked base port {requested})")

    def _create(
        self,
        brokers: int,
        controllers: int,
        version: str,
        base_port: int | None,
        heap_mb: int,
        jvm: str,
        extra: dict[str, str] | None,
        sasl_scram: bool = False,
        jmx_exporter: bool = True,
        node_exporter: bool = True,
    ) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        base = self._pick_base_port(max(brokers, controllers), base_port)
        nodes: list[Node] = []
        for i in range(controllers):
            nid = CONTROLLER_ID_BASE + i
            metrics = base + CONTROLLER_METRICS_OFFSET + i if jmx_exporter else None
            nodes.append(
                Node(
                    nid,
                    "controller",
                    base + 100 + i,
                    str(self.root / f"node-{nid}"),
                    metrics_port=metrics,
                )
            )
        for i in range(brokers):
            nid = i + 1
            rack = RACKS[i % len(RACKS)]
            metrics = base + METRICS_PORT_OFFSET + i if jmx_exporter else None
            nodes.append(
                Node(
                    nid,
                    "broker",
                    base + i,
                    str(self.root / f"node-{nid}"),
                    rack=rack,
                    metrics_port=metrics,
                )
            )
        voters = ",".join(
            f"{n.node_id}@127.0.0.1:{n.port}" for n in nodes if n.role == "controller"
        )
        rf = min(3, brokers)
        for node in nodes:
            Path(node.dir, "data").mkdir(parents=True)
            Path(node.dir, "logs").mkdir()
            node.config_path.write_text(
                _render_config(
                    node, voters, rf, extra if node.role == "broker" else None, sasl_scram
                )
            )
        cluster_id = _kafka_uuid()
        state = {
            "version": version,
            "cluster_id": cluster_id,
            "heap_mb": heap_mb,
            "jvm": jvm,
            "sasl_scram": sasl_scram,
            "node_exporter_port": base + NODE_EXPORTER_PORT_OFFSET if node_exporter else None,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "nodes": [asdict(n) for n in nodes],
        }
        self._save(state)
        self._format(nodes, cluster_id, version, sasl_scram)

    def _java(self, main: str, args: list[str], opts: tuple[str, ...], version: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise SandboxError("Java is not installed; run 'make setup' (needs a JDK 17+)")
        return [java, *opts, "-cp", jars.classpath(version), main, *args]

    def _format(
        self, nodes: list[Node], cluster_id: str, version: str, sasl_scram: bool = False
    ) -> None:
        log4j = Path(__file__).with_name("tools-log4j2.properties")
        opts = (*TOOL_JVM_OPTS, f"-Dlog4j2.configurationFile={log4j}", "-XX:TieredStopAtLevel=1")
        procs = []
        # SCRAM credentials are records of the metadata log, bootstrapped at format time.
        scram_args = (
            [
                "--add-scram",
                f"SCRAM-SHA-512=[name={SANDBOX_SCRAM_USER},password={SANDBOX_SCRAM_PASSWORD}]",
            ]
            if sasl_scram
            else []
        )
        for node in nodes:
            cmd = self._java(
                "kafka.tools.StorageTool",
                ["format", "-t", cluster_id, "-c", str(node.config_path), *scram_args],
                opts,
                version,
            )
            procs.append(
                (node, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
            )
        for node, proc in procs:
            try:
                out, _ = proc.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise SandboxError(f"formatting node {node.node_id} timed out") from None
            if proc.returncode != 0:
                text = out.decode(errors="replace").strip().splitlines()[-3:]
                raise SandboxError(f"formatting node {node.node_id} failed: {' | '.join(text)}")

    def _launch(self, node: Node) -> int:
        state = self._load()
        heap = int(state.get("heap_mb", 512)) if node.role == "broker" else 256
        profile = str(state.get("jvm", "light"))
        log4j = Path(__file__).with_name("log4j2.properties")
        opts: tuple[str, ...] = (
            f"-Xmx{heap}m",
            # server: a fixed heap, as kafka-server-start.sh sets it (-Xms = -Xmx)
            f"-Xms{heap if profile == 'server' else min(heap, 128)}m",
            *JVM_PROFILES.get(profile, NODE_JVM_OPTS),
            f"-Dkafka.logs.dir={Path(node.dir) / 'logs'}",
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkafkaops.sandbox={self.root}",
        )
        if node.metrics_port:
            rules = Path(__file__).with_name("jmx_exporter.yaml")
            agent = jars.ensure_jmx_exporter()
            opts = (*opts, f"-javaagent:{agent}=127.0.0.1:{node.metrics_port}:{rules}")
        cmd = self._java("kafka.Kafka", [str(node.config_path)], opts, self.version)
        with open(Path(node.dir) / "logs" / "stdout.log", "ab") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        self._update_pid(node.node_id, proc.pid)
        return proc.pid

    # ------------------------------------------------------------- readiness
    def wait_ready(self, *, timeout_s: float = 180.0, node_ids: list[int] | None = None) -> None:
        """Wait until every running broker is registered, unfenced and answering metadata."""
        from kafka.admin import KafkaAdminClient

        deadline = time.monotonic() + timeout_s
        nodes = self.nodes()
        wanted = {
            n.node_id
            for n in nodes
            if n.role == "broker" and (node_ids is None or n.node_id in node_ids)
        }
        last_error = "no broker answered yet"
        while time.monotonic() < deadline:
            dead = [n for n in nodes if n.pid and not _alive(n.pid, str(n.config_path))]
            if dead:
                log = Path(dead[0].dir) / "logs" / "server.log"
                cause = startup_failure_cause(Path(dead[0].dir) / "logs") or _ENDED.get(
                    dead[0].pid or 0, ""
                )
                raise SandboxError(
                    f"{dead[0].role} {dead[0].node_id} exited during start-up"
                    f"{': ' + cause if cause else ''}; see {log}"
                )
            open_ports = [n for n in nodes if n.role == "broker" and _port_open(n.port)]
            if open_ports:
                try:
                    admin = KafkaAdminClient(
                        bootstrap_servers=[f"127.0.0.1:{n.port}" for n in open_ports],
                        request_timeout_ms=5000,
                        bootstrap_timeout_ms=5000,
                        client_id="kafkaops-sandbox",
                    )
                    try:
                        info = admin.describe_cluster()
                    finally:
                        admin.close()
                    seen = {
                        b["broker_id"] for b in info.get("brokers", []) if not b.get("is_fenced")
                    }
                    if wanted <= seen:
                        return
                    last_error = f"brokers registered: {sorted(seen)}, waiting for {sorted(wanted)}"
                except Exception as exc:  # kafka-python raises many types while starting
                    last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5)
        raise SandboxError(f"sandbox not ready after {timeout_s:.0f}s: {last_error}")

    # ------------------------------------------------------------- grow
    def add_broker(self, *, rack: str | None = None, timeout_s: float = 120.0) -> int:
        """Format and start one more broker (id max+1, the next rack in turn); return its id.

        Like adding a broker to an MSK cluster: it joins empty, holding no replica until a
        reassignment moves some to it (``kafkaops balance plan --add ID``).
        """
        state = self._load()
        nodes = self.nodes()
        brokers = sorted((n for n in nodes if n.role == "broker"), key=lambda n: n.node_id)
        if not brokers:
            raise SandboxError(f"no sandbox at {self.root}; run 'kafkaops sandbox up' first")
        first = brokers[0]
        nid = brokers[-1].node_id + 1
        port = first.port + nid - first.node_id
        metrics = (
            first.metrics_port + nid - first.node_id if first.metrics_port is not None else None
        )
        busy = [p for p in (port, port + SASL_PORT_OFFSET, metrics) if p and not _port_free(p)]
        if busy:
            raise SandboxError(f"cannot add broker {nid}: port {busy[0]} is in use")
        node = Node(
            nid,
            "broker",
            port,
            str(self.root / f"node-{nid}"),
            rack=rack or RACKS[(nid - 1) % len(RACKS)],
            metrics_port=metrics,
        )
        props = _read_properties(first.config_path)
        voters = props["controller.quorum.voters"]
        rf = int(props.get("default.replication.factor", "3"))
        Path(node.dir, "data").mkdir(parents=True, exist_ok=True)
        Path(node.dir, "logs").mkdir(exist_ok=True)
        sasl = bool(state.get("sasl_scram"))
        node.config_path.write_text(_render_config(node, voters, rf, None, sasl))
        state["nodes"].append(asdict(node))
        self._save(state)
        # SCRAM users live in the metadata log: a broker joining later needs no --add-scram.
        self._format([node], state["cluster_id"], self.version)
        self._launch(node)
        self._wait_port(node, timeout_s)
        self.wait_ready(timeout_s=timeout_s, node_ids=[nid])
        return nid

    # -------------------------------------------------------------- control
    def stop_node(self, node_id: int, *, timeout_s: float = 60.0) -> None:
        """Stop a node gracefully (SIGTERM: controlled shutdown), SIGKILL after ``timeout_s``."""
        node = self._node(node_id)
        if not _alive(node.pid, str(node.config_path)):
            self._update_pid(node_id, None)
            return
        assert node.pid is not None
        os.kill(node.pid, signal.SIGTERM)
        if not self._wait_exit(node, timeout_s):
            os.kill(node.pid, signal.SIGKILL)
            self._wait_exit(node, 15)
        self._update_pid(node_id, None)

    def kill_node(self, node_id: int) -> None:
        """SIGKILL a node: no controlled shutdown, like a crashed host."""
        node = self._node(node_id)
        if node.pid and _alive(node.pid, str(node.config_path)):
            os.kill(node.pid, signal.SIGKILL)
            self._wait_exit(node, 15)
        self._update_pid(node_id, None)

    def start_node(self, node_id: int, *, wait: bool = True, timeout_s: float = 120.0) -> None:
        node = self._node(node_id)
        if not _alive(node.pid, str(node.config_path)):
            self._launch(node)
        if wait:
            # A killed broker stays registered (unfenced) until its session times out, so
            # metadata alone could say "ready" too early: wait for the new JVM's listener first.
            self._wait_port(node, timeout_s)
            if node.role == "broker":
                self.wait_ready(timeout_s=timeout_s, node_ids=[node_id])

    def _wait_port(self, node: Node, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if _port_open(node.port):
                return
            time.sleep(0.3)
        raise SandboxError(f"{node.role} {node.node_id} did not open port {node.port}")

    @staticmethod
    def _wait_exit(node: Node, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not _alive(node.pid, str(node.config_path)):
                return True
            time.sleep(0.2)
        return False

    def down(self, *, keep_data: bool = False) -> int:
        """Stop every node of this sandbox; return how many processes were stopped.

        Brokers first, controllers last: a broker's SIGTERM starts a controlled shutdown that
        asks the controller for leave, so with the controller already gone every broker would
        wait out the whole grace period (30 s) and be SIGKILLed.
        """
        pids = {n.pid for n in self.nodes() if n.pid}
        controller_configs = {str(n.config_path) for n in self.nodes() if n.role == "controller"}
        marker = f"-Dkafkaops.sandbox={self.root}"
        for proc in psutil.process_iter(["pid", "cmdline"]):
            with contextlib.suppress(psutil.Error):
                if marker in (proc.info["cmdline"] or []):
                    pids.add(proc.info["pid"])
        first: list[psutil.Process] = []
        last: list[psutil.Process] = []
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                cmdline = p.cmdline()
                if any(marker == part for part in cmdline):
                    is_controller = any(part in controller_configs for part in cmdline)
                    (last if is_controller else first).append(p)
        for group in (first, last):
            for p in group:
                with contextlib.suppress(psutil.Error):
                    p.terminate()
            _gone, alive = psutil.wait_procs(group, timeout=30)
            for p in alive:
                with contextlib.suppress(psutil.Error):
                    p.kill()
            psutil.wait_procs(alive, timeout=10)
        for p in first + last:
            _reap(p.pid)
        stopped = len(first) + len(last)
        # Even without a state file: the exporter is also found by its working directory.
        exporter = (self.node_exporter() if self.exists else None) or NodeExporter(self.root, 0)
        stopped += exporter.stop()
        if not keep_data and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        elif self.exists:
            state = self._load()
            for n in state.get("nodes", []):
                n["pid"] = None
            self._save(state)
        return stopped

    # ---------------------------------------------------------------- tools
    def tool_command(self, main_class: str, args: list[str]) -> list[str]:
        """Command line running one of Kafka's CLI tools from the sandbox's own jars."""
        log4j = Path(__file__).with_name("tools-log4j2.properties")
        opts = (*TOOL_JVM_OPTS, f"-Dlog4j2.configurationFile={log4j}")
        return self._java(main_class, args, opts, self.version)


def _read_properties(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def _mountpoint(path: Path) -> str:
    """The mount point holding ``path`` (node exporter's ``mountpoint`` label)."""
    current = path.resolve()
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return str(current)


def _render_config(
    node: Node, voters: str, rf: int, extra: dict[str, str] | None, sasl_scram: bool = False
) -> str:
    """server.properties for one node; small thread pools because the host has 2 cores.

    ``min.insync.replicas`` must be on the controllers too: Kafka 4 records the controller's
    value as the cluster-wide default when the metadata log is bootstrapped.
    """
    common = {
        # Like MSK's default for 3-AZ clusters: acks=all needs two in-sync replicas.
        "min.insync.replicas": str(min(2, rf)),
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(Path(node.dir) / "data"),
        "num.network.threads": "2",
        "num.io.threads": "2",
        "background.threads": "2",
        "log.cleaner.threads": "1",
        "log.cleaner.dedupe.buffer.size": "8388608",
        "log.index.size.max.bytes": "1048576",
    }
    if node.role == "controller":
        props = {
            **common,
            "process.roles": "controller",
            "listeners": f"CONTROLLER://127.0.0.1:{node.port}",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
        }
    else:
        props = {
            **common,
            "process.roles": "broker",
            "broker.rack": node.rack or "az1",
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "num.replica.fetchers": "1",
            "num.partitions": "3",
            "default.replication.factor": str(rf),
            "offsets.topic.replication.factor": str(rf),
            "offsets.topic.num.partitions": "12",
            "transaction.state.log.replication.factor": str(rf),
            "transaction.state.log.min.isr": str(min(2, rf)),
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            # Faster failure detection than the defaults, so tests do not wait long.
            "broker.session.timeout.ms": "6000",
            "broker.heartbeat.interval.ms": "1000",
            "replica.lag.time.max.ms": "10000",
            "log.retention.check.interval.ms": "10000",
            "log.segment.delete.delay.ms": "1000",
        }
        if sasl_scram:
            sasl = f"SASL_PLAINTEXT://127.0.0.1:{node.port + SASL_PORT_OFFSET}"
            props["listeners"] += "," + sasl
            props["advertised.listeners"] += "," + sasl
            props["listener.security.protocol.map"] += ",SASL_PLAINTEXT:SASL_PLAINTEXT"
            props["sasl.enabled.mechanisms"] = "SCRAM-SHA-512"
            props["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            )
        props.update(extra or {})
    return "".join(f"{k}={v}\n" for k, v in props.items())
