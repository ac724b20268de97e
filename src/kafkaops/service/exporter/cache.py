"""Render the per-cycle families once per change and serve them as bytes (gzipped once).

Why a cache: the snapshot families change once per cycle but are scraped by every Prometheus
replica and dashboard; a scrape must never wait for (or repeat) a render of a big cluster.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import generate_latest

from kafkaops.core.gc_policy import PAUSES
from kafkaops.service.exporter.catalogue import LiveCollector, SnapshotFamilies
from kafkaops.service.exporter.gc_pauses import GcPauseCollector
from kafkaops.service.exporter.render import Family
from kafkaops.service.state import ServiceState

log = logging.getLogger(__name__)

#: process_* (CPU, RSS, open fds, start time) and python_info of this service, as every
#: Prometheus client exposes them; a private registry so tests' in-process apps do not collide.
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=PROCESS_REGISTRY)
PlatformCollector(registry=PROCESS_REGISTRY)
GCCollector(registry=PROCESS_REGISTRY)
PROCESS_REGISTRY.register(GcPauseCollector(PAUSES))


class SnapshotRenderer:
    """Families derived from the last snapshot and report of every cluster (once per cycle)."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state

    def render(self) -> bytes:
        return b"".join(self.chunks())

    def chunks(self) -> Iterator[bytes]:
        """The page family by family, each family's lines dropped once written: a
        20,000-partition cluster's page is ~30 MB of text, and holding its lines, the joined
        text and the encoded bytes at once was ~100 MB of peak RSS per render."""
        for fam in self.families():
            yield fam.text().encode("utf-8")
            fam.clear()

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


#: How long the live families (loop counters, incidents, outbox, process) of one scrape are
#: reused by the next.  They cost two store queries and a /proc read; Prometheus scrapes every
#: 15-60 s and never notices, while four scrapers at once (bench/README.md) share one read.
LIVE_TTL_S = 1.0


class Exporter:
    """Renders the per-cycle families once per change and serves them as bytes.

    Only the *compressed* page is kept (~1 MB at 20,000 partitions, instead of ~30 MB of
    text): Prometheus asks for gzip; a client that does not gets the text inflated from it.
    """

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self._renderer = SnapshotRenderer(state)
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._gzip: GzipHead | None = None
        self._stale_since: float | None = None
        self.render_seconds = 0.0
        #: (monotonic time, live families' bytes) of the last scrape, and the gzip page
        #: finished with exactly those bytes on exactly the current head.
        self._live: tuple[float, bytes] | None = None
        #: 0 re-reads the live families on every scrape (tests that assert a value the
        #: instant after they change it).
        self.live_ttl_s = LIVE_TTL_S
        self._gzipped: tuple[GzipHead, bytes, bytes] | None = None

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

    def refresh(self) -> GzipHead:
        """Re-render if the watcher has new facts; cheap when nothing changed."""
        key = self._current_key()
        head = self._gzip
        if head is not None and self._unchanged(key):
            return head
        with self._lock:
            if self._gzip is None or not self._unchanged(key):
                started = time.perf_counter()
                self._gzip = GzipHead(self._renderer.chunks())
                self.render_seconds = time.perf_counter() - started
                self._key = key
                self._stale_since = None
            return self._gzip

    def _scrape_head(self) -> GzipHead:
        """The per-cycle page for a scrape, which never waits for a render in progress.

        The loop thread re-renders right after each cycle (``refresh``); on a big cluster that
        takes seconds.  A scrape that waited on the lock meanwhile was the whole /metrics p99
        (bench/README.md, "Service load and soak"), so scrapes serve the previous page until
        the new one is ready.  A scrape renders itself only when there is no page yet, or the
        loop has not refreshed a changed view for three intervals (at least 60 s): a render
        that failed in the loop is retried by the next scrape after that.
        """
        head = self._gzip
        if head is None or self.must_render():
            return self.refresh()
        return head

    def must_render(self) -> bool:
        """Whether the next scrape has to render (seconds of CPU) instead of copying bytes.

        True only with no body yet, or a changed view the loop has left unrendered for three
        intervals (at least 60 s).  The route serves every other scrape on the event loop
        itself: no thread-pool hop, so no GIL hand-over behind the busy watch loop.
        """
        key = self._current_key()
        if self._gzip is None:
            return True
        if self._unchanged(key):
            return False
        now = time.monotonic()
        if self._stale_since is None:
            self._stale_since = now
        return now - self._stale_since >= max(3 * self.state.interval_s, 60.0)

    def render(self, *, gzip: bool = False) -> bytes:
        """The page; ``gzip``: as one gzip stream (the per-cycle part compressed once)."""
        head = self._scrape_head()
        live = self._live_families()
        if not gzip:
            return head.plain() + live
        done = self._gzipped
        if done is not None and done[0] is head and done[1] is live:
            return done[2]
        page = head.finish(live)
        self._gzipped = (head, live, page)
        return page

    def _live_families(self) -> bytes:
        """The live families, re-read at most every :attr:`live_ttl_s` seconds."""
        now = time.monotonic()
        cached = self._live
        if cached is not None and now - cached[0] < self.live_ttl_s:
            return cached[1]
        live = generate_latest(LiveCollector(self.state, self.render_seconds))
        live += generate_latest(PROCESS_REGISTRY)
        self._live = (now, live)
        return live


class GzipHead:
    """The per-cycle page compressed once, its gzip stream left open for each scrape's tail.

    Prometheus asks for ``Accept-Encoding: gzip``; the page of a 20,000-partition cluster is
    ~30 MB of text and ~1 MB gzipped (level 1, once per cycle, fed family by family so the
    text never exists whole).  A copy of the open compressor finishes one valid gzip member
    with the live families, so clients that read only the first member of a stream (Python's
    ``zlib`` decoders) get the whole page.  The head ends with a sync flush, so it inflates on
    its own to the exact text (:meth:`plain`) for a client that does not accept gzip.
    """

    __slots__ = ("_z", "head", "size")

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._z = zlib.compressobj(1, zlib.DEFLATED, 31)
        parts: list[bytes] = []
        self.size = 0
        for chunk in chunks:
            parts.append(self._z.compress(chunk))
            self.size += len(chunk)
        parts.append(self._z.flush(zlib.Z_SYNC_FLUSH))
        self.head = b"".join(parts)

    def finish(self, tail: bytes) -> bytes:
        z = self._z.copy()
        return self.head + z.compress(tail) + z.flush()

    def plain(self) -> bytes:
        """The per-cycle text itself (inflated: ~0.1 s at 30 MB; rare clients only)."""
        return zlib.decompressobj(31).decompress(self.head)
