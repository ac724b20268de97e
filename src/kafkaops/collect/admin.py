"""The kafka-python admin client behind a small adapter, and its workarounds.

Why a module of its own: everything that knows kafka-python's internals (its async admin
methods, the connection manager's ``send``, the ``describe_groups`` ACL quirk, retrying
any-node requests away from a hung broker, keeping its DEBUG log — SASL password included —
away from handlers) is here, so snapshot assembly (:mod:`kafkaops.collect.snapshot`) deals in
plain data and a kafka-python upgrade touches one file.
"""

from __future__ import annotations

import contextlib
import logging
import struct
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import kafka.errors as kafka_errors
from kafka import TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.protocol.admin import DescribeGroupsRequest, DescribeLogDirsRequest
from kafka.protocol.consumer import OffsetFetchRequest, OffsetSpec
from kafka.protocol.consumer.metadata import ConsumerProtocolAssignment
from kafka.protocol.consumer.offsets import IsolationLevel
from kafka.protocol.metadata import MetadataRequest

from kafkaops.collect.fastdecode import fast_request
from kafkaops.collect.fastrequest import list_offsets_request
from kafkaops.core.errors import ClusterUnreachable
from kafkaops.core.model import CollectionError

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
    #: DescribeConfigs of every topic (min.insync.replicas, retention); without it every
    #: partition's ``min_isr`` reads 1 and topics carry no config.
    include_topic_configs: bool = True
    #: DescribeQuorum (the active KRaft controller and its voters): one more round trip.
    include_quorum: bool = True
    client_id: str = "kafkaops"

    def lag_only(self) -> CollectOptions:
        """The same options without what consumer lag never reads: log dirs, topic configs
        and the controller quorum.  ``kafkaops lag`` asks for these only — at 20,000
        partitions DescribeLogDirs and DescribeConfigs are the two largest responses after
        Metadata, and none of them changes a group's lag."""
        return replace(
            self, include_log_dirs=False, include_topic_configs=False, include_quorum=False
        )


