"""The sandbox's Prometheus node exporter: host CPU, memory and disk, as MSK's port 11002 gives.

MSK Open Monitoring runs a node exporter beside every broker.  The sandbox's brokers share one
host, so one node exporter serves them all (``node_endpoints: {"*": URL}``): every broker then
reports the host's CPU, which is the truth for brokers sharing a host.

It is Debian's ``prometheus-node-exporter`` binary, listening on 127.0.0.1 only, with a handful of
collectors (cpu, meminfo, filesystem, loadavg) so it costs next to nothing on a 2-core machine.
The process runs in its own session with the sandbox root as its working directory and its pid in
``<root>/node-exporter.pid``; :meth:`NodeExporter.stop` finds it by pid *and* by that working
directory, so ``down`` leaves nothing behind even if the pid file was lost.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psutil

from kafkaops.core.errors import SandboxError

#: Offset of the node exporter's port from the sandbox's base port (MSK: 11002).
NODE_EXPORTER_PORT_OFFSET = 190
BINARY_NAME = "prometheus-node-exporter"
#: Only what the broker-metrics source reads (plus load average, cheap and handy by hand).
COLLECTORS = ("cpu", "meminfo", "filesystem", "loadavg")
PID_FILE = "node-exporter.pid"
LOG_FILE = "node-exporter.log"


def binary() -> str | None:
    """Path of the node exporter binary, or None when it is not installed."""
    found = shutil.which(BINARY_NAME)
    if found:
        return found
    debian = Path("/usr/bin") / BINARY_NAME
    return str(debian) if debian.exists() else None


def _port_open(port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class NodeExporter:
    """One node exporter owned by the sandbox rooted at ``root``."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.pid_file = root / PID_FILE

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    @property
    def listen_flag(self) -> str:
        return f"--web.listen-address=127.0.0.1:{self.port}"

    def command(self, exe: str) -> list[str]:
        """The command line: loopback only, few collectors, no exporter self-metrics."""
        collectors = [f"--collector.{name}" for name in COLLECTORS]
        return [
            exe,
            self.listen_flag,
            "--collector.disable-defaults",
            *collectors,
            "--web.disable-exporter-metrics",
        ]

    def pid(self) -> int | None:
        """The running exporter's pid (checked against its command line), else None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self._is_ours(pid) else None

    def running(self) -> bool:
        return self.pid() is not None and _port_open(self.port)

    def start(self, *, timeout_s: float = 15.0) -> int:
        """Start the exporter unless it runs; wait until it answers; return its pid."""
        current = self.pid()
        if current is not None:
            return current
        exe = binary()
        if exe is None:
            raise SandboxError(f"{BINARY_NAME} is not installed (apt-get install {BINARY_NAME})")
        with open(self.root / LOG_FILE, "ab") as log:
            proc = subprocess.Popen(
                self.command(exe),
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        self.pid_file.write_text(str(proc.pid))
        self._wait_listening(proc, timeout_s)
        return proc.pid

    def _wait_listening(self, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = self._log_tail()
                raise SandboxError(f"node exporter exited at start-up (port {self.port}): {tail}")
            if _port_open(self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise SandboxError(f"node exporter did not open 127.0.0.1:{self.port} in {timeout_s:.0f}s")

    def _log_tail(self) -> str:
        try:
            lines = (self.root / LOG_FILE).read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(lines[-2:])

    def stop(self, *, timeout_s: float = 10.0) -> int:
        """Stop every exporter of this sandbox (by pid file and working directory)."""
        procs = [p for p in self._find() if _terminate(p)]
        _gone, alive = psutil.wait_procs(procs, timeout=timeout_s)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(alive, timeout=5)
        self.pid_file.unlink(missing_ok=True)
        return len(procs)

    def _find(self) -> list[psutil.Process]:
        """This sandbox's exporters: the recorded pid, and any exporter running in ``root``."""
        found: dict[int, psutil.Process] = {}
        recorded = self.pid()
        if recorded is not None:
            with contextlib.suppress(psutil.Error):
                found[recorded] = psutil.Process(recorded)
        for proc in psutil.process_iter(["pid", "name", "cwd"]):
            with contextlib.suppress(psutil.Error):
                if proc.info["name"] == BINARY_NAME[:15] or proc.info["name"] == BINARY_NAME:
                    cwd = proc.info["cwd"]
                    if cwd and Path(cwd) == self.root:
                        found[proc.pid] = proc
        return list(found.values())

    def _is_ours(self, pid: int) -> bool:
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
            return self.listen_flag in proc.cmdline()
        except psutil.Error:
            return False


def _terminate(proc: psutil.Process) -> bool:
    try:
        proc.terminate()
    except psutil.Error:
        return False
    return True
