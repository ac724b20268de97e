"""ListOffsets requests for many partitions, written as bytes.

Why: building a kafka-python ``DataContainer`` per partition and encoding it field by field was
about a sixth of a 20,000-partition snapshot's client CPU; the flexible versions' layout is
simple enough to write directly, and ``tests/collect/test_fastdecode.py`` checks the bytes are
kafka-python's own.  Responses are decoded by :mod:`~kafkaops.collect.fastdecode`.
"""

from __future__ import annotations

import struct
from typing import Any

from kafka.protocol.consumer import ListOffsetsRequest

from kafkaops.collect.fastdecode import FastRequestHeader

#: One ListOffsets v4+ request partition: index, current leader epoch (-1: unknown), timestamp,
#: empty tagged fields.
_LO_REQUEST_PARTITION = struct.Struct(">iiqB")


def _uvarint_bytes(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class FastListOffsetsRequest(ListOffsetsRequest, init=False):  # type: ignore[call-arg]
    """A ListOffsets request for many partitions, encoded straight from plain data.

    kafka-python would build a ``DataContainer`` per partition and encode it field by field
    (about a sixth of a 20,000-partition snapshot's client CPU).  For the flexible versions
    (v6+) the body is written here, byte for byte what kafka-python writes
    (``tests/collect/test_fastdecode.py`` compares them); for older versions kafka-python's
    objects are built and its encoder used.  The response is decoded like any
    :func:`fast_request`.
    """

    __slots__ = ("_plain",)

    def with_header(self, *args: Any, **kwargs: Any) -> None:
        super().with_header(*args, **kwargs)
        self._header.__class__ = FastRequestHeader

    def encode(self, version: int | None = None, header: bool = False, framed: bool = False) -> Any:
        if version is not None:
            self.API_VERSION = version  # type: ignore[misc]
        topics, timestamp = self._plain
        if self.API_VERSION is None or self.API_VERSION < 6 or self.topics:  # type: ignore[has-type]
            if not self.topics:  # type: ignore[has-type]
                topic_cls = ListOffsetsRequest.ListOffsetsTopic
                part_cls = topic_cls.ListOffsetsPartition
                self.topics = [  # type: ignore[misc]
                    topic_cls(
                        name=name,
                        partitions=[part_cls(partition_index=i, timestamp=timestamp) for i in idx],
                    )
                    for name, idx in topics
                ]
            return super().encode(version=version, header=header, framed=framed)
        pack = _LO_REQUEST_PARTITION.pack
        parts = [struct.pack(">ib", self.replica_id, self.isolation_level)]
        parts.append(_uvarint_bytes(len(topics) + 1))
        for name, indexes in topics:
            raw = name.encode("utf-8")
            parts.append(_uvarint_bytes(len(raw) + 1))
            parts.append(raw)
            parts.append(_uvarint_bytes(len(indexes) + 1))
            parts.extend([pack(i, -1, timestamp, 0) for i in indexes])
            parts.append(b"\x00")
        if self.API_VERSION >= 10:
            parts.append(struct.pack(">i", self.timeout_ms))
        parts.append(b"\x00")
        body = b"".join(parts)
        if header:
            body = self.encode_header(flexible=True) + body
        if framed:
            body = struct.pack(">i", len(body)) + body
        return body


def list_offsets_request(
    topics: list[tuple[str, list[int]]], timestamp: int, isolation_level: int = 0
) -> FastListOffsetsRequest:
    """ListOffsets for ``[(topic, [partition, ...]), ...]`` at one timestamp spec
    (-1 latest, -2 earliest), encoded by :class:`FastListOffsetsRequest`."""
    request = FastListOffsetsRequest(
        replica_id=-1,
        isolation_level=isolation_level,
        topics=[],
        min_version=max(
            ListOffsetsRequest.min_version_for_timestamp(timestamp) if timestamp < 0 else 0,
            ListOffsetsRequest.min_version_for_isolation_level(isolation_level),
        ),
    )
    request._plain = (topics, timestamp)
    return request
