"""A real MirrorMaker 2 between two sandbox clusters (dedicated mode, one JVM).

``kafkaops sandbox mirror up --from default --to dr`` writes an ``mm2.properties`` and starts
``org.apache.kafka.connect.mirror.MirrorMaker`` with ``--clusters <to>``: only the herders that
write to the replica run, as MM2's documentation recommends (run MM2 next to the target).  The
flow ``from->to`` replicates every topic and group, emits checkpoints, heartbeats and offset
syncs often (seconds, so the tests do not wait for minutes), and syncs translated group offsets
onto the replica.  The reverse flow is disabled.

Cluster aliases are the sandbox names, so under the default replication policy topic
``orders`` of ``default`` appears as ``default.orders`` on ``dr``; with ``--policy identity``
(``IdentityReplicationPolicy``, what MSK Replicator's "identical topic names" does) it keeps
its name.

State lives in ``<root>/mirror.json``; the JVM carries ``-Dkafkaops.mirror=<root>`` so
``down`` finds it even without the state file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from kafkaops.core.errors import SandboxError
from kafkaops.sandbox import jars
from kafkaops.sandbox.cluster import NODE_JVM_OPTS, Sandbox, _alive, named_root

MAIN_CLASS = "org.apache.kafka.connect.mirror.MirrorMaker"
POLICIES = {
    "default": "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
    "identity": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
}
#: How often MM2 emits what ``dr verify`` reads (seconds).  Production defaults are 60 s for
#: checkpoints and group sync and 1 s for heartbeats; the sandbox uses short intervals so a
#: test sees a consumer group translated within seconds.
SANDBOX_INTERVALS = {
    "emit.heartbeats.interval.seconds": "1",
    "emit.checkpoints.interval.seconds": "2",
    "sync.group.offsets.interval.seconds": "2",
    "refresh.topics.interval.seconds": "3",
    "refresh.groups.interval.seconds": "3",
    "sync.topic.configs.interval.seconds": "5",
}


def mirror_root(source: str, target: str, base_dir: Path | None = None) -> Path:
    """Where the mirror ``source -> target`` keeps its config, state and log."""
    return (base_dir or named_root(source).parent) / f"mirror-{source}-{target}"


def render_properties(
    source: str,
    target: str,
    source_bootstrap: str,
    target_bootstrap: str,
    *,
    policy: str = "default",
    replication_factor: int = 1,
    extra: dict[str, str] | None = None,
) -> str:
    """The ``mm2.properties`` of a one-way ``source -> target`` flow."""
    if policy not in POLICIES:
        raise SandboxError(f"replication policy {policy!r}: use one of {', '.join(POLICIES)}")
    rf = str(replication_factor)
    props: dict[str, str] = {
        "clusters": f"{source}, {target}",
        f"{source}.bootstrap.servers": source_bootstrap,
        f"{target}.bootstrap.servers": target_bootstrap,
        f"{source}->{target}.enabled": "true",
        f"{source}->{target}.topics": ".*",
        f"{source}->{target}.groups": ".*",
        f"{target}->{source}.enabled": "false",
        "replication.policy.class": POLICIES[policy],
        "tasks.max": "1",
        "emit.heartbeats.enabled": "true",
        "emit.checkpoints.enabled": "true",
        "sync.group.offsets.enabled": "true",
        "sync.topic.configs.enabled": "true",
        # An offset sync at most every 10 records: translation within 10 records.
        "offset.lag.max": "10",
        "replication.factor": rf,
        "checkpoints.topic.replication.factor": rf,
        "heartbeats.topic.replication.factor": rf,
        "offset-syncs.topic.replication.factor": rf,
        "offset.storage.replication.factor": rf,
        "status.storage.replication.factor": rf,
        "config.storage.replication.factor": rf,
        # The jars carry ServiceLoader manifests (Kafka >= 3.6): skip the reflective plugin
        # scan, ~5 s of every MM2 start on a small host (MM2's own start-up hint says so).
        "plugin.discovery": "service_load",
        **SANDBOX_INTERVALS,
    }
    props.update(extra or {})
    return "".join(f"{k} = {v}\n" for k, v in props.items())


class Mirror:
    """One MirrorMaker 2 process replicating sandbox ``source`` to sandbox ``target``."""

    def __init__(
        self, source: str = "default", target: str = "dr", *, base_dir: Path | None = None
    ) -> None:
        """``base_dir``: the folder holding the named sandboxes (default: beside the default
        sandbox, i.e. ``$KAFKAOPS_SANDBOX_DIR/..`` or ``.sandbox``)."""
        if source == target:
            raise SandboxError(f"--from and --to are both {source!r}: a mirror needs two clusters")
        self.source_name, self.target_name = source, target
        if base_dir is not None:
            named_root(source), named_root(target)  # validates the names
            self.source = Sandbox(base_dir / source)
            self.target = Sandbox(base_dir / target)
        else:
            self.source = Sandbox(named_root(source))
            self.target = Sandbox(named_root(target))
        self.root = mirror_root(source, target, base_dir).resolve()
        self.state_file = self.root / "mirror.json"
        self.config_path = self.root / "mm2.properties"
        self.log_dir = self.root / "logs"

    # ----------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        if not self.state_file.exists():
            return {}
        try:
            return dict(json.loads(self.state_file.read_text()))
        except (OSError, ValueError) as exc:
            raise SandboxError(f"mirror state {self.state_file} is unreadable: {exc}") from exc

    def _save(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    @property
    def marker(self) -> str:
        return f"-Dkafkaops.mirror={self.root}"

    def running(self) -> bool:
        return _alive(self.state().get("pid"), self.marker)

    def status(self) -> dict[str, Any]:
        state = self.state()
        return {
            "source": self.source_name,
            "target": self.target_name,
            "root": str(self.root),
            "policy": state.get("policy"),
            "running": self.running(),
            "pid": state.get("pid") if self.running() else None,
            "source_bootstrap": state.get("source_bootstrap"),
            "target_bootstrap": state.get("target_bootstrap"),
            "config": str(self.config_path) if self.config_path.exists() else None,
            "log": str(self.log_dir / "server.log"),
            "started_at": state.get("started_at"),
        }

    # ------------------------------------------------------------------- up
    def up(
        self,
        *,
        policy: str | None = None,
        heap_mb: int = 256,
        extra: dict[str, str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """Start MM2 (idempotent: a running mirror is left alone unless the policy differs)."""
        say = progress or (lambda _msg: None)
        for name, box in ((self.source_name, self.source), (self.target_name, self.target)):
            if not box.exists:
                hint = "" if name == "default" else f" --name {name}"
                raise SandboxError(
                    f"no sandbox named {name!r} at {box.root}; run 'kafkaops sandbox up{hint}'"
                )
        state = self.state()
        if self.running():
            if policy and policy != state.get("policy"):
                raise SandboxError(
                    f"the mirror already runs with the {state.get('policy')!r} policy; "
                    "'kafkaops sandbox mirror down' first to change it"
                )
            return self.status()
        policy = policy or state.get("policy") or "default"
        if policy not in POLICIES:
            raise SandboxError(f"replication policy {policy!r}: use one of {', '.join(POLICIES)}")
        version = self.target.version
        if self.source.version != version:
            say(f"note: {self.source_name} runs Kafka {self.source.version}, MM2 {version}")
        libs = jars.ensure_mirror_jars(version)
        say(f"MirrorMaker 2 {version} jars ready in {libs}")
        rf = min(
            3,
            sum(1 for n in self.source.nodes() if n.role == "broker"),
            sum(1 for n in self.target.nodes() if n.role == "broker"),
        )
        source_bs, target_bs = self.source.bootstrap(), self.target.bootstrap()
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        self.config_path.write_text(
            render_properties(
                self.source_name,
                self.target_name,
                source_bs,
                target_bs,
                policy=policy,
                replication_factor=rf,
                extra=extra,
            )
        )
        java = shutil.which("java")
        if java is None:
            raise SandboxError("Java is not installed; run 'make setup' (needs a JDK 17+)")
        log4j = Path(__file__).with_name("log4j2.properties")
        cmd = [
            java,
            f"-Xmx{heap_mb}m",
            f"-Xms{min(heap_mb, 128)}m",
            *NODE_JVM_OPTS,
            f"-Dkafka.logs.dir={self.log_dir}",
            f"-Dlog4j2.configurationFile={log4j}",
            self.marker,
            "-cp",
            str(libs) + "/*",
            MAIN_CLASS,
            str(self.config_path),
            "--clusters",
            self.target_name,
        ]
        with open(self.log_dir / "stdout.log", "ab") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        self._save(
            {
                "source": self.source_name,
                "target": self.target_name,
                "policy": policy,
                "pid": proc.pid,
                "source_bootstrap": source_bs,
                "target_bootstrap": target_bs,
                "version": version,
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "started_at_ms": int(time.time() * 1000),
            }
        )
        say(f"started MirrorMaker 2 ({self.source_name} -> {self.target_name}, {policy} policy)")
        time.sleep(1.0)
        if not self.running():
            raise SandboxError(f"MirrorMaker 2 exited at start-up; see {self.log_dir}/server.log")
        return self.status()

    def wait_flowing(self, timeout_s: float = 120.0) -> None:
        """Wait until all three MM2 connectors have done their start-up: a heartbeat on the
        replica written *after* this start (old heartbeats from an earlier run do not count),
        the offset-syncs topic on the source and the checkpoints topic on the target.

        Why more than a heartbeat: the heartbeat connector is up seconds before the source
        connector has created ``mm2-offset-syncs.<target>.internal``.  A checkpoint task that
        starts in that window (a consumer group appeared) gives up reading the offset syncs
        after 30 s and emits no checkpoint for its whole life — so a caller that commits a
        group right after "flowing" could wait forever for its checkpoint.
        """
        from kafkaops.collect.topic_reader import read_topic

        started_ms = int(self.state().get("started_at_ms") or 0)
        deadline = time.monotonic() + timeout_s
        last = "no heartbeats topic on the replica yet"
        timeouts = {"request_timeout_ms": 5000, "bootstrap_timeout_ms": 5000}
        target = {"bootstrap_servers": self.target.bootstrap().split(","), **timeouts}
        source = {"bootstrap_servers": self.source.bootstrap().split(","), **timeouts}
        wanted = (
            (source, self.source_name, f"mm2-offset-syncs.{self.target_name}.internal"),
            (target, self.target_name, f"{self.source_name}.checkpoints.internal"),
        )
        beat = False
        while time.monotonic() < deadline:
            if not self.running():
                raise SandboxError(f"MirrorMaker 2 exited; see {self.log_dir}/server.log")
            try:
                if not beat:
                    records = read_topic(target, "heartbeats", tail=1, timeout_s=5)
                    beat = any(r.timestamp >= started_ms for r in records)
                    last = "no heartbeat since MM2 started"
                if beat:
                    missing = [
                        f"{topic} on {name}"
                        for kwargs, name, topic in wanted
                        if topic not in _topics(kwargs)
                    ]
                    if not missing:
                        return
                    last = "heartbeats flow but MM2 has not created " + ", ".join(missing)
            except Exception as exc:  # kafka-python raises many types while starting
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(1.0)
        raise SandboxError(f"MirrorMaker 2 not ready in {timeout_s:.0f}s: {last}")

    # ----------------------------------------------------------------- down
    def down(self, *, timeout_s: float = 30.0) -> int:
        """Stop the MM2 JVM (SIGTERM, SIGKILL after ``timeout_s``); return how many stopped."""
        pids: set[int] = set()
        pid = self.state().get("pid")
        if pid:
            pids.add(int(pid))
        for proc in psutil.process_iter(["pid", "cmdline"]):
            with contextlib.suppress(psutil.Error):
                if self.marker in (proc.info["cmdline"] or []):
                    pids.add(proc.info["pid"])
        procs = []
        for p_id in pids:
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(p_id)
                if self.marker in p.cmdline():
                    p.send_signal(signal.SIGTERM)
                    procs.append(p)
        _gone, alive = psutil.wait_procs(procs, timeout=timeout_s)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(alive, timeout=10)
        for p in procs:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(p.pid, os.WNOHANG)
        if self.state_file.exists():
            state = self.state()
            state["pid"] = None
            self._save(state)
        return len(procs)


def _topics(client_kwargs: dict[str, Any]) -> set[str]:
    """The topic names of a cluster (kafka-python metadata request, bounded by its timeouts)."""
    from kafka import KafkaConsumer

    kwargs = {k: v for k, v in client_kwargs.items() if k in KafkaConsumer.DEFAULT_CONFIG}
    consumer = KafkaConsumer(**kwargs, enable_auto_commit=False)
    try:
        return set(consumer.topics())
    finally:
        with contextlib.suppress(Exception):
            consumer.close()
