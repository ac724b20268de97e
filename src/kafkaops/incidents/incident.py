"""Incidents: firing alerts grouped per cluster, with lifecycle, escalation and an audit trail.

Why incidents on top of alerts: an outage rarely trips one rule - a dead broker gives
under-replicated partitions, unreachable brokers and consumer lag at once.  Responders
acknowledge and resolve *one* thing, and escalation must follow that thing, not each symptom.

Grouping rule: while a cluster has an unresolved (open or acknowledged) incident, every alert
of that cluster that starts firing joins it; otherwise the alert opens a new incident.  Alerts
of different clusters never share an incident.  Within one cycle, firing and severity changes are
applied before resolves, so an alert that fires in the cycle another one resolves joins the same
incident instead of opening a second one.  A new alert joining an acknowledged incident leaves it
acknowledged (somebody is already on it; the alert itself is still paged per its severity).

Lifecycle: open → acknowledged → resolved (or open → resolved).  An incident resolves on its own
when all member alerts have resolved, or manually.  Every transition, join, page and escalation
is appended to ``audit`` with actor and time; nothing is ever removed from it.

Severity: the worst member alert, raised further by escalation.

Escalation (runbook "Incident Escalation Matrix", configurable via :class:`EscalationPolicy`):
while an incident is unacknowledged, at 15 min it is raised to at least P1, at 30 min to P0, at
60 min management (secondary on-call) is notified, at 120 min executives.  "Raise to P1" is read
literally: a P2 becomes P1, a P1 stays P1 until the 30 min step.  Raising severity pages the
channels of the new severity that were not paged yet (P1→P0 adds phone and SMS).  The clock
starts at the first page (:func:`record_paged`), not when the incident opened: nobody can fail to
acknowledge a page that was never sent (e.g. muted by a maintenance window).  Acknowledging stops
escalation for good.  Resolving returns every channel that was paged and every contact tier that
was notified, because "resolved" must reach everyone who was woken up.

All functions are pure: they take ``now`` and return new values plus the actions a notifier
should carry out.  Invalid transitions (ack a resolved incident, …) raise
:class:`IncidentTransitionError`.

Why this module is long: the incident lifecycle (open, join, acknowledge, resolve, escalate) is
one pure state machine; its transitions are tested together.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from kafkaops.core.model import Severity
from kafkaops.incidents.alerts import AlertEvent, NonNegativeSeconds, ensure_utc
from kafkaops.incidents.routing import DEFAULT_ROUTING, ChannelRef, RoutingConfig

#: Actor recorded for transitions kafkaops makes by itself.
SYSTEM = "kafkaops"

Tier = Literal["primary", "secondary", "executive"]


class IncidentTransitionError(ValueError):
    """An acknowledge/resolve that the incident's current status does not allow."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- contacts ---------------------------------------------------------------------------------


class Contact(_Model):
    """A person (or rota) to reach; the runbook's fields.  Defaults hold no real numbers."""

    name: str
    role: str = ""
    email: str | None = None
    phone: str | None = None
    slack: str | None = None


class Contacts(_Model):
    """The runbook's three on-call tiers ("Escalation Contacts")."""

    primary: tuple[Contact, ...] = (
        Contact(
            name="SRE Team Lead",
            role="SRE Team Lead",
            email="sre-lead@example.com",
            slack="@sre-lead",
        ),
        Contact(
            name="Platform Engineer",
            role="Platform Engineer",
            email="platform-eng@example.com",
            slack="@platform-eng",
        ),
    )
    secondary: tuple[Contact, ...] = (
        Contact(
            name="Engineering Manager", role="Engineering Manager", email="eng-manager@example.com"
        ),
        Contact(name="Architecture Lead", role="Architecture Lead", email="arch-lead@example.com"),
    )
    executive: tuple[Contact, ...] = (
        Contact(name="VP Engineering", role="VP Engineering", email="vp-eng@example.com"),
        Contact(name="CTO", role="CTO", email="cto@example.com"),
    )

    def tier(self, tier: Tier) -> tuple[Contact, ...]:
        tiers = {"primary": self.primary, "secondary": self.secondary, "executive": self.executive}
        return tiers[tier]


DEFAULT_CONTACTS = Contacts()


# --- escalation policy ------------------------------------------------------------------------


