"""The service without a cluster: the app over a synthetic state (FastAPI's TestClient).

Covers what needs no broker: token rules (403 without a token, 401 with protect_reads),
``service:`` settings, the scheduler's run times and job store, ``since`` parsing, and the
exporter's cost on a 10,000-partition snapshot.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from kafkaops.collect.admin import CollectOptions
from kafkaops.config import Config
from kafkaops.config.service import ServiceSettings
from kafkaops.core.errors import ConfigError
from kafkaops.core.model import (
    Broker,
    ClusterSnapshot,
    ConsumerGroup,
    GroupMember,
    LogDir,
    PartitionLag,
    PartitionState,
    Topic,
)
from kafkaops.evaluate.report import build_report
from kafkaops.incidents.store import IncidentStore
from kafkaops.jobs.store import JobsStore
from kafkaops.pipeline.health import Target
from kafkaops.pipeline.watch import Watcher
from kafkaops.service.app import create_app
from kafkaops.service.errors import ApiError
from kafkaops.service.jobs import Scheduler, build_jobs, daily_check
from kafkaops.service.state import ServiceState, load_token


def synthetic_snapshot(partitions: int = 10_000, groups: int = 100) -> ClusterSnapshot:
    """``partitions`` over 100 topics (RF 3, a few under-replicated), ``groups`` groups."""
    per_topic = partitions // 100
    topics = []
    for t in range(100):
        parts = tuple(
            PartitionState(
                f"topic-{t:03d}",
                p,
                leader=1 + p % 3,
                replicas=(1, 2, 3),
                isr=(1, 2) if (t, p) == (0, 0) else (1, 2, 3),
                min_isr=2,
                log_start_offset=0,
                log_end_offset=1_000 + p,
            )
            for p in range(per_topic)
        )
        topics.append(Topic(f"topic-{t:03d}", False, parts))
    glist = []
    for g in range(groups):
        topic = topics[g % 100]
        lags = tuple(
            PartitionLag(
                topic.name,
                p.partition,
                committed=900,
                log_start_offset=0,
                log_end_offset=p.log_end_offset,
                lag=(p.log_end_offset or 0) - 900,
                time_lag_ms=1_000 * (g % 60),
                time_lag_method="exact",
            )
            for p in topic.partitions
        )
        members = (GroupMember("m-1", "c-1", "/10.0.0.1"),)
        glist.append(ConsumerGroup(f"group-{g:04d}", "Stable", "consumer", 1, members, lags))
    dirs = tuple(
        LogDir(b, "/data", None, {f"topic-000-{b}": 10**9 * b}, 10**12, 6 * 10**11)
        for b in (1, 2, 3)
    )
    return ClusterSnapshot(
        cluster_name="big", bootstrap="127.0.0.1:1", taken_at_ms=int(time.time() * 1000),
        duration_ms=1200, cluster_id="x", controller_id=1, quorum_leader_id=100,
        quorum_voters=(100,), brokers=tuple(Broker(b, "127.0.0.1", 9000 + b) for b in (1, 2, 3)),
        topics=tuple(topics), groups=tuple(glist), log_dirs=dirs,
    )  # fmt: skip


def make_state(tmp_path: Path, *, token: str | None, protect_reads: bool = False) -> ServiceState:
    config = Config.model_validate({"service": {"protect_reads": protect_reads}})
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    target = Target("big", {"bootstrap_servers": "127.0.0.1:1"}, CollectOptions(), config, url)
    watcher = Watcher(targets=[target], engine=None, dispatcher=None)
    snap = synthetic_snapshot()
    cs = watcher.states["big"]
    cs.last_snapshot = snap
    cs.last_report = build_report(
        snap, config.thresholds, cluster_name="big", bootstrap=snap.bootstrap,
        checked_at_ms=snap.taken_at_ms, reachable=True,
    )  # fmt: skip
    incidents = IncidentStore(url)
    runtime = SimpleNamespace(incidents=incidents, engine=None, close=incidents.close)
    from pydantic import SecretStr

    state = ServiceState(
        config=config,
        watcher=watcher,
        runtime=runtime,  # type: ignore[arg-type]
        store_url=url,
        token=SecretStr(token) if token else None,
    )
    state.scheduler = Scheduler(
        state, JobsStore(incidents.engine), build_jobs(config.service, datetime.now(UTC))
    )
    return state


@pytest.fixture
def state(tmp_path: Path) -> ServiceState:
    return make_state(tmp_path, token=None)


def test_mutations_refused_without_a_configured_token(state: ServiceState) -> None:
    client = TestClient(create_app(state), base_url="http://127.0.0.1")
    r = client.post("/api/incidents/x/ack", headers={"Authorization": "Bearer anything"})
    assert r.status_code == 403
    assert "KAFKAOPS_API_TOKEN" in r.json()["error"]
    assert client.get("/api/clusters/big/health").json()["overall_healthy"] is False


def test_protect_reads_needs_the_token_but_not_for_liveness(tmp_path: Path) -> None:
    client = TestClient(
        create_app(make_state(tmp_path, token="s3cret", protect_reads=True)),
        base_url="http://127.0.0.1",
    )
    assert client.get("/api/clusters").status_code == 401
    assert client.get("/metrics").status_code == 401
    assert client.get("/health").status_code == 200
    ok = client.get("/api/clusters", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()[0]["name"] == "big"


def test_views_on_a_big_snapshot(state: ServiceState) -> None:
    client = TestClient(create_app(state), base_url="http://127.0.0.1")
    urp = client.get("/api/clusters/big/partitions?problem=under_replicated").json()
    assert urp["total"] == 1 and urp["partitions"][0]["problems"] == ["under_replicated"]
    groups = client.get("/api/clusters/big/groups?top=5").json()["groups"]
    assert [g["max_time_lag_ms"] for g in groups] == sorted(
        (g["max_time_lag_ms"] for g in groups), reverse=True
    )
    brokers = client.get("/api/clusters/big/brokers").json()["brokers"]
    assert brokers[0]["disk_percent"] == 40.0
    assert client.get("/api/clusters/big/history/lag?group=g&since=9999d").status_code == 422


def test_metrics_at_10k_partitions_scrapes_serve_the_prerendered_body(
    state: ServiceState, monkeypatch
) -> None:
    """The loop renders once per cycle; scrapes only send that body (the p99 target itself is
    measured in bench/service_bench.py, not asserted here: timings belong to benchmarks)."""
    app = create_app(state)
    exporter = app.state.exporter
    started = time.perf_counter()
    exporter.refresh()  # what the loop does right after a cycle
    render_s = time.perf_counter() - started
    renders = []
    original = exporter._renderer.chunks
    monkeypatch.setattr(exporter._renderer, "chunks", lambda: renders.append(1) or original())
    client = TestClient(app, base_url="http://127.0.0.1")
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        r = client.get("/metrics")
        times.append(time.perf_counter() - t0)
        assert r.status_code == 200
    assert renders == [], "a scrape re-rendered the per-cycle families"
    fams = {f.name: f for f in text_string_to_metric_families(r.text)}
    lag = fams["kafka_consumergroup_lag"].samples
    assert len(lag) == 100 * 100
    assert len(fams["kafka_topic_partition_current_offset"].samples) == 10_000
    p99 = statistics.quantiles(times, n=100)[98]
    print(f"render {render_s * 1000:.0f} ms, /metrics p99 {p99 * 1000:.1f} ms, {len(r.content)} B")


def test_metrics_plain_and_gzip_pages_are_the_same_text(state: ServiceState) -> None:
    """Only the gzipped page is kept; a client without gzip gets it inflated, byte for byte
    the same families, and the live families are read once for scrapes within a second."""
    from kafkaops.service.exporter import cache

    app = create_app(state)
    exporter = app.state.exporter
    exporter.refresh()
    client = TestClient(app, base_url="http://127.0.0.1")
    zipped = client.get("/metrics")  # httpx asks for gzip and inflates
    assert zipped.headers["content-encoding"] == "gzip"
    plain = client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == zipped.content
    assert exporter._gzip is not None and exporter._gzip.size > 1_000_000
    assert len(exporter._gzip.head) < exporter._gzip.size / 10
    first = exporter._live_families()
    assert exporter._live_families() is first  # within LIVE_TTL_S: the same bytes
    assert exporter.live_ttl_s == cache.LIVE_TTL_S
    exporter._live = (exporter._live[0] - cache.LIVE_TTL_S, first)  # type: ignore[index]
    assert exporter._live_families() is not first


def test_settings_validate_schedules_and_secrets() -> None:
    assert ServiceSettings().port == 8080
    for bad in ({"daily_check": "9am"}, {"weekly_review": "Funday 10:00"}, {"token_env": "ab cd"}):
        with pytest.raises(ValueError):
            ServiceSettings.model_validate(bad)
    with pytest.raises(ValueError):
        ServiceSettings.model_validate({"token": "inline"})


def test_token_from_env_then_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "tok"
    f.write_text("from-file\n")
    settings = ServiceSettings(token_env="KO_TEST_TOKEN", token_file=f)
    monkeypatch.delenv("KO_TEST_TOKEN", raising=False)
    token, where = load_token(settings)
    assert token is not None and token.get_secret_value() == "from-file" and where == str(f)
    monkeypatch.setenv("KO_TEST_TOKEN", "from-env")
    token, where = load_token(settings)
    assert token is not None and token.get_secret_value() == "from-env"
    assert "from-env" not in where
    with pytest.raises(ConfigError, match="cannot read"):
        load_token(ServiceSettings(token_env=None, token_file=tmp_path / "missing"))


def test_schedule_next_runs_in_utc() -> None:
    now = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # a Wednesday
    jobs = {j.name: j for j in build_jobs(ServiceSettings(), now)}
    assert jobs["daily_check"].next_after(now) == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert jobs["weekly_review"].next_after(now) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    off = {
        j.name: j
        for j in build_jobs(ServiceSettings(daily_check=None, weekly_review="fri 17:45"), now)
    }
    assert "daily_check" not in off and "dr_backup_check" not in off  # off / no dr: pair
    assert off["weekly_review"].next_after(now) == datetime(2026, 11, 27, 17, 45, tzinfo=UTC)
    assert off["capacity_check"].next_after(now) == datetime(2026, 11, 26, 9, 5, tzinfo=UTC)
    # The monthly report: the first Monday of the month (1 December 2026 is a Tuesday).
    assert off["monthly_report"].next_after(now) == datetime(2026, 12, 7, 11, 0, tzinfo=UTC)


def test_daily_check_is_recorded_once(state: ServiceState) -> None:
    at = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    daily_check(state, at)
    daily_check(state, at)  # a second instance / a restart: recorded once
    assert state.scheduler is not None
    runs = state.scheduler.store.recent("daily_check")
    assert len(runs) == 1 and runs[0]["cluster"] == "big"
    assert runs[0]["result"]["overall_healthy"] is False and "checks" not in runs[0]["result"]
    client = TestClient(create_app(state), base_url="http://127.0.0.1")
    assert client.get("/api/jobs?job=daily_check").json()["runs"][0]["ok"] is False


def test_unknown_cluster_error() -> None:
    err = ApiError(404, "no  cluster\n'x'")
    assert err.message == "no cluster 'x'"


def test_api_clusters_says_who_owns_each_cluster(state: ServiceState) -> None:
    """Issue 17: with per-cluster sharing the owner and lease epoch come from the store."""
    from kafkaops.pipeline.sharing import ClusterSharing
    from kafkaops.store.lease import Leases
    from kafkaops.store.members import Members

    client = TestClient(create_app(state), base_url="http://127.0.0.1")
    [big] = client.get("/api/clusters").json()
    assert (big["owner"], big["epoch"], big["watched_here"]) == (None, None, False)
    engine = state.runtime.incidents.engine
    sharing = ClusterSharing(Leases(engine), Members(engine), interval_s=10, instance="me:1:ab")
    state.watcher.sharing = sharing
    assert client.get("/api/clusters").json()[0]["owner"] is None  # nobody holds it yet
    assert "first cycle not done: big" not in client.get("/readyz").json()["reasons"]
    sharing.assign(["big"], datetime.now(UTC))
    [big] = client.get("/api/clusters").json()
    assert (big["owner"], big["epoch"], big["watched_here"]) == ("me:1:ab", 1, True)
    assert "first cycle not done: big" in client.get("/readyz").json()["reasons"]
    sharing.stop()  # clean leave: released, the epoch stays for the next owner
    [big] = client.get("/api/clusters").json()
    assert (big["owner"], big["epoch"]) == (None, None)


def test_a_new_cycle_lets_the_old_snapshot_go(state: ServiceState) -> None:
    """The cached response bodies must not keep the snapshot they were made from alive once
    the loop has a new one (each pinned one is tens of MiB at 20,000 partitions)."""
    import gc

    from kafkaops.core.model import Severity
    from kafkaops.pipeline.watch import ClusterOutcome, CycleOutcome

    client = TestClient(create_app(state), base_url="http://127.0.0.1")
    for path in ("/api/clusters/big/groups", "/api/clusters/big/health"):
        assert client.get(path).status_code == 200
    cs = state.cluster("big")
    old = cs.last_snapshot
    assert any(old is key[0] for key, _ in state._bodies.values())
    new = synthetic_snapshot(partitions=1_000, groups=10)
    cs.last_snapshot = new
    cs.last_report = build_report(
        new, state.config.thresholds, cluster_name="big", bootstrap=new.bootstrap,
        checked_at_ms=new.taken_at_ms, reachable=True,
    )  # fmt: skip
    outcome = ClusterOutcome(
        cluster="big", reachable=True, failures=0, severity=Severity.OK, triggered=0,
        notifications=0, actions=0, duration_s=0.1,
    )  # fmt: skip
    state.record_cycle(CycleOutcome(at=datetime.now(UTC), leader=True, clusters=(outcome,)))
    gc.collect()
    holders = [o for o in gc.get_referrers(old) if isinstance(o, tuple | dict)]
    assert holders == [], f"the old snapshot is still held by {len(holders)} object(s)"
    groups = client.get("/api/clusters/big/groups").json()["groups"]
    assert len(groups) == 10  # rebuilt from the new snapshot, not served from the old body


def test_concurrent_requests_make_a_missing_body_once(state: ServiceState) -> None:
    """Four clients asking at once after a new cycle: one maker, the others wait for it."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    made = []
    start = threading.Barrier(4)
    snap = state.snapshot("big")

    def make() -> bytes:
        made.append(1)
        time.sleep(0.3)
        return b"{}"

    def ask() -> bytes:
        start.wait(timeout=10)
        return state.cached_body("big", "groups", (snap, None), make)

    with ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(lambda _: ask(), range(4)))
    assert bodies == [b"{}"] * 4
    assert len(made) == 1
