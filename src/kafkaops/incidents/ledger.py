"""The sent ledger and the per-cycle decision of which notifications to send.

Why a pure module of its own: the top complaints about Alertmanager-style muting are
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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from kafkaops.core.model import Finding, Severity
from kafkaops.incidents.alerts import AlertState, AlertStatus, ensure_utc
from kafkaops.incidents.routing import DEFAULT_ROUTING, ChannelRef, RoutingConfig
from kafkaops.incidents.windows import (
    DEFAULT_WINDOWS,
    Window,
    active_windows,
    muted_by,
    muting_occurrence,
)

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
        if muted_by(occs, alert, p0_pages_during_maintenance):
            continue
        updated, sends = _firings(alert, entries.get(key), routing, now)
        if updated is not None:
            entries[key] = updated
        out.extend(sends)
    return SentLedger(entries), out


@dataclass(frozen=True, slots=True)
class Mute:
    """A firing alert that would page now but is held back by a window or silence.

    Why a record of its own: a mute must never be silent.  The watch line, ``incidents show``,
    the API and the dashboard all say "muted by window `daily` until 04:00Z — will be sent then
    if still firing"; they read it from here.
    """

    key: str
    cluster: str
    severity: Severity
    #: Channels that would be paged now (those already told are not waiting).
    channels: tuple[ChannelRef, ...]
    window: str
    kind: str
    until: datetime

    def describe(self) -> str:
        what = "silence" if self.kind == "silence" else "window"
        return (
            f"muted by {what} `{self.window}` until {self.until:%Y-%m-%d %H:%MZ} — will be sent "
            "then if still firing"
        )


def pending_mutes(
    ledger: SentLedger,
    now: datetime,
    alerts: Mapping[str, AlertState],
    windows: Sequence[Window] = DEFAULT_WINDOWS,
    *,
    routing: RoutingConfig = DEFAULT_ROUTING,
    p0_pages_during_maintenance: bool = True,
) -> list[Mute]:
    """The firing alerts :func:`decide_notifications` held back at ``now``, with the window."""
    now = ensure_utc(now)
    occs = active_windows(now, windows)
    out: list[Mute] = []
    for key, alert in sorted(alerts.items()):
        if alert.status != AlertStatus.FIRING:
            continue
        occ = muting_occurrence(occs, alert, p0_pages_during_maintenance)
        if occ is None:
            continue
        entry = ledger.entries.get(key)
        told = entry.channels if entry else frozenset()
        waiting = tuple(ch for ch in routing.channels_for(alert.severity) if ch not in told)
        if waiting:
            out.append(
                Mute(key, alert.cluster, alert.severity, waiting, occ.name, occ.kind, occ.end)
            )
    return out
