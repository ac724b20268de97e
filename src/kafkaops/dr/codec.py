"""MirrorMaker 2's internal records, decoded from their documented binary layout.

MM2 serialises its records with Kafka's ``org.apache.kafka.common.protocol.types`` structs:
big-endian, ``STRING`` = int16 length + UTF-8 bytes, ``INT32``/``INT64`` fixed width.  Values
of checkpoints and heartbeats start with a version header (``{version: int16}``); keys and
offset-sync values have none.

* checkpoint (``<source>.checkpoints.internal`` on the replica), ``Checkpoint.java``:
  key ``{group: STRING, topic: STRING, partition: INT32}`` — the topic is the *remote* name on
  the replica; value ``{version: INT16}{upstreamOffset: INT64, offset: INT64, metadata: STRING}``
* offset sync (``mm2-offset-syncs.<target>.internal``, on the source by default),
  ``OffsetSync.java``: key ``{topic: STRING, partition: INT32}`` (the source topic);
  value ``{upstreamOffset: INT64, offset: INT64}`` — no version header (unlike the others)
* heartbeat (``heartbeats`` on the target, ``<alias>.heartbeats`` once replicated),
  ``Heartbeat.java``: key ``{sourceClusterAlias: STRING, targetClusterAlias: STRING}``;
  value ``{version: INT16}{timestamp: INT64}``
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


class DecodeError(ValueError):
    """A record that does not have MM2's layout (wrong topic, newer version, truncated)."""


class _Reader:
    def __init__(self, data: bytes | None) -> None:
        if data is None:
            raise DecodeError("record has no key or value (tombstone)")
        self.data, self.pos = data, 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise DecodeError(f"truncated record: need {n} bytes at {self.pos} of {len(self.data)}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        return int(struct.unpack(">h", self._take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack(">i", self._take(4))[0])

    def int64(self) -> int:
        return int(struct.unpack(">q", self._take(8))[0])

    def string(self) -> str:
        n = self.int16()
        if n < 0:
            raise DecodeError("null STRING where MM2 writes a value")
        return self._take(n).decode("utf-8")

    def version(self) -> int:
        v = self.int16()
        if v != 0:
            raise DecodeError(f"unknown MM2 record version {v} (this decoder knows 0)")
        return v


def _string(value: str) -> bytes:
    raw = value.encode("utf-8")
    return struct.pack(">h", len(raw)) + raw


@dataclass(frozen=True, slots=True)
class Checkpoint:
    group: str
    #: The topic as named on the replica (MM2 renames before it checkpoints).
    topic: str
    partition: int
    upstream_offset: int
    downstream_offset: int
    metadata: str = ""
    #: The checkpoint record's own timestamp (when MM2 emitted it), epoch ms.
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class OffsetSync:
    topic: str
    partition: int
    upstream_offset: int
    downstream_offset: int
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    source: str
    target: str
    timestamp_ms: int


def decode_checkpoint(key: bytes | None, value: bytes | None, ts: int | None = None) -> Checkpoint:
    k = _Reader(key)
    group, topic, partition = k.string(), k.string(), k.int32()
    v = _Reader(value)
    v.version()
    upstream, downstream, metadata = v.int64(), v.int64(), v.string()
    return Checkpoint(group, topic, partition, upstream, downstream, metadata, ts)


def decode_offset_sync(key: bytes | None, value: bytes | None, ts: int | None = None) -> OffsetSync:
    k = _Reader(key)
    topic, partition = k.string(), k.int32()
    v = _Reader(value)
    return OffsetSync(topic, partition, v.int64(), v.int64(), ts)


def decode_heartbeat(key: bytes | None, value: bytes | None) -> Heartbeat:
    k = _Reader(key)
    source, target = k.string(), k.string()
    v = _Reader(value)
    v.version()
    return Heartbeat(source, target, v.int64())


# Encoders: the tests build records byte for byte and check the decoders against MM2's own.
def encode_checkpoint(c: Checkpoint) -> tuple[bytes, bytes]:
    key = _string(c.group) + _string(c.topic) + struct.pack(">i", c.partition)
    value = struct.pack(">hqq", 0, c.upstream_offset, c.downstream_offset) + _string(c.metadata)
    return key, value


def encode_offset_sync(s: OffsetSync) -> tuple[bytes, bytes]:
    key = _string(s.topic) + struct.pack(">i", s.partition)
    return key, struct.pack(">qq", s.upstream_offset, s.downstream_offset)


def encode_heartbeat(h: Heartbeat) -> tuple[bytes, bytes]:
    return _string(h.source) + _string(h.target), struct.pack(">hq", 0, h.timestamp_ms)
