"""One logging set-up for the long-running commands (``watch``, ``serve``).

Why: ``kafkaops watch`` set up no logging at all, so the INFO lines of the loop, the dispatcher
and the capacity hook were dropped, while ``serve`` had its own format.  Both now take
``--log-level`` and ``--log-format``: ``text`` (one line per event) or ``json`` (one JSON object
per line, for Loki/CloudWatch/Elastic), always with UTC timestamps, always on stderr (stdout
stays for ``--json`` output).
"""

from __future__ import annotations

import enum
import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Annotated

import typer


class LogFormat(enum.StrEnum):
    text = "text"
    json = "json"


class LogLevel(enum.StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


LogLevelOption = Annotated[
    LogLevel | None,
    typer.Option(
        "--log-level",
        envvar="KAFKAOPS_LOG_LEVEL",
        help="debug, info (default), warning or error.",
    ),
]
LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        envvar="KAFKAOPS_LOG_FORMAT",
        help="text: one line per event; json: one JSON object per line. UTC either way.",
    ),
]

#: Libraries whose INFO lines are noise at INFO (their warnings still show).
_NOISY = ("sqlalchemy", "httpx", "httpcore", "urllib3", "botocore", "kafka", "alembic")


class JsonFormatter(logging.Formatter):
    """``{"ts": "…Z", "level": "INFO", "logger": "…", "msg": "…"}`` plus ``exc`` if any."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, tz=UTC)
        event = {
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)


def setup_logging(level: LogLevel | str | None = None, fmt: LogFormat | str = "text") -> None:
    """Install the one handler on the root logger (idempotent: it replaces earlier ones)."""
    name = str(level.value if isinstance(level, LogLevel) else level or "info").upper()
    handler = logging.StreamHandler(sys.stderr)
    if str(fmt) == "json":
        handler.setFormatter(JsonFormatter())
    else:
        formatter = logging.Formatter(
            "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
        )
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(name)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.INFO if name == "DEBUG" else logging.WARNING)
