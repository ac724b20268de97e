"""Cluster snapshot from the Kafka admin protocol (kafka-python behind a small adapter).

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
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.protocol.consumer import OffsetSpec
from kafka.protocol.consumer.offsets import IsolationLevel
from kafka.protocol.metadata import MetadataRequest

from kafkaops.errors import ClusterUnreachable
from kafkaops.model import (
    Broker,
    ClusterSnapshot,
    CollectionError,
    ConsumerGroup,
    GroupMember,
    LogDir,
    PartitionLag,
    PartitionState,
    Topic,
)

log = logging.getLogger(__name__)

# kafka-python logs its whole configuration (SASL password included) at DEBUG when a client
# starts; never let that reach a handler, whatever the root log level is.
for _name in ("kafka", "kafka.admin", "kafka.conn", "kafka.net", "kafka.client"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class CollectOptions:
    """How much to collect and how long to wait for it."""

    request_timeout_ms: int = 10_000
    connect_timeout_ms: int = 5_000
    #: "exact" reads the first unconsumed record's timestamp; "none" skips time lag.
    time_lag_method: str = "exact"
    #: Budget for exact time lag: distinct (partition, offset) positions to read …
    time_lag_max_positions: int = 5_000
    #: … and wall time to spend reading them.
    time_lag_budget_ms: int = 5_000
    include_log_dirs: bool = True
    client_id: str = "kafkaops"


@dataclass
class _Errors:
    items: list[CollectionError] = field(default_factory=list)

    def add(self, source: str, target: str, exc: BaseException | str) -> None:
        message = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        self.items.append(CollectionError(source, target, str(message)[:500]))


class KafkaAdmin:
    """Thin adapter over kafka-python's admin client: plain data in, plain data out.

    Keeps kafka-python's quirks in one place: counting requests, its ``describe_groups`` that
    raises ``ValueError`` on an ACL operation code it does not know (we do not need ACL
    operations, so they are passed through untouched), and per-broker error isolation.
    """

    def __init__(self, client_kwargs: Mapping[str, Any], options: CollectOptions) -> None:
        self.options = options
        self.client_kwargs = dict(client_kwargs)
        self.round_trips: Counter[str] = Counter()
        kwargs = {
            "client_id": options.client_id,
            "request_timeout_ms": options.request_timeout_ms,
            "bootstrap_timeout_ms": options.connect_timeout_ms,
            **self.client_kwargs,
        }
        servers = _bootstrap_text(kwargs)
        try:
            self._admin = KafkaAdminClient(**kwargs)
        except KafkaTimeoutError as exc:
            # kafka-python retries failed SASL handshakes until the bootstrap timeout, so a
            # wrong password looks like silence: say both.
            why = " (or authentication failed)" if kwargs.get("sasl_mechanism") else ""
            raise ClusterUnreachable(
                f"cluster unreachable: no broker answered{why} at {servers} "
                f"within {options.connect_timeout_ms / 1000:g}s"
            ) from exc
        except KafkaError as exc:
            raise ClusterUnreachable(f"cluster unreachable at {servers}: {exc}") from exc
        self._admin._process_acl_operations = lambda obj: obj  # type: ignore[method-assign]
        manager = self._admin._manager
        original_send = manager.send

        #: Broker that answers requests any broker could serve (metadata, configs, …): set to
        #: one that has answered, so a hung broker is not picked for them at random.
        self._preferred: int | None = None

        def counting_send(
            request: Any, node_id: int | None = None, request_timeout_ms: int | None = None
        ) -> Any:
            self.round_trips[type(request).__name__.removesuffix("Request")] += 1
            if node_id is None:
                node_id = self._preferred
            return original_send(request, node_id=node_id, request_timeout_ms=request_timeout_ms)

        manager.send = counting_send

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._admin.close()

    def __enter__(self) -> KafkaAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads ---------------------------------------------------------------------------
    def _candidates(self) -> list[int]:
        """Brokers to ask cluster-wide questions: bootstrap servers first, then the others."""
        servers = set(_bootstrap_text(self.client_kwargs).split(","))
        brokers = list(self._admin._manager.cluster.brokers())
        first = [b.node_id for b in brokers if f"{b.host}:{b.port}" in servers]
        return first + [b.node_id for b in brokers if b.node_id not in first]

    def describe_cluster(self) -> dict[str, Any]:
        """DescribeCluster from the first broker that answers; it then serves any-node requests.

        kafka-python would otherwise pick a random broker, and a hung one (SIGSTOP, a frozen
        host) accepts connections but never answers.
        """
        last: BaseException | None = None
        candidates: list[int | None] = [*self._candidates()[:4]] or [None]
        for node in candidates:
            self._preferred = node
            try:
                return self._admin.describe_cluster()
            except KafkaError as exc:
                last = exc
        self._preferred = None
        raise last if last is not None else KafkaError("no broker to ask")

    def _prefer_another(self) -> None:
        candidates = [n for n in self._candidates() if n != self._preferred]
        self._preferred = candidates[0] if candidates else None

    def gather(self, calls: list[Call]) -> list[Any]:
        """Run independent requests concurrently on kafka-python's IO loop.

        Returns one result per call, in order; a call that failed yields its exception instead
        of failing the others (one dead broker must not hide the rest of the cluster).
        """
        manager = self._admin._manager

        async def run_all() -> list[Any]:
            futures = [manager.call_soon(call.fn, *call.args) for call in calls]
            results: list[Any] = []
            for future in futures:
                try:
                    results.append(await future)
                except Exception as exc:  # returned to the caller, per call
                    results.append(exc)
            return results

        results = manager.run(run_all)
        retry = [
            i
            for i, (c, r) in enumerate(zip(calls, results, strict=True))
            if c.any_node and isinstance(r, BaseException)
        ]
        if retry:
            self._prefer_another()
            again = self.gather([replace(calls[i], any_node=False) for i in retry])
            for i, result in zip(retry, again, strict=True):
                results[i] = result
        return results

    # Each method below returns a Call: what to run, for gather().  They use kafka-python's
    # async admin internals (pinned version) so requests to different brokers overlap.
    def quorum_call(self) -> Call:
        return Call(self._admin._async_describe_quorum, ("__cluster_metadata", 0), any_node=True)

    def metadata_call(self) -> Call:
        return Call(self._async_metadata, (), any_node=True)

    async def _async_metadata(self) -> dict[str, Any]:
        """Every topic's partitions, read straight off the response objects.

        kafka-python's ``_get_cluster_metadata`` asks for ACL operations we do not use and
        converts the whole response with ``to_dict()`` — a tenth of a 10,000-partition snapshot.
        """
        request = MetadataRequest(
            topics=None,
            allow_auto_topic_creation=False,
            include_cluster_authorized_operations=False,
            include_topic_authorized_operations=False,
        )
        response = await self._admin._manager.send(request)
        topics = []
        for t in response.topics:
            topics.append(
                {
                    "name": t.name,
                    "error_code": t.error_code,
                    "is_internal": bool(getattr(t, "is_internal", False)),
                    "partitions": [
                        {
                            "partition_index": p.partition_index,
                            "leader_id": p.leader_id,
                            "replica_nodes": p.replica_nodes,
                            "isr_nodes": p.isr_nodes,
                            "offline_replicas": getattr(p, "offline_replicas", None) or (),
                        }
                        for p in t.partitions
                    ],
                }
            )
        return {"topics": topics}

    def list_groups_call(self, broker_id: int) -> Call:
        return Call(self._admin._async_list_groups, ([broker_id],))

    def log_dirs_call(self, broker_id: int) -> Call:
        # topics=None asks the broker for every partition: no metadata round trip needed.
        return Call(self._admin._async_describe_log_dirs, (None, [broker_id]))

    def topic_configs_call(self, topics: list[str], keys: list[str]) -> Call:
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, t, dict.fromkeys(keys)) for t in topics
        ]
        return Call(self._admin._async_describe_configs, (resources, False, "all"), any_node=True)

    def list_offsets_call(self, partitions: list[TopicPartition], spec: OffsetSpec) -> Call:
        return Call(
            self._admin._async_list_partition_offsets,
            (dict.fromkeys(partitions, spec), IsolationLevel.READ_UNCOMMITTED, None),
        )

    def leader_offsets_call(
        self, leader: int, partitions: list[TopicPartition], spec: OffsetSpec
    ) -> Call:
        """ListOffsets straight to a leader known from our Metadata (kafka-python's own
        list_partition_offsets re-fetches metadata for every call: 2 extra full Metadata
        round trips per snapshot, the slowest responses on a 10,000-partition cluster)."""
        return Call(self._async_leader_offsets, (leader, partitions, spec))

    async def _async_leader_offsets(
        self, leader: int, partitions: list[TopicPartition], spec: OffsetSpec
    ) -> tuple[dict[TopicPartition, int], list[TopicPartition]]:
        admin = self._admin
        request = admin._list_partition_offsets_request(
            dict.fromkeys(partitions, spec), IsolationLevel.READ_UNCOMMITTED.value
        )
        response = await admin._manager.send(request, node_id=leader)
        found: dict[TopicPartition, int] = {}
        failed: list[TopicPartition] = []
        for topic in response.topics:
            for p in topic.partitions:
                tp = TopicPartition(topic.name, p.partition_index)
                if p.error_code:
                    failed.append(tp)  # e.g. leadership moved since our Metadata: retried
                else:
                    found[tp] = p.offset
        return found, failed

    def find_coordinators_call(self, group_ids: list[str]) -> Call:
        return Call(self._admin._find_coordinator_ids, (group_ids,), any_node=True)

    def describe_groups_call(self, group_ids: list[str], coordinator: int) -> Call:
        return Call(self._admin._async_describe_groups, (group_ids, coordinator))

    def group_offsets_call(self, group_ids: list[str]) -> Call:
        return Call(self._admin._async_list_group_offsets, (dict.fromkeys(group_ids),))


@dataclass(frozen=True)
class Call:
    """One admin request to run concurrently with others.

    ``any_node`` requests (metadata, configs, coordinators, quorum) may go to any broker; if the
    one kafka-python picked did not answer (a hung host), they are retried once — the client
    then avoids the node it just timed out on.
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    any_node: bool = False


