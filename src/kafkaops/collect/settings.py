"""``clusters.NAME.metrics``: which broker-metrics sources a cluster is read from, and how.

Why per cluster: an MSK cluster with Open Monitoring is scraped on ports 11001/11002 of each
broker, one without it only has CloudWatch, and a self-managed cluster has whatever its owners
run; several sources at once are fine (the first one, in ``sources`` order, that measures a
value wins, and each finding names its source).

``admin`` (the Kafka admin protocol) is always read: it is how kafkaops finds the brokers at all.
Documented field by field in ``kafkaops.example.yaml``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kafkaops.core.broker_metrics import MetricSource
from kafkaops.core.units import Bandwidth, DurationMs

_URL = re.compile(r"^https?://[^\s/]+(?:/\S*)?$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")
_AWS_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
#: Node ids in endpoint maps; ``"*"`` means every node (one node exporter for a shared host).
ANY_NODE = "*"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class PrometheusSettings(_Strict):
    """Scrape each node's exporters directly (MSK Open Monitoring style) or ask a server.

    Direct scraping finds endpoints in this order: ``jmx_endpoints`` / ``node_endpoints``
    (explicit, by node id; ``"*"`` for all nodes), else every broker's host (from the cluster's
    metadata) with ``jmx_port`` / ``node_port`` — 11001 and 11002 on MSK.
    """

    #: Prometheus JMX exporter port on every broker host (MSK Open Monitoring: 11001).
    jmx_port: int | None = Field(default=None, ge=1, le=65535)
    #: Node exporter port on every broker host (MSK Open Monitoring: 11002).
    node_port: int | None = Field(default=None, ge=1, le=65535)
    #: Explicit JMX exporter URLs by node id (brokers and KRaft controllers).
    jmx_endpoints: dict[str, str] = Field(default_factory=dict)
    #: Explicit node exporter URLs by node id, or ``"*"`` for one exporter shared by all.
    node_endpoints: dict[str, str] = Field(default_factory=dict)
    #: A Prometheus server's base URL (e.g. ``http://127.0.0.1:9090``): query it with PromQL
    #: instead of scraping.  Its targets must carry ``node_label`` with the Kafka node id.
    server: str | None = None
    #: The target label holding the Kafka node id on a Prometheus server.
    node_label: str = "node_id"
    #: Rate window.  Direct scraping takes two samples this far apart when it has no earlier
    #: sample (a one-shot ``kafkaops health``); the watch loop reuses the previous cycle's.
    window: DurationMs = 5_000
    #: Per-request timeout for every scrape and query.
    timeout: DurationMs = 5_000
    #: The filesystem (node exporter ``mountpoint``) holding the Kafka log dirs.
    data_mountpoint: str = "/"
    #: Dedicated KRaft controller node ids among the endpoints.  Lets a controller whose
    #: endpoint went silent be reported as a controller (a silent broker drops out of metadata
    #: too, so the two cannot be told apart otherwise).  MSK hides its controllers: leave empty.
    controller_ids: tuple[int, ...] = ()

    @field_validator("server")
    @classmethod
    def _server_url(cls, value: str | None) -> str | None:
        return _check_url(value.rstrip("/")) if value else value

    @field_validator("jmx_endpoints", "node_endpoints")
    @classmethod
    def _endpoint_map(cls, value: dict[Any, Any]) -> dict[str, str]:
        out = {}
        for key, url in value.items():
            node = str(key)
            if node != ANY_NODE and not node.isdigit():
                raise ValueError(f"key {node!r} is not a node id (or '*' for every node)")
            out[node] = _check_url(str(url))
        return out

    @field_validator("window")
    @classmethod
    def _window_range(cls, value: int) -> int:
        if not 1_000 <= value <= 3_600_000:
            raise ValueError("must be between 1s and 1h")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout_range(cls, value: int) -> int:
        if not 100 <= value <= 120_000:
            raise ValueError("must be between 100ms and 2m")
        return value

    @model_validator(mode="after")
    def _somewhere_to_read(self) -> PrometheusSettings:
        direct = self.jmx_port or self.node_port or self.jmx_endpoints or self.node_endpoints
        if not direct and not self.server:
            raise ValueError(
                "say where to read: jmx_port/node_port (11001/11002 on MSK Open Monitoring), "
                "jmx_endpoints/node_endpoints, or server (a Prometheus server URL)"
            )
        return self


class CloudWatchSettings(_Strict):
    """CloudWatch ``AWS/Kafka`` metrics of one MSK cluster (dimension ``Cluster Name``)."""

    #: The MSK cluster name as CloudWatch's ``Cluster Name`` dimension spells it.
    cluster_name: str
    #: The cluster ARN: enables ``describe_cluster_v2`` / ``list_nodes`` (state, brokers).
    cluster_arn: str | None = None
    #: AWS region; defaults to the one in the MSK broker host names.
    region: str | None = None
    #: Endpoint override (a VPC endpoint, or a local emulator in tests).
    endpoint_url: str | None = None
    #: CloudWatch period (MSK publishes every 60s at DEFAULT monitoring level).
    period: DurationMs = 60_000
    #: How far back to look for the latest datapoint (CloudWatch lags a few minutes).
    lookback: DurationMs = 600_000
    #: Per-request timeout.
    timeout: DurationMs = 10_000

    @field_validator("cluster_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _CLUSTER_NAME.match(value):
            raise ValueError(f"{value!r} is not an MSK cluster name (letters, digits, '-')")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _AWS_REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region (e.g. eu-west-1)")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return _check_url(value) if value else value

    @field_validator("period")
    @classmethod
    def _period(cls, value: int) -> int:
        if value < 1_000 or (value >= 60_000 and value % 60_000):
            raise ValueError("must be 1s, 5s, 10s, 30s or a multiple of 60s (CloudWatch periods)")
        if value < 60_000 and value not in (1_000, 5_000, 10_000, 30_000):
            raise ValueError("must be 1s, 5s, 10s, 30s or a multiple of 60s (CloudWatch periods)")
        return value


class MetricsSettings(_Strict):
    """Which sources a cluster's broker metrics come from (in order of preference)."""

    sources: tuple[MetricSource, ...] = (MetricSource.ADMIN,)
    prometheus: PrometheusSettings | None = None
    cloudwatch: CloudWatchSettings | None = None
    #: Nominal network bandwidth of one broker (e.g. ``10Gbps`` for kafka.m5.4xlarge): the
    #: denominator of the runbook's "network I/O %".  Without it network I/O is not measured.
    network_bandwidth: Bandwidth | None = None

    @field_validator("sources", mode="before")
    @classmethod
    def _admin_first(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list | tuple):
            names = [str(v) for v in value]
            if len(set(names)) != len(names):
                raise ValueError(f"{names} names a source twice")
            if "admin" not in names:
                names.insert(0, "admin")
            return tuple(names)
        return value

    @model_validator(mode="after")
    def _sections_present(self) -> MetricsSettings:
        for source in (MetricSource.PROMETHEUS, MetricSource.CLOUDWATCH):
            if source in self.sources and getattr(self, source.value) is None:
                raise ValueError(
                    f"sources names {source.value!r} but there is no {source.value}: section"
                )
        return self

    @property
    def extra_sources(self) -> tuple[MetricSource, ...]:
        """Configured sources besides the admin protocol, in order of preference."""
        return tuple(s for s in self.sources if s != MetricSource.ADMIN)
