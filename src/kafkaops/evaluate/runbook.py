"""The runbook's response procedures and notification methods, per severity, as data.

Steps are the runbook's, with the shell pipelines kafkaops replaces rewritten as kafkaops
commands (the ``aws kafka …`` steps stay: they apply to MSK clusters).
"""

from __future__ import annotations

from kafkaops.model import Severity

RESPONSE_STEPS: dict[Severity, tuple[str, ...]] = {
    Severity.P0: (
        "Assess impact scope now (response time < 5 minutes): kafkaops health --json",
        "MSK: aws kafka describe-cluster --cluster-arn $MSK_CLUSTER_ARN (ClusterInfo.State)",
        "Check brokers and controller: kafkaops snapshot",
        "If the cluster state is abnormal, initiate disaster recovery (fail over to the backup "
        "cluster)",
        "Notify stakeholders: phone + SMS + PagerDuty (P0 emergency)",
    ),
    Severity.P1: (
        "Respond within 15 minutes; page via PagerDuty + Slack",
        "Check consumer lag and group status: kafkaops snapshot (groups by time lag)",
        "Check partition distribution and under-replicated partitions: kafkaops health --json "
        "| jq '.findings[] | select(.rule==\"under_replicated_partitions\")'",
        "MSK: aws kafka describe-cluster --cluster-arn $MSK_CLUSTER_ARN",
        "If needed, scale consumers (up to the partition count) or brokers",
    ),
    Severity.P2: (
        "Respond within 1 hour; notify Slack + email",
        "Review the trend of the triggering metric (lag, CPU, disk) before it becomes P1",
        "Plan capacity: storage scaling above 80% disk, consumer scaling for growing lag",
    ),
    Severity.OK: (),
}

NOTIFICATION: dict[Severity, dict[str, str]] = {
    Severity.P0: {
        "response_time": "immediate (< 5 minutes)",
        "channels": "Phone + SMS + PagerDuty",
    },
    Severity.P1: {"response_time": "within 15 minutes", "channels": "PagerDuty + Slack"},
    Severity.P2: {"response_time": "within 1 hour", "channels": "Slack + Email"},
    Severity.OK: {"response_time": "-", "channels": "-"},
}


def response_for(severity: Severity) -> tuple[str, ...]:
    return RESPONSE_STEPS[severity]
