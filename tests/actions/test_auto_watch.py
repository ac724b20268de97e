"""``watch`` with automatic actions on the sandbox (real KRaft brokers, real incident engine):

* a disk threshold set low + ``scale_storage`` in dry-run: the would-be action (self-managed:
  what to do by hand) is attached to the incident once per cool-down, not once per cycle;
* ``add_partitions`` in apply mode on a topic whose group lags beyond the P1 time lag: the
  partitions are added once and the incident says so.

The cycles run at synthetic times 10 s apart (the snapshots are real), so ``for:`` and the
cool-downs are tested without waiting for them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from kafkaops.actions.audit import AuditLog
from kafkaops.collect.admin import CollectOptions
from kafkaops.config import Config
from kafkaops.pipeline.health import Target
from kafkaops.pipeline.runtime import open_runtime
from kafkaops.pipeline.watch import Watcher
from tests.kafka_helpers import admin, commit, create_topic, produce

pytestmark = [pytest.mark.integration]


def test_auto_actions_in_watch(bootstrap, tmp_path, unique_name) -> None:
    topic, group = f"t-{unique_name}", f"g-{unique_name}"
    create_topic(
        bootstrap, topic, partitions=2, rf=3
    )  # RF 1 would leave the shared cluster under min ISR
    hour_ago = int(time.time() * 1000) - 3_600_000
    produce(bootstrap, topic, 20, 2, timestamp_ms=hour_ago)
    commit(bootstrap, group, {(topic, 0): 5, (topic, 1): 5})

    url = f"sqlite:///{tmp_path / 'watch.db'}"
    cfg = Config.model_validate(
        {
            "store": {"url": url},
            "thresholds": {"critical": {"disk_usage": "0.01%"},
                           "warning": {"disk_usage": "0.005%"}},
            "incidents": {"maintenance": {"windows": []}, "alerts": {"keep_firing_for_s": 0}},
            "actions": {"auto": {
                "disk_usage": {"p1": {"action": "scale_storage", "for": "20s",
                                      "cooldown": "6h"}},
                "consumer_lag": {"p1": {"action": "add_partitions", "mode": "apply",
                                        "for": "0s", "cooldown": "1h", "increment": 2}},
            }},
        }
    )  # fmt: skip
    runtime = open_runtime(cfg, url)
    target = Target(
        name="sb",
        client_kwargs={"bootstrap_servers": bootstrap},
        options=CollectOptions(time_lag_method="exact"),
        config=cfg,
        store_url=url,
    )
    watcher = Watcher(targets=[target], engine=runtime.engine, dispatcher=None,
                      lease=runtime.incidents, interval_s=10)  # fmt: skip
    t0 = datetime.now(UTC).replace(microsecond=0)
    try:
        for i in range(7):
            watcher.cycle(t0 + timedelta(seconds=10 * i))
    finally:
        watcher.close()

    with AuditLog.open(url) as audit:
        rows = audit.list("sb", last=100)
    storage = [r for r in rows if r["operation"] == "auto:scale_storage"]
    parts = [r for r in rows if r["operation"] == f"auto:add_partitions:{group}"]
    assert [r["result"] for r in storage] == ["dry_run"], storage
    assert "would have done: add +100 GiB per broker by hand" in storage[0]["summary"]
    assert storage[0]["who"] == "kafkaops-auto"
    assert [r["result"] for r in parts] == ["succeeded"], parts
    assert f"added 2 partitions to {topic} (2 → 4)" in parts[0]["summary"]

    a = admin(bootstrap)
    try:
        [desc] = a.describe_topics([topic])
        assert len(desc["partitions"]) == 4
    finally:
        a.close()

    [inc] = [i for i in runtime.incidents.list_incidents(cluster="sb") if i.is_open]
    notes = [e for e in inc.audit if e.action.startswith("auto-action")]
    dry = [e for e in notes if e.action == "auto-action (dry run)"]
    done = [e for e in notes if e.action == "auto-action"]
    assert len(dry) == 1 and "scale_storage for disk_usage P1" in dry[0].detail
    assert len(done) == 1 and f"added 2 partitions to {topic}" in done[0].detail
    runtime.close()
