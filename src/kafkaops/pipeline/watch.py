"""The watch loop: collect → evaluate → incidents → notify, every N seconds, per cluster.

``kafkaops watch`` runs it in the foreground; ``kafkaops serve`` hosts the same object (behind
the API, ``/metrics`` and the scheduled checks).  One :class:`Watcher` owns, for every watched
cluster, a target (how to connect) and a count of consecutive failed collections, and shares one
store (history, incidents, outbox) and one dispatcher.

Why "unreachable for N consecutive cycles" and not at once: one lost snapshot (a GC pause, a
rolling restart of the broker we happened to ask) must not page anyone as "MSK cluster
completely offline".  Below N the cluster's alert state is simply left as it was — neither new
findings nor resolves; at N the only finding fed to the incident engine is the P0
``cluster_offline``; the first good snapshot afterwards resolves it.

Two watchers sharing one PostgreSQL store (a hot standby) must not both page: each cycle the
watcher renews a leader lease in the database and only the holder runs the incident engine and
delivers.  The standby keeps collecting (so it is warm) but writes nothing.

With ``watch.sharing: per_cluster`` (issue 17) the clusters are spread instead: each has its own
fenced lease, exactly one instance watches it and the others do not collect it at all
(:mod:`kafkaops.pipeline.sharing`).  Every instance then delivers from the shared outbox (its
rows are claimed one by one, so nothing is sent twice) and housekeeping has a lease of its own.
Every write a cluster's cycle makes (history, capacity, SLO, incident state and pages, automatic
actions and their incident updates) is fenced by that lease's epoch in its own transaction; the
first rejected one ends the cluster's cycle and the instance forgets the cluster
(:meth:`Watcher._lease_lost`) until it acquires the lease again.

Why this module is long: it is one cycle's sequence - who may write (leader lease or per-cluster
leases), collect, judge, the hooks that add findings (capacity, DR, SLO, canary), the incident
engine, delivery, housekeeping - and the loop around it, all over one piece of per-cluster state
(:class:`ClusterState`); membership and assignment themselves live in
:mod:`kafkaops.pipeline.sharing`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kafkaops.collect.probe import ClusterProbe
from kafkaops.core.clock import utc_now
from kafkaops.core.errors import ClusterUnreachable
from kafkaops.core.laps import Laps
from kafkaops.core.model import CheckStatus, ClusterSnapshot, Finding, HealthReport, Severity
from kafkaops.evaluate.findings import result
from kafkaops.lag.memory import LagMemory
from kafkaops.lag.status import GroupStatus
from kafkaops.pipeline.dr_watch import DrWatch
from kafkaops.pipeline.health import (
    Target,
    observe_lag,
    open_history,
    report_for,
    take_snapshot,
    unreachable_report,
)
from kafkaops.pipeline.sharing import ClusterSharing
from kafkaops.store.history import HistoryStore
from kafkaops.store.lease import Fence, LeaseLost

log = logging.getLogger(__name__)

#: Clusters evaluated at the same time in one cycle (each mostly waits on the network).
MAX_PARALLEL_CLUSTERS = 8
#: Name of the database lease that elects the one watcher allowed to page.
LEASE_NAME = "kafkaops-watch"
#: How often the leader applies history retention and prunes delivered notifications.
HOUSEKEEPING_EVERY = timedelta(hours=1)
#: Delivered notifications are kept this long (the row is the "already sent" record).
OUTBOX_RETENTION = timedelta(days=90)


def default_owner() -> str:
    """Who holds the lease: host and pid, so an operator can tell instances apart."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class ClusterState:
    """What the loop remembers about one cluster between cycles (in memory)."""

    target: Target
    failures: int = 0
    last_report: HealthReport | None = None
    #: The last good snapshot (partitions, groups, lag, broker metrics), for the service's API
    #: and ``/metrics``; kept while the cluster is unreachable so a dashboard shows the last
    #: known state.
    last_snapshot: ClusterSnapshot | None = None
    #: ``(snapshot, consumer statuses)`` evaluated by the last cycle (leader only: the standby
    #: records no history), paired with the snapshot they belong to so a reader can tell.
    last_statuses: tuple[ClusterSnapshot, dict[str, GroupStatus]] | None = None
    last_error: str | None = None
    #: The cluster's collectors, kept between cycles (rates need the previous sample), and
    #: the target they were built for (a changed target gets new collectors).
    probe: ClusterProbe | None = None
    probe_target: Target | None = None
    #: Recent lag history (status windows, log ends) kept in memory by the leader, so a cycle
    #: does not re-read it from the store; dropped while standby (the leader writes the store).
    lag_memory: LagMemory | None = None

    def memory_for(self, history: HistoryStore, cluster: str) -> LagMemory:
        """This cluster's lag memory on ``history``, new if the store or window changed."""
        window = self.target.config.lag.window
        memory = self.lag_memory
        if memory is None or memory.store is not history or memory.window != window:
            memory = self.lag_memory = LagMemory(history, cluster, window=window)
        return memory

    def current_probe(self) -> ClusterProbe:
        if self.probe is None or self.probe_target is not self.target:
            if self.probe is not None:
                self.probe.close()
            self.probe, self.probe_target = self.target.probe(), self.target
        return self.probe


