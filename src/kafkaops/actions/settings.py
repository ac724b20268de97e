"""``actions:`` settings — which MSK cluster a configured cluster is, the runbook's storage step
and cap, polling, and the opt-in automatic actions.

Nothing here turns anything on by default: without an ``actions.msk.<cluster>`` entry the
``kafkaops msk`` commands refuse to name an ARN for a cluster, and without ``actions.auto``
rules no finding ever triggers an action.
"""

from __future__ import annotations

import math
import re
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
#: The kinds a preset may name (``scale_type`` only from the CLI: never automatic).
PresetKind = Literal[
    "scale_storage", "scale_brokers", "scale_type", "add_partitions", "restart_broker", "command"
]

_SIZE_OR_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|GiB|GB|TiB|TB)?\s*$", re.IGNORECASE)


def storage_increment(by: str, current_gib: int) -> int:
    """``100GiB`` → 100, ``1TiB`` → 1024, ``20%`` → 20 % of ``current_gib`` rounded up."""
    m = _SIZE_OR_PERCENT.match(by)
    if not m:
        raise ValueError(f"{by!r} is not a size (100GiB, 1TiB) or a percentage (20%)")
    number, unit = float(m.group(1)), (m.group(2) or "GiB").lower()
    if unit == "%":
        return max(1, math.ceil(current_gib * number / 100))
    return math.ceil(number * (1024 if unit in ("tib", "tb") else 1))


class Preset(_Strict):
    """A named operation (``actions.presets.<name>``), runnable as ``kafkaops actions run NAME``
    and nameable by an automatic action (``actions.auto.<rule>.<sev>: {preset: NAME}``)."""

    action: PresetKind
    description: str = ""
    #: scale_storage: how much to add per broker: a size (``100GiB``) or a share (``20%``).
    by: str | None = None
    #: scale_brokers: brokers to add per availability zone.
    add_per_az: int | None = Field(default=None, ge=1, le=10)
    #: scale_type: the new instance type (``kafka.m7g.xlarge``).
    to: str | None = None
    #: add_partitions: partitions added per topic.
    increment: int | None = Field(default=None, ge=1)
    #: restart_broker: every broker one at a time (else the finding's/--broker's broker).
    rolling: bool = False
    #: command: the argv to run.
    command: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _complete(self) -> Preset:
        need = {"scale_storage": "by", "scale_brokers": "add_per_az", "scale_type": "to",
                "add_partitions": "increment", "command": "command"}.get(self.action)  # fmt: skip
        if need and not getattr(self, need):
            raise ValueError(f"a {self.action} preset needs {need}:")
        if self.by is not None:
            storage_increment(self.by, 100)
        return self


#: The runbook's common operations, always available (a configured preset of the same name
#: replaces one).  Its "Auto Scaling Triggers" (storage +100 GB, partitions +4, brokers on
#: CPU > 70 %) and capacity recommendations ("Increase broker storage by 50 %").
BUILTIN_PRESETS: dict[str, Preset] = {
    "storage-grow-100g": Preset(action="scale_storage", by="100GiB",
                                description="runbook scale_increment: +100 GiB per broker"),
    "storage-grow-20pct": Preset(action="scale_storage", by="20%",
                                 description="+20 % per broker (rounded up to whole GiB)"),
    "storage-grow-50pct": Preset(action="scale_storage", by="50%",
                                 description="runbook capacity advice: storage +50 %"),
    "brokers-add-per-az": Preset(action="scale_brokers", add_per_az=1,
                                 description="one broker more in every AZ (CPU > 70 %)"),
    "partitions-add-4": Preset(action="add_partitions", increment=4,
                               description="runbook partition_increment: +4 (lagging topics)"),
    "reboot-rolling": Preset(action="restart_broker", rolling=True,
                             description="restart every broker, one at a time, controller last"),
}  # fmt: skip


class RestartSettings(_Strict):
    """How to restart one broker of a self-managed cluster (``actions.restart.<cluster>``)."""

    #: argv run once per broker; ``{broker}``, ``{host}`` (its advertised host) and
    #: ``{cluster}`` are substituted, e.g. [ssh, "{host}", sudo systemctl restart kafka].
    command: tuple[str, ...]
    #: The step itself may take this long (then it counts as failed).
    command_timeout: DurationMs = 300_000
    #: After the step: the broker must be back and no partition under-replicated within this.
    timeout: DurationMs = 900_000
    #: Between two checks while waiting.
    poll_interval: DurationMs = 5_000

    @field_validator("command")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("command must name a program, e.g. [ssh, '{host}', ...]")
        return value


class AutoAction(_Strict):
    """One automatic action for one rule and severity (``actions.auto.<rule>.<p1|p2>``)."""

    #: What to do; or name a preset instead (its action and parameters are used).
    action: ActionKind | None = None
    preset: str | None = None
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
    #: command (and restart_broker without actions.restart.<cluster>): the argv to run
    #: ({cluster}, {subject}, {rule} substituted).
    command: tuple[str, ...] = ()
    #: scale_storage: a size or share to add instead of ``increment`` GiB (``20%``).
    by: str | None = None
    #: restart_broker from a ``rolling`` preset: every broker (``kafkaops brokers restart``).
    rolling: bool = False

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _needs(self) -> AutoAction:
        if (self.action is None) == (self.preset is None):
            raise ValueError("name exactly one of action: or preset:")
        if self.preset is not None:
            return self  # checked against the presets by ActionsSettings
        if self.action == "command" and not self.command:
            raise ValueError("action command needs command: [argv, ...]")
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
    #: Named operations (``kafkaops actions run NAME``); the built-in ones are always there.
    presets: dict[str, Preset] = Field(default_factory=dict)
    #: Per cluster name: how to restart one of its brokers (``kafkaops brokers restart``).
    restart: dict[str, RestartSettings] = Field(default_factory=dict)

    def all_presets(self) -> dict[str, Preset]:
        return {**BUILTIN_PRESETS, **self.presets}

    @model_validator(mode="after")
    def _resolve_presets(self) -> ActionsSettings:
        """An automatic action naming a preset gets the preset's action and parameters."""
        presets = self.all_presets()
        for rule, by_sev in self.auto.items():
            for sev, auto in list(by_sev.items()):
                if auto.preset is None:
                    continue
                preset = presets.get(auto.preset)
                if preset is None:
                    raise ValueError(
                        f"auto.{rule}.{sev}: unknown preset {auto.preset!r} (one of: "
                        f"{', '.join(sorted(presets))})"
                    )
                if preset.action == "scale_type":
                    raise ValueError(f"auto.{rule}.{sev}: a scale_type preset is CLI-only")
                increment = auto.increment or preset.increment or preset.add_per_az
                by_sev[sev] = auto.model_copy(update={  # type: ignore[index]
                    "action": preset.action,
                    "increment": increment,
                    "by": auto.by or preset.by,
                    "command": auto.command or preset.command,
                    "rolling": preset.rolling,
                })  # fmt: skip
        return self

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