# ---------------------------------------------------------------------------------------
def collect_snapshot(
    cluster_name: str,
    client_kwargs: Mapping[str, Any],
    options: CollectOptions | None = None,
) -> ClusterSnapshot:
    """Take one snapshot; raises :class:`ClusterUnreachable` if no bootstrap server answers.

    Three concurrent phases after DescribeCluster, each a few requests per broker:
    (1) quorum, metadata, groups per broker, log dirs per broker; (2) topic configs, log-start
    and log-end offsets, group coordinators; (3) group descriptions and committed offsets per
    coordinator.  Then, optionally, exact time lag from one record per lagging position.
    """
    options = options or CollectOptions()
    started = time.monotonic()
    taken_at_ms = int(time.time() * 1000)
    errors = _Errors()
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

        # Metadata first, on its own, from the broker that just answered DescribeCluster.
        # DescribeQuorum goes last: brokers forward it to the controller, and Kafka answers
        # one request at a time per connection, so with no controller it would hold up every
        # request queued behind it.
        [metadata] = admin.gather([admin.metadata_call()])
        if isinstance(metadata, BaseException):
            raise ClusterUnreachable(f"cluster unreachable: Metadata failed: {metadata}")
        raw_topics = metadata["topics"]

        # Phase 1: per-broker requests, concurrently.
        calls = [admin.list_groups_call(b) for b in live]
        if options.include_log_dirs:
            calls += [admin.log_dirs_call(b) for b in live]
        results = admin.gather(calls)
        listed: dict[str, dict[str, Any]] = {}
        for broker_id, res in zip(live, results[: len(live)], strict=True):
            if isinstance(res, BaseException):
                errors.add("ListGroups", f"broker {broker_id}", res)
                unreachable[broker_id] = _text(res)
            else:
                listed.update((g["group_id"], g) for g in res)
        log_dirs: list[LogDir] = []
        for broker_id, res in zip(live, results[len(live) :], strict=False):
            if isinstance(res, BaseException):
                errors.add("DescribeLogDirs", f"broker {broker_id}", res)
                unreachable[broker_id] = _text(res)
            else:
                log_dirs.extend(_parse_log_dirs(broker_id, res))

        # Phase 2
        names = sorted(t["name"] for t in raw_topics if not t.get("error_code"))
        by_leader: dict[int, list[TopicPartition]] = defaultdict(list)
        for t in raw_topics:
            for p in t.get("partitions", []):
                if p.get("leader_id", -1) >= 0:
                    by_leader[p["leader_id"]].append(
                        TopicPartition(t["name"], p["partition_index"])
                    )
        group_ids = sorted(listed)
        leaders = sorted(by_leader)
        phase2: list[Call | None] = [
            admin.topic_configs_call(
                names, ["min.insync.replicas", "retention.ms", "retention.bytes"]
            )
            if names
            else None,
            admin.find_coordinators_call(group_ids) if group_ids else None,
            *(admin.leader_offsets_call(b, by_leader[b], OffsetSpec.EARLIEST) for b in leaders),
            *(admin.leader_offsets_call(b, by_leader[b], OffsetSpec.LATEST) for b in leaders),
        ]
        it = iter(admin.gather([c for c in phase2 if c is not None]))
        configs_raw, coords_raw, *offsets_raw = (next(it) if c is not None else {} for c in phase2)
        configs = _parse_configs(configs_raw, errors)
        n = len(leaders)
        starts = _offsets_or_retry(
            admin, by_leader, leaders, offsets_raw[:n], OffsetSpec.EARLIEST, "log-start", errors
        )
        ends = _offsets_or_retry(
            admin, by_leader, leaders, offsets_raw[n:], OffsetSpec.LATEST, "log-end", errors
        )
        topics = _build_topics(raw_topics, configs, starts, ends, errors)
        if isinstance(coords_raw, BaseException):
            errors.add("FindCoordinator", "groups", coords_raw)
            coords_raw = {}

        # Phase 3
        groups = _groups(admin, listed, coords_raw, topics, errors)
        [quorum_raw] = admin.gather([admin.quorum_call()])
        quorum_leader, voters = _parse_quorum(quorum_raw, errors)
        round_trips = dict(admin.round_trips)
    if options.time_lag_method == "exact":
        groups, rounds = _with_exact_time_lag(groups, client_kwargs, options, taken_at_ms, errors)
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
        bootstrap=_bootstrap_text(client_kwargs),
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


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _bootstrap_text(client_kwargs: Mapping[str, Any]) -> str:
    servers = client_kwargs.get("bootstrap_servers", "")
    return servers if isinstance(servers, str) else ",".join(servers)


