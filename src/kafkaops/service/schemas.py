"""Response models of the HTTP API: they make ``/openapi.json`` say what each endpoint returns.

Field names follow the CLI's ``--json`` output wherever one exists (``kafkaops health --json``,
``kafkaops lag --json``, ``kafkaops incidents show --json``), so a script can move from the CLI
to the API without renaming anything.  Times are ISO-8601 UTC strings; ``*_ms`` fields are
milliseconds, ``*_s`` seconds, ``*_bytes`` bytes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ErrorOut(_Out):
    """Every error: one line saying what is wrong and, where it helps, what to do."""

    error: str


# ------------------------------------------------------------------------------ liveness
class LoopOut(_Out):
    cluster: str
    #: When the loop last finished a cycle of this cluster (None: not yet).
    last_cycle_at: str | None
    age_s: float | None
    #: The last cycle is younger than three intervals.
    fresh: bool
    reachable: bool
    consecutive_failures: int
    last_error: str | None
    last_duration_s: float | None
    #: The last cycle's wall time by phase, in order (collect, lag, report, extras, incidents).
    last_phases_s: dict[str, float] = {}


class LivenessOut(_Out):
    #: ``ok``; ``degraded`` when a cluster loop is stale (a cluster being down is not staleness);
    #: ``down`` (HTTP 503) when the loop thread has died.
    status: Literal["ok", "degraded", "down"]
    version: str
    started_at: str
    uptime_s: float
    loop_alive: bool
    #: This instance holds the watch lease (pages and delivers); False on a hot standby.
    leader: bool
    interval_s: float
    clusters: list[LoopOut]


class ReadinessOut(_Out):
    #: ``ready`` (HTTP 200) or ``not_ready`` (HTTP 503, with the reasons).
    status: Literal["ready", "not_ready"]
    store_ok: bool
    #: Clusters whose loop has not completed its first cycle yet.
    waiting_for: list[str]
    reasons: list[str]


# ------------------------------------------------------------------------------- clusters
class ClusterOut(_Out):
    name: str
    bootstrap: str
    reachable: bool
    #: ACTIVE, DEGRADED (a P0/P1 finding), OFFLINE (unreachable) or PENDING (no report yet).
    state: str
    severity: str | None
    overall_healthy: bool | None
    checked_at: str | None
    brokers: int | None
    partitions: int | None
    offline_partitions: int | None
    under_replicated_partitions: int | None
    under_min_isr_partitions: int | None
    consumer_groups: int | None
    consecutive_failures: int
    last_error: str | None
    #: The instance that watches and pages for this cluster (None: nobody right now, or the
    #: store is unreachable): the leader lease's holder, or with ``watch.sharing:
    #: per_cluster`` the holder of the cluster's own lease.
    owner: str | None = None
    #: With ``per_cluster``: the lease term (fencing token), bumped on every handover.
    epoch: int | None = None
    #: Whether ``owner`` is the instance answering.
    watched_here: bool = False


class FindingOut(_Out):
    rule: str
    severity: str
    status: str
    title: str
    value: float | None
    threshold: float | None
    unit: str
    subject: str
    evidence: list[str]
    source: str
    response: list[str]


class CheckOut(_Out):
    rule: str
    subject: str
    status: str
    value: float | None
    threshold: float | None
    unit: str


class NotMeasuredOut(_Out):
    rule: str
    title: str
    reason: str


class HealthOut(_Out):
    """The runbook's ``/actuator/msk-health``: ``jq .overall_healthy`` works on it as is."""

    cluster: str
    bootstrap: str
    checked_at: str
    reachable: bool
    overall_healthy: bool
    severity: str
    summary: dict[str, Any]
    findings: list[FindingOut]
    not_measured: list[NotMeasuredOut]
    checks: list[CheckOut]


class LogDirOut(_Out):
    path: str
    error: str | None
    used_bytes: int
    total_bytes: int | None
    usable_bytes: int | None
    #: Filesystem use of the log dir, (total − usable) / total; None when the broker did not
    #: report sizes (DescribeLogDirs before v4).
    disk_percent: float | None


class BrokerOut(_Out):
    node_id: int
    host: str
    port: int
    rack: str | None
    reachable: bool
    error: str | None
    #: Active KRaft quorum leader (or the ZooKeeper-mode controller).
    active_controller: bool
    used_bytes: int
    disk_percent: float | None
    log_dirs: list[LogDirOut]
    #: Broker metrics from the first metrics source that has this node (Prometheus JMX /
    #: node exporter, CloudWatch); empty with the admin protocol only.
    metrics: dict[str, float | int | str | None]


class BrokersOut(_Out):
    cluster: str
    taken_at: str
    controller_id: int | None
    quorum_leader_id: int | None
    quorum_voters: list[int]
    brokers: list[BrokerOut]


class TopicOut(_Out):
    name: str
    internal: bool
    partitions: int
    replication_factor: int
    min_isr: int | None
    offline_partitions: int
    under_replicated_partitions: int
    under_min_isr_partitions: int
    configs: dict[str, str]


class TopicsOut(_Out):
    cluster: str
    taken_at: str
    topics: list[TopicOut]


class PartitionOut(_Out):
    topic: str
    partition: int
    leader: int
    replicas: list[int]
    isr: list[int]
    offline_replicas: list[int]
    min_isr: int
    #: Which of offline / under_replicated / under_min_isr apply.
    problems: list[str]
    log_start_offset: int | None
    log_end_offset: int | None


class PartitionsOut(_Out):
    cluster: str
    taken_at: str
    problem: str | None
    total: int
    #: True when ``limit`` cut the list.
    truncated: bool
    partitions: list[PartitionOut]


