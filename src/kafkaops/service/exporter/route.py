"""``GET /metrics``: content negotiation (gzip) over :class:`~.cache.Exporter`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from kafkaops.service.auth import require_read
from kafkaops.service.exporter.cache import Exporter


def accepts_gzip(accept_encoding: str) -> bool:
    """``gzip`` listed in Accept-Encoding and not refused with ``q=0``."""
    for item in accept_encoding.lower().split(","):
        name, _, params = item.partition(";")
        if name.strip() in ("gzip", "x-gzip"):
            q = params.replace(" ", "")
            return not (q.startswith("q=0") and q.strip("q=0.") == "")
    return False


def metrics_router(exporter: Exporter) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/metrics",
        tags=["metrics"],
        response_class=Response,
        dependencies=[Depends(require_read)],
        responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}, "description": "metrics"}},
    )
    async def metrics(request: Request) -> Response:
        """Prometheus exposition format (text 0.0.4); names in docs/metrics.md.  Gzipped when
        the client accepts it (Prometheus does)."""
        gzip = accepts_gzip(request.headers.get("accept-encoding", ""))
        headers = {"Vary": "Accept-Encoding"} | ({"Content-Encoding": "gzip"} if gzip else {})
        # The usual scrape copies the per-cycle bytes (milliseconds): done on the event loop,
        # it needs no thread-pool hop, each hop being a wait for the GIL behind the watch loop.
        # A scrape that must render (seconds) goes to the thread pool so it blocks no one.
        if exporter.must_render():
            body = await run_in_threadpool(exporter.render, gzip=gzip)
        else:
            body = exporter.render(gzip=gzip)
        return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4, headers=headers)

    return router
