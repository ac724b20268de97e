"""``kafkaops topics optimize`` on the session cluster: --apply changes exactly the shown diff."""

from __future__ import annotations

import json

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from kafkaops.sandbox.cluster import Sandbox
from tests.conftest import run_cli

pytestmark = pytest.mark.integration
DAY = "86400000"


def _configs(bootstrap: str, topic: str) -> dict[str, str | None]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20_000)
    try:
        raw = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, None)], config_filter="all"
        )
    finally:
        admin.close()
    return {k: v.get("value") for k, v in raw["topic"][topic].items()}


def test_optimize_apply_changes_exactly_the_shown_diff(
    sandbox: Sandbox, bootstrap: str, unique_name: str
) -> None:
    topic = unique_name
    # The runbook's optimizer output (segment.ms = retention.ms) plus two durability mistakes.
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20_000)
    try:
        admin.create_topics(
            [
                NewTopic(
                    topic,
                    3,
                    3,
                    topic_configs={
                        "segment.ms": DAY,
                        "retention.ms": DAY,
                        "min.insync.replicas": "1",
                        "unclean.leader.election.enable": "true",
                    },
                )
            ]
        )
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for i in range(300):
        producer.send(topic, f"record-{i}".encode() * 10)
    producer.flush(timeout=30)
    producer.close(timeout=10)
    before = _configs(bootstrap, topic)

    dry = run_cli("topics", "optimize", topic, "--dir", str(sandbox.root), "--window", "1",
                  "--json")  # fmt: skip
    assert dry.returncode == 1, dry.stderr  # changes recommended, nothing changed
    shown = json.loads(dry.stdout)
    assert shown["traffic"]["retained_messages"] == 300
    assert shown["traffic"]["size_bytes"] > 300 * 80
    diff = {d["key"]: d["new"] for d in shown["diff"]}
    assert diff == {
        "segment.ms": str(int(DAY) // 10),
        "min.insync.replicas": "2",
        "unclean.leader.election.enable": "false",
    }
    text = run_cli("topics", "optimize", topic, "--dir", str(sandbox.root), "--window", "1")
    assert text.returncode == 1, text.stderr
    assert "segment.ms: 86400000 → 8640000" in text.stdout
    assert all(len(line) <= 80 for line in text.stdout.splitlines()), text.stdout
    assert _configs(bootstrap, topic) == before

    done = run_cli("topics", "optimize", topic, "--dir", str(sandbox.root), "--window", "1",
                   "--apply", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {d["key"]: d["new"] for d in json.loads(done.stdout)["diff"]} == diff
    after = _configs(bootstrap, topic)
    assert {k for k in after if after[k] != before.get(k)} == set(diff)
    assert all(after[k] == v for k, v in diff.items())

    again = run_cli("topics", "optimize", topic, "--dir", str(sandbox.root), "--window", "1")
    assert again.returncode == 0, again.stderr
    assert "No config change recommended." in again.stdout