@dataclass
class Errors:
    """What failed while collecting, for ``snapshot.errors``: the snapshot carries on."""

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
        servers = bootstrap_text(kwargs)
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
            name = type(request).__name__.removeprefix("Fast").removesuffix("Request")
            self.round_trips[name] += 1
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
        servers = set(bootstrap_text(self.client_kwargs).split(","))
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
        return list(self._admin._manager.run(self.agather, calls))

    def pipeline(self, *chains: Coroutine[Any, Any, Any]) -> list[Any]:
        """Run chains of dependent requests side by side on the IO loop, one result each.

        A chain is a coroutine that awaits :meth:`agather` as often as it needs, so a
        chain waiting on one broker's answer does not hold up another chain's next request
        (the snapshot runs the offsets chain beside the consumer-group chain).  A chain that
        raises yields its exception.
        """
        manager = self._admin._manager

        async def run_all() -> list[Any]:
            futures = [manager.call_soon(chain) for chain in chains]
            results: list[Any] = []
            for future in futures:
                try:
                    results.append(await future)
                except Exception as exc:  # returned to the caller, per chain
                    results.append(exc)
            return results

        return list(manager.run(run_all))

    async def agather(self, calls: list[Call]) -> list[Any]:
        """:meth:`gather` from inside a chain (see :meth:`pipeline`).

        ``any_node`` calls that failed are retried once on another broker.
        """
        manager = self._admin._manager
        futures = [manager.call_soon(call.fn, *call.args) for call in calls]
        results: list[Any] = []
        for future in futures:
            try:
                results.append(await future)
            except Exception as exc:  # returned to the caller, per call
                results.append(exc)
        retry = [
            i
            for i, (c, r) in enumerate(zip(calls, results, strict=True))
            if c.any_node and isinstance(r, BaseException)
        ]
        if retry:
            self._prefer_another()
            again = await self.agather([replace(calls[i], any_node=False) for i in retry])
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
        """Every topic's partitions, parsed by :mod:`~kafkaops.collect.fastdecode`.

        kafka-python's ``_get_cluster_metadata`` asks for ACL operations we do not use and
        converts the whole response with ``to_dict()`` — a tenth of a 10,000-partition snapshot.
        """
        request = MetadataRequest(
            topics=None,
            allow_auto_topic_creation=False,
            include_cluster_authorized_operations=False,
            include_topic_authorized_operations=False,
        )
        response = await self._admin._manager.send(fast_request(request))
        topics = []
        for error_code, name, _id, is_internal, partitions, _ops in response.topics or ():
            topics.append(
                {
                    "name": name,
                    "error_code": error_code,
                    "is_internal": bool(is_internal),
                    "partitions": [
                        {
                            "partition_index": index,
                            "leader_id": leader,
                            "replica_nodes": replicas or (),
                            "isr_nodes": isr or (),
                            "offline_replicas": offline or (),
                        }
                        for _err, index, leader, _epoch, replicas, isr, offline in partitions or ()
                    ],
                }
            )
        return {"topics": topics}

    def list_groups_call(self, broker_id: int) -> Call:
        return Call(self._admin._async_list_groups, ([broker_id],))

    def log_dirs_call(self, broker_id: int) -> Call:
        """DescribeLogDirs of every partition on one broker, in kafka-python's
        ``describe_log_dirs`` shape (``[{"broker", "log_dirs": [...]}]``) with only the fields
        snapshots read — its ``to_dict()`` of 13,000 partitions a broker cost more than the
        decoding."""
        return Call(self._async_log_dirs, (broker_id,))

    async def _async_log_dirs(self, broker_id: int) -> list[dict[str, Any]]:
        # topics=None asks the broker for every partition: no metadata round trip needed.
        request = DescribeLogDirsRequest(topics=None)
        response = await self._admin._manager.send(request, node_id=broker_id)
        dirs = [
            {
                "log_dir": d.log_dir,
                "error_code": d.error_code,
                "total_bytes": d.total_bytes,
                "usable_bytes": d.usable_bytes,
                "topics": [
                    {
                        "name": t.name,
                        "partitions": [
                            {
                                "partition_index": p.partition_index,
                                "partition_size": p.partition_size,
                                "is_future_key": p.is_future_key,
                            }
                            for p in t.partitions
                        ],
                    }
                    for t in d.topics
                ],
            }
            for d in response.results
        ]
        return [{"broker": broker_id, "log_dirs": dirs}]

    def topic_configs_call(self, topics: list[str], keys: list[str]) -> Call:
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, t, dict.fromkeys(keys)) for t in topics
        ]
        return Call(self._admin._async_describe_configs, (resources, False, "all"), any_node=True)

    def leader_offsets_call(
        self, leader: int, partitions: list[TopicPartition], spec: OffsetSpec
    ) -> Call:
        """ListOffsets straight to a leader known from our Metadata (kafka-python's own
        list_partition_offsets re-fetches metadata for every call: 2 extra full Metadata
        round trips per snapshot, the slowest responses on a 10,000-partition cluster)."""
        return Call(self._async_leader_offsets, (leader, partitions, spec))

    async def _async_leader_offsets(
        self, leader: int, partitions: list[TopicPartition], spec: OffsetSpec
    ) -> tuple[dict[tuple[str, int], int], list[TopicPartition]]:
        """Offsets keyed by plain ``(topic, partition)`` tuples (equal to, and hashed like,
        ``TopicPartition``, without building 20,000 of them), and the partitions that failed."""
        by_topic: dict[str, list[int]] = {}
        for topic, partition in partitions:
            by_topic.setdefault(topic, []).append(partition)
        request = list_offsets_request(
            list(by_topic.items()), int(spec), IsolationLevel.READ_UNCOMMITTED.value
        )
        response = await self._admin._manager.send(request, node_id=leader)
        found: dict[tuple[str, int], int] = {}
        failed: list[TopicPartition] = []
        for name, partitions in response.topics or ():
            for index, error_code, _ts, offset, _epoch in partitions or ():
                if error_code:
                    # e.g. leadership moved since our Metadata: retried
                    failed.append(TopicPartition(name, index))
                else:
                    found[name, index] = offset
        return found, failed

    def find_coordinators_call(self, group_ids: list[str]) -> Call:
        return Call(self._admin._find_coordinator_ids, (group_ids,), any_node=True)

    def describe_groups_call(self, group_ids: list[str], coordinator: int) -> Call:
        """DescribeGroups to the groups' coordinator: ``{group_id: description}``.

        A description is kafka-python's ``describe_groups`` shape, reduced to what snapshots
        read: ``group_state``, ``protocol_type``, ``members`` (``member_id``, ``client_id``,
        ``client_host``, ``member_assignment`` decoded for consumer groups) and ``error``.
        """
        return Call(self._async_describe_groups, (group_ids, coordinator))

    async def _async_describe_groups(
        self, group_ids: list[str], coordinator: int
    ) -> dict[str, dict[str, Any]]:
        request = DescribeGroupsRequest(groups=list(group_ids), include_authorized_operations=False)
        response = await self._admin._manager.send(fast_request(request), node_id=coordinator)
        results: dict[str, dict[str, Any]] = {}
        for error_code, message, gid, state, ptype, pdata, members, _ops in response.groups or ():
            results[gid] = {
                "group_id": gid,
                "group_state": state,
                "protocol_type": ptype,
                "protocol_data": pdata,
                "members": [_member_dict(m) for m in members or ()],
                "error": str(kafka_errors.for_code(error_code)(message or ""))
                if error_code
                else None,
            }
        return results

    def group_offsets_call(self, group_ids: list[str], coordinator: int | None = None) -> Call:
        """Committed offsets of groups: ``{group_id: {(topic, partition): offset}}``.

        With the coordinator known and a broker speaking OffsetFetch v8+ (Kafka 3.0+), one
        request for all the groups, parsed by :mod:`~kafkaops.collect.fastdecode`; like
        kafka-python's ``list_group_offsets`` it fails on the first group or partition error
        (the snapshot then asks group by group).
        """
        if (
            coordinator is None
            or self._admin._manager.broker_version_data.api_version(OffsetFetchRequest) < 8
        ):
            return Call(self._async_group_offsets_one_per_request, (group_ids,))
        return Call(self._async_group_offsets, (group_ids, coordinator))

    async def _async_group_offsets_one_per_request(
        self, group_ids: list[str]
    ) -> dict[str, dict[tuple[str, int], int]]:
        """Brokers before OffsetFetch v8 (Kafka < 3.0): kafka-python's request per group."""
        raw = await self._admin._async_list_group_offsets(dict.fromkeys(group_ids))
        return {
            gid: {(tp.topic, tp.partition): om.offset for tp, om in offsets.items()}
            for gid, offsets in raw.items()
        }

    async def _async_group_offsets(
        self, group_ids: list[str], coordinator: int
    ) -> dict[str, dict[tuple[str, int], int]]:
        request = OffsetFetchRequest(
            groups=[OffsetFetchRequest.OffsetFetchRequestGroup(group_id=g, topics=None)
                    for g in group_ids],
            min_version=8,
            max_version=8,
        )  # fmt: skip
        response = await self._admin._manager.send(fast_request(request), node_id=coordinator)
        results: dict[str, dict[tuple[str, int], int]] = {}
        for gid, topics, error_code in response.groups or ():
            if error_code:
                raise kafka_errors.for_code(error_code)(f"OffsetFetch failed for group '{gid}'")
            offsets: dict[tuple[str, int], int] = {}
            for name, partitions in topics or ():
                for index, offset, _epoch, _metadata, p_error in partitions or ():
                    if p_error:
                        raise kafka_errors.for_code(p_error)(
                            f"OffsetFetch failed for group '{gid}' partition {name}-{index}"
                        )
                    offsets[name, index] = offset
            results[gid] = offsets
        return results


def _member_dict(member: tuple[Any, ...]) -> dict[str, Any]:
    """One DescribeGroups member as kafka-python's ``describe_groups`` gives it."""
    member_id, instance_id, client_id, client_host, metadata, assignment = member
    decoded: Any = assignment
    if assignment:
        try:
            decoded = ConsumerProtocolAssignment.decode(assignment).to_dict()
        except (struct.error, ValueError):
            decoded = assignment  # not the consumer protocol (Connect, streams, …)
    return {
        "member_id": member_id,
        "group_instance_id": instance_id,
        "client_id": client_id,
        "client_host": client_host,
        "member_metadata": metadata,
        "member_assignment": decoded,
    }


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


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def bootstrap_text(client_kwargs: Mapping[str, Any]) -> str:
    servers = client_kwargs.get("bootstrap_servers", "")
    return servers if isinstance(servers, str) else ",".join(servers)
