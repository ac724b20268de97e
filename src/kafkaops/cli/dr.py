"""``kafkaops dr``: verify the replica, fail over to it, drill; ``kafkaops sandbox mirror``.

Exit codes as ``health``: 0 healthy, 1 P2 findings only, 2 a P1, 3 bad input or a cluster
that cannot be reached (one line on stderr, nothing changed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from kafkaops.cli.common import EXIT_ERROR, EXIT_OK, EXIT_P1_P0, EXIT_P2, JsonFlag, emit_json, fail
from kafkaops.core.errors import KafkaopsError

#: Same values as ``kafkaops.cli`` (not imported: that module imports this one).

out = Console()
err = Console(stderr=True)

dr_app = typer.Typer(
    help="Disaster recovery: verify the MirrorMaker 2 / MSK Replicator replica, fail over.\n\n"
    "Without --config the sandbox pair is used (sandbox up; sandbox up --name dr; sandbox "
    "mirror up).\n\n"
    "Examples:\n\n"
    "  kafkaops dr verify\n\n"
    "  kafkaops dr verify --json | jq '.rpo_estimate_ms, .findings[].rule'\n\n"
    "  kafkaops dr verify --config kafkaops.yaml\n\n"
    "  kafkaops dr failover --to dr            # the plan; nothing changes\n\n"
    "  kafkaops dr failover --to dr --apply",
    no_args_is_help=True,
    rich_markup_mode=None,
)
mirror_app = typer.Typer(
    help="MirrorMaker 2 between two sandbox clusters (dedicated mode).\n\n"
    "Examples:\n\n"
    "  kafkaops sandbox up --name dr --brokers 1\n\n"
    "  kafkaops sandbox mirror up --from default --to dr\n\n"
    "  kafkaops sandbox mirror up --policy identity   # topic names kept\n\n"
    "  kafkaops sandbox mirror status --json\n\n"
    "  kafkaops sandbox mirror down",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="kafkaops YAML with a dr: section (default: sandbox).",
        envvar="KAFKAOPS_CONFIG",
    ),
]
FromOpt = Annotated[str, typer.Option("--from", help="Primary sandbox name.")]
ToOpt = Annotated[str, typer.Option("--to", help="Replica sandbox name.")]
PolicyOpt = Annotated[
    str | None,
    typer.Option("--policy", help="Replication policy: default (source.topic) or identity."),
]


def _policy(value: str | None) -> Any:
    if value is not None and value not in ("default", "identity"):
        fail(f"--policy {value!r}: use 'default' or 'identity'")
    return value


# ------------------------------------------------------------------------- mirror
@mirror_app.command("up")
def mirror_up(
    source: FromOpt = "default",
    target: ToOpt = "dr",
    policy: PolicyOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Start MirrorMaker 2 (checkpoints, heartbeats and group-offset sync on) and wait until
    it writes heartbeats to the replica.

    Examples:

      kafkaops sandbox mirror up

      kafkaops sandbox mirror up --from default --to dr --policy identity
    """
    from kafkaops.sandbox.mirror import Mirror

    try:
        mirror = Mirror(source, target)
        with err.status("starting MirrorMaker 2 …"):
            status = mirror.up(
                policy=_policy(policy),
                progress=lambda m: err.print(m, markup=False, highlight=False),
            )
            mirror.wait_flowing()
    except KafkaopsError as exc:
        fail(str(exc))
    if as_json:
        emit_json(status)
    else:
        out.print(
            f"MirrorMaker 2 {source} -> {target} running ({status['policy']} policy), "
            f"pid {status['pid']}",
            markup=False,
            highlight=False,
        )


@mirror_app.command("down")
def mirror_down(source: FromOpt = "default", target: ToOpt = "dr") -> None:
    """Stop the MirrorMaker 2 process of a sandbox pair.

    Example:

      kafkaops sandbox mirror down
    """
    from kafkaops.sandbox.mirror import Mirror

    try:
        stopped = Mirror(source, target).down()
    except KafkaopsError as exc:
        fail(str(exc))
    err.print(f"stopped {stopped} process(es)", markup=False)


