"""Explicit units: what the config accepts, what it refuses, and how values are shown."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from kafkaops.core.units import (
    ByteSize,
    Duration,
    DurationMs,
    Percent,
    format_bytes,
    format_duration_ms,
    format_percent,
    parse_bytes,
    parse_duration_ms,
    parse_percent,
)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("250ms", 250),
        ("300s", 300_000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("1d", 86_400_000),
        ("1.5s", 1500),
        (" 2 m ", 120_000),
        ("1m30s", 90_000),
        ("1h 30m", 5_400_000),
        ("5M", 300_000),
        ("0s", 0),
    ],
)
def test_durations(text, ms):
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("bare", [300000, "300", 0.5, " 60 "])
def test_bare_number_duration_asks_for_a_unit(bare):
    with pytest.raises(ValueError, match=r"has no unit; add one \(use e\.g\. 300s, 5m\)"):
        parse_duration_ms(bare)


@pytest.mark.parametrize("bad", ["5 minutes", "5x", "", "-5s", "5m-", "m", None, True, [1]])
def test_not_a_duration(bad):
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration_ms(bad)


def test_duration_error_message_is_exact():
    with pytest.raises(ValueError) as info:
        parse_duration_ms("5 minutes")
    assert str(info.value) == "'5 minutes' is not a duration (use e.g. 300s, 5m)"


@pytest.mark.parametrize(
    ("text", "pct"), [("85%", 85.0), ("0.1%", 0.1), ("100%", 100.0), ("0%", 0.0), (" 7 % ", 7.0)]
)
def test_percent(text, pct):
    assert parse_percent(text) == pytest.approx(pct)


def test_percent_errors():
    with pytest.raises(ValueError, match="has no unit"):
        parse_percent(85)
    with pytest.raises(ValueError, match="has no unit"):
        parse_percent("85")
    with pytest.raises(ValueError, match=r"'101%' is over 100%"):
        parse_percent("101%")
    for bad in ("-1%", "abc%", "85 percent", None):
        with pytest.raises(ValueError, match="is not a percentage"):
            parse_percent(bad)


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("100GB", 100 * 10**9),
        ("1TiB", 2**40),
        ("512MiB", 512 * 2**20),
        ("1.5KiB", 1536),
        ("10 B", 10),
        ("1tb", 10**12),
    ],
)
def test_bytes(text, n):
    assert parse_bytes(text) == n


def test_bytes_errors():
    with pytest.raises(ValueError, match="has no unit"):
        parse_bytes("100")
    with pytest.raises(ValueError, match="is not a byte size"):
        parse_bytes("100 gigs")


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0ms"),
        (999, "999ms"),
        (1500, "1.5s"),
        (300_000, "5m 0s"),
        (61_000, "1m 1s"),
        (7_260_000, "2h 1m"),
        (2 * 86_400_000 + 3 * 3_600_000, "2d 3h"),
        (-300_000, "-5m 0s"),
    ],
)
def test_format_duration(ms, text):
    assert format_duration_ms(ms) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [(12, "12 B"), (1536, "1.5 KiB"), (1_288_490_189, "1.2 GiB"), (2**50, "1.0 PiB")],
)
def test_format_bytes(n, text):
    assert format_bytes(n) == text


def test_format_percent():
    assert format_percent(85.0) == "85%"
    assert format_percent(0.1) == "0.1%"


class _Sample(BaseModel):
    lag: DurationMs
    also: Duration = 1000
    disk: Percent
    size: ByteSize


def test_annotated_types_validate_inside_pydantic_models():
    m = _Sample.model_validate({"lag": "5m", "also": "2s", "disk": "85%", "size": "1GiB"})
    assert (m.lag, m.also, m.disk, m.size) == (300_000, 2000, 85.0, 2**30)
    with pytest.raises(ValidationError, match="has no unit"):
        _Sample.model_validate({"lag": 300, "disk": "85%", "size": "1GiB"})
