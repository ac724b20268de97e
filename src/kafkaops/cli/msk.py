"""``kafkaops msk``: MSK scaling, reboots and configuration, with guardrails; dry-run by default.

Every command describes the cluster first (a fresh ``CurrentVersion``), reads its recent
operations, checks the guardrails (:mod:`kafkaops.actions.guardrails`) and prints the exact
request.  Only ``--apply`` sends it; then the operation is polled with progress until it is
complete or failed, verified, and audited in the store (``act_audit``).  A refusal is one line
on stderr with exit code 3 and no AWS write.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from kafkaops.cli.common import EXIT_ERROR, EXIT_OK, JsonFlag, emit_json, fail, utcnow
from kafkaops.core.errors import KafkaopsError

msk_app = typer.Typer(
    help="Amazon MSK operations with guardrails: storage, broker count and type, reboot, "
    "configuration. Dry-run by default; --apply acts, polls the operation and audits it.\n\n"
    "Examples:\n\n"
    "  kafkaops msk scale storage --by 100 -c kafkaops.yaml --cluster prod\n\n"
    "  kafkaops msk scale storage --to 1100GiB -c kafkaops.yaml --cluster prod --apply\n\n"
    "  kafkaops msk scale brokers --count 6 -c kafkaops.yaml --cluster prod\n\n"
    "  kafkaops msk reboot --broker 2 -c kafkaops.yaml --cluster prod --apply\n\n"
    "  kafkaops msk audit -c kafkaops.yaml",
    no_args_is_help=True,
    rich_markup_mode=None,
)
scale_app = typer.Typer(
    help="Scale an MSK cluster: storage per broker, broker count, broker type.\n\n"
    "Examples:\n\n"
    "  kafkaops msk scale storage --by 100 -c kafkaops.yaml --cluster prod\n\n"
    "  kafkaops msk scale type --to kafka.m7g.xlarge -c kafkaops.yaml --cluster prod",
    no_args_is_help=True,
    rich_markup_mode=None,
)
configuration_app = typer.Typer(
    help="MSK cluster configuration (server.properties) as a new configuration revision.\n\n"
    "Example:\n\n"
    "  kafkaops msk configuration apply broker.properties -c kafkaops.yaml --cluster prod",
    no_args_is_help=True,
    rich_markup_mode=None,
)
msk_app.add_typer(scale_app, name="scale")
msk_app.add_typer(configuration_app, name="configuration")

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="kafkaops YAML with an actions.msk section.")
]
ClusterOpt = Annotated[
    str | None, typer.Option("--cluster", help="Cluster name (default: the only one).")
]
ApplyFlag = Annotated[
    bool, typer.Option("--apply", help="Send the request (default: print the plan only).")
]
StoreOpt = Annotated[
    str | None, typer.Option("--store", help="Audit store URL (default: store.url).")
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", help="Seconds to poll the operation (default: actions.timeout)."),
]

_SIZE = re.compile(r"^\s*(\d+)\s*(GiB|GB|TiB|TB)?\s*$", re.IGNORECASE)


def _gib(value: str | None, flag: str) -> int | None:
    """``1100``, ``1100GiB``, ``1TiB`` → GiB.  MSK's ``VolumeSizeGB`` is GiB (the console says
    GiB), so GB and GiB name the same unit here, as in the runbook's "+100 GB"."""
    if value is None:
        return None
    m = _SIZE.match(value)
    if not m:
        fail(f"{flag} {value!r}: a size in GiB (e.g. 1100, 1100GiB, 2TiB)")
    n = int(m.group(1))
    return n * 1024 if (m.group(2) or "").lower() in ("tib", "tb") else n


# Tests replace this to send the operations to botocore's Stubber (moto lacks them).
def _api_factory(target: Any) -> Any:
    from kafkaops.actions.msk import MskApi

    return MskApi.connect(target.cluster_arn, target.region, target.endpoint_url)


