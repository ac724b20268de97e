"""``kafkaops configs set``: a topic or broker configuration change on any Kafka cluster.

Dry-run by default: the diff (current → new) and the broker's own validation of the request
(IncrementalAlterConfigs with ``validate_only``); ``--apply`` changes it and audits it when a
store is configured.  On MSK the cluster-wide broker settings belong in an MSK configuration
(``kafkaops msk configuration apply``); per-topic changes work the same everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kafkaops.cli.common import EXIT_OK, JsonFlag, emit_json, fail
from kafkaops.core.errors import KafkaopsError

configs_app = typer.Typer(
    help="Topic and broker configuration changes (IncrementalAlterConfigs), dry-run first.\n\n"
    "Examples:\n\n"
    "  kafkaops configs set --topic orders retention.ms=604800000\n\n"
    "  kafkaops configs set --topic orders retention.ms=604800000 --apply\n\n"
    "  kafkaops configs set --broker 1 log.cleaner.threads=2 --bootstrap b-1:9092",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@configs_app.command("set")
def set_cmd(
    settings: Annotated[list[str], typer.Argument(help="KEY=VALUE to set, or KEY= to delete.")],
    topic: Annotated[str | None, typer.Option("--topic", help="Topic to change.")] = None,
    broker: Annotated[int | None, typer.Option("--broker", help="Broker id to change.")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Change it (default: dry run).")] = False,
    bootstrap: Annotated[str | None, typer.Option(help="Bootstrap servers.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="kafkaops YAML.")] = None,
    cluster: Annotated[str | None, typer.Option(help="Cluster name from the config.")] = None,
    sandbox_dir: Annotated[Path | None, typer.Option("--dir", help="Sandbox folder.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show the diff, let the broker validate it, and with --apply change it.

    KEY= (empty value) deletes the override (back to the default).

    Examples:

      kafkaops configs set --topic orders retention.ms=604800000 min.insync.replicas=2

      kafkaops configs set --topic orders retention.ms= --apply
    """
    from kafkaops.actions.kafka_configs import alter_configs, plan_configs
    from kafkaops.pipeline.health import resolve_target

    if (topic is None) == (broker is None):
        fail("name exactly one of --topic NAME or --broker ID")
    changes: dict[str, str | None] = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"{item!r}: use KEY=VALUE (or KEY= to delete the override)")
        changes[key.strip()] = value if value != "" else None
    kind, name = ("topic", topic) if topic is not None else ("broker", str(broker))
    assert name is not None
    try:
        target = resolve_target(
            bootstrap=bootstrap, config_path=config, cluster=cluster, sandbox_root=sandbox_dir
        )
        diff = plan_configs(target.client_kwargs, kind, name, changes)
        alter_configs(target.client_kwargs, kind, name, changes, validate_only=not apply)
    except KafkaopsError as exc:
        fail(f"refused: {exc}" if "refused" in str(exc) else str(exc))
    if apply and target.store_url:
        from kafkaops.actions.audit import AuditLog

        with AuditLog.open(target.store_url) as audit:
            audit.record(
                cluster=target.name,
                operation="configs",
                result="succeeded",
                summary=f"{kind} {name}: " + ", ".join(f"{d.key}={d.new}" for d in diff),
                detail={"diff": [d.to_dict() for d in diff]},
            )
    if as_json:
        emit_json({"resource": kind, "name": name, "applied": apply,
                   "diff": [d.to_dict() for d in diff]})  # fmt: skip
        raise typer.Exit(EXIT_OK)
    print(f"{kind} {name}:")
    for d in diff:
        shown = d.to_dict()
        mark = "~" if d.changes else "="
        print(f"  {mark} {d.key}: {shown['current']} → {shown['new'] or '(default)'}")
    print("applied" if apply else "dry run: validated by the broker, nothing changed (--apply)")
