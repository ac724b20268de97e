"""The capacity part of a watch cycle: record a capacity sample (log dirs and brokers at most
once a minute, topics hourly), roll up and trim raw samples hourly, and return the
``disk_full_forecast`` findings for the incident engine (recomputed at most hourly).

The watch loop calls :func:`capacity_cycle` for the leader only (one writer per store, as for
history).  A store failure is logged and yields no findings: capacity must never stop the
health cycle that pages for an outage.
"""

from __future__ import annotations

import logging
import threading
import time

from kafkaops.capacity.check import CapacityCheck
from kafkaops.capacity.settings import CapacitySettings
from kafkaops.capacity.store import CapacityStore, record_capacity_sample
from kafkaops.core.model import ClusterSnapshot, Finding
from kafkaops.store.lease import Fence, LeaseLost

log = logging.getLogger(__name__)

_lock = threading.Lock()
_stores: dict[str, CapacityStore] = {}
_checks: dict[tuple[str, CapacitySettings], CapacityCheck] = {}
_compacted: dict[str, float] = {}
_sampled: dict[tuple[str, str], float] = {}
_topics_sampled: dict[tuple[str, str], float] = {}
#: Log dirs and brokers are sampled at most once a minute (a day's peak needs no more), topics
#: hourly (thousands of rows on a big cluster; the bytes-in rate is better over an hour).
SAMPLE_EVERY_S = 60.0
TOPICS_EVERY_S = 3600.0
#: Raw capacity samples are rolled up and old ones dropped at most this often per store.
COMPACT_EVERY_S = 3600.0


def _store(url: str) -> CapacityStore:
    with _lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = CapacityStore(url)
        return store


def capacity_cycle(
    store_url: str | None,
    settings: CapacitySettings,
    snapshot: ClusterSnapshot,
    fence: Fence | None = None,
) -> list[Finding]:
    """Record, then the (cached) forecast findings; ``[]`` without a store or on error.

    ``fence``: the cluster lease's check for the sample's write; :class:`LeaseLost` is raised
    (the loop stops acting for the cluster), every other failure only logged."""
    if not store_url:
        return []
    try:
        store = _store(store_url)
        now = time.monotonic()
        key = (store_url, snapshot.cluster_name)
        if now - _sampled.get(key, -SAMPLE_EVERY_S) >= SAMPLE_EVERY_S:
            _sampled[key] = now
            topics = now - _topics_sampled.get(key, -TOPICS_EVERY_S) >= TOPICS_EVERY_S
            if topics:
                _topics_sampled[key] = now
            record_capacity_sample(store, snapshot, topics=topics, fence=fence)
        if now - _compacted.get(store_url, -COMPACT_EVERY_S) >= COMPACT_EVERY_S:
            _compacted[store_url] = now
            store.compact()
        with _lock:
            check = _checks.setdefault((store_url, settings), CapacityCheck(settings))
        return check.findings(store, snapshot.cluster_name)
    except LeaseLost:
        raise
    except Exception as exc:  # never let capacity break the health cycle
        log.warning("capacity for %s: %s", snapshot.cluster_name, exc)
        return []


def close_all() -> None:
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
        _checks.clear()
        _compacted.clear()
        _sampled.clear()
        _topics_sampled.clear()
