"""What to do about an alert, carried by its notifications: the runbook's action for the rule
with the exact command (a kafkaops dry run, and the ``aws kafka`` equivalent on MSK), and what
the configured automatic action did or why it held back.

Why here and not in the notifier: the commands depend on the actions configuration (which
cluster is MSK, its ARN, the runbook's storage step) and the automatic action's state lives in
the actions audit trail; the notify layer only renders ``details["actions"]`` and
``details["auto_actions"]`` (:func:`kafkaops.notify.message.action_lines`).

:class:`Advisor` runs inside the transaction that saves the incident state (the outbox hook),
so it must never raise and never write: it reads the audit trail and the incident store
through their own connections (SQLite in WAL mode and PostgreSQL both let it read then), and
on any error it logs and leaves the message as it was.
"""

from __future__ import annotations

import dataclasses
import logging
import shlex
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kafkaops.actions.settings import AutoAction
from kafkaops.core.msk_limits import MSK_ALL_BROKERS
from kafkaops.notify.message import OutboundMessage, split_alert_key

log = logging.getLogger(__name__)

#: At most this many recommended actions per message (an incident of many alerts).
MAX_ACTIONS = 6
_STORAGE_RULES = ("disk_usage", "disk_full_forecast")
_LOAD_RULES = ("broker_cpu", "broker_memory", "network_io")
_REPLICA_RULES = ("under_replicated_partitions", "under_min_isr_partitions", "offline_partitions")
_LAG_RULES = ("consumer_lag", "consumer_status")


def _kafkaops(config: Any, cluster: str, *words: str) -> str:
    """A kafkaops command line for ``cluster`` (with ``-c`` when the config came from a file)."""
    parts = ["kafkaops", *words]
    if config.source:
        parts += ["-c", str(config.source), "--cluster", cluster]
    return shlex.join(parts)


def aws_storage_cli(arn: str, add_gib: int) -> str:
    """``aws kafka update-broker-storage`` adding ``add_gib`` to the current size, with a fresh
    ``--current-version``: exact, without knowing the size when the alert was sent.  The JSON is
    double-quoted (escaped quotes inside) so the shell expands ``$((SIZE + N))`` in it."""
    arn_q = shlex.quote(arn)
    describe = f"aws kafka describe-cluster-v2 --cluster-arn {arn_q}"
    size = "ClusterInfo.Provisioned.BrokerNodeGroupInfo.StorageInfo.EbsStorageInfo.VolumeSize"
    volume = (
        f'"[{{\\"KafkaBrokerNodeId\\": \\"{MSK_ALL_BROKERS}\\", '
        f'\\"VolumeSizeGB\\": $((SIZE + {add_gib}))}}]"'
    )
    return (
        f"SIZE=$({describe} --query {size} --output text) && "
        f"aws kafka update-broker-storage --cluster-arn {arn_q} "
        f'--current-version "$({describe} --query ClusterInfo.CurrentVersion --output text)" '
        f"--target-broker-ebs-volume-info {volume}"
    )


def recommended(
    config: Any, cluster: str, rule: str, subject: str, evidence: Sequence[str] = ()
) -> list[dict[str, str]]:
    """The runbook's actions for one alert: ``{"text", "command"?, "aws_cli"?}`` each.

    Commands are dry runs (kafkaops never changes anything without ``--apply``); the
    ``aws kafka`` line is the same change sent by hand.
    """
    from kafkaops.actions.auto import broker_ids

    s = config.actions
    msk = s.msk.get(cluster)
    out: list[dict[str, str]] = []
    if rule in _STORAGE_RULES:
        if msk is not None:
            step = s.storage_step_gib or 100
            cap = f", max {s.storage_cap_gib} GiB per broker" if s.storage_cap_gib else ""
            out.append({
                "text": f"Grow every broker's EBS volume by {step} GiB (runbook: +100 GB per "
                        f"change{cap}; one change per 6 h)",
                "command": _kafkaops(config, cluster, "msk", "scale", "storage", "--by",
                                     f"{step}GiB"),
                "aws_cli": aws_storage_cli(msk.cluster_arn, step),
            })  # fmt: skip
        else:
            out.append({
                "text": "Add disk to the brokers by hand (self-managed) or shorten retention; "
                        "the capacity plan says how much and by when",
                "command": _kafkaops(config, cluster, "capacity"),
            })  # fmt: skip
    elif rule in _LOAD_RULES:
        if msk is not None:
            item = {
                "text": "Add one broker per AZ (runbook: CPU > 70 % for 15 min), then move "
                "partitions onto them (kafkaops balance plan)",
                "command": _kafkaops(config, cluster, "msk", "scale", "brokers", "--add-per-az",
                                     "1"),
            }  # fmt: skip
            if msk.az_count:
                describe = (
                    f"aws kafka describe-cluster-v2 --cluster-arn {shlex.quote(msk.cluster_arn)}"
                )
                item["aws_cli"] = (
                    f"aws kafka update-broker-count --cluster-arn {shlex.quote(msk.cluster_arn)} "
                    f'--current-version "$({describe} --query ClusterInfo.CurrentVersion '
                    f'--output text)" --target-number-of-broker-nodes "$(( $({describe} --query '
                    f"ClusterInfo.Provisioned.NumberOfBrokerNodes --output text) + "
                    f'{msk.az_count} ))"'
                )
            out.append(item)
        else:
            out.append({
                "text": "Add a broker by hand (self-managed), then move partitions onto it",
                "command": _kafkaops(config, cluster, "balance", "plan"),
            })  # fmt: skip
    elif rule == "broker_unreachable":
        brokers: list[int | str] = [*broker_ids(subject, evidence)] or ["ID"]
        for b in brokers[:3]:
            if msk is not None:
                out.append({
                    "text": f"Reboot broker {b} through MSK (never while others are "
                            "under-replicated; kafkaops checks)",
                    "command": _kafkaops(config, cluster, "msk", "reboot", "--broker", str(b)),
                    "aws_cli": f"aws kafka reboot-broker --cluster-arn "
                               f"{shlex.quote(msk.cluster_arn)} --broker-ids {b}",
                })  # fmt: skip
            else:
                out.append({
                    "text": f"Check broker {b}'s host and log, then restart it (kafkaops "
                            "checks the other brokers first and waits until it is in sync)",
                    "command": _kafkaops(config, cluster, "brokers", "restart", "--broker",
                                         str(b)),
                })  # fmt: skip
    elif rule in _LAG_RULES and subject not in ("", "cluster"):
        out.append({
            "text": f"Diagnose group {subject}: scale its consumers up to one per partition; "
                    f"with consumers = partitions and lag > 10,000 add partitions (runbook: +4, "
                    "keyed topics lose per-key order)",
            "command": _kafkaops(config, cluster, "lag", subject),
        })  # fmt: skip
    elif rule in _REPLICA_RULES:
        out.append({
            "text": "Find the broker behind it (down, slow or out of disk); restart it if it "
                    "is down (kafkaops brokers restart / msk reboot)",
            "command": _kafkaops(config, cluster, "health"),
        })  # fmt: skip
    return out


