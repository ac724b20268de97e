"""PagerDuty, Slack, webhook (and phone/SMS via the pager webhook) against a real HTTP receiver.

Also the delivery semantics that do not depend on the channel: retry on 500 with backoff,
no retry on 400, Retry-After, receiver down then up, timeouts, Slack's 1 msg/s, no secrets in
logs or stored errors.  Time is a fake clock unless a test measures real spacing.
"""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from kafkaops.core.model import Severity
from kafkaops.incidents.incident import IncidentAction
from kafkaops.incidents.notices import MaintenanceNotice
from kafkaops.incidents.routing import ChannelRef
from kafkaops.notify.channels.webhook import verify
from kafkaops.notify.dispatcher import Dispatcher
from kafkaops.notify.message import from_incident_action, from_notice
from kafkaops.notify.outbox import Outbox, to_ms
from kafkaops.notify.settings import ChannelsSettings
from tests.notify.conftest import T0, FakeClock, message
from tests.notify.drain import run_until_idle
from tests.notify.receivers import Recorded, Recorder, free_port

pytestmark = pytest.mark.timeout(60)

ROUTING_KEY = "R0UTINGKEY0123456789abcdef012345"
SLACK_PATH = "/services/T0000/B0000/SLACKSECRETxyz"
HMAC_SECRET = "hmac-shared-secret"


@pytest.fixture(autouse=True)
def secrets_env(monkeypatch: pytest.MonkeyPatch, recorder: Recorder) -> None:
    monkeypatch.setenv("TEST_PD_KEY", ROUTING_KEY)
    monkeypatch.setenv("TEST_SLACK_OPS", recorder.url + SLACK_PATH)
    monkeypatch.setenv("TEST_HMAC", HMAC_SECRET)


def settings(url: str, **extra: object) -> ChannelsSettings:
    data: dict[str, object] = {
        "timeout": "1s",
        "retry": {"base_backoff": "1s", "max_backoff": "10s", "max_attempts": 5, "lease": "30s"},
        "pagerduty": {"url": url, "routing_key_env": "TEST_PD_KEY"},
        "slack": {"webhooks": {"#ops-critical": {"url_env": "TEST_SLACK_OPS"}}},
        "webhooks": {
            "ops": {"url": url + "/hook", "secret_env": "TEST_HMAC"},
            "gateway": {"url": url + "/pager"},
        },
        "alertmanager": {"url": url},
    }
    data.update(extra)
    return ChannelsSettings.model_validate(data)


def dispatcher(box: Outbox, s: ChannelsSettings, clock: FakeClock, owner: str = "d1") -> Dispatcher:
    return Dispatcher(box, s, owner, clock, sleep=clock.sleep)


def own_requests(recorder: Recorder) -> list[Recorded]:
    """Requests other than the P1 "notification channel failing" a final failure raises (sent
    to the other configured channels, which in these tests are the same recorder)."""
    return [r for r in recorder.requests if b"channel-failing|" not in r.body]


# --- payload shapes ---------------------------------------------------------------------------


def test_pagerduty_trigger_resolve_and_severity_mapping(
    sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock
) -> None:
    msgs = [
        message("pagerduty", severity=Severity.P0, subject="a"),
        message("pagerduty", severity=Severity.P1, subject="b"),
        message("pagerduty", severity=Severity.P2, subject="c"),
        message("pagerduty", "resolved", subject="a"),
    ]
    sqlite_outbox.enqueue(msgs, clock())
    with dispatcher(sqlite_outbox, settings(recorder.url), clock) as d:
        report = d.deliver_due()
    assert len(report.delivered) == 4
    bodies = [r.json() for r in recorder.completed]
    assert {r.path for r in recorder.completed} == {"/v2/enqueue"}
    triggers = {b["dedup_key"]: b for b in bodies if b["event_action"] == "trigger"}
    assert {k: b["payload"]["severity"] for k, b in triggers.items()} == {
        "prod|under_replicated_partitions|a": "critical",
        "prod|under_replicated_partitions|b": "error",
        "prod|under_replicated_partitions|c": "warning",
    }
    first = triggers["prod|under_replicated_partitions|a"]
    assert first["routing_key"] == ROUTING_KEY
    assert first["payload"]["summary"].startswith("[P0] prod:")
    assert first["payload"]["source"] == "kafkaops:prod"
    assert first["payload"]["custom_details"]["evidence"]
    (resolve,) = [b for b in bodies if b["event_action"] == "resolve"]
    assert resolve["dedup_key"] == "prod|under_replicated_partitions|a"
    assert "payload" not in resolve


