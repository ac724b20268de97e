"""The fast response decoders give exactly what kafka-python's own decoder gives.

Responses are built with kafka-python's classes from random data (hypothesis: names with any
Unicode, null and empty strings and arrays, negative offsets, error codes, topic ids, ACL
bitfields), encoded by kafka-python itself at every version we parse, and decoded both ways:
the tuples of :func:`fastdecode.decode` must equal :func:`fastdecode.plain` of kafka-python's
decoding, which reads every field off kafka-python's objects.  Unknown tagged fields are added
by hand (kafka-python's encoder never writes them).  The hook is checked end to end through
kafka-python's ``KafkaProtocol`` with a framed response, no broker needed; the live responses
of a real cluster are checked in ``test_fastdecode_live.py``.
"""

from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.protocol.admin import DescribeGroupsRequest, DescribeGroupsResponse
from kafka.protocol.consumer import (
    ListOffsetsRequest,
    ListOffsetsResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
)
from kafka.protocol.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.parser import KafkaProtocol

from kafkaops.collect import fastdecode as fd
from kafkaops.collect.fastrequest import list_offsets_request

M = MetadataResponse
LO = ListOffsetsResponse
OF = OffsetFetchResponse
DG = DescribeGroupsResponse

i16 = st.integers(-(2**15), 2**15 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
text = st.text(max_size=20)
maybe_text = st.none() | text
# kafka-python models ACL operations as a set of bit positions (its "bitfield" patch).
ops = st.frozensets(st.integers(0, 30), max_size=4).map(set)
nodes = st.lists(i32, max_size=5)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def metadata_response(draw: st.DrawFn) -> M:
    T = M.MetadataResponseTopic
    P = T.MetadataResponsePartition
    partitions = st.builds(
        P,
        error_code=i16,
        partition_index=i32,
        leader_id=i32,
        leader_epoch=i32,
        replica_nodes=nodes,
        isr_nodes=nodes,
        offline_replicas=nodes,
    )
    topics = st.builds(
        T,
        error_code=i16,
        name=maybe_text,
        topic_id=st.uuids(),
        is_internal=st.booleans(),
        partitions=st.lists(partitions, max_size=4),
        authorized_operations=ops,
    )
    brokers = st.builds(M.MetadataResponseBroker, node_id=i32, host=text, port=i32, rack=maybe_text)
    return M(
        throttle_time_ms=draw(i32),
        brokers=draw(st.lists(brokers, max_size=3)),
        cluster_id=draw(maybe_text),
        controller_id=draw(i32),
        topics=draw(st.lists(topics, max_size=4)),
        authorized_operations=draw(ops),
        error_code=draw(i16),
    )


def list_offsets_response(draw: st.DrawFn) -> LO:
    T = LO.ListOffsetsTopicResponse
    P = T.ListOffsetsPartitionResponse
    partitions = st.builds(
        P, partition_index=i32, error_code=i16, timestamp=i64, offset=i64, leader_epoch=i32
    )
    topics = st.builds(T, name=text, partitions=st.lists(partitions, max_size=5))
    return LO(throttle_time_ms=draw(i32), topics=draw(st.lists(topics, max_size=4)))


def offset_fetch_response(draw: st.DrawFn) -> OF:
    G = OF.OffsetFetchResponseGroup
    T = G.OffsetFetchResponseTopics
    P = T.OffsetFetchResponsePartitions
    partitions = st.builds(
        P,
        partition_index=i32,
        committed_offset=i64,
        committed_leader_epoch=i32,
        metadata=maybe_text,
        error_code=i16,
    )
    topics = st.builds(T, name=text, partitions=st.lists(partitions, max_size=5))
    groups = st.builds(G, group_id=text, topics=st.lists(topics, max_size=3), error_code=i16)
    return OF(throttle_time_ms=draw(i32), groups=draw(st.lists(groups, max_size=4)))


def describe_groups_response(draw: st.DrawFn) -> DG:
    G = DG.DescribedGroup
    Mb = G.DescribedGroupMember
    members = st.builds(
        Mb,
        member_id=text,
        group_instance_id=maybe_text,
        client_id=text,
        client_host=text,
        member_metadata=st.binary(max_size=40),
        member_assignment=st.binary(max_size=40),
    )
    groups = st.builds(
        G,
        error_code=i16,
        error_message=maybe_text,
        group_id=text,
        group_state=text,
        protocol_type=text,
        protocol_data=text,
        members=st.lists(members, max_size=3),
        authorized_operations=ops,
    )
    return DG(throttle_time_ms=draw(i32), groups=draw(st.lists(groups, max_size=4)))


CASES = {
    "metadata": (M, (9, 10, 11, 12, 13), st.composite(metadata_response)),
    "list_offsets": (LO, (6, 7, 8, 9, 10, 11), st.composite(list_offsets_response)),
    "offset_fetch": (OF, (8, 9), st.composite(offset_fetch_response)),
    "describe_groups": (DG, (5, 6), st.composite(describe_groups_response)),
}


def both(cls: type, version: int, body: bytes) -> tuple[fd.FastResponse, fd.FastResponse]:
    return fd.decode(cls.API_KEY, version, body), fd.plain(cls[version].decode(body))


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_decoder_matches_kafka_python(case: str) -> None:
    cls, versions, responses = CASES[case]

    @SETTINGS
    @given(response=responses(), version=st.sampled_from(versions))
    def check(response: object, version: int) -> None:
        body = response.encode(version=version)
        fast, oracle = both(cls, version, body)
        assert fast.fast and not oracle.fast
        assert fast.throttle_time_ms == oracle.throttle_time_ms
        assert fast.fields == oracle.fields
        # and the oracle itself is not vacuous: it carries what was encoded
        top = next(iter(oracle.fields.values()))
        assert top is not None

    check()


def test_plain_reads_every_field() -> None:
    """Spot-check the oracle against the values put in, so a shared mistake cannot hide."""
    T = OF.OffsetFetchResponseGroup.OffsetFetchResponseTopics
    P = T.OffsetFetchResponsePartitions
    group = OF.OffsetFetchResponseGroup(
        group_id="g",
        topics=[T(name="t", partitions=[P(partition_index=3, committed_offset=42,
                                          committed_leader_epoch=7, metadata=None,
                                          error_code=0)])],
        error_code=0,
    )  # fmt: skip
    body = OF(throttle_time_ms=9, groups=[group]).encode(version=8)
    fast = fd.decode(OF.API_KEY, 8, body)
    assert fast.throttle_time_ms == 9
    assert fast.groups == (("g", (("t", ((3, 42, 7, None, 0),)),), 0),)
    tid = uuid.uuid4()
    P2 = M.MetadataResponseTopic.MetadataResponsePartition
    topic = M.MetadataResponseTopic(
        error_code=0, name="t", topic_id=tid, is_internal=True, authorized_operations={3},
        partitions=[P2(error_code=0, partition_index=1, leader_id=2, leader_epoch=5,
                       replica_nodes=[2, 3], isr_nodes=[2], offline_replicas=[3])],
    )  # fmt: skip
    body = M(brokers=[], cluster_id=None, controller_id=1, topics=[topic]).encode(version=12)
    assert fd.decode(M.API_KEY, 12, body).topics == (
        (0, "t", tid, True, ((0, 1, 2, 5, (2, 3), (2,), (3,)),), 8),
    )


def _with_top_level_tags(body: bytes) -> bytes:
    """Replace the empty top-level tagged-field section (the last byte) by two unknown tags."""
    assert body[-1] == 0
    tags = bytes([2, 17, 3]) + b"abc" + bytes([0x81, 0x01, 1]) + b"z"  # tag 17 and tag 129
    return body[:-1] + tags


@pytest.mark.parametrize("case", sorted(CASES))
def test_unknown_tagged_fields_are_skipped(case: str) -> None:
    cls, versions, responses = CASES[case]

    @settings(SETTINGS, max_examples=10)
    @given(response=responses(), version=st.sampled_from(versions))
    def check(response: object, version: int) -> None:
        body = _with_top_level_tags(response.encode(version=version))
        fast, oracle = both(cls, version, body)
        assert fast.fast
        assert fast.fields == oracle.fields

    check()


def _offset_fetch_by_hand(with_tags: bool) -> bytes:
    """OffsetFetch v8 with unknown tagged fields in every nested element and long varints."""
    tags = bytes([1, 5, 2]) + b"xy" if with_tags else b"\x00"

    def cstr(s: str) -> bytes:
        raw = s.encode()
        return _uvarint(len(raw) + 1) + raw

    partitions = b"".join(
        struct.pack(">iqi", i, 1000 + i, -1) + cstr("m" * 200) + struct.pack(">h", 0) + tags
        for i in range(130)  # 130 partitions: a two-byte array length
    )
    topic = cstr("topic") + _uvarint(131) + partitions + tags
    group = cstr("group") + _uvarint(2) + topic + struct.pack(">h", 0) + tags
    return struct.pack(">i", 0) + _uvarint(2) + group + tags


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@pytest.mark.parametrize("with_tags", [False, True])
def test_nested_tags_and_long_lengths(with_tags: bool) -> None:
    body = _offset_fetch_by_hand(with_tags)
    fast, oracle = both(OF, 8, body)
    assert fast.fast
    assert fast.fields == oracle.fields
    [(gid, [(name, partitions)], err)] = fast.groups
    assert (gid, name, err, len(partitions)) == ("group", "topic", 0, 130)
    assert partitions[129] == (129, 1129, -1, "m" * 200, 0)


@settings(SETTINGS, max_examples=10)
@given(response=st.composite(list_offsets_response)())
def test_fallback_on_leftover_bytes_and_unparsed_versions(response: LO) -> None:
    body = response.encode(version=9)
    fast = fd.decode(LO.API_KEY, 9, body + b"\x00")  # trailing byte: ours refuses
    assert not fast.fast
    assert fast.fields == fd.plain(LO[9].decode(body)).fields
    old = fd.decode(LO.API_KEY, 5, response.encode(version=5))  # not flexible: kafka-python's
    assert not old.fast
    assert old.fields == fd.plain(LO[5].decode(response.encode(version=5))).fields


@settings(SETTINGS, max_examples=10)
@given(response=st.composite(offset_fetch_response)(), cut=st.integers(1, 10_000))
def test_truncated_response_raises_like_kafka_python(response: OF, cut: int) -> None:
    """Ours gives up on a cut response; kafka-python's decoder then raises as it always did."""
    body = response.encode(version=8)
    cut = min(cut, len(body) - 1)
    with pytest.raises((ValueError, struct.error, IndexError)):
        fd.decode(OF.API_KEY, 8, body[:cut])


REQUESTS = {
    "metadata": (lambda: MetadataRequest(topics=None, allow_auto_topic_creation=False), M, 12),
    "list_offsets": (
        lambda: ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=[]),
        LO,
        9,
    ),
    "offset_fetch": (lambda: OffsetFetchRequest(groups=[], min_version=8), OF, 8),
    "describe_groups": (lambda: DescribeGroupsRequest(groups=["g"]), DG, 5),
}


