"""``kafkaops actions``: the named action presets (``actions.presets`` plus the runbook's
built-in ones) — list them, or run one through the same command (and guardrails) it stands
for: ``storage-grow-20pct`` is ``kafkaops msk scale storage --by 20%``, ``reboot-rolling`` is
``kafkaops brokers restart --rolling``.  Dry run unless ``--apply``.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer

from kafkaops.cli.common import EXIT_ERROR, EXIT_OK, JsonFlag, emit_json, fail
from kafkaops.core.errors import KafkaopsError

actions_app = typer.Typer(
    help="Named action presets: the runbook's common operations, runnable by name.\n\n"
    "Examples:\n\n"
    "  kafkaops actions presets -c kafkaops.yaml\n\n"
    "  kafkaops actions run storage-grow-20pct -c kafkaops.yaml --cluster prod\n\n"
    "  kafkaops actions run reboot-rolling -c kafkaops.yaml --cluster onprem --apply",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="kafkaops YAML.")]


def _config(path: Path | None) -> Any:
    from kafkaops.config import default_config, load_config

    try:
        return load_config(path) if path else default_config()
    except KafkaopsError as exc:
        fail(str(exc))


def preset_command(name: str, preset: Any, cluster: str, config: str | None) -> str:
    """The ``kafkaops actions run`` line for a preset (what notifications print)."""
    parts = ["kafkaops", "actions", "run", name]
    if config:
        parts += ["-c", config]
    parts += ["--cluster", cluster]
    return shlex.join(parts)


def _what(preset: Any) -> str:
    a = preset.action
    if a == "scale_storage":
        return f"kafkaops msk scale storage --by {preset.by}"
    if a == "scale_brokers":
        return f"kafkaops msk scale brokers --add-per-az {preset.add_per_az}"
    if a == "scale_type":
        return f"kafkaops msk scale type --to {preset.to}"
    if a == "add_partitions":
        return f"kafkaops partitions add TOPIC --by {preset.increment}"
    if a == "restart_broker":
        return "kafkaops brokers restart " + ("--rolling" if preset.rolling else "--broker N")
    return shlex.join(preset.command)


@actions_app.command("presets")
def presets_cmd(config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """List the presets (built-in and configured) and the command each one runs.

    Examples:

      kafkaops actions presets -c kafkaops.yaml --json
    """
    cfg = _config(config)
    presets = cfg.actions.all_presets()
    if as_json:
        emit_json({name: {**p.model_dump(mode="json", exclude_none=True), "runs": _what(p)}
                   for name, p in sorted(presets.items())})  # fmt: skip
        raise typer.Exit(EXIT_OK)
    for name, p in sorted(presets.items()):
        print(f"{name}")
        print(f"  runs: {_what(p)}")
        if p.description:
            print(f"  {p.description}")


@actions_app.command("run")
def run_cmd(
    name: Annotated[str, typer.Argument(help="Preset name (kafkaops actions presets).")],
    config: ConfigOpt = None,
    cluster: Annotated[str | None, typer.Option(help="Cluster name from the config.")] = None,
    topic: Annotated[str | None, typer.Option(help="add_partitions: the topic.")] = None,
    broker: Annotated[
        list[int] | None, typer.Option("--broker", help="restart_broker: broker id(s).")
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Act (default: dry run).")] = False,
    sandbox_dir: Annotated[Path | None, typer.Option("--dir", help="Sandbox folder.")] = None,
    store: Annotated[str | None, typer.Option(help="Audit store URL (default: store.url).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a preset through the command it stands for (same guardrails, dry run first).

    Examples:

      kafkaops actions run storage-grow-100g -c kafkaops.yaml --cluster prod

      kafkaops actions run partitions-add-4 --topic orders --apply
    """
    cfg = _config(config)
    presets = cfg.actions.all_presets()
    preset = presets.get(name)
    if preset is None:
        where = config or "the built-in presets"
        fail(f"{where}: actions.presets.{name}: no such preset "
             f"(one of: {', '.join(sorted(presets))})", 4)  # fmt: skip
    a = preset.action
    if a in ("scale_storage", "scale_brokers", "scale_type"):
        if config is None:
            fail(f"preset {name} ({a}) acts on an MSK cluster: pass -c kafkaops.yaml --cluster")
        from kafkaops.cli import msk

        common: dict[str, Any] = {"cluster": cluster, "apply": apply, "store": store,
                                  "timeout": None, "as_json": as_json}  # fmt: skip
        if a == "scale_storage":
            msk.scale_storage(config, by=preset.by, **common)
        elif a == "scale_brokers":
            msk.scale_brokers(config, add_per_az=preset.add_per_az, **common)
        else:
            msk.scale_type(config, to=preset.to, **common)
        return
    if a == "restart_broker":
        from kafkaops.cli.brokers import restart

        if not preset.rolling and not broker:
            fail(f"preset {name} restarts one broker: name it with --broker N")
        restart(broker=None if preset.rolling else broker, rolling=preset.rolling, apply=apply,
                timeout=None, bootstrap=None, config=config, cluster=cluster,
                sandbox_dir=sandbox_dir, store=store, as_json=as_json)  # fmt: skip
        return
    if a == "add_partitions":
        if not topic:
            fail(f"preset {name} adds partitions: name the topic with --topic NAME")
        from kafkaops.cli.balance import partitions_add

        partitions_add(topic, by=preset.increment, apply=apply, force=False, bootstrap=None,
                       config=config, cluster=cluster, as_json=as_json,
                       sandbox_dir=sandbox_dir)  # fmt: skip
        return
    argv = list(preset.command)
    if not apply:
        print(f"dry run: would run {shlex.join(argv)} (--apply to run it)")
        raise typer.Exit(EXIT_OK)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        fail(f"{argv[0]}: {type(exc).__name__}: {exc}")
    print((done.stdout or "").rstrip())
    if done.returncode:
        fail(f"{argv[0]} exited {done.returncode}: {' '.join((done.stderr or '').split())[-300:]}")
    raise typer.Exit(EXIT_OK if done.returncode == 0 else EXIT_ERROR)
