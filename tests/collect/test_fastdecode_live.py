"""Live responses of the sandbox cluster: the fast decoders agree with kafka-python's, and a
snapshot is the same whichever decoder read it."""

from __future__ import annotations

import threading

import pytest
from kafka import KafkaConsumer
from kafka.protocol.admin import DescribeGroupsResponse
from kafka.protocol.consumer import ListOffsetsResponse, OffsetFetchResponse
from kafka.protocol.metadata import MetadataResponse

from kafkaops.collect import fastdecode as fd
from kafkaops.collect.admin import CollectOptions
from kafkaops.collect.snapshot import collect_snapshot
from tests import kafka_helpers as kh
from tests.conftest import wait_until

pytestmark = pytest.mark.integration

CLASSES = {
    cls.API_KEY: cls
    for cls in (MetadataResponse, ListOffsetsResponse, OffsetFetchResponse, DescribeGroupsResponse)
}
NO_TIME_LAG = CollectOptions(time_lag_method="none")


@pytest.fixture
def cluster_state(bootstrap: str, unique_name: str):
    """Two topics with records, committed groups, and a group with a live member."""
    topics = [f"{unique_name}-a", f"{unique_name}-b"]
    for t in topics:
        kh.create_topic(bootstrap, t, partitions=4, rf=2)
        kh.produce(bootstrap, t, 3, 4)
    for i in range(3):
        kh.commit(bootstrap, f"{unique_name}-g{i}", {(topics[i % 2], p): p for p in range(4)})
    live = f"{unique_name}-live"
    stop = threading.Event()

    def member() -> None:
        c = KafkaConsumer(
            topics[0], bootstrap_servers=bootstrap, group_id=live, enable_auto_commit=False
        )
        try:
            while not stop.is_set():
                c.poll(timeout_ms=200)
        finally:
            c.close(autocommit=False)

    thread = threading.Thread(target=member, daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: any(
                g.group_id == live and g.members and g.members[0].assignment
                for g in collect_snapshot("t", {"bootstrap_servers": bootstrap}, NO_TIME_LAG).groups
            ),
            timeout=60,
            what="a live member with an assignment",
        )
        yield live
    finally:
        stop.set()
        thread.join(15)


def test_live_responses_decode_identically(bootstrap, cluster_state, monkeypatch):
    recorded: list[tuple[int, int, bytes]] = []
    real = fd.decode

    def recording(api_key: int, version: int, body) -> fd.FastResponse:
        recorded.append((api_key, version, bytes(body)))
        return real(api_key, version, body)

    monkeypatch.setattr(fd, "decode", recording)
    snap = collect_snapshot("t", {"bootstrap_servers": bootstrap}, NO_TIME_LAG)
    assert not snap.errors, snap.errors
    assert {api for api, _, _ in recorded} == set(CLASSES)
    for api_key, version, body in recorded:
        fast = real(api_key, version, body)
        assert fast.fast, (api_key, version)  # the versions Kafka negotiates are parsed by us
        oracle = fd.plain(CLASSES[api_key][version].decode(body))
        assert fast.throttle_time_ms == oracle.throttle_time_ms
        assert fast.fields == oracle.fields, (api_key, version)
    live = next(g for g in snap.groups if g.group_id == cluster_state)
    assert live.members and live.members[0].assignment  # member assignment decoded


def test_snapshot_is_the_same_with_kafka_pythons_decoder(bootstrap, cluster_state, monkeypatch):
    fast = collect_snapshot("t", {"bootstrap_servers": bootstrap}, NO_TIME_LAG)
    # Nothing in range any more: every response goes through kafka-python and fd.plain.
    monkeypatch.setattr(
        fd, "DECODERS", {k: (c, 99, 99, p) for k, (c, _, _, p) in fd.DECODERS.items()}
    )
    slow = collect_snapshot("t", {"bootstrap_servers": bootstrap}, NO_TIME_LAG)
    assert not fast.errors and not slow.errors
    assert (fast.cluster_id, fast.brokers) == (slow.cluster_id, slow.brokers)
    assert fast.topics == slow.topics
    assert fast.groups == slow.groups
    groups = {g.group_id: g for g in fast.groups}
    assert groups[cluster_state].members