class GroupOut(_Out):
    group_id: str
    state: str
    members: int
    partitions: int
    topics: list[str]
    offset_lag: int
    max_time_lag_ms: int | None
    #: exact, interpolated, interpolated_lower_bound (comma-joined when partitions differ).
    time_lag_method: str | None
    partitions_without_commit: int
    #: Burrow-style consumer status (OK, WARN, STOP, STALL, REWIND); None without a store.
    status: str | None
    burrow_status: str | None
    #: ``status``, or "OK (evaluating, n/10 samples)" while the window is too young.
    status_label: str | None = None


class GroupsOut(_Out):
    cluster: str
    taken_at: str
    groups: list[GroupOut]


class PartitionLagOut(_Out):
    topic: str
    partition: int
    committed: int | None
    log_start_offset: int | None
    log_end_offset: int | None
    lag: int | None
    committed_below_log_start: bool
    member_id: str | None
    time_lag_ms: int | None
    time_lag_method: str | None
    status: str | None = None
    status_reason: str | None = None


class MemberLoadOut(_Out):
    member_id: str
    client_id: str
    host: str
    partitions: int
    lag: int


class GroupDetailOut(_Out):
    """``kafkaops lag GROUP --json``: the runbook's diagnose-consumer-lag.sh, plus status."""

    cluster: str
    taken_at: str
    summary: GroupOut
    members: list[MemberLoadOut]
    idle_members: list[str]
    unassigned_lagging_partitions: list[str]
    skew: float | None
    recommendations: list[str]
    partitions: list[PartitionLagOut]


# ------------------------------------------------------------------------------ incidents
class MemberOut(_Out):
    key: str
    rule: str
    subject: str
    severity: str
    title: str
    firing: bool
    joined_at: str | None


class AuditOut(_Out):
    at: str | None
    age_s: float
    actor: str
    action: str
    detail: str


class MuteOut(_Out):
    alert: str
    severity: str
    channels: list[str]
    window: str
    kind: str
    until: str | None
    text: str


class DeliveryOut(_Out):
    """One message of an incident: where it went and whether it arrived."""

    channel: str
    action: str
    what: str
    state: str = Field(description="queued | retrying | sent | failed")
    attempts: int
    queued_at: str | None
    delivered_at: str | None
    next_attempt_at: str | None
    last_error: str | None = Field(description="Why the last attempt failed (secrets redacted).")


class IncidentOut(_Out):
    """``kafkaops incidents show --json``."""

    id: str
    cluster: str
    status: str
    severity: str
    opened_at: str | None
    age_s: float
    members: list[MemberOut]
    firing: list[str]
    escalated_to: str | None
    escalations_done: list[str]
    paged: list[str]
    first_paged_at: str | None
    notified: list[str]
    notified_contacts: list[dict[str, Any]]
    acknowledged_at: str | None
    acknowledged_by: str | None
    resolved_at: str | None
    resolved_by: str | None
    #: Pages held back by a maintenance window or silence ("muted by window `daily` until …").
    muted: list[MuteOut] = []
    audit: list[AuditOut] | None = None
    #: Per-channel delivery state of the incident's messages (``incidents show``).
    delivery: list[DeliveryOut] | None = None


class ActionOut(_Out):
    kind: str
    incident_id: str
    at: str | None
    severity: str
    channels: list[str]
    contacts: list[dict[str, Any]]
    keys: list[str]
    detail: str


class TransitionIn(BaseModel):
    """Body of ``POST /api/incidents/{id}/ack|resolve`` (optional)."""

    model_config = ConfigDict(extra="forbid")

    #: Who acts, for the audit trail (default ``api``).
    actor: str | None = Field(default=None, max_length=200)
    note: str = Field(default="", max_length=2000)


class TransitionOut(_Out):
    incident: IncidentOut
    #: What was queued for delivery (PagerDuty acknowledge/resolve, Slack, …).
    actions: list[ActionOut]


class OccurrenceOut(_Out):
    id: str
    name: str
    #: scheduled, emergency or silence.
    type: str
    start: str | None
    end: str | None
    duration_s: float
    impact: str
    active: bool
    starts_in_s: float
    matchers: dict[str, str] | None = None
    notice_sent: bool | None = None


class WindowsOut(_Out):
    now: str
    days: float
    windows: list[OccurrenceOut]


# -------------------------------------------------------------------------------- history
class LagPointOut(_Out):
    ts: str
    ts_ms: int
    offset_lag: int
    max_time_lag_ms: int | None


class LagHistoryOut(_Out):
    cluster: str
    group: str
    since: str
    points: list[LagPointOut]


class BrokerPointOut(_Out):
    ts: str
    ts_ms: int
    broker: int
    used_bytes: int | None
    disk_percent: float | None
    cpu_percent: float | None = None
    memory_percent: float | None = None
    network_bytes_per_s: float | None = None


class BrokerHistoryOut(_Out):
    cluster: str
    since: str
    points: list[BrokerPointOut]


class JobRunOut(_Out):
    job: str
    cluster: str
    scheduled_for: str
    ran_at: str
    ok: bool
    severity: str | None
    result: dict[str, Any]


class JobsOut(_Out):
    next_runs: dict[str, str | None]
    runs: list[JobRunOut]


class ReportLinks(_Out):
    html: str
    json_: str = Field(alias="json")


class ReportOut(_Out):
    """A stored report (``GET /api/reports``): open ``links.html`` in a browser."""

    id: str
    kind: str
    cluster: str
    period: str
    title: str
    severity: str
    created_at: str
    links: ReportLinks


class HeadlineOut(_Out):
    label: str
    value: str


class ReportDetailOut(ReportOut):
    summary: str
    headline: list[HeadlineOut]
    data: dict[str, Any]