class EscalationStep(_Model):
    """At ``after_s`` unacknowledged: raise severity to ``raise_to`` and/or notify a tier."""

    name: str
    #: YAML ``after`` (or ``after_s``): e.g. ``15m``.
    after_s: NonNegativeSeconds = Field(validation_alias=AliasChoices("after", "after_s"))
    raise_to: Severity | None = None
    notify: Tier | None = None

    @model_validator(mode="after")
    def _does_something(self) -> EscalationStep:
        if self.raise_to is None and self.notify is None:
            raise ValueError(f"escalation step {self.name!r} neither raises nor notifies")
        if self.raise_to == Severity.OK:
            raise ValueError(f"escalation step {self.name!r} cannot raise to OK")
        return self


class EscalationPolicy(_Model):
    """Ordered escalation steps; the default is the runbook's matrix."""

    steps: tuple[EscalationStep, ...] = (
        EscalationStep(name="15m: escalate to P1", after_s=15 * 60, raise_to=Severity.P1),
        EscalationStep(name="30m: escalate to P0", after_s=30 * 60, raise_to=Severity.P0),
        EscalationStep(name="1h: management", after_s=60 * 60, notify="secondary"),
        EscalationStep(name="2h: CEO/CTO", after_s=120 * 60, notify="executive"),
    )

    @model_validator(mode="after")
    def _ordered_unique(self) -> EscalationPolicy:
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError("escalation step names must be unique (they are the audit identity)")
        times = [s.after_s for s in self.steps]
        if times != sorted(times):
            raise ValueError("escalation steps must be ordered by after_s")
        return self


DEFAULT_ESCALATION = EscalationPolicy()


# --- incident data ----------------------------------------------------------------------------


class IncidentStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Member:
    """An alert that belongs to the incident (it stays a member after it resolves)."""

    key: str
    rule: str
    subject: str
    severity: Severity
    title: str
    firing: bool
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    cluster: str
    status: IncidentStatus
    opened_at: datetime
    members: tuple[Member, ...]
    audit: tuple[AuditEntry, ...] = ()
    #: Severity floor set by escalation (``None`` until a step raised it).
    escalated_to: Severity | None = None
    escalations_done: tuple[str, ...] = ()
    paged: frozenset[ChannelRef] = frozenset()
    first_paged_at: datetime | None = None
    notified: tuple[Tier, ...] = ()
    #: Everyone told by an escalation step; they get the resolve too.
    notified_contacts: tuple[Contact, ...] = ()
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None

    @property
    def severity(self) -> Severity:
        """Worst member alert, raised by escalation."""
        found = [m.severity for m in self.members]
        if self.escalated_to is not None:
            found.append(self.escalated_to)
        return Severity.worst(found)

    @property
    def is_open(self) -> bool:
        """Open or acknowledged: still collecting the cluster's alerts."""
        return self.status != IncidentStatus.RESOLVED

    @property
    def firing_keys(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.members if m.firing)

    def member(self, key: str) -> Member | None:
        return next((m for m in self.members if m.key == key), None)


#: ``update``: news about the incident for the channels already paged (an automatic action
#: taken or held back); it changes no state and restarts no escalation timer.
ActionKind = Literal["page", "notify", "acknowledge", "resolve", "update"]


@dataclass(frozen=True, slots=True)
class IncidentAction:
    """Something a notifier must do because of an incident transition."""

    kind: ActionKind
    incident_id: str
    at: datetime
    severity: Severity
    channels: frozenset[ChannelRef] = frozenset()
    contacts: tuple[Contact, ...] = ()
    #: Alert dedup keys concerned (PagerDuty acknowledges/resolves by dedup key).
    keys: tuple[str, ...] = ()
    detail: str = ""


def _audit(inc: Incident, at: datetime, actor: str, action: str, detail: str = "") -> Incident:
    return replace(inc, audit=(*inc.audit, AuditEntry(at, actor, action, detail)))


def _member_from(event: AlertEvent) -> Member:
    f = event.finding
    return Member(event.key, f.rule, f.subject, f.severity, f.title, True, event.at)


# --- building incidents from alert events -----------------------------------------------------


def new_incident_id(cluster: str, now: datetime, taken: Iterable[str]) -> str:
    """``<cluster>-<UTC timestamp>``, suffixed ``-2``, ``-3``… if taken: readable and stable."""
    base = f"{cluster}-{ensure_utc(now):%Y%m%dT%H%M%SZ}"
    used = set(taken)
    n, candidate = 1, base
    while candidate in used:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def open_incident(incident_id: str, event: AlertEvent, now: datetime) -> Incident:
    now = ensure_utc(now)
    inc = Incident(incident_id, event.cluster, IncidentStatus.OPEN, now, (_member_from(event),))
    detail = f"{event.key} ({event.severity.value}) {event.finding.title}"
    return _audit(inc, now, SYSTEM, "opened", detail)