@dataclass(frozen=True)
class ClusterOutcome:
    """One cluster's part of a cycle, for logs, the CLI's progress lines and the service."""

    cluster: str
    reachable: bool
    failures: int
    severity: Severity
    triggered: int
    #: Notifications (firing/resolved) and incident actions (pages, acks, resolves) queued
    #: in the outbox by this cycle.
    notifications: int
    actions: int
    duration_s: float
    error: str | None = None
    opened: int = 0
    escalated: int = 0
    resolved: int = 0
    #: Firing alerts held back by a maintenance window or silence, each described in words
    #: ("muted by window `daily` until 2026-12-01 04:00Z — will be sent then if still firing").
    muted: tuple[str, ...] = ()
    #: ``watch.sharing: per_cluster``: the epoch of this instance's lease on the cluster.
    epoch: int | None = None
    #: Where the cycle's time went, in order: ``collect`` (the broker requests), ``lag``
    #: (statuses and the store), ``report`` (the rules), ``extras`` (capacity, DR, SLO, canary),
    #: ``incidents`` (the engine and its outbox writes).  Seconds, wall clock.
    phases: tuple[tuple[str, float], ...] = ()

    @property
    def queued(self) -> int:
        return self.notifications + self.actions


@dataclass(frozen=True)
class CycleOutcome:
    at: datetime
    leader: bool
    clusters: tuple[ClusterOutcome, ...]
    delivered: int = 0
    failed: int = 0
    retried: int = 0
    #: Why deliveries failed or will be retried, by idempotency key (no secrets in them).
    errors: dict[str, str] = field(default_factory=dict)
    #: ``watch.sharing: per_cluster``: this instance's id and the clusters it did not watch
    #: (another instance owns them); None in the single-leader mode.
    instance: str | None = None
    elsewhere: tuple[str, ...] = ()


