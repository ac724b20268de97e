"""The runbook's alert thresholds (critical = P1 except offline partitions, warning = P2).

Owned by the evaluate stage: its rules read them; the root config only aggregates them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kafkaops.core.units import DurationMs, Percent, format_duration_ms, format_percent

#: A count threshold: a YAML integer ≥ 0 (strict, so ``true`` or ``"1"`` are refused).
Count = Annotated[int, Field(ge=0, strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CriticalThresholds(_Model):
    """Runbook "Critical Thresholds": P1, except offline partitions (P0)."""

    offline_partitions: Count = 0
    under_replicated_partitions: Count = 0
    #: Runbook ``consumer_lag_ms: 300000`` (P1 trigger "EstimatedMaxTimeLag > 300000ms").
    consumer_lag: DurationMs = 300_000
    broker_cpu: Percent = 90.0
    broker_memory: Percent = 90.0
    disk_usage: Percent = 85.0
    #: The runbook's P1 trigger "Producer error rate > 1%".
    producer_error_rate: Percent = 1.0


class WarningThresholds(_Model):
    """Runbook "Warning Thresholds": P2."""

    consumer_lag: DurationMs = 60_000
    broker_cpu: Percent = 70.0
    broker_memory: Percent = 80.0
    disk_usage: Percent = 80.0
    #: The runbook's ``producer_error_rate: 0.001`` (a ratio) = 0.1%.
    producer_error_rate: Percent = 0.1
    network_io: Percent = 60.0


#: Metrics with both a warning and a critical threshold; the warning must not be the higher.
SHARED_THRESHOLDS = (
    "consumer_lag",
    "broker_cpu",
    "broker_memory",
    "disk_usage",
    "producer_error_rate",
)


class Thresholds(_Model):
    critical: CriticalThresholds = Field(default_factory=CriticalThresholds)
    warning: WarningThresholds = Field(default_factory=WarningThresholds)

    @model_validator(mode="after")
    def _warning_not_above_critical(self) -> Thresholds:
        for name in SHARED_THRESHOLDS:
            warn, crit = getattr(self.warning, name), getattr(self.critical, name)
            if warn > crit:
                fmt = format_duration_ms if name == "consumer_lag" else format_percent
                raise ValueError(
                    f"warning.{name} ({fmt(warn)}) is above critical.{name} ({fmt(crit)}); "
                    "the warning must trigger first"
                )
        return self