@pytest.mark.parametrize("case", sorted(REQUESTS))
def test_hook_through_kafka_protocol(case: str) -> None:
    """A marked request's response comes out of kafka-python's parser as our tuples."""
    make, response_cls, version = REQUESTS[case]
    check_hook(make, response_cls, version)


@settings(SETTINGS, max_examples=5)
@given(data=st.data())
def check_hook(make: object, response_cls: type, version: int, data: st.DataObject) -> None:
    plain_bytes = make().encode(version=version)
    request_ = make()
    request_.API_VERSION = version
    marked = fd.fast_request(request_)
    assert marked.encode(version=version) == plain_bytes  # the request itself is unchanged
    proto = KafkaProtocol(client_id="t")
    correlation_id = proto.send_request(marked)
    _, _, responses = CASES[_case(response_cls)]
    body = data.draw(responses()).encode(version=version)
    flexible = response_cls.flexible_version_q(version)
    header = struct.pack(">i", correlation_id) + (b"\x00" if flexible else b"")
    frame = struct.pack(">i", len(header) + len(body)) + header + body
    [(cid, response)] = proto.receive_bytes(frame[:7]) + proto.receive_bytes(frame[7:])
    assert cid == correlation_id
    assert isinstance(response, fd.FastResponse) and response.fast
    assert response.fields == fd.plain(response_cls[version].decode(body)).fields


