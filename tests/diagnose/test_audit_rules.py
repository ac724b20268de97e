"""Audit rules on config facts (no cluster): each rule fires on its case only."""

from __future__ import annotations

from kafkaops.diagnose.audit import TopicFacts, audit_broker, audit_topic

DEFAULT = "DEFAULT_CONFIG"
SET = "DYNAMIC_TOPIC_CONFIG"


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
