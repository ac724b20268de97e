"""Values with explicit units: durations, percentages, byte sizes.

The runbook mixes ``consumer_lag_ms: 300000`` with CloudWatch metrics in seconds; a bare number in
a config is how such mistakes happen.  So durations and percentages must carry their unit, and
are normalised here (durations to milliseconds, percentages to percent) once, at the edge.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$", re.IGNORECASE)
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]i?B|B)\s*$", re.IGNORECASE)
_BYTES_MULT = {
    "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50,
}  # fmt: skip


def parse_duration_ms(value: Any) -> int:
    """``"5m"`` → 300000.  Bare numbers are refused: say ``300s`` or ``300000ms``."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{value!r} has no unit (use e.g. 300s, 5m, 250ms)")
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"{value!r} is not a duration (use e.g. 300s, 5m)")
    return round(float(m.group(1)) * _DURATION_MS[m.group(2).lower()])


def parse_percent(value: Any) -> float:
    """``"85%"`` → 85.0; must be within 0–100."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{value!r} has no unit (use e.g. 85%)")
    m = _PERCENT.match(value)
    if not m:
        raise ValueError(f"{value!r} is not a percentage (use e.g. 85%, 0.1%)")
    pct = float(m.group(1))
    if pct > 100:
        raise ValueError(f"{value!r} is over 100%")
    return pct


def parse_bytes(value: Any) -> int:
    """``"100GB"`` → 10**11, ``"1TiB"`` → 2**40."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{value!r} has no unit (use e.g. 100GB, 512MiB)")
    m = _BYTES.match(value)
    if not m:
        raise ValueError(f"{value!r} is not a byte size (use e.g. 100GB, 512MiB)")
    return round(float(m.group(1)) * _BYTES_MULT[m.group(2).lower()])


def format_duration_ms(ms: float) -> str:
    """300000 → ``"5m 0s"``; short values stay in seconds or milliseconds."""
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m"


def format_bytes(n: float) -> str:
    """1288490189 → ``"1.2 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


#: Config field types: the YAML says ``5m``, the model holds milliseconds.
DurationMs = Annotated[int, BeforeValidator(parse_duration_ms)]
#: Config field type: the YAML says ``85%``, the model holds 85.0.
Percent = Annotated[float, BeforeValidator(parse_percent)]
#: Config field type: the YAML says ``100GB``, the model holds bytes.
ByteSize = Annotated[int, BeforeValidator(parse_bytes)]
