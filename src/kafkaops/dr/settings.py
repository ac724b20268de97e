"""The ``dr:`` section: which cluster is the primary, which the replica, and the targets.

```yaml
dr:
  primary: prod            # names under clusters:
  replica: prod-dr
  replication_policy: default   # or identity (MSK Replicator "identical topic names")
  rpo: 1m                  # the runbook's RPO < 1 min
  rto: 5m                  # the runbook's RTO < 5 min
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kafkaops.core.units import DurationMs


class EndpointSwitch(BaseModel):
    """How clients are pointed at the replica: a file the clients read, a command, or a
    Route 53 record (boto3)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["none", "file", "command", "route53"] = "none"
    #: file: the path written with the new bootstrap servers.
    path: str | None = None
    #: command: run with KAFKAOPS_DR_BOOTSTRAP set to the new bootstrap servers.
    command: str | None = None
    #: route53: hosted zone id and record name (a CNAME set to the replica's first broker).
    hosted_zone_id: str | None = None
    record_name: str | None = None
    ttl: int = 60


class DrSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Cluster names under ``clusters:``; without them the sandbox pair (default → dr).
    primary: str | None = None
    replica: str | None = None
    #: MM2 cluster aliases (default: the cluster names).
    source_alias: str | None = None
    target_alias: str | None = None
    replication_policy: Literal["default", "identity"] = "default"
    #: Where MM2 writes offset syncs (``offset-syncs.topic.location``).
    offset_syncs_location: Literal["source", "target"] = "source"
    rpo: DurationMs = 60_000
    rto: DurationMs = 300_000
    heartbeat_max_age: DurationMs = 30_000
    #: MSK Replicator: its ARN; ``dr verify`` then reads describe_replicator and CloudWatch.
    msk_replicator_arn: str | None = None
    #: Failover: a command that stops or fences the producers (run before the switch).
    fence_command: str | None = None
    switch: EndpointSwitch = Field(default_factory=EndpointSwitch)
    #: How often the watch loop verifies the pair (on the primary's cycle) and feeds the
    #: findings (RPO above target → P1 …) to the incident engine; null: only the daily job.
    watch_every: DurationMs | None = 300_000
    #: The runbook's ``compliance_backup: 90_days``: every remote topic on the replica must
    #: keep data at least this long (the monthly compliance check; retention.ms=-1 passes).
    compliance_retention: DurationMs = 90 * 86_400_000
    #: Where failovers and drills are recorded (JSON lines).
    audit_log: str = "kafkaops-dr-audit.jsonl"
