"""The web dashboard: one HTML page plus static ES modules, served by ``kafkaops serve``.

No build step and no CDN: the page (``templates/dashboard.html``) loads ``/static/js/*.js``
(plain ES modules) and the vendored uPlot chart library (``static/vendor/uplot``), and reads
everything else from the JSON API under ``/api`` of the same process.  A Content-Security-Policy
of ``'self'`` makes "served locally" a property the browser enforces, not a promise.

Wiring (in ``create_app``)::

    app.include_router(ui.router)
    app.mount(ui.STATIC_URL, ui.static_files(), name="static")

``include_router`` does not carry ``Mount`` routes over, hence the separate ``mount``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from kafkaops import __version__

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATE = HERE / "templates" / "dashboard.html"
STATIC_URL = "/static"

#: Everything from this origin; uPlot sets element styles, hence 'unsafe-inline' for styles only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

#: The vendored Swagger UI (static/vendor/swagger-ui/VERSION says how to update it).
SWAGGER_UI_VERSION = "5.35.0"

_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

#: ``/docs``: FastAPI's default page loads Swagger UI from a CDN and starts it with an inline
#: script; this one loads the vendored copy and ``static/js/docs.js``, under the same CSP.
DOCS_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kafkaops API</title>
<link rel="stylesheet" href="{STATIC_URL}/vendor/swagger-ui/swagger-ui.css?v={SWAGGER_UI_VERSION}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{STATIC_URL}/vendor/swagger-ui/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}"></script>
<script src="{STATIC_URL}/js/docs.js?v={__version__}"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


def render_page() -> str:
    """The dashboard HTML, with the version stamped into asset URLs (cache busting)."""
    return TEMPLATE.read_text(encoding="utf-8").replace("{{version}}", __version__)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard() -> HTMLResponse:
    return HTMLResponse(render_page(), headers=_PAGE_HEADERS)


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
def api_docs() -> HTMLResponse:
    """Swagger UI for ``/openapi.json``, every byte from this process."""
    return HTMLResponse(DOCS_PAGE, headers=_PAGE_HEADERS)


@router.get("/dashboard", include_in_schema=False)
def dashboard_alias() -> RedirectResponse:
    return RedirectResponse("/", status_code=307)


class _StaticFiles(StaticFiles):
    """StaticFiles that makes browsers revalidate (ETag) so an upgrade is seen at once."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def static_files() -> StaticFiles:
    """The ``/static`` app: the package's ``static/`` directory, nothing else."""
    return _StaticFiles(directory=STATIC_DIR, follow_symlink=False)
