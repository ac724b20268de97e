"""Values with explicit units: durations, percentages, byte sizes.

The runbook mixes ``consumer_lag_ms: 300000`` with CloudWatch's ``EstimatedMaxTimeLag``, which
is in *seconds*; a bare number in a config is exactly how such a mix-up becomes a silent
1000x error.  So every duration, percentage and size in a config carries its unit, and is
normalised here, once, at the edge: durations to integer milliseconds, percentages to a float
percent (``"0.1%"`` → ``0.1``, never the ratio ``0.001``), sizes to integer bytes.

The parsers raise :class:`ValueError` with a message meant for the user; pydantic wraps it into
a validation error and :mod:`kafkaops.config` turns that into a one-line ``ConfigError``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_NUMBER = r"\d+(?:\.\d+)?"
# One or more <number><unit> parts, so "1m30s" works as well as "90s".
_DURATION_PART = re.compile(rf"({_NUMBER})\s*(ms|s|m|h|d)", re.IGNORECASE)
_DURATION = re.compile(rf"^(?:\s*{_NUMBER}\s*(?:ms|s|m|h|d))+\s*$", re.IGNORECASE)
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PERCENT = re.compile(rf"^\s*({_NUMBER})\s*%\s*$")
_BYTES = re.compile(rf"^\s*({_NUMBER})\s*([KMGTP]i?B|B)\s*$", re.IGNORECASE)
_BYTES_MULT = {
    "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50,
}  # fmt: skip
_BARE_NUMBER = re.compile(rf"^\s*-?{_NUMBER}\s*$")

DURATION_HINT = "use e.g. 300s, 5m"
#: No duration in kafkaops is meaningfully longer than this (10 years).  Larger values are
#: typos or probes; unbounded, they overflow ``timedelta`` or make a loop sleep for ever.
#: Fields set tighter maxima of their own (``Field(le=…)``); this is the parser's backstop.
MAX_DURATION_MS = 3650 * 86_400_000
PERCENT_HINT = "use e.g. 85%, 0.1%"
BYTES_HINT = "use e.g. 100GB, 512MiB, 1TiB"
BANDWIDTH_HINT = "use e.g. 1Gbit/s, 10Gbps, 125MB/s"
_BANDWIDTH = re.compile(rf"^\s*({_NUMBER})\s*([kmgt]?)(bit/s|bps|b/s)\s*$", re.IGNORECASE)
_SI = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def _is_bare_number(value: Any) -> bool:
    """True for ``300000``, ``0.5`` and ``"300"``: a value whose unit the user left out."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(_BARE_NUMBER.match(value))


def _require_text(value: Any, kind: str, hint: str) -> str:
    """Return ``value`` if it is a string; otherwise explain why it cannot be a ``kind``."""
    if _is_bare_number(value):
        raise ValueError(f"{value!r} has no unit; add one ({hint})")
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a {kind} ({hint})")
    return value


def parse_duration_ms(value: Any) -> int:
    """``"5m"`` → 300000, ``"1m30s"`` → 90000.  Bare numbers are refused: say ``300s``."""
    text = _require_text(value, "duration", DURATION_HINT)
    if not _DURATION.match(text):
        raise ValueError(f"{value!r} is not a duration ({DURATION_HINT})")
    total = sum(
        float(number) * _DURATION_MS[unit.lower()] for number, unit in _DURATION_PART.findall(text)
    )
    if total > MAX_DURATION_MS:
        raise ValueError(f"{value!r} is too long (at most {MAX_DURATION_MS // 86_400_000}d)")
    return round(total)


def parse_percent(value: Any) -> float:
    """``"85%"`` → 85.0, ``"0.1%"`` → 0.1; must be within 0–100%."""
    text = _require_text(value, "percentage", PERCENT_HINT)
    match = _PERCENT.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a percentage between 0% and 100% ({PERCENT_HINT})")
    pct = float(match.group(1))
    if pct > 100:
        raise ValueError(f"{value!r} is over 100%")
    return pct


def parse_bytes(value: Any) -> int:
    """``"100GB"`` → 10**11 (SI), ``"1TiB"`` → 2**40 (binary)."""
    text = _require_text(value, "byte size", BYTES_HINT)
    match = _BYTES.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a byte size ({BYTES_HINT})")
    return round(float(match.group(1)) * _BYTES_MULT[match.group(2).lower()])


