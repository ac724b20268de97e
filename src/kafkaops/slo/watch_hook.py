"""The SLO part of a watch cycle: record the cycle's verdict, return the burn-rate findings.

Called by the leader only (one writer per store), after a cycle that produced a health report
(a good collection, or the P0 ``cluster_offline`` report).  A cycle without a report (a failed
collection below the offline threshold, an evaluation failure) records nothing: that time is
*unknown*.  A store failure is logged and yields no findings — the SLO must never stop the
health cycle that pages for the outage itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime

from kafkaops.core.model import ClusterSnapshot, Finding, HealthReport
from kafkaops.slo.settings import SloSettings
from kafkaops.slo.sli import burn_findings, verdict_for
from kafkaops.slo.store import SloStore, Verdict
from kafkaops.store.lease import Fence, LeaseLost

log = logging.getLogger(__name__)

_lock = threading.Lock()
_stores: dict[str, SloStore] = {}
_pruned: dict[str, float] = {}
PRUNE_EVERY_S = 3600.0
#: (cluster, sli) → [observed seconds, bad seconds] since the process started: the counters
#: ``/metrics`` exposes for Prometheus SLO tools (Sloth, Pyrra: errors / total as rates).
_seconds: dict[tuple[str, str], list[float]] = {}
#: (store URL, cluster) → the verdicts of the longest burn window, oldest first: read from the
#: store once (a restart keeps its history), then appended to — not 2,000 rows read per cycle.
_recent: dict[tuple[str, str], list[Verdict]] = {}


def sli_seconds() -> dict[tuple[str, str], tuple[float, float]]:
    """``(cluster, sli) → (observed s, bad s)`` counted by this process (leader only)."""
    with _lock:
        return {k: (v[0], v[1]) for k, v in _seconds.items()}


def _count(cluster: str, verdict: Verdict) -> None:
    with _lock:
        for sli, state in (("availability", verdict.available), ("freshness", verdict.fresh)):
            if state is None:
                continue
            c = _seconds.setdefault((cluster, sli), [0.0, 0.0])
            c[0] += verdict.span_ms / 1000
            c[1] += 0.0 if state else verdict.span_ms / 1000


def _store(url: str) -> SloStore:
    with _lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = SloStore(url)
        return store


def slo_cycle(
    store_url: str | None,
    settings: SloSettings,
    cluster: str,
    now: datetime,
    interval_ms: int,
    report: HealthReport,
    snapshot: ClusterSnapshot | None,
    *,
    back_cycles: int = 0,
    canary: Sequence[Finding] | None = None,
    fence: Fence | None = None,
) -> list[Finding]:
    """Record this cycle's verdict at ``now``; the burn-rate findings over the stored history.

    ``back_cycles``: the verdict also stands for that many cycles before ``now`` (the failed
    collections before the P0 ``cluster_offline``: the outage began with the first of them).
    ``canary``: this cycle's canary findings when a round ran (see :func:`verdict_for`).
    ``fence``: the cluster lease's check for the verdict's write; :class:`LeaseLost` is the one
    store failure raised (the loop must stop acting for the cluster), every other is logged.
    """
    if not store_url or not settings.enabled:
        return []
    try:
        store = _store(store_url)
        now_ms = int(now.timestamp() * 1000)
        start_ms = now_ms - back_cycles * interval_ms
        span_ms = (back_cycles + 1) * interval_ms
        verdict = verdict_for(report, snapshot, settings, start_ms, span_ms, canary)
        longest = max((w.long for w in settings.burn_windows), default=0)
        key = (store_url, cluster)
        with _lock:
            recent = _recent.get(key)
        if recent is None:
            recent = store.verdicts(cluster, now_ms - longest, now_ms, lead_ms=60_000)
        store.record(cluster, verdict, fence=fence)
        _count(cluster, verdict)
        recent.append(verdict)
        cut = now_ms - longest - 60_000
        drop = next((i for i, v in enumerate(recent) if v.ts_ms >= cut), len(recent))
        del recent[:drop]
        with _lock:
            _recent[key] = recent
        verdicts = recent
        mono = time.monotonic()
        if mono - _pruned.get(store_url, -PRUNE_EVERY_S) >= PRUNE_EVERY_S:
            _pruned[store_url] = mono
            store.prune(now_ms)
        return burn_findings(verdicts, now_ms + interval_ms, settings)
    except LeaseLost:
        raise
    except Exception as exc:  # never let the SLO break the health cycle
        log.warning("slo for %s: %s: %s", cluster, type(exc).__name__, exc)
        return []


def forget(cluster: str) -> None:
    """Drop ``cluster``'s cached verdicts: this instance stopped watching it (per-cluster
    sharing).  Another instance records its verdicts meanwhile, so if the cluster comes back
    the burn windows must be read from the store again, not continued from a stale list."""
    with _lock:
        for key in [k for k in _recent if k[1] == cluster]:
            del _recent[key]


def close_all() -> None:
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
        _pruned.clear()
        _seconds.clear()
        _recent.clear()