@mirror_app.command("status")
def mirror_status(
    source: FromOpt = "default", target: ToOpt = "dr", as_json: JsonFlag = False
) -> None:
    """Is MirrorMaker 2 running, with which policy, between which bootstrap servers.

    Examples:

      kafkaops sandbox mirror status

      kafkaops sandbox mirror status --json | jq .running
    """
    from kafkaops.sandbox.mirror import Mirror

    try:
        status = Mirror(source, target).status()
    except KafkaopsError as exc:
        fail(str(exc))
    if as_json:
        emit_json(status)
        return
    state = "running" if status["running"] else "stopped"
    out.print(
        f"{source} -> {target}: {state}, policy {status['policy'] or '-'}, "
        f"pid {status['pid'] or '-'}\nconfig {status['config'] or '-'}\nlog {status['log']}",
        markup=False,
        highlight=False,
    )


# ---------------------------------------------------------------------------- dr
def _verify(config: Path | None, source: str, target: str, policy: str | None) -> Any:
    from kafkaops.pipeline.dr_pair import check_pair, resolve_pair

    try:
        pair = resolve_pair(config, source=source, target=target, policy=_policy(policy))
        with err.status(f"collecting {pair.primary} and {pair.replica} …"):
            facts, report = check_pair(pair)
    except KafkaopsError as exc:
        fail(str(exc))
    return pair, facts, report


