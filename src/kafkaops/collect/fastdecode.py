"""Fast decoders for the four big responses of a snapshot, and the hook that uses them.

Why: at 10,000+ partitions and 2,000 groups most of a snapshot's time went into kafka-python
turning four responses into its generic ``DataContainer`` objects (one Python object per
partition, per group-partition offset, per replica list) and then into more objects
(``OffsetAndMetadata``, ``TopicPartition``) that the snapshot code immediately reads back.
Here each of those responses — Metadata, ListOffsets, OffsetFetch (v8+, many groups) and
DescribeGroups, in the flexible (compact) versions that Kafka 2.4+ brokers negotiate — is parsed
straight from the response bytes with ``struct`` into plain tuples, which is all the snapshot
reads.  Every other response, every other version, and any response these parsers fail on
(truncated, trailing bytes, an unexpected layout) goes through kafka-python's own decoder, and
:func:`plain` turns kafka-python's objects into the very same tuples, so callers see one shape
either way.  ``tests/collect/test_fastdecode.py`` checks the two paths give identical tuples,
field by field, on responses encoded by kafka-python itself and on live ones.

Tuple layouts (field order as in Kafka's JSON schemas; unknown tagged fields are skipped):

* Metadata: ``brokers`` = ``(node_id, host, port, rack)``; ``topics`` =
  ``(error_code, name, topic_id, is_internal, partitions, authorized_operations)`` with
  partitions ``(error_code, partition_index, leader_id, leader_epoch, replica_nodes,
  isr_nodes, offline_replicas)`` (node lists are tuples);
* ListOffsets: ``topics`` = ``(name, partitions)``, partitions ``(partition_index, error_code,
  timestamp, offset, leader_epoch)``;
* OffsetFetch v8+: ``groups`` = ``(group_id, topics, error_code)``, topics ``(name,
  partitions)``, partitions ``(partition_index, committed_offset, committed_leader_epoch,
  metadata, error_code)``;
* DescribeGroups: ``groups`` = ``(error_code, error_message, group_id, group_state,
  protocol_type, protocol_data, members, authorized_operations)``, members ``(member_id,
  group_instance_id, client_id, client_host, member_metadata, member_assignment)`` (bytes).

How the hook works: kafka-python's ``KafkaProtocol`` asks the in-flight request's header for
its response class (``header.get_response_class()``), then calls its ``parse_header`` and
``decode`` on the receive buffer.  :func:`fast_request` gives a request a header whose response
"class" is a :class:`_FastResponseType`: kafka-python's class for the header, our parser for
the body.  Nothing global is patched: only requests passed through :func:`fast_request` are
affected.
"""

from __future__ import annotations

import logging
import struct
import uuid
from collections.abc import Callable
from typing import Any

from kafka.protocol.admin import DescribeGroupsResponse
from kafka.protocol.api_header import RequestHeader
from kafka.protocol.consumer import ListOffsetsResponse, OffsetFetchResponse
from kafka.protocol.metadata import MetadataResponse

from kafkaops.collect.fastplain import FastResponse, plain

log = logging.getLogger(__name__)

_i16 = struct.Struct(">h").unpack_from
_i32 = struct.Struct(">i").unpack_from
_i64 = struct.Struct(">q").unpack_from
_i16i32i32i32 = struct.Struct(">hiii").unpack_from  # Metadata partition head
_i32i16qqi = struct.Struct(">ihqqi").unpack_from  # ListOffsets partition v4+
_i32qi = struct.Struct(">iqi").unpack_from  # OffsetFetch partition head
#: One ListOffsets v4+ partition with no tagged fields, tag count last (27 bytes).
_LO_ROW = struct.Struct(">ihqqiB")
#: One OffsetFetch v8 partition with empty metadata ("" = length byte 1) and no tags (20 bytes).
_OF_ROW = struct.Struct(">iqiBhB")


def _bulk(row: struct.Struct, buf: memoryview, pos: int, end: int, n: int) -> list[tuple] | None:
    """Unpack ``n`` fixed-size rows at once if they really are the common fixed layout.

    Returns None (use the field-by-field loop) unless every row ends with an empty tagged-field
    section — and for OffsetFetch has the empty-string metadata — and the array fits.
    """
    if end > len(buf):
        return None
    rows = list(row.iter_unpack(buf[pos:end]))
    if row is _OF_ROW:
        if any(r[3] != 1 or r[5] for r in rows):
            return None
    elif any(r[5] for r in rows):
        return None
    return rows


class DecodeError(ValueError):
    """The bytes do not fit the layout this parser expects: use kafka-python's decoder."""


