"""Issue 10, item 4: a page that finally fails raises a P1 on every *other* channel.

Two real receivers on 127.0.0.1: the paging gateway (a webhook) answers 503, Slack answers 200.
Time is a fake clock.  The P1 "notification channel failing" reaches Slack once per outage of
the gateway (not once per failed message), never the failing gateway itself, and is resolved
when the gateway delivers again; a second outage raises it again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kafkaops.core.model import Severity
from kafkaops.notify.dispatcher import Dispatcher
from kafkaops.notify.outbox import Outbox
from kafkaops.notify.settings import ChannelsSettings
from tests.notify.conftest import FakeClock, message
from tests.notify.drain import run_until_idle
from tests.notify.receivers import Recorder

pytestmark = pytest.mark.timeout(60)

SLACK_PATH = "/services/T0000/B0000/SLACKSECRETxyz"


@pytest.fixture
def gateway() -> Iterator[Recorder]:
    rec = Recorder(status=503, body=b"gateway down")
    yield rec
    rec.stop()


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    rec = Recorder()
    monkeypatch.setenv("TEST_SLACK_OPS", rec.url + SLACK_PATH)
    yield rec
    rec.stop()


def failing_alerts(rec: Recorder, action: str) -> list[str]:
    keys = [k or "" for k in rec.completed_keys()]
    return [k for k in keys if k.startswith("channel-failing|") and f"|{action}|" in k]


def test_finally_failed_page_raises_p1_on_the_other_channel_once_per_outage(
    sqlite_outbox: Outbox, gateway: Recorder, slack: Recorder, clock: FakeClock
) -> None:
    settings = ChannelsSettings.model_validate(
        {
            "timeout": "2s",
            "retry": {"give_up_after": "10m", "max_backoff": "1m"},
            "webhooks": {"gw": {"url": gateway.url + "/pager"}},
            "slack": {"webhooks": {"#ops": {"url_env": "TEST_SLACK_OPS"}}},
        }
    )
    page = message("webhook:gw", severity=Severity.P0, subject="a")
    sqlite_outbox.enqueue([page], clock())
    with Dispatcher(sqlite_outbox, settings, "d", clock, sleep=clock.sleep) as d:
        report = run_until_idle(d, timeout_s=3600, poll_s=30)
        assert report.failed == [page.idempotency_key]
        row = sqlite_outbox.get(page.idempotency_key)
        assert row is not None and row.status == "failed"
        assert row.last_error and row.last_error.startswith("gave up after 600s")

        # Slack got the P1, in the same round; the failing gateway got nothing of it.
        [trigger] = failing_alerts(slack, "trigger")
        assert trigger == "channel-failing|webhook:gw|0|trigger|via:slack:#ops"
        body = next(r for r in slack.completed if r.header("X-Kafkaops-Idempotency-Key") == trigger)
        text = body.json()["text"]
        assert "P1" in text and "notification channel webhook:gw failing" in text
        assert not any(b"channel-failing" in r.body for r in gateway.requests)
        assert d.stats.failed_total() == {"webhook:gw": 1}

        # A second page failing in the same outage raises nothing new.
        second = message("webhook:gw", severity=Severity.P0, subject="b")
        sqlite_outbox.enqueue([second], clock())
        assert run_until_idle(d, timeout_s=3600, poll_s=30).failed == [second.idempotency_key]
        assert len(failing_alerts(slack, "trigger")) == 1

        # The gateway is back: the next delivery through it resolves the P1 on Slack.
        gateway.default.status = 200
        third = message("webhook:gw", severity=Severity.P0, subject="c")
        sqlite_outbox.enqueue([third], clock())
        assert third.idempotency_key in run_until_idle(d, timeout_s=600, poll_s=30).delivered
        assert failing_alerts(slack, "resolve") == [
            "channel-failing|webhook:gw|0|resolve|via:slack:#ops"
        ]

        # A new outage is a new P1.
        gateway.default.status = 503
        fourth = message("webhook:gw", severity=Severity.P0, subject="d")
        sqlite_outbox.enqueue([fourth], clock())
        assert run_until_idle(d, timeout_s=3600, poll_s=30).failed == [fourth.idempotency_key]
        assert len(failing_alerts(slack, "trigger")) == 2
    assert sqlite_outbox.stats(clock())["pending"] == 0


def test_no_other_channel_configured_is_logged_not_raised(
    sqlite_outbox: Outbox, gateway: Recorder, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    gateway.default.status = 400
    settings = ChannelsSettings.model_validate({"webhooks": {"gw": {"url": gateway.url}}})
    msg = message("webhook:gw")
    sqlite_outbox.enqueue([msg], clock())
    with Dispatcher(sqlite_outbox, settings, "d", clock, sleep=clock.sleep) as d:
        assert d.deliver_due().failed == [msg.idempotency_key]
    assert "no other channel is configured" in caplog.text
    assert [r.message.channel for r in sqlite_outbox.list()] == ["webhook:gw"]
