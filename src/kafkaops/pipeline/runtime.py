"""Assembles the stateful parts — incident store, outbox, engine, dispatcher — from a config.

The CLI commands (``watch``, ``incidents``, ``maintenance``) and the service all need the same
wiring, and it has one subtle rule that must not be re-implemented in each: the incident engine
writes its notifications into the outbox *inside the transaction that saves the incident state*
(:func:`outbox_writer`), so "the state says paged" and "the page is queued" commit together or
not at all.  Everything lives in one database (``store.url``): history, incidents, outbox.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kafkaops.config import Config
from kafkaops.core.clock import utc_now
from kafkaops.core.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from kafkaops.incidents.engine import Delivery, IncidentEngine
    from kafkaops.incidents.store import IncidentStore
    from kafkaops.notify.dispatcher import Dispatcher
    from kafkaops.notify.message import OutboundMessage
    from kafkaops.notify.outbox import Outbox
    from kafkaops.pipeline.watch import Watcher

#: SNS topic names (keys of ``channels.sns.topics``) maintenance notices are published to, as in
#: the runbook's ``$MAINTENANCE_TOPIC_ARN`` / ``$EMERGENCY_TOPIC_ARN``.
NOTICE_CHANNELS = {"maintenance": "sns:msk-maintenance", "emergency": "sns:msk-emergency"}


#: Adds what to do to the messages of an alert (:class:`kafkaops.actions.advice.Advisor`).
Enrich = Callable[[list["OutboundMessage"]], list["OutboundMessage"]]


def delivery_messages(delivery: Delivery, enrich: Enrich | None = None) -> list[OutboundMessage]:
    """Every outbound message one saved change produces (one per channel); ``enrich`` adds the
    recommended actions and the automatic action's status to pages and updates."""
    from kafkaops.notify.message import from_incident_action, from_notification

    messages = [from_notification(n) for n in delivery.notifications]
    # When an incident closes because its last alerts resolved, those alerts' own resolves are
    # in the same delivery: the incident-level resolve would tell the same channels twice.
    resolved_on = {str(n.channel) for n in delivery.notifications if n.kind == "resolved"}
    for action in delivery.actions:
        for message in from_incident_action(action):
            if action.kind == "resolve" and message.channel in resolved_on:
                continue
            messages.append(message)
    for notice in delivery.notices:
        messages.append(notice_message(notice))
    return enrich(messages) if enrich is not None else messages


def notice_message(notice: Mapping[str, Any]) -> OutboundMessage:
    """A maintenance notice (``engine.emit_notice`` output) for its SNS topic.

    The body is exactly the runbook's ``maintenance-notice.json``; the idempotency key is the
    occurrence's, so sending the notice twice (a re-run, a restart) queues it once.
    """

    from kafkaops.notify.message import OutboundMessage, iso_utc

    channel = NOTICE_CHANNELS.get(str(notice.get("topic")), NOTICE_CHANNELS["maintenance"])
    return OutboundMessage(
        idempotency_key=f"{notice['idempotency_key']}|{channel}",
        channel=channel,
        action="notice",
        dedup_key=str(notice.get("occurrence_id") or notice["idempotency_key"]),
        severity="OK",
        cluster="",
        summary=str(notice["subject"])[:200],
        details={"notice": dict(notice["payload"]), "subject": notice["subject"]},
        created_at=iso_utc(utc_now()),
    )


def outbox_writer(
    outbox: Outbox, enrich: Enrich | None = None
) -> Callable[[Connection, Delivery], None]:
    """The engine's in-transaction hook: queue a delivery on the engine's own connection."""

    def write(conn: Connection, delivery: Delivery) -> None:
        outbox.enqueue(delivery_messages(delivery, enrich), conn=conn)

    return write


@dataclass
class Runtime:
    """Open handles on the shared store; close() releases them."""

    config: Config
    store_url: str
    incidents: IncidentStore
    outbox: Outbox
    engine: IncidentEngine
    dispatcher: Dispatcher
    #: The actions audit trail's engine, when automatic actions are configured.
    audit_engine: Any = None
    #: Where ``store_url`` came from (``--store``, ``KAFKAOPS_STORE``, ``store.url``, default).
    store_origin: str = "store.url"

    def close(self) -> None:
        for closer in (self.dispatcher.close, self.outbox.close, self.incidents.close):
            with contextlib.suppress(Exception):  # closing is best effort
                closer()
        if self.audit_engine is not None:
            from kafkaops.store import db

            with contextlib.suppress(Exception):
                db.release(self.audit_engine)
            self.audit_engine = None


