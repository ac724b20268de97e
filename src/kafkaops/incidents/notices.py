"""Maintenance notices (runbook "Maintenance Notification Procedures").

Scheduled notices are due 24 h before the window starts, emergency notices immediately; the
payload carries exactly the runbook's fields.

Separate from the windows because a notice is a message about a window (when it is due, what
it says), not a decision about muting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, PositiveFloat

from kafkaops.incidents.alerts import ensure_utc
from kafkaops.incidents.windows import (
    DEFAULT_WINDOWS,
    AdHocWindow,
    Impact,
    Matchers,
    NoticeType,
    Occurrence,
    StrictModel,
    Window,
    to_utc,
)

NOTICE_LEAD = timedelta(hours=24)
DEFAULT_SERVICES = ("MSK Cluster", "Event Processing", "Real-time Analytics")
DEFAULT_CONTACT = "ops-team@example.com"


def _human_duration(seconds: float) -> str:
    """``7200`` → ``"2 hours"``, ``5400`` → ``"90 minutes"`` (the runbook writes "2 hours")."""
    minutes = round(seconds / 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


class MaintenanceNotice(StrictModel):
    """The runbook's maintenance notice (``maintenance-notice.json``)."""

    type: NoticeType
    start_time: AwareDatetime
    #: ``None`` for emergency work of unknown length (the runbook's "variable").
    duration_s: PositiveFloat | None
    impact: Impact
    services_affected: tuple[str, ...] = DEFAULT_SERVICES
    contact: str = DEFAULT_CONTACT

    def payload(self) -> dict[str, Any]:
        """Exactly the runbook's JSON fields, times in ISO 8601 UTC."""
        duration = "variable" if self.duration_s is None else _human_duration(self.duration_s)
        return {
            "type": self.type,
            "start_time": f"{to_utc(self.start_time):%Y-%m-%dT%H:%M:%SZ}",
            "duration": duration,
            "impact": self.impact,
            "services_affected": list(self.services_affected),
            "contact": self.contact,
        }

    @property
    def subject(self) -> str:
        """The runbook's SNS subject line for this notice type."""
        if self.type == "emergency":
            return "Emergency MSK Maintenance - Starting Now"
        return f"Scheduled MSK Maintenance - {to_utc(self.start_time):%Y-%m-%dT%H:%M:%SZ}"


def notice_for(
    occ: Occurrence,
    *,
    services: Iterable[str] = DEFAULT_SERVICES,
    contact: str = DEFAULT_CONTACT,
) -> MaintenanceNotice:
    return MaintenanceNotice(
        type=occ.notice_type,
        start_time=occ.start,
        duration_s=occ.duration.total_seconds(),
        impact=occ.impact,
        services_affected=tuple(services),
        contact=contact,
    )


def notice_due_at(occ: Occurrence, lead: timedelta = NOTICE_LEAD) -> datetime:
    """Scheduled notices are due ``lead`` (24 h) before the start; emergency ones at the start."""
    return occ.start if occ.notice_type == "emergency" else occ.start - lead


def _is_due(occ: Occurrence, now: datetime, lead: timedelta) -> bool:
    if occ.notice_type == "emergency":
        return occ.start <= now < occ.end
    return notice_due_at(occ, lead) <= now < occ.start


def due_notices(
    now: datetime,
    windows: Sequence[Window] = DEFAULT_WINDOWS,
    sent: Iterable[str] = (),
    lead: timedelta = NOTICE_LEAD,
) -> list[Occurrence]:
    """Maintenance occurrences whose notice is due at ``now`` and not yet in ``sent`` (ids).

    A scheduled notice is due while ``start - lead <= now < start``: once the window started it
    is not "24 h ahead" any more and is not sent late.  An emergency notice is due from the start
    until the end of its window.  Silences and ``notify=False`` windows send none.
    """
    now = ensure_utc(now)
    done = set(sent)
    occs = (o for w in windows for o in w.overlapping(now, now + lead + timedelta(seconds=1)))
    due = [
        o
        for o in occs
        if o.kind == "maintenance" and o.notify and o.id not in done and _is_due(o, now, lead)
    ]
    return sorted(due, key=lambda o: (o.start, o.name))


def emergency_window(
    now: datetime,
    name: str = "emergency",
    duration: timedelta = timedelta(hours=2),
    impact: Impact = "high",
    matchers: Matchers | None = None,
) -> tuple[AdHocWindow, MaintenanceNotice]:
    """An emergency window starting ``now`` and its immediate notice (runbook: "Starting Now").

    The window needs an end so muting cannot be left on forever; ``duration`` is only the
    mute length, the notice says "variable" as the runbook does.
    """
    now = ensure_utc(now)
    window = AdHocWindow(
        name=name,
        start=now,
        end=now + duration,
        type="emergency",
        impact=impact,
        matchers=matchers or Matchers(),
    )
    notice = MaintenanceNotice(type="emergency", start_time=now, duration_s=None, impact=impact)
    return window, notice
