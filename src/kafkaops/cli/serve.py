"""``kafkaops serve``: the long-running service (watch loop, scheduled checks, API, /metrics, UI).

Registered lazily by :mod:`kafkaops.cli` (only when argv asks for it): FastAPI and uvicorn are
imported inside the command, so ``kafkaops health`` never pays for them.  Exit codes (the table
in :mod:`kafkaops.cli.common`): 0 after a clean stop (Ctrl-C, SIGTERM, ``--once-for``), 3 for
bad input (one line on stderr).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from kafkaops.cli.common import (
    LoopBootstrapOption,
    LoopClustersOption,
    LoopConfigOption,
    LoopIntervalOption,
    fail,
)
from kafkaops.cli.logs import LogFormat, LogFormatOption, LogLevelOption, setup_logging


def serve(
    config: LoopConfigOption = None,
    cluster: LoopClustersOption = None,
    bootstrap: LoopBootstrapOption = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Store URL (sqlite:///FILE or postgresql+psycopg://…); default: "
            "$KAFKAOPS_STORE, store.url, else an embedded SQLite file (logged first).",
        ),
    ] = None,
    bind: Annotated[
        str | None, typer.Option(help="Address to listen on (default: service.bind, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Port (default: service.port, 8080; 0: any free)."),
    ] = None,
    interval: LoopIntervalOption = None,
    once_for: Annotated[
        float | None,
        typer.Option(
            min=1, max=31_622_400, help="Stop cleanly after this many seconds (at most 366 days)."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Debug logging (= --log-level debug).")
    ] = False,
    log_level: LogLevelOption = None,
    log_format: LogFormatOption = LogFormat.text,
    sandbox_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Sandbox state folder (when no --config/--bootstrap)."),
    ] = None,
) -> None:
    """Run the service: watch loop, daily 09:00 check, weekly review, HTTP API, /metrics, UI.

    Watches every configured cluster (collect → evaluate → incidents → notify) like
    'kafkaops watch', and serves the dashboard at /, the API under /api (OpenAPI at /docs),
    liveness at /health and Prometheus metrics at /metrics.  Acknowledge/resolve need the
    bearer token from service.token_env (default $KAFKAOPS_API_TOKEN) or service.token_file.
    Stops cleanly on Ctrl-C or SIGTERM.

    Examples:

      kafkaops serve -c kafkaops.yaml

      KAFKAOPS_API_TOKEN=$(openssl rand -hex 16) kafkaops serve -c k.yaml --port 9000

      kafkaops serve --store sqlite:///kafkaops.db    # the running sandbox

      curl -s localhost:8080/api/clusters/prod/health | jq .overall_healthy

      kafkaops serve -c kafkaops.yaml --once-for 60   # scripted: stop after 60 s

      kafkaops serve --log-format json               # one JSON object per log line
    """
    from kafkaops.core.errors import KafkaopsError
    from kafkaops.service.server import ServeOptions, run

    setup_logging(log_level or ("debug" if verbose else None), log_format)
    opts = ServeOptions(
        config=config,
        clusters=cluster,
        bootstrap=bootstrap,
        store=store,
        sandbox_dir=sandbox_dir,
        bind=bind,
        port=port,
        interval_s=interval,
        once_for=once_for,
    )

    def started(url: str) -> None:
        sys.stdout.write(f"kafkaops serving on {url} (API docs {url}docs); Ctrl-C to stop\n")
        sys.stdout.flush()

    try:
        code = run(opts, on_started=started)
    except KafkaopsError as exc:
        fail(str(exc))
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the main CLI."""
    app.command("serve")(serve)