def test_pagerduty_incident_ack_per_alert_key_and_notice_as_change_event(
    sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock, tmp_path: Path
) -> None:
    key_file = tmp_path / "pd.key"
    key_file.write_text(ROUTING_KEY + "\n")
    s = settings(recorder.url, pagerduty={"url": recorder.url, "routing_key_file": str(key_file)})
    ack = IncidentAction(
        "acknowledge",
        "INC-1",
        T0,
        Severity.P1,
        frozenset({ChannelRef("pagerduty")}),
        keys=("prod|r1|s1", "prod|r2|s2"),
    )
    notice = MaintenanceNotice(type="emergency", start_time=T0, duration_s=None, impact="high")
    sqlite_outbox.enqueue([*from_incident_action(ack), from_notice(notice, "pagerduty")], clock())
    with dispatcher(sqlite_outbox, s, clock) as d:
        assert len(d.deliver_due().delivered) == 2
    events = [r.json() for r in recorder.completed if r.path == "/v2/enqueue"]
    assert [(e["event_action"], e["dedup_key"]) for e in events] == [
        ("acknowledge", "prod|r1|s1"),
        ("acknowledge", "prod|r2|s2"),
    ]
    (change,) = [r.json() for r in recorder.completed if r.path == "/v2/change/enqueue"]
    assert change["routing_key"] == ROUTING_KEY
    assert change["payload"]["custom_details"]["type"] == "emergency"


def test_slack_blocks_firing_and_resolve(
    sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock
) -> None:
    sqlite_outbox.enqueue([message("slack:#ops-critical")], clock())
    with dispatcher(sqlite_outbox, settings(recorder.url), clock) as d:
        d.deliver_due()
        clock.advance(2)
        sqlite_outbox.enqueue([message("slack:#ops-critical", "resolved")], clock())
        d.deliver_due()
    firing, resolved = (r.json() for r in recorder.completed)
    assert recorder.completed[0].path == SLACK_PATH
    header = firing["blocks"][0]
    assert header["type"] == "header" and header["text"]["text"] == "🟠 P1 FIRING"
    fields = " ".join(f["text"] for f in firing["blocks"][2]["fields"])
    assert "*Cluster*\nprod" in fields and "*Rule*\nunder_replicated_partitions" in fields
    texts = " ".join(b.get("text", {}).get("text", "") for b in firing["blocks"])
    assert "*Evidence*" in texts and "*Response*" in texts
    assert firing["text"].startswith("🟠 P1 FIRING: [P1] prod")
    assert resolved["blocks"][0]["text"]["text"] == "✅ RESOLVED P1"
    assert "*Evidence*" not in str(resolved["blocks"])
    assert recorder.completed[0].header("X-Kafkaops-Idempotency-Key")


def test_slack_target_without_webhook_fails_with_reason(
    sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock
) -> None:
    sqlite_outbox.enqueue([message("slack:#nowhere")], clock())
    with dispatcher(sqlite_outbox, settings(recorder.url), clock) as d:
        report = d.deliver_due()
    assert (
        report.failed
        and "no Slack webhook configured for '#nowhere'" in report.errors[report.failed[0]]
    )
    assert own_requests(recorder) == []


def test_webhook_hmac_signature_verifies(
    sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock
) -> None:
    msg = message("webhook:ops")
    sqlite_outbox.enqueue([msg], clock())
    with dispatcher(sqlite_outbox, settings(recorder.url), clock) as d:
        d.deliver_due()
    (req,) = recorder.completed
    assert req.path == "/hook"
    assert req.json() == msg.to_dict()
    assert req.header("X-Kafkaops-Idempotency-Key") == msg.idempotency_key
    sig, ts = req.header("X-Kafkaops-Signature"), req.header("X-Kafkaops-Timestamp")
    assert sig and ts and sig.startswith("sha256=")
    assert verify(HMAC_SECRET.encode(), ts, req.body, sig)
    assert not verify(b"wrong", ts, req.body, sig)
    assert not verify(HMAC_SECRET.encode(), ts, req.body + b" ", sig)


