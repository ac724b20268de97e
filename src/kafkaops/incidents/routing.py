"""Which channels hear about an alert of a given severity (runbook "Alert Response Actions").

Why a table and not code paths: the runbook states routing as data (P0: phone + SMS + PagerDuty,
P1: PagerDuty + Slack, P2: Slack + email, SNS topic per class), shops change it, and every other
part of the incident core (paging, resolving, escalating) needs to ask the same question
"where does severity X go?" and get the same answer.  Channels are plain values
(``kind:target``) so they can be stored, compared and put in sets: "resolve every channel that
was paged" is then a set operation.

Defaults, from the runbook:

* P0 (Emergency, "Phone + SMS + PagerDuty", plus the Critical actions):
  phone, sms, pagerduty, slack ``#ops-critical``, sns ``msk-critical-alerts``;
* P1 (Critical, "PagerDuty + Slack"): pagerduty, slack ``#ops-critical``,
  sns ``msk-critical-alerts``;
* P2 (Warning, "Slack + Email"): slack ``#ops-monitoring``, email ``ops-team@example.com``,
  sns ``msk-warning-alerts``.

Phone and SMS carry no target: they reach whoever is on call (see ``incident.Contacts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, model_validator

from kafkaops.core.model import Severity

ChannelKind = Literal[
    "phone", "sms", "pagerduty", "slack", "email", "sns", "webhook", "alertmanager"
]
PagerDutySeverity = Literal["critical", "error", "warning", "info"]
_KINDS: frozenset[str] = frozenset(get_args(ChannelKind))


@dataclass(frozen=True, slots=True, order=True)
class ChannelRef:
    """One notification destination: a channel kind and, where it needs one, a target.

    Written ``kind`` or ``kind:target`` (``slack:#ops-critical``, ``sns:msk-critical-alerts``)
    so a config file stays one readable line per channel.
    """

    kind: str
    target: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown channel kind {self.kind!r} (one of {sorted(_KINDS)})")

    @classmethod
    def parse(cls, text: str) -> ChannelRef:
        kind, _, target = text.strip().partition(":")
        return cls(kind, target.strip())

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}" if self.target else self.kind


def _to_channel(value: Any) -> Any:
    return ChannelRef.parse(value) if isinstance(value, str) else value


Channel = Annotated[ChannelRef, BeforeValidator(_to_channel), PlainSerializer(str, return_type=str)]


def channels(*texts: str) -> tuple[ChannelRef, ...]:
    """``channels("pagerduty", "slack:#ops-critical")``: terse literal routes for configs/tests."""
    return tuple(ChannelRef.parse(t) for t in texts)


DEFAULT_P0 = channels("phone", "sms", "pagerduty", "slack:#ops-critical", "sns:msk-critical-alerts")
DEFAULT_P1 = channels("pagerduty", "slack:#ops-critical", "sns:msk-critical-alerts")
DEFAULT_P2 = channels(
    "slack:#ops-monitoring", "email:ops-team@example.com", "sns:msk-warning-alerts"
)


class RoutingConfig(BaseModel):
    """Channels per severity plus the PagerDuty severity each class is sent with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    p0: tuple[Channel, ...] = DEFAULT_P0
    p1: tuple[Channel, ...] = DEFAULT_P1
    p2: tuple[Channel, ...] = DEFAULT_P2
    pagerduty_severity: dict[Severity, PagerDutySeverity] = {
        Severity.P0: "critical",
        Severity.P1: "error",
        Severity.P2: "warning",
    }

    @model_validator(mode="after")
    def _complete(self) -> RoutingConfig:
        # A P0 that silently goes nowhere is the worst possible misconfiguration.
        for sev in (Severity.P0, Severity.P1, Severity.P2):
            if not self.channels_for(sev):
                raise ValueError(f"{sev.value} has no channels: every severity must reach someone")
            if sev not in self.pagerduty_severity:
                raise ValueError(f"pagerduty_severity has no entry for {sev.value}")
        return self

    def channels_for(self, severity: Severity) -> tuple[ChannelRef, ...]:
        """The channels a ``severity`` alert goes to; none for ``OK``."""
        return {Severity.P0: self.p0, Severity.P1: self.p1, Severity.P2: self.p2}.get(severity, ())


DEFAULT_ROUTING = RoutingConfig()


def route(severity: Severity, routing: RoutingConfig = DEFAULT_ROUTING) -> tuple[ChannelRef, ...]:
    """Module-level shorthand for ``routing.channels_for(severity)``."""
    return routing.channels_for(severity)


def pagerduty_severity(severity: Severity, routing: RoutingConfig = DEFAULT_ROUTING) -> str:
    """PagerDuty Events API v2 ``payload.severity``: P0→critical, P1→error, P2→warning."""
    if severity not in routing.pagerduty_severity:
        raise ValueError(f"no PagerDuty severity for {severity.value}")
    return routing.pagerduty_severity[severity]