def parse_bandwidth(value: Any) -> float:
    """Network bandwidth in bytes/s: ``"1Gbit/s"`` / ``"1Gbps"`` → 1.25e8, ``"125MB/s"`` → 1.25e8.

    Bits are spelled ``bit/s`` or ``bps``, bytes ``B/s`` (upper-case B), as network specs do.
    """
    text = _require_text(value, "bandwidth", BANDWIDTH_HINT)
    match = _BANDWIDTH.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a bandwidth ({BANDWIDTH_HINT})")
    number, prefix, unit = match.groups()
    if unit.lower() == "b/s" and unit[0] == "b":
        raise ValueError(f"{value!r}: say bit/s for bits or B/s for bytes ({BANDWIDTH_HINT})")
    scale = _SI[prefix.lower()]
    bytes_per_s = float(number) * scale / (1 if unit == "B/s" else 8)
    if bytes_per_s <= 0:
        raise ValueError(f"{value!r} must be above zero")
    return bytes_per_s


def parse_seconds(value: Any) -> Any:
    """A duration in seconds: ``"15m"`` → 900.0, or a bare number of seconds (the ``*_s`` keys).

    The incident settings name their durations ``after_s``, ``duration_s``…; they accept a bare
    number (seconds, as the name says) or a duration with its unit, like the rest of the config.
    Anything else is passed on for the field's own validation to reject.
    """
    if isinstance(value, str) and not _is_bare_number(value):
        return parse_duration_ms(value) / 1000
    if _is_bare_number(value):
        seconds = float(value)
        if not math.isfinite(seconds) or seconds > MAX_DURATION_MS / 1000:
            raise ValueError(f"{value!r} is not a duration in seconds below 10 years")
    return value


def format_duration_ms(ms: float) -> str:
    """300000 → ``"5m 0s"``: precise for short values, coarse (two units) for long ones."""
    if ms < 0:
        return "-" + format_duration_ms(-ms)
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def format_percent(pct: float) -> str:
    """85.0 → ``"85%"``, 0.1 → ``"0.1%"``: the way the config spells it."""
    return f"{pct:g}%"


def format_bytes(n: float) -> str:
    """1288490189 → ``"1.2 GiB"`` (binary units, as ``df -h`` shows disks)."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    for unit in units[:-1]:
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} {units[-1]}"


#: Config field type: the YAML says ``5m``, the model holds milliseconds.
DurationMs = Annotated[int, BeforeValidator(parse_duration_ms)]
#: Same as :data:`DurationMs` (the name a reader of ``config.py`` looks for first).
Duration = DurationMs


def _short_duration(ms: int) -> str:
    """86400000 → ``"1d"``, 1500 → ``"1500ms"``: the largest unit that divides exactly."""
    for unit in ("d", "h", "m", "s"):
        if ms and ms % _DURATION_MS[unit] == 0:
            return f"{ms // _DURATION_MS[unit]}{unit}"
    return f"{ms}ms"


def bounded_duration(min_ms: int, max_ms: int) -> Any:
    """Config field type: a duration between ``min_ms`` and ``max_ms``, refused in the user's
    own units (``'2d' is more than the maximum 1d``), never in milliseconds they did not write."""

    def check(value: Any) -> int:
        ms = parse_duration_ms(value)
        if ms < min_ms:
            raise ValueError(f"{value!r} is less than the minimum {_short_duration(min_ms)}")
        if ms > max_ms:
            raise ValueError(f"{value!r} is more than the maximum {_short_duration(max_ms)}")
        return ms

    return Annotated[int, BeforeValidator(check)]


#: Config field type: the YAML says ``85%``, the model holds 85.0.
Percent = Annotated[float, BeforeValidator(parse_percent)]
#: Config field type: the YAML says ``100GB``, the model holds bytes.
ByteSize = Annotated[int, BeforeValidator(parse_bytes)]
#: Config field type: the YAML says ``1Gbit/s``, the model holds bytes per second.
Bandwidth = Annotated[float, BeforeValidator(parse_bandwidth)]
#: Config field type: seconds as a number, or a duration with its unit (``15m`` → 900.0).
Seconds = Annotated[float, BeforeValidator(parse_seconds)]
