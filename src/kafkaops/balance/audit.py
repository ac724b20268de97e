"""The balance audit log: one JSON line per apply, cancel and cleanup (who, when, what, result).

Appended with ``O_APPEND`` (one ``write`` per record), so two operators on one host never
interleave half-lines.  A failure to write the audit line is reported, never hidden.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(path: Path, action: str, **fields: Any) -> dict[str, Any]:
    entry = {"at": utc_now(), "who": who(), "action": action, **fields}
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, separators=(",", ":"), default=str) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return entry


def read(path: Path, last: int = 20) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines()[-last:]:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
