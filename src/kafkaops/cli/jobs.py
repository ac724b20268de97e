"""``kafkaops jobs``: the runbook's scheduled jobs from a shell — list, run one now, history.

``kafkaops serve`` runs them at their times; ``jobs run`` runs one at once with freshly
collected reports (a cron host without the service, or "run the weekly review now").  Both go
through :mod:`kafkaops.jobs`, so a run is claimed, timed and recorded the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from kafkaops.cli.common import (
    EXIT_ERROR,
    EXIT_NOT_FOUND,
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
    from kafkaops.jobs.runner import Runner

out = Console()
err = Console(stderr=True)

jobs_app = typer.Typer(
    help="The runbook's scheduled jobs (daily check 09:00, capacity check, DR backup check, "
    "Monday 10:00 weekly review): schedules, run one now, history.\n\n"
    "Examples:\n\n"
    "  kafkaops jobs list                         # schedules (cron, UTC), next and last runs\n\n"
    "  kafkaops jobs run weekly_review -c kafkaops.yaml\n\n"
    "  kafkaops jobs history --job daily_check --json",
    no_args_is_help=True,
    rich_markup_mode=None,
)


class _CliContext:
    """The jobs' context from a shell: reports collected now, one cluster at a time."""

    def __init__(self, runtime: Any, targets: list[Any]) -> None:
        self.config = runtime.config
        self.store_url = runtime.store_url
        self._runtime = runtime
        self._targets = {t.name: t for t in targets}

    def cluster_names(self) -> list[str]:
        return sorted(self._targets)

    def report(self, cluster: str) -> tuple[Any, str | None]:
        from kafkaops.pipeline.health import check_health

        with err.status(f"checking {cluster} …"):
            return check_health(self._targets[cluster]), None

    def snapshot(self, cluster: str) -> Any:
        return None

    def target(self, cluster: str) -> Any:
        return self._targets[cluster]

    def incidents(self) -> Any:
        return self._runtime.incidents


@contextmanager
def _runner(config: Any, store: str | None, sandbox_dir: Any) -> Iterator[Runner]:
    from kafkaops.jobs.runner import Runner, build_jobs
    from kafkaops.jobs.store import JobsStore
    from kafkaops.pipeline.runtime import open_watch

    try:
        runtime, watcher = open_watch(config, store=store, sandbox_dir=sandbox_dir)
    except KafkaopsError as exc:
        fail(str(exc))
    jobs_store = JobsStore(runtime.store_url)
    try:
        ctx = _CliContext(runtime, list(watcher.targets))
        catch_up = timedelta(milliseconds=runtime.config.jobs.catch_up)
        yield Runner(ctx, jobs_store, build_jobs(runtime.config), catch_up=catch_up)
    finally:
        jobs_store.close()
        watcher.close()
        runtime.close()


