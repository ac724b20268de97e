"""The daily health check: resolve a target, take a snapshot, classify it (collect → evaluate).

``kafkaops health`` calls :func:`check_health`; the watch loop (``kafkaops watch`` and the service,
``kafkaops serve``) builds the same report with :func:`report_for`.  Neither face holds logic of
its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kafkaops.collect.admin import CollectOptions
from kafkaops.collect.connection import bootstrap_text, parse_bootstrap
from kafkaops.collect.probe import ClusterProbe
from kafkaops.collect.settings import MetricsSettings
from kafkaops.collect.snapshot import collect_snapshot
from kafkaops.config import Config, default_config, load_config
from kafkaops.core.errors import ClusterUnreachable, ConfigError
from kafkaops.core.model import ClusterSnapshot

if TYPE_CHECKING:
    from kafkaops.core.model import HealthReport
    from kafkaops.lag.memory import LagMemory
    from kafkaops.lag.status import GroupStatus
    from kafkaops.sandbox.cluster import Sandbox
    from kafkaops.store.history import HistoryStore
    from kafkaops.store.lease import Fence


@dataclass(frozen=True)
class Target:
    """A cluster to talk to, with how to connect and which thresholds apply."""

    name: str
    client_kwargs: dict[str, Any]
    options: CollectOptions
    config: Config
    #: History store URL (``store.url``): enables consumer status and estimated time lag.
    store_url: str | None = None
    #: Broker-metrics sources besides the admin protocol (Prometheus, CloudWatch).
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    #: AWS region for CloudWatch (configured, or read off MSK broker host names).
    aws_region: str | None = None

    def probe(self) -> ClusterProbe:
        """The collectors for this target (admin protocol + configured metrics sources)."""
        return ClusterProbe(
            self.name, self.client_kwargs, self.options, self.metrics, aws_region=self.aws_region
        )

    @property
    def bootstrap(self) -> str:
        """``"a:1,b:2"``, for every output (the client takes a list or a string)."""
        return bootstrap_text(self.client_kwargs.get("bootstrap_servers"))

    @property
    def time_lag_method(self) -> str:
        return self.options.time_lag_method

    def with_overrides(
        self, *, time_lag_method: str | None = None, store_url: str | None = None
    ) -> Target:
        """The same target with command-line overrides of the config applied and checked."""
        target = self
        if time_lag_method:
            target = replace(
                target, options=replace(target.options, time_lag_method=time_lag_method)
            )
        if store_url:
            target = replace(target, store_url=store_url)
        if target.time_lag_method == "estimated" and not target.store_url:
            where = (
                f"{self.config.source}: clusters.{self.name}.time_lag_method"
                if (self.config.source)
                else "--time-lag-method"
            )
            raise ConfigError(
                f"config error: {where}: 'estimated' interpolates over recorded offsets and "
                "needs a history store (store.url or --store)"
            )
        return target


def resolve_target(
    *,
    bootstrap: str | None = None,
    config_path: Path | None = None,
    cluster: str | None = None,
    sandbox_root: Path | None = None,
) -> Target:
    """``--bootstrap`` beats ``--config``/``--cluster``; with neither, the running sandbox."""
    config = load_config(config_path) if config_path else default_config()
    if bootstrap:
        try:
            servers = parse_bootstrap(bootstrap)
        except ValueError as exc:
            raise ConfigError(f"--bootstrap: {exc}") from None
        return Target(
            name=cluster or "adhoc",
            client_kwargs={"bootstrap_servers": ",".join(servers)},
            options=CollectOptions(),
            config=config,
            store_url=config.store.url,
        )
    if config_path:
        names = sorted(config.clusters)
        if cluster is None:
            if len(names) != 1:
                raise ConfigError(
                    f"config error: {config_path}: name a cluster with --cluster (one of: "
                    f"{', '.join(names) or 'none defined'})"
                )
            cluster = names[0]
        if cluster not in config.clusters:
            raise ConfigError(
                f"config error: {config_path}: clusters.{cluster}: no such cluster "
                f"(defined: {', '.join(names) or 'none'})"
            )
        cc = config.clusters[cluster]
        return Target(
            name=cluster,
            client_kwargs=cc.kafka_client_kwargs(),
            options=CollectOptions(
                request_timeout_ms=cc.timeouts.request,
                connect_timeout_ms=cc.timeouts.connect,
                time_lag_method=cc.time_lag_method,
            ),
            config=config,
            store_url=config.store.url,
            metrics=cc.metrics,
            aws_region=cc.aws_region(),
        ).with_overrides()
    from kafkaops.sandbox.cluster import Sandbox

    box = Sandbox(sandbox_root)
    if not box.exists:
        raise ClusterUnreachable(
            "no target: pass --bootstrap HOST:PORT or --config FILE --cluster NAME, "
            "or start the sandbox with 'kafkaops sandbox up'"
        )
    return Target(
        name="sandbox",
        client_kwargs={"bootstrap_servers": box.bootstrap()},
        options=CollectOptions(),
        config=config,
        # The sandbox keeps its own history so consumer status is measured with no set-up.
        store_url=config.store.url or f"sqlite:///{box.root / 'history.db'}",
        metrics=sandbox_metrics(box),
    )


#: Nominal per-broker bandwidth assumed for the sandbox (its brokers talk over loopback, which
#: has no link speed): the denominator that makes network I/O a percentage there.
SANDBOX_BANDWIDTH = "1Gbps"


def sandbox_metrics(box: Sandbox) -> MetricsSettings:
    """The sandbox's Open-Monitoring-style sources: each node's JMX exporter and the host's
    node exporter, scraped directly (admin protocol only when it runs without exporters)."""
    from kafkaops.core.errors import SandboxError

    try:
        prometheus = box.prometheus_settings()
    except SandboxError:  # created with --no-jmx-exporter --no-node-exporter
        return MetricsSettings()
    return MetricsSettings.model_validate(
        {
            "sources": ["admin", "prometheus"],
            "prometheus": prometheus,
            "network_bandwidth": SANDBOX_BANDWIDTH,
        }
    )


def take_snapshot(target: Target, probe: ClusterProbe | None = None) -> ClusterSnapshot:
    """The admin snapshot with broker metrics attached (a throwaway probe if none is given:
    rates then need one rate window of waiting)."""
    if probe is not None:
        return probe.snapshot()
    if not target.metrics.extra_sources:
        return collect_snapshot(target.name, target.client_kwargs, target.options)
    once = target.probe()
    try:
        return once.snapshot()
    finally:
        once.close()


def take_lag_snapshot(target: Target) -> ClusterSnapshot:
    """What ``kafkaops lag`` reads: metadata, offsets and groups, nothing else.

    Without a history store nothing but the groups' lag is used, so log dirs, topic configs,
    the controller quorum and the Prometheus/CloudWatch broker metrics are not collected (the
    log dirs and configs are the largest responses after Metadata at 20,000 partitions).  With
    a store the snapshot is recorded (broker disk samples come from the log dirs), so the full
    one is taken.
    """
    if target.store_url:
        return take_snapshot(target)
    return collect_snapshot(target.name, target.client_kwargs, target.options.lag_only())


def observe_lag(
    target: Target,
    snapshot: ClusterSnapshot,
    store: HistoryStore | None = None,
    memory: LagMemory | None = None,
    fence: Fence | None = None,
) -> tuple[ClusterSnapshot, dict[str, GroupStatus] | None]:
    """With a history store: estimated time lag (if chosen), record, consumer statuses.

    ``store``: an open history store (the watch loop keeps one per URL); without it one is
    opened for this call and closed again (a one-off ``kafkaops health``).  ``memory``: the
    watch loop's in-memory recent history of this cluster (read instead of the store).
    ``fence``: the cluster lease's check for the history write (per-cluster sharing).
    """
    if not target.store_url:
        return snapshot, None
    from kafkaops.lag.observe import observe

    own = store is None
    history = open_history(target.store_url) if store is None else store
    try:
        return observe(
            history,
            snapshot,
            time_lag_method=target.time_lag_method,
            lag=target.config.lag,
            memory=memory,
            fence=fence,
        )
    finally:
        if own:
            history.close()


def open_history(url: str) -> HistoryStore:
    """The history store, or a one-line error that never repeats credentials in the URL."""
    from sqlalchemy.exc import SQLAlchemyError

    from kafkaops.store.history import HistoryStore

    try:
        return HistoryStore(url)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        raise ConfigError(
            f"history store {url.split('@')[-1]} cannot be opened: {type(exc).__name__}"
        ) from None


def unreachable_report(target: Target, reason: str) -> HealthReport:
    """The P0 "cluster offline" report for a cluster no bootstrap server answered for."""
    from kafkaops.evaluate.report import build_report  # not paid by ``kafkaops lag``

    return build_report(
        None,
        target.config.thresholds,
        cluster_name=target.name,
        bootstrap=target.bootstrap,
        checked_at_ms=int(time.time() * 1000),
        reachable=False,
        unreachable_reason=reason,
    )


def report_for(
    target: Target, snapshot: ClusterSnapshot, statuses: dict[str, GroupStatus] | None
) -> HealthReport:
    """The report for a snapshot that was taken: ``kafkaops health`` and every watch cycle."""
    from kafkaops.evaluate.report import build_report

    return build_report(
        snapshot,
        target.config.thresholds,
        cluster_name=target.name,
        bootstrap=snapshot.bootstrap,
        checked_at_ms=snapshot.taken_at_ms,
        reachable=True,
        statuses=statuses,
        balance=target.config.balance,
    )


def check_health(target: Target) -> HealthReport:
    """Snapshot and classify; an unreachable cluster is a P0 report, not an exception."""
    try:
        snapshot = take_snapshot(target)
    except ClusterUnreachable as exc:
        return unreachable_report(target, str(exc))
    snapshot, statuses = observe_lag(target, snapshot)
    return report_for(target, snapshot, statuses)
