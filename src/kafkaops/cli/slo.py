"""``kafkaops slo``: availability and freshness per cluster for a month, the error budget spent
and left, the incidents that spent it, and a chart of the budget burn.

Reads the per-cycle verdicts ``watch`` / ``serve`` record (``slo_cycles`` in the store);
nothing is collected here.  Exit codes (the one table): 0 within budget, 1 a budget is spent
(P2: the month's objective is missed), 3 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from kafkaops.cli.common import (
    EXIT_OK,
    EXIT_P2,
    ConfigOpt,
    JsonFlag,
    SandboxDir,
    StoreOpt,
    emit_json,
    fail,
    utcnow,
)
from kafkaops.core.errors import KafkaopsError

if TYPE_CHECKING:
    from kafkaops.slo.settings import SloSettings

slo_app = typer.Typer(rich_markup_mode=None)


def _targets(
    config: Path | None, cluster: str | None, sandbox_dir: Path | None, store_url: str | None
) -> list[tuple[str, SloSettings, str]]:
    """(cluster, its slo settings, store URL) for each cluster to report.

    With only ``--store`` (no config, no sandbox): every cluster the store has verdicts for,
    judged by the default settings.
    """
    from kafkaops.config import default_config, load_config
    from kafkaops.pipeline.health import resolve_target
    from kafkaops.slo.store import SloStore

    if config is None and store_url and (cluster or sandbox_dir is None):
        try:
            store = SloStore(store_url)
            try:
                names = [cluster] if cluster else store.clusters()
            finally:
                store.close()
        except (SQLAlchemyError, OSError, ValueError) as exc:
            fail(f"store {store_url.split('@')[-1]} cannot be read: {type(exc).__name__}")
        if names:
            return [(n, default_config().slo, store_url) for n in names]
    try:
        wanted: list[str | None] = [cluster]
        if config is not None and cluster is None:
            wanted = list(load_config(config).clusters) or [None]
        targets = [
            resolve_target(config_path=config, cluster=n, sandbox_root=sandbox_dir) for n in wanted
        ]
    except KafkaopsError as exc:
        fail(str(exc))
    out = []
    for t in targets:
        url = store_url or t.store_url
        if not url:
            fail("no store: set store.url in the config or pass --store URL")
        out.append((t.name, t.config.slo, url))
    return out


@slo_app.callback(invoke_without_command=True)
def slo(
    config: ConfigOpt = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="Cluster in the config (default: all).")
    ] = None,
    month: Annotated[
        str | None, typer.Option("--month", help="Calendar month, YYYY-MM (default: this one).")
    ] = None,
    store_url: StoreOpt = None,
    chart: Annotated[
        Path | None,
        typer.Option("--chart", help="Write the budget-burn chart (.png or .svg); one cluster."),
    ] = None,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Service level per cluster: SLI, error budget spent and left, incidents that spent it.

    Availability is bad while the cluster is offline, partitions are offline, no controller is
    active, or partitions are under min.insync.replicas -- and, with diagnose.canary.enabled,
    while the canary's acks=all write fails (a hung broker metadata still lists); freshness
    is bad while a group in
    slo.freshness_groups lags more than slo.freshness_max_lag.  Time no watch cycle observed
    is reported as unknown, not good.  Budget: (1 - objective) x 30 days = 43.2 min at 99.9 %.

    Exit codes: 0 within budget, 1 a budget is spent, 3 bad input.

    Examples:

      kafkaops slo                                  # the sandbox, this month

      kafkaops slo -c kafkaops.yaml --month 2026-11 --json

      kafkaops slo -c kafkaops.yaml --cluster prod --chart budget.png
    """
    from kafkaops.slo.report import build_report, month_bounds, render_text
    from kafkaops.slo.store import SloStore

    now = utcnow()
    try:
        start, end = month_bounds(month, now)
    except ValueError as exc:
        fail(f"--month: {exc}")
    if start > now:
        fail(f"--month: {month} has not begun yet")
    targets = _targets(config, cluster, sandbox_dir, store_url)
    if chart is not None and len(targets) != 1:
        fail("--chart draws one cluster: add --cluster NAME")
    reports = []
    for name, settings, url in targets:
        try:
            store = SloStore(url)
            try:
                incidents = _incidents(url, name)
                reports.append(build_report(store, name, settings, start, end, now, incidents))
            finally:
                store.close()
        except (SQLAlchemyError, OSError, ValueError) as exc:
            fail(f"store {url.split('@')[-1]} cannot be read: {type(exc).__name__}")
    if chart is not None:
        from kafkaops.slo.chart import write_chart

        try:
            write_chart(reports[0], chart)
        except (OSError, ValueError) as exc:
            fail(f"--chart {chart}: {exc}")
    if as_json:
        emit_json({"clusters": [r.to_dict() for r in reports]})
    else:
        for i, r in enumerate(reports):
            if i:
                typer.echo("")
            typer.echo("\n".join(render_text(r)))
        if chart is not None:
            typer.echo(f"\nchart written to {chart}")
    spent = any(s.left_ms < 0 for r in reports for s in r.slis.values())
    raise typer.Exit(int(EXIT_P2 if spent else EXIT_OK))


def _incidents(url: str, cluster: str) -> list[object]:
    """The cluster's incidents (newest 1,000) from the incident store on ``url``."""
    from kafkaops.incidents.store import IncidentStore

    store = IncidentStore(url)
    try:
        return list(store.list_incidents(None, cluster, 1000))
    finally:
        store.close()
