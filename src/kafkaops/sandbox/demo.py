"""``make demo``: a real cluster, a realistic workload, and kafkaops watching it.

Scenario (bounded, ends by itself, leaves nothing running unless ``--keep``):

1. start the sandbox (1 KRaft controller + 3 brokers) and a workload: a producer, a healthy
   group, a lagging group and a stopped group;
2. ``kafkaops health`` — healthy (exit 0), lag visible but under the runbook thresholds;
3. stop broker 2 — ``kafkaops health`` shows a P1 with the under-replicated partitions (exit 2);
4. ``kafkaops watch`` turns the P1 into an incident and pages a local stand-in pager (an HTTP
   receiver in this process); ``kafkaops incidents list`` shows it;
5. start broker 2 again, wait for the ISR to recover — ``kafkaops health`` is healthy again, and
   ``kafkaops watch`` resolves the incident (the pager receives the resolve).

Each health run is the real CLI in a subprocess, so what you see is what an SRE would see.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from kafkaops.collect.kafka import CollectOptions, collect_snapshot
from kafkaops.errors import KafkaopsError
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


def write_demo_config(box: Sandbox, bootstrap: str, pager_url: str) -> Path:
    """A config for the watch step: the sandbox, a store, every severity to the demo pager."""
    path = box.root / "demo-kafkaops.yaml"
    path.write_text(
        f"""# written by make demo
clusters:
  sandbox:
    bootstrap: {bootstrap}
store:
  url: sqlite:///{box.root / "demo-kafkaops.db"}
watch:
  interval: 5s
incidents:
  alerts:
    keep_firing_for_s: 5
  routing:
    p0: ["webhook:demo-pager"]
    p1: ["webhook:demo-pager"]
    p2: ["webhook:demo-pager"]
channels:
  webhooks:
    demo-pager:
      url: {pager_url}
"""
    )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the cluster running at the end")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of workload first")
    args = parser.parse_args(argv)
    if os.environ.get("KAFKAOPS_DEMO_KEEP") == "1":
        args.keep = True

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

        step("3. Daily health check: expected healthy")
        kafkaops("health")

        step("4. Stop broker 2 (controlled shutdown) → under-replicated partitions → P1")
        kafkaops("sandbox", "stop-broker", "2")
        wait_for(lambda: urp_count(bootstrap) > 0, 60, "under-replicated partitions")
        kafkaops("health")

        step("5. kafkaops watch: the P1 becomes an incident and pages (a local pager stands in)")
        pager = start_pager()
        cfg = write_demo_config(box, bootstrap, f"http://127.0.0.1:{pager.server_port}/")
        kafkaops("watch", "-c", str(cfg), "--count", "4")
        kafkaops("incidents", "list", "-c", str(cfg))

        step("6. Restore broker 2 and wait for the ISR to catch up → healthy, incident resolved")
        kafkaops("sandbox", "start-broker", "2")
        wait_for(lambda: urp_count(bootstrap) == 0, 120, "in-sync replicas")
        kafkaops("health")
        kafkaops("watch", "-c", str(cfg), "--count", "3")
        kafkaops("incidents", "list", "--status", "all", "-c", str(cfg))
        pager.shutdown()
        return 0
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
            step("7. Clean up: stop every JVM")
            stopped = box.down()
            console.print(f"stopped {stopped} process(es); nothing left running")


if __name__ == "__main__":
    sys.exit(main())
