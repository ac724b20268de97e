"""The automatic-action policy, pure: for:, cool-down, daily cap, maintenance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kafkaops.actions.auto import decide
from kafkaops.actions.settings import ActionsSettings, AutoAction

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _cfg(**kw) -> AutoAction:
    return AutoAction.model_validate({"action": "scale_storage", **kw})


def test_pending_until_for_elapsed() -> None:
    cfg = _cfg(**{"for": "15m"})
    held = NOW - timedelta(minutes=10)
    assert decide(cfg, held_since=held, now=NOW, runs=[], maintenance=None) == (
        "pending: firing for 600s of the 900s required"
    )
    assert decide(cfg, held_since=NOW - timedelta(minutes=15), now=NOW, runs=[],
                  maintenance=None) is None  # fmt: skip
    assert decide(cfg, held_since=None, now=NOW, runs=[], maintenance=None).startswith("pending")


def test_cooldown_and_daily_cap() -> None:
    held = NOW - timedelta(hours=1)
    cfg = _cfg(**{"for": "0s", "cooldown": "1h", "daily_cap": 2})
    assert (
        decide(cfg, held_since=held, now=NOW, runs=[NOW - timedelta(minutes=30)], maintenance=None)
        == "cool-down: last run 2026-12-01T11:30:00Z, next after 2026-12-01T12:30:00Z"
    )
    two = [NOW - timedelta(hours=5), NOW - timedelta(hours=3)]
    assert decide(cfg, held_since=held, now=NOW, runs=two, maintenance=None) == (
        "daily cap of 2 reached"
    )
    yesterday = [NOW - timedelta(hours=13), NOW - timedelta(hours=14)]
    assert decide(cfg, held_since=held, now=NOW, runs=yesterday, maintenance=None) is None


def test_maintenance_unless_allowed() -> None:
    held = NOW - timedelta(hours=1)
    cfg = _cfg(**{"for": "0s"})
    assert decide(cfg, held_since=held, now=NOW, runs=[], maintenance="daily") == (
        "maintenance window daily is active"
    )
    allowed = _cfg(**{"for": "0s", "during_maintenance": True})
    assert decide(allowed, held_since=held, now=NOW, runs=[], maintenance="daily") is None


def test_nothing_is_on_by_default() -> None:
    s = ActionsSettings()
    assert s.auto == {} and s.msk == {}
    assert _cfg().mode == "dry_run"


def test_config_typos_are_errors() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown rule 'disk_usge'"):
        ActionsSettings.model_validate({"auto": {"disk_usge": {"p1": {"action": "scale_storage"}}}})
    with pytest.raises(ValidationError, match="action command needs command"):
        AutoAction.model_validate({"action": "command"})
    with pytest.raises(ValidationError, match="exactly one of action: or preset:"):
        AutoAction.model_validate({"action": "scale_storage", "preset": "storage-grow-100g"})
    with pytest.raises(ValidationError, match="unknown preset 'storage-grow-1pct'"):
        ActionsSettings.model_validate(
            {"auto": {"disk_usage": {"p1": {"preset": "storage-grow-1pct"}}}}
        )
    with pytest.raises(ValidationError, match="a scale_storage preset needs by"):
        ActionsSettings.model_validate({"presets": {"grow": {"action": "scale_storage"}}})
    with pytest.raises(ValidationError, match="'lots' is not a size"):
        ActionsSettings.model_validate(
            {"presets": {"grow": {"action": "scale_storage", "by": "lots"}}}
        )


def test_presets_resolve_into_automatic_actions() -> None:
    from kafkaops.actions.settings import storage_increment

    s = ActionsSettings.model_validate({
        "presets": {"grow-10": {"action": "scale_storage", "by": "10%"}},
        "auto": {"disk_usage": {"p1": {"preset": "grow-10", "for": "5m"}},
                 "broker_cpu": {"p2": {"preset": "brokers-add-per-az"}},
                 "consumer_lag": {"p1": {"preset": "partitions-add-4"}}},
    })  # fmt: skip
    disk = s.auto["disk_usage"]["p1"]
    assert (disk.action, disk.by, disk.for_) == ("scale_storage", "10%", 300_000)
    assert (s.auto["broker_cpu"]["p2"].action, s.auto["broker_cpu"]["p2"].increment) == (
        "scale_brokers", 1)  # fmt: skip
    assert s.auto["consumer_lag"]["p1"].increment == 4
    assert {"storage-grow-100g", "storage-grow-20pct", "reboot-rolling", "grow-10"} <= set(
        s.all_presets()
    )
    assert storage_increment("20%", 1000) == 200
    assert storage_increment("20%", 1001) == 201  # rounded up: never less than asked
    assert storage_increment("100GiB", 1000) == 100
    assert storage_increment("1TiB", 1000) == 1024
