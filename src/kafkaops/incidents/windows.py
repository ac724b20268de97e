"""Maintenance windows: recurring and ad-hoc, their occurrences, and what they mute.

Why this module: "is this alert muted now?" needs every window's occurrences at one instant,
whatever made the window (the runbook schedule, an ad-hoc or emergency window, or an operator's
silence from :mod:`kafkaops.incidents.silences`, which share :class:`Occurrence` and
:class:`Matchers`).  The bookkeeping of what was sent is :mod:`kafkaops.incidents.ledger`; the
runbook's notices are :mod:`kafkaops.incidents.notices`.

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
"""

from __future__ import annotations

import functools
import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Annotated, Literal, Protocol

from dateutil.rrule import rrule as RRule
from dateutil.rrule import rrulestr
from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from kafkaops.core.model import Severity
from kafkaops.core.units import Seconds
from kafkaops.incidents.alerts import AlertState, ensure_utc

#: Seconds (a number, or a duration with its unit such as ``2h``), above zero.
PositiveSeconds = Annotated[Seconds, Field(gt=0)]

RULE_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

Impact = Literal["minimal", "low", "medium", "high"]


class StrictModel(BaseModel):
    """Frozen, no unknown fields: windows, silences and notices as configured."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Matchers(StrictModel):
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


def to_utc(value: datetime) -> datetime:
    """The same instant in UTC."""
    return value.astimezone(UTC)


#: dateutil's frequency constants, slowest first; maintenance windows repeat at most daily.
_FREQ_NAMES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
_MAX_FREQ = 3  # DAILY
#: Occurrences closer than this are refused (BYHOUR=0,1,…,23 on a DAILY rule is hourly).
_MIN_GAP = timedelta(hours=1)


@functools.lru_cache(maxsize=256)
def _parse_rule(text: str, dtstart: datetime) -> RRule:
    """Parse and bound an RFC 5545 rule.

    Why bounded: ``FREQ=SECONDLY`` passed the config check and then froze the watch loop (every
    cycle enumerated occurrences since 2025, one per second).  Windows repeat at most daily, and
    no two occurrences are less than an hour apart; anything else is refused with the reason.
    """
    try:
        # cache=True: occurrences are remembered, so per-cycle lookups do not re-iterate.
        parsed = rrulestr(text, dtstart=dtstart, cache=True)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        why = str(exc)
        if not why or "unpack" in why:  # dateutil's own words for a part without "="
            why = "expected NAME=VALUE parts separated by ';'"
        raise ValueError(
            f"{text!r} is not an RFC 5545 rule ({why}); e.g. "
            "RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=0;BYSECOND=0"
        ) from None
    if not isinstance(parsed, RRule):
        raise ValueError("give a single RRULE (no RDATE/EXDATE sets)")
    freq = parsed._freq  # dateutil keeps it private; the value is RFC 5545's FREQ
    if freq > _MAX_FREQ:
        raise ValueError(
            f"FREQ={_FREQ_NAMES[freq]} would open a window every "
            f"{_FREQ_NAMES[freq].removesuffix('LY').lower()}; maintenance windows repeat at "
            "most daily (use FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)"
        )
    first = list(itertools.islice(iter(parsed), 25))
    for a, b in itertools.pairwise(first):
        if b - a < _MIN_GAP:
            raise ValueError(
                f"occurrences {a:%Y-%m-%dT%H:%M:%SZ} and {b:%H:%M:%SZ} are less than an hour "
                "apart; maintenance windows repeat at most hourly within a day (check BYHOUR/"
                "BYMINUTE/BYSECOND)"
            )
    return parsed


class RecurringWindow(StrictModel):
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
        return to_utc(value)

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


class AdHocWindow(StrictModel):
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
        return to_utc(value)

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


class Window(Protocol):
    """Anything with occurrences: a recurring or ad-hoc window, or a silence."""

    def overlapping(self, start: datetime, end: datetime) -> list[Occurrence]: ...

    def after(self, now: datetime) -> Iterator[Occurrence]: ...


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
    return muted_by(active_windows(now, windows), alert, p0_pages_during_maintenance)


def muted_by(occs: Sequence[Occurrence], alert: AlertState, p0_pages: bool) -> bool:
    return any(_mutes(o, alert, p0_pages) for o in occs)


def muting_occurrence(
    occs: Sequence[Occurrence], alert: AlertState, p0_pages: bool
) -> Occurrence | None:
    """The window or silence that mutes ``alert`` the longest (None: not muted).

    The longest, because "will be sent at 04:00Z" must name the moment the alert is really
    unmuted: overlapping windows (daily 02–04 inside the first-Sunday 00–06) mute until the
    last one ends.
    """
    muting = [o for o in occs if _mutes(o, alert, p0_pages)]
    return max(muting, key=lambda o: o.end) if muting else None
