"""The channel-independent outbound message: what the outbox stores and every channel reads.

Why one shape for all channels: the incident core decides *what* to say (a firing alert, an
acknowledge, a resolve, a maintenance notice) and *to whom* (a :class:`ChannelRef`); it must not
know how PagerDuty or Slack want it formatted.  The outbox must store the decision durably
before anything is sent, so the message is plain JSON (strings, numbers, lists, dicts) and
frozen.  Channels render it at send time.

Keys:

* ``idempotency_key`` - one per (alert episode or incident action, channel, action).  The outbox
  refuses a second copy, and it travels with the message (webhook/Slack/email headers) so a
  receiver can drop a duplicate: delivery is *at least once* (a process killed after the
  receiver accepted but before the outbox recorded it will send again).
* ``dedup_key`` - the alert identity ``cluster|rule|subject`` (PagerDuty ``dedup_key``,
  Alertmanager labels).  Trigger, acknowledge and resolve of one alert share it, which is what
  makes PagerDuty and Alertmanager deduplicate a repeated send by themselves.

Phone and SMS have no API of their own here: their messages are addressed to ``phone``/``sms``
and the dispatcher hands them to the configured "pager" webhook (a paging gateway), or marks
them failed with a reason saying so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from kafkaops.core.clock import utc_now
from kafkaops.core.model import Finding, Severity
from kafkaops.incidents.incident import IncidentAction
from kafkaops.incidents.ledger import Notification
from kafkaops.incidents.notices import MaintenanceNotice
from kafkaops.incidents.routing import ChannelRef

#: ``update``: news for the channels already paged (e.g. an automatic action's outcome).
#: ``report``: a rendered report (:mod:`kafkaops.notify.reports`), e-mail and Slack only.
Action = Literal["trigger", "acknowledge", "resolve", "notice", "update", "report"]
ACTIONS: frozenset[str] = frozenset(get_args(Action))
#: Channel kinds delivered through the "pager" webhook (no native API).
PAGER_KINDS = frozenset({"phone", "sms"})
SUMMARY_MAX = 300


def iso_utc(value: datetime) -> str:
    """``2025-01-05T02:00:00.123Z``: one fixed format so keys and payloads compare as text."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: kafkaops works in UTC, pass an aware datetime")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _one_line(text: str, limit: int = SUMMARY_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt_number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    shown = f"{value:g}"
    return f"{shown} {unit}" if unit and unit != "count" else shown


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to one channel.  Frozen; ``details`` is plain JSON data.

    ``channel`` is the ``str`` of a :class:`ChannelRef` (``slack:#ops-critical``, ``pagerduty``).
    ``severity`` is ``P0``/``P1``/``P2`` (``OK`` for maintenance notices).
    """

    idempotency_key: str
    channel: str
    action: Action
    dedup_key: str
    severity: str
    cluster: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: iso_utc(utc_now()))

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r} (one of {sorted(ACTIONS)})")
        ChannelRef.parse(self.channel)  # refuse an unknown kind now, not at send time
        if not self.idempotency_key:
            raise ValueError("idempotency_key must not be empty")

    def __hash__(self) -> int:
        # ``details`` is a dict, so the generated hash would fail; the key is the identity.
        return hash(self.idempotency_key)

    @property
    def channel_ref(self) -> ChannelRef:
        return ChannelRef.parse(self.channel)

    @property
    def kind(self) -> str:
        """The channel kind (``slack``, ``pagerduty``, …)."""
        return self.channel_ref.kind

    @property
    def target(self) -> str:
        return self.channel_ref.target

    @property
    def severity_enum(self) -> Severity:
        return Severity(self.severity)

    def to_dict(self) -> dict[str, Any]:
        return {
            "idempotency_key": self.idempotency_key,
            "channel": self.channel,
            "action": self.action,
            "dedup_key": self.dedup_key,
            "severity": self.severity,
            "cluster": self.cluster,
            "summary": self.summary,
            "details": json.loads(json.dumps(self.details)),
            "created_at": self.created_at,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutboundMessage:
        return cls(
            idempotency_key=str(data["idempotency_key"]),
            channel=str(data["channel"]),
            action=data["action"],
            dedup_key=str(data["dedup_key"]),
            severity=str(data["severity"]),
            cluster=str(data["cluster"]),
            summary=str(data["summary"]),
            details=dict(data.get("details") or {}),
            created_at=str(data["created_at"]),
        )

    @classmethod
    def from_json(cls, text: str) -> OutboundMessage:
        return cls.from_dict(json.loads(text))


# --- builders ---------------------------------------------------------------------------------


def _finding_details(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "subject": finding.subject,
        "title": finding.title,
        "value": finding.value,
        "threshold": finding.threshold,
        "unit": finding.unit,
        "evidence": list(finding.evidence),
        "response": list(finding.response),
        "source": finding.source,
    }


def finding_summary(severity: Severity, cluster: str, finding: Finding, resolved: bool) -> str:
    """``[P1] prod: Under-replicated partitions (orders-3): 2 > 0`` - one line for any channel."""
    head = "RESOLVED " if resolved else ""
    subject = "" if finding.subject in ("", "cluster") else f" ({finding.subject})"
    value = ""
    if finding.value is not None or finding.threshold is not None:
        value = (
            f": {_fmt_number(finding.value, finding.unit)}"
            f" (threshold {_fmt_number(finding.threshold, finding.unit)})"
        )
    return _one_line(f"{head}[{severity.value}] {cluster}: {finding.title}{subject}{value}")


def from_notification(n: Notification) -> OutboundMessage:
    """A firing/resolved alert notification → one message to its channel."""
    resolved = n.kind == "resolved"
    details = _finding_details(n.finding)
    details.update(
        {
            "kind": n.kind,
            "fired_at": iso_utc(n.fired_at),
            "at": iso_utc(n.at),
        }
    )
    return OutboundMessage(
        idempotency_key=n.idempotency_key,
        channel=str(n.channel),
        action="resolve" if resolved else "trigger",
        dedup_key=n.key,
        severity=n.severity.value,
        cluster=n.cluster,
        summary=finding_summary(n.severity, n.cluster, n.finding, resolved),
        details=details,
        created_at=iso_utc(n.at),
    )


_INCIDENT_ACTION: dict[str, Action] = {
    "page": "trigger",
    "notify": "trigger",
    "acknowledge": "acknowledge",
    "resolve": "resolve",
    "update": "update",
}


def _incident_summary(action: IncidentAction, cluster: str) -> str:
    verb = {
        "page": "paged",
        "notify": "escalated",
        "acknowledge": "acknowledged",
        "resolve": "resolved",
        "update": "update",
    }[action.kind]
    where = f" on {cluster}" if cluster else ""
    extra = f": {action.detail}" if action.detail else ""
    if action.kind == "update":
        return _one_line(f"[{action.severity.value}] incident {action.incident_id}{where}{extra}")
    return _one_line(
        f"[{action.severity.value}] incident {action.incident_id}{where} {verb}{extra}"
    )


def split_alert_key(key: str) -> tuple[str, str, str]:
    """``(cluster, rule, subject)`` of an alert key: ``cluster/rule/subject`` as the alert
    engine writes it (a subject may itself contain ``/``); ``cluster|rule|subject`` is read
    too (the form older messages and this module's docs used)."""
    sep = "|" if "|" in key else "/"
    cluster, _, rest = key.partition(sep)
    rule, _, subject = rest.partition(sep)
    return cluster, rule, subject


def _cluster_of(keys: tuple[str, ...]) -> str:
    """The cluster of an incident's alert keys; an incident never spans clusters."""
    return split_alert_key(keys[0])[0] if keys else ""


def from_incident_action(action: IncidentAction) -> list[OutboundMessage]:
    """One message per channel of ``action``.

    * ``page`` → ``trigger`` to each channel (phone/sms included: see module doc);
    * ``acknowledge``/``resolve`` → the same action to every channel that was paged;
    * ``notify`` (escalation to management/executives) carries no channels but contacts: one
      ``email:<address>`` message per contact that has an e-mail address, plus every channel in
      ``action.channels`` if any.

    ``dedup_key`` is ``incident:<id>``; the alert keys are in ``details["alert_keys"]`` so
    PagerDuty can acknowledge/resolve each alert it was triggered with.
    """
    cluster = _cluster_of(action.keys)
    targets: list[ChannelRef] = sorted(action.channels)
    if action.kind == "notify":
        emails = [ChannelRef("email", c.email) for c in action.contacts if c.email]
        targets = sorted(set(targets) | set(emails))
    details: dict[str, Any] = {
        "incident_id": action.incident_id,
        "incident_action": action.kind,
        "alert_keys": list(action.keys),
        "detail": action.detail,
        "at": iso_utc(action.at),
        "contacts": [c.model_dump(exclude_none=True) for c in action.contacts],
    }
    at = iso_utc(action.at)
    out = []
    for ch in targets:
        key = f"incident:{action.incident_id}|{action.kind}|{at}|{ch}"
        out.append(
            OutboundMessage(
                idempotency_key=key,
                channel=str(ch),
                action=_INCIDENT_ACTION[action.kind],
                dedup_key=f"incident:{action.incident_id}",
                severity=action.severity.value,
                cluster=cluster,
                summary=_incident_summary(action, cluster),
                details=dict(details),
                created_at=at,
            )
        )
    return out


def from_notice(
    notice: MaintenanceNotice, channel: ChannelRef | str, cluster: str = ""
) -> OutboundMessage:
    """A maintenance notice (runbook ``maintenance-notice.json``) to ``channel``.

    ``details["notice"]`` is exactly the runbook payload; SNS publishes it as the message body
    with the runbook's subject line.
    """
    payload = notice.payload()
    channel_name = str(channel)
    key = f"notice|{notice.type}|{payload['start_time']}|{cluster}|{channel_name}"
    return OutboundMessage(
        idempotency_key=key,
        channel=channel_name,
        action="notice",
        dedup_key=f"notice|{notice.type}|{payload['start_time']}",
        severity=Severity.OK.value,
        cluster=cluster,
        summary=_one_line(notice.subject),
        details={"notice": payload, "subject": notice.subject},
        created_at=iso_utc(utc_now()),
    )


# --- actions (what to do; what kafkaops did) ---------------------------------------------------


def action_lines(details: Mapping[str, Any]) -> list[str]:
    """The recommended actions and the automatic action status in ``details`` as plain lines,
    for every text channel (Slack, e-mail, Alertmanager): one line per action, its commands
    indented under it with ``$``.

    ``details["actions"]``: ``[{"text", "command"?, "aws_cli"?}]`` — the runbook's action for
    the alert and the exact command (a dry run unless ``--apply``); ``details["auto_actions"]``:
    ``[{"action", "mode", "status", "reason"}]`` — what the configured automatic action did,
    or why it held back.  Both are added by the actions layer when the message is queued.
    """
    lines: list[str] = []
    for a in details.get("actions") or []:
        lines.append(str(a.get("text", "")))
        for key in ("command", "aws_cli"):
            if a.get(key):
                lines.append(f"  $ {a[key]}")
    for auto in details.get("auto_actions") or []:
        mode = " (dry run)" if auto.get("mode") == "dry_run" else ""
        lines.append(
            f"Automatic {auto.get('action')}{mode} for {auto.get('rule')}: "
            f"{auto.get('status')} - {auto.get('reason')}"
        )
    return lines
