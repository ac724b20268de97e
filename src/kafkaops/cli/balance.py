"""``kafkaops balance`` and ``kafkaops partitions``: the runbook's "Partition Imbalance" section.

Exit codes: ``balance`` (the diagnosis) 0 every broker in band, 1 outside a band, 3 error;
every other command 0 success, 3 bad input, a refused plan or a failed operation; 130 when an
apply was interrupted (its throttle removed, its batch in flight cancelled).

Why this module is long: six commands (diagnose, plan, apply, status, cancel, cleanup) plus
``partitions add``, each a thin shell with its own help text, examples and output formatting;
the logic is in :mod:`kafkaops.balance`.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kafkaops.cli.common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_P2,
    JsonFlag,
    emit_json,
    fail,
)
from kafkaops.core.errors import KafkaopsError

if TYPE_CHECKING:
    from kafkaops.balance.layout import Layout
    from kafkaops.core.model import ClusterSnapshot
    from kafkaops.pipeline.health import Target

#: Outside the tolerance band is a P2 finding: exit 1, as in the one table (cli/common).
EXIT_OUTSIDE_BAND = EXIT_P2

out = Console()
err = Console(stderr=True)

balance_app = typer.Typer(
    help="Partition balance: diagnose skew, plan the fewest-bytes reassignment, apply it "
    "under a replication throttle that is always removed.\n\n"
    "Examples:\n\n"
    "  kafkaops balance              # per-broker skew; exit 1 outside the band\n\n"
    "  kafkaops balance plan --add 4 -o plan.json\n\n"
    "  kafkaops balance plan --drain 3 -o drain.json\n\n"
    "  kafkaops balance apply plan.json --throttle 50MiB/s\n\n"
    "  kafkaops balance status; kafkaops balance cleanup\n\n"
    "  kafkaops balance --bootstrap HOST:9092 plan -o plan.json\n\n"
    "Target options (--bootstrap, --config/--cluster, --dir) go before the subcommand.",
    invoke_without_command=True,
    rich_markup_mode=None,
)
partitions_app = typer.Typer(
    help="Partition scaling (the runbook's '+4 partitions when lag > 10,000').\n\n"
    "Examples:\n\n"
    "  kafkaops partitions add orders --by 4            # dry run: placement, keyed check\n\n"
    "  kafkaops partitions add orders --by 4 --apply",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Bootstrap = Annotated[
    str | None, typer.Option(help="Bootstrap servers, HOST:PORT[,…].", envvar="KAFKAOPS_BOOTSTRAP")
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="kafkaops YAML config.", envvar="KAFKAOPS_CONFIG"),
]
ClusterName = Annotated[str | None, typer.Option(help="Cluster name from the config.")]
SandboxDir = Annotated[
    Path | None, typer.Option("--dir", help="Sandbox state folder (when no other target).")
]


def _target(bootstrap: str | None, config: Path | None, cluster: str | None, box: Path | None):
    from kafkaops.pipeline.health import resolve_target

    return resolve_target(
        bootstrap=bootstrap, config_path=config, cluster=cluster, sandbox_root=box
    )


def _snapshot(target: Target) -> ClusterSnapshot:
    from kafkaops.collect.snapshot import collect_snapshot

    return collect_snapshot(
        target.name, target.client_kwargs, replace(target.options, time_lag_method="none")
    )


def _layout(snapshot: ClusterSnapshot) -> Layout:
    from kafkaops.balance.layout import layout_from_snapshot

    if snapshot.errors:
        for e in snapshot.errors[:3]:
            err.print(f"warning: {e.source} {e.target}: {e.message}", markup=False)
    return layout_from_snapshot(snapshot)


def _fmt_bytes(n: float) -> str:
    from kafkaops.core.units import format_bytes

    return format_bytes(n)


# ------------------------------------------------------------------------------ diagnosis
@balance_app.callback()
def balance(
    ctx: typer.Context,
    bootstrap: Bootstrap = None,
    config: ConfigFile = None,
    cluster: ClusterName = None,
    tolerance: Annotated[
        str | None, typer.Option(help="Band around the mean, e.g. 10% (default: config).")
    ] = None,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Per broker: replicas, leaders, bytes on disk, rack; skew against the mean.

    Also topics clustered on few brokers, rack-awareness violations and partitions not led by
    their preferred leader.  Exit 0 when every broker is in band, 1 when one is not.

    Examples:

      kafkaops balance

      kafkaops balance --tolerance 5% --json | jq '.dimensions'
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"bootstrap": bootstrap, "config": config, "cluster": cluster, "dir": sandbox_dir}
        return
    from kafkaops.balance.diagnosis import diagnose, imbalance_finding
    from kafkaops.core.units import parse_percent

    try:
        target = _target(bootstrap, config, cluster, sandbox_dir)
        settings = target.config.balance
        tol = parse_percent(tolerance) if tolerance else settings.tolerance
        layout = _layout(_snapshot(target))
    except ValueError as exc:
        fail(f"--tolerance: {exc}")
    except KafkaopsError as exc:
        fail(str(exc))
    diag = diagnose(layout, tolerance=tol / 100, min_disk_bytes=settings.min_disk_bytes)
    finding = imbalance_finding(diag)
    if as_json:
        data = asdict(diag)
        data["imbalanced"] = diag.imbalanced
        data["dimensions"] = [
            {**asdict(d), "outside": d.outside, "max_skew": round(d.max_skew, 4)}
            for d in diag.dimensions
        ]
        data["finding"] = finding.to_dict()
        emit_json(data)
    else:
        _render_diagnosis(diag)
    raise typer.Exit(EXIT_OUTSIDE_BAND if diag.imbalanced else EXIT_OK)


def _render_diagnosis(diag: Any) -> None:
    dims = {d.name: d for d in diag.dimensions}
    table = Table("broker", "rack", "replicas", "leaders", "bytes", title="per broker")
    for b in diag.brokers:
        cells = []
        for name, value in (("replicas", b.replicas), ("leaders", b.leaders), ("bytes", b.bytes)):
            text = _fmt_bytes(value) if name == "bytes" else str(value)
            if b.broker in dims[name].outside:
                text = f"[red]{text}[/red]"
            cells.append(text)
        table.add_row(str(b.broker), b.rack or "-", *cells)
    out.print(table)
    for d in diag.dimensions:
        if not d.evaluated:
            out.print(f"{d.name}: {d.note}", markup=False)
            continue
        fmt = _fmt_bytes if d.name == "bytes" else (lambda v: f"{v:g}")
        state = "OUTSIDE" if d.outside else "in band"
        out.print(
            f"{d.name}: mean {fmt(round(d.mean, 1))}, band {fmt(d.lower)}–{fmt(d.upper)} "
            f"(±{diag.tolerance:.0%}), max skew {d.max_skew:.0%}: {state}",
            markup=False,
        )
    if diag.clustered_topics:
        out.print(f"{len(diag.clustered_topics)} topic(s) clustered on few brokers:", markup=False)
        for t in diag.clustered_topics[:10]:
            out.print(
                f"  {t.topic}: {t.kind} on {t.brokers_used} of {t.brokers_possible} possible "
                f"brokers, up to {t.max_per_broker} on one (expected ≤ {t.expected_max})",
                markup=False,
            )
    if diag.rack_violations:
        out.print(f"{len(diag.rack_violations)} rack-awareness violation(s):", markup=False)
        for v in diag.rack_violations[:10]:
            out.print(f"  {v}", markup=False)
    if diag.non_preferred_leaders:
        out.print(
            f"{len(diag.non_preferred_leaders)} partition(s) not led by their preferred leader "
            f"(e.g. {diag.non_preferred_leaders[0]})",
            markup=False,
        )
    verdict = "IMBALANCED: kafkaops balance plan -o plan.json" if diag.imbalanced else "balanced"
    out.print(verdict, markup=False)


def _obj(ctx: typer.Context) -> dict[str, Any]:
    return ctx.obj or {}


def _ctx_target(ctx: typer.Context) -> Target:
    o = _obj(ctx)
    return _target(o.get("bootstrap"), o.get("config"), o.get("cluster"), o.get("dir"))


# ---------------------------------------------------------------------------------- plan
@balance_app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    goal: Annotated[str, typer.Option(help="replicas | leaders | disk.")] = "replicas",
    drain: Annotated[
        list[int] | None, typer.Option(help="Empty this broker (repeat for several).")
    ] = None,
    add: Annotated[
        list[int] | None, typer.Option(help="Fill this new broker; only destination.")
    ] = None,
    topics: Annotated[str | None, typer.Option(help="Only topics matching this regex.")] = None,
    max_moves: Annotated[int | None, typer.Option(min=0, help="At most N partitions.")] = None,
    max_bytes: Annotated[
        str | None, typer.Option(help="At most this much data, e.g. 100GiB.")
    ] = None,
    tolerance: Annotated[str | None, typer.Option(help="Band, e.g. 10%.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the plan here.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Plan the reassignment that brings every broker into the band with the fewest bytes.

    Rack-aware (hard), replication factor kept, smallest replicas first, leadership changes
    before data moves, a replica moved at most once.  The file is kafka-reassign-partitions
    JSON (--execute reads it) plus a 'kafkaops' key with the prediction.  Nothing is changed.

    Examples:

      kafkaops balance plan --add 4 -o plan.json

      kafkaops balance plan --drain 3 -o drain.json   # MSK removes only empty ones

      kafkaops balance plan --goal leaders -o leaders.json

      kafkaops balance plan --topics '^orders' --max-bytes 50GiB -o plan.json
    """
    import json

    from kafkaops.balance.audit import utc_now
    from kafkaops.balance.plan_file import plan_to_dict
    from kafkaops.balance.planner import PlanRequest, plan_reassignment
    from kafkaops.core.units import parse_bytes, parse_percent

    try:
        target = _ctx_target(ctx)
        tol = parse_percent(tolerance) if tolerance else target.config.balance.tolerance
        limit = parse_bytes(max_bytes) if max_bytes else None
    except ValueError as exc:
        fail(str(exc))
    except KafkaopsError as exc:
        fail(str(exc))
    try:
        layout = _layout(_snapshot(target))
        plan = plan_reassignment(
            layout,
            PlanRequest(
                goal=goal,
                drain=frozenset(drain or ()),
                add=frozenset(add or ()),
                topics=topics,
                max_moves=max_moves,
                max_bytes=limit,
                tolerance=tol / 100,
            ),
        )
    except KafkaopsError as exc:
        fail(str(exc))
    data = plan_to_dict(plan, created_at=utc_now())
    if output is not None:
        try:
            output.write_text(json.dumps(data, indent=1) + "\n")
        except OSError as exc:
            fail(f"{output}: cannot be written: {exc.strerror or exc}")
    if as_json:
        emit_json(data if output is None else data["kafkaops"])
        return
    _render_plan(plan)
    if output is not None:
        out.print(
            f"plan written to {output}: kafkaops balance apply {output} --throttle 50MiB/s",
            markup=False,
        )
    elif plan.moves:
        out.print("(no -o FILE given: nothing written)", markup=False)


