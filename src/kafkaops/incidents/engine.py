"""The incident engine: the pure core wired to the store, one evaluation cycle at a time.

Why a separate layer: the core modules are pure folds (state in, state and actions out) and the
store only persists; something has to run the fold in the right order, over the right state, and
save it atomically.  That is all this does - no I/O besides the store, no sending: it returns
what must be delivered and lets the caller (the outbox) deliver it.

One cycle of one cluster (:meth:`IncidentEngine.cycle`)::

    load state ─▶ alerts.step ─▶ apply_alert_events ─▶ escalate ─▶ decide_notifications
        ─▶ record_paged (incidents learn which channels their alerts paged) ─▶ save (one tx)

Crash safety: nothing is returned before the save commits, and the ``in_tx`` hook (the outbox
writer) runs inside that same transaction, so "state says paged" and "page queued" commit or
roll back together.  A crash before the commit leaves the old state: the next cycle decides
again and, given the same clock, produces the same notifications with the same idempotency keys
(tested); a later clock may give a later ``fired_at``, but nothing from the lost cycle was ever
handed out, so nothing is duplicated.  Without an ``in_tx`` outbox, a crash between the commit
and delivery loses that cycle's notifications - wire the outbox into ``in_tx``.

Concurrency: every save is optimistic (cluster version, incident version); a cycle that lost a
race with a CLI ``ack`` (or a second engine that should not be running: see the store's leader
lease) is recomputed from fresh state, a bounded number of times.

Fencing (clusters spread over instances, issue 17): the caller may pass a ``guard`` that runs
first inside the saving transaction and raises when this instance no longer holds the cluster's
lease in the term it started the cycle with (:class:`kafkaops.store.lease.LeaseLost`); then
nothing is saved and nothing is queued - an owner that was paused while another took over
cannot open, resolve or page anything on its return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from kafkaops.core.model import Finding
from kafkaops.incidents import alerts as alerts_mod
from kafkaops.incidents.alerts import AlertEvent, AlertState, ensure_utc
from kafkaops.incidents.incident import (
    AuditEntry,
    Incident,
    IncidentAction,
    IncidentStatus,
    IncidentTransitionError,
    acknowledge,
    apply_alert_events,
    escalate,
    record_paged,
    resolve,
)
from kafkaops.incidents.ledger import Mute, Notification, decide_notifications, pending_mutes
from kafkaops.incidents.notices import MaintenanceNotice, due_notices, emergency_window, notice_for
from kafkaops.incidents.routing import ChannelRef
from kafkaops.incidents.settings import IncidentSettings, settings_from_config
from kafkaops.incidents.store import ConcurrentUpdateError, IncidentStore
from kafkaops.incidents.windows import AdHocWindow, Impact, Matchers, Occurrence, Window

#: Recompute attempts when a save loses an optimistic-lock race.
MAX_ATTEMPTS = 5


class IncidentNotFound(LookupError):
    """No incident with that id (the CLI exits 4, "not found")."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What must go out because of one saved change; the outbox's input."""

    notifications: tuple[Notification, ...] = ()
    actions: tuple[IncidentAction, ...] = ()
    notices: tuple[dict[str, Any], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.notifications or self.actions or self.notices)


#: Outbox hook: called inside the saving transaction with its connection and what to deliver.
Outbox = Callable[[Connection, Delivery], None]


@dataclass(frozen=True, slots=True)
class CycleResult:
    """One cycle's outcome: what to deliver, and what changed (for logs and the UI)."""

    cluster: str
    at: datetime
    notifications: tuple[Notification, ...]
    actions: tuple[IncidentAction, ...]
    events: tuple[AlertEvent, ...]
    #: Incidents created or changed by this cycle.
    incidents: tuple[Incident, ...]
    alerts: dict[str, AlertState] = field(default_factory=dict)
    #: Firing alerts held back by a window or silence this cycle (never silent: shown).
    mutes: tuple[Mute, ...] = ()
    #: Incidents this cycle opened, escalated (a step ran) and resolved.
    opened: int = 0
    escalated: int = 0
    resolved: int = 0

    @property
    def delivery(self) -> Delivery:
        return Delivery(self.notifications, self.actions)


@dataclass(frozen=True, slots=True)
class NoticeOutcome:
    """A maintenance notice due at ``now``; ``sent`` is False for dry runs and lost races."""

    occurrence: Occurrence
    notice: MaintenanceNotice
    message: dict[str, Any]
    sent: bool


