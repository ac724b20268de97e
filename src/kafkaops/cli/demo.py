"""``make demo``: a real cluster, a realistic workload, and kafkaops watching it.

Scenario (bounded, ends by itself, leaves nothing running unless ``--keep``):

1. start the sandbox (1 KRaft controller + 3 brokers) and a workload: a producer, a healthy
   group, a lagging group and a stopped group;
2. ``kafkaops health`` — healthy (exit 0), lag visible but under the runbook thresholds;
3. stop broker 2 — ``kafkaops health`` shows a P1 with the under-replicated partitions (exit 2);
4. ``kafkaops watch`` turns the P1 into an incident; a 12-second silence first holds the page
   back (the watch line and ``incidents list`` say "muted by silence … until …"), then the page
   reaches a local stand-in pager (an HTTP receiver in this process).  The demo's config names
   its maintenance windows (none), so it pages the same at any hour;
5. start broker 2 again, wait for the ISR to recover — ``kafkaops health`` is healthy again, and
   ``kafkaops watch`` resolves the incident (the pager receives the resolve);
6. ``kafkaops serve`` runs the same loop with the dashboard, API and ``/metrics``: the demo ends
   by printing the dashboard URL while the service runs, until Ctrl-C (or ``--serve-for N``
   seconds; 120 s when not on a terminal, so a scripted run ends by itself).

Each health run is the real CLI in a subprocess, so what you see is what an SRE would see.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import yaml
from rich.console import Console
from rich.panel import Panel
from rich.rule import Rule

from kafkaops.collect.admin import CollectOptions
from kafkaops.collect.snapshot import collect_snapshot
from kafkaops.core.errors import KafkaopsError
from kafkaops.sandbox.cluster import Sandbox
from kafkaops.sandbox.workload import Workload

console = Console()
EXIT_MEANING = {0: "healthy", 1: "P2 only", 2: "P1 or P0", 3: "unreachable / bad input"}


def step(title: str) -> None:
    console.print(Rule(f"[bold cyan]{title}"))


def kafkaops(*args: str) -> int:
    """Run the real CLI, show its output, report its exit code."""
    shown = "kafkaops " + " ".join(args)
    console.print(f"[bold]$ {shown}[/bold]")
    code = subprocess.call([sys.executable, "-m", "kafkaops.cli", *args])
    meaning = f" ({EXIT_MEANING.get(code, '?')})" if args[0] == "health" else ""
    console.print(f"[dim]exit code {code}{meaning}[/dim]\n")
    return code


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    with console.status(f"waiting for {what} …"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(1)
    raise KafkaopsError(f"demo: gave up waiting for {what} after {timeout:.0f}s")


def urp_count(bootstrap: str) -> int:
    snap = collect_snapshot(
        "demo", {"bootstrap_servers": bootstrap}, CollectOptions(time_lag_method="none")
    )
    return len(snap.under_replicated_partitions)


class _PagerHandler(BaseHTTPRequestHandler):
    """Stands in for PagerDuty/Slack: prints every notification kafkaops delivers to it."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            msg = json.loads(body)
            console.print(
                f"  [magenta]📟 pager received[/magenta] {msg.get('action')}: {msg.get('summary')}"
            )
        except ValueError:
            console.print("  [magenta]📟 pager received[/magenta] (not JSON)")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def start_pager() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PagerHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def write_demo_config(box: Sandbox, bootstrap: str, pager_url: str, token_file: Path) -> Path:
    """A config for the watch and serve steps: the sandbox with its JMX + node exporters, a
    store, every severity to the demo pager, the service's API token in a file."""
    from kafkaops.pipeline.health import SANDBOX_BANDWIDTH

    prometheus = box.prometheus_settings()
    config = {
        "clusters": {
            "sandbox": {
                "bootstrap": bootstrap,
                "metrics": {
                    "sources": ["admin", "prometheus"],
                    "prometheus": {
                        "jmx_endpoints": prometheus.jmx_endpoints,
                        "node_endpoints": prometheus.node_endpoints,
                        "controller_ids": list(prometheus.controller_ids),
                        "data_mountpoint": prometheus.data_mountpoint,
                        "window": "3s",
                        "timeout": "2s",
                    },
                    "network_bandwidth": SANDBOX_BANDWIDTH,
                },
            }
        },
        "store": {"url": f"sqlite:///{box.root / 'demo-kafkaops.db'}"},
        "watch": {"interval": "5s"},
        "incidents": {
            # The demo states its windows: none.  With the runbook's defaults (daily
            # 02:00-04:00 UTC …) its P1 would be muted whenever the demo runs in one.
            "maintenance": {"windows": []},
            "alerts": {"keep_firing_for": "5s"},
            "routing": {sev: ["webhook:demo-pager"] for sev in ("p0", "p1", "p2")},
        },
        "channels": {"webhooks": {"demo-pager": {"url": pager_url}}},
        "service": {"token_file": str(token_file)},
    }
    path = box.root / "demo-kafkaops.yaml"
    path.write_text("# written by make demo\n" + yaml.safe_dump(config, sort_keys=False))
    return path


def write_token(box: Sandbox) -> Path:
    """The demo service's API token, in a file only this user can read (never printed)."""
    path = box.root / "api-token"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(16) + "\n")
    return path


