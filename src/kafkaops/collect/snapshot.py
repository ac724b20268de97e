"""Snapshot assembly: the admin protocol's answers turned into one :class:`ClusterSnapshot`.

Round trips are bounded by the number of brokers, never by the number of groups or topics:

* Metadata + DescribeCluster + DescribeQuorum: once each;
* DescribeConfigs (min.insync.replicas of every topic): once;
* ListOffsets: one per partition leader for log-start and one for log-end;
* ListGroups: one per broker; FindCoordinator: one batched request (v4+, KIP-699);
* DescribeGroups and OffsetFetch (v8+, KIP-709): one per group coordinator;
* DescribeLogDirs: one per broker.

Every request has a timeout (``request_timeout_ms``); a broker that does not answer is recorded
in ``snapshot.errors`` and marked unreachable instead of failing the whole snapshot.  The only
fatal case is a cluster where no bootstrap server answers: :class:`ClusterUnreachable`.

The kafka-python adapter is :mod:`kafkaops.collect.admin`; the exact time-lag reader is
:mod:`kafkaops.collect.record_time`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Coroutine, Iterable, Mapping
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.protocol.consumer import OffsetSpec

from kafkaops.collect.admin import (
    CollectOptions,
    Errors,
    KafkaAdmin,
    bootstrap_text,
    error_text,
)
from kafkaops.collect.record_time import with_exact_time_lag
from kafkaops.core.errors import ClusterUnreachable
from kafkaops.core.model import (
    Broker,
    ClusterSnapshot,
    ConsumerGroup,
    GroupMember,
    LogDir,
    PartitionLag,
    PartitionState,
    Topic,
    new_partition_lag,
    new_partition_state,
)


def collect_snapshot(
    cluster_name: str,
    client_kwargs: Mapping[str, Any],
    options: CollectOptions | None = None,
) -> ClusterSnapshot:
    """Take one snapshot; raises :class:`ClusterUnreachable` if no bootstrap server answers.

    After DescribeCluster, three chains of requests side by side (a few requests per broker
    each): topics (metadata, then configs and log-start/log-end offsets per leader), groups
    (list per broker, coordinators, then descriptions and committed offsets per coordinator)
    and log dirs per broker; then the quorum.  Then, optionally, exact time lag from one
    record per lagging position.
    """
    options = options or CollectOptions()
    started = time.monotonic()
    taken_at_ms = int(time.time() * 1000)
    errors = Errors()
    with KafkaAdmin(client_kwargs, options) as admin:
        try:
            cluster = admin.describe_cluster()
        except KafkaError as exc:
            raise ClusterUnreachable(f"cluster unreachable: DescribeCluster failed: {exc}") from exc
        brokers_raw = {b["broker_id"]: b for b in cluster.get("brokers", [])}
        # A fenced broker is registered but not heartbeating (stopped, crashed, partitioned):
        # report it as down and do not wait on requests to it.
        fenced = {bid for bid, b in brokers_raw.items() if b.get("is_fenced")}
        live = sorted(set(brokers_raw) - fenced)
        unreachable: dict[int, str] = {
            bid: "fenced: registered but not heartbeating to the controller" for bid in fenced
        }

        # Three chains side by side after DescribeCluster (a chain's next request goes out
        # as soon as its own answers are in, not when the slowest broker of a phase is done):
        # topics (Metadata, then configs and log-start/log-end offsets per leader), groups
        # (ListGroups per broker, FindCoordinator, then DescribeGroups and OffsetFetch per
        # coordinator) and log dirs.  Metadata goes to the broker that just answered
        # DescribeCluster.  DescribeQuorum goes last: brokers forward it to the controller,
        # and Kafka answers one request at a time per connection, so with no controller it
        # would hold up every request queued behind it.
        chains: list[Coroutine[Any, Any, Any]] = [
            _topics_chain(admin, options),
            _groups_chain(admin, live),
        ]
        if options.include_log_dirs:
            chains.append(admin.agather([admin.log_dirs_call(b) for b in live]))
        topics_res, groups_res, *dirs_res = admin.pipeline(*chains)
        if isinstance(topics_res, BaseException):
            raise ClusterUnreachable(f"cluster unreachable: Metadata failed: {topics_res}")
        if isinstance(groups_res, BaseException):  # a bug in the chain, not a broker's answer
            raise groups_res
        raw_topics, by_leader, configs_raw, starts_raw, ends_raw = topics_res
        listed_raw, coords_raw, nodes, by_coordinator, described = groups_res

        listed: dict[str, dict[str, Any]] = {}
        for broker_id, res in zip(live, listed_raw, strict=True):
            if isinstance(res, BaseException):
                errors.add("ListGroups", f"broker {broker_id}", res)
                unreachable[broker_id] = error_text(res)
            else:
                listed.update((g["group_id"], g) for g in res)
        log_dirs: list[LogDir] = []
        for broker_id, res in zip(live, dirs_res[0] if dirs_res else [], strict=False):
            if isinstance(res, BaseException):
                errors.add("DescribeLogDirs", f"broker {broker_id}", res)
                unreachable[broker_id] = error_text(res)
            else:
                log_dirs.extend(_parse_log_dirs(broker_id, res))

        configs = _parse_configs(configs_raw, errors)
        leaders = sorted(by_leader)
        starts = _offsets_or_retry(
            admin, by_leader, leaders, starts_raw, OffsetSpec.EARLIEST, "log-start", errors
        )
        ends = _offsets_or_retry(
            admin, by_leader, leaders, ends_raw, OffsetSpec.LATEST, "log-end", errors
        )
        topics = _build_topics(raw_topics, configs, starts, ends, errors)
        if isinstance(coords_raw, BaseException):
            errors.add("FindCoordinator", "groups", coords_raw)
            coords_raw = {}

        groups = _groups(
            admin, listed, coords_raw, nodes, by_coordinator, described, topics, errors
        )
        quorum_leader: int | None = None
        voters: tuple[int, ...] = ()
        if options.include_quorum:
            [quorum_raw] = admin.gather([admin.quorum_call()])
            quorum_leader, voters = _parse_quorum(quorum_raw, errors)
        round_trips = dict(admin.round_trips)
    if options.time_lag_method == "exact":
        groups, rounds = with_exact_time_lag(groups, client_kwargs, options, taken_at_ms, errors)
        if rounds:
            round_trips["Fetch rounds (time lag)"] = rounds
    brokers = tuple(
        Broker(
            node_id=b["broker_id"],
            host=b["host"],
            port=b["port"],
            rack=b.get("rack"),
            reachable=b["broker_id"] not in unreachable,
            error=unreachable.get(b["broker_id"]),
        )
        for _, b in sorted(brokers_raw.items())
    )
    return ClusterSnapshot(
        cluster_name=cluster_name,
        bootstrap=bootstrap_text(client_kwargs),
        taken_at_ms=taken_at_ms,
        duration_ms=int((time.monotonic() - started) * 1000),
        cluster_id=cluster.get("cluster_id"),
        controller_id=cluster.get("controller_id"),
        quorum_leader_id=quorum_leader,
        quorum_voters=voters,
        brokers=brokers,
        topics=tuple(topics),
        groups=tuple(groups),
        log_dirs=tuple(log_dirs),
        errors=tuple(errors.items),
        round_trips=round_trips,
    )


async def _topics_chain(admin: KafkaAdmin, options: CollectOptions) -> tuple[Any, ...]:
    """Metadata, then (concurrently) topic configs and log-start/log-end offsets per leader.

    Raises when Metadata fails: without it there is no snapshot.
    """
    [metadata] = await admin.agather([admin.metadata_call()])
    if isinstance(metadata, BaseException):
        raise metadata
    raw_topics = metadata["topics"]
    by_leader: dict[int, list[TopicPartition]] = defaultdict(list)
    for t in raw_topics:
        for p in t.get("partitions", []):
            if p.get("leader_id", -1) >= 0:
                by_leader[p["leader_id"]].append(TopicPartition(t["name"], p["partition_index"]))
    names = sorted(t["name"] for t in raw_topics if not t.get("error_code"))
    leaders = sorted(by_leader)
    calls = [admin.leader_offsets_call(b, by_leader[b], OffsetSpec.EARLIEST) for b in leaders]
    calls += [admin.leader_offsets_call(b, by_leader[b], OffsetSpec.LATEST) for b in leaders]
    keys = ["min.insync.replicas", "retention.ms", "retention.bytes"]
    with_configs = bool(names) and options.include_topic_configs
    if with_configs:
        calls.append(admin.topic_configs_call(names, keys))
    results = await admin.agather(calls)
    n = len(leaders)
    configs_raw = results[2 * n] if with_configs else {}
    return raw_topics, by_leader, configs_raw, results[:n], results[n : 2 * n]


async def _groups_chain(admin: KafkaAdmin, live: list[int]) -> tuple[Any, ...]:
    """ListGroups on every live broker, FindCoordinator for all of them in one request, then
    DescribeGroups and OffsetFetch per coordinator (results are parsed by :func:`_groups`)."""
    listed_raw = await admin.agather([admin.list_groups_call(b) for b in live])
    group_ids = sorted(
        {g["group_id"] for res in listed_raw if not isinstance(res, BaseException) for g in res}
    )
    if not group_ids:
        return listed_raw, {}, [], {}, []
    [coords_raw] = await admin.agather([admin.find_coordinators_call(group_ids)])
    by_coordinator: dict[int, list[str]] = defaultdict(list)
    if not isinstance(coords_raw, BaseException):
        for gid, node in coords_raw.items():
            if node is not None and node >= 0:
                by_coordinator[node].append(gid)
    nodes = sorted(by_coordinator)
    calls = [admin.describe_groups_call(by_coordinator[n], n) for n in nodes]
    calls += [admin.group_offsets_call(by_coordinator[n], n) for n in nodes]
    return listed_raw, coords_raw, nodes, by_coordinator, await admin.agather(calls)


def _parse_quorum(raw: Any, errors: Errors) -> tuple[int | None, tuple[int, ...]]:
    """Active KRaft controller and voters; (None, ()) when the cluster cannot tell us."""
    if isinstance(raw, BaseException):
        # ZooKeeper clusters and old brokers do not support it; a KRaft cluster without a
        # quorum leader fails it.  The evaluator tells the two apart from the message.
        errors.add("DescribeQuorum", "controller quorum", raw)
        return None, ()
    for topic in raw.get("topics", []):
        for part in topic.get("partitions", []):
            voters = tuple(v["replica_id"] for v in part.get("current_voters", []))
            leader = part.get("leader_id")
            return (leader if leader is not None and leader >= 0 else None), voters
    return None, ()


def _parse_configs(raw: Any, errors: Errors) -> dict[str, dict[str, str]]:
    if isinstance(raw, BaseException):
        errors.add("DescribeConfigs", "topics", raw)
        return {}
    out: dict[str, dict[str, str]] = {}
    for name, entries in (raw or {}).get("topic", {}).items():
        out[name] = {k: v.get("value") for k, v in entries.items() if v.get("value") is not None}
    return out


def _offsets_or_retry(
    admin: KafkaAdmin,
    by_leader: Mapping[int, list[TopicPartition]],
    leaders: list[int],
    raws: list[Any],
    spec: OffsetSpec,
    what: str,
    errors: Errors,
) -> dict[tuple[str, int], int]:
    """Per-leader ListOffsets results; partitions that failed (a leader that did not answer,
    leadership that moved) are asked again of their leaders in one fresh Metadata, so one bad
    leader hides as little as possible.

    One Metadata for every retried partition, not kafka-python's ``list_partition_offsets`` per
    topic: that refreshes the whole cluster's metadata for each call, and a leader election
    on a 1,000-topic cluster then cost over 1,600 full Metadata round trips.
    """
    out: dict[tuple[str, int], int] = {}
    retry: list[TopicPartition] = []
    for leader, raw in zip(leaders, raws, strict=True):
        if isinstance(raw, BaseException):
            errors.add("ListOffsets", f"{what} on broker {leader}", raw)
            retry.extend(by_leader[leader])
        else:
            found, failed = raw
            out.update(found)
            retry.extend(failed)
    if not retry:
        return out
    [metadata] = admin.gather([admin.metadata_call()])
    if isinstance(metadata, BaseException):
        errors.add("Metadata", f"{what} retry of {len(retry)} partitions", metadata)
        return out
    leader_of = {
        (t["name"], p["partition_index"]): p.get("leader_id", -1)
        for t in metadata["topics"]
        for p in t.get("partitions", [])
    }
    again: dict[int, list[TopicPartition]] = defaultdict(list)
    lost: dict[str, list[int]] = defaultdict(list)  # topic → partitions still without offsets
    for tp in retry:
        leader = leader_of.get((tp.topic, tp.partition), -1)
        if leader >= 0:
            again[leader].append(tp)
        else:
            lost[tp.topic].append(tp.partition)
    nodes = sorted(again)
    results = admin.gather([admin.leader_offsets_call(n, again[n], spec) for n in nodes])
    for node, res in zip(nodes, results, strict=True):
        if isinstance(res, BaseException):
            errors.add("ListOffsets", f"{what} retry on broker {node}", res)
            continue
        found, failed = res
        out.update(found)
        for tp in failed:
            lost[tp.topic].append(tp.partition)
    for topic, partitions in sorted(lost.items()):
        listed = ", ".join(str(p) for p in sorted(partitions))
        errors.add("ListOffsets", f"{what} {topic}", f"partitions {listed}: no answer twice")
    return out


def _build_topics(
    raw_topics: list[dict[str, Any]],
    configs: dict[str, dict[str, str]],
    starts: dict[tuple[str, int], int],
    ends: dict[tuple[str, int], int],
    errors: Errors,
) -> list[Topic]:
    topics = []
    for t in sorted(raw_topics, key=lambda t: t["name"]):
        if t.get("error_code"):
            errors.add("Metadata", f"topic {t['name']}", f"error code {t['error_code']}")
            continue
        cfg = configs.get(t["name"], {})
        min_isr = int(cfg.get("min.insync.replicas", 1))
        name = t["name"]
        parts = tuple(
            new_partition_state(
                name,
                p["partition_index"],
                p.get("leader_id", -1),
                tuple(p.get("replica_nodes", ())),
                tuple(p.get("isr_nodes", ())),
                tuple(p.get("offline_replicas", ())),
                min_isr,
                starts.get((name, p["partition_index"])),
                ends.get((name, p["partition_index"])),
            )
            for p in sorted(t.get("partitions", []), key=lambda p: p["partition_index"])
        )
        topics.append(Topic(t["name"], bool(t.get("is_internal")), parts, cfg))
    return topics


def _groups(
    admin: KafkaAdmin,
    listed: dict[str, dict[str, Any]],
    coordinators: dict[str, int],
    nodes: list[int],
    by_coordinator: Mapping[int, list[str]],
    results: list[Any],
    topics: list[Topic],
    errors: Errors,
) -> list[ConsumerGroup]:
    """Groups from the DescribeGroups and OffsetFetch answers of :func:`_groups_chain` (one
    request of each kind per coordinator, ``results`` in that order)."""
    if not listed:
        return []
    group_ids = sorted(listed)
    descriptions: dict[str, dict[str, Any]] = {}
    offsets: dict[str, dict[tuple[str, int], int]] = {}
    group_errors: dict[str, str] = {}
    for node, res in zip(nodes, results[: len(nodes)], strict=True):
        if isinstance(res, BaseException):
            errors.add("DescribeGroups", f"coordinator {node}", res)
            for gid in by_coordinator[node]:
                group_errors[gid] = f"describe failed: {res}"
        else:
            descriptions.update(res)
    for node, res in zip(nodes, results[len(nodes) :], strict=True):
        if isinstance(res, BaseException):
            errors.add("OffsetFetch", f"coordinator {node}", res)
            offsets.update(
                _group_offsets_one_by_one(admin, by_coordinator[node], node, group_errors)
            )
        else:
            offsets.update(res)
    for gid in group_ids:
        if coordinators.get(gid) in (None, -1):
            group_errors.setdefault(gid, "no coordinator available")

    partitions = {(p.topic, p.partition): p for t in topics for p in t.partitions}
    result = []
    for gid in group_ids:
        desc = descriptions.get(gid, {})
        members = tuple(_member(m) for m in desc.get("members", []) or [])
        owner = {tp: m.member_id for m in members for tp in m.assignment}
        committed = offsets.get(gid, {})
        keys = sorted(set(committed) | set(owner))
        lags = tuple(
            _partition_lag(key, committed.get(key), partitions.get(key), owner.get(key))
            for key in keys
        )
        result.append(
            ConsumerGroup(
                group_id=gid,
                state=desc.get("group_state") or listed[gid].get("group_state") or "Unknown",
                protocol_type=listed[gid].get("protocol_type", ""),
                coordinator=coordinators.get(gid),
                members=members,
                partitions=lags,
                error=desc.get("error") or group_errors.get(gid),
            )
        )
    return result


def _group_offsets_one_by_one(
    admin: KafkaAdmin, gids: list[str], coordinator: int, group_errors: dict[str, str]
) -> dict[str, dict[tuple[str, int], int]]:
    """Fallback when a coordinator's batched OffsetFetch failed.

    kafka-python raises on the first group-level error, so one group that is loading or
    migrating would otherwise hide every other group's offsets.
    """
    out: dict[str, dict[tuple[str, int], int]] = {}
    results = admin.gather([admin.group_offsets_call([gid], coordinator) for gid in gids])
    for gid, res in zip(gids, results, strict=True):
        if isinstance(res, BaseException):
            group_errors[gid] = f"offset fetch failed: {res}"
        else:
            out.update(res)
    return out


def _member(raw: Mapping[str, Any]) -> GroupMember:
    assignment: list[tuple[str, int]] = []
    data = raw.get("member_assignment")
    if isinstance(data, Mapping):
        for entry in data.get("assigned_partitions", []) or []:
            assignment.extend((entry["topic"], p) for p in entry.get("partitions", []))
    return GroupMember(
        member_id=raw.get("member_id", ""),
        client_id=raw.get("client_id", ""),
        host=str(raw.get("client_host", "")).lstrip("/"),
        assignment=tuple(sorted(assignment)),
    )


def _partition_lag(
    key: tuple[str, int],
    committed: int | None,
    part: PartitionState | None,
    member: str | None,
) -> PartitionLag:
    """Lag as ``max(0, log_end − committed)``, committed clamped up to the log start."""
    start = part.log_start_offset if part else None
    end = part.log_end_offset if part else None
    if committed is not None and committed < 0:
        committed = None  # the protocol's "no offset" sentinel
    lag: int | None = None
    below_start = False
    if committed is not None and end is not None:
        effective = committed
        if start is not None and committed < start:
            below_start = True
            effective = start
        lag = max(0, end - effective)
    return new_partition_lag(
        key[0], key[1], committed, start, end, lag, below_start, member, None, None
    )


def _parse_log_dirs(broker_id: int, raw: Iterable[Mapping[str, Any]]) -> list[LogDir]:
    out = []
    for entry in raw:
        for d in entry.get("log_dirs", []):
            sizes = {
                f"{t['name']}-{p['partition_index']}": int(p.get("partition_size", 0))
                for t in d.get("topics", [])
                for p in t.get("partitions", [])
                if not p.get("is_future_key")
            }
            total = d.get("total_bytes")
            usable = d.get("usable_bytes")
            out.append(
                LogDir(
                    broker=broker_id,
                    path=d.get("log_dir", ""),
                    error=None if not d.get("error_code") else f"error code {d['error_code']}",
                    partition_bytes=sizes,
                    total_bytes=total if total is not None and total >= 0 else None,
                    usable_bytes=usable if usable is not None and usable >= 0 else None,
                )
            )
    return out
