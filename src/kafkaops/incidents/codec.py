"""JSON forms of the incident core's records (findings, alert states, ledger entries, incidents)
and the microsecond timestamps the incident tables use.

Why apart from the store: the store is about transactions and queries; these functions are the
stable on-disk format (also the API's and the CLI's ``--json``), tested on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.incidents.alerts import AlertState, AlertStatus, ensure_utc
from kafkaops.incidents.incident import AuditEntry, Contact, Incident, IncidentStatus, Member
from kafkaops.incidents.ledger import SentEntry
from kafkaops.incidents.routing import ChannelRef

# --- time and JSON conversion -----------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_us(when: datetime) -> int:
    """Aware datetime → integer microseconds since the epoch (exact)."""
    return (ensure_utc(when) - _EPOCH) // _US


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def _dt(value: datetime | None) -> str | None:
    return None if value is None else ensure_utc(value).isoformat()


def _parse_dt(value: str | None) -> datetime | None:
    return None if value is None else ensure_utc(datetime.fromisoformat(value))


def _req_dt(value: str) -> datetime:
    parsed = _parse_dt(value)
    assert parsed is not None
    return parsed


def finding_to_json(f: Finding) -> dict[str, Any]:
    d = f.to_dict()
    d["evidence"] = list(f.evidence)
    d["response"] = list(f.response)
    return d


def finding_from_json(d: Mapping[str, Any]) -> Finding:
    return Finding(
        rule=d["rule"],
        severity=Severity(d["severity"]),
        status=CheckStatus(d["status"]),
        title=d["title"],
        value=d.get("value"),
        threshold=d.get("threshold"),
        unit=d["unit"],
        subject=d.get("subject", "cluster"),
        evidence=tuple(d.get("evidence", ())),
        source=d.get("source", "admin"),
        response=tuple(d.get("response", ())),
    )


def alert_to_json(s: AlertState) -> dict[str, Any]:
    return {
        "key": s.key,
        "cluster": s.cluster,
        "status": s.status.value,
        "finding": finding_to_json(s.finding),
        "active_since": _dt(s.active_since),
        "last_seen": _dt(s.last_seen),
        "fired_at": _dt(s.fired_at),
        "resolved_at": _dt(s.resolved_at),
    }


def alert_from_json(d: Mapping[str, Any]) -> AlertState:
    return AlertState(
        key=d["key"],
        cluster=d["cluster"],
        status=AlertStatus(d["status"]),
        finding=finding_from_json(d["finding"]),
        active_since=_req_dt(d["active_since"]),
        last_seen=_req_dt(d["last_seen"]),
        fired_at=_parse_dt(d.get("fired_at")),
        resolved_at=_parse_dt(d.get("resolved_at")),
    )


def sent_to_json(e: SentEntry) -> dict[str, Any]:
    return {
        "key": e.key,
        "cluster": e.cluster,
        "fired_at": _dt(e.fired_at),
        "severity": e.severity.value,
        "finding": finding_to_json(e.finding),
        "channels": sorted(str(c) for c in e.channels),
    }


def sent_from_json(d: Mapping[str, Any]) -> SentEntry:
    return SentEntry(
        key=d["key"],
        cluster=d["cluster"],
        fired_at=_req_dt(d["fired_at"]),
        severity=Severity(d["severity"]),
        finding=finding_from_json(d["finding"]),
        channels=frozenset(ChannelRef.parse(c) for c in d["channels"]),
    )


def _member_to_json(m: Member) -> dict[str, Any]:
    return {
        "key": m.key,
        "rule": m.rule,
        "subject": m.subject,
        "severity": m.severity.value,
        "title": m.title,
        "firing": m.firing,
        "joined_at": _dt(m.joined_at),
    }


def _member_from_json(d: Mapping[str, Any]) -> Member:
    return Member(
        key=d["key"],
        rule=d["rule"],
        subject=d["subject"],
        severity=Severity(d["severity"]),
        title=d["title"],
        firing=bool(d["firing"]),
        joined_at=_req_dt(d["joined_at"]),
    )


def incident_to_json(inc: Incident) -> dict[str, Any]:
    """Everything of an incident except its audit trail (which has a table of its own)."""
    return {
        "id": inc.id,
        "cluster": inc.cluster,
        "status": inc.status.value,
        "severity": inc.severity.value,
        "opened_at": _dt(inc.opened_at),
        "members": [_member_to_json(m) for m in inc.members],
        "escalated_to": inc.escalated_to.value if inc.escalated_to else None,
        "escalations_done": list(inc.escalations_done),
        "paged": sorted(str(c) for c in inc.paged),
        "first_paged_at": _dt(inc.first_paged_at),
        "notified": list(inc.notified),
        "notified_contacts": [c.model_dump(mode="json") for c in inc.notified_contacts],
        "acknowledged_at": _dt(inc.acknowledged_at),
        "acknowledged_by": inc.acknowledged_by,
        "resolved_at": _dt(inc.resolved_at),
        "resolved_by": inc.resolved_by,
    }


def incident_from_json(d: Mapping[str, Any], audit: Sequence[AuditEntry]) -> Incident:
    return Incident(
        id=d["id"],
        cluster=d["cluster"],
        status=IncidentStatus(d["status"]),
        opened_at=_req_dt(d["opened_at"]),
        members=tuple(_member_from_json(m) for m in d["members"]),
        audit=tuple(audit),
        escalated_to=Severity(d["escalated_to"]) if d.get("escalated_to") else None,
        escalations_done=tuple(d.get("escalations_done", ())),
        paged=frozenset(ChannelRef.parse(c) for c in d.get("paged", ())),
        first_paged_at=_parse_dt(d.get("first_paged_at")),
        notified=tuple(d.get("notified", ())),
        notified_contacts=tuple(Contact.model_validate(c) for c in d.get("notified_contacts", ())),
        acknowledged_at=_parse_dt(d.get("acknowledged_at")),
        acknowledged_by=d.get("acknowledged_by"),
        resolved_at=_parse_dt(d.get("resolved_at")),
        resolved_by=d.get("resolved_by"),
    )
