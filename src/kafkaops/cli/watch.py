"""``kafkaops watch``: the watch loop in the foreground (collect → evaluate → incidents → notify).

Its own module because it is the one long-running command of the CLI (its progress lines, its
JSON-lines output, Ctrl-C handling); :mod:`kafkaops.cli.main` registers it on the main app.
The loop itself is :mod:`kafkaops.pipeline.watch`, imported inside the command.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from kafkaops.cli.common import (
    LoopBootstrapOption,
    LoopClustersOption,
    LoopConfigOption,
    LoopIntervalOption,
    SandboxDir,
    StoreOption,
    emit_json,
    fail,
)
from kafkaops.core.errors import KafkaopsError

err = Console(stderr=True)


def watch(
    config: LoopConfigOption = None,
    cluster: LoopClustersOption = None,
    bootstrap: LoopBootstrapOption = None,
    store: StoreOption = None,
    interval: LoopIntervalOption = None,
    count: Annotated[
        int | None, typer.Option(min=1, help="Stop after N cycles (default: run until Ctrl-C).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON line per cycle on stdout.")
    ] = False,
    sandbox_dir: SandboxDir = None,
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
    """
    import dataclasses

    from kafkaops.pipeline.runtime import open_watch
    from kafkaops.pipeline.watch import CycleOutcome

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
    targets_text = ", ".join(
        f"{t.name} ({t.client_kwargs.get('bootstrap_servers')})" for t in targets
    )
    err.print(
        f"watching {targets_text} every {watcher.interval_s:g}s; store "
        f"{runtime.store_url.split('@')[-1]}; Ctrl-C to stop",
        markup=False,
        soft_wrap=True,
    )

    def show(outcome: CycleOutcome) -> None:
        if as_json:
            emit_json(dataclasses.asdict(outcome), compact=True)
            return
        for c in outcome.clusters:
            state = "unreachable" if not c.reachable else c.severity.value
            err.print(
                f"{outcome.at:%Y-%m-%dT%H:%M:%SZ} {c.cluster}: {state}, {c.triggered} triggered, "
                f"{c.notifications} notifications, {c.actions} incident actions"
                + (f" ({c.error})" if c.error else "")
                + ("" if outcome.leader else " [standby: another watcher holds the lease]"),
                markup=False,
                soft_wrap=True,
            )
        if outcome.delivered or outcome.failed or outcome.retried:
            err.print(
                f"  notifications delivered {outcome.delivered}, retrying {outcome.retried}, "
                f"failed {outcome.failed}",
                markup=False,
            )
        for key, reason in sorted(outcome.errors.items()):
            err.print(f"  {key}: {reason}", markup=False, soft_wrap=True)

    try:
        watcher.run(count=count, on_cycle=show)
    except KeyboardInterrupt:
        err.print("stopping", markup=False)
    finally:
        watcher.close()
        runtime.close()
