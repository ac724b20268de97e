"""What every channel implements, and the shared HTTP plumbing.

A channel is an object with ``send(msg) -> None``.  It either returns (the receiver accepted
the message) or raises :class:`RetryableDelivery` / :class:`PermanentDelivery`.  Channels hold
configuration, never resolved secrets: secrets are read inside ``send`` and dropped after it.

HTTP status mapping (all HTTP channels): 2xx accepted; 408, 425, 429 and 5xx retryable (429's
``Retry-After`` is passed on); any other status permanent.  Timeouts and connection errors are
retryable.  Redirects are not followed: a webhook that redirects is misconfigured, and
following it would send a signed body somewhere unintended.

httpx logs every request at INFO with the full URL ("HTTP Request: POST https://hooks.slack.com/
services/T…/B…/secret").  A Slack webhook URL is a credential, so those records are dropped
by a filter on the ``httpx`` logger (installed on import of this module).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from kafkaops.core.clock import utc_now
from kafkaops.notify.errors import PermanentDelivery, RetryableDelivery
from kafkaops.notify.message import OutboundMessage
from kafkaops.notify.redact import redact, url_parts

RETRYABLE_STATUS = frozenset({408, 425, 429})
#: Longest body excerpt quoted in an error (receivers sometimes echo the request back).
_BODY_EXCERPT = 200


class Channel(Protocol):
    """One delivery mechanism (PagerDuty, Slack, …)."""

    def send(self, msg: OutboundMessage) -> None: ...


class _DropRequestLines(logging.Filter):
    """Drop httpx's per-request INFO lines: they contain the (secret) URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("HTTP Request:")


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(f, _DropRequestLines) for f in _httpx_logger.filters):
    _httpx_logger.addFilter(_DropRequestLines())


def make_client(timeout_s: float) -> httpx.Client:
    """One client per dispatcher: connection reuse, explicit timeouts, no redirects.

    ``trust_env``: corporate networks reach PagerDuty / Slack only through a proxy, so
    ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` and ``NO_PROXY`` are honoured (and
    ``SSL_CERT_FILE`` for a TLS-inspecting proxy's CA).  httpx 0.28 reads no .netrc unless asked.
    """
    timeout = httpx.Timeout(connect=timeout_s, read=timeout_s, write=timeout_s, pool=timeout_s)
    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=True)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date; ``None`` if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or utc_now())).total_seconds())


def _excerpt(text: str, secrets: Iterable[str]) -> str:
    """The start of a receiver's answer, secrets removed *before* it is cut (a secret cut in
    half at the end would not match any more)."""
    text = " ".join(redact(text, secrets).split())
    return text[:_BODY_EXCERPT] + ("…" if len(text) > _BODY_EXCERPT else "")


def post_json(
    client: httpx.Client,
    url: str,
    name: str,
    *,
    json_body: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    secrets: Iterable[str] = (),
    url_is_secret: bool = True,
) -> httpx.Response:
    """POST and map the outcome to success / Retryable / Permanent.

    ``name`` is what errors call the receiver (``slack:#ops-critical``): never the URL, which
    may be a secret.  Library exceptions are re-raised ``from None`` for the same reason.
    ``secrets``: what the request carried (routing key, HMAC secret); they and the URL's parts
    are redacted from every error text, since receivers and proxies may echo the request.
    ``url_is_secret=False`` (PagerDuty's and Alertmanager's public endpoints) keeps paths such
    as ``/v2/enqueue`` readable in errors.
    """
    hidden = {*secrets, *(url_parts(url) if url_is_secret else ())}
    try:
        if content is not None:
            response = client.post(url, content=content, headers=headers)
        else:
            response = client.post(url, json=json_body, headers=headers)
    except httpx.TimeoutException as exc:
        raise RetryableDelivery(f"{name}: timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        text = redact(str(exc), hidden)
        raise RetryableDelivery(f"{name}: {type(exc).__name__}: {text}") from None
    except httpx.InvalidURL:
        raise PermanentDelivery(f"{name}: the configured URL is not valid") from None
    except httpx.UnsupportedProtocol:
        raise PermanentDelivery(f"{name}: the configured URL has no http(s) scheme") from None
    status = response.status_code
    if 200 <= status < 300:
        return response
    body = _excerpt(response.text, hidden)
    if status in RETRYABLE_STATUS or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise RetryableDelivery(f"{name}: HTTP {status} {body}".strip(), retry_after)
    if 300 <= status < 400:
        raise PermanentDelivery(f"{name}: HTTP {status} redirect (not followed; fix the URL)")
    raise PermanentDelivery(f"{name}: HTTP {status} {body}".strip())