# -- primitives (flexible versions: compact strings/arrays, unsigned varints, tagged fields) --


def _uvarint(buf: memoryview, pos: int) -> tuple[int, int]:
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    value = b & 0x7F
    shift = 7
    pos += 1
    while True:
        if shift > 28:
            raise DecodeError("varint too long")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _skip_tags(buf: memoryview, pos: int) -> int:
    """Skip a tagged-field section (none of these responses has a known tagged field)."""
    n = buf[pos]
    if n == 0:
        return pos + 1
    n, pos = _uvarint(buf, pos)
    for _ in range(n):
        _tag, pos = _uvarint(buf, pos)
        size, pos = _uvarint(buf, pos)
        pos += size
    if pos > len(buf):
        raise DecodeError("tagged field past the end")
    return pos


def _cstr(buf: memoryview, pos: int) -> tuple[str | None, int]:
    """Compact nullable string: uvarint length+1, 0 for null."""
    n = buf[pos]
    if n < 0x80:
        pos += 1
    else:
        n, pos = _uvarint(buf, pos)
    if n == 0:
        return None, pos
    end = pos + n - 1
    if end > len(buf):
        raise DecodeError("string past the end")
    return str(buf[pos:end], "utf-8"), end


def _cbytes(buf: memoryview, pos: int) -> tuple[bytes | None, int]:
    n, pos = _uvarint(buf, pos)
    if n == 0:
        return None, pos
    end = pos + n - 1
    if end > len(buf):
        raise DecodeError("bytes past the end")
    return bytes(buf[pos:end]), end


def _clen(buf: memoryview, pos: int) -> tuple[int, int]:
    """Compact array length; -1 for a null array."""
    n = buf[pos]
    if n < 0x80:
        return n - 1, pos + 1
    n, pos = _uvarint(buf, pos)
    return n - 1, pos


_INT32S = [struct.Struct(f">{n}i").unpack_from for n in range(128)]


def _cint32s(buf: memoryview, pos: int) -> tuple[tuple[int, ...] | None, int]:
    """Compact nullable int32 array (replica lists) as a tuple."""
    n = buf[pos] - 1
    if n < 0:
        return None, pos + 1
    if n < 127:
        return _INT32S[n](buf, pos + 1), pos + 1 + 4 * n
    n, pos = _clen(buf, pos)
    end = pos + 4 * n
    if end > len(buf):
        raise DecodeError("array past the end")
    return struct.unpack_from(f">{n}i", buf, pos), end


def _uuid(buf: memoryview, pos: int) -> tuple[uuid.UUID, int]:
    end = pos + 16
    if end > len(buf):
        raise DecodeError("uuid past the end")
    return uuid.UUID(bytes=bytes(buf[pos:end])), end


# -- the four responses ---------------------------------------------------------------------


def decode_metadata(buf: memoryview, pos: int, version: int) -> tuple[int, dict[str, Any], int]:
    """MetadataResponse v9–v13."""
    (throttle,) = _i32(buf, pos)
    pos += 4
    n, pos = _clen(buf, pos)
    brokers = []
    for _ in range(max(n, 0)):
        (node_id,) = _i32(buf, pos)
        host, pos = _cstr(buf, pos + 4)
        (port,) = _i32(buf, pos)
        rack, pos = _cstr(buf, pos + 4)
        pos = _skip_tags(buf, pos)
        brokers.append((node_id, host, port, rack))
    cluster_id, pos = _cstr(buf, pos)
    (controller_id,) = _i32(buf, pos)
    pos += 4
    nt, pos = _clen(buf, pos)
    topics = []
    has_topic_id = version >= 10
    for _ in range(max(nt, 0)):
        (error_code,) = _i16(buf, pos)
        name, pos = _cstr(buf, pos + 2)
        if has_topic_id:
            topic_id, pos = _uuid(buf, pos)
        else:
            topic_id = None
        is_internal = buf[pos] != 0
        pos += 1
        np_, pos = _clen(buf, pos)
        partitions = []
        for _ in range(max(np_, 0)):
            p_error, index, leader, epoch = _i16i32i32i32(buf, pos)
            replicas, pos = _cint32s(buf, pos + 14)
            isr, pos = _cint32s(buf, pos)
            offline, pos = _cint32s(buf, pos)
            if buf[pos] == 0:
                pos += 1
            else:
                pos = _skip_tags(buf, pos)
            partitions.append((p_error, index, leader, epoch, replicas, isr, offline))
        (topic_ops,) = _i32(buf, pos)
        pos = _skip_tags(buf, pos + 4)
        topics.append(
            (
                error_code,
                name,
                topic_id,
                is_internal,
                None if np_ < 0 else tuple(partitions),
                topic_ops,
            )
        )
    fields: dict[str, Any] = {
        "brokers": tuple(brokers),
        "cluster_id": cluster_id,
        "controller_id": controller_id,
        "topics": None if nt < 0 else tuple(topics),
    }
    if version <= 10:
        (fields["cluster_authorized_operations"],) = _i32(buf, pos)
        pos += 4
    if version >= 13:
        (fields["error_code"],) = _i16(buf, pos)
        pos += 2
    pos = _skip_tags(buf, pos)
    return throttle, fields, pos


