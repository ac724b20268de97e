"""``capacity:`` settings — thresholds, horizon, and the platform limits recommendations respect.

Defaults are the runbook's ("scale if < 30 days", storage +100 GB steps up to 1 TB per broker,
disk warning 80 % / critical 85 %) within Amazon MSK's own rules (storage never shrinks, at most
16 TiB per broker, one storage update per 6 h cool-down).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kafkaops.core.units import ByteSize, Percent


class MskCapacity(BaseModel):
    """What the recommendations need to print an exact ``aws kafka`` call; back-fill fills the
    rest from ``describe-cluster-v2`` when the cluster is on MSK."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cluster_arn: str | None = None
    #: MSK cluster name for CloudWatch (``Cluster Name`` dimension).
    cluster_name: str | None = None
    region: str | None = None
    #: e.g. kafka.m5.large: selects the partitions-per-broker limits.
    instance_type: str | None = None
    #: EBS volume per broker in GiB (the capacity when the brokers do not report one).
    volume_gib: int | None = Field(default=None, ge=1, le=16384)
    #: AWS endpoint override (moto in tests; a VPC endpoint in production).
    endpoint_url: str | None = None


class CapacitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    warning: Percent = 80.0
    critical: Percent = 85.0
    #: Days of projection (``--horizon`` overrides).
    horizon_days: int = Field(default=90, ge=7, le=730)
    #: Daily points of history the forecast uses (the newest ones).
    window_days: int = Field(default=60, ge=7, le=365)
    #: Runbook: "scale if < 30 days".  The P2 threshold and the headroom a storage plan keeps.
    headroom_days: int = Field(default=30, ge=1)
    #: Below this many days until full: P1.
    p1_days: int = Field(default=7, ge=1)
    #: The runbook's storage increment and per-broker cap ("scale_increment: 100GB",
    #: "max_storage_per_broker: 1TB"), in GiB as MSK's VolumeSizeGB is.
    storage_step_gib: int = Field(default=100, ge=1)
    storage_cap_gib: int = Field(default=1000, ge=1, le=16384)
    #: One runbook increment per storage change (so +300 GiB is three changes, each after
    #: MSK's cool-down); false: one change straight to the target size.
    one_step_per_change: bool = True
    #: MSK: at least this long between two storage updates of a cluster.
    cooldown_hours: float = Field(default=6.0, ge=0)
    #: Availability zones the brokers span (broker counts stay a multiple); None: from racks.
    az_count: int | None = Field(default=None, ge=1, le=6)
    #: Broker capacity when the brokers do not report their filesystem (self-managed, no
    #: DescribeLogDirs v4): e.g. 500GiB.
    broker_volume: ByteSize | None = None
    #: Runbook "Broker Scaling" triggers for the broker-count advice.
    cpu_scale_percent: Percent = 70.0
    network_scale_percent: Percent = 60.0
    msk: MskCapacity = Field(default_factory=MskCapacity)
    #: Weekly review cost (AWS Cost Explorer, MSK service): the cost-allocation tag whose value
    #: names the cluster, e.g. "cluster".  None: cost is not collected.
    cost_tag: str | None = None