class _Ctx:
    """Config, cluster name, MSK target and API for one command."""

    def __init__(self, config_path: Path, cluster: str | None, store: str | None) -> None:
        from kafkaops.config import load_config

        self.config_path = config_path
        try:
            self.config = load_config(config_path)
        except KafkaopsError as exc:
            fail(str(exc))
        names = sorted(self.config.actions.msk)
        if cluster is None:
            if len(names) != 1:
                fail(
                    f"config error: {config_path}: name a cluster with --cluster (MSK clusters "
                    f"under actions.msk: {', '.join(names) or 'none'})"
                )
            cluster = names[0]
        if cluster not in self.config.actions.msk:
            fail(
                f"config error: {config_path}: actions.msk.{cluster}: no MSK cluster configured "
                f"(defined: {', '.join(names) or 'none'})"
            )
        self.cluster = cluster
        self.msk = self.config.actions.msk[cluster]
        self.store = store or self.config.store.url
        try:
            self.api = _api_factory(self.msk)
        except Exception as exc:  # botocore NoRegionError and the like
            fail(f"actions.msk.{cluster}: {type(exc).__name__}: {_one_line(exc)}")

    def facts(self) -> tuple[Any, list[Any]]:
        from kafkaops.actions.guardrails import Refused

        arn = self.msk.cluster_arn
        try:
            info = self.api.describe(arn)
        except Exception as exc:
            fail(f"describe_cluster_v2 {arn}: {type(exc).__name__}: {_one_line(exc)}")
        try:
            ops = self.api.operations(arn)
        except Exception as exc:
            raise Refused(
                "cannot read the cluster's operations (list_cluster_operations_v2: "
                f"{type(exc).__name__}), so neither the cool-down nor a running operation "
                "can be checked"
            ) from None
        return info, ops

    def snapshot(self) -> Any | None:
        """The Kafka snapshot when the cluster has a bootstrap in the config, else None."""
        if self.cluster not in self.config.clusters:
            return None
        from kafkaops.pipeline.health import resolve_target, take_snapshot

        try:
            return take_snapshot(resolve_target(config_path=self.config_path, cluster=self.cluster))
        except KafkaopsError:
            return None

    def health(self) -> tuple[bool, str]:
        if self.cluster not in self.config.clusters:
            return True, "no bootstrap configured for this cluster: Kafka health not checked"
        from kafkaops.pipeline.health import check_health, resolve_target

        report = check_health(resolve_target(config_path=self.config_path, cluster=self.cluster))
        s = report.summary
        line = (
            f"{s.get('state', '?')}, {s.get('brokers_reachable', '?')}/{s.get('brokers', '?')} "
            f"brokers, {s.get('offline_partitions', 0)} offline and "
            f"{s.get('under_replicated_partitions', 0)} under-replicated partitions"
        )
        worst = [f"{f.severity.value} {f.rule}" for f in report.findings[:3]]
        return report.overall_healthy, line + (f"; {', '.join(worst)}" if worst else "")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _run(ctx: _Ctx, make_plan: Any, apply: bool, as_json: bool, timeout: float | None) -> None:
    from kafkaops.actions.apply import ActionFailed, execute
    from kafkaops.actions.audit import AuditLog
    from kafkaops.actions.guardrails import Refused

    try:
        plan = make_plan(*ctx.facts())
    except Refused as exc:
        if ctx.store:
            with AuditLog.open(ctx.store) as audit:
                audit.record(
                    cluster=ctx.cluster,
                    operation=getattr(make_plan, "operation", "msk"),
                    result="refused",
                    summary=str(exc),
                )
        if as_json:
            emit_json({"cluster": ctx.cluster, "refused": str(exc), "applied": False})
        fail(f"refused: {exc}")
    if not apply:
        if ctx.store:
            with AuditLog.open(ctx.store) as audit:
                audit.record(
                    cluster=ctx.cluster,
                    operation=plan.operation,
                    result="dry_run",
                    summary=plan.summary,
                    detail={"request": plan.request},
                )
        if as_json:
            emit_json({**plan.to_dict(), "applied": False})
        else:
            _print_plan(plan)
            print("dry run: nothing sent. Add --apply to send it.")
        raise typer.Exit(EXIT_OK)
    if not ctx.store:
        fail(
            f"config error: {ctx.config_path}: store.url: an applied change must be audited; "
            "set store.url or pass --store"
        )
    if not as_json:
        _print_plan(plan)
    settings = ctx.config.actions

    def progress(op: Any, elapsed: float) -> None:
        steps = ", ".join(f"{n}={s}" for n, s in op.steps) or "-"
        stamp = utcnow().strftime("%H:%M:%SZ")
        sys.stderr.write(f"{stamp} +{int(elapsed) // 60}m{int(elapsed) % 60:02d}s  ")
        sys.stderr.write(f"{op.state}  {steps}\n")
        sys.stderr.flush()

    with AuditLog.open(ctx.store) as audit:
        try:
            outcome = execute(
                plan,
                ctx.api,
                audit,
                interval_s=settings.poll_interval / 1000,
                timeout_s=timeout if timeout is not None else settings.timeout / 1000,
                progress=progress,
                health=ctx.health,
            )
        except ActionFailed as exc:
            fail(f"{exc}")
    if as_json:
        emit_json({**outcome.to_dict(), "applied": True})
    else:
        for line in outcome.verification:
            print(f"  ok: {line}")
        for line in outcome.problems:
            print(f"  problem: {line}")
        print(f"result: {outcome.result}")
    raise typer.Exit(EXIT_OK if outcome.result == "succeeded" else EXIT_ERROR)


