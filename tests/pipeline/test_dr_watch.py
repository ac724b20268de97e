"""DR findings in the watch loop: on the primary's cycles only, refreshed every dr.watch_every,
a pair that cannot be verified is itself a P1."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import kafkaops.pipeline.dr_pair as dr_pair
from kafkaops.config import Config
from kafkaops.core.errors import ConfigError
from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.pipeline.dr_watch import DrWatch


def _config(**dr: Any) -> Config:
    return Config.model_validate({
        "clusters": {"prod": {"bootstrap": "127.0.0.1:1"}, "dr": {"bootstrap": "127.0.0.1:2"}},
        "dr": {"primary": "prod", "replica": "dr", **dr},
    })  # fmt: skip


def _rpo() -> Finding:
    return Finding("dr_rpo", Severity.P1, CheckStatus.TRIGGERED, "RPO above target", 90_000,
                   60_000, "ms", "orders")  # fmt: skip


def test_no_pair_no_findings() -> None:
    assert DrWatch().findings(Config(), "prod") == ()


def test_findings_on_the_primary_only_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def check(pair: Any) -> tuple[Any, Any]:
        calls.append(1)
        return None, SimpleNamespace(findings=(_rpo(),))

    monkeypatch.setattr(dr_pair, "check_pair", check)
    watch, cfg = DrWatch(), _config(watch_every="5m")
    first = watch.findings(cfg, "prod")
    assert [f.rule for f in first if f.status == CheckStatus.TRIGGERED] == ["dr_rpo"]
    assert watch.findings(cfg, "dr") == ()  # the replica's cycles do not carry them
    assert watch.findings(cfg, "prod") == first and len(calls) == 1  # cached within 5 min


def test_a_pair_that_cannot_be_verified_is_a_p1(monkeypatch: pytest.MonkeyPatch) -> None:
    def check(pair: Any) -> tuple[Any, Any]:
        raise ConfigError("policy mismatch: the replica has no MM2 topics")

    monkeypatch.setattr(dr_pair, "check_pair", check)
    (f,) = DrWatch().findings(_config(), "prod")
    assert f.rule == "dr_verification_failed" and f.severity == Severity.P1
    assert "policy mismatch" in f.evidence[0]
