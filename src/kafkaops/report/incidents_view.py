"""Incidents, escalation actions and maintenance occurrences as plain JSON-ready data.

One view shared by ``kafkaops incidents … --json`` and the service's ``/api/incidents``, so a
script and a dashboard read the same fields: times in UTC ISO-8601 (``…Z``), ages in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kafkaops.incidents.incident import Incident, IncidentAction
from kafkaops.incidents.ledger import Mute
from kafkaops.incidents.windows import Occurrence

if TYPE_CHECKING:
    from kafkaops.notify.outbox import Outbox, OutboxRow


def iso(when: datetime | None) -> str | None:
    return None if when is None else f"{when.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def span(seconds: float) -> str:
    """``5400`` → ``"1h 30m"``: two units at most, readable at a glance."""
    s = int(abs(seconds))
    if s < 60:
        return f"{s}s"
    m, _ = divmod(s, 60)
    if m < 60:
        return f"{m}m"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h {m}m" if m else f"{h}h"
    d, h = divmod(h, 24)
    return f"{d}d {h}h" if h else f"{d}d"


def age(when: datetime, now: datetime) -> str:
    """Relative time: ``"5m ago"`` or ``"in 2h 30m"``."""
    delta = (now - when).total_seconds()
    return f"{span(delta)} ago" if delta >= 0 else f"in {span(delta)}"


def mute_dict(m: Mute) -> dict[str, Any]:
    """A held-back page, in the words every face shows (and its parts, for scripts)."""
    return {
        "alert": m.key,
        "severity": m.severity.value,
        "channels": [str(c) for c in m.channels],
        "window": m.window,
        "kind": m.kind,
        "until": iso(m.until),
        "text": m.describe(),
    }


def incident_dict(
    inc: Incident,
    now: datetime,
    *,
    audit: bool = True,
    mutes: Sequence[Mute] = (),
    deliveries: Sequence[OutboxRow] | None = None,
) -> dict[str, Any]:
    """JSON view of an incident: stored fields plus severity, age and the audit trail.

    ``mutes``: the pages its alerts are waiting to send because a window or silence mutes them
    (``muted``).  ``deliveries`` (:func:`incident_deliveries`): adds ``delivery``, the state of
    every message sent for the incident per channel - ``paged`` says what was decided, this
    says whether it arrived (a page failed after a receiver outage must not look like a page).
    """
    from kafkaops.incidents.codec import incident_to_json

    data = incident_to_json(inc)
    data["age_s"] = round((now - inc.opened_at).total_seconds(), 3)
    data["firing"] = list(inc.firing_keys)
    keys = {m.key for m in inc.members}
    data["muted"] = [mute_dict(m) for m in mutes if m.key in keys] if inc.is_open else []
    if audit:
        data["audit"] = [
            {
                "at": iso(e.at),
                "age_s": round((now - e.at).total_seconds(), 3),
                "actor": e.actor,
                "action": e.action,
                "detail": e.detail,
            }
            for e in inc.audit
        ]
    if deliveries is not None:
        data["delivery"] = [delivery_dict(r) for r in deliveries]
    return data


def _ms_iso(ms: int | None) -> str | None:
    return None if ms is None else iso(datetime.fromtimestamp(ms / 1000, UTC))


def delivery_state(row: OutboxRow) -> str:
    """``queued`` (not tried yet), ``retrying`` (tried, failed, will try again), ``sent``,
    ``failed`` (gave up or refused)."""
    if row.status == "delivered":
        return "sent"
    if row.status == "failed":
        return "failed"
    return "retrying" if row.last_error else "queued"


def delivery_dict(row: OutboxRow) -> dict[str, Any]:
    """One message's delivery state; ``last_error`` is redacted by the outbox."""
    m = row.message
    state = delivery_state(row)
    return {
        "channel": m.channel,
        "action": m.action,
        "what": m.details.get("incident_action") or m.details.get("kind") or m.action,
        "state": state,
        "attempts": row.attempts,
        "queued_at": _ms_iso(row.created_ms),
        "delivered_at": _ms_iso(row.delivered_ms),
        "next_attempt_at": _ms_iso(row.next_at_ms) if state in ("queued", "retrying") else None,
        "last_error": row.last_error,
    }


def incident_deliveries(outbox: Outbox | None, inc: Incident) -> list[OutboxRow] | None:
    """The outbox messages of ``inc`` (its actions and its alerts' notifications), or None
    when there is no outbox to ask."""
    if outbox is None:
        return None
    since_ms = int(inc.opened_at.timestamp() * 1000)
    return outbox.for_incident(inc.id, [m.key for m in inc.members], since_ms)


def action_dict(action: IncidentAction) -> dict[str, Any]:
    return {
        "kind": action.kind,
        "incident_id": action.incident_id,
        "at": iso(action.at),
        "severity": action.severity.value,
        "channels": sorted(str(c) for c in action.channels),
        "contacts": [c.model_dump(mode="json", exclude_none=True) for c in action.contacts],
        "keys": list(action.keys),
        "detail": action.detail,
    }


def occurrence_dict(occ: Occurrence, now: datetime, sent: set[str] | None = None) -> dict[str, Any]:
    kind = "silence" if occ.kind == "silence" else occ.notice_type
    data: dict[str, Any] = {
        "id": occ.id,
        "name": occ.name,
        "type": kind,
        "start": iso(occ.start),
        "end": iso(occ.end),
        "duration_s": occ.duration.total_seconds(),
        "impact": occ.impact,
        "active": occ.contains(now),
        "starts_in_s": round((occ.start - now).total_seconds(), 3),
    }
    matchers = occ.matchers.model_dump(exclude_none=True)
    if matchers:
        data["matchers"] = matchers
    if sent is not None and occ.kind == "maintenance":
        data["notice_sent"] = occ.id in sent
    return data