def _print_plan(plan: Any) -> None:
    print(f"{plan.cluster}: {plan.summary}")
    for check in plan.checks:
        print(f"  ✓ {check}")
    for note in plan.notes:
        print(f"  note: {note}")
    if plan.prepare is not None:
        prep = {k: v for k, v in plan.prepare.items() if k != "ServerProperties"}
        print(f"first: create_configuration {json.dumps(prep)}")
    print(f"request: {plan.api}")
    print(json.dumps(plan.request, indent=2))
    print("same as:\n  " + plan.cli().replace(" --", " \\\n    --"))


def _tagged(operation: str, fn: Any) -> Any:
    fn.operation = operation
    return fn


@scale_app.command("storage")
def scale_storage(
    config: ConfigOpt,
    to: Annotated[str | None, typer.Option("--to", help="Target GiB per broker.")] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="GiB to add per broker, or a share: 20%.")
    ] = None,
    cluster: ClusterOpt = None,
    apply: ApplyFlag = False,
    store: StoreOpt = None,
    timeout: TimeoutOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Grow every broker's EBS volume (update_broker_storage).

    Refused when it would shrink, exceed 16 TiB, exceed actions.storage_step_gib per change or
    actions.storage_cap_gib per broker, or fall within 6 h of the last storage update.

    Examples:

      kafkaops msk scale storage --by 100 -c kafkaops.yaml --cluster prod

      kafkaops msk scale storage --to 1100 -c kafkaops.yaml --cluster prod --apply

      kafkaops msk scale storage --by 20% -c kafkaops.yaml --cluster prod
    """
    from kafkaops.actions.guardrails import plan_storage
    from kafkaops.actions.settings import storage_increment

    if (to is None) == (by is None):
        fail("give exactly one of --to SIZE or --by SIZE")
    share = by is not None and by.strip().endswith("%")
    if share:
        try:
            storage_increment(str(by), 100)
        except ValueError as exc:
            fail(f"--by: {exc}")
    to_gib, by_gib = _gib(to, "--to"), None if share else _gib(by, "--by")
    ctx = _Ctx(config, cluster, store)
    s = ctx.config.actions
    make = _tagged(
        "scale_storage",
        lambda info, ops: plan_storage(
            info,
            ops,
            utcnow(),
            to_gib=to_gib,
            by_gib=storage_increment(str(by), info.ebs_volume_gib or 0) if share else by_gib,
            step_gib=s.storage_step_gib,
            cap_gib=s.storage_cap_gib,
            cooldown=timedelta(milliseconds=s.storage_cooldown),
            cluster=ctx.cluster,
        ),
    )
    _run(ctx, make, apply, as_json, timeout)


@scale_app.command("brokers")
def scale_brokers(
    config: ConfigOpt,
    count: Annotated[int | None, typer.Option("--count", help="Target number of brokers.")] = None,
    add_per_az: Annotated[
        int | None, typer.Option("--add-per-az", help="Brokers to add in every AZ.", min=1)
    ] = None,
    cluster: ClusterOpt = None,
    apply: ApplyFlag = False,
    store: StoreOpt = None,
    timeout: TimeoutOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Add brokers (update_broker_count): only up, a multiple of the AZ count.

    Examples:

      kafkaops msk scale brokers --count 6 -c kafkaops.yaml --cluster prod

      kafkaops msk scale brokers --add-per-az 1 -c kafkaops.yaml --cluster prod
    """
    from kafkaops.actions.guardrails import plan_brokers

    if (count is None) == (add_per_az is None):
        fail("give exactly one of --count N or --add-per-az N")
    ctx = _Ctx(config, cluster, store)

    def target(info: Any) -> int:
        if count is not None:
            return count
        azs = ctx.msk.az_count or len(info.client_subnets) or 1
        return (info.broker_count or 0) + azs * (add_per_az or 0)

    make = _tagged(
        "scale_brokers",
        lambda info, ops: plan_brokers(
            info, ops, target(info), az_count=ctx.msk.az_count, cluster=ctx.cluster
        ),
    )
    _run(ctx, make, apply, as_json, timeout)