def _parse_quorum(raw: Any, errors: _Errors) -> tuple[int | None, tuple[int, ...]]:
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


def _parse_configs(raw: Any, errors: _Errors) -> dict[str, dict[str, str]]:
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
    errors: _Errors,
) -> dict[TopicPartition, int]:
    """Per-leader ListOffsets results; partitions that failed (a leader that did not answer,
    leadership that moved) are retried per topic through a metadata refresh, so one bad leader
    hides as little as possible."""
    out: dict[TopicPartition, int] = {}
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
    by_topic: dict[str, list[TopicPartition]] = defaultdict(list)
    for tp in retry:
        by_topic[tp.topic].append(tp)
    topics = sorted(by_topic)
    results = admin.gather([admin.list_offsets_call(by_topic[t], spec) for t in topics])
    for topic, res in zip(topics, results, strict=True):
        if isinstance(res, BaseException):
            errors.add("ListOffsets", f"{what} {topic}", res)
        else:
            out.update((tp, v.offset) for tp, v in res.items())
    return out


def _build_topics(
    raw_topics: list[dict[str, Any]],
    configs: dict[str, dict[str, str]],
    starts: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    errors: _Errors,
) -> list[Topic]:
    topics = []
    for t in sorted(raw_topics, key=lambda t: t["name"]):
        if t.get("error_code"):
            errors.add("Metadata", f"topic {t['name']}", f"error code {t['error_code']}")
            continue
        cfg = configs.get(t["name"], {})
        min_isr = int(cfg.get("min.insync.replicas", 1))
        parts = tuple(
            PartitionState(
                topic=t["name"],
                partition=p["partition_index"],
                leader=p.get("leader_id", -1),
                replicas=tuple(p.get("replica_nodes", ())),
                isr=tuple(p.get("isr_nodes", ())),
                offline_replicas=tuple(p.get("offline_replicas", ())),
                min_isr=min_isr,
                log_start_offset=starts.get(TopicPartition(t["name"], p["partition_index"])),
                log_end_offset=ends.get(TopicPartition(t["name"], p["partition_index"])),
            )
            for p in sorted(t.get("partitions", []), key=lambda p: p["partition_index"])
        )
        topics.append(Topic(t["name"], bool(t.get("is_internal")), parts, cfg))
    return topics


