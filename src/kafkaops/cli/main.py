"""The ``kafkaops`` command line: a thin shell over the library.

Exit codes: the one table in :mod:`kafkaops.cli.common` (``kafkaops --help`` prints it).
"""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kafkaops import __version__
from kafkaops.cli.common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_P1_P0,
    EXIT_P2,
    JsonFlag,
    SandboxDir,
    StoreOption,
    emit_json,
    exit_table_text,
    fail,
    lazy_console,
)
from kafkaops.cli.sandbox import sandbox_app
from kafkaops.cli.watch import watch
from kafkaops.core.errors import KafkaopsError
from kafkaops.core.model import Severity

app = typer.Typer(
    help="Apache Kafka / Amazon MSK operations runbook, as software.\n\n"
    "Examples:\n\n"
    "  kafkaops sandbox up            # a real 3-broker KRaft cluster on 127.0.0.1\n\n"
    "  kafkaops health                # daily health check + P0/P1/P2 classification\n\n"
    "  kafkaops health --bootstrap b-1.example:9092 --json\n\n"
    "  kafkaops health --config kafkaops.yaml --cluster prod\n\n" + exit_table_text(),
    no_args_is_help=True,
    add_completion=True,  # kafkaops --install-completion [bash|zsh|fish|powershell]
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(sandbox_app, name="sandbox")


def _register_subcommands(argv: list[str]) -> None:
    """Add the incident commands only when they can be asked for.

    They import SQLAlchemy and the incident engine (~0.2 s); ``kafkaops lag`` and ``health``
    are run from scripts and watch loops and should not pay for commands they do not use.
    """
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in (None, "serve"):
        from kafkaops.cli.serve import register

        register(app)
    if first in (None, "balance", "partitions"):
        from kafkaops.cli.balance import balance_app, partitions_app

        app.add_typer(balance_app, name="balance")
        app.add_typer(partitions_app, name="partitions")
    if first in (None, "dr", "sandbox"):
        from kafkaops.cli.dr import dr_app, mirror_app

        app.add_typer(dr_app, name="dr")
        sandbox_app.add_typer(mirror_app, name="mirror")
    if first in (None, "jobs"):
        from kafkaops.cli.jobs import jobs_app

        app.add_typer(jobs_app, name="jobs")
    if first in (None, "slo"):
        from kafkaops.cli.slo import slo_app

        app.add_typer(slo_app, name="slo")
    if first in (None, "perf-test"):
        from kafkaops.cli.perf import register as register_perf

        register_perf(app)
    if first in (None, "producers", "canary", "audit", "jvm"):
        from kafkaops.cli.diagnose import register as register_diagnose

        register_diagnose(app)
    if first in (None, "topics"):
        from kafkaops.cli.topics import topics_app

        app.add_typer(topics_app, name="topics")
    if first in (None, "db"):
        from kafkaops.cli.db import db_app

        app.add_typer(db_app, name="db")
    if first in (None, "capacity", "review"):
        from kafkaops.cli.capacity import capacity_app, review_app

        app.add_typer(capacity_app, name="capacity")
        app.add_typer(review_app, name="review")
    if first in (None, "compliance", "review"):
        from kafkaops.cli.capacity import review_app as reviews
        from kafkaops.cli.monthly import register as register_monthly

        register_monthly(app, reviews)
    if first in (None, "msk", "configs", "brokers", "actions"):
        from kafkaops.cli.actions import actions_app
        from kafkaops.cli.brokers import brokers_app
        from kafkaops.cli.configs import configs_app
        from kafkaops.cli.msk import msk_app

        app.add_typer(msk_app, name="msk")
        app.add_typer(configs_app, name="configs")
        app.add_typer(brokers_app, name="brokers")
        app.add_typer(actions_app, name="actions")
    if first not in (None, "incidents", "maintenance", "outbox"):
        return
    from kafkaops.cli.incidents import incidents_app
    from kafkaops.cli.maintenance import maintenance_app
    from kafkaops.cli.outbox import outbox_app

    app.add_typer(incidents_app, name="incidents")
    app.add_typer(maintenance_app, name="maintenance")
    app.add_typer(outbox_app, name="outbox")


out = lazy_console()
err = lazy_console(stderr=True)
#: Environment defaults for the target options (a flag beats them; --bootstrap beats --config).
_BOOTSTRAP_ENV = "KAFKAOPS_BOOTSTRAP"
_CONFIG_ENV = "KAFKAOPS_CONFIG"


class TimeLagChoice(enum.StrEnum):
    exact = "exact"
    estimated = "estimated"
    none = "none"


TimeLagMethodOption = Annotated[
    TimeLagChoice | None,
    typer.Option(
        "--time-lag-method",
        help="exact: timestamp of the first unconsumed record; estimated: interpolated from "
        "the history store; none: offset lag only. Default: the cluster's config (exact).",
    ),
]


def version_callback(value: bool) -> None:
    if value:
        out.print(f"kafkaops {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True)
    ] = False,
    auto_upgrade: Annotated[
        bool,
        typer.Option(
            "--auto-upgrade",
            envvar="KAFKAOPS_AUTO_UPGRADE",
            help="Upgrade an older PostgreSQL store schema on start (SQLite always is).",
        ),
    ] = False,
) -> None:
    """Global options."""
    if auto_upgrade:
        from kafkaops.store.migrate import set_auto_upgrade

        set_auto_upgrade(True)