@jobs_app.command("list")
def jobs_list(
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Each job with its schedule (cron, UTC), next run and last run's status.

    Examples:

      kafkaops jobs list

      kafkaops jobs list -c kafkaops.yaml --json | jq '.[] | {name, next_run}'
    """
    now = utcnow()
    with _runner(config, store, sandbox_dir) as runner:
        rows = []
        for job in runner.jobs:
            last = [r for r in runner.store.recent(job.name, 50) if r["cluster"] == "*"]
            rows.append({
                "name": job.name,
                "schedule": job.schedule.cron,
                "next_run": f"{job.next_after(now):%Y-%m-%dT%H:%M:%SZ}",
                "last_run": last[0]["scheduled_for"] if last else None,
                "last_status": last[0]["result"].get("status") if last else None,
            })  # fmt: skip
    if as_json:
        emit_json(rows)
        return
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("job", "schedule (UTC)", "next run", "last run", "status"):
        table.add_column(col, no_wrap=col != "schedule (UTC)")
    for r in rows:
        table.add_row(r["name"], r["schedule"], r["next_run"], r["last_run"] or "-",
                      r["last_status"] or "-")  # fmt: skip
    out.print(table)


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="Job name (see 'kafkaops jobs list').")],
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Run one job now (recorded like a scheduled run); exit 3 if it failed.

    Examples:

      kafkaops jobs run daily_check

      kafkaops jobs run weekly_review -c kafkaops.yaml --json
    """
    now = utcnow().replace(microsecond=0)
    with _runner(config, store, sandbox_dir) as runner:
        try:
            job = runner.job(name)
        except KeyError:
            known = ", ".join(j.name for j in runner.jobs) or "none"
            fail(f"no job {name!r} (this config has: {known})", EXIT_NOT_FOUND)
        outcome = runner.run(job, now)
        delivery = _deliver_queued(runner) if outcome is not None else None
    if outcome is None:
        fail(f"{name} at {now:%Y-%m-%dT%H:%M:%SZ} is already claimed by another instance")
    if delivery:
        outcome["delivery"] = delivery
    if as_json:
        emit_json({"job": name, "scheduled_for": f"{now:%Y-%m-%dT%H:%M:%SZ}", **outcome})
    else:
        status = "ok" if outcome["ok"] else "FAILED"
        out.print(f"{name}: {status} in {outcome['duration_s']:.1f}s", markup=False)
        for key, value in outcome.items():
            if key in ("ok", "duration_s", "reports", "delivery"):
                continue
            out.print(f"  {key}: {value}", markup=False, highlight=False)
        for line in _report_lines(outcome):
            out.print(f"  {line}", markup=False, highlight=False)
    if not outcome["ok"]:
        raise typer.Exit(EXIT_ERROR)


def _report_lines(outcome: dict[str, Any]) -> list[str]:
    """The stored reports and what their delivery did, one fact per line (not a dict dump)."""
    lines = []
    for cluster, sent in (outcome.get("reports") or {}).items():
        to = ", ".join(sent["queued"]) or "nobody new (channels.reports.to)"
        lines.append(f"report {sent['report_id']} ({cluster}): queued to {to}")
    d = outcome.get("delivery")
    if d:
        lines.append(f"sent {d['delivered']}, retrying {d['retrying']}, failed {d['failed']}")
        for key, error in d["errors"].items():
            lines.append(f"  {key.rsplit('|', 1)[-1]}: {error}")
    return lines


def _deliver_queued(runner: Runner) -> dict[str, Any] | None:
    """Send what the job queued (reports) now instead of at the next watch cycle; what cannot
    be sent stays queued with its retries (``kafkaops outbox list``)."""
    runtime = getattr(runner.ctx, "_runtime", None)
    if runtime is None or not runtime.outbox.pending_count():
        return None
    with err.status("sending queued notifications …"):
        report = runtime.dispatcher.deliver_due()
    return {
        "delivered": len(report.delivered),
        "retrying": len(report.retried) + len(report.deferred),
        "failed": len(report.failed),
        "errors": dict(report.errors),
    }


@jobs_app.command("history")
def jobs_history(
    job: Annotated[str | None, typer.Option(help="Only this job.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 20,
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    sandbox_dir: SandboxDir = None,
) -> None:
    """Recent runs, newest first: when, status, duration, and per-cluster results.

    Examples:

      kafkaops jobs history

      kafkaops jobs history --job weekly_review --limit 5 --json
    """
    with _runner(config, store, sandbox_dir) as runner:
        rows = runner.store.recent(job, limit)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        out.print("no job runs recorded yet", markup=False)
        return
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("job", "scheduled (UTC)", "cluster", "status", "took"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        res = r["result"] or {}
        status = res.get("status") or ("ok" if r["ok"] else (r["severity"] or "not ok"))
        took = f"{res['duration_s']:.1f}s" if "duration_s" in res else "-"
        table.add_row(r["job"], r["scheduled_for"], r["cluster"], str(status), took)
    out.print(table)
