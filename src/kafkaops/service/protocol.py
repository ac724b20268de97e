"""uvicorn's h11 protocol with a deadline for request headers (slow-header clients).

Why: uvicorn's ``timeout_keep_alive`` only runs *between* requests, and any byte received
cancels it, so a client that connects and sends its headers one byte every few seconds
(slowloris) holds a connection — and a file descriptor — for ever.  Here every connection must
deliver a complete request head within ``header_timeout`` of connecting (or of its previous
response); otherwise it is closed.  The head's size is bounded by h11's
``h11_max_incomplete_event_size`` (uvicorn's default, 16 KiB), so a fast client cannot grow it
either.  The body is bounded separately (:mod:`kafkaops.service.guard`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

#: Seconds allowed for a request head; set by :func:`protocol_class` from the settings.
DEFAULT_HEADER_TIMEOUT_S = 10.0


class HeaderTimeoutH11(H11Protocol):
    """:class:`H11Protocol` that closes connections whose request head is late."""

    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        in_request = self.cycle is not None and not self.cycle.response_complete
        if not in_request and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # a complete head arrived: the request is being served

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's head has the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def protocol_class(header_timeout_s: float) -> type[HeaderTimeoutH11]:
    """A protocol class with this header deadline (uvicorn instantiates it per connection)."""
    return type("KafkaopsH11", (HeaderTimeoutH11,), {"header_timeout_s": header_timeout_s})
