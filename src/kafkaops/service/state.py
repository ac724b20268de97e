"""What the HTTP side of ``kafkaops serve`` reads: the watcher's latest facts and loop statistics.

Why a separate object: request handlers (uvicorn's event loop) and the watch loop (a thread)
share data.  The watcher only ever *replaces* ``last_snapshot``/``last_report`` references, which
is atomic in CPython, so readers take a reference and work on an immutable snapshot; the few
counters the service keeps itself (cycles, errors, durations) are guarded by ``lock``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from kafkaops.core.clock import utc_now
from kafkaops.core.errors import ConfigError
from kafkaops.service.errors import ApiError

if TYPE_CHECKING:
    from kafkaops.config import Config
    from kafkaops.config.service import ServiceSettings
    from kafkaops.core.model import ClusterSnapshot, HealthReport
    from kafkaops.lag.status import GroupStatus
    from kafkaops.pipeline.runtime import Runtime
    from kafkaops.pipeline.watch import ClusterState, CycleOutcome, Watcher
    from kafkaops.store.history import HistoryStore


#: Below this many bytes a token can be guessed or brute-forced over the network: warn.
MIN_TOKEN_BYTES = 16


def token_warning(token: SecretStr | None, source: str) -> str | None:
    """A start-up warning for a short token (never showing it), or None."""
    if token is None:
        return None
    size = len(token.get_secret_value().encode("utf-8"))
    if size >= MIN_TOKEN_BYTES:
        return None
    return (
        f"the API token from {source} is only {size} bytes: use at least {MIN_TOKEN_BYTES} "
        "random bytes (e.g. openssl rand -hex 32); a short token can be guessed"
    )


def load_token(settings: ServiceSettings) -> tuple[SecretStr | None, str]:
    """The API token and where it came from (for messages; never the value).

    The variable wins over the file.  A configured file that cannot be read is a start-up error:
    the operator meant to protect the API and must not get one that silently refuses everything.
    """
    if settings.token_env and os.environ.get(settings.token_env, "").strip():
        return SecretStr(os.environ[settings.token_env].strip()), f"${settings.token_env}"
    if settings.token_file is not None:
        path = settings.token_file.expanduser()
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(
                f"config error: service.token_file: cannot read {path}: {why}"
            ) from None
        if not value:
            raise ConfigError(f"config error: service.token_file: {path} is empty")
        return SecretStr(value), str(path)
    return None, ""


@dataclass
class LoopStats:
    """Per-cluster loop counters for ``/health`` and ``/metrics``."""

    cycles: int = 0
    errors: int = 0
    last_at: datetime | None = None
    last_duration_s: float | None = None
    #: The last cycle's wall time by phase (``ClusterOutcome.phases``).
    last_phases: tuple[tuple[str, float], ...] = ()


@dataclass
class ServiceState:
    """Shared by every request handler, the exporter and the scheduler."""

    config: Config
    watcher: Watcher
    runtime: Runtime
    store_url: str
    token: SecretStr | None = None
    #: ``$KAFKAOPS_API_TOKEN`` or the file path: what the 403 message tells the operator.
    token_source: str = ""
    started_at: datetime = field(default_factory=utc_now)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stats: dict[str, LoopStats] = field(default_factory=dict)
    #: Reports whether the watch loop thread is running (set by the server).
    loop_alive: Callable[[], bool] = lambda: True
    #: The daily/weekly job scheduler (:class:`kafkaops.service.jobs.Scheduler`); typed loosely
    #: because the scheduler holds this state, and a type-only import back would be a cycle.
    scheduler: Any = None
    _history: HistoryStore | None = field(default=None, repr=False)
    _statuses: dict[str, tuple[Any, dict[str, GroupStatus]]] = field(
        default_factory=dict, repr=False
    )
    _status_locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _bodies: dict[tuple[str, str], tuple[tuple[Any, ...], bytes]] = field(
        default_factory=dict, repr=False
    )
    _body_locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name in self.watcher.states:
            self.stats.setdefault(name, LoopStats())

    # ------------------------------------------------------------------ the loop
    def record_cycle(self, outcome: CycleOutcome) -> None:
        """The watcher's ``on_cycle`` hook: count cycles, failures and durations."""
        with self.lock:
            for c in outcome.clusters:
                st = self.stats.setdefault(c.cluster, LoopStats())
                st.cycles += 1
                st.errors += 0 if c.reachable else 1
                st.last_at = outcome.at
                st.last_duration_s = c.duration_s
                st.last_phases = c.phases
            # The per-cycle caches hold what their bodies were made from (the snapshot, the
            # report): left in place, one old snapshot per cached kind stays alive until the
            # next request of that kind, tens of MiB each at 20,000 partitions.
            cycled = {c.cluster for c in outcome.clusters}
            self._bodies = {k: v for k, v in self._bodies.items() if k[0] not in cycled}
            for name in cycled:
                self._statuses.pop(name, None)

    def loop_stats(self, name: str) -> LoopStats:
        with self.lock:
            st = self.stats.get(name) or LoopStats()
            return LoopStats(st.cycles, st.errors, st.last_at, st.last_duration_s, st.last_phases)

    # --------------------------------------------------------------- accessors
    @property
    def interval_s(self) -> float:
        return float(self.watcher.interval_s)

    def cluster_names(self) -> list[str]:
        return sorted(self.watcher.states)

    def cluster(self, name: str) -> ClusterState:
        state = self.watcher.states.get(name)
        if state is None:
            known = ", ".join(self.cluster_names()) or "none"
            raise ApiError(404, f"no cluster {name!r} (watched: {known})")
        return state

    def snapshot(self, name: str) -> ClusterSnapshot:
        """The last good snapshot, or 503 while the first collection is still pending."""
        state = self.cluster(name)
        snap = state.last_snapshot
        if snap is None:
            why = f": {state.last_error}" if state.last_error else " (first collection pending)"
            raise ApiError(503, f"no snapshot of cluster {name!r} yet{why}", {"Retry-After": "10"})
        return snap

    def report(self, name: str) -> HealthReport:
        state = self.cluster(name)
        report = state.last_report
        if report is None:
            why = f": {state.last_error}" if state.last_error else " (first collection pending)"
            raise ApiError(
                503, f"no health report for cluster {name!r} yet{why}", {"Retry-After": "10"}
            )
        return report

    def history(self) -> HistoryStore:
        """The history store (same database as the incidents), opened once."""
        with self.lock:
            if self._history is None:
                from kafkaops.pipeline.health import open_history

                self._history = open_history(self.store_url)
            return self._history

    def statuses(self, name: str) -> dict[str, GroupStatus]:
        """Consumer statuses for the current snapshot, evaluated at most once per snapshot.

        The watcher's own evaluation is used when it belongs to the current snapshot; otherwise
        (a standby, which records no history) they are read from the store once, under a
        per-cluster lock so concurrent requests wait for one evaluation instead of each doing
        their own (on 2,000 groups that is seconds).  Empty when the snapshot was not recorded.
        """
        snap = self.snapshot(name)
        observed = self.cluster(name).last_statuses
        if observed is not None and observed[0] is snap:
            return observed[1]
        with self.lock:
            cluster_lock = self._status_locks.setdefault(name, threading.Lock())
        with cluster_lock:
            with self.lock:
                cached = self._statuses.get(name)
                if cached is not None and cached[0] is snap:
                    return cached[1]
            from kafkaops.lag.observe import evaluate_statuses

            result = evaluate_statuses(self.history(), snap, lag=self.config.lag)
            with self.lock:
                self._statuses[name] = (snap, result)
            return result

    def cached_body(
        self, name: str, kind: str, key: tuple[Any, ...], make: Callable[[], bytes]
    ) -> bytes:
        """A response body made once per ``key`` (the snapshot or report it is built from,
        compared by identity, plus plain parameters compared by value).

        Concurrent requests for a body not made yet wait for one maker (a single flight):
        after each cycle, four clients used to build the 2,000-group document four times at
        once — four times the CPU, and four times the transient memory that glibc and
        Python's allocator then keep (bench/README.md, "Session 10").
        """
        with self.lock:
            hit = self._bodies.get((name, kind))
            if hit is not None and _same(hit[0], key):
                return hit[1]
            maker = self._body_locks.setdefault((name, kind), threading.Lock())
        with maker:
            with self.lock:
                hit = self._bodies.get((name, kind))
            if hit is not None and _same(hit[0], key):
                return hit[1]
            body = make()
            with self.lock:
                self._bodies[(name, kind)] = (key, body)
            return body

    def close(self) -> None:
        with self.lock:
            if self._history is not None:
                self._history.close()
                self._history = None


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """The first element (a snapshot or report) by identity, the rest by value."""
    return len(a) == len(b) and a[0] is b[0] and a[1:] == b[1:]
