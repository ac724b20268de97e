"""``actions:`` settings — which MSK cluster a configured cluster is, the runbook's storage step
and cap, polling, and the opt-in automatic actions.

Nothing here turns anything on by default: without an ``actions.msk.<cluster>`` entry the
``kafkaops msk`` commands refuse to name an ARN for a cluster, and without ``actions.auto``
rules no finding ever triggers an action.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kafkaops.core.units import DurationMs
from kafkaops.evaluate.findings import RULES

#: Rules an automatic action may hang on: the runbook's, plus the capacity forecast's.
AUTO_RULES = (*RULES, "disk_full_forecast")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MskTarget(_Strict):
    """The MSK cluster behind one configured cluster."""

    cluster_arn: str
    #: AWS region; default: the one in the ARN.
    region: str | None = None
    #: Endpoint override (a VPC endpoint, or moto in tests).
    endpoint_url: str | None = None
    #: Availability zones the brokers span; default: the number of client subnets MSK reports.
    az_count: int | None = Field(default=None, ge=1, le=6)


#: The action kinds an automatic rule may name.
ActionKind = Literal[
    "scale_storage", "scale_brokers", "add_partitions", "restart_broker", "command"
]


class AutoAction(_Strict):
    """One automatic action for one rule and severity (``actions.auto.<rule>.<p1|p2>``)."""

    action: ActionKind
    #: The finding must persist this long before the action runs (runbook: CPU > 70 % for 15 m).
    for_: DurationMs = Field(default=900_000, alias="for")
    #: No second run of this action on this cluster within this time.
    cooldown: DurationMs = 21_600_000
    #: At most this many runs per UTC day per cluster.
    daily_cap: int = Field(default=1, ge=1, le=100)
    #: dry_run: record "would have done X" on the incident; apply: act.
    mode: Literal["dry_run", "apply"] = "dry_run"
    #: Act inside a maintenance window too (default: never during one).
    during_maintenance: bool = False
    #: scale_storage: GiB added per run; add_partitions: partitions added per run.
    increment: int | None = Field(default=None, ge=1)
    #: restart_broker / command: the argv to run ({cluster}, {subject} substituted).
    command: tuple[str, ...] = ()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _needs(self) -> AutoAction:
        if self.action in ("restart_broker", "command") and not self.command:
            raise ValueError(f"action {self.action} needs command: [argv, ...]")
        return self


class ActionsSettings(_Strict):
    #: Per configured cluster name: its MSK cluster (enables ``kafkaops msk``).
    msk: dict[str, MskTarget] = Field(default_factory=dict)
    #: The runbook's storage increment and per-broker cap ("+100 GB, max 1 TB"); None: only
    #: MSK's own rules (grow only, <= 16 TiB, 6 h cool-down) apply.
    storage_step_gib: int | None = Field(default=None, ge=1)
    storage_cap_gib: int | None = Field(default=None, ge=1, le=16384)
    #: MSK: at least this long between two storage updates of a cluster.
    storage_cooldown: DurationMs = 21_600_000
    #: Time between two ``describe_cluster_operation_v2`` polls, and the give-up time.
    poll_interval: DurationMs = 15_000
    timeout: DurationMs = 7_200_000
    #: Per rule, per severity: the automatic action (off unless listed).
    auto: dict[str, dict[Literal["p0", "p1", "p2"], AutoAction]] = Field(default_factory=dict)

    @field_validator("auto")
    @classmethod
    def _known_rules(
        cls, value: dict[str, dict[str, AutoAction]]
    ) -> dict[str, dict[str, AutoAction]]:
        """A typo in a rule name would silently never act: refuse it."""
        for rule in value:
            if rule not in AUTO_RULES:
                raise ValueError(f"unknown rule {rule!r} (one of: {', '.join(AUTO_RULES)})")
        return value
