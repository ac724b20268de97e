"""Bearer-token checks: mutating endpoints always, read endpoints when ``protect_reads`` is set.

Why these rules: acknowledging an incident stops escalation, so an unauthenticated ack is a way
to silence a P0.  Without a configured token the mutating endpoints are refused (403) rather
than left open; the message says how to set one.  The comparison is constant-time
(:func:`hmac.compare_digest`), and neither the token nor the presented value is ever logged.
"""

from __future__ import annotations

import hmac

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kafkaops.service.errors import ApiError
from kafkaops.service.state import ServiceState

#: ``auto_error=False``: a missing header is answered by us, as JSON with a clear message.
bearer = HTTPBearer(auto_error=False, description="The service.token_env / token_file token.")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


def check_token(state: ServiceState, credentials: HTTPAuthorizationCredentials | None) -> None:
    """Raise 403 when no token is configured, 401 when the request's is missing or wrong."""
    if state.token is None:
        env = state.config.service.token_env or "KAFKAOPS_API_TOKEN"
        raise ApiError(
            403,
            "this endpoint needs an API token and none is configured: set the environment "
            f"variable {env} (service.token_env) or service.token_file and restart kafkaops serve",
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "missing 'Authorization: Bearer <token>' header", _CHALLENGE)
    given = credentials.credentials.encode("utf-8", "surrogateescape")
    expected = state.token.get_secret_value().encode("utf-8")
    if not hmac.compare_digest(given, expected):
        raise ApiError(401, "invalid API token", _CHALLENGE)


async def require_write(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Security(bearer),
) -> ServiceState:
    """Dependency of mutating endpoints: the token, always.  ``async``: a few microseconds of
    work, so it runs on the event loop instead of costing a thread-pool hop per request."""
    state = service_state(request)
    check_token(state, credentials)
    return state


async def require_read(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Security(bearer),
) -> ServiceState:
    """Dependency of read endpoints: the token only when ``service.protect_reads`` is set."""
    state = service_state(request)
    if state.config.service.protect_reads:
        check_token(state, credentials)
    return state
