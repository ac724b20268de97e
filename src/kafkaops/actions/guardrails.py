"""Pure: a fresh cluster description + its recent operations + the request → a plan or a refusal.

Every guardrail runs *before* any write to AWS, and a refusal names its reason in one line:

* any change: the cluster is Provisioned, ACTIVE, and no other operation is in progress
  (MSK would reject it; the runbook's scripts find out the hard way);
* storage: only grows (MSK cannot shrink an EBS volume), ≤ 16 TiB per broker, at most the
  runbook's step per change and its cap per broker where configured, and not within the
  cool-down (6 h) of the last storage update, read from ``list_cluster_operations_v2``;
* broker count: only up (removing brokers needs the partitions drained first —
  ``kafkaops balance`` — and MSK's remove-broker flow), a multiple of the AZ count;
* broker type: a ``kafka.*`` type different from the current one;
* reboot: one broker at a time, a broker the cluster has, and never while partitions are
  under-replicated (nor when that cannot be checked);
* every request carries the ``CurrentVersion`` of the describe made just before planning.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kafkaops.actions.msk import Operation
from kafkaops.collect.msk import MskCluster
from kafkaops.core.msk_limits import MSK_ALL_BROKERS, MSK_MAX_VOLUME_GIB, partition_limit

#: The aws CLI spellings of the request keys whose CamelCase does not split by capitals.
_FLAGS = {"TargetBrokerEBSVolumeInfo": "--target-broker-ebs-volume-info"}
_INSTANCE = re.compile(r"^kafka\.[a-z0-9]+\.[a-z0-9]+$")


class Refused(Exception):
    """A guardrail said no; the message is the one-line reason."""


@dataclass(frozen=True)
class Plan:
    """One MSK operation, exactly as it would be sent."""

    operation: str
    cluster: str
    arn: str
    summary: str
    #: boto3 method and its keyword arguments.
    api: str
    request: dict[str, Any]
    #: Guardrails checked (all passed).
    checks: tuple[str, ...] = ()
    #: For ``configuration``: the ``create_configuration`` request that precedes ``api``.
    prepare: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())

    def cli(self) -> str:
        """The same request as an ``aws kafka`` command (for the operator's notes)."""
        parts = ["aws", "kafka", self.api.replace("_", "-")]
        for key, value in self.request.items():
            flag = _FLAGS.get(key) or "--" + re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower()
            text = json.dumps(value) if isinstance(value, list | dict) else str(value)
            parts += [flag, shlex.quote(text)]
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "cluster": self.cluster,
            "arn": self.arn,
            "summary": self.summary,
            "api": self.api,
            "request": self.request,
            "prepare": self.prepare,
            "checks": list(self.checks),
            "notes": list(self.notes),
            "aws_cli": self.cli(),
        }


def _common(info: MskCluster, ops: list[Operation]) -> list[str]:
    if info.serverless:
        raise Refused(f"{info.name}: a Serverless cluster has no brokers to change")
    if info.state != "ACTIVE":
        raise Refused(f"{info.name}: cluster state is {info.state}, not ACTIVE")
    running = [o for o in ops if not (o.done or o.failed)]
    if running:
        o = running[0]
        raise Refused(
            f"{info.name}: operation {o.type} is still {o.state} ({o.arn}); one change at a time"
        )
    if not info.current_version:
        raise Refused(f"{info.name}: describe_cluster_v2 gave no CurrentVersion")
    return ["cluster ACTIVE", "no operation in progress", f"CurrentVersion {info.current_version}"]


def plan_storage(
    info: MskCluster,
    ops: list[Operation],
    now: datetime,
    *,
    to_gib: int | None = None,
    by_gib: int | None = None,
    step_gib: int | None = None,
    cap_gib: int | None = None,
    cooldown: timedelta = timedelta(hours=6),
    cluster: str = "",
) -> Plan:
    checks = _common(info, ops)
    current = info.ebs_volume_gib
    if current is None:
        raise Refused(f"{info.name}: describe_cluster_v2 gave no EBS volume size")
    if (to_gib is None) == (by_gib is None):
        raise Refused("give exactly one of --to SIZE or --by SIZE")
    target = to_gib if to_gib is not None else current + (by_gib or 0)
    if target <= current:
        raise Refused(
            f"storage only grows: {current} GiB per broker now, {target} GiB asked "
            "(MSK cannot shrink an EBS volume)"
        )
    if target > MSK_MAX_VOLUME_GIB:
        raise Refused(f"{target} GiB is above MSK's maximum of {MSK_MAX_VOLUME_GIB} GiB per broker")
    if cap_gib is not None and target > cap_gib:
        raise Refused(
            f"{target} GiB is above the configured cap of {cap_gib} GiB per broker "
            "(actions.storage_cap_gib): add brokers or shorten retention instead"
        )
    if step_gib is not None and target - current > step_gib:
        raise Refused(
            f"+{target - current} GiB is more than the configured step of +{step_gib} GiB per "
            f"change (actions.storage_step_gib): ask for {current + step_gib} GiB"
        )
    last = next((o for o in ops if o.type == "UPDATE_BROKER_STORAGE" and not o.failed), None)
    if last is not None and last.start is not None:
        since = last.end or last.start
        if now - since < cooldown:
            raise Refused(
                f"the last storage update ended {_ago(now - since)} ago; MSK needs "
                f"{_ago(cooldown)} between two (next: {_iso(since + cooldown)})"
            )
    checks += [
        f"grows {current} → {target} GiB",
        f"≤ {MSK_MAX_VOLUME_GIB} GiB",
        f"cool-down {_ago(cooldown)} passed",
    ]
    if cap_gib is not None:
        checks.append(f"≤ cap {cap_gib} GiB")
    if step_gib is not None:
        checks.append(f"≤ step +{step_gib} GiB")
    return Plan(
        operation="scale_storage",
        cluster=cluster or info.name,
        arn=info.arn,
        summary=f"EBS volume of every broker {current} GiB → {target} GiB",
        api="update_broker_storage",
        request={
            "ClusterArn": info.arn,
            "CurrentVersion": info.current_version,
            "TargetBrokerEBSVolumeInfo": [
                {"KafkaBrokerNodeId": MSK_ALL_BROKERS, "VolumeSizeGB": target}
            ],
        },
        checks=tuple(checks),
    )


