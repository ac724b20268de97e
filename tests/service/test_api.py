"""The JSON API against a running ``kafkaops serve`` on the real sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kafkaops.sandbox.cluster import Sandbox
from tests import kafka_helpers as kh
from tests.conftest import wait_until
from tests.service.conftest import TOKEN, Service, dump, latest, start_service, stop_service

pytestmark = [pytest.mark.integration, pytest.mark.pages, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def service(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """This module's own service, not the package's: these tests page, so the service must
    start under the clock guard (tests/conftest.py), which begins at this module."""
    svc = start_service(tmp_path_factory.mktemp("serve-api"), sandbox, token=TOKEN)
    try:
        yield svc
    finally:
        code = stop_service(svc)
        assert code == 0, f"serve exited {code} on SIGTERM: {svc.log.read_text()[-2000:]}"


def test_liveness_reports_each_cluster_loop(service: Service) -> None:
    r = service.get("/health")
    assert r.status_code == 200
    data = r.json()
    assert data["status"] in ("ok", "degraded") and data["loop_alive"] is True
    loops = {c["cluster"]: c for c in data["clusters"]}
    assert set(loops) == {"sbx", "down"}
    assert loops["sbx"]["reachable"] is True and loops["sbx"]["fresh"] is True
    # A cluster being down is reported per cluster; the service itself stays live.
    assert loops["down"]["reachable"] is False and loops["down"]["last_error"]
    # Where the reachable cluster's cycle went, phase by phase, adding up to the whole cycle.
    phases = loops["sbx"]["last_phases_s"]
    assert list(phases) == ["collect", "lag", "report", "extras", "incidents"], phases
    assert phases["collect"] > 0
    assert abs(sum(phases.values()) - loops["sbx"]["last_duration_s"]) < 0.05, loops["sbx"]


def test_msk_health_has_overall_healthy_and_findings(service: Service) -> None:
    r = service.get("/api/clusters/sbx/health")
    assert r.status_code == 200, r.text
    data = r.json()
    assert isinstance(data["overall_healthy"], bool)
    assert data["severity"] in ("OK", "P2", "P1", "P0")
    assert isinstance(data["findings"], list) and data["checks"]
    assert data["summary"]["brokers"] == 3


def test_unreachable_cluster_still_served(service: Service) -> None:
    data = latest(
        service,
        "/api/clusters/down/health",
        lambda d: d["severity"] == "P0",
        what="P0 report for the dead cluster",
    )
    assert data["overall_healthy"] is False and data["reachable"] is False
    assert data["findings"][0]["rule"] == "cluster_offline"
    r = service.get("/api/clusters/down/brokers")
    assert r.status_code == 503 and "error" in r.json()
    clusters = {c["name"]: c for c in service.get("/api/clusters").json()}
    assert clusters["down"]["state"] == "OFFLINE" and clusters["sbx"]["reachable"] is True


@pytest.mark.parametrize(
    "path",
    [
        "/api/clusters/nope/health",
        "/api/clusters/nope/brokers",
        "/api/clusters/nope/groups",
        "/api/clusters/nope/history/lag?group=g",
    ],
)
def test_unknown_cluster_is_404_json(service: Service, path: str) -> None:
    r = service.get(path)
    assert r.status_code == 404
    assert "no cluster 'nope'" in r.json()["error"]


def test_bad_parameters_are_4xx_json(service: Service) -> None:
    for path in (
        "/api/clusters/sbx/partitions?problem=bogus",
        "/api/clusters/sbx/partitions?limit=0",
        "/api/clusters/sbx/history/lag",  # group is required
        "/api/clusters/sbx/history/lag?group=g&since=yesterday",
        "/api/incidents?state=maybe",
        "/api/maintenance/windows?days=-1",
    ):
        r = service.get(path)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
        assert set(r.json()) == {"error"}, (path, r.text)
    assert service.get("/no/such/endpoint").json() == {"error": "no such endpoint (see /docs)"}


def test_brokers_topics_partitions(service: Service, unique_name: str, bootstrap: str) -> None:
    kh.create_topic(bootstrap, unique_name, partitions=2, rf=3)
    topics = latest(
        service,
        "/api/clusters/sbx/topics",
        lambda d: any(t["name"] == unique_name for t in d["topics"]),
        what="new topic in the snapshot",
    )
    [topic] = [t for t in topics["topics"] if t["name"] == unique_name]
    assert topic["partitions"] == 2 and topic["replication_factor"] == 3
    brokers = service.get("/api/clusters/sbx/brokers").json()
    assert [b["node_id"] for b in brokers["brokers"]] == [1, 2, 3]
    assert sum(b["active_controller"] for b in brokers["brokers"]) <= 1
    assert all(b["used_bytes"] >= 0 and b["log_dirs"] for b in brokers["brokers"])
    parts = service.get("/api/clusters/sbx/partitions?problem=offline").json()
    assert parts["problem"] == "offline" and parts["partitions"] == []


def test_groups_sorted_by_time_lag_then_offset_lag(
    service: Service, bootstrap: str, unique_name: str
) -> None:
    topic = unique_name
    kh.create_topic(bootstrap, topic, partitions=2, rf=1)
    kh.produce(bootstrap, topic, 50, 2)
    far, near, done = f"{topic}-far", f"{topic}-near", f"{topic}-done"
    kh.commit(bootstrap, far, {(topic, 0): 0, (topic, 1): 0})
    kh.commit(bootstrap, near, {(topic, 0): 45, (topic, 1): 45})
    kh.commit(bootstrap, done, {(topic, 0): 50, (topic, 1): 50})
    mine = {far, near, done}

    def ours(d: dict) -> list[dict]:
        return [g for g in d["groups"] if g["group_id"] in mine]

    data = latest(
        service,
        "/api/clusters/sbx/groups",
        lambda d: len(ours(d)) == 3,
        what="three new groups",
    )
    rows = data["groups"]
    keys = [(-(g["max_time_lag_ms"] or 0), -g["offset_lag"]) for g in rows]
    assert keys == sorted(keys), dump(rows)
    by_id = {g["group_id"]: g for g in ours(data)}
    assert by_id[far]["offset_lag"] == 100 and by_id[near]["offset_lag"] == 10
    assert by_id[done]["offset_lag"] == 0
    assert by_id[far]["time_lag_method"] == "exact"
    order = [g["group_id"] for g in ours(data)]
    assert order.index(far) < order.index(done)
    detail = service.get(f"/api/clusters/sbx/groups/{far}").json()
    assert detail["summary"]["group_id"] == far and len(detail["partitions"]) == 2
    assert detail["recommendations"]
    assert service.get(f"/api/clusters/sbx/groups/{far}-nope").status_code == 404
    # The history store records the lag: the chart has points.
    hist = latest(
        service,
        f"/api/clusters/sbx/history/lag?group={far}&since=10m",
        lambda d: len(d["points"]) >= 1,
        what="lag history points",
    )
    assert hist["points"][-1]["offset_lag"] == 100


def test_broker_history_has_disk_per_broker(service: Service) -> None:
    data = latest(
        service,
        "/api/clusters/sbx/history/brokers?since=10m",
        lambda d: {p["broker"] for p in d["points"]} == {1, 2, 3},
        what="broker samples",
    )
    assert all(p["used_bytes"] is not None for p in data["points"])


def test_maintenance_windows_and_jobs(service: Service) -> None:
    w = service.get("/api/maintenance/windows?days=8").json()
    assert any(o["type"] == "scheduled" for o in w["windows"])
    jobs = service.get("/api/jobs").json()
    assert set(jobs["next_runs"]) >= {
        "daily_check",
        "weekly_review",
        "capacity_check",
        "monthly_report",
    }
    assert jobs["next_runs"]["daily_check"].endswith("T09:00:00Z")


def test_stopped_broker_incident_ack_needs_token(
    service: Service, sandbox, bootstrap: str, unique_name: str
) -> None:
    kh.create_topic(bootstrap, unique_name, partitions=3, rf=3)
    kh.wait_no_urp(bootstrap)
    sandbox.stop_node(3)
    try:
        data = latest(
            service,
            "/api/incidents?cluster=sbx",
            lambda d: any(
                any(m["rule"] == "under_replicated_partitions" for m in i["members"]) for i in d
            ),
            timeout=90,
            what="an incident for the under-replicated partitions",
        )
        inc = next(
            i for i in data if any(m["rule"] == "under_replicated_partitions" for m in i["members"])
        )
        assert inc["status"] == "open" and inc["severity"] in ("P1", "P0")
        path = f"/api/incidents/{inc['id']}/ack"
        r = service.post(path, json={"actor": "alice"})
        assert r.status_code == 401 and r.json()["error"].startswith("missing")
        r = service.post(path, json={"actor": "alice"}, headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401 and r.json() == {"error": "invalid API token"}
        r = service.post(path, json={"actor": "alice", "note": "on it"}, headers=service.auth())
        assert r.status_code == 200, r.text
        assert r.json()["incident"]["status"] == "acknowledged"
        shown = service.get(f"/api/incidents/{inc['id']}").json()
        assert shown["acknowledged_by"] == "alice"
        assert any(e["action"].startswith("ack") for e in shown["audit"])
        again = service.post(path, headers=service.auth())
        assert again.status_code == 409 and "error" in again.json()
        listed = service.get("/api/incidents?state=acknowledged&cluster=sbx").json()
        assert inc["id"] in [i["id"] for i in listed]
        assert service.get("/api/incidents/no-such-incident").status_code == 404
        r = service.post("/api/incidents/no-such-incident/resolve", headers=service.auth())
        assert r.status_code == 404
    finally:
        sandbox.start_node(3)
        kh.wait_no_urp(bootstrap)
    r = service.post(
        f"/api/incidents/{inc['id']}/resolve", json={"note": "broker back"}, headers=service.auth()
    )
    assert r.status_code in (200, 409), r.text  # 409: the loop resolved it first
    wait_until(
        lambda: service.get(f"/api/incidents/{inc['id']}").json()["status"] == "resolved",
        timeout=60,
        what="incident resolved",
    )