def resolve_store_url(
    config: Config,
    store_url: str | None,
    *,
    sandbox: bool | None = None,
    sandbox_root: Path | None = None,
) -> tuple[str, str]:
    """The store URL and where it came from: ``--store``, ``KAFKAOPS_STORE``, ``store.url``, else
    an embedded SQLite file (the sandbox's folder or the user's state directory).

    Why a default: a new user's ``kafkaops serve`` or ``incidents list`` after ``make demo``
    should work with no flags, like ``health`` does.  A config that names clusters targets real
    clusters, so its default lives in the state directory, not in the sandbox's folder.
    """
    import os

    if store_url:
        return store_url, "--store"
    env = os.environ.get("KAFKAOPS_STORE")
    if env:
        from pydantic import ValidationError

        from kafkaops.store.settings import StoreSettings

        try:
            StoreSettings(url=env)
        except ValidationError as exc:  # the message only: the input may hold a password
            raise ConfigError(f"KAFKAOPS_STORE: {exc.errors()[0]['msg']}") from None
        return env, "KAFKAOPS_STORE"
    if config.store.url:
        return config.store.url, "store.url"
    if sandbox if sandbox is not None else not config.clusters:
        from kafkaops.sandbox.cluster import default_root

        root = sandbox_root or default_root()
        root.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(root / 'kafkaops.db').resolve()}", "embedded default: sandbox"
    import platformdirs

    state = Path(platformdirs.user_state_dir("kafkaops"))
    state.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{state / 'kafkaops.db'}", "embedded default: state directory"


def open_runtime(
    config: Config,
    store_url: str | None,
    *,
    owner: str | None = None,
    sandbox: bool | None = None,
    sandbox_root: Path | None = None,
) -> Runtime:
    """Open the store at ``store_url`` (or ``store.url``) and wire engine, outbox, dispatcher."""
    from sqlalchemy.exc import SQLAlchemyError

    from kafkaops.incidents.engine import IncidentEngine
    from kafkaops.incidents.store import IncidentStore
    from kafkaops.notify.dispatcher import Dispatcher
    from kafkaops.notify.outbox import Outbox
    from kafkaops.notify.redact import Redactor
    from kafkaops.pipeline.watch import default_owner

    url, origin = resolve_store_url(config, store_url, sandbox=sandbox, sandbox_root=sandbox_root)
    try:
        incidents = IncidentStore(url)
        outbox = Outbox(
            incidents.engine if hasattr(incidents, "engine") else url,
            redact=Redactor(config.channels),
        )
    except (SQLAlchemyError, OSError, ValueError, ImportError) as exc:
        raise ConfigError(
            f"store {url.split('@')[-1]} cannot be opened: {type(exc).__name__}"
        ) from None
    advisor, audit_engine = _advisor(config, url)
    engine = IncidentEngine(incidents, config.incidents, outbox=outbox_writer(outbox, advisor))
    advisor.engine = engine
    dispatcher = Dispatcher(outbox, config.channels, owner=owner or default_owner())
    return Runtime(
        config, url, incidents, outbox, engine, dispatcher, audit_engine, store_origin=origin
    )


def _advisor(config: Config, url: str) -> tuple[Any, Any]:
    """The notifications' action advice; with automatic actions configured it also reads their
    audit trail (its table is created here, never inside the incident transaction)."""
    from kafkaops.actions.advice import Advisor

    if not config.actions.auto:
        return Advisor(config), None
    from kafkaops.actions.audit import AuditLog
    from kafkaops.store import db

    audit_engine = db.acquire(url)
    try:
        return Advisor(config, AuditLog(audit_engine)), audit_engine
    except Exception:
        db.release(audit_engine)
        raise


def describe(runtime: Runtime) -> dict[str, Any]:
    """What an operator wants to see at start-up (no secrets: the URL loses its user part)."""
    return {"store": runtime.store_url.split("@")[-1], "store_origin": runtime.store_origin}


def open_watch(
    config_path: Path | None,
    *,
    clusters: Sequence[str] | None = None,
    bootstrap: str | None = None,
    store: str | None = None,
    sandbox_dir: Path | None = None,
    interval_s: float | None = None,
) -> tuple[Runtime, Watcher]:
    """The watch loop's wiring, shared by ``kafkaops watch`` and ``kafkaops serve``.

    Targets: ``--bootstrap`` (one cluster), else every cluster of the config (or those named),
    else the running sandbox.  Raises :class:`KafkaopsError` with one line on bad input.
    """
    from kafkaops.config import default_config, load_config
    from kafkaops.pipeline.health import resolve_target
    from kafkaops.pipeline.watch import Watcher

    cfg = load_config(config_path) if config_path else default_config()
    if bootstrap or not config_path:
        names: list[str | None] = [clusters[0] if clusters else None]
    else:
        names = list(clusters or sorted(cfg.clusters)) or [None]
    targets = [
        resolve_target(
            bootstrap=bootstrap, config_path=config_path, cluster=name, sandbox_root=sandbox_dir
        )
        for name in names
    ]
    runtime = open_runtime(
        cfg,
        store,
        sandbox=not bootstrap and not config_path,
        sandbox_root=sandbox_dir,
    )
    # History lives in the same database as the incidents (also the embedded default).
    targets = [t.with_overrides(store_url=runtime.store_url) for t in targets]
    watcher = Watcher(
        targets=targets,
        engine=runtime.engine,
        dispatcher=runtime.dispatcher,
        lease=runtime.incidents,
        offline_after=cfg.watch.offline_after_cycles,
        interval_s=interval_s or cfg.watch.interval / 1000,
    )
    if cfg.watch.sharing == "per_cluster":
        from kafkaops.pipeline.sharing import ClusterSharing
        from kafkaops.store.lease import Leases
        from kafkaops.store.members import Members

        store_engine = runtime.incidents.engine
        watcher.sharing = ClusterSharing(
            Leases(store_engine), Members(store_engine), interval_s=watcher.interval_s
        )
        watcher.owner = watcher.sharing.instance
    return runtime, watcher
