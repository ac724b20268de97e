"""The monthly commands: ``kafkaops compliance`` and ``kafkaops review monthly``.

Thin: the checks are :mod:`kafkaops.pipeline.compliance`, the report
:mod:`kafkaops.report.monthly`; this resolves clusters and stores, reads the jobs store's
results for the report, and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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

ClusterOpt = Annotated[
    str | None, typer.Option("--cluster", help="Cluster in the config (default: all).")
]


def _targets(config: Path | None, cluster: str | None, sandbox_dir: Path | None) -> list[Any]:
    from kafkaops.config import load_config
    from kafkaops.pipeline.health import resolve_target

    try:
        names: list[str | None] = [cluster]
        if config is not None and cluster is None:
            names = list(load_config(config).clusters) or [None]
        return [resolve_target(config_path=config, cluster=n, sandbox_root=sandbox_dir)
                for n in names]  # fmt: skip
    except KafkaopsError as exc:
        fail(str(exc))


def compliance(
    config: ConfigOpt = None,
    cluster: ClusterOpt = None,
    store_url: StoreOpt = None,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """The monthly security compliance check (read-only).

    Per cluster: TLS and authentication on every client listener, an authorizer with ACLs,
    and -- when a dr: pair is configured -- ACLs and key topic configs replicated to the
    replica and its retention at least dr.compliance_retention (90 days); the actions audit
    trail in the store intact (no missing rows, times in order, no action without result).
    A check that cannot be made is "unknown", never a pass.

    Exit codes: 0 every check passed, 1 a check failed or could not be made, 3 bad input.

    Examples:

      kafkaops compliance                           # the sandbox

      kafkaops compliance -c kafkaops.yaml --cluster prod --json
    """
    from kafkaops.pipeline.compliance import check_cluster, render_text

    reports = []
    for t in _targets(config, cluster, sandbox_dir):
        url = store_url or t.store_url
        reports.append(check_cluster(t.config, t.name, t.client_kwargs, store_url=url,
                                     now=utcnow()))  # fmt: skip
    if as_json:
        emit_json({"clusters": [r.to_dict() for r in reports]})
    else:
        for i, r in enumerate(reports):
            if i:
                typer.echo("")
            typer.echo("\n".join(render_text(r)))
    clean = all(r.ok and r.complete for r in reports)
    raise typer.Exit(int(EXIT_OK if clean else EXIT_P2))


def monthly(
    config: ConfigOpt = None,
    cluster: ClusterOpt = None,
    month: Annotated[
        str | None,
        typer.Option("--month", help="Calendar month, YYYY-MM (default: the last one)."),
    ] = None,
    store_url: StoreOpt = None,
    html_file: Annotated[
        Path | None,
        typer.Option("--html", help="Write the HTML report (inline SVG charts); one cluster."),
    ] = None,
    as_json: JsonFlag = False,
    sandbox_dir: SandboxDir = None,
) -> None:
    """The monthly report: SLO and budget, incidents with MTTA/MTTR, capacity outlook, cost
    trend, DR drills and backup checks, benchmark trend, audit and compliance findings.

    Reads the store only (verdicts, capacity, benchmark runs, the jobs' results, the audit
    trail): run 'kafkaops compliance' and 'kafkaops perf-test' (or let the monthly jobs run)
    for those sections.

    Examples:

      kafkaops review monthly                                   # last month, the sandbox

      kafkaops review monthly -c kafkaops.yaml --cluster prod --html 2026-11.html

      kafkaops review monthly -c kafkaops.yaml --month 2026-11 --json
    """
    from kafkaops.report.monthly import build_monthly, summary_lines, to_html
    from kafkaops.slo.monthly import previous_month
    from kafkaops.slo.report import month_bounds

    now = utcnow()
    month = month or previous_month(now)
    try:
        start, _end = month_bounds(month, now)
    except ValueError as exc:
        fail(f"--month: {exc}")
    if start > now:
        fail(f"--month: {month} has not begun yet")
    targets = _targets(config, cluster, sandbox_dir)
    if html_file is not None and len(targets) != 1:
        fail("--html writes one cluster: add --cluster NAME")
    reports = []
    for t in targets:
        url = store_url or t.store_url
        if not url:
            fail("no store: set store.url in the config or pass --store URL")
        try:
            jobs, incidents = _job_results(url, t.name), _incidents(url, t.name)
            reports.append(build_monthly(t.config, t.name, month, now, url,
                                         job_results=jobs, incidents=incidents))  # fmt: skip
        except (SQLAlchemyError, OSError) as exc:
            fail(f"store {url.split('@')[-1]} cannot be read: {type(exc).__name__}")
    if html_file is not None:
        try:
            html_file.write_text(to_html(reports[0]), encoding="utf-8")
        except OSError as exc:
            fail(f"--html {html_file}: {exc.strerror or exc}")
    if as_json:
        emit_json({"clusters": [r.to_dict() for r in reports],
                   "html": str(html_file) if html_file else None})  # fmt: skip
    else:
        for i, r in enumerate(reports):
            if i:
                typer.echo("")
            typer.echo("\n".join(summary_lines(r)))
        if html_file is not None:
            typer.echo(f"\nHTML report: {html_file}")
    raise typer.Exit(int(EXIT_OK))


def _job_results(url: str, cluster: str) -> list[dict[str, Any]]:
    """The cluster's recorded job runs, newest first (compliance and DR checks among them)."""
    from kafkaops.jobs.store import JobsStore

    store = JobsStore(url)
    try:
        return [r for r in store.recent(None, 2000) if r["cluster"] == cluster]
    finally:
        store.close()


def _incidents(url: str, cluster: str) -> list[Any]:
    from kafkaops.incidents.store import IncidentStore

    store = IncidentStore(url)
    try:
        return list(store.list_incidents(None, cluster, 5000))
    finally:
        store.close()


def register(app: typer.Typer, review_app: typer.Typer | None = None) -> None:
    """``compliance`` on the main CLI; ``monthly`` under ``review`` when given."""
    app.command("compliance")(compliance)
    if review_app is not None:
        review_app.command("monthly")(monthly)