def _open_for(incidents: Mapping[str, Incident], cluster: str) -> Incident | None:
    candidates = [i for i in incidents.values() if i.cluster == cluster and i.is_open]
    return min(candidates, key=lambda i: (i.opened_at, i.id), default=None)


def _set_member(inc: Incident, member: Member) -> Incident:
    if inc.member(member.key) is None:
        return replace(inc, members=(*inc.members, member))
    members = tuple(member if m.key == member.key else m for m in inc.members)
    return replace(inc, members=members)


def _join(inc: Incident, event: AlertEvent, now: datetime) -> Incident:
    old = inc.member(event.key)
    action = "alert joined" if old is None else "alert fired again"
    member = (
        _member_from(event)
        if old is None
        else replace(old, firing=True, severity=event.severity, title=event.finding.title)
    )
    detail = f"{event.key} ({event.severity.value}) {event.finding.title}"
    return _audit(_set_member(inc, member), now, SYSTEM, action, detail)


def _severity_changed(inc: Incident, event: AlertEvent, now: datetime) -> Incident:
    old = inc.member(event.key)
    if old is None:
        return inc
    detail = f"{event.key}: {old.severity.value} → {event.severity.value}"
    updated = _set_member(inc, replace(old, severity=event.severity))
    return _audit(updated, now, SYSTEM, "alert severity changed", detail)


def _alert_resolved(
    inc: Incident, event: AlertEvent, now: datetime
) -> tuple[Incident, list[IncidentAction]]:
    old = inc.member(event.key)
    if old is None or not old.firing:
        return inc, []
    inc = _audit(
        _set_member(inc, replace(old, firing=False)), now, SYSTEM, "alert resolved", event.key
    )
    if inc.firing_keys:
        return inc, []
    return resolve(inc, now, SYSTEM, "all alerts resolved")


def apply_alert_events(
    incidents: Mapping[str, Incident], events: Iterable[AlertEvent], now: datetime
) -> tuple[dict[str, Incident], list[IncidentAction]]:
    """Fold one cycle's alert events into the incidents (see the module's grouping rule).

    Returns every incident (by id) and the resolve actions of incidents that closed because
    their last alert resolved.  Paging of new alerts is not decided here but by
    :func:`kafkaops.incidents.ledger.decide_notifications`, which knows about maintenance.
    """
    now = ensure_utc(now)
    out = dict(incidents)
    actions: list[IncidentAction] = []
    ordered = sorted(events, key=lambda e: (e.kind == "resolved", e.key))
    for event in ordered:
        inc = _open_for(out, event.cluster)
        if event.kind == "firing":
            if inc is None:
                inc = open_incident(new_incident_id(event.cluster, now, out), event, now)
            else:
                inc = _join(inc, event, now)
        elif inc is None:
            continue
        elif event.kind == "severity_changed":
            inc = _severity_changed(inc, event, now)
        else:
            inc, acts = _alert_resolved(inc, event, now)
            actions.extend(acts)
        out[inc.id] = inc
    return out, actions


# --- paging, escalation, acknowledge, resolve -------------------------------------------------


def record_paged(
    incident: Incident, channels: Iterable[ChannelRef], now: datetime, actor: str = SYSTEM
) -> Incident:
    """Note that ``channels`` were paged for this incident; starts the escalation clock."""
    now = ensure_utc(now)
    new = frozenset(channels) - incident.paged
    if not new:
        return incident
    inc = replace(
        incident,
        paged=incident.paged | new,
        first_paged_at=incident.first_paged_at or now,
    )
    return _audit(inc, now, actor, "paged", ", ".join(sorted(map(str, new))))


def _raise(
    inc: Incident, step: EscalationStep, target: Severity, now: datetime, routing: RoutingConfig
) -> tuple[Incident, list[IncidentAction]]:
    before = inc.severity
    if target.rank >= before.rank:
        return _audit(inc, now, SYSTEM, "escalation step", f"{step.name}: already {before}"), []
    inc = _audit(
        replace(inc, escalated_to=target),
        now,
        SYSTEM,
        "escalated",
        f"{step.name}: {before.value} → {target.value}",
    )
    new = frozenset(routing.channels_for(target)) - inc.paged
    if not new:
        return inc, []
    action = IncidentAction(
        "page", inc.id, now, target, new, keys=inc.firing_keys, detail=step.name
    )
    return record_paged(inc, new, now), [action]