def _case(cls: type) -> str:
    return next(k for k, (c, _, _) in CASES.items() if c is cls)


def test_unmarked_requests_keep_kafka_pythons_objects() -> None:
    proto = KafkaProtocol(client_id="t")
    request = ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=[])
    request.API_VERSION = 9
    correlation_id = proto.send_request(request)
    body = LO(throttle_time_ms=0, topics=[]).encode(version=9)
    header = struct.pack(">i", correlation_id) + b"\x00"
    frame = struct.pack(">i", len(header) + len(body)) + header + body
    [(_, response)] = proto.receive_bytes(frame)
    assert isinstance(response, LO)


def test_only_known_requests_can_be_marked() -> None:
    from kafka.protocol.admin import ListGroupsRequest

    with pytest.raises(ValueError, match="no fast decoder"):
        fd.fast_request(ListGroupsRequest())


@settings(SETTINGS, max_examples=30)
@given(
    offsets=st.lists(st.tuples(i32, i64, i32, i16), min_size=1, max_size=30),
    odd=st.none() | st.tuples(st.integers(0, 29), maybe_text),
)
def test_bulk_rows_and_the_row_that_breaks_them(offsets, odd) -> None:
    """Partitions with empty metadata are unpacked in bulk; one row that differs (metadata
    null or non-empty) sends the whole array through the field-by-field loop."""
    T = OF.OffsetFetchResponseGroup.OffsetFetchResponseTopics
    P = T.OffsetFetchResponsePartitions
    parts = [
        P(partition_index=i, committed_offset=o, committed_leader_epoch=e, metadata="",
          error_code=err)
        for i, o, e, err in offsets
    ]  # fmt: skip
    if odd is not None and odd[0] < len(parts):
        parts[odd[0]].metadata = odd[1]
    group = OF.OffsetFetchResponseGroup(
        group_id="g", topics=[T(name="t", partitions=parts)], error_code=0
    )
    body = OF(throttle_time_ms=0, groups=[group]).encode(version=8)
    fast, oracle = both(OF, 8, body)
    assert fast.fast
    assert fast.fields == oracle.fields


@settings(SETTINGS, max_examples=60)
@given(
    topics=st.lists(
        st.tuples(text, st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=140)),
        min_size=1,
        max_size=4,
    ),
    timestamp=st.sampled_from([-1, -2]) | st.integers(0, 2**62),
    isolation=st.sampled_from([0, 1]),
    version=st.integers(2, 11),
)
def test_list_offsets_request_bytes_are_kafka_pythons(topics, timestamp, isolation, version):
    """Written by hand for v6+, kafka-python's encoder below: the same bytes either way."""
    T = ListOffsetsRequest.ListOffsetsTopic
    P = T.ListOffsetsPartition
    theirs = ListOffsetsRequest(
        replica_id=-1,
        isolation_level=isolation,
        topics=[
            T(name=name, partitions=[P(partition_index=i, timestamp=timestamp) for i in idx])
            for name, idx in topics
        ],
    )
    ours = list_offsets_request(topics, timestamp, isolation)
    for request in (theirs, ours):
        request.API_VERSION = version
        request.with_header(correlation_id=5, client_id="kafkaops")
    assert bytes(ours.encode(header=True, framed=True)) == bytes(
        theirs.encode(header=True, framed=True)
    )
    assert isinstance(ours.header.get_response_class(), fd._FastResponseType)
