"""DescribeGroups members as the snapshot reads them (``admin._member_dict``)."""

from __future__ import annotations

from kafka.protocol.consumer.metadata import ConsumerProtocolAssignment as Assignment

from kafkaops.collect.admin import _member_dict
from kafkaops.collect.snapshot import _member


def test_consumer_assignment_is_decoded() -> None:
    raw = Assignment(
        assigned_partitions=[Assignment.TopicPartition(topic="t", partitions=[2, 0])],
        user_data=None,
    ).encode(version=0)
    member = _member_dict(("m-1", None, "client", "/10.0.0.1", b"", raw))
    assert member["member_assignment"] == {
        "assigned_partitions": [{"topic": "t", "partitions": [2, 0]}],
        "user_data": None,
    }
    parsed = _member(member)
    assert (parsed.member_id, parsed.client_id, parsed.host) == ("m-1", "client", "10.0.0.1")
    assert parsed.assignment == (("t", 0), ("t", 2))


def test_other_protocols_keep_their_bytes_and_no_assignment() -> None:
    member = _member_dict(("m-2", "static", "connect", "/h", b"\x01", b"\x00\x07xx"))
    assert member["member_assignment"] == b"\x00\x07xx"
    assert member["group_instance_id"] == "static"
    assert _member(member).assignment == ()
    empty = _member_dict(("m-3", None, "c", "h", None, None))
    assert _member(empty).assignment == ()