def _render_plan(plan: Any) -> None:
    data_moves = [m for m in plan.moves if not m.leadership_only]
    out.print(
        f"goal {plan.goal}: {len(data_moves)} partition(s) move {plan.replica_moves} replica(s), "
        f"{_fmt_bytes(plan.bytes_to_move)}; "
        f"{len(plan.moves) - len(data_moves)} leadership-only change(s)",
        markup=False,
    )
    table = Table("broker", "rack", "replicas", "leaders*", "bytes", title="before → after")
    after = {b.broker: b for b in plan.after}
    for b in plan.before:
        a = after[b.broker]
        table.add_row(
            str(b.broker),
            b.rack or "-",
            f"{b.replicas} → {a.replicas}",
            f"{b.preferred_leaders} → {a.preferred_leaders}",
            f"{_fmt_bytes(b.bytes)} → {_fmt_bytes(a.bytes)}",
        )
    out.print(table)
    out.print("* preferred leaders (leaders after the election that ends an apply)", markup=False)
    for note in plan.notes:
        out.print(f"note: {note}", markup=False)
    out.print(
        "every broker in band after this plan"
        if plan.complete
        else "this plan does NOT bring every broker into the band (see the notes)",
        markup=False,
    )


# --------------------------------------------------------------------------------- apply
@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP become KeyboardInterrupt, so the throttle is removed on them too."""

    def handler(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@balance_app.command("apply")
def apply_cmd(
    ctx: typer.Context,
    plan_file: Annotated[Path, typer.Argument(help="Plan JSON (ours or kafka-reassign's).")],
    throttle: Annotated[
        str | None, typer.Option(help="Replication throttle, e.g. 50MiB/s (default: config).")
    ] = None,
    batch: Annotated[int | None, typer.Option(min=1, help="Partitions at a time.")] = None,
    force: Annotated[
        bool,
        typer.Option(
            help="Start despite offline/under-replicated partitions or a running reassignment."
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Check the plan and stop.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Apply a plan in batches under a replication throttle, then elect preferred leaders.

    Refuses (nothing applied) a plan naming an unknown broker or topic, changing a
    replication factor, repeating a broker or breaking rack awareness, and a cluster with
    offline or under-replicated partitions or a reassignment running (unless --force).
    The throttle is removed at the end, on an error, on Ctrl-C and on SIGTERM; an
    interrupted apply cancels its batch in flight.  Every apply is audited.

    Examples:

      kafkaops balance apply plan.json --dry-run

      kafkaops balance apply plan.json --throttle 50MiB/s --batch 10
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from kafkaops.balance.admin import BalanceAdmin
    from kafkaops.balance.executor import apply_plan, effective, preflight
    from kafkaops.balance.plan_file import check_plan, load_plan, plan_hash
    from kafkaops.balance.settings import parse_rate

    try:
        target = _ctx_target(ctx)
        settings = target.config.balance
        rate = parse_rate(throttle) if throttle else settings.throttle
        data, reassignments = load_plan(plan_file)
    except ValueError as exc:
        fail(f"--throttle: {exc}")
    except KafkaopsError as exc:
        fail(str(exc))
    size = batch or settings.batch
    try:
        snapshot = _snapshot(target)
        layout = _layout(snapshot)
        with BalanceAdmin(target.client_kwargs) as admin:
            if dry_run:
                problems = check_plan(reassignments, layout)
                blockers = preflight(snapshot, admin.reassignments())
                todo = effective(reassignments, layout)
                report = {
                    "plan": str(plan_file),
                    "plan_hash": plan_hash(data),
                    "refused": problems,
                    "blockers": blockers,
                    "partitions_to_change": len(todo),
                }
                if as_json:
                    emit_json(report)
                else:
                    for p in problems:
                        out.print(f"refused: {p}", markup=False)
                    for b in blockers:
                        out.print(f"blocker: {b}", markup=False)
                    out.print(
                        f"dry run: {len(todo)} partition(s) would change; nothing applied",
                        markup=False,
                    )
                raise typer.Exit(EXIT_ERROR if problems else EXIT_OK)
            bar = Progress(
                TextColumn("batch {task.fields[batch]}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TextColumn("{task.fields[parts]}"),
                TimeRemainingColumn(),
                console=err,
                disable=as_json,
            )
            task = bar.add_task("apply", total=None, batch="-", parts="")

            def show(p: Any) -> None:
                bar.update(
                    task,
                    total=max(p.bytes_total, 1),
                    completed=p.bytes_copied if p.bytes_total else 1,
                    batch=f"{p.batch}/{p.batches}",
                    parts=f"{p.partitions_done}/{p.partitions_total} partitions",
                )

            with _signals_interrupt(), bar:
                result = apply_plan(
                    admin,
                    snapshot,
                    layout,
                    reassignments,
                    throttle=rate,
                    batch=size,
                    force=force,
                    on_progress=show,
                    audit_log=settings.audit_log,
                    audit_fields={
                        "cluster": target.name,
                        "bootstrap": target.client_kwargs.get("bootstrap_servers"),
                        "plan_file": str(plan_file.resolve()),
                        "plan_hash": plan_hash(data),
                    },
                )
    except KeyboardInterrupt:
        err.print(
            "interrupted: batch in flight cancelled, throttle removed "
            "(check with 'kafkaops balance status')",
            markup=False,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except KafkaopsError as exc:
        fail(str(exc))
    if as_json:
        emit_json(asdict(result))
    else:
        out.print(
            f"{result.result}: {result.partitions} partition(s), "
            f"{_fmt_bytes(result.bytes_planned)} in {result.duration_s:.1f}s; throttle "
            + ("removed" if result.throttle_removed else "NOT removed: kafkaops balance cleanup"),
            markup=False,
        )
    if not result.throttle_removed:
        raise typer.Exit(EXIT_ERROR)


# ------------------------------------------------------------------- status/cancel/cleanup
@balance_app.command("status")
def status_cmd(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Running reassignments with bytes copied, throttle configs left on the cluster.

    Examples:

      kafkaops balance status

      kafkaops balance status --json | jq '.throttles'
    """
    from kafkaops.balance.admin import BalanceAdmin
    from kafkaops.balance.audit import read
    from kafkaops.balance.executor import status

    try:
        target = _ctx_target(ctx)
        layout = _layout(_snapshot(target))
        with BalanceAdmin(target.client_kwargs) as admin:
            st = status(admin, layout)
    except KafkaopsError as exc:
        fail(str(exc))
    data = st.to_dict()
    data["recent_audit"] = read(target.config.balance.audit_log, last=5)
    if as_json:
        emit_json(data)
        return
    if not st.running:
        out.print("no reassignment running", markup=False)
    else:
        out.print(f"{len(st.running)} partition reassignment(s) running:", markup=False)
        for name, (copied, size) in sorted(st.copied.items())[:30]:
            pct = f"{copied / size:.0%}" if size else "?"
            out.print(f"  {name}: {_fmt_bytes(copied)} of {_fmt_bytes(size)} ({pct})", markup=False)
    if st.throttles.empty:
        out.print("no throttle config on any broker or topic", markup=False)
    else:
        for b, cfg in sorted(st.throttles.brokers.items()):
            out.print(f"throttle on broker {b or '(cluster default)'}: {cfg}", markup=False)
        for t, cfg in sorted(st.throttles.topics.items()):
            out.print(f"throttle on topic {t}: {cfg}", markup=False)
        if not st.running:
            out.print("no reassignment needs it: kafkaops balance cleanup", markup=False)


