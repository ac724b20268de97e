"""Command-line options shared by ``kafkaops watch`` and ``kafkaops serve`` (the two faces of
the watch loop), in a module of their own so either command can import them without importing
the other (``kafkaops.cli`` registers ``serve`` lazily, which must not be circular).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

LoopConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="kafkaops YAML config file.")
]
LoopClustersOption = Annotated[
    list[str] | None,
    typer.Option(help="Watch only this cluster (repeatable; default: every cluster)."),
]
LoopBootstrapOption = Annotated[
    str | None, typer.Option(help="Watch one cluster at HOST:PORT instead of a config.")
]
LoopIntervalOption = Annotated[
    float | None,
    typer.Option(min=1, help="Seconds between cycles (default: watch.interval, 10 s)."),
]