def test_phone_and_sms_go_to_pager_webhook_or_fail_clearly(
    sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock
) -> None:
    action = IncidentAction(
        "page",
        "INC-9",
        T0,
        Severity.P0,
        frozenset({ChannelRef("phone"), ChannelRef("sms")}),
        keys=("prod|r|s",),
    )
    sqlite_outbox.enqueue(from_incident_action(action), clock())
    with dispatcher(sqlite_outbox, settings(recorder.url), clock) as d:
        report = d.deliver_due()
    assert len(report.failed) == 2
    assert all("channels.pager" in e for e in report.errors.values())

    box2 = Outbox("sqlite://")
    box2.enqueue(from_incident_action(action), clock())
    with dispatcher(box2, settings(recorder.url, pager="gateway"), clock) as d:
        assert len(d.deliver_due().delivered) == 2
    paged = [r for r in own_requests(recorder) if r.completed]
    assert sorted(r.json()["channel"] for r in paged) == ["phone", "sms"]
    assert {r.path for r in paged} == {"/pager"}


def test_alertmanager_acknowledge_is_a_no_op(
    sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock
) -> None:
    ack = IncidentAction(
        "acknowledge",
        "INC-1",
        T0,
        Severity.P1,
        frozenset({ChannelRef("alertmanager")}),
        keys=("prod|r|s",),
    )
    sqlite_outbox.enqueue(from_incident_action(ack), clock())
    with dispatcher(sqlite_outbox, settings(recorder.url), clock) as d:
        assert len(d.deliver_due().delivered) == 1
    assert recorder.requests == []


# --- failures and retries ---------------------------------------------------------------------


def test_500_twice_then_ok_delivered_once_after_backoff(
    sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock
) -> None:
    recorder.fail(2, 500)
    msg = message("webhook:ops")
    sqlite_outbox.enqueue([msg], clock())
    with dispatcher(sqlite_outbox, settings(recorder.url), clock) as d:
        first = d.deliver_due()
        assert first.retried == [msg.idempotency_key]
        row = sqlite_outbox.get(msg.idempotency_key)
        assert row is not None and row.last_error and "HTTP 500" in row.last_error
        assert row.next_at_ms >= to_ms(clock())
        start = clock()
        report = run_until_idle(d, timeout_s=60)
    assert report.delivered == [msg.idempotency_key]
    assert len(recorder.requests) == 3
    assert recorder.completed_keys() == [msg.idempotency_key]
    row = sqlite_outbox.get(msg.idempotency_key)
    assert row is not None and row.status == "delivered" and row.attempts == 3
    # Backoff (full jitter) is bounded: 1s then 2s caps at most.
    assert clock() - start <= timedelta(seconds=3.5)


def test_400_fails_without_retry(
    sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock
) -> None:
    recorder.respond(400, body=b'{"status":"invalid event"}')
    msg = message("pagerduty")
    sqlite_outbox.enqueue([msg], clock())
    with dispatcher(sqlite_outbox, settings(recorder.url), clock) as d:
        report = run_until_idle(d, timeout_s=60)
    assert report.failed[0] == msg.idempotency_key
    assert len(own_requests(recorder)) == 1
    row = sqlite_outbox.get(msg.idempotency_key)
    assert row is not None and row.status == "failed"
    assert row.last_error and "HTTP 400" in row.last_error and "invalid event" in row.last_error


def test_429_retry_after_is_honoured(
    sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock
) -> None:
    recorder.respond(429, {"Retry-After": "7"}, b"rate_limited")
    msg = message("slack:#ops-critical")
    sqlite_outbox.enqueue([msg], clock())
    with dispatcher(sqlite_outbox, settings(recorder.url), clock) as d:
        assert d.deliver_due().retried == [msg.idempotency_key]
        row = sqlite_outbox.get(msg.idempotency_key)
        assert row is not None and row.next_at_ms >= to_ms(clock()) + 7000
        clock.advance(6.5)
        assert d.deliver_due().claimed == 0
        clock.advance(0.6)
        assert d.deliver_due().delivered == [msg.idempotency_key]
    assert len(recorder.requests) == 2