# ----------------------------------------------------------------------------- health
@app.command()
def health(
    bootstrap: Annotated[
        str | None,
        typer.Option(help="Bootstrap servers, HOST:PORT[,HOST:PORT].", envvar=_BOOTSTRAP_ENV),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="kafkaops YAML config file.", envvar=_CONFIG_ENV),
    ] = None,
    cluster: Annotated[str | None, typer.Option(help="Cluster name from the config.")] = None,
    time_lag_method: TimeLagMethodOption = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """The runbook's daily health check and P0/P1/P2 incident classification.

    Target: --bootstrap, or --config FILE [--cluster NAME], or with neither the running sandbox.
    Exit codes: 0 healthy, 1 P2 only, 2 P1 or P0, 3 unreachable cluster or bad config.

    Examples:

      kafkaops health

      kafkaops health --bootstrap 127.0.0.1:19092 --json | jq .overall_healthy

      kafkaops health -c kafkaops.yaml --cluster prod

      kafkaops health --store sqlite:///history.db   # adds consumer status (STOP/STALL)
    """
    from kafkaops.pipeline.health import check_health, resolve_target
    from kafkaops.report.health_view import health_to_dict, render_health

    try:
        target = resolve_target(
            bootstrap=bootstrap, config_path=config, cluster=cluster, sandbox_root=sandbox_dir
        ).with_overrides(
            time_lag_method=time_lag_method.value if time_lag_method else None, store_url=store
        )
        report = check_health(target)
    except KafkaopsError as exc:
        fail(str(exc))
    if not report.reachable and not as_json:
        # One clear line for people; --json still gets the P0 "cluster_offline" report.
        fail(report.findings[0].evidence[0] if report.findings else "cluster unreachable")
    if as_json:
        emit_json(health_to_dict(report))
    else:
        render_health(report, out)
    if not report.reachable:
        raise typer.Exit(EXIT_ERROR)
    if report.severity in (Severity.P0, Severity.P1):
        raise typer.Exit(EXIT_P1_P0)
    if report.severity == Severity.P2:
        raise typer.Exit(EXIT_P2)