def free_or(port: int) -> int:
    """``port`` if nothing listens there, else any free loopback port."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(cfg: Path, token_file: Path, serve_for: float | None) -> int:
    """``kafkaops serve`` on the demo cluster; prints the dashboard URL, stops on Ctrl-C or
    after ``serve_for`` seconds."""
    port = free_or(8080)
    args = ["serve", "-c", str(cfg), "--port", str(port)]
    if serve_for:
        args += ["--once-for", str(serve_for)]
    console.print(f"[bold]$ kafkaops {' '.join(args)}[/bold]")
    proc = subprocess.Popen([sys.executable, "-m", "kafkaops.cli", *args])
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(url + "health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        console.print(
            Panel(
                f"dashboard  [bold]{url}[/bold]\n"
                f"API        {url}api/clusters/sandbox/health   (OpenAPI: {url}docs)\n"
                f"metrics    {url}metrics\n"
                f"API token  in {token_file} (acknowledge / resolve need it)\n"
                + (
                    f"stops by itself after {serve_for:.0f}s"
                    if serve_for
                    else "Ctrl-C stops the service and the cluster"
                ),
                title="kafkaops serve is running",
                expand=False,
            )
        )
        return proc.wait()
    except KeyboardInterrupt:
        # From a terminal the service got the same Ctrl-C (same process group) and is already
        # finishing its cycle and deliveries; a second SIGINT would only rush it.
        console.print("stopping kafkaops serve …")
        try:
            return proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the cluster running at the end")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of workload first")
    parser.add_argument(
        "--serve-for",
        type=float,
        default=None,
        help="stop the service after this many seconds (default: until Ctrl-C on a terminal, "
        "120 s otherwise)",
    )
    args = parser.parse_args(argv)
    if os.environ.get("KAFKAOPS_DEMO_KEEP") == "1":
        args.keep = True
    if args.serve_for is None and not sys.stdin.isatty():
        args.serve_for = 120.0  # a scripted run must end by itself

    box = Sandbox()
    workload: Workload | None = None
    try:
        step("1. Start a real Apache Kafka cluster (KRaft: 1 controller + 3 brokers)")
        with console.status("starting JVMs and waiting for the cluster to answer metadata …"):
            bootstrap = box.up(progress=lambda m: console.print(f"  {m}"))
        console.print(f"bootstrap servers: [bold]{bootstrap}[/bold]")
        kafkaops("sandbox", "status")

        step("2. Workload: producer + healthy, lagging and stopped consumer groups")
        workload = Workload(bootstrap, prefix="demo", rate=150, delay_s=8, stopped_after_s=5)
        workload.setup()
        workload.start()
        with console.status(f"running the workload for {args.warmup:.0f}s …"):
            time.sleep(args.warmup)
        console.print(
            f"produced {workload.stats.produced:,} records; consumed {workload.stats.consumed}"
        )
        kafkaops("snapshot")

        # All brokers share this machine, so "Broker CPU" here is the host's: on a busy machine
        # (another build running) it fires honestly, and the step says why rather than lying.
        step("3. Daily health check: expected healthy (Broker CPU is this host's CPU)")
        kafkaops("health")

        step("4. Stop broker 2 (controlled shutdown) → under-replicated partitions → P1")
        kafkaops("sandbox", "stop-broker", "2")
        wait_for(lambda: urp_count(bootstrap) > 0, 60, "under-replicated partitions")
        kafkaops("health")

        step("5. kafkaops watch: the P1 becomes an incident and pages (a local pager stands in)")
        pager = start_pager()
        token_file = write_token(box)
        cfg = write_demo_config(
            box, bootstrap, f"http://127.0.0.1:{pager.server_port}/", token_file
        )
        # A mute is never silent: a short silence holds the page back for the first cycles,
        # the watch line and `incidents list` say so and until when, then the page goes out.
        # One watch run spans the silence: the first cycles say "muted … until", the cycle
        # after it ends sends the page.
        kafkaops(
            "maintenance", "silence", "-c", str(cfg), "--cluster", "sandbox",
            "--rule", "under_replicated_partitions", "--duration", "40s",
            "--comment", "demo: a mute is shown, then the page goes out when it ends",
        )  # fmt: skip
        kafkaops("incidents", "list", "-c", str(cfg))
        kafkaops("watch", "-c", str(cfg), "--count", "10")
        kafkaops("incidents", "list", "-c", str(cfg))

        step("6. Restore broker 2 and wait for the ISR to catch up → healthy, incident resolved")
        kafkaops("sandbox", "start-broker", "2")
        wait_for(lambda: urp_count(bootstrap) == 0, 120, "in-sync replicas")
        kafkaops("health")
        kafkaops("watch", "-c", str(cfg), "--count", "3")
        kafkaops("incidents", "list", "--status", "all", "-c", str(cfg))

        step("7. kafkaops serve: the same loop with a dashboard, HTTP API and /metrics")
        code = serve(cfg, token_file, args.serve_for)
        pager.shutdown()
        return code
    except KafkaopsError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 3
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130
    finally:
        if workload is not None:
            workload.stop()
        if args.keep:
            console.print(
                f"cluster left running at {box.bootstrap() if box.exists else '-'}; "
                "stop it with: .venv/bin/kafkaops sandbox down"
            )
        else:
            step("8. Clean up: stop every JVM")
            stopped = box.down()
            console.print(f"stopped {stopped} process(es); nothing left running")


if __name__ == "__main__":
    sys.exit(main())
