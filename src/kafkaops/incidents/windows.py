"""Maintenance windows, silences, and the per-cycle decision of which notifications to send.

Why this lives in one pure module: the top complaints about Alertmanager-style muting are
(1) nothing is sent when a mute ends, (2) no resolve is sent for an alert that was paged and then
muted, (3) duplicate pages.  All three are bookkeeping errors, so the bookkeeping is explicit:
a :class:`SentLedger` records, per alert episode, which channels were told it is firing, and
:func:`decide_notifications` reconciles that ledger against the current alert states every
cycle.  Being level-based (compare "what is firing and unmuted" with "what was sent"), it needs
no memory of past windows and cannot miss an edge:

* muted while in a matching window: nothing is sent, nothing is recorded;
* when the window ends, alerts still firing are not muted any more and are sent at once;
* an alert that fires and resolves inside a window was never recorded, so nothing is sent;
* a resolve is always sent, muted or not, to every channel recorded as paged;
* the ledger makes a second send of the same firing to the same channel impossible.

Windows (runbook "Maintenance Window Schedule"; all times UTC, end exclusive):

* daily 02:00–04:00, weekly Sunday 01:00–05:00, monthly first Sunday 00:00–06:00 as RFC 5545
  recurrence rules.  "First Sunday" is ``FREQ=MONTHLY;BYDAY=+1SU``; the cron idiom
  ``0 0 1-7 * 0`` means "day 1–7 *or* Sunday" and would wrongly match every Sunday and every
  1st–7th of the month;
* ad-hoc windows (start, end), e.g. emergency maintenance;
* silences: ad-hoc muting by label matchers (cluster, rule, severity; shell-style globs).

P0 alerts still page during maintenance unless ``p0_pages_during_maintenance`` is off: a
maintenance window is for expected noise, not for a cluster that is down.  A silence mutes a P0
only if it names ``severity="P0"`` explicitly - a broad "silence cluster X" must not swallow an
outage.

Maintenance notices (runbook "Maintenance Notification Procedures"): scheduled notices are due
24 h before the window starts, emergency notices immediately; the payload carries exactly the
runbook's fields.
"""

from __future__ import annotations

import functools
import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal

from dateutil.rrule import rrule as RRule
from dateutil.rrule import rrulestr
from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    field_validator,
    model_validator,
)

from kafkaops.core.model import Finding, Severity
from kafkaops.core.units import Seconds
from kafkaops.incidents.alerts import AlertState, AlertStatus, ensure_utc
from kafkaops.incidents.routing import DEFAULT_ROUTING, ChannelRef, RoutingConfig

#: Seconds (a number, or a duration with its unit such as ``2h``), above zero.
PositiveSeconds = Annotated[Seconds, Field(gt=0)]

NOTICE_LEAD = timedelta(hours=24)
RULE_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
DEFAULT_SERVICES = ("MSK Cluster", "Event Processing", "Real-time Analytics")
DEFAULT_CONTACT = "ops-team@example.com"