@balance_app.command("cancel")
def cancel_cmd(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Cancel every running reassignment and remove every throttle config (audited).

    Example:

      kafkaops balance cancel
    """
    from kafkaops.balance import audit
    from kafkaops.balance.admin import BalanceAdmin
    from kafkaops.balance.executor import cancel

    try:
        target = _ctx_target(ctx)
        layout = _layout(_snapshot(target))
        with BalanceAdmin(target.client_kwargs) as admin:
            result = cancel(admin, layout)
        audit.record(target.config.balance.audit_log, "cancel", cluster=target.name, **result)
    except KafkaopsError as exc:
        fail(str(exc))
    if as_json:
        emit_json(result)
        return
    out.print(f"cancelled {len(result['cancelled'])} reassignment(s)", markup=False)
    _render_cleanup(result)
    if result["still_running"]:
        raise typer.Exit(EXIT_ERROR)


@balance_app.command("cleanup")
def cleanup_cmd(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option(help="Even while a reassignment runs.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Find and remove replication throttle configs left by anyone (brokers and topics).

    Examples:

      kafkaops balance cleanup

      kafkaops balance cleanup --json
    """
    from kafkaops.balance import audit
    from kafkaops.balance.admin import BalanceAdmin
    from kafkaops.balance.executor import cleanup

    try:
        target = _ctx_target(ctx)
        layout = _layout(_snapshot(target))
        with BalanceAdmin(target.client_kwargs) as admin:
            result = cleanup(admin, layout, force=force)
        audit.record(target.config.balance.audit_log, "cleanup", cluster=target.name, **result)
    except KafkaopsError as exc:
        fail(str(exc))
    if as_json:
        emit_json(result)
        return
    _render_cleanup(result)


def _render_cleanup(result: dict[str, Any]) -> None:
    removed = result["removed"]
    n = len(removed["brokers"]) + len(removed["topics"])
    out.print(
        f"removed throttle configs from {len(removed['brokers'])} broker(s) and "
        f"{len(removed['topics'])} topic(s)"
        if n
        else "no throttle config found",
        markup=False,
    )
    remaining = result["remaining"]
    if remaining["brokers"] or remaining["topics"]:
        out.print(f"still set: {remaining}", markup=False)


# ---------------------------------------------------------------------------- partitions
@partitions_app.command("add")
def partitions_add(
    topic: Annotated[str, typer.Argument(help="Topic to grow.")],
    by: Annotated[
        int | None,
        typer.Option(min=1, help="Partitions to add (default: lag.partition_increment, 4)."),
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Do it (default: dry run).")] = False,
    force: Annotated[bool, typer.Option(help="Also for a keyed topic.")] = False,
    bootstrap: Bootstrap = None,
    config: ConfigFile = None,
    cluster: ClusterName = None,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Add partitions to a topic, placed rack-aware; dry run unless --apply.

    A keyed topic (records with keys in a sample of the newest records) loses per-key
    ordering across the change — hash(key) % partitions moves keys — so it needs --force.

    Examples:

      kafkaops partitions add orders --by 4

      kafkaops partitions add orders --by 4 --apply
    """
    from kafkaops.balance.partitions import place_new_partitions, sample_keys

    try:
        target = _target(bootstrap, config, cluster, sandbox_dir)
        count = by or target.config.lag.partition_increment
        layout = _layout(_snapshot(target))
        current = sum(1 for p in layout.partitions if p.topic == topic)
        placement = place_new_partitions(layout, topic, count)
        read, keyed = sample_keys(target.client_kwargs, topic)
    except KafkaopsError as exc:
        fail(str(exc))
    report: dict[str, Any] = {
        "topic": topic,
        "partitions_before": current,
        "partitions_after": current + count,
        "new_partitions": [
            {"partition": current + i, "replicas": reps} for i, reps in enumerate(placement)
        ],
        "sampled_records": read,
        "keyed_records": keyed,
        "keyed": bool(keyed),
        "applied": False,
    }
    if keyed and apply and not force:
        fail(
            f"{topic} is keyed ({keyed} of {read} sampled records have a key): adding "
            "partitions changes which partition a key goes to, so per-key ordering breaks "
            "across the change; --force to do it anyway"
        )
    if apply:
        try:
            _create_partitions(target.client_kwargs, topic, current + count, placement)
        except KafkaopsError as exc:
            fail(str(exc))
        report["applied"] = True
    if as_json:
        emit_json(report)
        return
    out.print(f"{topic}: {current} → {current + count} partitions", markup=False)
    for i, reps in enumerate(placement):
        out.print(f"  {topic}-{current + i}: replicas {reps}", markup=False)
    if keyed:
        out.print(
            f"warning: keyed topic ({keyed} of {read} sampled records have keys): per-key "
            "ordering breaks across the change",
            markup=False,
        )
    out.print("applied" if apply else "dry run: nothing changed (--apply to do it)", markup=False)


def _create_partitions(
    client_kwargs: dict[str, Any], topic: str, total: int, placement: list[list[int]]
) -> None:
    from kafka.errors import KafkaError

    from kafkaops.balance.admin import BalanceAdmin, BalanceError

    with BalanceAdmin(client_kwargs) as admin:
        try:
            admin.admin.create_partitions(
                {topic: {"count": total, "assignments": placement}}, timeout_ms=30_000
            )
        except KafkaError as exc:
            raise BalanceError(f"CreatePartitions failed: {type(exc).__name__}: {exc}") from exc
