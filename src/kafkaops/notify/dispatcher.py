"""Deliver due outbox messages through their channels; retry, rate-limit, give up with a reason.

One :class:`Dispatcher` per process (or thread): ``deliver_due(now)`` claims a batch, sends each
message, and records the outcome.  Several dispatchers may share one PostgreSQL outbox; the
claim guarantees a message is handled by one of them at a time (see :mod:`.outbox`).

Outcomes per message:

* sent → ``delivered``;
* :class:`RetryableDelivery` → retried at ``now + backoff`` (exponential, capped, full jitter)
  or at ``now + Retry-After`` when the receiver said so, until the message is ``give_up_after``
  old (6 h by default), then ``failed`` with "gave up after <age>: <last error>".  Attempts do
  not end a page: with the defaults they ran out after ~7 minutes of receiver outage, and a P0
  was dropped while the receiver was merely restarting.  ``max_attempts`` only stops a message
  that was claimed that often *without any outcome* (its sends kill the dispatcher);
* :class:`PermanentDelivery` (4xx, bad config) → ``failed`` at once: a 400 does not improve;
* Slack over its per-webhook rate (1 msg/s) → deferred to the webhook's next free slot without
  counting an attempt, so other channels are not held up behind Slack.

Backoff is a 5-line function instead of tenacity: tenacity's waits are built around its own
retry loop (``RetryCallState``), while here the "loop" spans processes and restarts through the
database; the formula (AWS "full jitter") is all that is needed, with an injectable RNG so
tests are deterministic.

Clock and sleep are injected, so tests drive time instead of sleeping through backoffs.
When a message finally fails, its channel is failing: a P1 "notification channel failing" is
queued to every *other* configured channel (:meth:`Dispatcher.raise_channel_failing`), once per
outage - the outage is named by the channel's last delivery before it, so every message failing
in the same outage maps to the same idempotency keys.  The next delivery through the channel
queues the matching resolve.

Logs: one line per delivery, retry or failure - channel, key, attempts, reason; never secrets:
every error text goes through the :class:`~kafkaops.notify.redact.Redactor` of the configured
secrets before it is logged, reported or stored.

:class:`DeliveryStats` keeps what ``/metrics`` exports (failures per channel, enqueue-to-delivery
seconds) for the life of the process.

Why this module is long: claiming, sending, retry scheduling, giving up and the 'notification
channel failing' alert are one state machine over the outbox; its invariants (a page retried
until give_up_after, never lost, never twice) are easier to keep in one place.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from kafkaops.core.clock import utc_now
from kafkaops.core.report_page import RenderedReport
from kafkaops.notify.channels.alertmanager import AlertmanagerChannel
from kafkaops.notify.channels.base import Channel, make_client
from kafkaops.notify.channels.pagerduty import PagerDutyChannel
from kafkaops.notify.channels.slack import SlackChannel
from kafkaops.notify.channels.smtp import EmailChannel
from kafkaops.notify.channels.sns import SnsChannel
from kafkaops.notify.channels.webhook import WebhookChannel
from kafkaops.notify.errors import PermanentDelivery, RetryableDelivery
from kafkaops.notify.message import PAGER_KINDS, OutboundMessage, iso_utc
from kafkaops.notify.outbox import Outbox, OutboxRow, to_ms
from kafkaops.notify.redact import Redactor
from kafkaops.notify.settings import ChannelsSettings, RetrySettings

log = logging.getLogger("kafkaops.notify")

Clock = Callable[[], datetime]


def full_jitter_ms(
    attempt: int, base_ms: int, max_ms: int, rng: random.Random | None = None
) -> int:
    """Wait before retry number ``attempt`` (1-based): uniform in [0, min(max, base·2^(n-1))]."""
    cap = min(max_ms, base_ms * (2 ** max(0, min(attempt - 1, 40))))
    return round((rng or random).uniform(0, cap))


@dataclass
class DeliveryReport:
    """What one or more ``deliver_due`` rounds did, by idempotency key."""

    delivered: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    #: Stored reason per failed/retried key (last one wins).
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def claimed(self) -> int:
        return len(self.delivered) + len(self.retried) + len(self.failed) + len(self.deferred)

    def merge(self, other: DeliveryReport) -> None:
        self.delivered += other.delivered
        self.retried += other.retried
        self.failed += other.failed
        self.deferred += other.deferred
        self.errors.update(other.errors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "delivered": list(self.delivered),
            "retried": list(self.retried),
            "failed": list(self.failed),
            "deferred": list(self.deferred),
            "errors": dict(self.errors),
        }


#: Rule name and dedup-key prefix of the "notification channel failing" alert.
CHANNEL_FAILING = "channel-failing"
#: ``kafkaops_notification_delivery_seconds`` buckets: seconds to hours (a receiver outage).
DELIVERY_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0)


class DeliveryStats:
    """Counters for ``/metrics``: final failures per channel and a delivery-time histogram.

    In memory, per process (Prometheus counters reset on restart, which ``rate``/``increase``
    handle); the outbox itself is the durable record.  Thread-safe: the watch loop's thread
    writes, scrapes read.
    """

    def __init__(self, buckets: tuple[float, ...] = DELIVERY_BUCKETS) -> None:
        self.buckets = buckets
        self._lock = threading.Lock()
        self._failed: dict[str, int] = {}
        self._counts = [0] * len(buckets)
        self._sum = 0.0
        self._count = 0

    def failed(self, channel: str) -> None:
        with self._lock:
            self._failed[channel] = self._failed.get(channel, 0) + 1

    def delivered(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        with self._lock:
            self._sum += seconds
            self._count += 1
            for i, bound in enumerate(self.buckets):
                if seconds <= bound:
                    self._counts[i] += 1

    def failed_total(self) -> dict[str, int]:
        with self._lock:
            return dict(self._failed)

    def histogram(self) -> tuple[list[tuple[str, float]], float]:
        """Cumulative ``(le, count)`` pairs ending with ``+Inf``, and the sum of seconds."""
        with self._lock:
            pairs = [(repr(b), float(c)) for b, c in zip(self.buckets, self._counts, strict=True)]
            pairs.append(("+Inf", float(self._count)))
            return pairs, self._sum


def configured_channels(settings: ChannelsSettings) -> list[str]:
    """Channels that have a configuration to deliver through (for the channel-failing alert).

    Phone/SMS and the pager webhook they go through are left out: a P1 does not phone anyone.
    """
    out: list[str] = []
    pd = settings.pagerduty
    if pd.routing_key_env or pd.routing_key_file:
        out.append("pagerduty")
    out += [f"slack:{target}" for target in settings.slack.webhooks]
    if settings.email.host:
        out += [f"email:{target}" for target in settings.email.to]
    if settings.sns.region or settings.sns.endpoint_url:
        out.append("sns")
    out += [f"webhook:{name}" for name in settings.webhooks if name != settings.pager]
    if settings.alertmanager.url:
        out.append("alertmanager")
    return out


class RateLimiter:
    """Minimum spacing between sends per key, in clock milliseconds; slots can be reserved."""

    def __init__(self, interval_ms: int) -> None:
        self.interval_ms = interval_ms
        self._next: dict[str, int] = {}

    def reserve(self, key: str, now_ms: int) -> int:
        """Reserve the next slot for ``key``; returns its time (``now_ms`` if free now)."""
        slot = max(now_ms, self._next.get(key, now_ms))
        self._next[key] = slot + self.interval_ms
        return slot

    def release(self, key: str, slot_ms: int) -> None:
        """Give back a slot reserved for a message that is deferred instead of sent."""
        if self._next.get(key) == slot_ms + self.interval_ms:
            self._next[key] = slot_ms

    def block(self, key: str, until_ms: int) -> None:
        """The receiver said "not before" (429 Retry-After): no slot before ``until_ms``."""
        self._next[key] = max(self._next.get(key, 0), until_ms)


class Dispatcher:
    """Delivers due messages of an :class:`Outbox` through channels built from settings."""

    def __init__(
        self,
        outbox: Outbox,
        settings: ChannelsSettings,
        owner: str,
        clock: Clock = utc_now,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        channels: dict[str, Channel] | None = None,
    ) -> None:
        self.outbox = outbox
        self.settings = settings
        self.owner = owner
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self._http: httpx.Client | None = None
        self._channels: dict[str, Channel] = dict(channels or {})
        self.slack_limit = RateLimiter(settings.slack.min_interval)
        self.redact = Redactor(settings)
        self.stats = DeliveryStats()
        #: Channels whose open channel-failing alerts were looked up (or raised) by this
        #: dispatcher: a delivery through them checks for an alert to resolve.
        self._watch_failing: set[str] = set()
        self._checked: set[str] = set()
        self._queued_alerts = False

    def __repr__(self) -> str:
        return f"Dispatcher(owner={self.owner!r}, outbox={self.outbox!r})"

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def retry(self) -> RetrySettings:
        return self.settings.retry

    # ------------------------------------------------------------------ channels
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = make_client(self.settings.timeout_s)
        return self._http

    def channel_for(self, msg: OutboundMessage) -> Channel:
        """The channel object that delivers ``msg`` (built once per kind/target, then reused)."""
        ref = msg.channel_ref
        kind = ref.kind
        if kind in PAGER_KINDS:
            if self.settings.pager is None:
                raise PermanentDelivery(
                    f"{kind} pages need a paging gateway: set channels.pager to a webhook name "
                    "(kafkaops has no phone/SMS provider of its own)"
                )
            name = self.settings.pager
            return self._cached(
                f"webhook:{name}",
                lambda: WebhookChannel(name, self.settings.webhooks[name], self.http()),
            )
        if kind == "webhook":
            hook = self.settings.webhooks.get(ref.target)
            if hook is None:
                raise PermanentDelivery(f"no webhook named {ref.target!r} in channels.webhooks")
            return self._cached(str(ref), lambda: WebhookChannel(ref.target, hook, self.http()))
        builders: dict[str, Callable[[], Channel]] = {
            "pagerduty": lambda: PagerDutyChannel(self.settings.pagerduty, self.http()),
            "slack": lambda: SlackChannel(self.settings.slack, self.http()),
            "email": lambda: EmailChannel(
                self.settings.email, self.settings.timeout_s, self._load_report
            ),
            "sns": lambda: SnsChannel(self.settings.sns, self.settings.timeout_s),
            "alertmanager": lambda: AlertmanagerChannel(self.settings.alertmanager, self.http()),
        }
        if kind not in builders:
            raise PermanentDelivery(f"no channel implementation for kind {kind!r}")
        return self._cached(kind, builders[kind])

    def _load_report(self, report_id: str) -> RenderedReport | None:
        """A stored report (the e-mail body of a ``report`` message) from the outbox's database."""
        from kafkaops.store import db
        from kafkaops.store.reports import ReportStore

        with ReportStore(db.url_of(self.outbox.engine)) as store:
            found = store.get(report_id)
        return found.report if found is not None else None

    def _cached(self, key: str, build: Callable[[], Channel]) -> Channel:
        if key not in self._channels:
            self._channels[key] = build()
        return self._channels[key]

    # ------------------------------------------------------------------ delivery
    def deliver_due(self, now: datetime | None = None) -> DeliveryReport:
        """Claim one batch of due messages and deliver each; returns what happened."""
        now = now or self.clock()
        report = DeliveryReport()
        rows = self.outbox.claim(
            self.owner, now, limit=self.retry.batch, lease_s=self.retry.lease / 1000
        )
        for row in rows:
            self._deliver(row, report)
        if self._queued_alerts:
            # Channel-failing alerts (or their resolves) queued by this round go out now, not
            # one watch interval later: one more batch.
            self._queued_alerts = False
            for row in self.outbox.claim(
                self.owner, now, limit=self.retry.batch, lease_s=self.retry.lease / 1000
            ):
                self._deliver(row, report)
        return report

    def _now_ms(self) -> int:
        return to_ms(self.clock())

    def _give_up_reason(self, row: OutboxRow, now_ms: int) -> str | None:
        """Only age ends retrying (see the module doc); ``None`` while there is time left."""
        if now_ms - row.created_ms >= self.retry.give_up_after:
            return (
                f"gave up after {(now_ms - row.created_ms) / 1000:.0f}s and {row.attempts} "
                "attempts (give_up_after)"
            )
        return None

    def _deliver(self, row: OutboxRow, report: DeliveryReport) -> None:
        msg = row.message
        key = msg.idempotency_key
        now_ms = self._now_ms()
        if row.attempts > self.retry.max_attempts and row.last_error is None:
            # Claimed that often and never an outcome recorded: its sends kill the process.
            reason = f"gave up after {row.attempts - 1} attempts without an outcome"
            self._fail(row, reason, now_ms, report)
            return
        rate_key: str | None = None
        slot = now_ms
        if msg.kind == "slack":
            rate_key = SlackChannel.rate_key(msg)
            slot = self.slack_limit.reserve(rate_key, now_ms)
            if slot > now_ms:
                # Not sent now, so the slot is not used: the next claim of it reserves again.
                self.slack_limit.release(rate_key, slot)
                self.outbox.defer(row.id, self.owner, slot, now_ms)
                report.deferred.append(key)
                log.debug("outbox: deferred %s %s to %d (rate limit)", msg.channel, key, slot)
                return
        try:
            try:
                self.channel_for(msg).send(msg)
            finally:
                if rate_key is not None:
                    # Space from the end of this request, not from its reservation: a slow
                    # request must not let the next one arrive less than an interval later.
                    self.slack_limit.block(rate_key, self._now_ms() + self.slack_limit.interval_ms)
        except RetryableDelivery as exc:
            exc = RetryableDelivery(self.redact(exc.message) or "", exc.retry_after_s)
            if rate_key is not None and exc.retry_after_s is not None:
                self.slack_limit.block(rate_key, now_ms + round(exc.retry_after_s * 1000))
            self._retry(row, exc, report)
            return
        except PermanentDelivery as exc:
            self._fail(row, self.redact(exc.message) or "", self._now_ms(), report)
            return
        except Exception as exc:  # a bug in a channel must not stop the other deliveries
            # No traceback: its frames' text may quote a URL or key.
            log.error(
                "outbox: channel %s crashed on %s: %s: %s",
                msg.channel,
                key,
                type(exc).__name__,
                self.redact(str(exc)),
            )
            self._retry(row, RetryableDelivery(f"internal error: {type(exc).__name__}"), report)
            return
        done_ms = self._now_ms()
        self.outbox.mark_delivered(row.id, self.owner, done_ms)
        self.stats.delivered((done_ms - row.created_ms) / 1000)
        report.delivered.append(key)
        log.info(
            "outbox: delivered %s %s %s (attempt %d)", msg.channel, msg.action, key, row.attempts
        )
        self._resolve_channel_failing(msg.channel, done_ms)

    def _retry(self, row: OutboxRow, exc: RetryableDelivery, report: DeliveryReport) -> None:
        msg = row.message
        now_ms = self._now_ms()
        reason = self._give_up_reason(row, now_ms)
        if reason is not None:
            self._fail(row, f"{reason}: {exc.message}", now_ms, report)
            return
        wait = full_jitter_ms(
            row.attempts, self.retry.base_backoff, self.retry.max_backoff, self.rng
        )
        if exc.retry_after_s is not None:
            wait = max(wait, round(exc.retry_after_s * 1000))
        # The last attempt is made at the deadline, not skipped because a backoff overshot it.
        next_at = min(now_ms + wait, row.created_ms + self.retry.give_up_after)
        wait = next_at - now_ms
        self.outbox.mark_retry(row.id, self.owner, next_at, exc.message, now_ms)
        report.retried.append(msg.idempotency_key)
        report.errors[msg.idempotency_key] = exc.message
        log.warning(
            "outbox: retry %s %s in %.1fs (attempt %d, gives up %.0fs after enqueue): %s",
            msg.channel,
            msg.idempotency_key,
            wait / 1000,
            row.attempts,
            self.retry.give_up_after / 1000,
            exc.message,
        )

    def _fail(self, row: OutboxRow, reason: str, now_ms: int, report: DeliveryReport) -> None:
        msg = row.message
        reason = self.redact(reason) or ""
        if not self.outbox.mark_failed(row.id, self.owner, reason, now_ms):
            return  # lost the lease meanwhile: the new holder decides
        self.stats.failed(msg.channel)
        report.failed.append(msg.idempotency_key)
        report.errors[msg.idempotency_key] = reason
        log.error("outbox: failed %s %s: %s", msg.channel, msg.idempotency_key, reason)
        try:
            self.raise_channel_failing(msg, reason, now_ms)
        except Exception as exc:  # the failure is stored; the alert is best effort
            log.error("outbox: channel-failing alert not queued: %s", type(exc).__name__)

    # ------------------------------------------------------------- channel failing
    def _transport(self, channel: str) -> str:
        """What a channel's deliveries go through: one SMTP server for every e-mail target, one
        SNS service, the pager webhook for phone/SMS; otherwise its own endpoint."""
        kind = channel.split(":", 1)[0]
        if kind in ("email", "sns"):
            return kind
        if kind in PAGER_KINDS and self.settings.pager:
            return f"webhook:{self.settings.pager}"
        return channel

    def _others(self, channel: str) -> list[str]:
        """Configured channels that do not share ``channel``'s transport (it is failing)."""
        failing = self._transport(channel)
        return [c for c in configured_channels(self.settings) if self._transport(c) != failing]

    def raise_channel_failing(
        self, failed: OutboundMessage, reason: str, now_ms: int
    ) -> list[OutboundMessage]:
        """Queue a P1 "notification channel failing" to every other configured channel.

        Idempotent per outage: the key carries the channel's last delivery before the outage
        (0 if it never delivered), so the 2nd..nth message failing in the same outage queues
        nothing new.  Returns the messages queued now.
        """
        channel = failed.channel
        since = self.outbox.last_delivered_ms(channel) or 0
        dedup = f"{CHANNEL_FAILING}|{channel}|{since}"
        when = datetime.fromtimestamp(now_ms / 1000, UTC)
        last_ok = (
            iso_utc(datetime.fromtimestamp(since / 1000, UTC)) if since else "never (since start)"
        )
        details = {
            "rule": "notification_channel_failing",
            "subject": channel,
            "title": "Notification channel failing",
            "channel": channel,
            "evidence": [
                f"{channel}: {reason}",
                f"not delivered: {failed.summary}",
                f"last delivery through {channel}: {last_ok}",
            ],
            "response": [
                f"Check {channel}'s receiver and credentials "
                f"(kafkaops outbox list --status failed --channel {channel})",
                "After the fix: kafkaops outbox retry <id> for messages that still matter",
            ],
            "failed_message": failed.idempotency_key,
        }
        summary = f"[P1] notification channel {channel} failing: {failed.summary}"
        messages = [
            OutboundMessage(
                idempotency_key=f"{dedup}|trigger|via:{other}",
                channel=other,
                action="trigger",
                dedup_key=dedup,
                severity="P1",
                cluster=failed.cluster,
                summary=" ".join(summary.split())[:300],
                details=details,
                created_at=iso_utc(when),
            )
            for other in self._others(channel)
        ]
        added = self.outbox.enqueue(messages, now_ms) if messages else 0
        self._watch_failing.add(channel)
        self._queued_alerts = self._queued_alerts or added > 0
        if added:
            log.error(
                "outbox: channel %s failing; P1 queued to %s",
                channel,
                ", ".join(m.channel for m in messages),
            )
        elif not messages:
            log.error("outbox: channel %s failing and no other channel is configured", channel)
        return messages

    def _resolve_channel_failing(self, channel: str, now_ms: int) -> None:
        """After a delivery through ``channel``: resolve its open channel-failing alerts.

        Looked up once per channel per process, then only after this dispatcher raised one,
        so a healthy channel costs no query per delivery.
        """
        if channel in self._checked and channel not in self._watch_failing:
            return
        self._checked.add(channel)
        self._watch_failing.discard(channel)
        try:
            rows = self.outbox.by_dedup_prefix(f"{CHANNEL_FAILING}|{channel}|")
            open_alerts: dict[str, list[OutboxRow]] = {}
            resolved = {r.message.dedup_key for r in rows if r.message.action == "resolve"}
            for r in rows:
                if r.message.action == "trigger" and r.message.dedup_key not in resolved:
                    open_alerts.setdefault(r.message.dedup_key, []).append(r)
            when = iso_utc(datetime.fromtimestamp(now_ms / 1000, UTC))
            messages = [
                OutboundMessage(
                    idempotency_key=f"{dedup}|resolve|via:{r.message.channel}",
                    channel=r.message.channel,
                    action="resolve",
                    dedup_key=dedup,
                    severity="P1",
                    cluster=r.message.cluster,
                    summary=f"RESOLVED [P1] notification channel {channel} delivers again",
                    details={**r.message.details, "kind": "resolved", "at": when},
                    created_at=when,
                )
                for dedup, triggers in open_alerts.items()
                for r in triggers
            ]
            if messages and self.outbox.enqueue(messages, now_ms):
                self._queued_alerts = True
                log.info("outbox: channel %s delivers again; resolve queued", channel)
        except Exception as exc:  # best effort, like raising
            log.error("outbox: channel-failing resolve not queued: %s", type(exc).__name__)