Impact = Literal["minimal", "low", "medium", "high"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Matchers(_Model):
    """Label matchers; ``None`` matches anything, strings are shell-style globs (``prod-*``)."""

    cluster: str | None = None
    rule: str | None = None
    severity: str | None = None

    def matches(self, cluster: str, rule: str, severity: Severity) -> bool:
        pairs = ((self.cluster, cluster), (self.rule, rule), (self.severity, severity.value))
        return all(pattern is None or fnmatchcase(value, pattern) for pattern, value in pairs)

    @property
    def names_p0(self) -> bool:
        """True when the severity matcher explicitly targets P0 (not merely a wildcard)."""
        return self.severity == Severity.P0.value


WindowKind = Literal["maintenance", "silence"]
NoticeType = Literal["scheduled", "emergency"]


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One concrete stretch of time ``[start, end)`` during which a window or silence applies."""

    name: str
    kind: WindowKind
    start: datetime
    end: datetime
    matchers: Matchers
    impact: Impact = "minimal"
    notice_type: NoticeType = "scheduled"
    notify: bool = True

    @property
    def id(self) -> str:
        """Stable identity of this occurrence, e.g. for "notice already sent" bookkeeping."""
        return f"{self.name}@{self.start:%Y-%m-%dT%H:%M:%SZ}"

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def contains(self, now: datetime) -> bool:
        return self.start <= now < self.end


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


@functools.lru_cache(maxsize=256)
def _parse_rule(text: str, dtstart: datetime) -> RRule:
    # cache=True: occurrences are remembered, so per-cycle lookups do not re-iterate from dtstart.
    parsed = rrulestr(text, dtstart=dtstart, cache=True)
    if not isinstance(parsed, RRule):
        raise ValueError("give a single RRULE (no RDATE/EXDATE sets)")
    return parsed


class RecurringWindow(_Model):
    """A maintenance window that repeats by an RFC 5545 rule and lasts ``duration_s``."""

    name: str
    rrule: str
    #: YAML ``duration`` (or ``duration_s``): e.g. ``2h``.
    duration_s: PositiveSeconds = Field(validation_alias=AliasChoices("duration", "duration_s"))
    dtstart: AwareDatetime = RULE_EPOCH
    impact: Impact = "minimal"
    matchers: Matchers = Matchers()
    #: Whether a scheduled notice goes out 24 h ahead of each occurrence.
    notify: bool = True

    @field_validator("dtstart")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    @model_validator(mode="after")
    def _rule_parses(self) -> RecurringWindow:
        # Fail when the config is loaded, not at 02:00 when the window should start.
        self.rule()
        return self

    def rule(self) -> RRule:
        return _parse_rule(self.rrule, self.dtstart)

    def _occurrence(self, start: datetime) -> Occurrence:
        end = start + timedelta(seconds=self.duration_s)
        return Occurrence(
            self.name, "maintenance", start, end, self.matchers, self.impact, notify=self.notify
        )

    def overlapping(self, start: datetime, end: datetime) -> list[Occurrence]:
        """Occurrences that overlap ``[start, end)``."""
        earliest = start - timedelta(seconds=self.duration_s)
        starts = self.rule().between(earliest, end, inc=True)
        occs = (self._occurrence(s) for s in starts)
        return [o for o in occs if o.end > start and o.start < end]

    def after(self, now: datetime) -> Iterator[Occurrence]:
        """Occurrences starting strictly after ``now``, in order (possibly infinite)."""
        return (self._occurrence(s) for s in self.rule().xafter(now, inc=False))


class AdHocWindow(_Model):
    """A one-off maintenance window, planned (``scheduled``) or ``emergency``."""

    name: str
    start: AwareDatetime
    end: AwareDatetime
    type: NoticeType = "scheduled"
    impact: Impact = "high"
    matchers: Matchers = Matchers()
    notify: bool = True

    @field_validator("start", "end")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    @model_validator(mode="after")
    def _ordered(self) -> AdHocWindow:
        if self.end <= self.start:
            raise ValueError(f"window {self.name!r} ends ({self.end}) before it starts")
        return self

    def occurrence(self) -> Occurrence:
        return Occurrence(
            self.name,
            "maintenance",
            self.start,
            self.end,
            self.matchers,
            self.impact,
            self.type,
            self.notify,
        )

    def overlapping(self, start: datetime, end: datetime) -> list[Occurrence]:
        occ = self.occurrence()
        return [occ] if occ.end > start and occ.start < end else []

    def after(self, now: datetime) -> Iterator[Occurrence]:
        return iter([self.occurrence()] if self.start > now else [])


class Silence(_Model):
    """Operator-made mute of the alerts its matchers select, for ``[start, end)``."""

    matchers: Matchers
    start: AwareDatetime
    end: AwareDatetime
    created_by: str
    comment: str = ""

    @field_validator("start", "end")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    @model_validator(mode="after")
    def _ordered(self) -> Silence:
        if self.end <= self.start:
            raise ValueError("a silence must end after it starts")
        return self

    def occurrence(self) -> Occurrence:
        name = f"silence by {self.created_by}"
        return Occurrence(name, "silence", self.start, self.end, self.matchers, notify=False)

    def overlapping(self, start: datetime, end: datetime) -> list[Occurrence]:
        occ = self.occurrence()
        return [occ] if occ.end > start and occ.start < end else []

    def after(self, now: datetime) -> Iterator[Occurrence]:
        return iter([self.occurrence()] if self.start > now else [])


Window = RecurringWindow | AdHocWindow | Silence


def default_windows() -> tuple[RecurringWindow, ...]:
    """The runbook's schedule: daily, weekly (Sunday) and monthly (first Sunday), UTC."""
    hours = 3600.0
    return (
        RecurringWindow(
            name="daily",
            rrule="RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=0;BYSECOND=0",
            duration_s=2 * hours,
            impact="minimal",
        ),
        RecurringWindow(
            name="weekly",
            rrule="RRULE:FREQ=WEEKLY;BYDAY=SU;BYHOUR=1;BYMINUTE=0;BYSECOND=0",
            duration_s=4 * hours,
            impact="low",
        ),
        RecurringWindow(
            name="monthly",
            rrule="RRULE:FREQ=MONTHLY;BYDAY=+1SU;BYHOUR=0;BYMINUTE=0;BYSECOND=0",
            duration_s=6 * hours,
            impact="medium",
        ),
    )


DEFAULT_WINDOWS: tuple[Window, ...] = default_windows()


def active_windows(now: datetime, windows: Sequence[Window] = DEFAULT_WINDOWS) -> list[Occurrence]:
    """Occurrences (maintenance and silences) that contain ``now``, by start then name."""
    now = ensure_utc(now)
    instant = now + timedelta(microseconds=1)
    found = [o for w in windows for o in w.overlapping(now, instant) if o.contains(now)]
    return sorted(found, key=lambda o: (o.start, o.name))


def next_windows(
    now: datetime, n: int, windows: Sequence[Window] = DEFAULT_WINDOWS
) -> list[Occurrence]:
    """The next ``n`` occurrences starting strictly after ``now``, soonest first."""
    now = ensure_utc(now)
    streams = [w.after(now) for w in windows]
    merged = heapq.merge(*streams, key=lambda o: (o.start, o.name))
    return list(itertools.islice(merged, n))


def _mutes(occ: Occurrence, alert: AlertState, p0_pages: bool) -> bool:
    if not occ.matchers.matches(alert.cluster, alert.rule, alert.severity):
        return False
    if alert.severity != Severity.P0 or not p0_pages:
        return True
    # P0 pages through maintenance; only a silence that explicitly names P0 mutes it.
    return occ.kind == "silence" and occ.matchers.names_p0


def is_muted(
    alert: AlertState,
    now: datetime,
    windows: Sequence[Window] = DEFAULT_WINDOWS,
    p0_pages_during_maintenance: bool = True,
) -> bool:
    """Whether ``alert`` must not be sent (as firing) at ``now``; resolves are never muted."""
    return _muted_by(active_windows(now, windows), alert, p0_pages_during_maintenance)


def _muted_by(occs: Sequence[Occurrence], alert: AlertState, p0_pages: bool) -> bool:
    return any(_mutes(o, alert, p0_pages) for o in occs)


# --- notification decisions -------------------------------------------------------------------

NotificationKind = Literal["firing", "resolved"]


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to one channel about one alert episode."""

    kind: NotificationKind
    key: str
    cluster: str
    channel: ChannelRef
    severity: Severity
    finding: Finding
    fired_at: datetime
    at: datetime

    @property
    def idempotency_key(self) -> str:
        """Same episode + channel + kind → same key, so an outbox can refuse a second copy."""
        return f"{self.key}|{self.fired_at:%Y-%m-%dT%H:%M:%S.%fZ}|{self.channel}|{self.kind}"


@dataclass(frozen=True, slots=True)
class SentEntry:
    """What was sent as "firing" for one alert episode (identified by key + ``fired_at``)."""

    key: str
    cluster: str
    fired_at: datetime
    severity: Severity
    finding: Finding
    channels: frozenset[ChannelRef]


@dataclass(frozen=True, slots=True)
class SentLedger:
    """Firing notifications sent and not yet resolved, by alert key.  Never mutated."""

    entries: Mapping[str, SentEntry] = field(default_factory=dict)

    def paged(self, key: str) -> frozenset[ChannelRef]:
        entry = self.entries.get(key)
        return entry.channels if entry else frozenset()


def _resolves(entry: SentEntry, finding: Finding, now: datetime) -> list[Notification]:
    return [
        Notification(
            "resolved", entry.key, entry.cluster, ch, entry.severity, finding, entry.fired_at, now
        )
        for ch in sorted(entry.channels)
    ]


def _episode_over(entry: SentEntry, alert: AlertState | None) -> bool:
    if alert is None or alert.status != AlertStatus.FIRING:
        return True
    return alert.fired_at != entry.fired_at


def _firings(
    alert: AlertState, entry: SentEntry | None, routing: RoutingConfig, now: datetime
) -> tuple[SentEntry | None, list[Notification]]:
    """Firing notifications for the channels of ``alert``'s severity not yet told."""
    told = entry.channels if entry else frozenset()
    new = [ch for ch in routing.channels_for(alert.severity) if ch not in told]
    if not new:
        return entry, []
    assert alert.fired_at is not None
    sends = [
        Notification(
            "firing",
            alert.key,
            alert.cluster,
            ch,
            alert.severity,
            alert.finding,
            alert.fired_at,
            now,
        )
        for ch in new
    ]
    updated = SentEntry(
        alert.key, alert.cluster, alert.fired_at, alert.severity, alert.finding, told | set(new)
    )
    return updated, sends


def decide_notifications(
    prev: SentLedger,
    now: datetime,
    alerts: Mapping[str, AlertState],
    windows: Sequence[Window] = DEFAULT_WINDOWS,
    *,
    routing: RoutingConfig = DEFAULT_ROUTING,
    p0_pages_during_maintenance: bool = True,
) -> tuple[SentLedger, list[Notification]]:
    """Reconcile the ledger with the alert states: which notifications to emit this cycle.

    ``alerts`` must be the complete state map the ledger covers (all clusters), because a
    ledger entry whose alert is no longer firing - or whose episode was replaced by a new one -
    is resolved.  Resolves come first (to every channel paged), then firings (to channels of the
    alert's current severity not told yet, unless muted).  A severity change therefore reaches
    the new severity's channels once; the resolve later goes to all of them.
    """
    now = ensure_utc(now)
    occs = active_windows(now, windows)  # once per cycle, not once per alert
    entries = dict(prev.entries)
    out: list[Notification] = []
    for key, entry in sorted(prev.entries.items()):
        alert = alerts.get(key)
        if _episode_over(entry, alert):
            out.extend(_resolves(entry, alert.finding if alert else entry.finding, now))
            del entries[key]
    for key, alert in sorted(alerts.items()):
        if alert.status != AlertStatus.FIRING:
            continue
        if _muted_by(occs, alert, p0_pages_during_maintenance):
            continue
        updated, sends = _firings(alert, entries.get(key), routing, now)
        if updated is not None:
            entries[key] = updated
        out.extend(sends)
    return SentLedger(entries), out


# --- maintenance notices ----------------------------------------------------------------------


def _human_duration(seconds: float) -> str:
    """``7200`` → ``"2 hours"``, ``5400`` → ``"90 minutes"`` (the runbook writes "2 hours")."""
    minutes = round(seconds / 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


class MaintenanceNotice(_Model):
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
            "start_time": f"{_utc(self.start_time):%Y-%m-%dT%H:%M:%SZ}",
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
        return f"Scheduled MSK Maintenance - {_utc(self.start_time):%Y-%m-%dT%H:%M:%SZ}"


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
