"""What every command shares: the ONE exit-code table, one-line errors, JSON output, options.

Why one table: scripts and cron jobs branch on exit codes, so a code must mean the same thing
in every command.  Before this module, 1 meant "P2 findings" in ``health`` and "not found" in
``incidents show``; a script treating 1 as "warnings only" would have ignored a missing
incident.  The table is printed in ``kafkaops --help`` and in the README.
"""

from __future__ import annotations

import enum
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer

from kafkaops.core.clock import utc_now

if TYPE_CHECKING:
    from rich.console import Console


class ExitCode(enum.IntEnum):
    """Exit codes of every ``kafkaops`` command (stable: scripts depend on them)."""

    OK = 0  #: success; for checks: healthy
    P2 = 1  #: a check found warnings (P2) and nothing worse
    P1_P0 = 2  #: a check found P1 or P0 findings
    ERROR = 3  #: bad input, config error, unreachable cluster, failed operation
    NOT_FOUND = 4  #: the named thing (incident, message, group, topic) does not exist
    INTERRUPTED = 130  #: Ctrl-C


EXIT_OK = ExitCode.OK
EXIT_P2 = ExitCode.P2
EXIT_P1_P0 = ExitCode.P1_P0
EXIT_ERROR = ExitCode.ERROR
EXIT_NOT_FOUND = ExitCode.NOT_FOUND
EXIT_INTERRUPTED = ExitCode.INTERRUPTED

#: The table as shown in ``kafkaops --help`` and the README.
EXIT_TABLE: tuple[tuple[int, str], ...] = (
    (0, "success; for checks (health, lag, dr verify …): healthy"),
    (1, "a check found warnings (P2) and nothing worse"),
    (2, "a check found P1 or P0 findings"),
    (3, "bad input, config error, unreachable cluster or failed operation"),
    (4, "not found: the named incident, message, group or topic does not exist"),
    (130, "interrupted (Ctrl-C)"),
)


def exit_table_text() -> str:
    """The table as help text (typer keeps blank-line separated paragraphs)."""
    return "Exit codes:\n\n" + "\n\n".join(
        f"  {code:>3}  {meaning}" for code, meaning in EXIT_TABLE
    )


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """One line on stderr and a non-zero exit: never a traceback for a user error."""
    sys.stderr.write("error: " + " ".join(str(message).split()) + "\n")
    raise typer.Exit(int(code))


class _LazyConsole:
    """A rich ``Console`` built on first use: every attribute is the real console's."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self._kwargs = kwargs
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._kwargs)
        return getattr(self._console, name)


def lazy_console(**kwargs: Any) -> Console:
    """A module-level ``Console`` that imports rich only when something is printed with it.

    The modules ``kafkaops lag --json`` imports hold consoles for their human output; rich
    costs tens of milliseconds to import, and the JSON path writes with :func:`emit_json`.
    """
    return cast("Console", _LazyConsole(kwargs))


def emit_json(data: Any, *, compact: bool = False) -> None:
    """JSON on stdout; ``compact`` for large documents (snapshots of big clusters)."""
    if compact:
        text = json.dumps(data, separators=(",", ":"), default=str)
    else:
        text = json.dumps(data, indent=2, default=str)
    sys.stdout.write(text + "\n")


def utcnow() -> datetime:
    """The clock of every command (tests replace it; ``KAFKAOPS_NOW`` shifts it)."""
    return utc_now()


# ------------------------------------------------------------------------ shared options
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="kafkaops YAML config file.", envvar="KAFKAOPS_CONFIG"),
]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL (sqlite:///FILE or postgresql+psycopg://…); default: $KAFKAOPS_STORE, "
        "store.url from the config, else an embedded SQLite file (said on stderr).",
    ),
]

# The watch loop's options, shared by ``kafkaops watch`` and ``kafkaops serve``.
LoopConfigOption = ConfigOpt
LoopClustersOption = Annotated[
    list[str] | None,
    typer.Option(help="Watch only this cluster (repeatable; default: every cluster)."),
]
LoopBootstrapOption = Annotated[
    str | None,
    typer.Option(
        help="Watch one cluster at HOST:PORT instead of a config.", envvar="KAFKAOPS_BOOTSTRAP"
    ),
]
LoopIntervalOption = Annotated[
    float | None,
    typer.Option(
        min=1, max=86_400, help="Seconds between cycles, 1-86400 (default: watch.interval, 10 s)."
    ),
]

# The commands that read a sandbox (watch, health, lag, sandbox …) and a history store.
SandboxDir = Annotated[
    Path | None,
    typer.Option(
        "--dir", help="Sandbox state folder (default .sandbox/default or $KAFKAOPS_SANDBOX_DIR)."
    ),
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="KAFKAOPS_STORE",
        help="History store URL (sqlite:///FILE or postgresql+psycopg://…); default: "
        "$KAFKAOPS_STORE or store.url (watch: else an embedded SQLite file). Enables consumer "
        "status and estimated time lag.",
    ),
]
