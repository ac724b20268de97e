"""``kafkaops brokers restart``: restart self-managed brokers one at a time, safely.

Dry run by default (the preflight and the command that would run); ``--apply`` restarts, waits
for each broker to rejoin and every partition to be back in sync before the next, and stops at
the first failure saying what was done.  The restart step is the configured
``actions.restart.<cluster>.command``; for the sandbox, its own stop/start.  MSK brokers are
rebooted through AWS: ``kafkaops msk reboot``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kafkaops.cli.common import EXIT_ERROR, EXIT_OK, JsonFlag, emit_json, fail
from kafkaops.core.errors import KafkaopsError

brokers_app = typer.Typer(
    help="Broker operations on self-managed clusters (MSK: kafkaops msk reboot).\n\n"
    "Examples:\n\n"
    "  kafkaops brokers restart --broker 2                    # sandbox, dry run\n\n"
    "  kafkaops brokers restart --broker 2 --apply\n\n"
    "  kafkaops brokers restart --rolling -c kafkaops.yaml --cluster onprem --apply",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def make_step(config: Any, cluster: str, sandbox_root: Path | None, from_sandbox: bool) -> Any:
    """The restart step for ``cluster``: its configured command, else the sandbox's own."""
    from kafkaops.actions.restart import CommandStep, SandboxStep

    s = config.actions.restart.get(cluster)
    if s is not None:
        return CommandStep(s.command, cluster, s.command_timeout / 1000)
    if cluster in config.actions.msk:
        fail(f"{cluster} is an MSK cluster: reboot its brokers with kafkaops msk reboot --broker N")
    if from_sandbox:
        from kafkaops.sandbox.cluster import default_root

        return SandboxStep(sandbox_root or default_root())
    where = config.source or "the config"
    fail(
        f"config error: {where}: actions.restart.{cluster}: no restart command configured "
        '(e.g. command: [ssh, "{host}", sudo, systemctl, restart, kafka])'
    )


@brokers_app.command("restart")
def restart(
    broker: Annotated[
        list[int] | None,
        typer.Option("--broker", metavar="ID", help="Broker to restart (repeatable)."),
    ] = None,
    rolling: Annotated[
        bool, typer.Option("--rolling", help="Every broker, one at a time, controller last.")
    ] = False,
    apply: Annotated[bool, typer.Option("--apply", help="Restart (default: dry run).")] = False,
    timeout: Annotated[
        str | None,
        typer.Option("--timeout", help="Per broker: back and in sync within (default 15m)."),
    ] = None,
    bootstrap: Annotated[str | None, typer.Option(help="Bootstrap servers.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="kafkaops YAML.")] = None,
    cluster: Annotated[str | None, typer.Option(help="Cluster name from the config.")] = None,
    sandbox_dir: Annotated[Path | None, typer.Option("--dir", help="Sandbox folder.")] = None,
    store: Annotated[str | None, typer.Option(help="Audit store URL (default: store.url).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Restart brokers one at a time: preflight, restart step, wait until back and in sync.

    Preflight before each broker: it is registered, no partition is offline, none is
    under-replicated (except partitions missing only this broker). Stops at the first failure.

    Examples:

      kafkaops brokers restart --broker 2

      kafkaops brokers restart --rolling -c kafkaops.yaml --cluster onprem --apply
    """
    from kafkaops.actions.restart import RestartError, restart_brokers
    from kafkaops.core.units import parse_duration_ms
    from kafkaops.pipeline.health import resolve_target

    if bool(broker) == rolling:
        fail("name the brokers with --broker N (repeatable), or --rolling for all of them")
    try:
        target = resolve_target(
            bootstrap=bootstrap, config_path=config, cluster=cluster, sandbox_root=sandbox_dir
        )
    except KafkaopsError as exc:
        fail(str(exc))
    step = make_step(target.config, target.name, sandbox_dir, not (config or bootstrap))
    settings = target.config.actions.restart.get(target.name)
    try:
        timeout_s = parse_duration_ms(timeout) / 1000 if timeout else None
    except ValueError as exc:
        fail(f"--timeout: {exc}")
    timeout_s = timeout_s or (settings.timeout / 1000 if settings else 900.0)
    poll_s = settings.poll_interval / 1000 if settings else 2.0
    store_url = store or target.store_url

    def progress(b: int, text: str, elapsed: float) -> None:
        print(f"broker {b}: {text} ({elapsed:.0f}s)", file=sys.stderr, flush=True)

    try:
        if apply and store_url:
            from kafkaops.actions.audit import AuditLog

            with AuditLog.open(store_url) as audit:
                run = restart_brokers(target.name, target.client_kwargs, broker, step,
                                      apply=True, timeout_s=timeout_s, poll_s=poll_s,
                                      audit=audit, progress=progress)  # fmt: skip
        else:
            run = restart_brokers(
                target.name, target.client_kwargs, broker, step, apply=apply,
                timeout_s=timeout_s, poll_s=poll_s, progress=progress,
            )  # fmt: skip
    except RestartError as exc:
        fail(str(exc))
    if as_json:
        emit_json(run.to_dict())
    else:
        for s in run.steps:
            print(f"broker {s.broker}: {s.result}" + (f": {s.detail}" if s.detail else ""))
        print(run.summary() if run.ok or not apply else "stopped: " + run.summary())
        if not apply and run.ok:
            print("dry run: nothing restarted (--apply to restart)")
    raise typer.Exit(EXIT_OK if run.ok else EXIT_ERROR)
