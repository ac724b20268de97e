"""API errors as ``{"error": "..."}``: 4xx for anything the caller got wrong, never a traceback.

Why handlers for everything: FastAPI's defaults answer ``{"detail": [...]}`` (422) for bad
input and a bare text 500 for a bug; a runbook's ``curl … | jq .error`` and a dashboard showing
the message both need one shape.  Bad input is always a 4xx (the schemathesis test fails on any
5xx); a kafkaops error (store or cluster unavailable) is a 503 the next request may survive; a
genuine bug stays an honest 500, logged with its type only (its text may hold a store URL).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kafkaops.core.errors import KafkaopsError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the API answers with ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = " ".join(message.split())
        self.headers = headers


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    """``query.problem: Input should be 'offline', …`` for the first problem."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    if first.get("loc", ("",))[0] == "body" and where == "request":
        where = "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the same JSON shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail) if exc.detail else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such endpoint (see /docs)"
        elif exc.status_code == 405:
            message = "method not allowed on this endpoint (see /docs)"
        return error_response(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(KafkaopsError)
    async def _kafkaops(_: Request, exc: KafkaopsError) -> JSONResponse:
        return error_response(503, exc.message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        log.debug("request failure", exc_info=True)
        return error_response(500, f"internal error ({type(exc).__name__}); see the service log")