def plan_brokers(
    info: MskCluster,
    ops: list[Operation],
    count: int,
    *,
    az_count: int | None = None,
    cluster: str = "",
) -> Plan:
    checks = _common(info, ops)
    current = info.broker_count
    if current is None:
        raise Refused(f"{info.name}: describe_cluster_v2 gave no broker count")
    azs = az_count or len(info.client_subnets) or None
    if azs is None:
        raise Refused(f"{info.name}: AZ count unknown (set actions.msk.<cluster>.az_count)")
    if count < current:
        raise Refused(
            f"removing brokers ({current} → {count}) needs their partitions drained first "
            "(kafkaops balance drain) and MSK's remove-broker flow; not done here"
        )
    if count == current:
        raise Refused(f"the cluster already has {current} brokers")
    if count % azs:
        raise Refused(
            f"{count} brokers is not a multiple of the {azs} availability zones "
            f"(next valid: {((count // azs) + 1) * azs})"
        )
    return Plan(
        operation="scale_brokers",
        cluster=cluster or info.name,
        arn=info.arn,
        summary=f"brokers {current} → {count} across {azs} AZs",
        api="update_broker_count",
        request={
            "ClusterArn": info.arn,
            "CurrentVersion": info.current_version,
            "TargetNumberOfBrokerNodes": count,
        },
        checks=tuple([*checks, f"only up ({current} → {count})", f"multiple of {azs} AZs"]),
        notes=("new brokers start empty: move partitions onto them (kafkaops balance plan/apply)",),
    )


def plan_type(
    info: MskCluster,
    ops: list[Operation],
    to: str,
    *,
    partitions_per_broker: int | None = None,
    cluster: str = "",
) -> Plan:
    checks = _common(info, ops)
    if not _INSTANCE.match(to):
        raise Refused(f"--to {to!r} is not an MSK instance type (e.g. kafka.m7g.xlarge)")
    if to == info.instance_type:
        raise Refused(f"the brokers already are {to}")
    limit = partition_limit(to)
    if limit and partitions_per_broker is not None and partitions_per_broker > limit.maximum:
        raise Refused(
            f"{partitions_per_broker} partitions per broker exceed {to}'s maximum of "
            f"{limit.maximum}: MSK blocks the change"
        )
    return Plan(
        operation="scale_type",
        cluster=cluster or info.name,
        arn=info.arn,
        summary=f"broker type {info.instance_type} → {to} (rolling, one broker at a time)",
        api="update_broker_type",
        request={
            "ClusterArn": info.arn,
            "CurrentVersion": info.current_version,
            "TargetInstanceType": to,
        },
        checks=tuple([*checks, f"type {to} valid and new"]),
    )


def plan_reboot(
    info: MskCluster,
    ops: list[Operation],
    broker: int,
    *,
    under_replicated: int | None,
    cluster: str = "",
) -> Plan:
    checks = _common(info, ops)
    if info.broker_count is not None and not 1 <= broker <= info.broker_count:
        raise Refused(f"broker {broker}: the cluster has brokers 1..{info.broker_count}")
    if under_replicated is None:
        raise Refused(
            "cannot check under-replicated partitions (the cluster is not reachable, or not "
            "configured under clusters: with the same name)"
        )
    if under_replicated:
        raise Refused(
            f"{under_replicated} partitions are under-replicated: rebooting a broker now could "
            "take them offline; wait until the ISR is full"
        )
    return Plan(
        operation="reboot",
        cluster=cluster or info.name,
        arn=info.arn,
        summary=f"reboot broker {broker}",
        api="reboot_broker",
        request={"ClusterArn": info.arn, "BrokerIds": [str(broker)]},
        checks=tuple([*checks, "one broker", "0 under-replicated partitions"]),
    )


def plan_configuration(
    info: MskCluster,
    ops: list[Operation],
    properties: str,
    *,
    name: str,
    source: str = "FILE",
    cluster: str = "",
) -> Plan:
    checks = _common(info, ops)
    keys: list[str] = []
    for n, raw in enumerate(properties.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        if "=" not in line:
            raise Refused(f"{source}: line {n}: {line[:60]!r} is not key=value")
        keys.append(line.split("=", 1)[0].strip())
    if not keys:
        raise Refused(f"{source}: no properties")
    prepare: dict[str, Any] = {"Name": name, "ServerProperties": properties.encode()}
    if info.kafka_version:
        prepare["KafkaVersions"] = [info.kafka_version]
    return Plan(
        operation="configuration",
        cluster=cluster or info.name,
        arn=info.arn,
        summary=f"new configuration {name} ({len(keys)} properties: {', '.join(keys[:4])}"
        + (", …" if len(keys) > 4 else "")
        + ") applied to every broker (rolling)",
        api="update_cluster_configuration",
        request={
            "ClusterArn": info.arn,
            "CurrentVersion": info.current_version,
            "ConfigurationInfo": {"Arn": "<from create_configuration>", "Revision": 1},
        },
        prepare=prepare,
        checks=tuple([*checks, f"{len(keys)} properties parse"]),
    )


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")