def _groups(
    admin: KafkaAdmin,
    listed: dict[str, dict[str, Any]],
    coordinators: dict[str, int],
    topics: list[Topic],
    errors: _Errors,
) -> list[ConsumerGroup]:
    """Describe every group and fetch its offsets: one request of each kind per coordinator."""
    if not listed:
        return []
    group_ids = sorted(listed)
    by_coordinator: dict[int, list[str]] = defaultdict(list)
    for gid, node in coordinators.items():
        if node is not None and node >= 0:
            by_coordinator[node].append(gid)
    nodes = sorted(by_coordinator)
    calls = [admin.describe_groups_call(by_coordinator[n], n) for n in nodes]
    calls += [admin.group_offsets_call(by_coordinator[n]) for n in nodes]
    results = admin.gather(calls)
    descriptions: dict[str, dict[str, Any]] = {}
    offsets: dict[str, dict[TopicPartition, Any]] = {}
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
            offsets.update(_group_offsets_one_by_one(admin, by_coordinator[node], group_errors))
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
        committed = {(tp.topic, tp.partition): om.offset for tp, om in offsets.get(gid, {}).items()}
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
    admin: KafkaAdmin, gids: list[str], group_errors: dict[str, str]
) -> dict[str, dict[TopicPartition, Any]]:
    """Fallback when a coordinator's batched OffsetFetch failed.

    kafka-python raises on the first group-level error, so one group that is loading or
    migrating would otherwise hide every other group's offsets.
    """
    out: dict[str, dict[TopicPartition, Any]] = {}
    results = admin.gather([admin.group_offsets_call([gid]) for gid in gids])
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
    return PartitionLag(
        topic=key[0],
        partition=key[1],
        committed=committed,
        log_start_offset=start,
        log_end_offset=end,
        lag=lag,
        committed_below_log_start=below_start,
        member_id=member,
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


# --------------------------------------------------------------------- exact time lag
def _with_exact_time_lag(
    groups: list[ConsumerGroup],
    client_kwargs: Mapping[str, Any],
    options: CollectOptions,
    now_ms: int,
    errors: _Errors,
) -> tuple[list[ConsumerGroup], int]:
    """Fill ``time_lag_ms`` = now − timestamp of the first record the group has not consumed.

    Exact on bursts, idle topics and rewinds, at the cost of reading one record per lagging
    position.  Positions are de-duplicated across groups and read in rounds (a consumer has one
    position per partition), within ``time_lag_max_positions`` and ``time_lag_budget_ms``;
    positions left unread keep ``time_lag_ms=None`` and are noted in ``snapshot.errors``.
    """
    wanted: set[tuple[str, int, int]] = set()
    for g in groups:
        for p in g.partitions:
            if p.lag and p.committed is not None:
                start = max(p.committed, p.log_start_offset or 0)
                wanted.add((p.topic, p.partition, start))
    timestamps: dict[tuple[str, int, int], int] = {}
    rounds = 0
    if wanted:
        timestamps, rounds = _read_first_timestamps(sorted(wanted), client_kwargs, options, errors)

    out = []
    for g in groups:
        parts = []
        for p in g.partitions:
            if p.lag == 0:
                parts.append(_replace_time(p, 0))
            elif p.lag and p.committed is not None:
                start = max(p.committed, p.log_start_offset or 0)
                ts = timestamps.get((p.topic, p.partition, start))
                parts.append(_replace_time(p, None if ts is None else max(0, now_ms - ts)))
            else:
                parts.append(p)
        out.append(_replace_parts(g, tuple(parts)))
    return out, rounds


def _replace_time(p: PartitionLag, value: int | None) -> PartitionLag:
    return replace(p, time_lag_ms=value, time_lag_method="exact" if value is not None else None)


def _replace_parts(g: ConsumerGroup, parts: tuple[PartitionLag, ...]) -> ConsumerGroup:
    return replace(g, partitions=parts)


def _read_first_timestamps(
    positions: list[tuple[str, int, int]],
    client_kwargs: Mapping[str, Any],
    options: CollectOptions,
    errors: _Errors,
) -> tuple[dict[tuple[str, int, int], int], int]:
    """Timestamps of the records at the given positions, and how many fetch rounds it took."""
    if len(positions) > options.time_lag_max_positions:
        errors.add(
            "Fetch",
            "time lag",
            f"{len(positions)} lagging positions exceed the budget of "
            f"{options.time_lag_max_positions}; the rest have no exact time lag",
        )
        positions = positions[: options.time_lag_max_positions]
    rounds: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    seen: Counter[tuple[str, int]] = Counter()
    for topic, part, offset in positions:
        rounds[seen[(topic, part)]].append((topic, part, offset))
        seen[(topic, part)] += 1
    deadline = time.monotonic() + options.time_lag_budget_ms / 1000
    consumer_kwargs = {
        k: v
        for k, v in client_kwargs.items()
        if k in KafkaConsumer.DEFAULT_CONFIG and k not in ("bootstrap_timeout_ms", "client_id")
    }
    found: dict[tuple[str, int, int], int] = {}

    def new_consumer() -> KafkaConsumer:
        return KafkaConsumer(
            **{
                **consumer_kwargs,
                "client_id": f"{options.client_id}-timelag",
                "group_id": None,
                "enable_auto_commit": False,
                "max_partition_fetch_bytes": 4096,
                "fetch_max_wait_ms": 50,
                "request_timeout_ms": max(options.request_timeout_ms, 1000),
                "bootstrap_timeout_ms": options.connect_timeout_ms,
            }
        )

    done_rounds = 0
    # A round whose positions could not all be read (leader moving, a broker restarting, an
    # error from one partition) is retried once at the end, with whatever budget is left.
    queue: list[tuple[int, list[tuple[str, int, int]]]] = [
        (1, b) for _, b in sorted(rounds.items())
    ]
    consumer: KafkaConsumer | None = None
    try:
        while queue and time.monotonic() < deadline:
            attempt, batch = queue.pop(0)
            # Every round after the first re-reads partitions an earlier round read at another
            # offset.  kafka-python 3.0.12's consumer can stop fetching a partition that was
            # paused and re-sought (seen in CI: later rounds got nothing for 60 s), so each such
            # round gets a fresh consumer: one bootstrap more, no shared fetch state.
            if consumer is not None and done_rounds:
                with contextlib.suppress(Exception):
                    consumer.close()
                consumer = None
            done_rounds += 1
            # Each round gets its share of what is left, so one position that cannot be read
            # (leader down, records gone) does not starve the rounds after it.
            share = (deadline - time.monotonic()) / (len(queue) + 1)
            round_deadline = time.monotonic() + max(0.5, share)
            pending = {TopicPartition(t, p): o for t, p, o in batch}
            try:
                consumer = consumer or new_consumer()
                _read_round(consumer, pending, found, min(deadline, round_deadline))
            except (KafkaError, OSError, AssertionError) as exc:
                errors.add("Fetch", "time lag", exc)
            if pending and attempt == 1:
                queue.append((2, [(tp.topic, tp.partition, o) for tp, o in pending.items()]))
        missing = len(positions) - len(found)
        if missing:
            errors.add("Fetch", "time lag", f"{missing} positions not read within the budget")
    finally:
        if consumer is not None:
            with contextlib.suppress(Exception):
                consumer.close()
    return found, done_rounds


def _read_round(
    consumer: KafkaConsumer,
    pending: dict[TopicPartition, int],
    found: dict[tuple[str, int, int], int],
    until: float,
) -> None:
    """Read the first record at each pending position; read positions leave ``pending``."""
    consumer.assign(list(pending))
    # A partition paused in an earlier round stays paused across assign(): resume it.
    consumer.resume(*pending)
    for tp, offset in pending.items():
        consumer.seek(tp, offset)
    while pending and time.monotonic() < until:
        records = consumer.poll(timeout_ms=200)
        for tp, recs in records.items():
            if tp in pending and recs:
                found[(tp.topic, tp.partition, pending.pop(tp))] = recs[0].timestamp
                consumer.pause(tp)
