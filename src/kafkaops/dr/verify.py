"""Judge a primary/replica pair from collected :class:`DrFacts` (pure: no I/O, no clock).

What the runbook's ``verify-backup.sh`` gets wrong, and what is done here instead:

* It sums *partition numbers* (``awk '{sum+=$3}'``), not records or partition counts.  Here:
  partition counts per topic, compared topic by topic.
* It compares topic names as they are, so under MM2's default policy every topic is
  "missing" (``orders`` is ``primary.orders`` on the replica).  Here: names under the policy.
* It compares raw offsets across clusters, but the replica's offsets are not the primary's
  (the replica starts at 0 when the primary's log start is later; transaction markers and
  compaction shift them).  Here: lag through MM2's offset syncs — upstream position of the
  replica's end = ``u + (replica_end - d)`` for the latest sync ``(u, d)`` — and in seconds
  from the primary's own record timestamp of the first record not yet replicated.
* Consumer positions after a failover are MM2's *translated* offsets (checkpoints), which
  are conservative: the gap a failover replays is computed from them, per group.

Why this module is long: it is every DR rule (topics, partitions, configs, replication lag,
heartbeats, checkpoints and translated offsets, RPO) over one facts object, pure and side by
side so the rules stay consistent with each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.dr.facts import DrFacts
from kafkaops.dr.policy import replicable

RESPONSE_P1 = (
    "Check MirrorMaker 2 / MSK Replicator is running and its connectors are RUNNING",
    "Check the replica cluster's health (kafkaops health on the replica)",
    "Until replication is caught up, a failover loses the records listed as lag",
)
RESPONSE_P2 = ("Review at the next daily backup check; no failover risk beyond the RPO yet",)


@dataclass(frozen=True, slots=True)
class DrTargets:
    rpo_ms: int = 60_000
    rto_ms: int = 300_000
    #: Heartbeats older than this mean MM2 is not writing to the replica.
    heartbeat_max_age_ms: int = 30_000


@dataclass(frozen=True, slots=True)
class TopicCheck:
    topic: str
    remote: str
    status: str  # ok | missing | partition_mismatch | config_diff
    primary_partitions: int
    replica_partitions: int | None
    config_diffs: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    remote: str
    primary_end: int
    replica_end: int | None
    #: Upstream offset of the first primary record not yet on the replica.
    replicated_upto: int | None
    lag_records: int | None
    #: Age of the first unreplicated record (0 when caught up); None when not measurable.
    lag_ms: int | None
    sync: tuple[int, int] | None
    method: str


@dataclass(frozen=True, slots=True)
class GroupPartition:
    group: str
    topic: str
    partition: int
    primary_committed: int
    checkpoint_upstream: int | None
    translated: int | None
    replica_committed: int | None
    #: The primary offset the translated position corresponds to.
    translated_upstream: int | None
    replay_records: int | None
    replay_ms: int | None
    checkpoint_age_ms: int | None


@dataclass(frozen=True, slots=True)
class DrReport:
    checked_at_ms: int
    primary: str
    replica: str
    policy: str
    source_alias: str
    target_alias: str
    severity: Severity
    findings: tuple[Finding, ...]
    topics: tuple[TopicCheck, ...]
    extra_topics: tuple[str, ...]
    partitions: tuple[PartitionLag, ...]
    groups: tuple[GroupPartition, ...]
    heartbeat_age_ms: int | None
    rpo_estimate_ms: int | None
    rpo_evidence: tuple[str, ...]
    targets: DrTargets
    replicator: dict[str, object]
    errors: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["severity"] = self.severity.value
        d["findings"] = [f.to_dict() for f in self.findings]
        d["overall_healthy"] = self.severity is Severity.OK
        return d


# ------------------------------------------------------------------- offset arithmetic
def upstream_of(facts: DrFacts, topic: str, partition: int, downstream: int) -> int | None:
    """The primary offset that replica offset ``downstream`` stands for, from offset syncs.

    Latest sync ``(u, d)`` with ``d <= downstream`` → ``u + (downstream - d)``.  Exact for
    ordinary topics; where the primary has gaps (transaction markers, compaction) it is low,
    so lag is over- rather than under-stated.
    """
    best = None
    for s in facts.offset_syncs.get((topic, partition), []):
        if s.downstream_offset <= downstream and (
            best is None or s.downstream_offset >= best.downstream_offset
        ):
            best = s
    if best is None:
        return None
    return best.upstream_offset + (downstream - best.downstream_offset)


def _latest_sync(facts: DrFacts, topic: str, partition: int, downstream: int) -> Any:
    cands = [
        s
        for s in facts.offset_syncs.get((topic, partition), [])
        if s.downstream_offset <= downstream
    ]
    return max(cands, key=lambda s: s.downstream_offset) if cands else None


def replicated(facts: DrFacts, topic: str) -> bool:
    """Does MM2 replicate primary ``topic`` to this replica: not one of its excluded topics, and
    not a topic that came from the replica itself (a cycle: the failback direction)."""
    return replicable(topic) and not facts.policy.is_cycle(topic, facts.target_alias)


def partition_lags(facts: DrFacts) -> list[PartitionLag]:
    out = []
    replica_topics = facts.replica.topics
    for name, t in sorted(facts.primary.topics.items()):
        if not replicated(facts, name):
            continue
        remote = facts.policy.remote_topic(name)
        r = replica_topics.get(remote)
        for p in range(t.partitions):
            p_end = t.end.get(p, 0)
            p_start = t.start.get(p, 0)
            r_end: int | None = None
            sync_pair: tuple[int, int] | None = None
            sync = None
            if r is not None and p < r.partitions:
                r_end, r_start = r.end.get(p, 0), r.start.get(p, 0)
                sync = _latest_sync(facts, name, p, r_end)
            if r_end is None:
                # Not on the replica at all: every record the primary holds is unprotected.
                upto, method = p_start, "missing on replica"
            elif sync is not None:
                upto = min(p_end, sync.upstream_offset + (r_end - sync.downstream_offset))
                method = "offset-sync"
                sync_pair = (sync.upstream_offset, sync.downstream_offset)
            elif r_end == r_start:
                upto, method = p_start, "nothing replicated"
            else:
                out.append(
                    PartitionLag(
                        name, p, remote, p_end, r_end, None, None, None, None, "no offset sync"
                    )
                )
                continue
            upto = max(upto, p_start)
            lag = max(0, p_end - upto)
            if lag == 0:
                lag_ms: int | None = 0
            else:
                ts = facts.primary_timestamps.get((name, p, upto))
                lag_ms = max(0, facts.collected_at_ms - ts) if ts is not None else None
            out.append(
                PartitionLag(name, p, remote, p_end, r_end, upto, lag, lag_ms, sync_pair, method)
            )
    return out


def group_partitions(facts: DrFacts) -> list[GroupPartition]:
    out = []
    for gid, g in sorted(facts.primary.groups.items()):
        for (topic, p), committed in sorted(g.committed.items()):
            if not replicated(facts, topic) or topic not in facts.primary.topics:
                continue
            remote = facts.policy.remote_topic(topic)
            cp = facts.checkpoints.get((gid, remote, p))
            rg = facts.replica.groups.get(gid)
            r_committed = rg.committed.get((remote, p)) if rg else None
            translated = cp.downstream_offset if cp else None
            up = upstream_of(facts, topic, p, translated) if translated is not None else None
            replay = max(0, committed - up) if up is not None else None
            replay_ms = None
            if replay == 0:
                replay_ms = 0
            elif replay and up is not None:
                first = facts.primary_timestamps.get((topic, p, up))
                last = facts.primary_timestamps.get((topic, p, committed - 1))
                if first is not None and last is not None:
                    replay_ms = max(0, last - first)
            age = (
                facts.collected_at_ms - cp.timestamp_ms
                if cp is not None and cp.timestamp_ms is not None
                else None
            )
            out.append(
                GroupPartition(
                    gid,
                    topic,
                    p,
                    committed,
                    cp.upstream_offset if cp else None,
                    translated,
                    r_committed,
                    up,
                    replay,
                    replay_ms,
                    age,
                )
            )
    return out


def wanted_timestamps(facts: DrFacts) -> list[tuple[str, int, int]]:
    """Primary positions whose record timestamps the lag and replay figures need."""
    want: set[tuple[str, int, int]] = set()
    for lag in partition_lags(facts):
        if lag.lag_records and lag.replicated_upto is not None:
            want.add((lag.topic, lag.partition, lag.replicated_upto))
    for g in group_partitions(facts):
        if g.replay_records and g.translated_upstream is not None:
            want.add((g.topic, g.partition, g.translated_upstream))
            want.add((g.topic, g.partition, g.primary_committed - 1))
    return sorted(want)


# ---------------------------------------------------------------------------- rules
def _finding(
    sev: Severity,
    rule: str,
    title: str,
    subject: str,
    value: float | None,
    threshold: float | None,
    unit: str,
    evidence: list[str],
) -> Finding:
    return Finding(
        rule=rule,
        severity=sev,
        status=CheckStatus.TRIGGERED,
        title=title,
        value=value,
        threshold=threshold,
        unit=unit,
        subject=subject,
        evidence=tuple(evidence[:20]),
        source="dr",
        response=RESPONSE_P1 if sev is Severity.P1 else RESPONSE_P2,
    )


def _secs(ms: int | None) -> str:
    return "unknown" if ms is None else f"{ms / 1000:.1f}s"


def verify(facts: DrFacts, targets: DrTargets | None = None) -> DrReport:
    """Every DR check over ``facts``; findings worst first."""
    tg = targets or DrTargets()
    findings: list[Finding] = []
    errors = [
        e
        for e in (
            facts.primary.error and f"primary {facts.primary.name}: {facts.primary.error}",
            facts.replica.error and f"replica {facts.replica.name}: {facts.replica.error}",
            facts.offset_syncs_error and f"offset syncs: {facts.offset_syncs_error}",
            facts.checkpoints_error and f"checkpoints: {facts.checkpoints_error}",
            facts.heartbeats_error and f"heartbeats: {facts.heartbeats_error}",
        )
        if e
    ]
    for side in (facts.primary, facts.replica):
        if not side.reachable:
            role = "primary" if side is facts.primary else "replica"
            findings.append(
                _finding(
                    Severity.P1,
                    f"dr_{role}_unreachable",
                    f"{role} cluster unreachable: replication cannot be verified",
                    side.name,
                    None,
                    None,
                    "count",
                    [f"{side.bootstrap}: {side.error}"],
                )
            )

    # --- topics under the policy's names
    topics: list[TopicCheck] = []
    extra: list[str] = []
    if facts.primary.reachable and facts.replica.reachable:
        for name, t in sorted(facts.primary.topics.items()):
            if not replicated(facts, name):
                continue
            remote = facts.policy.remote_topic(name)
            r = facts.replica.topics.get(remote)
            if r is None:
                topics.append(TopicCheck(name, remote, "missing", t.partitions, None))
                continue
            diffs = {
                k: (v, r.configs.get(k, "?"))
                for k, v in t.configs.items()
                if r.configs.get(k) is not None and r.configs.get(k) != v
            }
            status = (
                "partition_mismatch"
                if r.partitions != t.partitions
                else "config_diff"
                if diffs
                else "ok"
            )
            topics.append(TopicCheck(name, remote, status, t.partitions, r.partitions, diffs))
        if facts.policy.name == "default":
            for rname in sorted(facts.replica.topics):
                up = facts.policy.upstream_topic(rname)
                if up is not None and up not in facts.primary.topics:
                    extra.append(rname)
        missing = [tc for tc in topics if tc.status == "missing"]
        if missing:
            findings.append(
                _finding(
                    Severity.P1,
                    "dr_missing_topic",
                    f"{len(missing)} topic(s) not on the replica",
                    ",".join(tc.topic for tc in missing[:5]),
                    len(missing),
                    0,
                    "count",
                    [
                        f"{tc.topic} → expected {tc.remote} on {facts.replica.name}"
                        for tc in missing
                    ],
                )
            )
        fewer = [tc for tc in topics if tc.status == "partition_mismatch"]
        for tc in fewer:
            sev = (
                Severity.P1 if (tc.replica_partitions or 0) < tc.primary_partitions else Severity.P2
            )
            findings.append(
                _finding(
                    sev,
                    "dr_partition_count",
                    f"{tc.remote} has {tc.replica_partitions} partition(s), "
                    f"{tc.topic} has {tc.primary_partitions}",
                    tc.topic,
                    tc.replica_partitions,
                    tc.primary_partitions,
                    "count",
                    [
                        f"{tc.topic}: primary {tc.primary_partitions}, "
                        f"replica {tc.replica_partitions}"
                    ],
                )
            )
        diff = [tc for tc in topics if tc.config_diffs]
        if diff:
            findings.append(
                _finding(
                    Severity.P2,
                    "dr_config_diff",
                    f"{len(diff)} topic(s) differ in key configs",
                    "topics",
                    len(diff),
                    0,
                    "count",
                    [
                        f"{tc.topic}: {k} primary={a} replica={b}"
                        for tc in diff
                        for k, (a, b) in tc.config_diffs.items()
                    ],
                )
            )
        if extra:
            findings.append(
                _finding(
                    Severity.P2,
                    "dr_extra_topic",
                    f"{len(extra)} replica topic(s) whose source is gone",
                    "topics",
                    len(extra),
                    0,
                    "count",
                    [
                        f"{n}: no {facts.policy.upstream_topic(n)} on {facts.primary.name}"
                        for n in extra
                    ],
                )
            )

    # --- lag per partition → RPO estimate
    lags = partition_lags(facts) if facts.primary.reachable and facts.replica.reachable else []
    measured = [x for x in lags if x.lag_ms is not None]
    unknown = [x for x in lags if x.lag_records is None]
    no_time = [x for x in lags if x.lag_records and x.lag_ms is None]
    rpo: int | None = None
    evidence: list[str] = []
    if facts.primary.reachable and facts.replica.reachable and not lags:
        rpo = 0
        evidence.append("no replicable topic on the primary: nothing to lose")
    if measured:
        worst = max(measured, key=lambda x: x.lag_ms or 0)
        rpo = worst.lag_ms
        behind = [x for x in lags if x.lag_records]
        evidence.append(
            f"{len(behind)} of {len(lags)} partition(s) behind, "
            f"{sum(x.lag_records or 0 for x in behind)} record(s) in all"
        )
        if worst.lag_records:
            evidence.append(
                f"worst {worst.topic}[{worst.partition}]: {worst.lag_records} record(s), first "
                f"unreplicated at offset {worst.replicated_upto} written {_secs(worst.lag_ms)} ago"
            )
    hb = facts.heartbeats.get((facts.policy.source_alias, facts.target_alias))
    hb_age = max(0, facts.collected_at_ms - hb.timestamp_ms) if hb else None
    if hb_age is not None:
        evidence.append(f"last MM2 heartbeat {_secs(hb_age)} ago")
    if unknown or no_time:
        evidence.append(
            f"{len(unknown) + len(no_time)} partition(s) with lag not measurable: "
            "the RPO is at least the figure above"
        )
    if rpo is not None:
        if rpo > tg.rpo_ms:
            findings.append(
                _finding(
                    Severity.P1,
                    "dr_rpo",
                    f"RPO estimate {_secs(rpo)} above the {_secs(tg.rpo_ms)} target",
                    "replication",
                    rpo,
                    tg.rpo_ms,
                    "ms",
                    evidence,
                )
            )
        elif rpo > tg.rpo_ms // 2:
            findings.append(
                _finding(
                    Severity.P2,
                    "dr_rpo",
                    f"RPO estimate {_secs(rpo)} above half the {_secs(tg.rpo_ms)} target",
                    "replication",
                    rpo,
                    tg.rpo_ms // 2,
                    "ms",
                    evidence,
                )
            )
    if unknown or no_time:
        findings.append(
            _finding(
                Severity.P2,
                "dr_lag_not_measured",
                f"replication lag not measurable for {len(unknown) + len(no_time)} partition(s)",
                "replication",
                len(unknown) + len(no_time),
                0,
                "count",
                [f"{x.topic}[{x.partition}]: {x.method}" for x in unknown]
                + [
                    f"{x.topic}[{x.partition}]: {x.lag_records} record(s) "
                    "behind, timestamp not read"
                    for x in no_time
                ],
            )
        )

    # --- heartbeats
    if facts.replica.reachable:
        if hb is None:
            findings.append(
                _finding(
                    Severity.P1,
                    "dr_heartbeat",
                    "no MM2 heartbeat on the replica (MM2 never ran or writes elsewhere)",
                    "mirror",
                    None,
                    tg.heartbeat_max_age_ms,
                    "ms",
                    [
                        facts.heartbeats_error
                        or f"no heartbeat "
                        f"{facts.policy.source_alias}->{facts.target_alias} in "
                        "'heartbeats'"
                    ],
                )
            )
        elif hb_age is not None and hb_age > tg.heartbeat_max_age_ms:
            sev = Severity.P1 if hb_age > tg.rpo_ms else Severity.P2
            findings.append(
                _finding(
                    sev,
                    "dr_heartbeat",
                    f"last MM2 heartbeat {_secs(hb_age)} ago: replication stalled",
                    "mirror",
                    hb_age,
                    tg.heartbeat_max_age_ms,
                    "ms",
                    [f"heartbeat {hb.source}->{hb.target} at {hb.timestamp_ms} ms"],
                )
            )

    # --- consumer groups: checkpoints and the failover replay
    groups = group_partitions(facts) if facts.primary.reachable else []
    no_cp = sorted({g.group for g in groups if g.translated is None})
    if no_cp:
        findings.append(
            _finding(
                Severity.P2,
                "dr_no_checkpoint",
                f"{len(no_cp)} group(s) without an MM2 checkpoint: no "
                "translated offsets to fail over to",
                ",".join(no_cp[:5]),
                len(no_cp),
                0,
                "count",
                [
                    facts.checkpoints_error
                    or f"no checkpoint for {g} in {facts.policy.checkpoints_topic()}"
                    for g in no_cp
                ],
            )
        )
    long_replay = [g for g in groups if g.replay_ms is not None and g.replay_ms > tg.rpo_ms]
    if long_replay:
        findings.append(
            _finding(
                Severity.P2,
                "dr_replay_gap",
                f"{len({g.group for g in long_replay})} group(s) would replay "
                f"more than {_secs(tg.rpo_ms)} after a failover",
                "groups",
                max(g.replay_ms or 0 for g in long_replay),
                tg.rpo_ms,
                "ms",
                [
                    f"{g.group} {g.topic}[{g.partition}]: {g.replay_records} "
                    f"record(s), {_secs(g.replay_ms)}"
                    for g in long_replay
                ],
            )
        )

    # --- replicator state (MM2 process, MSK Replicator)
    state = facts.replicator.get("state")
    if state is not None and str(state).upper() not in ("RUNNING",):
        findings.append(
            _finding(
                Severity.P1,
                "dr_replicator_state",
                f"replicator is {state}",
                str(facts.replicator.get("name", "")),
                None,
                None,
                "count",
                [f"{k}={v}" for k, v in facts.replicator.items()],
            )
        )

    findings.sort(key=lambda f: (f.severity.rank, f.rule, f.subject))
    return DrReport(
        checked_at_ms=facts.collected_at_ms,
        primary=facts.primary.name,
        replica=facts.replica.name,
        policy=facts.policy.name,
        source_alias=facts.policy.source_alias,
        target_alias=facts.target_alias,
        severity=Severity.worst([f.severity for f in findings]),
        findings=tuple(findings),
        topics=tuple(topics),
        extra_topics=tuple(extra),
        partitions=tuple(lags),
        groups=tuple(groups),
        heartbeat_age_ms=hb_age,
        # With partitions whose lag is unknown the measured maximum is only a lower bound
        # (the rules above still fire on it); the estimate itself is then "unknown".
        rpo_estimate_ms=None if (unknown or no_time) else rpo,
        rpo_evidence=tuple(evidence),
        targets=tg,
        replicator=dict(facts.replicator),
        errors=tuple(errors),
    )


def policy_mismatch(facts: DrFacts) -> str | None:
    """A reason when the replica names its topics as the *other* policy does.

    Every replicable primary topic missing under the configured policy while some are present
    under the other one is a configuration error, not a replica missing everything.
    """
    if not (facts.primary.reachable and facts.replica.reachable):
        return None
    names = [t for t in facts.primary.topics if replicated(facts, t)]
    if not names:
        return None
    pol = facts.policy
    if any(pol.remote_topic(t) in facts.replica.topics for t in names):
        return None
    other = "identity" if pol.name == "default" else "default"
    alt = type(pol)(other, pol.source_alias, pol.separator)  # type: ignore[arg-type]
    found = [t for t in names if alt.remote_topic(t) in facts.replica.topics]
    if not found:
        return None
    return (
        f"policy mismatch: replication policy {pol.name!r} expects e.g. "
        f"{pol.remote_topic(found[0])!r} on {facts.replica.name}, but the replica has "
        f"{alt.remote_topic(found[0])!r} ({len(found)} topic(s) named as the {other!r} policy "
        "names them); set dr.replication_policy"
    )
