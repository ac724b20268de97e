"""Pure runbook rules: a snapshot (plus optional broker metrics) in, findings out.

One :class:`Finding` per rule and subject, with status ok / triggered / not_measured, so a report
shows what was checked and what could not be, not only what failed: a rule with no data is
never silently healthy.  No I/O here; everything is unit-testable with hand-built snapshots.

Severity mapping (runbook "Emergency Incident Classification" and its thresholds tables):

* P0: cluster offline, offline partitions, no active controller, data loss;
* P1: the "Critical Thresholds" and P1 triggers (URP, lag > 5m, CPU > 90%, …) plus two facts the
  runbook implies: partitions under min.insync.replicas (acks=all producers fail) and registered
  brokers that do not answer;
* P2: the "Warning Thresholds".

A threshold is crossed when the value is *strictly greater* ("lag > 5 minutes"): exactly at
the threshold is not triggered.  Rule ids are API (JSON output, alert dedup keys): keep them.
"""

from __future__ import annotations

from collections.abc import Mapping

from kafkaops.balance.diagnosis import partition_imbalance_finding
from kafkaops.balance.settings import BalanceSettings
from kafkaops.core.model import ClusterSnapshot, Finding, Severity
from kafkaops.evaluate.findings import result
from kafkaops.evaluate.rules.availability import (
    active_controller,
    data_loss,
    offline_partitions,
    unreachable,
)
from kafkaops.evaluate.rules.consumers import consumer_lag, consumer_status
from kafkaops.evaluate.rules.metrics import metric_rules
from kafkaops.evaluate.rules.replication import (
    broker_unreachable,
    under_min_isr_partitions,
    under_replicated_partitions,
)
from kafkaops.evaluate.rules.resources import disk_usage
from kafkaops.evaluate.settings import Thresholds
from kafkaops.lag.status import GroupStatus

__all__ = ["evaluate"]


def evaluate(
    snapshot: ClusterSnapshot | None,
    thresholds: Thresholds,
    *,
    reachable: bool = True,
    unreachable_reason: str | None = None,
    statuses: Mapping[str, GroupStatus] | None = None,
    balance: BalanceSettings | None = None,
) -> list[Finding]:
    """Every runbook rule against one snapshot, in :data:`RULES` order.

    The snapshot's broker metrics (``snapshot.metrics``, from the configured sources) supply
    the metric-only rules; rules without values are reported as not measured.
    When the cluster is unreachable only ``cluster_offline`` is measured.
    """
    if snapshot is None or not reachable:
        return unreachable(unreachable_reason)
    crit, warn = thresholds.critical, thresholds.warning
    return [
        result("cluster_offline", Severity.P0, False, None, None),
        offline_partitions(snapshot, crit.offline_partitions),
        active_controller(snapshot),
        data_loss(snapshot),
        under_replicated_partitions(snapshot, crit.under_replicated_partitions),
        under_min_isr_partitions(snapshot),
        broker_unreachable(snapshot),
        *consumer_lag(snapshot, crit.consumer_lag, warn.consumer_lag),
        *consumer_status(statuses),
        *disk_usage(snapshot, thresholds),
        *metric_rules(snapshot.metrics, thresholds),
        *_imbalance(snapshot, balance),
    ]


def _imbalance(snapshot: ClusterSnapshot, balance: BalanceSettings | None) -> list[Finding]:
    """The runbook's "Partition Imbalance" check (P2), with the balance section's band."""
    if balance is None:
        return []
    return [
        partition_imbalance_finding(
            snapshot, tolerance=balance.tolerance / 100, min_disk_bytes=balance.min_disk_bytes
        )
    ]
