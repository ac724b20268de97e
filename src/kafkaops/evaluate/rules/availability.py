"""Availability rules (P0): cluster offline, offline partitions, active controller, data loss.

Split from the replication, consumer and resource rules so each concern reads on its own; the
order in which :func:`kafkaops.evaluate.rules.evaluate` reports them is the runbook's.
"""

from __future__ import annotations

from kafkaops.core.model import CheckStatus, ClusterSnapshot, Finding, Severity
from kafkaops.evaluate.findings import RULES, not_measured, result
from kafkaops.evaluate.rules.metrics import controller_facts, count_fact, with_evidence
from kafkaops.evaluate.rules.partitions import describe, id_list, user_first


def unreachable(reason: str | None) -> list[Finding]:
    """No broker answered: ``cluster_offline`` triggers and every other rule is not measured."""
    offline = result(
        "cluster_offline",
        Severity.P0,
        True,
        None,
        None,
        evidence=[reason or "no broker answered"],
    )
    others = [not_measured(rule, "cluster unreachable") for rule in RULES if rule != offline.rule]
    return [offline, *others]


def offline_partitions(snapshot: ClusterSnapshot, threshold: int) -> Finding:
    """Offline partitions from metadata; the controller's OfflinePartitionsCount (JMX /
    CloudWatch) is shown next to it and decides when it reports more."""
    offline = user_first(snapshot.offline_partitions)
    reported, label, facts = count_fact(
        snapshot.metrics, "OfflinePartitionsCount", lambda m: m.offline_partitions_count()
    )
    count, source = len(offline), "admin"
    if reported is not None and reported > count:
        count, source = reported, label or source
    finding = result(
        "offline_partitions",
        Severity.P0,
        count > threshold,
        count,
        threshold,
        evidence=[describe(p) for p in offline],
        source=source,
    )
    return with_evidence(finding, facts)


def _quorum_errors(snapshot: ClusterSnapshot) -> list[str]:
    return [e.message for e in snapshot.errors if e.source == "DescribeQuorum"]


def zookeeper_mode(snapshot: ClusterSnapshot) -> bool:
    """DescribeQuorum unsupported: a ZooKeeper-mode (or pre-3.3) cluster, no KRaft quorum."""
    return any("Unsupported" in m or "Incompatible" in m for m in _quorum_errors(snapshot))


def active_controller(snapshot: ClusterSnapshot) -> Finding:
    """The admin protocol's verdict, with the controllers' own ActiveControllerCount as
    evidence; when the admin protocol cannot tell (not allowed to ask, or nothing reported),
    the metric decides."""
    admin = _active_controller_admin(snapshot)
    count, label, facts = controller_facts(snapshot.metrics)
    if admin.status == CheckStatus.NOT_MEASURED and count is not None:
        ok = count >= 1
        evidence = [] if ok else ["no node reports itself as the active controller"]
        finding = result(
            "active_controller",
            Severity.P0,
            not ok,
            count,
            1,
            evidence=evidence,
            source=label or "metrics",
        )
        return with_evidence(finding, [*facts, *admin.evidence])
    return with_evidence(admin, facts)


def _active_controller_admin(snapshot: ClusterSnapshot) -> Finding:
    """KRaft: the quorum must have a leader.  ZooKeeper mode: metadata must name a controller.

    A DescribeQuorum that fails is read as "no controller" (that is how a KRaft cluster
    without a quorum leader answers), except an authorization failure, which only means we
    may not ask.
    """
    rule = "active_controller"
    if snapshot.quorum_leader_id is not None:
        return result(rule, Severity.P0, False, 1, 1)
    if snapshot.quorum_voters:
        voters = f"quorum voters {id_list(snapshot.quorum_voters)}, no leader"
        return result(rule, Severity.P0, True, 0, 1, evidence=[voters])
    errors = _quorum_errors(snapshot)
    if not errors:
        return not_measured(rule, "the controller quorum was not reported")
    if zookeeper_mode(snapshot):
        ok = snapshot.controller_id is not None and snapshot.controller_id >= 0
        evidence = [] if ok else ["ZooKeeper mode: metadata names no controller"]
        return result(rule, Severity.P0, not ok, int(ok), 1, evidence=evidence)
    if any("Authorization" in m for m in errors):
        return not_measured(
            rule,
            f"not allowed to describe the controller quorum: {errors[0]} (needs DESCRIBE "
            "on the cluster; MSK IAM: kafka-cluster:DescribeCluster)",
        )
    return result(rule, Severity.P0, True, 0, 1, evidence=[f"DescribeQuorum failed: {errors[0]}"])


def data_loss(snapshot: ClusterSnapshot) -> Finding:
    lost = [
        f"group {g.group_id}: {p.topic}-{p.partition} committed {p.committed} < log start "
        f"{p.log_start_offset}"
        for g in sorted(snapshot.groups, key=lambda g: g.group_id)
        for p in g.partitions
        if p.committed_below_log_start
    ]
    return result("data_loss", Severity.P0, bool(lost), len(lost), 0, evidence=lost)


def active_controller_id(snapshot: ClusterSnapshot) -> int | None:
    """The node the report names as active controller (quorum leader, or ZooKeeper-mode
    controller), None when unknown."""
    if snapshot.quorum_leader_id is not None or snapshot.quorum_voters:
        return snapshot.quorum_leader_id
    return snapshot.controller_id if zookeeper_mode(snapshot) else None
