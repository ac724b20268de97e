"""Generic JSON webhook, with an optional HMAC-SHA256 signature.

Body: :meth:`OutboundMessage.to_json` (sorted keys, compact).  Headers:

* ``X-Kafkaops-Idempotency-Key`` - drop a duplicate by it (delivery is at least once);
* ``X-Kafkaops-Timestamp`` - Unix seconds when signed;
* ``<signature_header>: sha256=<hex>`` - HMAC-SHA256 with the shared secret over
  ``<timestamp>.<body>``.  The timestamp is signed so a captured request cannot be replayed
  later; receivers should refuse timestamps older than a few minutes.  :func:`verify` is the
  reference implementation for receivers.

The same channel delivers ``phone``/``sms`` pages to the configured pager gateway.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import httpx

from kafkaops.notify.channels.base import post_json
from kafkaops.notify.errors import PermanentDelivery
from kafkaops.notify.message import OutboundMessage
from kafkaops.notify.secrets import read_secret
from kafkaops.notify.settings import WebhookSettings

IDEMPOTENCY_HEADER = "X-Kafkaops-Idempotency-Key"
TIMESTAMP_HEADER = "X-Kafkaops-Timestamp"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``<timestamp>.<body>``."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    max_age_s: float = 300,
    now: float | None = None,
) -> bool:
    """Receiver side: signature matches (constant-time) and the timestamp is recent."""
    try:
        age = (time.time() if now is None else now) - float(timestamp)
    except ValueError:
        return False
    if abs(age) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookChannel:
    """POSTs the message JSON to one named webhook."""

    def __init__(
        self,
        name: str,
        settings: WebhookSettings,
        client: httpx.Client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.settings = settings
        self.client = client
        self.clock = clock

    def __repr__(self) -> str:
        return f"WebhookChannel(name={self.name!r})"

    def _url(self) -> str:
        s = self.settings
        if s.url:
            return s.url
        if s.url_env or s.url_file:
            field = f"channels.webhooks.{self.name}.url"
            return read_secret(s.url_env, s.url_file, field).get_secret_value()
        raise PermanentDelivery(f"channels.webhooks.{self.name}: no url, url_env or url_file")

    def send(self, msg: OutboundMessage) -> None:
        url = self._url()
        body = msg.to_json().encode()
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: msg.idempotency_key}
        s = self.settings
        hidden: tuple[str, ...] = ()
        if s.secret_env or s.secret_file:
            secret = read_secret(
                s.secret_env, s.secret_file, f"channels.webhooks.{self.name}.secret"
            ).get_secret_value()
            hidden = (secret,)
            timestamp = str(int(self.clock()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[s.signature_header] = sign(secret.encode(), timestamp, body)
        # The URL counts as secret even when inline: its path or query may carry a token.
        post_json(
            self.client,
            url,
            f"webhook:{self.name}",
            content=body,
            headers=headers,
            secrets=hidden,
        )