@scale_app.command("type")
def scale_type(
    config: ConfigOpt,
    to: Annotated[str, typer.Option("--to", help="Instance type, e.g. kafka.m7g.xlarge.")],
    cluster: ClusterOpt = None,
    apply: ApplyFlag = False,
    store: StoreOpt = None,
    timeout: TimeoutOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Change the broker instance type (update_broker_type, rolling).

    Refused when the partitions per broker (from the cluster, when reachable) exceed the new
    type's MSK maximum.

    Examples:

      kafkaops msk scale type --to kafka.m7g.xlarge -c kafkaops.yaml --cluster prod
    """
    from kafkaops.actions.guardrails import plan_type

    ctx = _Ctx(config, cluster, store)
    snap = ctx.snapshot()
    per_broker = None
    if snap is not None and snap.brokers:
        replicas = sum(len(p.replicas) for p in snap.partitions)
        per_broker = -(-replicas // len(snap.brokers))
    make = _tagged(
        "scale_type",
        lambda info, ops: plan_type(
            info, ops, to, partitions_per_broker=per_broker, cluster=ctx.cluster
        ),
    )
    _run(ctx, make, apply, as_json, timeout)


@msk_app.command("reboot")
def reboot(
    config: ConfigOpt,
    broker: Annotated[int, typer.Option("--broker", help="Broker id (1-based, as MSK).")],
    cluster: ClusterOpt = None,
    apply: ApplyFlag = False,
    store: StoreOpt = None,
    timeout: TimeoutOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Reboot one broker (reboot_broker): never while partitions are under-replicated.

    The cluster must be in the config's clusters (same name) so kafkaops can check the ISR.

    Examples:

      kafkaops msk reboot --broker 2 -c kafkaops.yaml --cluster prod --apply
    """
    from kafkaops.actions.guardrails import plan_reboot

    ctx = _Ctx(config, cluster, store)
    snap = ctx.snapshot()
    urp = len(snap.under_replicated_partitions) if snap is not None else None
    make = _tagged(
        "reboot",
        lambda info, ops: plan_reboot(info, ops, broker, under_replicated=urp, cluster=ctx.cluster),
    )
    _run(ctx, make, apply, as_json, timeout)


@configuration_app.command("apply")
def configuration_apply(
    file: Annotated[Path, typer.Argument(help="server.properties to apply.")],
    config: ConfigOpt,
    name: Annotated[
        str | None, typer.Option("--name", help="Configuration name (default: cluster-date).")
    ] = None,
    cluster: ClusterOpt = None,
    apply: ApplyFlag = False,
    store: StoreOpt = None,
    timeout: TimeoutOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a configuration from FILE and apply it (update_cluster_configuration).

    Examples:

      kafkaops msk configuration apply broker.properties -c kafkaops.yaml --cluster prod
    """
    from kafkaops.actions.guardrails import plan_configuration

    try:
        text = file.read_text()
    except OSError as exc:
        fail(f"{file}: {exc.strerror}")
    ctx = _Ctx(config, cluster, store)
    cfg_name = name or f"{ctx.cluster}-{utcnow().strftime('%Y%m%dT%H%M%SZ')}"
    make = _tagged(
        "configuration",
        lambda info, ops: plan_configuration(
            info, ops, text, name=cfg_name, source=str(file), cluster=ctx.cluster
        ),
    )
    _run(ctx, make, apply, as_json, timeout)


@msk_app.command("audit")
def audit_cmd(
    config: ConfigOpt,
    cluster: ClusterOpt = None,
    last: Annotated[int, typer.Option("--last", min=1, max=10_000)] = 20,
    store: StoreOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """The actions audit trail: who did what, when, and the result (UTC).

    Examples:

      kafkaops msk audit -c kafkaops.yaml --last 50 --json
    """
    from kafkaops.actions.audit import AuditLog
    from kafkaops.config import load_config

    try:
        url = store or load_config(config).store.url
    except KafkaopsError as exc:
        fail(str(exc))
    if not url:
        fail(f"config error: {config}: store.url: no audit store (set it or pass --store)")
    with AuditLog.open(url) as audit:
        rows = audit.list(cluster, last)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        print(f"{r['at']}  {r['cluster']:<12} {r['operation']:<13} {r['result']:<10} {r['who']}")
        print(f"    {r['summary'][:74]}")
