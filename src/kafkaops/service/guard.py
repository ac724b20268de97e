"""Request guards that run before any route: the Host, the token before the body, a body cap.

Why a raw ASGI middleware and not a FastAPI dependency: FastAPI reads (and parses) a route's
body *before* it resolves the route's dependencies, so a 400 MB POST to
``/api/incidents/x/ack`` without a token was buffered whole before the 401.  Here the token of a
mutating request (any method but GET/HEAD/OPTIONS) is checked from the headers alone, and a
body is refused with 413 when its ``Content-Length`` says it is too big, or as soon as a
streamed (chunked) body grows past ``service.max_body``.  Nothing is read that is not needed:
uvicorn stops reading the socket once its small buffer is full, so memory stays bounded.

Also here, because they concern every route alike:

* the ``Host`` header must name this service (DNS rebinding: a page on ``evil.example`` whose
  name is re-pointed at 127.0.0.1 would otherwise read the API from the victim's browser).
  Allowed: any IP literal (rebinding needs a *name*), ``localhost``, the bind address and
  ``service.allowed_hosts`` (``*.example.com`` matches sub-domains); anything else is 403;
* ``HEAD`` is answered for every ``GET`` route (load balancers probe ``HEAD /health``):
  the route runs as ``GET`` and its body is dropped.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.security import HTTPAuthorizationCredentials

from kafkaops.service.auth import check_token
from kafkaops.service.errors import ApiError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Methods that never change anything; every other method needs the token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _BodyTooLarge(Exception):
    """A streamed body passed the cap (raised from ``receive``, caught by the guard)."""


class RequestGuard:
    """ASGI middleware: 401/403 for a mutating request without a valid token, 413 for a body
    over ``max_body`` — both answered before the body is read."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int = 64 * 1024,
        allowed_hosts: tuple[str, ...] | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body
        #: None: no Host check (an app built without settings, e.g. a unit test's).
        self.allowed_hosts = (
            None if allowed_hosts is None else tuple(h.lower() for h in allowed_hosts)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", ())}
        host = headers.get(b"host")
        if host is not None and not self.host_allowed(host.decode("latin-1")):
            await _answer(
                send,
                403,
                f"Host {host.decode('latin-1')[:100]!r} is not this service; "
                "add the name to service.allowed_hosts",
            )
            return
        if scope["method"] == "HEAD":
            await self.app({**scope, "method": "GET"}, receive, _without_body(send))
            return
        if scope["method"] not in SAFE_METHODS:
            denied = _token_error(scope, headers.get(b"authorization"))
            if denied is not None:
                await _answer(send, denied.status, denied.message, denied.headers)
                return
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _answer(send, 400, "Content-Length is not a number")
                return
            if declared > self.max_body:
                await _answer(send, 413, self._too_large())
                return
        seen = 0
        over = False  # the streamed body passed the cap
        answered = False  # a response (the app's or our 413) has started

        async def capped_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    over = not answered  # after a response started, let it finish as it is
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # FastAPI turns an error while reading the body into its own 400: once the cap is
            # passed, whatever the app answers is replaced by the 413 that explains why.
            nonlocal answered
            if over:
                if not answered:
                    answered = True
                    await _answer(send, 413, self._too_large())
                return
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        with contextlib.suppress(_BodyTooLarge):  # answered below, or by guarded_send
            await self.app(scope, capped_receive, guarded_send)
        if over and not answered:
            await _answer(send, 413, self._too_large())

    def host_allowed(self, host: str) -> bool:
        """Is ``host`` (a Host header, maybe with a port) a name of this service?"""
        if self.allowed_hosts is None:
            return True
        name = host.strip().lower()
        if name.startswith("["):  # [::1]:8080
            name = name[1 : name.find("]")] if "]" in name else name
        elif name.count(":") == 1:
            name = name.rsplit(":", 1)[0]
        name = name.rstrip(".")
        try:
            ipaddress.ip_address(name)
        except ValueError:
            pass
        else:
            return True
        for allowed in self.allowed_hosts:
            if name == allowed or (allowed.startswith("*.") and name.endswith(allowed[1:])):
                return True
        return False

    def _too_large(self) -> str:
        return f"request body over {self.max_body} bytes (service.max_body)"


def _token_error(scope: Scope, authorization: bytes | None) -> ApiError | None:
    """The error a mutating request gets for its Authorization header, or None if it is good."""
    app = scope.get("app")
    state = getattr(getattr(app, "state", None), "service", None)
    if state is None:  # no service state (not our app): leave it to the routes
        return None
    credentials = None
    if authorization:
        scheme, _, value = authorization.decode("latin-1").partition(" ")
        credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=value.strip())
    try:
        check_token(state, credentials)
    except ApiError as exc:
        return exc
    return None


def _without_body(send: Send) -> Send:
    """``send`` for a HEAD answered by a GET route: headers as they are, body bytes dropped."""

    async def head_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return head_send


async def _answer(
    send: Send, status: int, message: str, headers: dict[str, str] | None = None
) -> None:
    """A complete ``{"error": …}`` response; ``Connection: close`` as the body was not read."""
    body = json.dumps({"error": message}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