def decode_list_offsets(buf: memoryview, pos: int, version: int) -> tuple[int, dict[str, Any], int]:
    """ListOffsetsResponse v6+ (flexible; every version since has the same layout)."""
    (throttle,) = _i32(buf, pos)
    pos += 4
    n, pos = _clen(buf, pos)
    topics = []
    for _ in range(max(n, 0)):
        name, pos = _cstr(buf, pos)
        np_, pos = _clen(buf, pos)
        end = pos + 27 * np_
        rows = _bulk(_LO_ROW, buf, pos, end, np_) if np_ > 0 else None
        if rows is not None:  # no tagged fields: one C-level unpack of the whole array
            partitions: Any = tuple([r[:5] for r in rows])
            pos = end
        else:
            partitions = []
            append = partitions.append
            for _ in range(max(np_, 0)):
                append(_i32i16qqi(buf, pos))
                pos += 26
                if buf[pos] == 0:
                    pos += 1
                else:
                    pos = _skip_tags(buf, pos)
        pos = _skip_tags(buf, pos)
        topics.append((name, None if np_ < 0 else tuple(partitions)))
    pos = _skip_tags(buf, pos)
    return throttle, {"topics": None if n < 0 else tuple(topics)}, pos


def decode_offset_fetch(buf: memoryview, pos: int, version: int) -> tuple[int, dict[str, Any], int]:
    """OffsetFetchResponse v8–v9: committed offsets of many groups in one response."""
    (throttle,) = _i32(buf, pos)
    pos += 4
    n, pos = _clen(buf, pos)
    groups = []
    size = len(buf)
    for _ in range(max(n, 0)):
        group_id, pos = _cstr(buf, pos)
        nt, pos = _clen(buf, pos)
        topics: list[Any] = []
        for _ in range(max(nt, 0)):
            name, pos = _cstr(buf, pos)
            np_, pos = _clen(buf, pos)
            end = pos + 20 * np_
            rows = _bulk(_OF_ROW, buf, pos, end, np_) if np_ > 0 else None
            if rows is not None:  # empty metadata, no tagged fields: one C-level unpack
                topics.append((name, tuple([(r[0], r[1], r[2], "", r[4]) for r in rows])))
                pos = _skip_tags(buf, end)
                continue
            partitions: list[tuple[Any, ...]] = []
            append = partitions.append
            for _ in range(max(np_, 0)):
                index, offset, epoch = _i32qi(buf, pos)
                pos += 16
                m = buf[pos]
                if m == 1:  # the usual empty metadata string
                    metadata: str | None = ""
                    pos += 1
                else:
                    metadata, pos = _cstr(buf, pos)
                (error_code,) = _i16(buf, pos)
                pos += 2
                if pos >= size:
                    raise DecodeError("partition past the end")
                if buf[pos] == 0:
                    pos += 1
                else:
                    pos = _skip_tags(buf, pos)
                append((index, offset, epoch, metadata, error_code))
            pos = _skip_tags(buf, pos)
            topics.append((name, None if np_ < 0 else tuple(partitions)))
        (error_code,) = _i16(buf, pos)
        pos = _skip_tags(buf, pos + 2)
        groups.append((group_id, None if nt < 0 else tuple(topics), error_code))
    pos = _skip_tags(buf, pos)
    return throttle, {"groups": None if n < 0 else tuple(groups)}, pos


