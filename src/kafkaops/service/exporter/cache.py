"""Render the per-cycle families once per change and serve them as bytes (gzipped once).

Why a cache: the snapshot families change once per cycle but are scraped by every Prometheus
replica and dashboard; a scrape must never wait for (or repeat) a render of a big cluster.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.exposition import generate_latest

from kafkaops.service.exporter.catalogue import LiveCollector, SnapshotFamilies
from kafkaops.service.exporter.render import Family
from kafkaops.service.state import ServiceState

log = logging.getLogger(__name__)

#: process_* (CPU, RSS, open fds, start time) and python_info of this service, as every
#: Prometheus client exposes them; a private registry so tests' in-process apps do not collide.
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=PROCESS_REGISTRY)
PlatformCollector(registry=PROCESS_REGISTRY)


class SnapshotRenderer:
    """Families derived from the last snapshot and report of every cluster (once per cycle)."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state

    def render(self) -> bytes:
        return "".join(f.text() for f in self.families()).encode("utf-8")

    def families(self) -> Iterator[Family]:
        fams = SnapshotFamilies()
        for name in self.state.cluster_names():
            cs = self.state.cluster(name)
            fams.cluster(name, cs.failures, cs.last_report, cs.last_snapshot)
            snap = cs.last_snapshot
            if snap is not None:
                fams.brokers(name, snap)
                fams.topics(name, snap)
                fams.groups(name, snap, self._statuses(name))
                for source in snap.metrics:
                    fams.broker_metrics(name, source)
        yield from fams.all()

    def _statuses(self, name: str) -> dict[str, Any]:
        try:
            return self.state.statuses(name)
        except Exception as exc:  # a store hiccup must not cost the whole scrape
            log.warning("consumer status for %s unavailable: %s", name, type(exc).__name__)
            return {}


class Exporter:
    """Renders the per-cycle families once per change and serves them as bytes."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self._renderer = SnapshotRenderer(state)
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._body = b""
        self._gzip: GzipHead | None = None
        self._stale_since: float | None = None
        self.render_seconds = 0.0

    def _current_key(self) -> tuple[Any, ...]:
        """What the per-cycle families show: the watcher's current objects, compared by
        identity.  Holding the objects (not their ``id()``) means a freed snapshot's id cannot
        be reused by the next one and leave the cache stale."""
        parts: list[Any] = []
        for name in self.state.cluster_names():
            cs = self.state.cluster(name)
            parts += [name, cs.failures, cs.last_snapshot, cs.last_report]
        return tuple(parts)

    def _unchanged(self, key: tuple[Any, ...]) -> bool:
        old = self._key
        if old is None or len(old) != len(key):
            return False
        return all(
            a is b or (isinstance(a, str | int) and a == b) for a, b in zip(old, key, strict=True)
        )

    def refresh(self) -> bytes:
        """Re-render if the watcher has new facts; cheap when nothing changed."""
        key = self._current_key()
        if self._unchanged(key):
            return self._body
        with self._lock:
            if not self._unchanged(key):
                started = time.perf_counter()
                body = self._renderer.render()
                gzip = GzipHead(body)
                self.render_seconds = time.perf_counter() - started
                self._body, self._gzip, self._key = body, gzip, key
                self._stale_since = None
            return self._body

    def _scrape_body(self) -> bytes:
        """The per-cycle body for a scrape, which never waits for a render in progress.

        The loop thread re-renders right after each cycle (``refresh``); on a big cluster that
        takes seconds (10,000 partitions and 2,000 groups: ~8 s on 2 busy cores, mostly the
        consumer statuses read from the store).  A scrape that waited on the lock meanwhile was
        the whole /metrics p99 (bench/README.md, "Service load and soak"), so scrapes serve the
        previous body until the new one is ready.  A scrape renders itself only when there is
        no body yet, or the loop has not refreshed a changed view for three intervals (at least
        60 s): a render that failed in the loop is retried by the next scrape after that.
        """
        if self.must_render():
            return self.refresh()
        return self._body

    def must_render(self) -> bool:
        """Whether the next scrape has to render (seconds of CPU) instead of copying bytes.

        True only with no body yet, or a changed view the loop has left unrendered for three
        intervals (at least 60 s).  The route serves every other scrape on the event loop
        itself: no thread-pool hop, so no GIL hand-over behind the busy watch loop.
        """
        key = self._current_key()
        if not self._body:
            return True
        if self._unchanged(key):
            return False
        now = time.monotonic()
        if self._stale_since is None:
            self._stale_since = now
        return now - self._stale_since >= max(3 * self.state.interval_s, 60.0)

    def render(self, *, gzip: bool = False) -> bytes:
        """The page; ``gzip``: as one gzip stream (the per-cycle part compressed once)."""
        body = self._scrape_body()
        head = self._gzip
        live = generate_latest(LiveCollector(self.state, self.render_seconds))
        live += generate_latest(PROCESS_REGISTRY)
        if gzip and head is not None and head.body is body:
            return head.finish(live)
        if gzip:
            return zlib.compress(body + live, 1, wbits=31)
        return body + live


class GzipHead:
    """The per-cycle body compressed once, its gzip stream left open for each scrape's tail.

    Prometheus asks for ``Accept-Encoding: gzip``; the body of a 10,000-partition cluster is
    ~14 MB of text and ~0.4 MB gzipped (level 1, ~20 ms once per cycle).  Sending 14 MB per
    scrape through the event loop was most of the remaining /metrics latency.  A copy of the
    open compressor finishes one valid gzip member with the live families, so clients that
    read only the first member of a stream (Python's ``zlib`` decoders) get the whole page.
    """

    __slots__ = ("_z", "body", "head")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self._z = zlib.compressobj(1, zlib.DEFLATED, 31)
        self.head = self._z.compress(body)

    def finish(self, tail: bytes) -> bytes:
        z = self._z.copy()
        return self.head + z.compress(tail) + z.flush()
