"""Deliver due outbox messages through their channels; retry, rate-limit, give up with a reason.

One :class:`Dispatcher` per process (or thread): ``deliver_due(now)`` claims a batch, sends each
message, and records the outcome.  Several dispatchers may share one PostgreSQL outbox; the
claim guarantees a message is handled by one of them at a time (see :mod:`.outbox`).

Outcomes per message:

* sent → ``delivered``;
* :class:`RetryableDelivery` → retried at ``now + backoff`` (exponential, full jitter) or at
  ``now + Retry-After`` when the receiver said so - unless attempts or age are used up, then
  ``failed`` with "gave up after N attempts / age: <last error>";
* :class:`PermanentDelivery` (4xx, bad config) → ``failed`` at once: a 400 does not improve;
* Slack over its per-webhook rate (1 msg/s) → deferred to the webhook's next free slot without
  counting an attempt, so other channels are not held up behind Slack.

Backoff is a 5-line function instead of tenacity: tenacity's waits are built around its own
retry loop (``RetryCallState``), while here the "loop" spans processes and restarts through the
database; the formula (AWS "full jitter") is all that is needed, with an injectable RNG so
tests are deterministic.

Clock and sleep are injected, so tests drive time instead of sleeping through backoffs.
Logs: one line per delivery, retry or failure - channel, key, attempts, reason; never secrets
(channels' errors are written not to contain any).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from kafkaops.core.clock import utc_now
from kafkaops.notify.channels.alertmanager import AlertmanagerChannel
from kafkaops.notify.channels.base import Channel, make_client
from kafkaops.notify.channels.pagerduty import PagerDutyChannel
from kafkaops.notify.channels.slack import SlackChannel
from kafkaops.notify.channels.smtp import EmailChannel
from kafkaops.notify.channels.sns import SnsChannel
from kafkaops.notify.channels.webhook import WebhookChannel
from kafkaops.notify.errors import PermanentDelivery, RetryableDelivery
from kafkaops.notify.message import PAGER_KINDS, OutboundMessage
from kafkaops.notify.outbox import Outbox, OutboxRow, to_ms
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
            "email": lambda: EmailChannel(self.settings.email, self.settings.timeout_s),
            "sns": lambda: SnsChannel(self.settings.sns, self.settings.timeout_s),
            "alertmanager": lambda: AlertmanagerChannel(self.settings.alertmanager, self.http()),
        }
        if kind not in builders:
            raise PermanentDelivery(f"no channel implementation for kind {kind!r}")
        return self._cached(kind, builders[kind])

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
        return report

    def _now_ms(self) -> int:
        return to_ms(self.clock())

    def _give_up_reason(self, row: OutboxRow, now_ms: int) -> str | None:
        if row.attempts >= self.retry.max_attempts:
            return f"gave up after {row.attempts} attempts"
        if now_ms - row.created_ms >= self.retry.give_up_after:
            return f"gave up after {(now_ms - row.created_ms) / 1000:.0f}s (give_up_after)"
        return None

    def _deliver(self, row: OutboxRow, report: DeliveryReport) -> None:
        msg = row.message
        key = msg.idempotency_key
        now_ms = self._now_ms()
        if row.attempts > self.retry.max_attempts:
            # Claimed more often than allowed without an outcome: its sends kill the process.
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
            if rate_key is not None and exc.retry_after_s is not None:
                self.slack_limit.block(rate_key, now_ms + round(exc.retry_after_s * 1000))
            self._retry(row, exc, report)
            return
        except PermanentDelivery as exc:
            self._fail(row, exc.message, self._now_ms(), report)
            return
        except Exception as exc:  # a bug in a channel must not stop the other deliveries
            log.exception("outbox: channel %s crashed on %s", msg.channel, key)
            self._retry(row, RetryableDelivery(f"internal error: {type(exc).__name__}"), report)
            return
        done_ms = self._now_ms()
        self.outbox.mark_delivered(row.id, self.owner, done_ms)
        report.delivered.append(key)
        log.info(
            "outbox: delivered %s %s %s (attempt %d)", msg.channel, msg.action, key, row.attempts
        )

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
        next_at = now_ms + wait
        self.outbox.mark_retry(row.id, self.owner, next_at, exc.message, now_ms)
        report.retried.append(msg.idempotency_key)
        report.errors[msg.idempotency_key] = exc.message
        log.warning(
            "outbox: retry %s %s in %.1fs (attempt %d/%d): %s",
            msg.channel,
            msg.idempotency_key,
            wait / 1000,
            row.attempts,
            self.retry.max_attempts,
            exc.message,
        )

    def _fail(self, row: OutboxRow, reason: str, now_ms: int, report: DeliveryReport) -> None:
        msg = row.message
        self.outbox.mark_failed(row.id, self.owner, reason, now_ms)
        report.failed.append(msg.idempotency_key)
        report.errors[msg.idempotency_key] = reason
        log.error("outbox: failed %s %s: %s", msg.channel, msg.idempotency_key, reason)
