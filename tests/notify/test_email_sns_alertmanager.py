"""E-mail (aiosmtpd with STARTTLS + AUTH), SNS (moto server → SQS), Alertmanager (real binary)."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from email import message_from_bytes as _parse
from email import policy
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest

from kafkaops.core.model import Severity
from kafkaops.incidents.notices import MaintenanceNotice
from kafkaops.notify.dispatcher import Dispatcher
from kafkaops.notify.message import from_notice
from kafkaops.notify.outbox import Outbox
from kafkaops.notify.settings import ChannelsSettings
from tests.notify import alertmanager as am
from tests.notify.conftest import T0, FakeClock, message
from tests.notify.receivers import SmtpRecorder, free_port

SMTP_USER = "kafkaops"
SMTP_PASSWORD = "smtp-pa55word"


# --- e-mail -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    import trustme

    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    yield authority, path


@pytest.fixture
def smtp_server(ca: tuple[Any, Path]) -> Iterator[SmtpRecorder]:
    authority, _ = ca
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    server = SmtpRecorder(ctx, SMTP_USER, SMTP_PASSWORD)
    try:
        yield server
    finally:
        server.stop()


def email_settings(port: int, ca_file: Path, **extra: Any) -> ChannelsSettings:
    data = {
        "host": "127.0.0.1",
        "port": port,
        "username": SMTP_USER,
        "password_env": "TEST_SMTP_PASSWORD",
        "from_addr": "kafkaops@example.com",
        "to": {"ops-team": ["ops-team@example.com", "sre@example.com"]},
        "ca_file": str(ca_file),
        **extra,
    }
    return ChannelsSettings.model_validate(
        {"timeout": "5s", "retry": {"base_backoff": "1s"}, "email": data}
    )


def message_from_bytes(raw: bytes) -> Message:
    return _parse(raw, policy=policy.default)


def _parts(mail: Message) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for part in mail.walk()
        if not part.is_multipart()
    }


@pytest.mark.timeout(60)
def test_email_starttls_auth_plain_and_html(
    smtp_server: SmtpRecorder,
    ca: tuple[Any, Path],
    sqlite_outbox: Outbox,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    msgs = [message("email:ops-team"), message("email:ops-team", "resolved")]
    sqlite_outbox.enqueue(msgs, clock())
    with Dispatcher(sqlite_outbox, email_settings(smtp_server.port, ca[1]), "d", clock) as d:
        report = d.deliver_due()
    assert len(report.delivered) == 2, report.errors
    assert smtp_server.sessions_tls == [True, True]
    assert smtp_server.logins == [SMTP_USER, SMTP_USER]
    env = smtp_server.messages[0]
    assert env.rcpt_tos == ["ops-team@example.com", "sre@example.com"]
    mail = message_from_bytes(env.original_content)
    assert (
        str(mail["Subject"]).strip().startswith("[kafkaops] [P1] prod: Under-replicated partitions")
    )
    assert mail["X-Kafkaops-Idempotency-Key"] == msgs[0].idempotency_key
    assert mail["Message-ID"].endswith("@example.com>")
    parts = _parts(mail)
    assert "Evidence:" in parts["text/plain"] and "<h3>Evidence</h3>" in parts["text/html"]
    resolved = message_from_bytes(smtp_server.messages[1].original_content)
    assert "RESOLVED" in resolved["Subject"]


@pytest.mark.timeout(60)
def test_email_wrong_password_is_permanent(
    smtp_server: SmtpRecorder,
    ca: tuple[Any, Path],
    sqlite_outbox: Outbox,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong-password")
    msg = message("email:ops-team@example.com")
    sqlite_outbox.enqueue([msg], clock())
    with Dispatcher(sqlite_outbox, email_settings(smtp_server.port, ca[1]), "d", clock) as d:
        report = d.deliver_due()
    assert report.failed == [msg.idempotency_key]
    assert "authentication failed" in report.errors[msg.idempotency_key]
    assert "wrong-password" not in report.errors[msg.idempotency_key]
    assert smtp_server.messages == []


@pytest.mark.timeout(60)
def test_email_untrusted_certificate_and_server_down(
    smtp_server: SmtpRecorder,
    sqlite_outbox: Outbox,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import trustme

    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    a, b = message("email:a@example.com"), message("email:b@example.com")
    sqlite_outbox.enqueue([a], clock())
    with Dispatcher(sqlite_outbox, email_settings(smtp_server.port, other), "d", clock) as d:
        report = d.deliver_due()
    assert report.failed == [a.idempotency_key]
    assert "certificate" in report.errors[a.idempotency_key]
    sqlite_outbox.enqueue([b], clock())
    with Dispatcher(sqlite_outbox, email_settings(free_port(), other), "d", clock) as d:
        report = d.deliver_due()
    assert report.retried == [b.idempotency_key]


# --- SNS --------------------------------------------------------------------------------------


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _subscribed_queue(moto_url: str, topic: str, queue: str) -> tuple[Any, str]:
    import boto3

    kw = {"region_name": "eu-west-1", "endpoint_url": moto_url}
    sns, sqs = boto3.client("sns", **kw), boto3.client("sqs", **kw)
    arn = sns.create_topic(Name=topic)["TopicArn"]
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    return sqs, url


def _receive(sqs: Any, url: str, n: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(got) < n and time.monotonic() < deadline:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        got += [json.loads(m["Body"]) for m in resp.get("Messages", [])]
    return got


@pytest.mark.timeout(90)
def test_sns_publish_arrives_in_subscribed_sqs(
    moto_url: str, aws_env: None, sqlite_outbox: Outbox, clock: FakeClock
) -> None:
    sqs, crit = _subscribed_queue(moto_url, "msk-critical-alerts", "crit")
    _, warn = _subscribed_queue(moto_url, "msk-warning-alerts", "warn")
    _, maint = _subscribed_queue(moto_url, "msk-maintenance", "maint")
    s = ChannelsSettings.model_validate(
        {"timeout": "5s", "sns": {"region": "eu-west-1", "endpoint_url": moto_url}}
    )
    long_title = message("sns:msk-critical-alerts", severity=Severity.P0)
    notice = MaintenanceNotice(type="scheduled", start_time=T0, duration_s=7200, impact="low")
    msgs = [long_title, message("sns", severity=Severity.P2, subject="x")]
    sqlite_outbox.enqueue([*msgs, from_notice(notice, "sns:msk-maintenance")], clock())
    with Dispatcher(sqlite_outbox, s, "d", clock) as d:
        report = d.deliver_due()
    assert len(report.delivered) == 3, report.errors

    (c,) = _receive(sqs, crit, 1)
    assert len(c["Subject"]) <= 100
    assert c["Subject"].startswith("[P0] prod: Under-replicated partitions")
    assert c["MessageAttributes"]["severity"]["Value"] == "P0"
    body = json.loads(c["Message"])
    assert body["idempotency_key"] == long_title.idempotency_key
    assert body["details"]["rule"] == "under_replicated_partitions"
    (w,) = _receive(sqs, warn, 1)  # bare "sns" + P2 → msk-warning-alerts
    assert w["MessageAttributes"]["severity"]["Value"] == "P2"
    (m,) = _receive(sqs, maint, 1)
    assert json.loads(m["Message"]) == notice.payload()
    assert m["Subject"] == notice.subject


@pytest.mark.timeout(60)
def test_sns_unknown_topic_fails_permanently(
    moto_url: str, aws_env: None, sqlite_outbox: Outbox, clock: FakeClock
) -> None:
    s = ChannelsSettings.model_validate({"sns": {"region": "eu-west-1", "endpoint_url": moto_url}})
    msg = message("sns:does-not-exist")
    sqlite_outbox.enqueue([msg], clock())
    with Dispatcher(sqlite_outbox, s, "d", clock) as d:
        report = d.deliver_due()
    assert report.failed == [msg.idempotency_key]
    assert "not found" in report.errors[msg.idempotency_key]


# --- Alertmanager -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alertmanager_url() -> Iterator[str]:
    if not am.available():
        pytest.fail(f"{am.BINARY} missing: make test installs prometheus-alertmanager")
    with am.temporary_alertmanager() as url:
        yield url


def _alerts(url: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{url}/api/v2/alerts", params={"filter": 'source="kafkaops"'}, timeout=5)
    resp.raise_for_status()
    return list(resp.json())


@pytest.mark.timeout(90)
def test_alertmanager_shows_alert_then_resolved(
    alertmanager_url: str, sqlite_outbox: Outbox
) -> None:
    s = ChannelsSettings.model_validate(
        {"timeout": "5s", "alertmanager": {"url": alertmanager_url, "ends_at_after": "1h"}}
    )
    firing = message("alertmanager", severity=Severity.P0)
    sqlite_outbox.enqueue([firing])
    with Dispatcher(sqlite_outbox, s, "d") as d:
        assert d.deliver_due().delivered == [firing.idempotency_key]
        (alert,) = _alerts(alertmanager_url)
        assert alert["labels"] == {
            "alertname": "under_replicated_partitions",
            "cluster": "prod",
            "subject": "orders-3",
            "severity": "P0",
            "source": "kafkaops",
        }
        assert alert["annotations"]["summary"] == firing.summary
        assert alert["status"]["state"] in ("active", "unprocessed")
        resolved = message("alertmanager", "resolved", severity=Severity.P0)
        sqlite_outbox.enqueue([resolved])
        assert d.deliver_due().delivered == [resolved.idempotency_key]
    # Resolved alerts (endsAt in the past) are no longer listed.
    deadline = time.monotonic() + 5
    while _alerts(alertmanager_url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alerts(alertmanager_url) == []