@app.command()
def snapshot(
    bootstrap: Annotated[
        str | None, typer.Option(help="Bootstrap servers.", envvar=_BOOTSTRAP_ENV)
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", envvar=_CONFIG_ENV)] = None,
    cluster: Annotated[str | None, typer.Option()] = None,
    time_lag: Annotated[
        bool, typer.Option("--time-lag/--no-time-lag", help="Read exact time lag.")
    ] = True,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Take one cluster snapshot (brokers, partitions, groups, offsets, lag, log dirs).

    Examples:

      kafkaops snapshot

      kafkaops snapshot --bootstrap 127.0.0.1:19092 --json > snapshot.json
    """
    from dataclasses import replace

    from kafkaops.pipeline.health import resolve_target, take_snapshot
    from kafkaops.report.health_view import render_snapshot_summary

    try:
        target = resolve_target(
            bootstrap=bootstrap, config_path=config, cluster=cluster, sandbox_root=sandbox_dir
        )
        if not time_lag:
            target = replace(target, options=replace(target.options, time_lag_method="none"))
        snap = take_snapshot(target)
    except KafkaopsError as exc:
        fail(str(exc))
    if as_json:
        emit_json(snap.to_dict(), compact=True)
    else:
        render_snapshot_summary(snap, out)


@app.command()
def lag(
    group: Annotated[str | None, typer.Argument(help="Diagnose this group in detail.")] = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Bootstrap servers.", envvar=_BOOTSTRAP_ENV)
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", envvar=_CONFIG_ENV)] = None,
    cluster: Annotated[str | None, typer.Option()] = None,
    top: Annotated[int | None, typer.Option(min=1, help="Show only the N worst groups.")] = None,
    group_regex: Annotated[str | None, typer.Option(help="Only groups matching.")] = None,
    topic_regex: Annotated[str | None, typer.Option(help="Only groups reading a match.")] = None,
    store: StoreOption = None,
    time_lag_method: TimeLagMethodOption = None,
    watch: Annotated[
        float | None,
        typer.Option(min=1, max=3_600, help="Sample every N seconds, 1-3600 (needs a store)."),
    ] = None,
    count: Annotated[int, typer.Option(min=1, max=10_000, help="Samples with --watch.")] = 10,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Consumer lag: every group by time lag then offset lag, or one group diagnosed.

    The runbook's diagnose-consumer-lag.sh: per-partition lag, members and their assignment,
    idle members, skew, and what to do (scale consumers up to the partition count; above
    10,000 lag with consumers = partitions, add 4 partitions).

    Examples:

      kafkaops lag --top 10

      kafkaops lag --group-regex '^payments-' --json

      kafkaops lag orders-service

      kafkaops lag --store sqlite:///history.db --watch 10 --count 30   # Burrow-style status

      kafkaops lag --store sqlite:///history.db --time-lag-method estimated
    """
    import re
    import time as _time

    from kafkaops.lag.diagnosis import diagnose_group, rank_groups
    from kafkaops.pipeline.health import open_history, resolve_target, take_lag_snapshot

    for name, pattern in (("--group-regex", group_regex), ("--topic-regex", topic_regex)):
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                fail(f"{name} {pattern!r} is not a valid regular expression: {exc}")
    try:
        target = resolve_target(
            bootstrap=bootstrap, config_path=config, cluster=cluster, sandbox_root=sandbox_dir
        ).with_overrides(
            time_lag_method=time_lag_method.value if time_lag_method else None, store_url=store
        )
        if watch and not target.store_url:
            fail("--watch needs a history store: pass --store sqlite:///FILE or set store.url")
        history = open_history(target.store_url) if target.store_url else None
        statuses: dict[str, Any] = {}
        for i in range(count if watch else 1):
            if i:
                _time.sleep(watch or 0)
            snap = take_lag_snapshot(target)
            if history is not None:
                from kafkaops.lag.observe import observe

                snap, statuses = observe(
                    history,
                    snap,
                    time_lag_method=target.time_lag_method,
                    lag=target.config.lag,
                )
            if watch and not as_json:
                err.print(f"sample {i + 1}/{count} at {snap.taken_at_ms}", markup=False)
    except KafkaopsError as exc:
        fail(str(exc))
    if group is None:
        rows = rank_groups(snap, top=top, group_pattern=group_regex, topic_pattern=topic_regex)
        status_of = {gid: st.status.value for gid, st in statuses.items()}
        if as_json:
            # The rows are flat: their fields as they are (``asdict`` deep-copies every value,
            # a tenth of a second for 2,000 groups; JSON writes the topic tuples as lists).
            emit_json([{**vars(r), "status": status_of.get(r.group_id)} for r in rows])
        else:
            from kafkaops.report.lag_view import render_ranking  # rich tables: not for --json

            render_ranking(rows, out, {gid: st.label for gid, st in statuses.items()})
        return
    diagnosis = diagnose_group(
        snap,
        group,
        scale_up_lag_threshold=target.config.lag.scale_up_lag_threshold,
        partition_increment=target.config.lag.partition_increment,
    )
    if diagnosis is None:
        fail(f"consumer group {group!r} not found on {snap.bootstrap}", EXIT_NOT_FOUND)
    group_st = statuses.get(group)
    from kafkaops.report.lag_view import diagnosis_to_dict, render_diagnosis

    if as_json:
        data = diagnosis_to_dict(diagnosis, snap)
        if group_st is not None:
            import dataclasses

            data["status"] = dataclasses.asdict(group_st)
        emit_json(data)
    else:
        render_diagnosis(diagnosis, snap, out)
        if group_st is not None:
            out.print(f"status: {group_st.label} (Burrow: {group_st.burrow_status.value})")
            for p in group_st.partitions:
                if p.status.value != "OK":
                    out.print(
                        f"  {p.topic}-{p.partition}: {p.status.value} — {p.reason}", markup=False
                    )


app.command()(watch)


@app.command("config-check")
def config_check(
    path: Annotated[Path, typer.Argument(help="YAML config file to validate.")],
) -> None:
    """Validate a config file; prints the first problem with file, field and value.

    Example:

      kafkaops config-check kafkaops.yaml
    """
    from kafkaops.config import load_config

    try:
        cfg = load_config(path)
    except KafkaopsError as exc:
        fail(str(exc))
    out.print(f"{path}: OK ({len(cfg.clusters)} cluster(s))", markup=False)


_register_subcommands(sys.argv[1:])


def main() -> None:
    """Entry point: user errors are one line and exit 3; Ctrl-C exits 130 quietly.

    Usage errors (unknown option, bad choice) would exit 2 by default, which scripts would
    read as ``health``'s "P1 or P0": they exit 3 like every other bad input.
    """
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(EXIT_INTERRUPTED)
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        sys.exit(EXIT_ERROR)
    except typer.TyperException as exc:  # usage errors: unknown option, bad value
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare ``kafkaops``: just the help
            sys.stdout.write(f"{message}\n")
            sys.exit(EXIT_OK)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        sys.stderr.write(f"error: {' '.join(str(message).split())}{hint}\n")
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # a bug: still one line (the traceback only when asked for)
        from kafkaops.core.extras import missing_extra

        extra = missing_extra(exc) if isinstance(exc, ModuleNotFoundError) else None
        if extra is not None:  # an optional extra that is not installed: not a bug
            sys.stderr.write(f"error: {extra}\n")
            sys.exit(EXIT_ERROR)
        if os.environ.get("KAFKAOPS_DEBUG"):
            raise
        text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        sys.stderr.write(f"error: internal error ({text}); KAFKAOPS_DEBUG=1 shows the traceback\n")
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
