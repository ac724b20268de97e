"""Issue 10, item 7: configured secrets never reach the log, the outbox or ``outbox list``.

A real receiver on 127.0.0.1 echoes each request back in its error answer (like a debugging
proxy or a misconfigured gateway): the PagerDuty routing key in the body, the Slack webhook
path and a webhook's token path/query in the request line.  Channels quote the first 200
characters of such answers in their errors; every configured secret must be cut out of them
before they are logged, stored in ``outbox_messages.last_error`` or printed by
``kafkaops outbox list --json`` - while the rest of the answer stays readable.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from kafkaops.notify.dispatcher import Dispatcher
from kafkaops.notify.outbox import Outbox
from kafkaops.notify.redact import MARK, Redactor, redact
from kafkaops.notify.settings import ChannelsSettings
from tests.conftest import run_cli
from tests.notify.conftest import FakeClock, message
from tests.notify.receivers import Recorder

pytestmark = pytest.mark.timeout(120)

ROUTING_KEY = "R0UTINGKEY0123456789abcdef012345"
SLACK_PATH = "/services/T0000AAAA/B0000BBBB/SLACKSECRETxyz123"
HOOK_TOKEN = "HOOKTOKEN42abcdef"
QUERY_SECRET = "QUERYSECRET123"
HMAC_SECRET = "hmac-shared-secret"
SECRETS = (ROUTING_KEY, "SLACKSECRETxyz123", HOOK_TOKEN, QUERY_SECRET, HMAC_SECRET)

CHANNELS = {
    "timeout": "2s",
    "pagerduty": {"url": "{url}", "routing_key_env": "TEST_PD_KEY"},
    "slack": {"webhooks": {"#ops": {"url_env": "TEST_SLACK_OPS"}}},
    "webhooks": {"hook": {"url_env": "TEST_HOOK_URL", "secret_env": "TEST_HMAC"}},
}


def secret_env(url: str) -> dict[str, str]:
    return {
        "TEST_PD_KEY": ROUTING_KEY,
        "TEST_SLACK_OPS": url + SLACK_PATH,
        "TEST_HOOK_URL": f"{url}/hooks/{HOOK_TOKEN}?token={QUERY_SECRET}",
        "TEST_HMAC": HMAC_SECRET,
    }


def channels(url: str) -> dict[str, object]:
    return json.loads(json.dumps(CHANNELS).replace("{url}", url))


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}"


def test_echoing_receiver_leaks_no_secret(
    tmp_path: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    rec = Recorder()
    try:
        for name, value in secret_env(rec.url).items():
            monkeypatch.setenv(name, value)
        settings = ChannelsSettings.model_validate(channels(rec.url))
        url = f"sqlite:///{tmp_path / 'o.db'}"
        box = Outbox(url, redact=Redactor(settings))
        msgs = [message("pagerduty"), message("slack:#ops"), message("webhook:hook")]
        box.enqueue(msgs, clock())
        # 1st round: 500 with the echo (retried), 2nd round: 400 with the echo (failed).  The
        # PagerDuty echo puts the body (routing key) first, the others the request line (path).
        rec.echo(500, body_first=True)
        rec.echo(500, times=2)
        rec.echo(400, body_first=True)
        rec.echo(400, times=2)
        with Dispatcher(box, settings, "d", clock, sleep=clock.sleep) as d:
            first = d.deliver_due()
            assert sorted(first.retried) == sorted(m.idempotency_key for m in msgs)
            clock.advance(timedelta(minutes=20).total_seconds())
            second = d.deliver_due()
        assert set(second.failed) >= {m.idempotency_key for m in msgs}
        # The receiver really echoed the secrets (the test would prove nothing otherwise).
        echoed = b"".join(r.body for r in rec.requests) + b"".join(
            r.path.encode() for r in rec.requests
        )
        assert ROUTING_KEY.encode() in echoed and b"SLACKSECRETxyz123" in echoed
        assert HOOK_TOKEN.encode() in echoed and QUERY_SECRET.encode() in echoed

        errors = " ".join([*first.errors.values(), *second.errors.values()])
        assert_no_secret(errors, "the delivery report")
        assert MARK in errors and "HTTP 500" in errors and "HTTP 400" in errors
        assert "POST" in errors  # the echo is still quoted, minus the secrets

        with sqlite3.connect(tmp_path / "o.db") as raw:
            stored = [r[0] or "" for r in raw.execute("SELECT last_error FROM outbox_messages")]
        assert any(MARK in s for s in stored)
        assert_no_secret(" ".join(stored), "outbox_messages.last_error")
        assert_no_secret(caplog.text, "the log")
        box.close()

        config = tmp_path / "kafkaops.yaml"
        config.write_text(json.dumps({"channels": channels(rec.url)}))
        proc = run_cli(
            "outbox", "list", "--json", "--store", url, "--config", str(config),
            env=secret_env(rec.url),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        rows = json.loads(proc.stdout)
        assert {r["status"] for r in rows if r["message"]["channel"] == "pagerduty"} >= {"failed"}
        assert_no_secret(proc.stdout + proc.stderr, "outbox list --json")
    finally:
        rec.stop()


def test_rows_stored_before_are_redacted_when_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row written by an older version (secret in last_error) is listed redacted."""
    monkeypatch.setenv("TEST_PD_KEY", ROUTING_KEY)
    url = f"sqlite:///{tmp_path / 'o.db'}"
    old = Outbox(url)
    old.enqueue([message("pagerduty")], 1_000)
    [row] = old.claim("t", 2_000)
    old.mark_failed(row.id, "t", f"pagerduty: HTTP 400 {{'routing_key': '{ROUTING_KEY}'}}", 3_000)
    old.close()
    settings = ChannelsSettings.model_validate({"pagerduty": {"routing_key_env": "TEST_PD_KEY"}})
    box = Outbox(url, redact=Redactor(settings))
    try:
        [listed] = box.list()
        assert listed.last_error == f"pagerduty: HTTP 400 {{'routing_key': '{MARK}'}}"
    finally:
        box.close()


def test_redact_spellings_and_short_values() -> None:
    url = "https://hooks.example.com/services/T0000AAAA/B0000BBBB/SLACKSECRETxyz123"
    secrets = {url, "/services/T0000AAAA/B0000BBBB/SLACKSECRETxyz123", "SLACKSECRETxyz123"}
    text = (
        f"a {url} b "
        + url.replace("/", "\\/")
        + " c https%3A%2F%2Fhooks.example.com%2Fservices%2FT0000AAAA"
        + "%2FB0000BBBB%2FSLACKSECRETxyz123"
        + " d ...B0000BBBB/SLACKSECRETxyz123"
    )
    out = redact(text, secrets)
    assert "SLACKSECRET" not in out and out.count(MARK) == 4
    # A 3-character "secret" would destroy any text; it is not matched.
    assert redact("abc abc", ["abc"]) == "abc abc"
