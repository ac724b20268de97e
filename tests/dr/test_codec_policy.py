"""MM2 record layouts and replication-policy names (pure; bytes as real MM2 4.1 wrote them)."""

from __future__ import annotations

import pytest

from kafkaops.dr import codec
from kafkaops.dr.policy import ReplicationPolicy, is_mm2_topic, replicable


def test_offset_sync_bytes_from_a_real_mm2() -> None:
    # Read from mm2-offset-syncs.dr.internal of the sandbox pair: no version header.
    key = b"\x00\x06orders\x00\x00\x00\x01"
    value = (113).to_bytes(8, "big") + (110).to_bytes(8, "big")
    s = codec.decode_offset_sync(key, value, 5)
    assert (s.topic, s.partition, s.upstream_offset, s.downstream_offset) == ("orders", 1, 113, 110)
    assert codec.encode_offset_sync(s) == (key, value)


def test_checkpoint_and_heartbeat_round_trip() -> None:
    c = codec.Checkpoint("g1", "default.orders", 2, 114, 100, "meta")
    key, value = codec.encode_checkpoint(c)
    assert value[:2] == b"\x00\x00"  # version header
    assert codec.decode_checkpoint(key, value) == c
    h = codec.Heartbeat("default", "dr", 1_796_098_414_573)
    assert codec.decode_heartbeat(*codec.encode_heartbeat(h)) == h


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        (None, b"", "tombstone"),
        (b"\x00\x06orde", b"", "truncated"),
        (b"\x00\x01g\x00\x01t\x00\x00\x00\x00", b"\x00\x01" + b"\x00" * 18, "version 1"),
    ],
)
def test_checkpoint_garbage_is_refused(key, value, why) -> None:
    with pytest.raises(codec.DecodeError):
        codec.decode_checkpoint(key, value)


def test_policy_names() -> None:
    d = ReplicationPolicy("default", "primary")
    assert d.remote_topic("orders") == "primary.orders"
    assert d.upstream_topic("primary.orders") == "orders"
    assert d.upstream_topic("other.orders") is None
    assert d.checkpoints_topic() == "primary.checkpoints.internal"
    assert d.offset_syncs_topic("dr") == "mm2-offset-syncs.dr.internal"
    i = ReplicationPolicy("identity", "primary")
    assert i.remote_topic("orders") == "orders" == i.upstream_topic("orders")
    assert not replicable("__consumer_offsets")
    assert not replicable("mm2-offset-syncs.dr.internal")
    assert not replicable("heartbeats")
    assert replicable("orders")
    assert is_mm2_topic("primary.heartbeats", "primary")
    assert is_mm2_topic("primary.checkpoints.internal", "primary")


def test_cycles_are_not_replicated_back() -> None:
    """The failback direction (dr -> primary): the replica's ``primary.orders`` is the primary's
    own ``orders``; MM2 never copies it back, so it is neither missing nor lagging."""
    back = ReplicationPolicy("default", "dr")
    assert back.is_cycle("primary.orders", "primary")
    assert back.is_cycle("dr.primary.orders", "primary")
    assert not back.is_cycle("orders", "primary")
    assert not back.is_cycle("dr.orders", "primary")
    assert not ReplicationPolicy("identity", "dr").is_cycle("primary.orders", "primary")
