"""Issue 10 item 9: absurd numbers and durations are refused at parse time, in one line.

Each example used to end in a traceback (OverflowError from SQLite or ``timedelta``) or a hang
(``watch --interval inf``; a config ``interval: 99999999999999999999d`` that passed
``config-check``).  They run the real ``kafkaops`` entry point.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.core.units import bounded_duration, parse_duration_ms, parse_seconds
from tests.conftest import run_cli


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("outbox", "retry", "99999999999999999999999"), "'ID'"),
        (("incidents", "list", "--limit", "99999999999999999999"), "'--limit'"),
        (
            (
                "maintenance",
                "start-emergency",
                "--duration",
                "99999999999999d",
                "--reason",
                "x",
            ),
            "--duration: '99999999999999d' is too long",
        ),
        (("watch", "--interval", "inf", "--bootstrap", "127.0.0.1:9"), "'--interval'"),
        (("serve", "--once-for", "inf"), "'--once-for'"),
        (("maintenance", "list", "--days", "1e400"), "'--days'"),
        (("lag", "--watch", "1e9", "--bootstrap", "127.0.0.1:9"), "'--watch'"),
    ],
)
def test_absurd_cli_numbers_are_one_line_errors(args: tuple[str, ...], expected: str) -> None:
    proc = run_cli(*args, timeout=30)
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert expected in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("interval", "message"),
    [
        ("99999999999999999999d", "watch.interval: '99999999999999999999d' is too long"),
        ("2d", "watch.interval: '2d' is more than the maximum 1d"),
        ("100ms", "watch.interval: '100ms' is less than the minimum 1s"),
    ],
)
def test_config_check_refuses_absurd_intervals(tmp_path: Path, interval: str, message: str) -> None:
    cfg = tmp_path / "k.yaml"
    cfg.write_text(f"clusters:\n  a:\n    bootstrap: 127.0.0.1:9\nwatch:\n  interval: {interval}\n")
    proc = run_cli("config-check", str(cfg), timeout=30)
    assert proc.returncode == 3 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_parsers_bound_durations_and_seconds() -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration_ms("99999999999999d")
    assert parse_duration_ms("3650d") == 3650 * 86_400_000
    for bad in (float("inf"), float("nan"), 1e300, "99999999999999999999"):
        with pytest.raises(ValueError, match="below 10 years"):
            parse_seconds(bad)
    assert parse_seconds(90) == 90
    assert bounded_duration(1000, 2000) is not None