class Advisor:
    """Adds ``actions`` and ``auto_actions`` to the messages queued for an alert or incident.

    ``engine`` (the incident engine, for the ``for:`` clock and maintenance windows) and
    ``audit`` (the actions audit trail) are optional: without them, only the recommendations.
    """

    def __init__(self, config: Any, audit: Any | None = None, engine: Any | None = None) -> None:
        self.config = config
        self.audit = audit
        self.engine = engine

    def __call__(self, messages: Sequence[OutboundMessage]) -> list[OutboundMessage]:
        return [self.enrich(m) for m in messages]

    def enrich(self, msg: OutboundMessage) -> OutboundMessage:
        if msg.action not in ("trigger", "update"):
            return msg
        try:
            return self._enrich(msg)
        except Exception as exc:  # never fail the transaction that queues the page
            log.error("actions advice for %s not added: %s: %s", msg.idempotency_key,
                      type(exc).__name__, exc)  # fmt: skip
            return msg

    def _alerts(self, msg: OutboundMessage) -> list[tuple[str, str, str, list[str]]]:
        """(cluster, rule, subject, evidence) of the alerts the message is about."""
        d = msg.details
        if d.get("rule"):
            return [(msg.cluster, str(d["rule"]), str(d.get("subject") or ""),
                     [str(e) for e in d.get("evidence") or []])]  # fmt: skip
        out: list[tuple[str, str, str, list[str]]] = []
        for key in d.get("alert_keys") or []:
            cluster, rule, subject = split_alert_key(str(key))
            out.append((cluster or msg.cluster, rule, subject, []))
        return out

    def _enrich(self, msg: OutboundMessage) -> OutboundMessage:
        actions: list[dict[str, str]] = []
        autos: list[dict[str, str]] = []
        now = _parse(msg.created_at)
        for cluster, rule, subject, evidence in self._alerts(msg):
            for item in recommended(self.config, cluster, rule, subject, evidence):
                if item not in actions:
                    actions.append(item)
            auto = self._auto(cluster, rule, subject, msg.severity, now)
            if auto is not None and auto not in autos:
                autos.append(auto)
        if not actions and not autos:
            return msg
        details = dict(msg.details)
        if actions:
            details["actions"] = actions[:MAX_ACTIONS]
        if autos:
            details["auto_actions"] = autos[:MAX_ACTIONS]
        return dataclasses.replace(msg, details=details)

    def _auto(
        self, cluster: str, rule: str, subject: str, severity: str, now: datetime
    ) -> dict[str, str] | None:
        from kafkaops.actions.auto import (
            decide,
            held_since,
            maintenance_for,
            operation_key,
            status,
        )
        from kafkaops.core.model import Severity

        cfg: AutoAction | None = (self.config.actions.auto.get(rule) or {}).get(severity.lower())
        if cfg is None or cfg.action is None:
            return None
        out = {"rule": rule, "subject": subject, "action": str(cfg.action), "mode": cfg.mode}
        if self.audit is None or self.engine is None:
            return {**out, "status": "configured", "reason": _policy(cfg)}
        key = operation_key(cfg.action, subject)
        cooldown = timedelta(milliseconds=cfg.cooldown)
        last = self.audit.last(cluster, key, now - cooldown)
        runs = self.audit.runs(cluster, key, now - timedelta(days=1) - cooldown)
        since, _ = held_since(self.engine, cluster, rule, subject)
        window = maintenance_for(self.engine, cluster, rule, Severity(severity), now)
        why = decide(cfg, held_since=since, now=now, runs=runs, maintenance=window)
        state, reason = status(cfg, why, last)
        return {**out, "status": state, "reason": reason}


def _policy(cfg: AutoAction) -> str:
    return (
        f"after the alert has fired for {cfg.for_ // 1000}s; cool-down {cfg.cooldown // 1000}s, "
        f"at most {cfg.daily_cap} a day" + ("; dry run" if cfg.mode == "dry_run" else "")
    )


def _parse(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return datetime.now(UTC)