def emit_notice(notice: MaintenanceNotice, occurrence_id: str) -> dict[str, Any]:
    """The message for one maintenance notice: the runbook's SNS subject, topic and JSON.

    ``topic`` is ``maintenance`` for scheduled notices (the runbook's ``MAINTENANCE_TOPIC_ARN``)
    and ``emergency`` for emergency ones (``EMERGENCY_TOPIC_ARN``); ``payload`` is exactly the
    runbook's ``maintenance-notice.json``.  ``idempotency_key`` is the occurrence id, so an
    outbox refuses a second copy of the same notice.
    """
    return {
        "idempotency_key": f"maintenance-notice|{occurrence_id}",
        "occurrence_id": occurrence_id,
        "topic": "emergency" if notice.type == "emergency" else "maintenance",
        "subject": notice.subject,
        "payload": notice.payload(),
    }


class IncidentEngine:
    """Runs the incident core over persisted state; see the module docstring."""

    def __init__(
        self,
        store: IncidentStore,
        settings: IncidentSettings | Any = None,
        *,
        outbox: Outbox | None = None,
    ) -> None:
        self.store = store
        self.settings = settings_from_config(settings)
        self.outbox = outbox

    # ---------------------------------------------------------------- windows
    def windows(self, now: datetime) -> list[Window]:
        """Configured windows plus run-time ones (store) that have not ended before ``now``."""
        stored = [w.window for w in self.store.list_windows(ending_after=now)]
        return [*self.settings.maintenance.all_windows(), *stored]

    def _hook(self, delivery: Delivery) -> Callable[[Connection], None] | None:
        outbox = self.outbox
        if outbox is None or not delivery:
            return None
        return lambda conn: outbox(conn, delivery)

    # ------------------------------------------------------------------ cycle
    def cycle(
        self,
        cluster: str,
        findings: Iterable[Finding],
        now: datetime,
        *,
        guard: Callable[[Connection], None] | None = None,
    ) -> CycleResult:
        """Advance ``cluster`` by one evaluation cycle and persist it (one transaction).

        ``findings`` is the cluster's complete evaluation for this cycle.  Returns what to
        deliver; it has already been handed to the outbox hook inside the transaction if one is
        configured.  Retries from fresh state if a concurrent writer won (see module docs).
        ``guard`` runs first in that transaction (the fencing check); what it raises is raised
        here, with nothing written.
        """
        now = ensure_utc(now)
        found = tuple(findings)
        for attempt in range(MAX_ATTEMPTS):
            try:
                return self._cycle_once(cluster, found, now, guard)
            except ConcurrentUpdateError:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _cycle_once(
        self,
        cluster: str,
        findings: Sequence[Finding],
        now: datetime,
        guard: Callable[[Connection], None] | None = None,
    ) -> CycleResult:
        s = self.settings
        loaded = self.store.load_state(cluster, now)
        new_alerts, events = alerts_mod.step(
            loaded.alerts, findings, now, cluster=cluster, policy=s.alerts
        )
        incidents, actions = apply_alert_events(loaded.incidents, events, now)
        for inc_id in sorted(incidents):
            inc, acts = escalate(
                incidents[inc_id], now, s.escalation, routing=s.routing, contacts=s.contacts
            )
            incidents[inc_id] = inc
            actions.extend(acts)
        windows = self.windows(now)
        ledger, notifications = decide_notifications(
            loaded.ledger,
            now,
            new_alerts,
            windows,
            routing=s.routing,
            p0_pages_during_maintenance=s.maintenance.p0_pages_during_maintenance,
        )
        mutes = pending_mutes(
            ledger,
            now,
            new_alerts,
            windows,
            routing=s.routing,
            p0_pages_during_maintenance=s.maintenance.p0_pages_during_maintenance,
        )
        incidents = _record_pages(incidents, notifications, now)
        actions = [a for a in actions if _deliverable(a)]
        changed = [inc for i, inc in sorted(incidents.items()) if loaded.incidents.get(i) != inc]
        result = CycleResult(
            cluster=cluster,
            at=now,
            notifications=tuple(notifications),
            actions=tuple(actions),
            events=tuple(events),
            incidents=tuple(changed),
            alerts=new_alerts,
            mutes=tuple(mutes),
            **_transitions(loaded.incidents, changed),
        )
        self.store.save_state(
            loaded, now, new_alerts, ledger, changed, in_tx=self._hook(result.delivery), guard=guard
        )
        return result

    def mutes(self, cluster: str, now: datetime) -> list[Mute]:
        """What is muted for ``cluster`` at ``now`` (for ``incidents show``, the API, the UI).

        Level-based like the decision itself: recomputed from the stored alert states and
        ledger, so it is true whenever it is asked, not only on the cycle that muted.
        """
        now = ensure_utc(now)
        state = self.store.load_state(cluster)
        s = self.settings
        return pending_mutes(
            state.ledger,
            now,
            state.alerts,
            self.windows(now),
            routing=s.routing,
            p0_pages_during_maintenance=s.maintenance.p0_pages_during_maintenance,
        )

    # ------------------------------------------------- acknowledge / resolve
    def acknowledge(
        self,
        incident_id: str,
        actor: str,
        now: datetime,
        note: str = "",
        *,
        guard: Callable[[Connection], None] | None = None,
    ) -> tuple[Incident, list[IncidentAction]]:
        """Acknowledge: stops escalation; the actions tell every paged channel (PagerDuty ack).

        Raises :class:`IncidentNotFound` or :class:`IncidentTransitionError`.  ``guard``: the
        fencing check when the cluster's owner writes from its watch loop; an operator's ack
        (CLI, API) has none and works on any instance.
        """
        return self._transition(
            incident_id, now, lambda inc: acknowledge(inc, now, actor, note), guard
        )

    def resolve(
        self,
        incident_id: str,
        actor: str,
        now: datetime,
        note: str = "",
        *,
        guard: Callable[[Connection], None] | None = None,
    ) -> tuple[Incident, list[IncidentAction]]:
        """Resolve by hand: the action names every channel paged and every contact notified.
        ``guard`` as in :meth:`acknowledge`."""
        return self._transition(incident_id, now, lambda inc: resolve(inc, now, actor, note), guard)

    def annotate(
        self,
        incident_id: str,
        actor: str,
        now: datetime,
        action: str,
        detail: str,
        *,
        notify: bool = False,
        guard: Callable[[Connection], None] | None = None,
    ) -> Incident:
        """Append an audit entry (e.g. an automatic action and its outcome).

        ``notify``: also tell every channel the incident paged (an ``update``, queued in the
        same transaction); an incident that paged nobody (muted) tells nobody.  ``guard``: the
        fencing check (the watch loop's automatic actions): rejected, neither entry nor
        ``update`` is written.
        """
        entry = AuditEntry(now, actor, action, detail)

        def change(inc: Incident) -> tuple[Incident, list[IncidentAction]]:
            updated = replace(inc, audit=(*inc.audit, entry))
            if not notify or not inc.is_open:
                return updated, []
            # News, not a page: never a phone call or an SMS.
            quiet = frozenset(c for c in inc.paged if c.kind not in ("phone", "sms"))
            update = IncidentAction("update", inc.id, now, inc.severity, quiet,
                                    keys=inc.firing_keys, detail=f"{action}: {detail}")  # fmt: skip
            return updated, [update]

        return self._transition(incident_id, now, change, guard)[0]

    def _transition(
        self,
        incident_id: str,
        now: datetime,
        change: Callable[[Incident], tuple[Incident, list[IncidentAction]]],
        guard: Callable[[Connection], None] | None = None,
    ) -> tuple[Incident, list[IncidentAction]]:
        ensure_utc(now)
        for attempt in range(MAX_ATTEMPTS):
            current = self.store.get_incident(incident_id)
            if current is None:
                raise IncidentNotFound(f"no incident {incident_id!r}")
            updated, all_actions = change(current)
            actions = [a for a in all_actions if _deliverable(a)]
            try:
                hook = self._hook(Delivery(actions=tuple(actions)))
                self.store.save_incident(updated, current, in_tx=hook, guard=guard)
            except ConcurrentUpdateError:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
                continue
            return updated, actions
        raise AssertionError("unreachable")

    # ---------------------------------------------------------- maintenance
    def upcoming(self, now: datetime, days: float) -> list[Occurrence]:
        """Occurrences of every window overlapping ``[now, now + days)``, by start."""
        now = ensure_utc(now)
        end = now + timedelta(days=days)
        occs = [o for w in self.windows(now) for o in w.overlapping(now, end)]
        return sorted(occs, key=lambda o: (o.start, o.name))

    def notify_maintenance(self, now: datetime, *, dry_run: bool = False) -> list[NoticeOutcome]:
        """Emit every maintenance notice due at ``now``, each occurrence at most once ever.

        Scheduled windows get theirs ``notice_lead`` (24 h) ahead; emergency windows while
        they run (normally already sent by :meth:`start_emergency`).  Each notice is claimed in
        the store before it is returned, so repeated or concurrent runs emit it once.
        """
        now = ensure_utc(now)
        m = self.settings.maintenance
        due = due_notices(now, self.windows(now), (), m.notice_lead)
        sent = self.store.sent_notice_ids([o.id for o in due])
        out: list[NoticeOutcome] = []
        for occ in (o for o in due if o.id not in sent):
            notice = notice_for(occ, services=m.services_affected, contact=m.contact)
            if occ.notice_type == "emergency":
                notice = notice.model_copy(update={"duration_s": None})
            message = emit_notice(notice, occ.id)
            claimed = not dry_run and self._claim(occ, message, now)
            if dry_run or claimed:
                out.append(NoticeOutcome(occ, notice, message, claimed))
        return out

    def _claim(self, occ: Occurrence, message: dict[str, Any], now: datetime) -> bool:
        hook = self._hook(Delivery(notices=(message,)))
        return self.store.record_notice_sent(
            occ.id, occ.notice_type, occ.start, message["payload"], now, in_tx=hook
        )

    def start_emergency(
        self,
        now: datetime,
        *,
        duration: timedelta | None = None,
        impact: Impact = "high",
        reason: str = "",
        actor: str = "kafkaops",
        matchers: Matchers | None = None,
    ) -> tuple[AdHocWindow, NoticeOutcome]:
        """Open an emergency window now (mutes per its matchers) and emit its immediate notice.

        The window and the "notice sent" record are stored, so a later ``notify`` does not send
        the same emergency notice again.
        """
        now = ensure_utc(now)
        m = self.settings.maintenance
        length = duration or timedelta(seconds=m.emergency_duration_s)
        window, notice = emergency_window(
            now,
            name=f"emergency-{now:%Y%m%dT%H%M%SZ}",
            duration=length,
            impact=impact,
            matchers=matchers,
        )
        notice = notice.model_copy(
            update={"services_affected": m.services_affected, "contact": m.contact}
        )
        self.store.add_window(window, actor, now, reason)
        occ = window.occurrence()
        message = emit_notice(notice, occ.id)
        if reason:
            message["reason"] = reason
        claimed = self._claim(occ, message, now)
        return window, NoticeOutcome(occ, notice, message, claimed)