def test_receiver_down_then_up_each_delivered_exactly_once(
    sqlite_outbox: Outbox, clock: FakeClock
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    msgs = [message("webhook:ops", subject=f"s{i}") for i in range(5)]
    sqlite_outbox.enqueue(msgs, clock())
    with dispatcher(sqlite_outbox, settings(url), clock) as d:
        for _ in range(3):  # connection refused, several rounds
            report = d.deliver_due()
            assert not report.delivered
            clock.advance(10)
        row = sqlite_outbox.get(msgs[0].idempotency_key)
        assert row is not None and row.status == "pending"
        assert row.last_error and "ConnectError" in row.last_error
        rec = Recorder(port=port)
        try:
            report = run_until_idle(d, timeout_s=120)
            assert sorted(report.delivered) == sorted(m.idempotency_key for m in msgs)
            assert sorted(rec.completed_keys()) == sorted(m.idempotency_key for m in msgs)
        finally:
            rec.stop()
    assert sqlite_outbox.stats(clock())["delivered"] == 5


def test_timeout_is_retryable(sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock) -> None:
    recorder.hang(max_s=3)
    msg = message("webhook:ops")
    sqlite_outbox.enqueue([msg], clock())
    s = settings(recorder.url, timeout="300ms")
    with dispatcher(sqlite_outbox, s, clock) as d:
        report = d.deliver_due()
        assert report.retried == [msg.idempotency_key]
        assert "timed out" in report.errors[msg.idempotency_key]
        recorder.release()
        assert run_until_idle(d, timeout_s=60).delivered == [msg.idempotency_key]
    assert recorder.completed_keys() == [msg.idempotency_key]


def test_attempts_do_not_end_a_page_only_age_does(
    sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock
) -> None:
    """Issue 10 item 4: ``max_attempts`` (3 here) used to fail a page after 3 refusals; now it
    is retried (backoff capped by max_backoff) until the receiver takes it."""
    recorder.fail(12, 503)
    msg = message("webhook:ops")
    sqlite_outbox.enqueue([msg], clock())
    s = settings(
        recorder.url, retry={"base_backoff": "1s", "max_backoff": "10s", "max_attempts": 3}
    )
    with dispatcher(sqlite_outbox, s, clock) as d:
        report = run_until_idle(d, timeout_s=600)
    assert report.failed == []
    assert report.delivered == [msg.idempotency_key]
    assert len(recorder.requests) == 13
    row = sqlite_outbox.get(msg.idempotency_key)
    assert row is not None and row.status == "delivered" and row.attempts == 13


def test_gives_up_by_age(sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock) -> None:
    recorder.fail(10, 500)
    msg = message("webhook:ops")
    sqlite_outbox.enqueue([msg], clock())
    s = settings(recorder.url, retry={"give_up_after": "30s", "max_backoff": "1m"})
    with dispatcher(sqlite_outbox, s, clock) as d:
        d.deliver_due()
        clock.advance(31)
        report = d.deliver_due()
    assert report.failed == [msg.idempotency_key]
    assert "give_up_after" in report.errors[msg.idempotency_key]


def test_slack_at_most_one_message_per_second_per_webhook(
    sqlite_outbox: Outbox, recorder: Recorder
) -> None:
    msgs = [message("slack:#ops-critical", subject=f"s{i}") for i in range(3)]
    sqlite_outbox.enqueue(msgs)
    s = settings(recorder.url)
    with Dispatcher(sqlite_outbox, s, "real-time") as d:
        report = run_until_idle(d, timeout_s=15, poll_s=0.2)
    assert sorted(report.delivered) == sorted(m.idempotency_key for m in msgs)
    times = sorted(r.at for r in recorder.completed)
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g >= 0.95 for g in gaps), gaps


def test_no_secret_in_logs_or_stored_errors(
    sqlite_outbox: Outbox, recorder: Recorder, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder.fail(1, 500, body=b"upstream broke")
    msgs = [message("slack:#ops-critical"), message("pagerduty")]
    sqlite_outbox.enqueue(msgs, clock())
    with dispatcher(sqlite_outbox, settings(recorder.url), clock) as d:
        run_until_idle(d, timeout_s=60)
        assert "SLACKSECRET" not in repr(d) + repr(d.channel_for(msgs[0]))
    stored = " ".join(str(r.last_error) for r in sqlite_outbox.list())
    for secret in ("SLACKSECRET", ROUTING_KEY):
        assert secret not in caplog.text
        assert secret not in stored
    assert "outbox: delivered" in caplog.text and "outbox: retry" in caplog.text


def test_inline_secret_values_are_refused() -> None:
    with pytest.raises(ValueError, match="credential"):
        ChannelsSettings.model_validate(
            {"slack": {"webhooks": {"#x": {"url": "https://hooks.slack.com/services/T/B/C"}}}}
        )
    with pytest.raises(ValueError, match="name of an environment variable"):
        ChannelsSettings.model_validate({"pagerduty": {"routing_key_env": "abc-123 secret"}})
    with pytest.raises(ValueError, match="not one of webhooks"):
        ChannelsSettings.model_validate({"pager": "nope"})
