"""The capacity part of a watch cycle: record the snapshot's capacity sample, and the
``disk_full_forecast`` findings for the incident engine (recomputed at most hourly).

The watch loop calls :func:`capacity_cycle` for the leader only (one writer per store, as for
history).  A store failure is logged and yields no findings: capacity must never stop the
health cycle that pages for an outage.
"""

from __future__ import annotations

import logging
import threading

from kafkaops.capacity.check import CapacityCheck
from kafkaops.capacity.settings import CapacitySettings
from kafkaops.capacity.store import CapacityStore, record_capacity_sample
from kafkaops.model import ClusterSnapshot, Finding

log = logging.getLogger(__name__)

_lock = threading.Lock()
_stores: dict[str, CapacityStore] = {}
_checks: dict[tuple[str, CapacitySettings], CapacityCheck] = {}


def _store(url: str) -> CapacityStore:
    with _lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = CapacityStore(url)
        return store


def capacity_cycle(
    store_url: str | None, settings: CapacitySettings, snapshot: ClusterSnapshot
) -> list[Finding]:
    """Record, then the (cached) forecast findings; ``[]`` without a store or on error."""
    if not store_url:
        return []
    try:
        store = _store(store_url)
        record_capacity_sample(store, snapshot)
        with _lock:
            check = _checks.setdefault((store_url, settings), CapacityCheck(settings))
        return check.findings(store, snapshot.cluster_name)
    except Exception as exc:  # never let capacity break the health cycle
        log.warning("capacity for %s: %s", snapshot.cluster_name, exc)
        return []


def close_all() -> None:
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
        _checks.clear()
