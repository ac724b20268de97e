"""The runbook's incident classes as data: impact, response time, notification, response steps.

Kept as data (not prose in a report template) so every face — CLI output, JSON, notifications,
the service — shows the same steps for the same severity, and a test can pin them.

Steps follow the runbook's "Response Procedure" blocks in order.  Where kafkaops does the job
of a shell step it is named instead (``kafka-consumer-groups.sh --describe --all-groups`` →
``kafkaops lag``); the ``aws kafka …`` steps stay as written, for MSK clusters.  Two fixes:
the runbook's P0 ``aws kafka list-clusters --query 'ClusterInfoList[0].State'`` reads the state
of whichever cluster the account lists first, so it is replaced by ``describe-cluster`` on
``$MSK_CLUSTER_ARN``; and its P1 step 1 is labelled "check consumer lag" but queries the broker
software version, so the lag check and the describe-cluster call are separate steps.
The runbook defines no procedure for P2; its steps come from the runbook's warning alert
actions and capacity planning sections.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafkaops.core.model import Severity


@dataclass(frozen=True, slots=True)
class Procedure:
    """What the runbook asks of the on-call engineer for one severity."""

    severity: Severity
    name: str
    impact: str
    #: As the runbook words it, e.g. "Immediate (< 5 minutes)".
    response_time: str
    #: The same as a number, for escalation timers.
    response_minutes: int | None
    #: Notification channels, e.g. ("Phone", "SMS", "PagerDuty").
    channels: tuple[str, ...]
    steps: tuple[str, ...]

    @property
    def notification(self) -> str:
        """The runbook's "Notification Method" line, e.g. "PagerDuty + Slack"."""
        return " + ".join(self.channels)


P0 = Procedure(
    severity=Severity.P0,
    name="Emergency",
    impact="Complete service unavailability, affecting all users",
    response_time="Immediate (< 5 minutes)",
    response_minutes=5,
    channels=("Phone", "SMS", "PagerDuty"),
    steps=(
        "Assess impact scope immediately: kafkaops health "
        "(and, where clients run on Kubernetes, kubectl get pods -n kafka-system)",
        "MSK: aws kafka describe-cluster --cluster-arn $MSK_CLUSTER_ARN "
        "--query 'ClusterInfo.State'",
        "If the cluster state is abnormal, initiate disaster recovery: "
        "./scripts/disaster-recovery/initiate-failover.sh",
        'Notify stakeholders: ./scripts/notifications/send-emergency-alert.sh "MSK P0 Event" '
        "(Phone + SMS + PagerDuty)",
    ),
)

P1 = Procedure(
    severity=Severity.P1,
    name="Critical",
    impact="Limited service functionality, some users affected",
    response_time="Within 15 minutes",
    response_minutes=15,
    channels=("PagerDuty", "Slack"),
    steps=(
        "Check consumer lag: kafkaops lag --top 10",
        "MSK: aws kafka describe-cluster --cluster-arn $MSK_CLUSTER_ARN "
        "--query 'ClusterInfo.CurrentBrokerSoftwareInfo'",
        "Analyze consumer group status: kafkaops lag GROUP (members, partitions, what to do)",
        "Check partition distribution and under-replicated partitions: kafkaops health --json "
        "| jq '.findings[] | select(.rule == \"under_replicated_partitions\") | .evidence'",
        "If needed, scale consumers (at most one per partition): "
        "./scripts/scaling/auto-scale-consumers.sh",
    ),
)

P2 = Procedure(
    severity=Severity.P2,
    name="Warning",
    impact="Performance degradation, no user impact",
    response_time="Within 1 hour",
    response_minutes=60,
    channels=("Slack", "Email"),
    steps=(
        "Confirm the trend before it becomes P1: kafkaops health, and for MSK the CloudWatch "
        "AWS/Kafka metric behind the finding (EstimatedMaxTimeLag, CpuUser, "
        "KafkaDataLogsDiskUsed)",
        "Consumer lag: kafkaops lag GROUP, then scale consumers or add partitions",
        "Disk above 80%: plan storage scaling (runbook: +100GB steps, at most 1TB per broker): "
        "aws kafka update-broker-storage --cluster-arn $MSK_CLUSTER_ARN",
        "CPU above 70%: plan broker scaling or a larger instance type",
    ),
)

#: The procedure per severity; ``Severity.OK`` has none.
PROCEDURES: dict[Severity, Procedure] = {p.severity: p for p in (P0, P1, P2)}

#: Response steps per severity (empty for OK): what each triggered Finding carries.
RESPONSE_STEPS: dict[Severity, tuple[str, ...]] = {
    **{s: p.steps for s, p in PROCEDURES.items()},
    Severity.OK: (),
}


def response_for(severity: Severity) -> tuple[str, ...]:
    """The runbook's response steps for ``severity`` (``()`` for OK)."""
    return RESPONSE_STEPS[severity]
