"""``kafkaops watch``: the watch loop in the foreground (collect → evaluate → incidents → notify).

Its own module because it is the one long-running command of the CLI (its progress lines, its
JSON-lines output, Ctrl-C handling); :mod:`kafkaops.cli.main` registers it on the main app.
The loop itself is :mod:`kafkaops.pipeline.watch`, imported inside the command.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kafkaops.cli.common import (
    LoopBootstrapOption,
    LoopClustersOption,
    LoopConfigOption,
    LoopIntervalOption,
    SandboxDir,
    StoreOption,
    emit_json,
    fail,
    lazy_console,
)
from kafkaops.cli.logs import LogFormat, LogFormatOption, LogLevelOption, setup_logging
from kafkaops.core.errors import KafkaopsError
from kafkaops.core.gc_policy import manage_collector
from kafkaops.core.memory import release_free_memory, tune_malloc

if TYPE_CHECKING:
    from kafkaops.pipeline.watch import ClusterOutcome, CycleOutcome

err = lazy_console(stderr=True)


def watch(
    config: LoopConfigOption = None,
    cluster: LoopClustersOption = None,
    bootstrap: LoopBootstrapOption = None,
    store: StoreOption = None,
    interval: LoopIntervalOption = None,
    count: Annotated[
        int | None,
        typer.Option(
            min=1, max=100_000_000, help="Stop after N cycles (default: run until Ctrl-C)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON line per cycle on stdout.")
    ] = False,
    sandbox_dir: SandboxDir = None,
    log_level: LogLevelOption = None,
    log_format: LogFormatOption = LogFormat.text,
) -> None:
    """Watch clusters: collect → evaluate → incidents → notify, every interval, in the foreground.

    Alerts become incidents (grouped per cluster), escalate per the runbook matrix when nobody
    acknowledges, and are delivered through the outbox to the channels in the config (PagerDuty,
    Slack, e-mail, SNS, webhook, Alertmanager) with retries; nothing is lost on a restart.  A
    cluster unreachable for watch.offline_after_cycles cycles in a row is a P0.  With two
    watchers on one PostgreSQL store, only the lease holder pages.

    Examples:

      kafkaops watch -c kafkaops.yaml

      kafkaops watch -c kafkaops.yaml --cluster prod --interval 30

      kafkaops watch --bootstrap 127.0.0.1:19092 --store sqlite:///kafkaops.db --count 6 --json

      kafkaops watch --log-format json --log-level debug 2> watch.log
    """
    from kafkaops.pipeline.runtime import open_watch

    setup_logging(log_level, log_format)
    try:
        runtime, watcher = open_watch(
            config,
            clusters=cluster,
            bootstrap=bootstrap,
            store=store,
            sandbox_dir=sandbox_dir,
            interval_s=interval,
        )
    except KafkaopsError as exc:
        fail(str(exc))
    targets = watcher.targets
    targets_text = ", ".join(f"{t.name} ({t.bootstrap})" for t in targets)
    err.print(
        f"watching {targets_text} every {watcher.interval_s:g}s; store "
        f"{runtime.store_url.split('@')[-1]} ({runtime.store_origin}); Ctrl-C to stop",
        markup=False,
        soft_wrap=True,
    )
    err.print(windows_line(runtime.engine.settings.maintenance), markup=False, soft_wrap=True)

    tune_malloc()
    collector = manage_collector()  # see kafkaops.core.gc_policy: no long full-collection stops

    def on_cycle(outcome: CycleOutcome) -> None:
        show_cycle(outcome, err, as_json=as_json)
        collector.after_cycle()
        release_free_memory()  # a long-running watch hands each cycle's buffers back

    try:
        watcher.run(count=count, on_cycle=on_cycle)
    except KeyboardInterrupt:
        err.print("stopping", markup=False)
    finally:
        watcher.close()
        runtime.close()


def show_cycle(outcome: CycleOutcome, err: Any, *, as_json: bool = False) -> None:
    """Print one cycle: a line per cluster, each mute explained under its cluster's line."""
    if as_json:
        emit_json(dataclasses.asdict(outcome), compact=True)
        return
    for c in outcome.clusters:
        err.print(cycle_line(outcome, c), markup=False, soft_wrap=True)
        for why in c.muted:
            err.print(f"  {why}", markup=False, soft_wrap=True)
    if outcome.instance is not None and outcome.elsewhere:
        err.print(
            f"  instance {outcome.instance}: watched by another instance: "
            + ", ".join(outcome.elsewhere),
            markup=False,
            soft_wrap=True,
        )
    if outcome.delivered or outcome.failed or outcome.retried:
        err.print(
            f"  sent {outcome.delivered}, retrying {outcome.retried}, failed {outcome.failed}",
            markup=False,
        )
    for key, reason in sorted(outcome.errors.items()):
        err.print(f"  {key}: {reason}", markup=False, soft_wrap=True)


def cycle_line(outcome: CycleOutcome, c: ClusterOutcome) -> str:
    """One cluster's cycle in one line: what was found and what happened because of it.

    The counters count events, not rows: incidents opened/escalated/resolved, messages queued
    for delivery, alerts muted by a window (each mute is then explained on its own line).
    """
    state = "unreachable" if not c.reachable else c.severity.value
    parts = [f"{outcome.at:%Y-%m-%dT%H:%M:%SZ} {c.cluster}: {state}, {c.triggered} triggered"]
    changes = [
        f"{n} {word}"
        for n, word in ((c.opened, "opened"), (c.escalated, "escalated"), (c.resolved, "resolved"))
        if n
    ]
    if changes:
        parts.append("incidents " + ", ".join(changes))
    parts.append(f"queued {c.queued}")
    if c.muted:
        parts.append(f"muted {len(c.muted)}")
    line = "; ".join(parts)
    if c.error:
        line += f" ({c.error})"
    if c.epoch is not None:
        line += f" [owner, lease epoch {c.epoch}]"
    elif not outcome.leader:
        line += " [standby: another watcher holds the lease]"
    return line


def windows_line(maintenance: Any) -> str:
    """Which maintenance windows mute P1/P2 pages — said at start, so a quiet pager at 03:00
    is never a mystery."""
    from kafkaops.core.clock import is_shifted, utc_now

    windows = list(maintenance.windows)
    clock = f" (clock set by KAFKAOPS_NOW: {utc_now():%Y-%m-%dT%H:%M:%SZ})" if is_shifted() else ""
    if not windows and not maintenance.adhoc and not maintenance.silences:
        return "maintenance windows: none configured — every alert pages" + clock
    names = (
        ", ".join(
            f"{w.name} ({w.rrule.removeprefix('RRULE:')}, {w.duration_s / 3600:g} h)"
            for w in windows
        )
        or "none recurring"
    )
    p0 = "P0 still pages" if maintenance.p0_pages_during_maintenance else "P0 muted too"
    return f"maintenance windows mute P1/P2 ({p0}): {names}" + clock
