"""The two ways a delivery can fail, as the outbox needs to tell them apart.

Why only two: the dispatcher must decide one thing per failure - try again later, or stop and
record why.  A channel knows its protocol (HTTP 429 vs 400, SMTP 4xx vs 5xx, AWS throttling vs
NotFound) and maps it to one of these; the dispatcher knows nothing about protocols.

Messages must never contain a secret: no routing key, no webhook URL (a Slack webhook URL *is*
its credential), no password.  Channels raise these ``from None`` so a chained exception from
the HTTP/SMTP library (which may quote the URL) does not end up in a traceback either.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """Base class: one line, safe to log and to store in the outbox."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class RetryableDelivery(DeliveryError):
    """Try again later: 429, 5xx, timeouts, connection errors, SMTP 4xx, AWS throttling.

    ``retry_after_s`` is the receiver's own hint (HTTP ``Retry-After``); when given the
    dispatcher waits at least that long instead of its computed backoff.
    """

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentDelivery(DeliveryError):
    """Do not retry: the receiver refused the message (4xx) or the configuration is wrong.

    Retrying a 400 only repeats the refusal; the message is marked failed with this reason so
    an operator sees it in ``outbox list failed``.
    """
