"""Clusters spread over several instances on one store: membership, assignment, fenced leases.

Why (issue 17): with one leader lease for everything, the leader collects and judges every
cluster and the other instances only wait; tens of clusters outgrow one process.  With
``watch.sharing: per_cluster`` each cluster has its own lease and exactly one instance watches
it (collects, judges, pages); the others do not even collect it.

How one cycle decides what this instance watches (:meth:`ClusterSharing.assign`):

1. heartbeat this instance's membership row; read the live members (unexpired rows);
2. for every cluster, the desired owner is the rendezvous-hash winner over the live members,
   with at most ``ceil(clusters / members)`` clusters each (:func:`kafkaops.store.members.
   balanced`): every instance computes the same answer from the same config and membership,
   and a join or leave moves few clusters (mostly the ones that member wins or held);
3. acquire (or renew) the lease ``cluster:<name>`` of every cluster this instance is the desired
   owner of; release the ones it holds but is no longer desired for (a new instance joined).

Between cycles a heartbeat thread renews the membership and every held cluster lease every
:attr:`ClusterSharing.beat_every_s`, so a term can be as short as one interval without a slow
cycle losing it; the thread stops renewing when the loop has not made progress for three
intervals (a hung loop must not keep its clusters).  A killed instance stops renewing: its rows
expire after :attr:`ttl_s` (one interval) and the desired owner under the new membership takes
the lease at its next cycle - within two intervals of the kill.  A new instance gets its clusters
within about one interval: the old owner releases them at its next cycle, the new one takes them
at its following one.

Fencing: every lease term has an epoch (:mod:`kafkaops.store.lease`); :meth:`guard` gives every
write of a cluster's cycle (incident state, history, SLO verdicts, capacity samples, automatic
actions and the incident updates they queue) a check that runs inside that write's transaction,
so an owner paused past its term (GC, SIGSTOP, a frozen VM) writes nothing when it wakes after a
takeover.  Rejected writes are counted per cluster and write (:attr:`ClusterSharing.fenced`,
``/metrics``); the loop then forgets the cluster until :meth:`assign` acquires it again.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from kafkaops.core.clock import utc_now
from kafkaops.store.lease import Fence, LeaseInfo, LeaseLost, Leases
from kafkaops.store.members import Members, balanced

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

#: Lease names of clusters: ``cluster:<name>``.
CLUSTER_LEASE_PREFIX = "cluster:"
#: History retention and outbox pruning run on one instance: whoever holds this lease.
HOUSEKEEPING_LEASE = "kafkaops-housekeeping"


def instance_id() -> str:
    """Host, pid and a random suffix: unique even when a pid is reused after a restart."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class ClusterSharing:
    """One instance's view of who watches which cluster; see the module docstring."""

    leases: Leases
    members: Members
    interval_s: float
    instance: str = field(default_factory=instance_id)
    clock: Callable[[], datetime] = utc_now
    #: Clusters this instance holds the lease of, with the term's epoch.
    owned: dict[str, int] = field(init=False, default_factory=dict)
    #: The live members seen by the last :meth:`assign` (for logs and the API).
    live: list[str] = field(init=False, default_factory=list)
    #: Writes the fencing check rejected since start, by ``(cluster, write)`` (``/metrics``).
    fenced: dict[tuple[str, str], int] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _beat: threading.Thread | None = field(init=False, default=None)
    _progress: float = field(init=False, default_factory=time.monotonic)

    @property
    def ttl_s(self) -> float:
        """A term (lease and membership): half an interval, at least 2 s, at most one interval.

        A dead instance's clusters move when its term has run out and the new owner's next
        cycle comes: at most term + interval after the kill, so 1.5 intervals (2 at intervals
        under 4 s), inside the promised two even when the kill falls just after a heartbeat.
        Not shorter than 2 s: a loaded host or a slow database round trip must not lose terms
        (the heartbeat renews five times per term)."""
        return min(max(self.interval_s / 2, 2.0), max(self.interval_s, 1.0))

    @property
    def beat_every_s(self) -> float:
        """Heartbeat period: several per term, so one slow database round trip loses nothing."""
        return min(max(self.ttl_s / 5, 0.2), 5.0)

    @staticmethod
    def lease_name(cluster: str) -> str:
        return f"{CLUSTER_LEASE_PREFIX}{cluster}"

    # ------------------------------------------------------------------ per cycle
    def assign(self, clusters: Sequence[str], now: datetime) -> dict[str, int]:
        """Heartbeat, compute the desired owners, take/release leases; returns what we own."""
        self.progress()
        self.members.heartbeat(self.instance, self.ttl_s, now)
        live = self.members.live(now)
        if self.instance not in live:  # our own heartbeat just now: the read may predate it
            live = sorted({*live, self.instance})
        owned: dict[str, int] = {}
        desired = balanced(clusters, live)
        for cluster in clusters:
            name = self.lease_name(cluster)
            if desired.get(cluster) == self.instance:
                epoch = self.leases.acquire(name, self.instance, self.ttl_s, now)
                if epoch is not None:
                    owned[cluster] = epoch
            elif cluster in self.owned:
                self.leases.release(name, self.instance)
                log.info("cluster %s: handed over (another instance is its owner now)", cluster)
        with self._lock:
            gained = sorted(set(owned) - set(self.owned))
            self.owned, self.live = owned, live
        if gained:
            log.info("now watching %s (%d live instances)", ", ".join(gained), len(live))
        return dict(owned)

    def lost(self, cluster: str) -> None:
        """Forget ``cluster`` after the fencing check failed (another instance owns it)."""
        with self._lock:
            self.owned.pop(cluster, None)

    def guard(self, cluster: str, now: datetime, write: str = "incident") -> Fence:
        """The fencing check for one write of ``cluster``'s cycle, in the term held now.

        ``write`` names the write for the rejection counter (incident, history, slo, capacity,
        action).  Not owned (any more): every call rejects, so a cycle that lost the cluster
        midway cannot write through a fresh guard either.
        """
        with self._lock:
            epoch = self.owned.get(cluster)
        name, leases, owner = self.lease_name(cluster), self.leases, self.instance

        def check(conn: Connection) -> None:
            try:
                if epoch is None:
                    raise LeaseLost(f"lease {name} is not held by {owner}")
                leases.check_held(conn, name, owner, epoch, now)
            except LeaseLost:
                with self._lock:
                    key = (cluster, write)
                    self.fenced[key] = self.fenced.get(key, 0) + 1
                raise

        return check

    def fenced_writes(self) -> dict[tuple[str, str], int]:
        """A copy of :attr:`fenced` (read by ``/metrics`` while the loop writes)."""
        with self._lock:
            return dict(self.fenced)

    def epochs(self) -> dict[str, int]:
        """The clusters held now with their terms' epochs (a copy, for ``/metrics``)."""
        with self._lock:
            return dict(self.owned)

    def housekeeping_turn(self, now: datetime) -> bool:
        """Whether this instance is the one that runs housekeeping (its own lease)."""
        ttl = max(3 * self.interval_s, 30.0)
        return self.leases.try_acquire(HOUSEKEEPING_LEASE, self.instance, ttl, now)

    def owners(self, now: datetime) -> dict[str, LeaseInfo]:
        """Every cluster lease by cluster name (live or expired), from the store."""
        found = self.leases.holders(CLUSTER_LEASE_PREFIX, now)
        return {name.removeprefix(CLUSTER_LEASE_PREFIX): info for name, info in found.items()}

    # ------------------------------------------------------------------ heartbeat
    def progress(self) -> None:
        """The loop is alive (called at every cycle and between cycles)."""
        self._progress = time.monotonic()

    def start(self) -> None:
        """Start the heartbeat thread (the watch loop does; single cycles in tests do not)."""
        if self._beat is not None:
            return
        self._stop.clear()
        self._beat = threading.Thread(
            target=self._heartbeat, name="kafkaops-heartbeat", daemon=True
        )
        self._beat.start()

    def beat(self, now: datetime) -> None:
        """One heartbeat: membership and every held cluster lease extended by a term."""
        self.members.heartbeat(self.instance, self.ttl_s, now)
        self.leases.renew_held(self.instance, CLUSTER_LEASE_PREFIX, self.ttl_s, now)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.beat_every_s):
            if time.monotonic() - self._progress > 3 * self.interval_s:
                continue  # a hung loop must not keep its clusters: let the terms run out
            try:
                self.beat(self.clock())
            except Exception as exc:  # the next beat tries again; terms are several beats
                log.warning("heartbeat failed: %s: %s", type(exc).__name__, exc)

    def stop(self, *, leave: bool = True) -> None:
        """Stop the heartbeat; ``leave``: release every lease and the membership row now, so
        the others take over at their next cycle instead of after a term."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=10)
            self._beat = None
        if not leave:
            return
        with self._lock:
            owned, self.owned = dict(self.owned), {}
        try:
            for cluster in sorted(owned):
                self.leases.release(self.lease_name(cluster), self.instance)
            self.leases.release(HOUSEKEEPING_LEASE, self.instance)
            self.members.leave(self.instance)
        except Exception as exc:  # best effort on the way out: the terms expire anyway
            log.warning("could not leave cleanly: %s", type(exc).__name__)