def decode_describe_groups(
    buf: memoryview, pos: int, version: int
) -> tuple[int, dict[str, Any], int]:
    """DescribeGroupsResponse v5–v6."""
    (throttle,) = _i32(buf, pos)
    pos += 4
    n, pos = _clen(buf, pos)
    groups = []
    for _ in range(max(n, 0)):
        (error_code,) = _i16(buf, pos)
        pos += 2
        error_message = None
        if version >= 6:
            error_message, pos = _cstr(buf, pos)
        group_id, pos = _cstr(buf, pos)
        state, pos = _cstr(buf, pos)
        protocol_type, pos = _cstr(buf, pos)
        protocol_data, pos = _cstr(buf, pos)
        nm, pos = _clen(buf, pos)
        members = []
        for _ in range(max(nm, 0)):
            member_id, pos = _cstr(buf, pos)
            instance_id, pos = _cstr(buf, pos)
            client_id, pos = _cstr(buf, pos)
            client_host, pos = _cstr(buf, pos)
            member_metadata, pos = _cbytes(buf, pos)
            member_assignment, pos = _cbytes(buf, pos)
            pos = _skip_tags(buf, pos)
            members.append(
                (member_id, instance_id, client_id, client_host, member_metadata, member_assignment)
            )
        (ops,) = _i32(buf, pos)
        pos = _skip_tags(buf, pos + 4)
        groups.append(
            (
                error_code,
                error_message,
                group_id,
                state,
                protocol_type,
                protocol_data,
                None if nm < 0 else tuple(members),
                ops,
            )
        )
    pos = _skip_tags(buf, pos)
    return throttle, {"groups": None if n < 0 else tuple(groups)}, pos


Decoder = Callable[[memoryview, int, int], tuple[int, dict[str, Any], int]]

#: api_key -> (response class, first version parsed here, last version parsed here, parser)
DECODERS: dict[int, tuple[Any, int, int, Decoder]] = {
    MetadataResponse.API_KEY: (MetadataResponse, 9, 13, decode_metadata),
    ListOffsetsResponse.API_KEY: (ListOffsetsResponse, 6, 11, decode_list_offsets),
    OffsetFetchResponse.API_KEY: (OffsetFetchResponse, 8, 9, decode_offset_fetch),
    DescribeGroupsResponse.API_KEY: (DescribeGroupsResponse, 5, 6, decode_describe_groups),
}


def decode(api_key: int, version: int, body: bytes | bytearray | memoryview) -> FastResponse:
    """Decode one response body (after the response header) into plain tuples.

    Our parser for the versions in :data:`DECODERS`, kafka-python's otherwise or when ours
    fails; both give the same :class:`FastResponse`.
    """
    buf = memoryview(body)
    cls, low, high, parser = DECODERS[api_key]
    if low <= version <= high:
        try:
            throttle, fields, end = parser(buf, 0, version)
            if end != len(buf):
                raise DecodeError(f"{len(buf) - end} bytes left over")
            return FastResponse(api_key, version, throttle, fields, True)
        except (DecodeError, IndexError, struct.error, UnicodeDecodeError) as exc:
            log.warning("fast decoder failed on %s v%d (%s): kafka-python decodes it",
                        cls.__name__, version, exc)  # fmt: skip
    return plain(cls[version].decode(bytes(buf)))


# -- the hook ------------------------------------------------------------------------------


class _FastResponseType:
    """Stands in for a response class in kafka-python's receive path."""

    def __init__(self, real: Any, api_key: int, version: int) -> None:
        self.real = real
        self.api_key = api_key
        self.version = version
        self.__name__ = f"Fast{real.__name__}"

    def parse_header(self, buffer: Any) -> Any:
        return self.real.parse_header(buffer)

    def decode(self, buffer: Any) -> FastResponse:
        start = buffer.tell()
        return decode(self.api_key, self.version, memoryview(buffer)[start:])


class FastRequestHeader(RequestHeader, init=False):  # type: ignore[call-arg]
    __slots__ = ()

    def get_response_class(self) -> Any:
        real = super().get_response_class()
        if real is None or self.request_api_key not in DECODERS:
            return real
        return _FastResponseType(real, self.request_api_key, self.request_api_version)


_FAST_CLASSES: dict[type, type] = {}


def _with_fast_header(self: Any, *args: Any, **kwargs: Any) -> None:
    type(self).__mro__[1].with_header(self, *args, **kwargs)  # type: ignore[attr-defined]
    self._header.__class__ = FastRequestHeader


def fast_request(request: Any) -> Any:
    """Mark a kafka-python request so its response is decoded here (returns the request).

    The response then arrives as a :class:`FastResponse` whatever the negotiated version.
    """
    cls = type(request)
    if cls.API_KEY not in DECODERS:
        raise ValueError(f"no fast decoder for {cls.__name__}")
    fast = _FAST_CLASSES.get(cls)
    if fast is None:
        fast = type(
            cls.__name__,  # round trips are counted by request class name
            (cls,),
            {"__slots__": (), "with_header": _with_fast_header},
            init=False,
        )
        _FAST_CLASSES[cls] = fast
    request.__class__ = fast
    return request
