"""The FastAPI application: API routers, ``/metrics``, the dashboard and the error handlers.

``create_app`` only assembles; the state it serves (watcher, runtime, token) is built by
:mod:`kafkaops.service.server`, so tests can hand it a state of their own.
"""

from __future__ import annotations

from fastapi import FastAPI

from kafkaops import __version__
from kafkaops.service import api, api_history, api_incidents, api_reports, errors, ui
from kafkaops.service.exporter.cache import Exporter
from kafkaops.service.exporter.route import metrics_router
from kafkaops.service.guard import RequestGuard
from kafkaops.service.state import ServiceState

DESCRIPTION = """\
The kafkaops service: the runbook's checks running continuously for every configured cluster.

* `GET /health` — liveness and per-cluster loop freshness (no token, ever);
* `GET /api/clusters/{name}/health` — the runbook's `msk-health` (`jq .overall_healthy`);
* `GET /metrics` — Prometheus exposition format (names in docs/metrics.md);
* `GET /api/reports` — stored reports (weekly review, DR drill); `…/{id}/html` opens one;
* `POST /api/incidents/{id}/ack|resolve` — need `Authorization: Bearer <token>`.

Errors are `{"error": "..."}` with a 4xx status (503 while the first collection is pending).
"""


def create_app(state: ServiceState, *, bind: str | None = None) -> FastAPI:
    """The ASGI app serving ``state``; also keeps the exporter on ``app.state.exporter``.

    ``bind``: the address actually listened on (``--bind``), a name the Host check accepts.
    """
    app = FastAPI(
        title="kafkaops",
        version=__version__,
        description=DESCRIPTION,
        # /docs is served by ui (vendored Swagger UI under the dashboard's CSP); FastAPI's own
        # pages load their scripts from a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "service", "description": "Liveness and scheduled jobs."},
            {"name": "clusters", "description": "The latest snapshot and health report."},
            {"name": "consumer groups", "description": "Lag, time lag and consumer status."},
            {"name": "incidents", "description": "Incidents; ack/resolve need the token."},
            {"name": "maintenance", "description": "Maintenance windows and silences."},
            {"name": "history", "description": "Series for charts, from the store."},
            {"name": "reports", "description": "Stored reports: weekly review, DR drill, …"},
            {"name": "metrics", "description": "Prometheus exposition."},
        ],
    )
    app.state.service = state
    exporter = Exporter(state)
    app.state.exporter = exporter
    errors.install(app)
    app.include_router(api.router)
    app.include_router(api_incidents.router)
    app.include_router(api_history.router)
    app.include_router(api_reports.router)
    app.include_router(metrics_router(exporter))
    app.include_router(ui.router)
    app.mount(ui.STATIC_URL, ui.static_files(), name="static")
    # The token and the body cap are checked before a route reads any of the body.
    settings = state.config.service
    app.add_middleware(
        RequestGuard,
        max_body=settings.max_body,
        allowed_hosts=("localhost", bind or settings.bind, settings.bind, *settings.allowed_hosts),
    )
    return app
