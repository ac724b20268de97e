"""Incident store: the incident core's state, kept across restarts and shared between processes.

Why it exists: the pure core (:mod:`kafkaops.incidents`) is a fold over evaluation cycles; its
state (alert ``for`` timers, who was paged, escalation progress, what maintenance notices went
out) must survive a restart, or a restart re-pages everyone, loses half-elapsed timers and
forgets to send resolves.

SQLAlchemy Core, like :mod:`kafkaops.store.history`, so the same code serves an SQLite file and
a PostgreSQL database shared by several kafkaops processes.  Tables (all prefixed ``inc_`` so
they can share a database with the history store):

* ``inc_clusters`` — one row per cluster with a version number: the optimistic lock that makes
  two processes cycling the same cluster conflict instead of both paging;
* ``inc_alert_states`` / ``inc_sent_ledger`` — per-cluster alert states and the sent ledger,
  replaced as a whole by each cycle (small: one row per active alert);
* ``inc_incidents`` — one row per incident; its ``version`` is the length of its audit trail
  (every transition of the core appends an audit entry), used for optimistic locking so an
  ``ack`` from the CLI and an engine cycle cannot overwrite each other;
* ``inc_audit`` — append-only: rows are only ever inserted, one per audit entry, unique by
  (incident, seq);
* ``inc_notices`` — maintenance notices sent, keyed by occurrence id (idempotent ``notify``);
* ``inc_windows`` — ad-hoc/emergency windows and silences created at run time;
* ``inc_leases`` — named leader leases with an expiry (:mod:`kafkaops.store.lease`).

Times in columns are integer microseconds since the epoch (exact round trip, sortable, no
time-zone handling differences between the backends); nested data is JSON.

Why this module is long: it owns five record kinds (cluster state, alert states + ledger,
incidents + audit, windows and silences, notices) whose writes must share one transaction and
one version check; the JSON forms live in :mod:`kafkaops.incidents.codec`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from kafkaops.incidents.alerts import AlertState, ensure_utc
from kafkaops.incidents.codec import (
    alert_from_json,
    alert_to_json,
    from_us,
    incident_from_json,
    incident_to_json,
    sent_from_json,
    sent_to_json,
    to_us,
)
from kafkaops.incidents.incident import (
    AuditEntry,
    Incident,
    IncidentStatus,
)
from kafkaops.incidents.ledger import SentEntry, SentLedger
from kafkaops.incidents.silences import Silence
from kafkaops.incidents.windows import AdHocWindow
from kafkaops.store import db
from kafkaops.store.lease import Leases

metadata = MetaData()

_ID = BigInteger().with_variant(Integer, "sqlite")

inc_clusters = Table(
    "inc_clusters",
    metadata,
    Column("cluster", String(200), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("last_cycle_us", BigInteger, nullable=False),
)

inc_alert_states = Table(
    "inc_alert_states",
    metadata,
    Column("key", String(1000), primary_key=True),
    Column("cluster", String(200), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("data", JSON, nullable=False),
)

inc_sent_ledger = Table(
    "inc_sent_ledger",
    metadata,
    Column("key", String(1000), primary_key=True),
    Column("cluster", String(200), nullable=False, index=True),
    Column("data", JSON, nullable=False),
)

inc_incidents = Table(
    "inc_incidents",
    metadata,
    Column("id", String(300), primary_key=True),
    Column("cluster", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", String(4), nullable=False),
    Column("opened_us", BigInteger, nullable=False),
    Column("resolved_us", BigInteger),
    #: Length of the audit trail: the optimistic-lock version.
    Column("version", Integer, nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_inc_incidents_cluster_status", "cluster", "status"),
    Index("ix_inc_incidents_opened", "opened_us"),
)

inc_audit = Table(
    "inc_audit",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("incident_id", String(300), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(200), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    UniqueConstraint("incident_id", "seq", name="uq_inc_audit_seq"),
)

inc_notices = Table(
    "inc_notices",
    metadata,
    Column("occurrence_id", String(400), primary_key=True),
    Column("type", String(16), nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("sent_us", BigInteger, nullable=False),
    Column("payload", JSON, nullable=False),
)

inc_windows = Table(
    "inc_windows",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    #: ``maintenance`` (an AdHocWindow) or ``silence``.
    Column("kind", String(16), nullable=False),
    Column("name", String(300), nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False, index=True),
    Column("created_us", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("data", JSON, nullable=False),
)


class ConcurrentUpdateError(RuntimeError):
    """Someone else saved the same cluster state or incident since it was loaded: reload."""


# --- values the store hands out ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterState:
    """Everything one engine cycle of one cluster reads, with the version it was read at.

    ``incidents`` holds the cluster's unresolved incidents plus any incident whose id a new
    incident opened now could collide with (see :meth:`IncidentStore.load_state`).
    """

    cluster: str
    version: int
    alerts: dict[str, AlertState] = field(default_factory=dict)
    ledger: SentLedger = field(default_factory=SentLedger)
    incidents: dict[str, Incident] = field(default_factory=dict)
    last_cycle: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredWindow:
    """A window or silence created at run time, with who made it and why."""

    id: int
    window: AdHocWindow | Silence
    created_at: datetime
    created_by: str
    reason: str


@dataclass(frozen=True, slots=True)
class SentNotice:
    occurrence_id: str
    type: str
    start: datetime
    sent_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Committed:
    """What this store last committed for a cluster's alert states and ledger, at ``version``.

    Why: with thousands of firing alerts (one per lagging group on a 2,000-group cluster) the
    engine's load decoded ~13 MB of JSON every cycle and its save rewrote all of it — seconds of
    each cycle (bench/README.md).  Only :meth:`IncidentStore.save_state` writes these two tables,
    always bumping the cluster's version, so while the stored version is the one committed here
    the rows are exactly these objects and need not be read again.
    """

    version: int
    alerts: dict[str, AlertState]
    ledger: SentLedger


#: Keys per ``DELETE … WHERE key IN (…)`` (SQLite's bound-parameter limit is 32,766).
DELETE_CHUNK = 500

#: Called inside the saving transaction with its connection (e.g. to write an outbox), so the
#: state change and whatever must accompany it commit or roll back together.
TxHook = Callable[[Connection], None]


class IncidentStore:
    """Persistence for the incident engine and CLI; see the module docstring."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        # preserve_rowcount: "did my INSERT … ON CONFLICT DO NOTHING insert?" is answered by
        # rowcount, which the psycopg driver otherwise leaves at -1 for INSERTs.
        self.engine: Engine = db.acquire(url, echo=echo)
        self._committed: dict[str, _Committed] = {}
        self._committed_lock = threading.Lock()  # clusters' cycles run in parallel threads
        try:
            db.ensure_schema(self.engine, metadata)
            self.leases = Leases(self.engine)
        except BaseException:
            db.release(self.engine)
            raise

    def close(self) -> None:
        db.release(self.engine)

    def __enter__(self) -> IncidentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _insert(self, table: Table) -> Any:
        """Dialect ``INSERT`` construct (for ``ON CONFLICT DO NOTHING``)."""
        return db.insert_ignoring_conflicts(self.engine, table)

    # ------------------------------------------------------------ cluster state
    def load_state(self, cluster: str, now: datetime | None = None) -> ClusterState:
        """Alert states, sent ledger and unresolved incidents of ``cluster``.

        With ``now``, resolved incidents whose id starts with the id a new incident would get
        at ``now`` are included too, so :func:`new_incident_id` cannot reuse an id.
        """
        with self.engine.connect() as conn:
            row = conn.execute(
                select(inc_clusters).where(inc_clusters.c.cluster == cluster)
            ).first()
            with self._committed_lock:
                mine = self._committed.get(cluster)
            if mine is not None and row is not None and row.version == mine.version:
                alerts, ledger = dict(mine.alerts), mine.ledger
            else:
                alerts = {
                    r.key: alert_from_json(r.data)
                    for r in conn.execute(
                        select(inc_alert_states).where(inc_alert_states.c.cluster == cluster)
                    )
                }
                ledger = SentLedger(
                    {
                        r.key: sent_from_json(r.data)
                        for r in conn.execute(
                            select(inc_sent_ledger).where(inc_sent_ledger.c.cluster == cluster)
                        )
                    }
                )
            c = inc_incidents.c
            cond = and_(c.cluster == cluster, c.status != IncidentStatus.RESOLVED.value)
            if now is not None:
                prefix = f"{cluster}-{ensure_utc(now):%Y%m%dT%H%M%SZ}"
                cond = or_(cond, and_(c.cluster == cluster, c.id.startswith(prefix)))
            incidents = self._incidents(conn, select(inc_incidents).where(cond))
        return ClusterState(
            cluster=cluster,
            version=row.version if row else 0,
            alerts=alerts,
            ledger=ledger,
            incidents={i.id: i for i in incidents},
            last_cycle=from_us(row.last_cycle_us) if row else None,
        )

    def save_state(
        self,
        loaded: ClusterState,
        now: datetime,
        alerts: Mapping[str, AlertState],
        ledger: SentLedger,
        incidents: Iterable[Incident],
        *,
        in_tx: TxHook | None = None,
        guard: TxHook | None = None,
    ) -> int:
        """Write one cycle's result in ONE transaction; returns the new cluster version.

        ``alerts`` and ``ledger`` replace the cluster's; ``incidents`` are saved against the
        versions in ``loaded`` (incidents not in ``loaded`` must be new).  Raises
        :class:`ConcurrentUpdateError` - and writes nothing - if another writer saved this
        cluster or one of these incidents since ``loaded`` was read.  ``guard`` runs first in
        the transaction and may raise to write nothing (the cluster lease's fencing check,
        :meth:`kafkaops.store.lease.Leases.check_held`).
        """
        cluster = loaded.cluster
        with self.engine.begin() as conn:
            if guard is not None:
                guard(conn)
            self._bump_cluster(conn, cluster, loaded.version, now)
            conn.execute(delete(inc_alert_states).where(inc_alert_states.c.cluster == cluster))
            rows = [
                {"key": k, "cluster": cluster, "status": s.status.value, "data": alert_to_json(s)}
                for k, s in sorted(alerts.items())
                if s.cluster == cluster
            ]
            if rows:
                conn.execute(insert(inc_alert_states), rows)
            entries = {k: e for k, e in ledger.entries.items() if e.cluster == cluster}
            self._save_ledger(conn, cluster, loaded.ledger.entries, entries)
            for inc in incidents:
                self._save_incident(conn, inc, loaded.incidents.get(inc.id))
            if in_tx is not None:
                in_tx(conn)
        committed = _Committed(
            loaded.version + 1,
            {k: s for k, s in alerts.items() if s.cluster == cluster},
            SentLedger(entries),
        )
        with self._committed_lock:
            self._committed[cluster] = committed
        return loaded.version + 1

    def _save_ledger(
        self,
        conn: Connection,
        cluster: str,
        before: Mapping[str, SentEntry],
        after: Mapping[str, SentEntry],
    ) -> None:
        """Only the ledger rows that changed: entries live for a whole alert episode, so on a
        steady cycle nothing is written (they were all deleted and re-inserted before)."""
        stale = sorted(k for k, e in before.items() if after.get(k) != e)
        changed = sorted(k for k, e in after.items() if before.get(k) != e)
        t = inc_sent_ledger.c
        for at in range(0, len(stale), DELETE_CHUNK):
            chunk = stale[at : at + DELETE_CHUNK]
            conn.execute(delete(inc_sent_ledger).where(t.cluster == cluster, t.key.in_(chunk)))
        rows = [{"key": k, "cluster": cluster, "data": sent_to_json(after[k])} for k in changed]
        if rows:
            conn.execute(insert(inc_sent_ledger), rows)

    def _bump_cluster(self, conn: Connection, cluster: str, version: int, now: datetime) -> None:
        now_us = to_us(now)
        if version == 0:
            stmt = (
                self._insert(inc_clusters)
                .values(cluster=cluster, version=1, last_cycle_us=now_us)
                .on_conflict_do_nothing(index_elements=["cluster"])
            )
            done = conn.execute(stmt).rowcount
        else:
            done = conn.execute(
                update(inc_clusters)
                .where(and_(inc_clusters.c.cluster == cluster, inc_clusters.c.version == version))
                .values(version=version + 1, last_cycle_us=now_us)
            ).rowcount
        if done != 1:
            raise ConcurrentUpdateError(
                f"cluster {cluster}: its incident state was saved by another process meanwhile"
            )

    # --------------------------------------------------------------- incidents
    def _incidents(self, conn: Connection, query: Any) -> list[Incident]:
        rows = list(conn.execute(query))
        if not rows:
            return []
        ids = [r.id for r in rows]
        audits: dict[str, list[AuditEntry]] = {i: [] for i in ids}
        a = inc_audit.c
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            q = select(inc_audit).where(a.incident_id.in_(chunk)).order_by(a.incident_id, a.seq)
            for r in conn.execute(q):
                audits[r.incident_id].append(
                    AuditEntry(from_us(r.at_us), r.actor, r.action, r.detail or "")
                )
        return [incident_from_json(r.data, audits[r.id]) for r in rows]

    def get_incident(self, incident_id: str) -> Incident | None:
        with self.engine.connect() as conn:
            found = self._incidents(
                conn, select(inc_incidents).where(inc_incidents.c.id == incident_id)
            )
        return found[0] if found else None

    def list_incidents(
        self,
        status: IncidentStatus | str | None = None,
        cluster: str | None = None,
        limit: int = 50,
    ) -> list[Incident]:
        """Newest first.  ``status`` ``None`` (or ``"all"``) lists every status."""
        c = inc_incidents.c
        q = select(inc_incidents)
        if status is not None and str(status) != "all":
            q = q.where(c.status == IncidentStatus(status).value)
        if cluster is not None:
            q = q.where(c.cluster == cluster)
        q = q.order_by(c.opened_us.desc(), c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return self._incidents(conn, q)

    def save_incident(
        self,
        incident: Incident,
        previous: Incident | None,
        *,
        in_tx: TxHook | None = None,
        guard: TxHook | None = None,
    ) -> None:
        """Save ``incident`` as the successor of ``previous`` (``None``: a new incident).

        Only the audit entries added since ``previous`` are written (the trail is append-only).
        Raises :class:`ConcurrentUpdateError` if the stored incident is not ``previous``.
        ``guard`` runs first in the transaction, as in :meth:`save_state`.
        """
        with self.engine.begin() as conn:
            if guard is not None:
                guard(conn)
            self._save_incident(conn, incident, previous)
            if in_tx is not None:
                in_tx(conn)

    def _save_incident(self, conn: Connection, inc: Incident, previous: Incident | None) -> None:
        old_version = len(previous.audit) if previous is not None else 0
        if previous is not None and inc == previous:
            return
        if len(inc.audit) < old_version or inc.audit[:old_version] != (
            previous.audit if previous else ()
        ):
            raise ValueError(f"incident {inc.id}: the audit trail is append-only")
        values = {
            "cluster": inc.cluster,
            "status": inc.status.value,
            "severity": inc.severity.value,
            "opened_us": to_us(inc.opened_at),
            "resolved_us": to_us(inc.resolved_at) if inc.resolved_at else None,
            "version": len(inc.audit),
            "data": incident_to_json(inc),
        }
        if previous is None:
            stmt = (
                self._insert(inc_incidents)
                .values(id=inc.id, **values)
                .on_conflict_do_nothing(index_elements=["id"])
            )
        else:
            c = inc_incidents.c
            stmt = (
                update(inc_incidents)
                .where(and_(c.id == inc.id, c.version == old_version))
                .values(**values)
            )
        if conn.execute(stmt).rowcount != 1:
            raise ConcurrentUpdateError(
                f"incident {inc.id} was changed by someone else meanwhile; reload and retry"
            )
        new_entries = [
            {
                "incident_id": inc.id,
                "seq": seq,
                "at_us": to_us(e.at),
                "actor": e.actor,
                "action": e.action,
                "detail": e.detail,
            }
            for seq, e in enumerate(inc.audit)
            if seq >= old_version
        ]
        if new_entries:
            conn.execute(insert(inc_audit), new_entries)

    # ----------------------------------------------------------- windows etc.
    def add_window(
        self, window: AdHocWindow, created_by: str, now: datetime, reason: str = ""
    ) -> int:
        """Persist an ad-hoc (e.g. emergency) maintenance window; returns its row id."""
        return self._add_window("maintenance", window.name, window, created_by, now, reason)

    def add_silence(self, silence: Silence, now: datetime, reason: str = "") -> int:
        """Persist a silence; ``reason`` defaults to its comment."""
        name = f"silence by {silence.created_by}"
        return self._add_window(
            "silence", name, silence, silence.created_by, now, reason or silence.comment
        )

    def _add_window(
        self,
        kind: str,
        name: str,
        window: AdHocWindow | Silence,
        created_by: str,
        now: datetime,
        reason: str,
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(inc_windows).values(
                    kind=kind,
                    name=name,
                    start_us=to_us(window.start),
                    end_us=to_us(window.end),
                    created_us=to_us(now),
                    created_by=created_by,
                    reason=reason,
                    data=window.model_dump(mode="json"),
                )
            )
            pk = result.inserted_primary_key
            assert pk is not None
            return int(pk[0])

    def list_windows(self, ending_after: datetime | None = None) -> list[StoredWindow]:
        """Run-time windows and silences, by start; only those ending after ``ending_after``."""
        c = inc_windows.c
        q = select(inc_windows).order_by(c.start_us, c.id)
        if ending_after is not None:
            q = q.where(c.end_us > to_us(ending_after))
        out: list[StoredWindow] = []
        with self.engine.connect() as conn:
            for r in conn.execute(q):
                model = AdHocWindow if r.kind == "maintenance" else Silence
                out.append(
                    StoredWindow(
                        r.id,
                        model.model_validate(r.data),
                        from_us(r.created_us),
                        r.created_by,
                        r.reason or "",
                    )
                )
        return out

    def record_notice_sent(
        self,
        occurrence_id: str,
        notice_type: str,
        start: datetime,
        payload: Mapping[str, Any],
        now: datetime,
        *,
        in_tx: TxHook | None = None,
    ) -> bool:
        """Claim a maintenance occurrence's notice: True if this call recorded it first.

        ``INSERT … ON CONFLICT DO NOTHING`` on the occurrence id, so of two concurrent
        ``maintenance notify`` runs exactly one gets True and emits the notice.
        """
        stmt = (
            self._insert(inc_notices)
            .values(
                occurrence_id=occurrence_id,
                type=notice_type,
                start_us=to_us(start),
                sent_us=to_us(now),
                payload=dict(payload),
            )
            .on_conflict_do_nothing(index_elements=["occurrence_id"])
        )
        with self.engine.begin() as conn:
            claimed = conn.execute(stmt).rowcount == 1
            if claimed and in_tx is not None:
                in_tx(conn)
        return claimed

    def sent_notice_ids(self, occurrence_ids: Iterable[str]) -> set[str]:
        """Which of these occurrences already had their notice recorded."""
        ids = list(occurrence_ids)
        if not ids:
            return set()
        c = inc_notices.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.occurrence_id).where(c.occurrence_id.in_(ids)))
            return {r.occurrence_id for r in rows}

    def notices_sent(self, since: datetime | None = None) -> list[SentNotice]:
        """Notices recorded, by window start; only windows starting at/after ``since``."""
        c = inc_notices.c
        q = select(inc_notices).order_by(c.start_us, c.occurrence_id)
        if since is not None:
            q = q.where(c.start_us >= to_us(since))
        with self.engine.connect() as conn:
            return [
                SentNotice(
                    r.occurrence_id, r.type, from_us(r.start_us), from_us(r.sent_us), r.payload
                )
                for r in conn.execute(q)
            ]

    # ------------------------------------------------------------------ leases
    # The leader lease lives in :mod:`kafkaops.store.lease`; the incident store offers it on
    # its own engine because the watcher that pages is the one that holds it.
    def try_acquire_lease(self, name: str, owner: str, ttl_s: float, now: datetime) -> bool:
        """See :meth:`kafkaops.store.lease.Leases.try_acquire`."""
        return self.leases.try_acquire(name, owner, ttl_s, now)

    def release_lease(self, name: str, owner: str) -> bool:
        return self.leases.release(name, owner)

    def lease_holder(self, name: str, now: datetime) -> str | None:
        return self.leases.holder(name, now)

    # ------------------------------------------------------------ aggregates
    def active_incident_counts(self) -> dict[tuple[str, str, str], int]:
        """Open and acknowledged incidents by (cluster, severity, status): one grouped query,
        for ``/metrics`` (the service reads the table only through this store)."""
        q = (
            select(inc_incidents.c.cluster, inc_incidents.c.severity, inc_incidents.c.status,
                   func.count())
            .where(inc_incidents.c.status.in_(("open", "acknowledged")))
            .group_by(inc_incidents.c.cluster, inc_incidents.c.severity, inc_incidents.c.status)
        )  # fmt: skip
        with self.engine.connect() as conn:
            return {(r[0], r[1], r[2]): int(r[3]) for r in conn.execute(q)}
