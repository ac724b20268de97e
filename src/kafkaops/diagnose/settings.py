"""Settings of the diagnoses: the producer-latency thresholds and the end-to-end canary.

Why these defaults: a produce request on a healthy cluster with ``acks=all`` takes a few ms to
a few tens of ms; 100 ms mean (or 500 ms at p99) is where producers start to back up their
``buffer.memory``.  The canary is off by default in ``watch``: it writes to the cluster, and
that must be a decision (it creates one small topic, ``__kafkaops_canary``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kafkaops.core.units import ByteSize, bounded_duration


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProducerSettings(_Model):
    """Thresholds of ``kafkaops producers``."""

    #: Mean produce request time over the window at or above which latency is a finding (ms).
    slow_mean_ms: float = Field(default=100.0, gt=0)
    #: Share of the total time one component must hold to be named the cause.
    dominant_share: float = Field(default=0.5, gt=0, le=1)
    #: Failed / total produce requests at or above which errors are a finding.
    failed_ratio: float = Field(default=0.01, gt=0, le=1)
    #: Request handler / network processor idle below this (percent) is saturation.
    idle_percent: float = Field(default=30.0, ge=0, le=100)
    #: Bytes per produce request below this, at more than ``small_requests_per_s`` requests/s
    #: per broker, means producers do not batch (linger.ms / batch.size advice).
    small_request_bytes: int = Field(default=4096, ge=0)
    small_requests_per_s: float = Field(default=20.0, ge=0)


class CanarySettings(_Model):
    """The end-to-end canary (``kafkaops canary``; in ``watch`` only when ``enabled``)."""

    enabled: bool = False
    topic: str = Field(default="__kafkaops_canary", min_length=1, max_length=249)
    #: How long one produce (acks=all) or one end-to-end round may take before it fails.
    timeout: bounded_duration(500, 120_000) = 5_000  # type: ignore[valid-type]
    #: A produce slower than this is a P2 "slow broker" finding.
    slow: bounded_duration(1, 120_000) = 1_000  # type: ignore[valid-type]


class OptimizerSettings(_Model):
    """``kafkaops topics optimize`` (and the audit's heavy-topic rule).

    5 MiB/s per partition is a conservative produce rate for one partition's leader on MSK
    m5/m7g brokers (and what one consumer thread typically keeps up with); 1 MiB/s is where
    uncompressed data starts to cost real disk and replication bandwidth.
    """

    #: Bytes per second one partition should carry at most (decides the partition advice).
    partition_bytes_per_s: ByteSize = 5 * 1024 * 1024
    #: Bytes per second from which a topic is "heavy": compression matters.
    heavy_bytes_per_s: ByteSize = 1024 * 1024


class AuditSettings(_Model):
    """The weekly ``config_audit`` job (``kafkaops audit`` takes ``--window``)."""

    #: Traffic measured for the disk-fit and compression rules; 0s skips those rules.
    window: bounded_duration(0, 600_000) = 10_000  # type: ignore[valid-type]


class DiagnoseSettings(_Model):
    """``diagnose:`` in the config."""

    producers: ProducerSettings = Field(default_factory=ProducerSettings)
    canary: CanarySettings = Field(default_factory=CanarySettings)
    optimizer: OptimizerSettings = Field(default_factory=OptimizerSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
