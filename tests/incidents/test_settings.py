"""Incident settings: defaults are the runbook, the example file documents exactly them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from kafkaops.config import default_config
from kafkaops.core.model import Severity
from kafkaops.incidents.settings import (
    DEFAULT_SETTINGS,
    EXAMPLE_PATH,
    IncidentSettings,
    settings_from_config,
)


def load_settings_file(path: Path | str) -> IncidentSettings:
    """Read a YAML file holding an ``incidents:`` section (or just its content).

    Only these tests read the example file on its own; the main config loader
    (:mod:`kafkaops.config`) owns the real file.  Raises ``ValueError`` naming the file.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read incident settings: {exc}") from None
    if isinstance(data, dict) and "incidents" in data:
        data = data["incidents"] or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: incidents must be a mapping of settings")
    try:
        return IncidentSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ValueError(f"{path}: incidents.{where}: {first['msg']}") from None


def test_defaults_are_the_runbook() -> None:
    s = IncidentSettings()
    assert [(st.after_s, st.raise_to, st.notify) for st in s.escalation.steps] == [
        (900, Severity.P1, None),
        (1800, Severity.P0, None),
        (3600, None, "secondary"),
        (7200, None, "executive"),
    ]
    assert [w.name for w in s.maintenance.windows] == ["daily", "weekly", "monthly"]
    assert [w.duration_s for w in s.maintenance.windows] == [7200, 14400, 21600]
    assert s.maintenance.notice_lead_s == 24 * 3600
    assert s.maintenance.p0_pages_during_maintenance is True
    assert [str(c) for c in s.routing.p0][:3] == ["phone", "sms", "pagerduty"]
    # Placeholders only: no real phone numbers in source control.
    people = [*s.contacts.primary, *s.contacts.secondary, *s.contacts.executive]
    assert all(p.phone is None for p in people)
    assert all((p.email or "").endswith("@example.com") for p in people)


def test_example_file_is_valid_and_equals_the_defaults() -> None:
    assert load_settings_file(EXAMPLE_PATH) == DEFAULT_SETTINGS


def test_settings_from_config_accepts_old_and_new_configs() -> None:
    assert settings_from_config(default_config()) == DEFAULT_SETTINGS  # no incidents: yet
    assert settings_from_config(None) == DEFAULT_SETTINGS

    @dataclass
    class WithSection:
        incidents: Any

    quiet = {"maintenance": {"p0_pages_during_maintenance": False}}
    custom = IncidentSettings.model_validate(quiet)
    assert settings_from_config(WithSection(custom)) is custom
    raw = WithSection({"alerts": {"keep_firing_for_s": 120}})
    assert settings_from_config(raw).alerts.keep_firing_for_s == 120
    assert settings_from_config({"maintenance": {"windows": []}}).maintenance.windows == ()


def test_unknown_keys_and_bad_values_are_refused(tmp_path) -> None:
    with pytest.raises(ValidationError):
        IncidentSettings.model_validate({"maintenance": {"notice_lead_hours": 24}})
    with pytest.raises(ValidationError, match="is not a duration"):
        IncidentSettings.model_validate({"maintenance": {"notice_lead": "a day"}})
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "incidents:\n  maintenance:\n    windows:\n      - {name: x, rrule: nope, duration_s: 6}\n"
    )
    with pytest.raises(ValueError, match=r"bad.yaml: incidents.maintenance.windows"):
        load_settings_file(bad)


def test_durations_take_units_or_bare_seconds() -> None:
    """``after: 15m`` like every other duration in the config; ``after_s: 900`` still works."""
    with_units = IncidentSettings.model_validate(
        {
            "alerts": {"for": {"p0": "0s", "p1": "10s", "p2": "5m"}, "keep_firing_for": "1m"},
            "escalation": {"steps": [{"name": "15m", "after": "15m", "raise_to": "P1"}]},
            "maintenance": {
                "notice_lead": "24h",
                "emergency_duration": "2h",
                "windows": [{"name": "d", "rrule": "FREQ=DAILY;BYHOUR=2", "duration": "2h"}],
            },
        }
    )
    bare = IncidentSettings.model_validate(
        {
            "alerts": {"for_s": {"p0": 0, "p1": 10, "p2": 300}, "keep_firing_for_s": 60},
            "escalation": {"steps": [{"name": "15m", "after_s": 900, "raise_to": "P1"}]},
            "maintenance": {
                "notice_lead_s": 86400,
                "emergency_duration_s": 7200,
                "windows": [{"name": "d", "rrule": "FREQ=DAILY;BYHOUR=2", "duration_s": 7200}],
            },
        }
    )
    assert with_units == bare
    assert with_units.alerts.for_s.p2 == 300 and with_units.escalation.steps[0].after_s == 900
    with pytest.raises(ValidationError):
        IncidentSettings.model_validate({"routing": {"p0": ["carrier-pigeon"]}})


def test_the_repository_example_documents_the_same_section() -> None:
    """kafkaops.example.yaml's ``incidents:`` section is this package's example, word for word."""
    root_example = Path(__file__).parents[2] / "kafkaops.example.yaml"
    text = root_example.read_text()
    start = text.index("\nincidents:\n") + 1
    end = text.index("\n# ---", start)
    packaged = EXAMPLE_PATH.read_text()
    assert text[start:end].rstrip() == packaged[packaged.index("incidents:\n") :].rstrip()


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("RRULE:FREQ=SECONDLY", "FREQ=SECONDLY"),
        ("RRULE:FREQ=MINUTELY;INTERVAL=5", "FREQ=MINUTELY"),
        ("RRULE:FREQ=HOURLY", "FREQ=HOURLY"),
        ("RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=0,10,20", "less than an hour apart"),
        ("RRULE:FREQ=FORTNIGHTLY", "not an RFC 5545 rule"),
        ("garbage", "not an RFC 5545 rule"),
    ],
)
def test_window_rules_that_would_freeze_the_loop_are_refused_with_the_reason(
    rule: str, why: str
) -> None:
    """Issue 10, item 6: FREQ=SECONDLY passed config-check and froze `watch` for > 60 s."""
    with pytest.raises(ValidationError) as err:
        IncidentSettings.model_validate(
            {"maintenance": {"windows": [{"name": "w", "rrule": rule, "duration": "1h"}]}}
        )
    text = str(err.value)
    assert why in text and "unpack" not in text