@dataclass
class Watcher:
    """Runs cycles over ``targets``; everything stateful lives in the store."""

    targets: Sequence[Target]
    engine: Any  # kafkaops.incidents.engine.IncidentEngine
    dispatcher: Any | None  # kafkaops.notify.dispatcher.Dispatcher
    lease: Any | None = None  # kafkaops.incidents.store.IncidentStore (leader lease)
    offline_after: int = 3
    interval_s: float = 10.0
    owner: str = field(default_factory=default_owner)
    clock: Callable[[], datetime] = utc_now
    #: ``watch.sharing: per_cluster``: per-cluster leases instead of one leader lease.
    sharing: ClusterSharing | None = None
    states: dict[str, ClusterState] = field(init=False)
    leader: bool = field(init=False, default=False)
    #: The DR pair's last verification (the configured primary's cycles carry its findings).
    dr_watch: DrWatch = field(init=False, default_factory=DrWatch)
    #: History stores by URL, kept open between cycles (engine and schema check once).
    histories: dict[str, HistoryStore] = field(init=False, default_factory=dict)
    #: When housekeeping last ran (None: never, so the first leader cycle runs it).
    last_housekeeping: datetime | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.states = {t.name: ClusterState(t) for t in self.targets}

    def close(self) -> None:
        """Release every cluster's collectors (HTTP clients of metrics sources) and stores."""
        if self.sharing is not None:
            self.sharing.stop()
        for state in self.states.values():
            if state.probe is not None:
                state.probe.close()
        for store in self.histories.values():
            store.close()
        self.histories.clear()

    def history(self, url: str) -> HistoryStore:
        """The history store on ``url``, opened once for the life of the loop."""
        store = self.histories.get(url)
        if store is None:
            store = self.histories[url] = open_history(url)
        return store

    # ------------------------------------------------------------------ one cycle
    def is_leader(self, now: datetime) -> bool:
        if self.lease is None:
            return True
        ttl = max(3 * self.interval_s, 30.0)
        return bool(self.lease.try_acquire_lease(LEASE_NAME, self.owner, ttl, now))

    def cycle(self, now: datetime | None = None) -> CycleOutcome:
        """Collect and evaluate every cluster, run the incident engine, deliver what is due.

        ``now`` is the cycle's scheduled time (the loop passes ticks exactly ``interval_s``
        apart), so a ``for: 10s`` alert fires on the second 10-second cycle, not on the second
        or third depending on how long the collections happened to take.
        """
        now = now or self.clock()
        if self.sharing is not None:
            return self._shared_cycle(self.sharing, now)
        leader = self.is_leader(now)
        outcomes = self._all_clusters(leader, now)
        self.leader = leader
        report = self.deliver()
        if leader:
            self.housekeeping(now)
        return self._outcome(leader, outcomes, report)

    def _outcome(
        self,
        leader: bool,
        outcomes: Sequence[ClusterOutcome],
        report: Any,
        elsewhere: Sequence[str] = (),
    ) -> CycleOutcome:
        return CycleOutcome(
            self.clock(),
            leader,
            tuple(outcomes),
            delivered=len(report.delivered) if report else 0,
            failed=len(report.failed) if report else 0,
            retried=len(report.retried) if report else 0,
            errors=dict(report.errors) if report else {},
            instance=self.sharing.instance if self.sharing is not None else None,
            elsewhere=tuple(elsewhere),
        )

    def _shared_cycle(self, sharing: ClusterSharing, now: datetime) -> CycleOutcome:
        """Per-cluster mode: watch only the clusters whose lease this instance holds."""
        owned = sharing.assign(sorted(self.states), now)
        for name, state in self.states.items():
            if name not in owned:
                forget(state)  # not ours (any more): no collectors, no lag memory
        names = sorted(owned)
        outcomes = self._all_clusters(True, now, names)
        # "Leader" here: pages for at least one cluster (the service's /health says so).
        self.leader = bool(sharing.owned)
        report = self.deliver()
        try:
            if sharing.housekeeping_turn(now):
                self.housekeeping(now)
        except Exception as exc:  # the next cycle tries again
            log.warning("housekeeping lease: %s: %s", type(exc).__name__, exc)
        elsewhere = [n for n in sorted(self.states) if n not in owned]
        return self._outcome(bool(owned), outcomes, report, elsewhere)

    def watched(self) -> list[str]:
        """The clusters this instance collects: all of them, unless clusters are shared."""
        if self.sharing is None:
            return sorted(self.states)
        return sorted(n for n in self.sharing.owned if n in self.states)

    def ownership(self, now: datetime | None = None) -> dict[str, tuple[str | None, int | None]]:
        """Who pages for each cluster and in which lease term, from the store (for the API).

        Per-cluster mode: the cluster's live lease; single-leader mode: the leader lease's
        holder for every cluster (no epoch).  ``(None, None)``: nobody holds it right now.
        """
        now = now or self.clock()
        if self.sharing is not None:
            found = self.sharing.owners(now)
            out: dict[str, tuple[str | None, int | None]] = {}
            for name in sorted(self.states):
                info = found.get(name)
                out[name] = (info.owner, info.epoch) if info and info.live else (None, None)
            return out
        holder = (
            self.lease.lease_holder(LEASE_NAME, now)
            if self.lease is not None
            else (self.owner if self.leader else None)
        )
        return {name: (holder, None) for name in sorted(self.states)}

    def housekeeping(self, now: datetime) -> None:
        """Hourly (leader only): history retention tiers and old delivered notifications.

        Without it a long-running loop grows its store forever: 10-second samples of every
        partition and every notification ever sent.  Failures are logged, never raised: the
        next hour tries again.
        """
        if self.last_housekeeping is not None and now - self.last_housekeeping < HOUSEKEEPING_EVERY:
            return
        self.last_housekeeping = now
        now_ms = int(now.timestamp() * 1000)
        if self.sharing is not None:
            try:
                self.sharing.members.prune(now)
            except Exception as exc:
                log.warning("membership pruning failed: %s: %s", type(exc).__name__, exc)
        for url in sorted({t.store_url for t in self.targets if t.store_url}):
            try:
                removed = self.history(url).compact(now_ms=now_ms)
                log.info("history retention: %d old samples thinned or dropped", removed)
            except Exception as exc:  # retention can wait an hour
                log.warning("history retention failed: %s: %s", type(exc).__name__, exc)
        outbox = getattr(self.dispatcher, "outbox", None)
        if outbox is not None:
            try:
                pruned = outbox.prune(now - OUTBOX_RETENTION)
                log.info("outbox: %d delivered notifications older than 90 days removed", pruned)
            except Exception as exc:
                log.warning("outbox pruning failed: %s: %s", type(exc).__name__, exc)

    def deliver(self) -> Any:
        """One delivery round (leader only; every instance when clusters are shared, the outbox
        claims each row for one of them); returns the dispatcher's report or None."""
        if self.dispatcher is None or not (self.leader or self.sharing is not None):
            return None
        report = self.dispatcher.deliver_due(self.clock())
        for key, reason in report.errors.items():
            log.warning("delivery of %s: %s", key, reason)
        return report

    def _all_clusters(
        self, leader: bool, now: datetime, only: Sequence[str] | None = None
    ) -> list[ClusterOutcome]:
        """Every cluster's cycle, concurrently and each isolated from the others.

        Why: walking clusters in turn let one slow cluster (a 30 s metadata timeout) delay
        every later cluster's page, and one exception skip them all.  Each cluster now runs in
        its own thread (they spend their time waiting on the network), and whatever one raises
        becomes that cluster's outcome, never another's.
        """
        names = sorted(self.states) if only is None else list(only)
        if len(names) <= 1:
            return [self._isolated_cycle(self.states[n], leader, now) for n in names]
        workers = min(len(names), MAX_PARALLEL_CLUSTERS)
        with ThreadPoolExecutor(workers, thread_name_prefix="kafkaops-cluster") as pool:
            futures = [
                pool.submit(self._isolated_cycle, self.states[n], leader, now) for n in names
            ]
            return [f.result() for f in futures]

    def _isolated_cycle(self, state: ClusterState, leader: bool, now: datetime) -> ClusterOutcome:
        started = time.monotonic()
        try:
            return self._cluster_cycle(state, leader, now)
        except LeaseLost as exc:  # a fenced write was rejected: nothing of it was written
            self._lease_lost(state, exc)
            return ClusterOutcome(
                cluster=state.target.name,
                reachable=True,
                failures=0,
                severity=Severity.OK,
                triggered=0,
                notifications=0,
                actions=0,
                duration_s=time.monotonic() - started,
                error=state.last_error,
            )
        except Exception as exc:  # one cluster's bug or store hiccup must not blind the others
            reason = f"{type(exc).__name__}: {exc}"
            log.error("cycle of cluster %s failed: %s", state.target.name, reason)
            log.debug("cluster cycle failure", exc_info=True)
            state.last_error = reason
            return ClusterOutcome(
                cluster=state.target.name,
                reachable=state.failures == 0,
                failures=state.failures,
                severity=Severity.P1,
                triggered=1,
                notifications=0,
                actions=0,
                duration_s=time.monotonic() - started,
                error=reason,
            )

    def _fence(self, state: ClusterState, now: datetime, write: str) -> Fence | None:
        """The lease check for one of ``state``'s writes (None: clusters are not shared)."""
        if self.sharing is None:
            return None
        return self.sharing.guard(state.target.name, now, write)

    def _lease_lost(self, state: ClusterState, exc: LeaseLost) -> None:
        """A fenced write was rejected: another instance owns the cluster (this one was paused
        or slow past its term).  Logged once per loss (the cycle ends here, and the cluster is
        not watched again before :meth:`ClusterSharing.assign` acquires its lease anew)."""
        name = state.target.name
        log.warning("cluster %s: %s; nothing written, handing it over", name, exc)
        if self.sharing is not None:
            self.sharing.lost(name)
        forget(state)
        state.last_error = f"lease lost: {exc}"

    def _cluster_cycle(self, state: ClusterState, leader: bool, now: datetime) -> ClusterOutcome:
        started = time.monotonic()
        lap = Laps(started)
        target = state.target
        report: HealthReport | None
        try:
            try:
                snapshot = take_snapshot(target, state.current_probe())
                lap("collect")
            except ClusterUnreachable:
                raise
            except Exception as exc:
                # Not "unreachable" (that has its own N-cycle rule): kafkaops itself failed to
                # collect or evaluate.  The cluster's other alerts are held as they were and a
                # P1 "blind spot" finding is added, so the failure pages like any other.
                return self._evaluation_failed(state, leader, now, exc, started)
        except ClusterUnreachable as exc:
            lap("collect")  # the time it took to give up on the brokers
            state.failures += 1
            state.last_error = str(exc)
            report = None
            if state.failures >= self.offline_after:
                report = unreachable_report(
                    target,
                    f"{exc} ({state.failures} consecutive cycles, threshold {self.offline_after})",
                )
        else:
            state.failures = 0
            state.last_error = None
            # The standby does not write history either: one writer per store.
            if leader and target.store_url:
                history = self.history(target.store_url)
                memory = state.memory_for(history, snapshot.cluster_name)
                fence = self._fence(state, now, "history")
                snapshot, statuses = observe_lag(target, snapshot, history, memory, fence)
            else:
                state.lag_memory = None  # the leader writes the store; restore when leading
                snapshot, statuses = snapshot, None
            lap("lag")
            state.last_snapshot = snapshot
            state.last_statuses = (snapshot, statuses) if statuses is not None else None
            try:
                report = report_for(target, snapshot, statuses)
            except Exception as exc:
                return self._evaluation_failed(state, leader, now, exc, started)
            lap("report")
        if report is not None:
            state.last_report = report
        # The canary first: when it ran, its round is the SLO's availability signal too.
        canary = self._canary(state)
        extra = (
            *self._capacity(state, leader, now),
            *self._dr(state, leader),
            *self._slo(state, leader, now, report, canary),
            *(canary or ()),
        )
        lap("extras")
        return self._judge(state, leader, now, report, started, extra=extra, lap=lap)

    def _dr(self, state: ClusterState, leader: bool) -> tuple[Finding, ...]:
        """The DR pair's findings on the primary's cycle (leader only; see pipeline.dr_watch)."""
        if not leader or state.failures:
            return ()
        return self.dr_watch.findings(state.target.config, state.target.name)

    def _capacity(self, state: ClusterState, leader: bool, now: datetime) -> tuple[Finding, ...]:
        """The leader records capacity samples and adds the disk-full forecast findings.

        Only after a good collection (a failed one has nothing to record); capacity problems
        never fail the health cycle (the hook returns nothing then).
        """
        if not leader or state.failures or state.last_snapshot is None:
            return ()
        from kafkaops.capacity.watch_hook import capacity_cycle

        target = state.target
        fence = self._fence(state, now, "capacity")
        cfg = target.config.capacity
        return tuple(capacity_cycle(target.store_url, cfg, state.last_snapshot, fence))

    def _slo(
        self,
        state: ClusterState,
        leader: bool,
        now: datetime,
        report: HealthReport | None,
        canary: tuple[Finding, ...] | None = None,
    ) -> tuple[Finding, ...]:
        """The leader records the cycle's SLI verdict and adds the burn-rate findings.

        No report (a failed collection below the offline threshold): nothing recorded, so that
        time counts as unknown, and no findings, so the cluster's alert state is held.
        """
        if not leader or report is None:
            return ()
        from kafkaops.slo.watch_hook import slo_cycle

        target = state.target
        snapshot = state.last_snapshot if state.failures == 0 else None
        # The first offline cycle also stands for the N-1 failed ones before it.
        back = state.failures - 1 if state.failures == self.offline_after else 0
        return tuple(
            slo_cycle(target.store_url, target.config.slo, target.name, now,
                      round(self.interval_s * 1000), report, snapshot, back_cycles=back,
                      canary=canary, fence=self._fence(state, now, "slo"))
        )  # fmt: skip

    def _canary(self, state: ClusterState) -> tuple[Finding, ...] | None:
        """The end-to-end canary's findings (``diagnose.canary.enabled``; off by default);
        None when no round ran.

        Leader and standby alike: it is a measurement, not a write to the store."""
        target = state.target
        if state.failures or not target.config.diagnose.canary.enabled:
            return None
        from kafkaops.diagnose.watch_hook import canary_cycle

        return canary_cycle(target.name, target.client_kwargs, target.config.diagnose.canary)

    def _judge(
        self,
        state: ClusterState,
        leader: bool,
        now: datetime,
        report: HealthReport | None,
        started: float,
        extra: Sequence[Finding] = (),
        lap: Laps | None = None,
    ) -> ClusterOutcome:
        """Run the incident engine on ``report`` (leader only) and describe what happened."""
        checks = (*(report.checks if report else ()), *extra)
        result = None
        epoch = None
        if leader and (report is not None or extra):
            name = state.target.name
            guard = self._fence(state, now, "incident")
            try:
                if guard is None:
                    result = self.engine.cycle(name, checks, now)
                else:
                    epoch = self.sharing.owned.get(name) if self.sharing else None
                    result = self.engine.cycle(name, checks, now, guard=guard)
            except LeaseLost as exc:
                # Another instance took the cluster over while this cycle ran (we were paused
                # or slow): nothing was written; stop watching it.
                self._lease_lost(state, exc)
                checks, epoch = (), None
            else:
                self._auto_actions(state, checks, now)
        triggered = sum(1 for f in checks if f.status == CheckStatus.TRIGGERED)
        severity = Severity.worst([f.severity for f in checks if f.status == CheckStatus.TRIGGERED])
        if lap is not None:
            lap("incidents")
        return ClusterOutcome(
            cluster=state.target.name,
            reachable=state.failures == 0,
            failures=state.failures,
            severity=severity,
            triggered=triggered,
            notifications=len(result.notifications) if result else 0,
            actions=len(result.actions) if result else 0,
            duration_s=time.monotonic() - started,
            error=state.last_error,
            opened=result.opened if result else 0,
            escalated=result.escalated if result else 0,
            resolved=result.resolved if result else 0,
            muted=tuple(m.describe() for m in result.mutes) if result else (),
            phases=lap.phases if lap is not None else (),
            epoch=epoch,
        )

    def _auto_actions(self, state: ClusterState, checks: Sequence[Finding], now: datetime) -> None:
        """The opt-in automatic actions (``actions.auto``); never fail the watch cycle."""
        if not state.target.config.actions.auto:
            return
        from kafkaops.actions.auto import auto_cycle

        try:
            fence = self._fence(state, now, "action")
            auto_cycle(state.target, self.engine, checks, now, state.last_snapshot, fence)
        except LeaseLost as exc:
            self._lease_lost(state, exc)
        except Exception as exc:
            log.error("cluster %s: automatic actions failed: %s", state.target.name, exc)

    def _evaluation_failed(
        self, state: ClusterState, leader: bool, now: datetime, exc: Exception, started: float
    ) -> ClusterOutcome:
        reason = f"{type(exc).__name__}: {exc}"
        log.error("cluster %s: collection or evaluation failed: %s", state.target.name, reason)
        log.debug("evaluation failure", exc_info=True)
        state.last_error = reason
        held = state.last_report
        held_checks = [f for f in (held.checks if held else ()) if f.rule != "watch_cycle_failed"]
        blind = result(
            "watch_cycle_failed",
            Severity.P1,
            True,
            1,
            0,
            evidence=(reason[:300],),
            source="kafkaops",
        )
        return self._judge(state, leader, now, None, started, extra=(*held_checks, blind))

    # ------------------------------------------------------------------ the loop
    def run(
        self,
        *,
        count: int | None = None,
        stop: threading.Event | None = None,
        on_cycle: Callable[[CycleOutcome], None] | None = None,
    ) -> int:
        """Cycle every ``interval_s`` until ``count`` cycles ran or ``stop`` is set.

        A cycle that raises (a store outage, a bug) is logged and the loop goes on: a watcher
        that dies quietly is worse than one that complains every cycle.  Returns cycles run.
        """
        stop = stop or threading.Event()
        done = 0
        if self.sharing is not None:
            self.sharing.start()
        grid_start, wall_start = time.monotonic(), self.clock()
        while not stop.is_set() and (count is None or done < count):
            started = time.monotonic()
            # Ticks on a fixed grid; a tick that overran is skipped, not crammed in.
            tick = max(done, round((started - grid_start) / self.interval_s))
            try:
                outcome = self.cycle(wall_start + timedelta(seconds=tick * self.interval_s))
            except Exception as exc:  # the loop must survive anything
                log.error("watch cycle failed: %s: %s", type(exc).__name__, exc)
                log.debug("watch cycle failure", exc_info=True)
            else:
                if on_cycle is not None:
                    on_cycle(outcome)
            done += 1
            if count is not None and done >= count:
                break
            next_at = grid_start + (tick + 1) * self.interval_s
            # Between collections keep the outbox moving: retries and rate-limited Slack
            # messages come due within seconds, not at the next 10-second cycle.
            while not stop.wait(min(1.0, max(0.0, next_at - time.monotonic()))):
                if self.sharing is not None:
                    self.sharing.progress()
                if time.monotonic() >= next_at:
                    break
                try:
                    self.deliver()
                except Exception as exc:  # a store hiccup: the next cycle tries again
                    log.error("delivery failed: %s: %s", type(exc).__name__, exc)
        if self.sharing is not None:
            self.sharing.stop()  # release the clusters: the others take them at once
        elif self.lease is not None:
            try:
                self.lease.release_lease(LEASE_NAME, self.owner)
            except Exception as exc:  # best effort on the way out
                log.warning("could not release the watch lease: %s", type(exc).__name__)
        return done


def forget(state: ClusterState) -> None:
    """Drop what this instance remembers about a cluster it no longer watches (per-cluster
    mode): its collectors, lag memory, SLO verdict cache and last results, which the new owner
    now keeps (and adds to: a cluster that comes back is read from the store again)."""
    from kafkaops.slo.watch_hook import forget as forget_slo

    forget_slo(state.target.name)
    if state.probe is not None:
        state.probe.close()
    state.probe = state.probe_target = None
    state.lag_memory = None
    state.failures = 0
    state.last_report = state.last_snapshot = state.last_statuses = None
    state.last_error = None
