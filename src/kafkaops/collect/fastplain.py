"""kafka-python's decoded responses turned into :mod:`~kafkaops.collect.fastdecode`'s tuples.

Two uses: the fallback (a version the fast parsers do not cover, or bytes they reject, is decoded
by kafka-python and converted here, so callers always get one shape), and the tests' oracle
(every field read off kafka-python's objects, compared with what the fast parsers give).
"""

from __future__ import annotations

from typing import Any

from kafka.protocol.admin import DescribeGroupsResponse
from kafka.protocol.consumer import ListOffsetsResponse, OffsetFetchResponse
from kafka.protocol.metadata import MetadataResponse


class FastResponse:
    """A decoded response: its top-level fields as attributes, nested data as tuples.

    ``throttle_time_ms`` is read by kafka-python's connection for client-side throttling.
    """

    __slots__ = ("api_key", "fast", "fields", "throttle_time_ms", "version")

    def __init__(
        self, api_key: int, version: int, throttle_time_ms: int, fields: dict[str, Any], fast: bool
    ) -> None:
        self.api_key = api_key
        self.version = version
        self.throttle_time_ms = throttle_time_ms
        #: Top-level fields other than the throttle time, e.g. ``{"topics": (...)}``.
        self.fields = fields
        #: True when parsed here, False when kafka-python decoded it (fallback).
        self.fast = fast

    def __getattr__(self, name: str) -> Any:
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"FastResponse(api_key={self.api_key}, v{self.version}, fast={self.fast})"


def _nodes(values: Any) -> tuple[int, ...] | None:
    return None if values is None else tuple(values)


def plain(response: Any) -> FastResponse:
    """The :class:`FastResponse` for a response decoded by kafka-python."""
    api_key = response.API_KEY
    version = response.API_VERSION
    fields: dict[str, Any]
    if api_key == MetadataResponse.API_KEY:
        fields = {
            "brokers": tuple((b.node_id, b.host, b.port, b.rack) for b in response.brokers),
            "cluster_id": response.cluster_id,
            "controller_id": response.controller_id,
            "topics": tuple(
                (
                    t.error_code,
                    t.name,
                    t.topic_id,
                    t.is_internal,
                    None
                    if t.partitions is None
                    else tuple(
                        (
                            p.error_code,
                            p.partition_index,
                            p.leader_id,
                            p.leader_epoch,
                            _nodes(p.replica_nodes),
                            _nodes(p.isr_nodes),
                            _nodes(p.offline_replicas),
                        )
                        for p in t.partitions
                    ),
                    _ops_int(t.authorized_operations),
                )
                for t in response.topics
            ),
        }
        if version <= 10 and version >= 8:
            fields["cluster_authorized_operations"] = _ops_int(response.authorized_operations)
        if version >= 13:
            fields["error_code"] = response.error_code
    elif api_key == ListOffsetsResponse.API_KEY:
        fields = {
            "topics": None
            if response.topics is None
            else tuple(
                (
                    t.name,
                    None
                    if t.partitions is None
                    else tuple(
                        (p.partition_index, p.error_code, p.timestamp, p.offset, p.leader_epoch)
                        for p in t.partitions
                    ),
                )
                for t in response.topics
            )
        }
    elif api_key == OffsetFetchResponse.API_KEY:
        if version < 8:
            raise ValueError(f"OffsetFetch v{version} has no groups array")
        fields = {
            "groups": None
            if response.groups is None
            else tuple(
                (
                    g.group_id,
                    None
                    if g.topics is None
                    else tuple(
                        (
                            t.name,
                            None
                            if t.partitions is None
                            else tuple(
                                (
                                    p.partition_index,
                                    p.committed_offset,
                                    p.committed_leader_epoch,
                                    p.metadata,
                                    p.error_code,
                                )
                                for p in t.partitions
                            ),
                        )
                        for t in g.topics
                    ),
                    g.error_code,
                )
                for g in response.groups
            )
        }
    elif api_key == DescribeGroupsResponse.API_KEY:
        fields = {
            "groups": None
            if response.groups is None
            else tuple(
                (
                    g.error_code,
                    g.error_message,
                    g.group_id,
                    g.group_state,
                    g.protocol_type,
                    g.protocol_data,
                    None
                    if g.members is None
                    else tuple(
                        (
                            m.member_id,
                            m.group_instance_id,
                            m.client_id,
                            m.client_host,
                            _as_bytes(m.member_metadata),
                            _as_bytes(m.member_assignment),
                        )
                        for m in g.members
                    ),
                    _ops_int(g.authorized_operations),
                )
                for g in response.groups
            )
        }
    else:
        raise ValueError(f"no plain form for api key {api_key}")
    return FastResponse(api_key, version, response.throttle_time_ms, fields, False)


def _as_bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _ops_int(value: Any) -> int:
    """kafka-python patches authorized_operations to a 'bitfield' (a set of bit positions)."""
    if isinstance(value, int):
        return value
    if value is None:
        return -(2**31)
    return sum(1 << bit for bit in value)
