"""Recommendations that respect the platform: storage per broker, broker count.

Storage: each broker must keep ``headroom_days`` (runbook: 30) of headroom at the *upper*
prediction bound — the size is chosen so that the upper bound 30 days out stays under the
warning threshold.  The increase is rounded up to the runbook's +100 GiB steps, capped at the
runbook's 1 TB per broker (beyond that the answer is more brokers or shorter retention, and the
plan says so) and at MSK's 16 TiB; storage never shrinks.  MSK applies one volume size to every
broker and allows one storage update per 6 h cool-down, so a plan of several runbook steps
says when each can run.  The exact ``aws kafka update-broker-storage`` call is printed with the
``--current-version`` and ``--target-broker-ebs-volume-info`` the runbook's script forgets;
applying it is the MSK-actions work, not this module's.

Broker count: when partitions per broker exceed MSK's recommendation for the instance type,
or CPU / network per broker exceed the runbook's scale-up triggers (70 % / 60 %), the count that
brings the worst ratio back under its limit, rounded up to a multiple of the AZ count.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kafkaops.capacity.settings import CapacitySettings
from kafkaops.core.msk_limits import MSK_ALL_BROKERS, MSK_MAX_VOLUME_GIB, PartitionLimit

GiB = 1024**3


@dataclass(frozen=True, slots=True)
class StorageStep:
    """One storage update: the size every broker gets, and the earliest time it may run."""

    not_before: datetime
    size_gib: int
    command: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "not_before": self.not_before.isoformat().replace("+00:00", "Z"),
            "size_gib": self.size_gib,
            "command": self.command,
        }


@dataclass(frozen=True)
class Recommendation:
    kind: str  # "storage" | "brokers" | "retention"
    priority: str  # "high" | "medium" | "low"
    action: str
    reason: str
    steps: tuple[StorageStep, ...] = ()
    commands: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "priority": self.priority,
            "action": self.action,
            "reason": self.reason,
            "steps": [s.to_dict() for s in self.steps],
            "commands": list(self.commands),
            "notes": list(self.notes),
        }


def storage_command(arn: str | None, current_version: str | None, size_gib: int) -> str | None:
    """The ``aws kafka update-broker-storage`` call (MSK applies it to every broker)."""
    if not arn:
        return None
    info = json.dumps([{"KafkaBrokerNodeId": MSK_ALL_BROKERS, "VolumeSizeGB": size_gib}])
    version = current_version or "$(aws kafka describe-cluster-v2 --cluster-arn " + arn + (
        " --query ClusterInfo.CurrentVersion --output text)"
    )
    return (
        f"aws kafka update-broker-storage --cluster-arn {arn} "
        f'--current-version "{version}" '
        f"--target-broker-ebs-volume-info '{info}'"
    )


def storage_plan(
    required_bytes: dict[int, float],
    current_gib: int,
    settings: CapacitySettings,
    now: datetime,
    *,
    reasons: dict[int, str],
    last_update: datetime | None = None,
    current_version: str | None = None,
) -> Recommendation | None:
    """``required_bytes``: per broker, the volume that keeps the headroom.  None when the
    current volume already does."""
    if not required_bytes:
        return None
    broker, need = max(required_bytes.items(), key=lambda kv: kv[1])
    need_gib = math.ceil(need / GiB)
    if need_gib <= current_gib:
        return None
    step = settings.storage_step_gib
    target = current_gib + math.ceil((need_gib - current_gib) / step) * step
    notes: list[str] = []
    cap = min(settings.storage_cap_gib, MSK_MAX_VOLUME_GIB)
    if target > cap:
        notes.append(
            f"{target} GiB per broker would be needed, beyond the "
            + (
                f"runbook's {settings.storage_cap_gib} GiB cap"
                if settings.storage_cap_gib < MSK_MAX_VOLUME_GIB
                else f"MSK maximum of {MSK_MAX_VOLUME_GIB} GiB"
            )
            + ": add brokers or shorten retention for the rest"
        )
        target = cap
    if target <= current_gib:
        return Recommendation(
            "storage",
            "high",
            f"storage is at its cap ({current_gib} GiB per broker): add brokers or shorten "
            "retention",
            reasons[broker],
            notes=tuple(notes),
        )
    sizes = (
        [*range(current_gib + step, target, step), target]
        if settings.one_step_per_change
        else [target]
    )
    cooldown = timedelta(hours=settings.cooldown_hours)
    first = now if last_update is None else max(now, last_update + cooldown)
    arn = settings.msk.cluster_arn
    steps = tuple(
        StorageStep(
            first + i * cooldown,
            size,
            # Each update changes the cluster's version: only the first one's is known now.
            storage_command(arn, current_version if i == 0 else None, size),
        )
        for i, size in enumerate(sizes)
    )
    if len(steps) > 1:
        notes.append(
            f"{len(steps)} changes of {step} GiB (the runbook's increment), one per "
            f"{settings.cooldown_hours:g} h MSK cool-down; the last can run at "
            f"{steps[-1].not_before:%Y-%m-%d %H:%M} UTC"
        )
    notes.append("MSK storage only grows: a volume cannot be shrunk later")
    return Recommendation(
        "storage",
        "high" if any("< 7 days" in r for r in reasons.values()) else "medium",
        f"increase broker storage from {current_gib} GiB to {target} GiB per broker",
        reasons[broker],
        steps=steps,
        commands=tuple(s.command for s in steps if s.command),
        notes=tuple(notes),
    )


def broker_plan(
    brokers: int,
    az_count: int,
    *,
    max_partitions: int | None,
    limit: PartitionLimit | None,
    max_cpu: float | None,
    max_network: float | None,
    settings: CapacitySettings,
    arn: str | None = None,
) -> Recommendation | None:
    """More brokers when partitions, CPU or network per broker are the limit."""
    ratios: list[tuple[float, str]] = []
    if max_partitions is not None and limit is not None and max_partitions > limit.recommended:
        ratios.append(
            (
                max_partitions / limit.recommended,
                f"{max_partitions} partition replicas on a broker, over MSK's recommended "
                f"{limit.recommended} (maximum {limit.maximum})",
            )
        )
    if max_cpu is not None and max_cpu > settings.cpu_scale_percent:
        ratios.append(
            (max_cpu / settings.cpu_scale_percent, f"broker CPU {max_cpu:.0f}% over "
             f"{settings.cpu_scale_percent:g}%")
        )  # fmt: skip
    if max_network is not None and max_network > settings.network_scale_percent:
        ratios.append(
            (max_network / settings.network_scale_percent, f"network {max_network:.0f}% "
             f"over {settings.network_scale_percent:g}%")
        )  # fmt: skip
    if not ratios or brokers <= 0:
        return None
    ratio, _ = max(ratios)
    target = math.ceil(brokers * ratio)
    target = math.ceil(target / az_count) * az_count
    if target <= brokers:
        target = brokers + az_count
    commands: tuple[str, ...] = ()
    if arn:
        commands = (
            f"aws kafka update-broker-count --cluster-arn {arn} --current-version "
            f'"$(aws kafka describe-cluster-v2 --cluster-arn {arn} --query '
            f'ClusterInfo.CurrentVersion --output text)" --target-number-of-broker-nodes {target}',
        )
    return Recommendation(
        "brokers",
        "medium",
        f"add brokers: {brokers} → {target} (a multiple of {az_count} AZs), then reassign "
        "partitions onto them",
        "; ".join(r for _, r in ratios),
        commands=commands,
        notes=("removing brokers later needs their partitions moved off first",),
    )