def _notify(
    inc: Incident, step: EscalationStep, tier: Tier, now: datetime, contacts: Contacts
) -> tuple[Incident, list[IncidentAction]]:
    people = contacts.tier(tier)
    inc = replace(
        inc,
        notified=(*inc.notified, tier),
        notified_contacts=(*inc.notified_contacts, *people),
    )
    names = ", ".join(c.name for c in people) or "(nobody configured)"
    inc = _audit(inc, now, SYSTEM, f"notified {tier}", f"{step.name}: {names}")
    action = IncidentAction(
        "notify",
        inc.id,
        now,
        inc.severity,
        contacts=people,
        keys=inc.firing_keys,
        detail=step.name,
    )
    return inc, [action]


def _apply_step(
    inc: Incident,
    step: EscalationStep,
    now: datetime,
    routing: RoutingConfig,
    contacts: Contacts,
) -> tuple[Incident, list[IncidentAction]]:
    actions: list[IncidentAction] = []
    if step.raise_to is not None:
        inc, acts = _raise(inc, step, step.raise_to, now, routing)
        actions.extend(acts)
    if step.notify is not None:
        inc, acts = _notify(inc, step, step.notify, now, contacts)
        actions.extend(acts)
    return replace(inc, escalations_done=(*inc.escalations_done, step.name)), actions


def escalate(
    incident: Incident,
    now: datetime,
    policy: EscalationPolicy = DEFAULT_ESCALATION,
    *,
    routing: RoutingConfig = DEFAULT_ROUTING,
    contacts: Contacts = DEFAULT_CONTACTS,
) -> tuple[Incident, list[IncidentAction]]:
    """Apply every escalation step that is due and not yet applied.

    A step is due when ``now - first_paged_at >= after_s`` (so exactly at 15:00 it fires).
    If a call comes late, all overdue steps are applied at once, in order.  Only open
    (unacknowledged, unresolved) incidents that were paged escalate.
    """
    now = ensure_utc(now)
    if incident.status != IncidentStatus.OPEN or incident.first_paged_at is None:
        return incident, []
    elapsed = (now - incident.first_paged_at).total_seconds()
    inc, actions = incident, []
    for step in policy.steps:
        if step.after_s <= elapsed and step.name not in inc.escalations_done:
            inc, acts = _apply_step(inc, step, now, routing, contacts)
            actions.extend(acts)
    return inc, actions


def acknowledge(
    incident: Incident, now: datetime, actor: str, note: str = ""
) -> tuple[Incident, list[IncidentAction]]:
    """Someone owns it: stop escalating and tell the paged channels (PagerDuty "acknowledge")."""
    now = ensure_utc(now)
    if incident.status != IncidentStatus.OPEN:
        who = incident.acknowledged_by or incident.resolved_by
        raise IncidentTransitionError(
            f"incident {incident.id} is {incident.status.value} (by {who}); cannot acknowledge"
        )
    inc = replace(
        incident, status=IncidentStatus.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=actor
    )
    inc = _audit(inc, now, actor, "acknowledged", note)
    action = IncidentAction(
        "acknowledge", inc.id, now, inc.severity, inc.paged, keys=inc.firing_keys, detail=note
    )
    return inc, [action]


def resolve(
    incident: Incident, now: datetime, actor: str, reason: str = ""
) -> tuple[Incident, list[IncidentAction]]:
    """Close the incident; the action names every channel paged and every tier notified.

    Manual resolution leaves still-firing member alerts alone: they do not reopen this
    incident, and they get their own resolves when they clear.
    """
    now = ensure_utc(now)
    if incident.status == IncidentStatus.RESOLVED:
        raise IncidentTransitionError(
            f"incident {incident.id} was already resolved by {incident.resolved_by}"
        )
    inc = replace(incident, status=IncidentStatus.RESOLVED, resolved_at=now, resolved_by=actor)
    inc = _audit(inc, now, actor, "resolved", reason)
    action = IncidentAction(
        "resolve",
        inc.id,
        now,
        inc.severity,
        inc.paged,
        inc.notified_contacts,
        keys=tuple(m.key for m in inc.members),
        detail=reason,
    )
    return inc, [action]
