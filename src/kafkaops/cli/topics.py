"""``kafkaops topics optimize``: recommended topic configs from measured traffic, dry-run first.

Exit codes (cli/common): 0 nothing to change (or applied), 1 changes recommended (dry run),
3 error, 4 topic not found.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Annotated

import typer

from kafkaops.cli.common import EXIT_NOT_FOUND, EXIT_OK, EXIT_P2, JsonFlag, emit_json, fail
from kafkaops.core.errors import KafkaopsError

topics_app = typer.Typer(
    help="Topic tuning from measured traffic.\n\n"
    "Examples:\n\n"
    "  kafkaops topics optimize orders\n\n"
    "  kafkaops topics optimize orders --window 60 --apply",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _print(text: str, indent: str = "") -> None:
    print(textwrap.fill(text, 80, initial_indent=indent, subsequent_indent=indent + "  "))


@topics_app.command("optimize")
def optimize(
    topic: Annotated[str, typer.Argument(help="Topic to optimize.")],
    window: Annotated[
        float, typer.Option(min=1, max=600, help="Seconds of traffic to measure (1-600).")
    ] = 10.0,
    apply: Annotated[
        bool, typer.Option("--apply", help="Change the configs (default: dry run).")
    ] = False,
    bootstrap: Annotated[str | None, typer.Option(help="Bootstrap servers.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="kafkaops YAML.")] = None,
    cluster: Annotated[str | None, typer.Option(help="Cluster name from the config.")] = None,
    sandbox_dir: Annotated[Path | None, typer.Option("--dir", help="Sandbox folder.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Recommend configs for TOPIC from its measured traffic and size; --apply sets them.

    Measures messages/s (log-end offsets over WINDOW seconds) and bytes/s (on-disk bytes per
    retained record), then recommends: segment.ms at most retention/10 when segments would
    roll slower than a quarter of the retention (never segment.ms = retention.ms, which keeps
    data up to twice as long), no tiny segments, min.insync.replicas 2 on RF 3, unclean
    election off, compression.type producer instead of uncompressed.  retention.ms is never
    changed.  Partitions and producer settings are advice with the command to run.

    The dry run shows the diff and has the broker validate it (IncrementalAlterConfigs,
    validate_only); --apply sends exactly that diff and records it in the audit log when a
    store is configured.

    Examples:

      kafkaops topics optimize orders

      kafkaops topics optimize orders -c kafkaops.yaml --cluster prod --window 60 --json

      kafkaops topics optimize orders --apply

    Exit: 0 nothing to change or applied, 1 changes recommended (dry run), 3 error,
    4 topic not found.
    """
    from kafkaops.actions.kafka_configs import alter_configs, plan_configs
    from kafkaops.diagnose.optimizer import recommend
    from kafkaops.diagnose.traffic import measure_traffic
    from kafkaops.pipeline.health import resolve_target

    def progress(message: str) -> None:
        if not as_json:
            typer.echo(message, err=True)

    try:
        target = resolve_target(
            bootstrap=bootstrap, config_path=config, cluster=cluster, sandbox_root=sandbox_dir
        )
        snapshot, traffic = measure_traffic(
            target.name, target.client_kwargs, target.options, window, progress
        )
        if topic not in traffic:
            known = {t.name for t in snapshot.topics}
            if topic not in known:
                fail(f"topic {topic!r} not found on {target.name}", EXIT_NOT_FOUND)
            fail(f"topic {topic}: no log-end offsets measured (leaderless partitions?)")
        current = _topic_configs(target.client_kwargs, topic, target.options.request_timeout_ms)
        plan = recommend(
            traffic[topic],
            current,
            len([b for b in snapshot.brokers if b.reachable]),
            target.config.diagnose.optimizer,
            target.bootstrap,
        )
        diff = (
            plan_configs(target.client_kwargs, "topic", topic, plan.settings)
            if plan.changes
            else []
        )
        if plan.changes:
            alter_configs(
                target.client_kwargs, "topic", topic, plan.settings, validate_only=not apply
            )
    except KafkaopsError as exc:
        fail(str(exc))
    applied = apply and bool(plan.changes)
    if applied and target.store_url:
        from kafkaops.actions.audit import AuditLog

        with AuditLog.open(target.store_url) as audit:
            audit.record(
                cluster=target.name,
                operation="topics optimize",
                result="succeeded",
                summary=f"topic {topic}: " + ", ".join(f"{d.key}={d.new}" for d in diff),
                detail={"diff": [d.to_dict() for d in diff], "plan": plan.to_dict()},
            )
    if as_json:
        emit_json({"cluster": target.name, **plan.to_dict(), "applied": applied,
                   "diff": [d.to_dict() for d in diff]})  # fmt: skip
    else:
        _show(plan, applied)
    raise typer.Exit(EXIT_OK if applied or not plan.changes else EXIT_P2)


def _topic_configs(client_kwargs: dict, topic: str, timeout_ms: int) -> dict[str, str | None]:
    """Effective values of every config of TOPIC (DescribeConfigs)."""
    from kafka.admin import ConfigResource, ConfigResourceType
    from kafka.errors import KafkaError

    from kafkaops.collect.admin import CollectOptions, KafkaAdmin

    admin = KafkaAdmin(
        client_kwargs,
        CollectOptions(request_timeout_ms=timeout_ms, client_id="kafkaops-optimize"),
    )
    try:
        raw = admin._admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, None)], config_filter="all"
        )
    except KafkaError as exc:
        raise KafkaopsError(f"DescribeConfigs topic {topic}: {type(exc).__name__}: {exc}") from None
    finally:
        admin.close()
    return {k: v.get("value") for k, v in raw.get("topic", {}).get(topic, {}).items()}


def _show(plan, applied: bool) -> None:  # type: ignore[no-untyped-def]
    from kafkaops.core.units import format_bytes

    t = plan.traffic
    rate = "-" if t.bytes_per_s is None else f"{format_bytes(t.bytes_per_s)}/s"
    print(f"Topic {plan.topic}: {t.partitions} partitions, RF {t.replication_factor}")
    print(
        f"  measured over {t.window_s:g} s: {t.messages_per_s:.1f} msg/s, {rate}, "
        f"size {format_bytes(t.size_bytes)} (one copy)"
    )
    if not plan.changes:
        print("No config change recommended.")
    else:
        print("Changes:" if applied else "Recommended changes (dry run, validated by the broker):")
        for r in plan.changes:
            current = r.current if r.current is not None else "(unset)"
            print(f"  ~ {r.key}: {current} → {r.recommended}")
            _print(r.why, "      ")
    for a in plan.advice:
        _print(a, "  advice: ")
    if plan.changes:
        print("applied" if applied else "nothing changed: add --apply to set exactly these")
