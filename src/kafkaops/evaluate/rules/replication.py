"""Replication rules (P1): under-replicated partitions, partitions under min.insync.replicas,
registered brokers that do not answer.

:func:`under_replicated` and :func:`under_min_isr` are also the counts the report's summary
shows, so the summary and the findings always agree.
"""

from __future__ import annotations

from collections.abc import Sequence

from kafkaops.core.model import ClusterSnapshot, Finding, PartitionState, Severity
from kafkaops.evaluate.findings import plural, result
from kafkaops.evaluate.rules.metrics import count_fact, with_evidence
from kafkaops.evaluate.rules.partitions import describe, user_first


def under_replicated(snapshot: ClusterSnapshot) -> list[PartitionState]:
    """Under-replicated partitions that still have a leader.

    Offline partitions are P0 on their own and, as in Kafka's UnderReplicatedPartitions metric
    (counted by leaders), are not counted again here.
    """
    return user_first(p for p in snapshot.under_replicated_partitions if not p.offline)


def under_min_isr(snapshot: ClusterSnapshot) -> list[PartitionState]:
    """Partitions with a leader but fewer in-sync replicas than min.insync.replicas."""
    return user_first(p for p in snapshot.under_min_isr_partitions if not p.offline)


def _missing_from_isr(partitions: Sequence[PartitionState]) -> str | None:
    """``brokers missing from ISR: 2 (3 partitions)``: usually points at one sick broker."""
    missing: dict[int, int] = {}
    for p in partitions:
        for broker in set(p.replicas) - set(p.isr):
            missing[broker] = missing.get(broker, 0) + 1
    if not missing:
        return None
    return "brokers missing from ISR: " + ", ".join(
        f"{b} ({plural(n, 'partition')})" for b, n in sorted(missing.items())
    )


def under_replicated_partitions(snapshot: ClusterSnapshot, threshold: int) -> Finding:
    """From metadata (replicas vs ISR); the brokers' UnderReplicatedPartitions metric is shown
    next to it and decides when it reports more (metadata can lag the leaders' view)."""
    urp = under_replicated(snapshot)
    summary = _missing_from_isr(urp)
    evidence = ([summary] if summary else []) + [describe(p) for p in urp]
    reported, label, facts = count_fact(
        snapshot.metrics, "UnderReplicatedPartitions", lambda m: m.under_replicated_count()
    )
    count, source = len(urp), "admin"
    if reported is not None and reported > count:
        count, source = reported, label or source
    finding = result(
        "under_replicated_partitions",
        Severity.P1,
        count > threshold,
        count,
        threshold,
        evidence=evidence,
        source=source,
    )
    return with_evidence(finding, facts)


def under_min_isr_partitions(snapshot: ClusterSnapshot) -> Finding:
    parts = under_min_isr(snapshot)
    return result(
        "under_min_isr_partitions",
        Severity.P1,
        bool(parts),
        len(parts),
        0,
        evidence=[f"{describe(p)} min.insync.replicas {p.min_isr}" for p in parts],
    )


def broker_unreachable(snapshot: ClusterSnapshot) -> Finding:
    bad = [b for b in snapshot.brokers if not b.reachable]
    return result(
        "broker_unreachable",
        Severity.P1,
        bool(bad),
        len(bad),
        0,
        evidence=[f"broker {b.node_id} {b.host}:{b.port}: {b.error or 'no answer'}" for b in bad],
    )
