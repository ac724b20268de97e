"""Explicit units: what the config accepts and what it refuses."""

from __future__ import annotations

import pytest

from kafkaops.units import (
    format_bytes,
    format_duration_ms,
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
    ],
)
def test_durations(text, ms):
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("bad", [300000, "300", "5 minutes", "5x", "", None, True])
def test_durations_need_a_unit(bad):
    with pytest.raises(ValueError):
        parse_duration_ms(bad)


def test_percent():
    assert parse_percent("85%") == 85.0
    assert parse_percent("0.1%") == pytest.approx(0.1)
    for bad in ("85", 85, "101%", "-1%", "abc%"):
        with pytest.raises(ValueError):
            parse_percent(bad)


def test_bytes():
    assert parse_bytes("100GB") == 100 * 10**9
    assert parse_bytes("1TiB") == 2**40
    assert parse_bytes("512MiB") == 512 * 2**20
    with pytest.raises(ValueError):
        parse_bytes("100")


def test_formatting():
    assert format_duration_ms(300_000) == "5m 0s"
    assert format_duration_ms(999) == "999ms"
    assert format_duration_ms(7_260_000) == "2h 1m"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(12) == "12 B"
