"""Severity routing per the runbook's "Alert Response Actions" and the PagerDuty mapping."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kafkaops.core.model import Severity
from kafkaops.incidents.routing import ChannelRef, RoutingConfig, pagerduty_severity, route


def names(sev: Severity, routing: RoutingConfig | None = None) -> list[str]:
    return [str(c) for c in (routing or RoutingConfig()).channels_for(sev)]


def test_default_routes_follow_runbook():
    assert names(Severity.P0) == [
        "phone",
        "sms",
        "pagerduty",
        "slack:#ops-critical",
        "sns:msk-critical-alerts",
    ]
    assert names(Severity.P1) == ["pagerduty", "slack:#ops-critical", "sns:msk-critical-alerts"]
    assert names(Severity.P2) == [
        "slack:#ops-monitoring",
        "email:ops-team@example.com",
        "sns:msk-warning-alerts",
    ]
    assert names(Severity.OK) == []
    assert [str(c) for c in route(Severity.P1)] == names(Severity.P1)


def test_pagerduty_severity_mapping():
    assert [pagerduty_severity(s) for s in (Severity.P0, Severity.P1, Severity.P2)] == [
        "critical",
        "error",
        "warning",
    ]
    with pytest.raises(ValueError, match="OK"):
        pagerduty_severity(Severity.OK)


def test_configurable_from_plain_strings_and_round_trips():
    data = {"p2": ["slack:#kafka", "webhook:https://hooks.example.com/x"]}
    routing = RoutingConfig.model_validate(data)
    assert names(Severity.P2, routing) == ["slack:#kafka", "webhook:https://hooks.example.com/x"]
    dumped = routing.model_dump(mode="json")
    assert dumped["p2"] == data["p2"]
    assert RoutingConfig.model_validate(dumped) == routing


def test_validation_rejects_unknown_kinds_empty_routes_and_extra_keys():
    with pytest.raises(ValidationError, match="unknown channel kind 'fax'"):
        RoutingConfig.model_validate({"p1": ["fax"]})
    with pytest.raises(ValidationError, match="P0 has no channels"):
        RoutingConfig.model_validate({"p0": []})
    with pytest.raises(ValidationError):
        RoutingConfig.model_validate({"p3": ["phone"]})


def test_channel_ref_parse_and_str():
    ref = ChannelRef.parse(" sns:msk-critical-alerts ")
    assert (ref.kind, ref.target, str(ref)) == (
        "sns",
        "msk-critical-alerts",
        "sns:msk-critical-alerts",
    )
    assert str(ChannelRef.parse("phone")) == "phone"
