"""``kafkaops capacity``: when each broker's disk fills, how sure, and what to do before then.

Reads the capacity history (``capacity.store``) the watch loop records — or ``capacity
record`` takes samples now — and forecasts per broker log dir on the daily maxima (see
:mod:`kafkaops.capacity.forecast`).  Exit codes: 0 fine, 1 a disk fills within the headroom
(P2: runbook "scale if < 30 days"), 2 within 7 days (P1), 3 bad input.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from kafkaops.cli.common import emit_json, fail
from kafkaops.core.errors import KafkaopsError
from kafkaops.core.units import format_bytes, parse_duration_ms

if TYPE_CHECKING:
    from kafkaops.capacity.analysis import CapacityReport
    from kafkaops.capacity.store import CapacityStore
    from kafkaops.pipeline.health import Target

EXIT_OK, EXIT_P2, EXIT_P1, EXIT_ERROR = 0, 1, 2, 3

out = Console()

capacity_app = typer.Typer(
    help="Capacity planning: days until each broker's disk is full (with an 80% interval), "
    "the 90-day projection, partitions per broker against MSK's limits, and storage / broker "
    "recommendations within MSK's rules.\n\n"
    "Examples:\n\n"
    "  kafkaops capacity                          # the sandbox's history\n\n"
    "  kafkaops capacity -c kafkaops.yaml --cluster prod --horizon 90d --json\n\n"
    "  kafkaops capacity --chart capacity.png     # history, forecast and band per broker\n\n"
    "  kafkaops capacity record --count 3         # take samples now (watch does this)\n\n"
    "  kafkaops capacity check                    # exit 1 = P2 (< 30 days), 2 = P1 (< 7)\n\n"
    "  kafkaops capacity backfill --days 30       # MSK: 30 days from CloudWatch",
    invoke_without_command=True,
    rich_markup_mode=None,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="kafkaops YAML config.", envvar="KAFKAOPS_CONFIG"),
]
ClusterOpt = Annotated[str | None, typer.Option("--cluster", help="Cluster name in the config.")]
StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="History store URL; default store.url (sandbox: its own file)."),
]
DirOpt = Annotated[Path | None, typer.Option("--dir", help="Sandbox state folder.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
HorizonOpt = Annotated[
    str | None, typer.Option("--horizon", help="Projection horizon, e.g. 90d (default 90d).")
]


def _target(config: Path | None, cluster: str | None, sandbox_dir: Path | None) -> Target:
    from kafkaops.pipeline.health import resolve_target

    try:
        return resolve_target(config_path=config, cluster=cluster, sandbox_root=sandbox_dir)
    except KafkaopsError as exc:
        fail(str(exc))


@contextmanager
def _store(target: Target, url: str | None) -> Iterator[CapacityStore]:
    from sqlalchemy.exc import SQLAlchemyError

    from kafkaops.capacity.store import CapacityStore

    url = url or target.store_url
    if not url:
        fail("no history store: set store.url in the config or pass --store URL")
    try:
        store = CapacityStore(url)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        fail(f"history store {url.split('@')[-1]} cannot be opened: {type(exc).__name__}")
    try:
        yield store
    finally:
        store.close()


def _horizon(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        days = parse_duration_ms(text) / 86_400_000
    except ValueError as exc:
        fail(f"--horizon: {exc}")
    if days < 7 or days > 730:
        fail(f"--horizon: {text!r} must be between 7d and 730d")
    return round(days)


def _exit_code(report: CapacityReport) -> int:
    from kafkaops.capacity.check import capacity_findings
    from kafkaops.core.model import Severity

    sev = Severity.worst([f.severity for f in capacity_findings(report)])
    return {Severity.P1: EXIT_P1, Severity.P0: EXIT_P1, Severity.P2: EXIT_P2}.get(sev, EXIT_OK)


@capacity_app.callback()
def capacity(
    ctx: typer.Context,
    config: ConfigOpt = None,
    cluster: ClusterOpt = None,
    store_url: StoreOpt = None,
    horizon: HorizonOpt = None,
    as_json: JsonFlag = False,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write a chart (.png or .svg) to this file.")
    ] = None,
    sandbox_dir: DirOpt = None,
) -> None:
    """Days until full per broker, the projection, and recommendations."""
    if ctx.invoked_subcommand is not None:
        return
    from kafkaops.capacity.analysis import analyse

    days = _horizon(horizon)
    target = _target(config, cluster, sandbox_dir)
    settings = target.config.capacity
    with _store(target, store_url) as store:
        report = analyse(store, target.name, settings, horizon_days=days)
    if chart is not None:
        from kafkaops.capacity.chart import write_chart

        try:
            write_chart(report, chart)
        except (OSError, ValueError) as exc:
            fail(f"--chart {chart}: {exc}")
    if as_json:
        data = report.to_dict()
        if chart is not None:
            data["chart"] = str(chart)
        emit_json(data)
    else:
        render(report)
        if chart is not None:
            out.print(f"chart: {chart}")
    raise typer.Exit(_exit_code(report))


def _days(c: object) -> str:
    from kafkaops.capacity.forecast import Crossing

    if not isinstance(c, Crossing):
        return "-"
    if c.reached:
        return "now"
    if c.days is None:
        return ">" if c.earliest is None else f">h ({c.earliest:.0f}-)"
    hi = "" if c.latest is None else f"{c.latest:.0f}"
    lo = "" if c.earliest is None else f"{c.earliest:.0f}"
    return f"{c.days:.0f} ({lo}-{hi})"


def render(report: CapacityReport) -> None:
    s = report.settings
    out.print(
        f"[bold]capacity[/] {report.cluster} · {report.generated_at:%Y-%m-%d %H:%M} UTC · "
        f"horizon {report.horizon_days} d · days until {s.warning:g}% / {s.critical:g}% / full, "
        f"80% interval in ( )"
    )
    table = Table(show_edge=False, pad_edge=False)
    for col in ("broker", "used", "growth/d", f"{s.warning:g}%", f"{s.critical:g}%", "full",
                f"{report.horizon_days}d"):  # fmt: skip
        table.add_column(col, overflow="fold")
    for d in report.disks:
        used = "-" if d.used_bytes is None else format_bytes(d.used_bytes)
        if d.capacity_bytes:
            used = f"{d.used_percent:.0f}% of {format_bytes(d.capacity_bytes)}"
        name = f"{d.broker} {d.log_dir}"
        if d.fit is None:
            why = str(d.not_enough) if d.not_enough else "-"
            table.add_row(name, used, why, "", "", "", "")
            continue
        proj = d.projection(report.horizon_days)[-1]
        pct = f"{100 * proj[1] / d.capacity_bytes:.0f}%" if d.capacity_bytes else "-"
        table.add_row(
            name,
            used,
            format_bytes(d.fit.slope_per_day),
            _days(d.crossings.get("warning")),
            _days(d.crossings.get("critical")),
            _days(d.crossings.get("full")),
            pct,
        )
    out.print(table)
    if report.brokers:
        lim = report.limit
        parts = ", ".join(f"{b.broker}: {b.partitions}" for b in report.brokers)
        limit = f" (MSK {lim.recommended} recommended / {lim.maximum} max)" if lim else ""
        out.print(f"partitions per broker: {parts}{limit}")
    for note in report.notes:
        out.print(f"note: {note}")
    if not report.recommendations:
        out.print("recommendations: none — every disk keeps its headroom")
    for r in report.recommendations:
        out.print(f"[bold]{r.priority}[/]: {r.action}")
        out.print(f"  why: {r.reason}")
        for n in r.notes:
            out.print(f"  - {n}")
        for step in r.steps:
            out.print(f"  {step.not_before:%Y-%m-%d %H:%M} UTC → {step.size_gib} GiB")
        for cmd in r.commands:
            out.print(f"  $ {cmd}", soft_wrap=True)


@capacity_app.command("record")
def record(
    config: ConfigOpt = None,
    cluster: ClusterOpt = None,
    store_url: StoreOpt = None,
    count: Annotated[int, typer.Option(min=1, max=1000, help="Samples to take.")] = 1,
    interval: Annotated[str, typer.Option(help="Time between samples, e.g. 10s.")] = "10s",
    sandbox_dir: DirOpt = None,
) -> None:
    """Take capacity samples of the cluster now and store them (the watch loop does this every
    cycle; use this for a first sample or from cron)."""
    from kafkaops.capacity.store import record_capacity_sample
    from kafkaops.core.errors import ClusterUnreachable
    from kafkaops.pipeline.health import take_snapshot

    try:
        pause = parse_duration_ms(interval) / 1000
    except ValueError as exc:
        fail(f"--interval: {exc}")
    target = _target(config, cluster, sandbox_dir)
    with _store(target, store_url) as store:
        probe = target.probe()
        try:
            for i in range(count):
                if i:
                    time.sleep(pause)
                try:
                    snap = take_snapshot(target, probe)
                except ClusterUnreachable as exc:
                    fail(str(exc))
                rows = record_capacity_sample(store, snap)
                out.print(f"sample {i + 1}/{count}: {rows} rows ({target.name})")
        finally:
            probe.close()


@capacity_app.command("check")
def check(
    config: ConfigOpt = None,
    cluster: ClusterOpt = None,
    store_url: StoreOpt = None,
    as_json: JsonFlag = False,
    sandbox_dir: DirOpt = None,
) -> None:
    """The daily capacity check: P2 when a disk fills in < 30 days, P1 in < 7 (exit 1 / 2)."""
    from kafkaops.capacity.analysis import analyse
    from kafkaops.capacity.check import capacity_findings

    target = _target(config, cluster, sandbox_dir)
    with _store(target, store_url) as store:
        report = analyse(store, target.name, target.config.capacity)
    findings = capacity_findings(report)
    if as_json:
        emit_json({"cluster": target.name, "findings": [f.to_dict() for f in findings]})
    else:
        for f in findings:
            value = "-" if f.value is None else f"{f.value:g} days"
            out.print(f"{f.severity.value:3} {f.status.value:12} {f.subject}: {value}")
            for e in f.evidence:
                out.print(f"    {e}")
    raise typer.Exit(_exit_code(report))


@capacity_app.command("backfill")
def backfill(
    config: ConfigOpt = None,
    cluster: ClusterOpt = None,
    store_url: StoreOpt = None,
    days: Annotated[int, typer.Option(min=1, max=455, help="Days to fetch.")] = 30,
    sandbox_dir: DirOpt = None,
) -> None:
    """MSK: fill the history with ``days`` of daily KafkaDataLogsDiskUsed and BytesInPerSec
    per broker from CloudWatch, so a first run needs no local history."""
    from kafkaops.capacity.backfill import backfill_cloudwatch

    target = _target(config, cluster, sandbox_dir)
    settings = target.config.capacity
    with _store(target, store_url) as store:
        try:
            result = backfill_cloudwatch(store, target.name, settings, days=days)
        except KafkaopsError as exc:
            fail(str(exc))
    out.print(
        f"back-filled {result.days} days for {len(result.brokers)} brokers "
        f"({result.rows} daily rows) from CloudWatch"
    )
    for e in result.errors:
        out.print(f"warning: {e}")


review_app = typer.Typer(
    help="The runbook's reviews.  'weekly': 7-day trends (disk per broker, throughput, producer "
    "error rate, time lag of the top groups), the week's incidents with time to acknowledge "
    "and resolve, capacity and recommendations, what changed since the week before.  "
    "'monthly': SLO and budget, incidents with MTTA/MTTR, capacity, cost, DR, benchmark, "
    "audit and compliance.\n\n"
    "Examples:\n\n"
    "  kafkaops review weekly                           # last full week, Markdown\n\n"
    "  kafkaops review weekly --week 2026-W48 --html review.html\n\n"
    "  kafkaops review weekly -c kafkaops.yaml --send      # store, e-mail, Slack\n\n"
    "  kafkaops review weekly -c kafkaops.yaml --cluster prod --json\n\n"
    "  kafkaops review monthly --month 2026-11 --html 2026-11.html",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@review_app.command("weekly")
def weekly(
    config: ConfigOpt = None,
    cluster: ClusterOpt = None,
    store_url: StoreOpt = None,
    week: Annotated[
        str | None, typer.Option("--week", help="ISO week, e.g. 2026-W48 (default: last week).")
    ] = None,
    html_file: Annotated[
        Path | None, typer.Option("--html", help="Write the HTML report (inline SVG charts).")
    ] = None,
    send: Annotated[
        bool,
        typer.Option(
            "--send",
            help="Store the review (dashboard: Reports) and send it to "
            "channels.reports.to.weekly_review (e-mail with PNG charts, Slack summary).",
        ),
    ] = False,
    as_json: JsonFlag = False,
    sandbox_dir: DirOpt = None,
) -> None:
    """The weekly review as Markdown (for chat), JSON, and an HTML report with charts;
    --send stores it and delivers it like the Monday job."""
    from kafkaops.capacity.review import build_review, parse_week, render_review, to_markdown
    from kafkaops.cli.common import utcnow

    try:
        start, end = parse_week(week, utcnow())
    except ValueError as exc:
        fail(f"--week: {exc}")
    target = _target(config, cluster, sandbox_dir)
    url = store_url or target.store_url
    with _store(target, url) as store:
        review = build_review(
            store,
            target.name,
            target.config.capacity,
            start=start,
            end=end,
            history_url=url,
            incidents_url=url,
        )
    rendered = render_review(review) if (html_file is not None or send) else None
    if html_file is not None and rendered is not None:
        try:
            html_file.write_text(rendered.html, encoding="utf-8")
        except OSError as exc:
            fail(f"--html {html_file}: {exc.strerror or exc}")
    delivery = None
    if send and rendered is not None:
        from kafkaops.cli.report_send import store_and_send

        try:
            delivery = store_and_send(rendered, target.config, url)
        except KafkaopsError as exc:
            fail(f"--send: {exc}")
    if as_json:
        data = review.to_dict()
        data["html"] = str(html_file) if html_file else None
        data["report"] = delivery
        emit_json(data)
    else:
        out.print(to_markdown(review), markup=False, highlight=False)
        if html_file is not None:
            out.print(f"HTML report: {html_file}")
        if delivery is not None:
            from kafkaops.cli.report_send import describe

            for line in describe(delivery, "weekly_review"):
                out.print(line, markup=False, highlight=False)
