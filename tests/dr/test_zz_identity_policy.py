"""The identity replication policy (MSK Replicator's "identical topic names"): a fresh
replica, MM2 restarted with IdentityReplicationPolicy, ``dr verify`` finds the topics under
their own names.  Last in the directory: it replaces the shared pair's replica."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, wait_until
from tests.dr.conftest import DR_REPLICA_PORT, Pair, _up
from tests.dr.helpers import commit, create_topic, end_offsets, produce, read_at
from tests.dr.test_verify_pair import report, verify_json

pytestmark = [pytest.mark.integration, pytest.mark.destructive, pytest.mark.timeout(900)]


def test_identity_policy_pair(dr_pair: Pair, unique_name: str) -> None:
    dr_pair.mirror.down()
    dr_pair.replica.down()
    _up(dr_pair.replica, DR_REPLICA_PORT)
    dr_pair.restart_mirror("identity")
    topic, group = f"id-{unique_name}", f"gid-{unique_name}"
    primary_bs, replica_bs = dr_pair.primary.bootstrap(), dr_pair.replica.bootstrap()
    create_topic(primary_bs, topic, 1)
    # Committed at the end of what was written (always translatable, see test_verify_pair),
    # then more records: the group is behind.
    acked = produce(primary_bs, topic, 77)
    commit(primary_bs, group, {(topic, 0): 77})
    acked += produce(primary_bs, topic, 43, start=77)

    def ready():
        _f, r = report(dr_pair)
        lag = [x for x in r.partitions if x.topic == topic]
        rows = [g for g in r.groups if g.group == group]
        return lag and lag[0].lag_records == 0 and rows and rows[0].checkpoint_upstream == 77

    wait_until(ready, timeout=120, what="identity replication and a checkpoint")
    _code, data = verify_json(dr_pair)
    assert data["policy"] == "identity"
    row = next(t for t in data["topics"] if t["topic"] == topic)
    assert row["remote"] == topic and row["status"] == "ok"
    lag = next(x for x in data["partitions"] if x["topic"] == topic)
    assert lag["replica_end"] == end_offsets(replica_bs, topic)[0] == 120
    g = next(x for x in data["groups"] if x["group"] == group)
    value = read_at(replica_bs, topic, 0, g["translated"])
    truth = next(a.offset for a in acked if a.seq == int(value)) if value is not None else 120
    assert g["translated_upstream"] == truth and g["replay_records"] == 77 - truth
    proc = run_cli("dr", "verify", "--policy", "default", env=dr_pair.env)
    assert proc.returncode == 3 and "policy mismatch" in proc.stderr