@dr_app.command("verify")
def dr_verify(
    config: ConfigOpt = None,
    source: FromOpt = "default",
    target: ToOpt = "dr",
    policy: PolicyOpt = None,
    show_all: Annotated[bool, typer.Option("--all", help="Also list healthy rows.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Verify the replica: topics under the policy's names, partition counts and key configs,
    per-partition lag in records and seconds (MM2 offset syncs + record timestamps), heartbeat
    age, every group's translated offset (checkpoints) and the replay a failover would cause,
    an RPO estimate with its evidence, against the RPO/RTO targets.

    Examples:

      kafkaops dr verify

      kafkaops dr verify --json | jq '.rpo_estimate_ms'

      kafkaops dr verify --config kafkaops.yaml --all
    """
    from kafkaops.core.model import Severity
    from kafkaops.dr.view import render_report

    _pair, _facts, report = _verify(config, source, target, policy)
    if as_json:
        emit_json(report.to_dict())
    else:
        render_report(report, out, show_all=show_all)
    if not report.findings:
        raise typer.Exit(EXIT_OK)
    if not (_facts.primary.reachable or _facts.replica.reachable):
        raise typer.Exit(EXIT_ERROR)
    raise typer.Exit(EXIT_P2 if report.severity is Severity.P2 else EXIT_P1_P0)


def _render_failover(res: Any) -> None:
    from rich.table import Table

    t = Table(title=f"failover {res.primary} -> {res.replica} ({res.mode})", title_justify="left")
    for col in ("step", "status", "detail"):
        t.add_column(col, overflow="fold")
    for s in res.steps:
        t.add_row(s.name, s.status, s.detail)
    out.print(t)
    if res.mode == "apply":
        rto = "-" if res.rto_ms is None else f"{res.rto_ms / 1000:.1f}s"
        rpo = "unknown" if res.rpo_estimate_ms is None else f"{res.rpo_estimate_ms / 1000:.1f}s"
        out.print(f"measured RTO {rto}; RPO estimate {rpo} ({res.rpo_basis})", markup=False)
    undo = [s for s in res.steps if s.rollback]
    if not res.ok and undo:
        out.print("to roll back what was done:", markup=False)
        for s in reversed(undo):
            out.print(f"  {s.name}: {s.rollback}", markup=False, highlight=False)


def _failover(
    config: Path | None,
    source: str,
    target: str,
    apply: bool,
    accept_data_loss: bool,
    groups: list[str] | None,
    fence_command: str | None,
    switch_file: Path | None,
    verify_timeout: float,
    audit_log: Path | None,
    as_json: bool,
    reverse: bool = False,
) -> None:
    from kafkaops.dr.failover import Failover
    from kafkaops.dr.settings import EndpointSwitch
    from kafkaops.pipeline.dr_pair import resolve_pair

    try:
        pair = resolve_pair(config, source=source, target=target, reverse=reverse)
    except KafkaopsError as exc:
        fail(str(exc))
    switch = EndpointSwitch(type="file", path=str(switch_file)) if switch_file else None
    audit = audit_log
    if audit is None and pair.mirror is not None:
        audit = pair.mirror.root.parent / "dr-audit.jsonl"
    fo = Failover(
        pair,
        accept_data_loss=accept_data_loss,
        groups=groups,
        switch=switch,
        fence_command=fence_command,
        verify_timeout_s=verify_timeout,
        audit_log=audit,
        progress=(lambda m: err.print(m, markup=False, highlight=False)),
    )
    res = fo.run(apply=apply)
    if as_json:
        emit_json(res.to_dict())
    else:
        _render_failover(res)
    if not res.ok:
        failed = next((s for s in res.steps if s.status == "failed"), None)
        # A refusal at preflight changed nothing: bad input / not safe (3); later: stopped (2).
        code = EXIT_ERROR if failed is None or failed.name == "preflight" else EXIT_P1_P0
        raise typer.Exit(code)


ApplyOpt = Annotated[
    bool, typer.Option("--apply/--plan", help="Run the steps (default: --plan, change nothing).")
]
AcceptLossOpt = Annotated[
    bool,
    typer.Option(
        "--accept-data-loss",
        help="Go on although replication is behind the RPO or cannot be measured.",
    ),
]
GroupOpt = Annotated[
    list[str] | None, typer.Option("--group", help="Only these consumer groups (repeatable).")
]
FenceOpt = Annotated[
    str | None,
    typer.Option("--fence-command", help="Command that stops or fences the producers."),
]
SwitchFileOpt = Annotated[
    Path | None,
    typer.Option("--switch-file", help="Endpoint switch: write the new bootstrap to this file."),
]
VerifyTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--verify-timeout", min=0, help="Seconds to wait for consumers to resume (0: skip)."
    ),
]
AuditOpt = Annotated[
    Path | None, typer.Option("--audit-log", help="Append the record to this JSON-lines file.")
]


@dr_app.command("failover")
def dr_failover(
    config: ConfigOpt = None,
    source: FromOpt = "default",
    target: ToOpt = "dr",
    apply: ApplyOpt = False,
    accept_data_loss: AcceptLossOpt = False,
    group: GroupOpt = None,
    fence_command: FenceOpt = None,
    switch_file: SwitchFileOpt = None,
    verify_timeout: VerifyTimeoutOpt = 0.0,
    audit_log: AuditOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Fail over to the replica: preflight (replica healthy, replication within the RPO),
    stop replication, fence producers (your command), commit each group's translated offsets
    on the replica (groups with no active members there), switch the client endpoint (file,
    command or Route 53), verify consumers resume, record RTO/RPO in the audit trail.

    Exit codes: 0 done (or planned), 2 a step failed (what was done and how to undo it are
    printed), 3 refused at preflight or bad input (nothing changed).

    Examples:

      kafkaops dr failover --to dr                  # the plan; nothing changes

      kafkaops dr failover --to dr --apply --switch-file /etc/app/bootstrap

      kafkaops dr failover --apply --accept-data-loss --verify-timeout 120
    """
    _failover(config, source, target, apply, accept_data_loss, group, fence_command,
              switch_file, verify_timeout, audit_log, as_json)  # fmt: skip


@dr_app.command("failback")
def dr_failback(
    config: ConfigOpt = None,
    source: Annotated[str, typer.Option("--from", help="The replica now serving.")] = "dr",
    target: Annotated[str, typer.Option("--to", help="The original primary.")] = "default",
    apply: ApplyOpt = False,
    accept_data_loss: AcceptLossOpt = False,
    group: GroupOpt = None,
    switch_file: SwitchFileOpt = None,
    verify_timeout: VerifyTimeoutOpt = 0.0,
    audit_log: AuditOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Fail back: the same steps in the other direction.  Needs replication running from the
    replica back to the original primary first (e.g. 'kafkaops sandbox mirror up --from dr
    --to default'), so the primary has the records written during the outage and
    checkpoints to translate from.

    Examples:

      kafkaops dr failback                          # the plan

      kafkaops dr failback --apply --switch-file /etc/app/bootstrap
    """
    _failover(config, source, target, apply, accept_data_loss, group, None, switch_file,
              verify_timeout, audit_log, as_json, reverse=True)  # fmt: skip


@dr_app.command("drill")
def dr_drill(
    config: ConfigOpt = None,
    source: FromOpt = "default",
    target: ToOpt = "dr",
    rate: Annotated[float, typer.Option(min=1, max=1000, help="Records per second.")] = 50.0,
    warmup: Annotated[float, typer.Option(min=0, help="Seconds of traffic before the kill.")] = 10,
    fail_back: Annotated[bool, typer.Option(help="Restart the primary and MM2 afterwards.")] = True,
    report_dir: Annotated[
        Path | None, typer.Option(help="Where drill-<time>.json and .html go.")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Keep the report in this store (sqlite:///FILE, …)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The monthly DR test: a live producer (keyed records with sequence numbers) and
    consumer on a topic and group of the drill's own, the primary taken away, failover
    applied; measures RTO (first failing produce → first produce acknowledged by the replica)
    and RPO (records acknowledged by the primary but absent on the replica), counts
    duplicates and gaps, fails back, and writes a JSON and an HTML report.

    The sandbox pair (no --config): the primary's brokers are killed.  A configured pair
    (--config, its dr: section): nothing is killed — the drill's own clients stop using the
    primary (a simulated outage; the RPO is what the replica lacked at that instant), only
    their endpoint is switched, the configured fence command and endpoint switch are NOT
    run, and the drill's topic and group are deleted afterwards.  MM2 on that pair must
    replicate topics and groups named drill-*.

    Examples:

      kafkaops dr drill

      kafkaops dr drill --rate 100 --warmup 20 --report-dir reports/

      kafkaops dr drill --config kafkaops.yaml --report-dir reports/

    With --config the report is also kept in its store.url (dashboard, /api/reports) and
    sent to channels.reports.to.dr_drill.
    """
    from kafkaops.dr.drill import Drill
    from kafkaops.dr.drill_report import render_drill
    from kafkaops.pipeline.dr_pair import resolve_pair

    cfg = _report_config(config)  # before the drill: a bad file must not cost a drill

    try:
        pair = resolve_pair(config, source=source, target=target)
    except KafkaopsError as exc:
        fail(str(exc))
    if pair.mirror is not None and not pair.mirror.running():
        fail(f"MirrorMaker 2 {source} -> {target} is not running: 'kafkaops sandbox mirror up'")
    drill = Drill(
        pair,
        rate=rate,
        warmup_s=warmup,
        fail_back=fail_back,
        progress=lambda m: err.print(m, markup=False, highlight=False),
    )
    try:
        report = drill.run()
    except Exception as exc:  # a cluster or MM2 failing mid-drill: one line, then clean up
        why = str(exc) if isinstance(exc, RuntimeError | KafkaopsError) else repr(exc)
        # Nothing created yet (e.g. a cluster unreachable): bad input, nothing changed.
        fail(f"drill stopped: {why}", EXIT_P1_P0 if drill.created else EXIT_ERROR)
    finally:
        if pair.mirror is None:  # a real pair: leave nothing of the drill behind
            for problem in drill.cleanup():
                err.print(f"clean-up: {problem}", markup=False, highlight=False)
    folder = report_dir or (pair.mirror.root.parent if pair.mirror else Path.cwd())
    folder.mkdir(parents=True, exist_ok=True)
    import time as _time

    stem = folder / _time.strftime("drill-%Y%m%dT%H%M%SZ", _time.gmtime(report.started_at))
    rendered = render_drill(report)
    stem.with_suffix(".json").write_text(json.dumps(report.to_dict(), indent=2, default=str))
    stem.with_suffix(".html").write_text(rendered.html)
    delivery = _store_report(rendered, cfg, store)
    if as_json:
        emit_json({**report.to_dict(), "report": delivery})
    else:
        out.print(
            f"RTO {report.rto_s} s (target < {report.targets['rto_s']:.0f} s), RPO "
            f"{report.rpo_s} s / {report.rpo_records} record(s) (target < "
            f"{report.targets['rpo_s']:.0f} s), duplicates {report.duplicates}, gaps "
            f"{report.gaps}\nreport: {stem}.html",
            markup=False,
            highlight=False,
        )
        if delivery is not None:
            from kafkaops.cli.report_send import describe

            for line in describe(delivery, "dr_drill"):
                out.print(line, markup=False, highlight=False)
    ok = all(report.verdict.values())
    raise typer.Exit(EXIT_OK if ok else EXIT_P1_P0)


def _report_config(path: Path | None) -> Any:
    from kafkaops.config import default_config, load_config

    if path is None:
        return default_config()
    try:
        return load_config(path)
    except KafkaopsError as exc:
        fail(str(exc))


def _store_report(rendered: Any, cfg: Any, store: str | None) -> dict[str, Any] | None:
    """Keep the drill's report and send it per ``channels.reports.to.dr_drill``; None without
    a store.  A store problem is a warning: the drill's files are written already."""
    from kafkaops.cli.report_send import store_and_send

    url = store or cfg.store.url
    if not url:
        return None
    try:
        return store_and_send(rendered, cfg, url)
    except KafkaopsError as exc:
        err.print(f"warning: report not stored: {exc}", markup=False, highlight=False)
        return None
