"""``kafkaops configs set`` on the sandbox: the diff, the broker's own validation on dry-run
(nothing changes), a refused value in one line, and the applied change."""

from __future__ import annotations

import json

from kafka.admin import ConfigResource, ConfigResourceType

from tests.conftest import run_cli
from tests.kafka_helpers import admin, create_topic


def _retention(bootstrap: str, topic: str) -> str:
    a = admin(bootstrap)
    try:
        raw = a.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": None})],
            config_filter="all",
        )
        return raw["topic"][topic]["retention.ms"]["value"]
    finally:
        a.close()


def test_configs_set_dry_run_refusal_apply(bootstrap, unique_name) -> None:
    topic = f"c-{unique_name}"
    create_topic(
        bootstrap, topic, partitions=1, rf=3
    )  # RF 1 would leave the shared cluster under min ISR
    before = _retention(bootstrap, topic)

    r = run_cli("configs", "set", "--topic", topic, "retention.ms=3600000",
                "--bootstrap", bootstrap, "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["applied"] is False
    assert out["diff"] == [{"key": "retention.ms", "current": before, "new": "3600000",
                            "changes": True}]  # fmt: skip
    assert _retention(bootstrap, topic) == before

    r = run_cli("configs", "set", "--topic", topic, "retention.ms=soon", "--bootstrap", bootstrap)
    assert r.returncode == 3
    assert r.stderr.startswith("error: refused:") and len(r.stderr.strip().splitlines()) == 1
    assert "retention.ms" in r.stderr

    r = run_cli("configs", "set", "--topic", topic, "retention.ms=3600000",
                "--bootstrap", bootstrap, "--apply")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "~ retention.ms:" in r.stdout and "applied" in r.stdout
    assert _retention(bootstrap, topic) == "3600000"