def _deliverable(action: IncidentAction) -> bool:
    """An action addressed to nobody (resolve of an incident never paged, e.g. one that opened
    and closed inside a maintenance window) is dropped: the audit trail already has it."""
    return bool(action.channels or action.contacts)


def _record_pages(
    incidents: dict[str, Incident], notifications: Sequence[Notification], now: datetime
) -> dict[str, Incident]:
    """Tell each incident which channels its member alerts were just paged on.

    A firing notification belongs to the unresolved incident of its cluster in which the alert
    is a firing member; alerts of a hand-resolved incident that still fire belong to none (their
    own resolves are sent by the ledger when they clear).
    """
    by_key: dict[str, set[ChannelRef]] = {}
    for n in notifications:
        if n.kind == "firing":
            by_key.setdefault(n.key, set()).add(n.channel)
    if not by_key:
        return incidents
    out = dict(incidents)
    for inc_id, inc in sorted(incidents.items()):
        if inc.status == IncidentStatus.RESOLVED:
            continue
        chans: set[ChannelRef] = set()
        for key in inc.firing_keys:
            chans |= by_key.get(key, set())
        if chans:
            out[inc_id] = record_paged(inc, chans, now)
    return out


__all__ = [
    "CycleResult",
    "Delivery",
    "IncidentEngine",
    "IncidentNotFound",
    "IncidentTransitionError",
    "NoticeOutcome",
    "Outbox",
    "emit_notice",
]


def _transitions(before: dict[str, Incident], changed: Sequence[Incident]) -> dict[str, int]:
    """How many incidents a cycle opened, escalated and resolved (for the watch line)."""
    opened = escalated = resolved = 0
    for inc in changed:
        prev = before.get(inc.id)
        if prev is None:
            opened += 1
        elif len(inc.escalations_done) > len(prev.escalations_done):
            escalated += 1
        if not inc.is_open and (prev is None or prev.is_open):
            resolved += 1
    return {"opened": opened, "escalated": escalated, "resolved": resolved}
