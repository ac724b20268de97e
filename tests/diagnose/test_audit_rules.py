"""Audit rules on config facts (no cluster): each rule fires on its case only."""

from __future__ import annotations

from kafkaops.diagnose.audit import TopicFacts, audit_broker, audit_topic

DEFAULT = "DEFAULT_CONFIG"
SET = "DYNAMIC_TOPIC_CONFIG"
S = "STATIC_BROKER_CONFIG"


def rules(rf: int, **configs: tuple[str, str]) -> set[str]:
    facts = TopicFacts("t", rf, {k.replace("_", "."): v for k, v in configs.items()})
    return {f.rule for f in audit_topic(facts, "b:9092")}


def test_kafka_defaults_are_clean() -> None:
    # Kafka's own defaults: segment.ms = retention.ms = 7 d, but not set on the topic.
    week = "604800000"
    assert (
        rules(
            3,
            segment_ms=(week, DEFAULT),
            retention_ms=(week, DEFAULT),
            min_insync_replicas=("2", SET),
        )
        == set()
    )


def test_each_rule() -> None:
    assert rules(1) == {"replication_factor_low"}
    assert rules(3, min_insync_replicas=("3", SET)) == {"min_isr_not_below_rf"}
    assert rules(3, min_insync_replicas=("1", DEFAULT)) == {"min_isr_low"}
    assert rules(3, unclean_leader_election_enable=("true", SET)) == {"unclean_election_on"}
    assert rules(3, segment_ms=("86400000", SET), retention_ms=("86400000", SET)) == {
        "segment_ms_not_below_retention"
    }
    assert rules(3, segment_ms=("1000", SET), retention_ms=("86400000", SET)) == {"segment_ms_tiny"}


def test_plaintext_client_listener_but_not_the_controller_one() -> None:
    configs = {
        "listeners": ("PLAINTEXT://h:9092,CONTROLLER://h:9093", "STATIC_BROKER_CONFIG"),
        "listener.security.protocol.map": ("PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT", "S"),
        "controller.listener.names": ("CONTROLLER", "S"),
        "auto.create.topics.enable": ("true", DEFAULT),
    }
    found = audit_broker("1", configs, "h:9092")
    assert {f.rule for f in found} == {"listener_plaintext", "auto_create_topics_on"}
    assert "CONTROLLER" not in found[1].evidence
    tls = {**configs, "listener.security.protocol.map": ("PLAINTEXT:SASL_SSL,CONTROLLER:x", "S")}
    assert {f.rule for f in audit_broker("1", tls, "h:9092")} == {"auto_create_topics_on"}
    sasl = {**configs, "listener.security.protocol.map": ("PLAINTEXT:SASL_PLAINTEXT", "S")}
    assert "listener_no_tls" in {f.rule for f in audit_broker("1", sasl, "h:9092")}
    ssl = {**configs, "listener.security.protocol.map": ("PLAINTEXT:SSL", "S")}
    assert "listener_no_auth" in {f.rule for f in audit_broker("1", ssl, "h:9092")}
    mtls = {**ssl, "ssl.client.auth": ("required", "S")}
    assert {f.rule for f in audit_broker("1", mtls, "h:9092")} == {"auto_create_topics_on"}


# --- rules that need traffic, metadata or ACLs ---------------------------------------------
def _traffic(name: str, bytes_per_s: float | None, partitions: int = 2):
    from kafkaops.diagnose.traffic import TopicTraffic

    per_msg = None if bytes_per_s is None else 100.0
    msgs = 0.0 if bytes_per_s is None else bytes_per_s / 100
    return TopicTraffic(name, partitions, 2, 5.0, msgs, msgs / partitions, 0, 0, per_msg,
                        bytes_per_s)  # fmt: skip


def _snapshot(disk: int, sizes: dict[str, int]):
    from kafkaops.core.model import ClusterSnapshot, LogDir, PartitionState, Topic

    topics = tuple(
        Topic(n, False, tuple(PartitionState(n, i, 1, (1, 2), (1, 2)) for i in range(2)))
        for n in ("big", "small")
    )
    dirs = tuple(LogDir(b, "/d", None, dict(sizes), total_bytes=disk) for b in (1, 2))
    return ClusterSnapshot("c", "b:9092", 0, 1, None, None, None, (), (), topics, (), dirs)


def test_retention_that_cannot_fit_the_disk_names_the_topic_and_a_retention_that_does() -> None:
    from kafkaops.diagnose.audit import audit_disk_fit

    day = 86_400_000
    configs = {
        "big": {"retention.ms": (str(7 * day), SET), "cleanup.policy": ("delete", DEFAULT)},
        "small": {"retention.ms": (str(day), DEFAULT), "cleanup.policy": ("delete", DEFAULT)},
    }
    # 2 MB/s into "big" (1 MB/s per partition) × 7 d ≈ 605 GB per replica, both on each broker.
    traffic = {"big": _traffic("big", 2e6), "small": _traffic("small", None)}
    found = audit_disk_fit(_snapshot(10**12, {"small-0": 10**9}), traffic, configs, "b:9092")
    assert [(f.rule, f.severity, f.subject) for f in found] == [
        ("retention_exceeds_disk", "P1", "broker:1"),
        ("retention_exceeds_disk", "P1", "broker:2"),
    ]
    assert "big" in found[0].evidence and "--entity-name big" in found[0].fix
    keep_ms = int(found[0].fix.split("retention.ms=")[1].split()[0])
    assert 2 * 1e6 / 2 * keep_ms / 1000 * 2 <= 0.8 * 10**12 + 10**9  # brings it to ~80 %
    # The same traffic on a disk ten times the size: nothing.
    assert audit_disk_fit(_snapshot(10**13, {}), traffic, configs, "b:9092") == []


def test_compression_off_only_flagged_on_heavy_topics() -> None:
    from kafkaops.diagnose.audit import audit_heavy_uncompressed

    configs = {n: {"compression.type": ("uncompressed", SET)} for n in ("heavy", "light")}
    traffic = {"heavy": _traffic("heavy", 5e6), "light": _traffic("light", 1e3)}
    found = audit_heavy_uncompressed(traffic, configs, 1024 * 1024, "b:9092")
    assert [(f.rule, f.subject) for f in found] == [("compression_off_heavy_topic", "topic:heavy")]
    assert "compression.type=producer" in found[0].fix


def test_partitions_per_broker_against_the_msk_instance_type() -> None:
    from kafkaops.diagnose.audit import audit_partition_limit

    found = audit_partition_limit({1: 900, 2: 1200, 3: 1600}, "kafka.m5.large")
    assert [(f.subject, f.severity) for f in found] == [("broker:2", "P2"), ("broker:3", "P1")]
    assert audit_partition_limit({1: 99999}, None) == []  # no instance type: no limit known


def test_authorizer_without_acls() -> None:
    from kafkaops.diagnose.audit import audit_acls

    on = {"authorizer.class.name": ("org.apache.kafka.metadata.authorizer.StandardAuthorizer", S)}
    assert [f.severity for f in audit_acls(on, 0)] == ["P2"]
    allow = {**on, "allow.everyone.if.no.acl.found": ("true", S)}
    assert [f.severity for f in audit_acls(allow, 0)] == ["P1"]
    assert audit_acls(on, 3) == [] and audit_acls(on, None) == [] and audit_acls({}, 0) == []
