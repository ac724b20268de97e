"""Issue 10, item 4: a P0 page survives a 15-minute receiver outage, visibly.

The receiver (a real HTTP server on 127.0.0.1) is stopped for 15 minutes of injected-clock
time while the dispatcher keeps trying with the *default* retry settings; then it comes back on
the same port.  Along the way ``/metrics`` (the service app in-process, FastAPI's TestClient)
shows the page pending, and the incident's API view shows the page ``retrying`` with the
receiver's error.  Before the fix the page was failed after ~7 minutes (``max_attempts`` 10)
and nothing of this was visible.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from kafkaops.collect.admin import CollectOptions
from kafkaops.config import Config
from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.evaluate.report import build_report
from kafkaops.jobs.store import JobsStore
from kafkaops.notify.dispatcher import Dispatcher
from kafkaops.pipeline.health import Target
from kafkaops.pipeline.runtime import Runtime, open_runtime
from kafkaops.pipeline.watch import Watcher
from kafkaops.service.app import create_app
from kafkaops.service.jobs import Scheduler, build_jobs
from kafkaops.service.state import ServiceState
from tests.notify.conftest import FakeClock
from tests.notify.drain import run_until_idle
from tests.notify.receivers import Recorder
from tests.service.test_inprocess import synthetic_snapshot

pytestmark = pytest.mark.timeout(120)


def offline(severity: Severity = Severity.P0) -> Finding:
    return Finding(
        "offline_partitions", severity, CheckStatus.TRIGGERED, "Offline partitions",
        2.0, 0.0, "count", "cluster", ("orders-0: no leader",), ("Restart the broker",),
    )  # fmt: skip


@pytest.fixture
def receiver() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    rec.stop()


def make_runtime(tmp_path: Path, receiver_url: str, clock: FakeClock) -> Runtime:
    config = Config.model_validate(
        {
            "channels": {
                "timeout": "2s",
                "webhooks": {"gw": {"url": receiver_url + "/pager"}},
            },
            "incidents": {
                "routing": {"p0": ["webhook:gw"], "p1": ["webhook:gw"], "p2": ["webhook:gw"]},
                "maintenance": {"windows": []},
            },
        }
    )
    runtime = open_runtime(config, f"sqlite:///{tmp_path / 'svc.db'}")
    # The runtime's dispatcher with the test's clock: backoffs pass without waiting.
    runtime.dispatcher.close()
    runtime.dispatcher = Dispatcher(
        runtime.outbox, config.channels, "test", clock, sleep=clock.sleep
    )
    return runtime


def make_state(runtime: Runtime) -> ServiceState:
    config = runtime.config
    target = Target("big", {"bootstrap_servers": "127.0.0.1:1"}, CollectOptions(), config, None)
    watcher = Watcher(targets=[target], engine=None, dispatcher=None)
    snap = synthetic_snapshot(partitions=100, groups=2)
    cs = watcher.states["big"]
    cs.last_snapshot = snap
    cs.last_report = build_report(
        snap, config.thresholds, cluster_name="big", bootstrap=snap.bootstrap,
        checked_at_ms=snap.taken_at_ms, reachable=True,
    )  # fmt: skip
    state = ServiceState(config=config, watcher=watcher, runtime=runtime, store_url="x")
    state.scheduler = Scheduler(
        state, JobsStore(runtime.incidents.engine), build_jobs(config.service, datetime.now(UTC))
    )
    return state


def scrape(client: TestClient) -> dict[str, float]:
    """``/metrics`` samples of the outbox families, ``name{labels}`` → value (read afresh: the
    fake clock moves minutes between scrapes that are milliseconds apart in real time)."""
    client.app.state.exporter.live_ttl_s = 0  # type: ignore[attr-defined]
    text = client.get("/metrics").text
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        if fam.name.startswith(("kafkaops_outbox", "kafkaops_notification")):
            for s in fam.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                out[f"{s.name}{{{labels}}}"] = s.value
    return out


def test_p0_page_survives_15_minutes_of_receiver_outage(tmp_path: Path, receiver: Recorder) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    port, url = receiver.port, receiver.url
    receiver.stop()  # the paging gateway is down from the start
    runtime = make_runtime(tmp_path, url, clock)
    state = make_state(runtime)
    client = TestClient(create_app(state), base_url="http://127.0.0.1")
    back: Recorder | None = None
    try:
        engine, d = runtime.engine, runtime.dispatcher
        engine.cycle("big", [offline()], clock())
        clock.advance(10)
        engine.cycle("big", [offline()], clock())
        (inc,) = runtime.incidents.list_incidents("open", "big", 10)
        queued = runtime.outbox.pending()
        # The P0 page: the alert's firing notification to the incident's paged channel.
        (page,) = queued
        assert page.message.channel == "webhook:gw" and page.message.severity == "P0"
        assert page.message.dedup_key == inc.members[0].key

        started = clock()
        outage_end = started + timedelta(minutes=15)
        seen_pending: list[float] = []
        while clock() < outage_end:
            d.deliver_due(clock())
            metrics = scrape(client)
            seen_pending.append(metrics["kafkaops_outbox_pending{}"])
            row = runtime.outbox.get(page.idempotency_key)
            assert row is not None and row.status == "pending", row
            nxt = runtime.outbox.next_due_ms()
            assert nxt is not None
            clock.now = max(
                clock() + timedelta(seconds=1),
                datetime.fromtimestamp(nxt / 1000, UTC),
            )
        # Still queued after 15 minutes, tried far more than the old 10 attempts allowed...
        row = runtime.outbox.get(page.idempotency_key)
        assert row is not None and row.status == "pending" and row.attempts > 10
        assert row.last_error and "webhook:gw" in row.last_error
        # ...visible on /metrics all along...
        assert min(seen_pending) >= 1
        assert metrics["kafkaops_outbox_failed_total{channel=webhook:gw}"] == 0
        # ...and in the incident: the page is retrying, with the receiver's error.
        view = client.get(f"/api/incidents/{inc.id}").json()
        (page_view,) = [x for x in view["delivery"] if x["what"] == "firing"]
        assert page_view["channel"] == "webhook:gw" and page_view["state"] == "retrying"
        assert "webhook:gw" in page_view["last_error"] and page_view["next_attempt_at"]

        back = Recorder(port=port)  # the gateway returns on the same address
        report = run_until_idle(d, timeout_s=600, poll_s=30)
        assert page.idempotency_key in report.delivered and not report.failed
        assert page.idempotency_key in back.completed_keys()
        assert back.completed[0].path == "/pager"
        row = runtime.outbox.get(page.idempotency_key)
        assert row is not None and row.status == "delivered"
        # Delivered within one capped backoff (5 min) of the receiver's return.
        assert row.delivered_ms is not None
        assert row.delivered_ms - int(outage_end.timestamp() * 1000) <= 300_000 + 1_000

        metrics = scrape(client)
        assert metrics["kafkaops_outbox_pending{}"] == 0
        assert metrics["kafkaops_notification_delivery_seconds_count{}"] == len(queued)
        # Enqueued at the start of the outage, delivered after it: > 15 min (900 s).
        assert metrics["kafkaops_notification_delivery_seconds_bucket{le=900.0}"] == 0
        assert metrics["kafkaops_notification_delivery_seconds_bucket{le=3600.0}"] == len(queued)
        view = client.get(f"/api/incidents/{inc.id}").json()
        (page_view,) = [x for x in view["delivery"] if x["what"] == "firing"]
        assert page_view["state"] == "sent" and page_view["delivered_at"]
    finally:
        if back is not None:
            back.stop()
        runtime.close()
