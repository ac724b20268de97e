"""At-least-once under crashes, exactly-once claiming under concurrency (SQLite and PostgreSQL).

* A dispatcher process is SIGKILLed while the receiver holds its request open; after the lease
  expires a new dispatcher delivers the message.  The receiver completed (answered 2xx) the
  idempotency key exactly once: the killed attempt never got an answer.  (Had the receiver
  answered just before the kill, it would see the key twice - at-least-once; receivers dedup
  by the key.)
* Two dispatchers on one database deliver a batch concurrently: every message once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kafkaops.notify.dispatcher import DeliveryReport, Dispatcher
from kafkaops.notify.outbox import Outbox
from kafkaops.notify.settings import ChannelsSettings
from tests.notify.conftest import message
from tests.notify.drain import run_until_idle
from tests.notify.receivers import Recorder

CHILD = textwrap.dedent(
    """
    import sys
    from kafkaops.notify.dispatcher import Dispatcher
    from kafkaops.notify.outbox import Outbox
    from kafkaops.notify.settings import ChannelsSettings

    url, hook = sys.argv[1], sys.argv[2]
    settings = ChannelsSettings.model_validate(
        {"timeout": "30s", "retry": {"lease": "1s"}, "webhooks": {"ops": {"url": hook}}}
    )
    Dispatcher(Outbox(url), settings, "doomed").deliver_due()
    print("child finished without being killed", flush=True)
    """
)


@pytest.mark.timeout(120)
def test_sigkill_mid_delivery_then_new_dispatcher_delivers(
    store_url: str, recorder: Recorder, tmp_path: Path
) -> None:
    box = Outbox(store_url)
    try:
        msg = message("webhook:ops")
        box.enqueue([msg])
        recorder.hang(max_s=30)
        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}"}
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, store_url, recorder.url + "/hook"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            assert recorder.hanging.wait(30), "child never reached the receiver"
            child.send_signal(signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(10)
        assert child.returncode == -signal.SIGKILL
        row = box.get(msg.idempotency_key)
        assert row is not None and row.status == "pending" and row.lease_owner == "doomed"
        recorder.release()

        settings = ChannelsSettings.model_validate(
            {"webhooks": {"ops": {"url": recorder.url + "/hook"}}}
        )
        # Before the 1 s lease has expired nobody may take it; after, the new dispatcher does.
        now = datetime.now(UTC)
        with Dispatcher(box, settings, "survivor", lambda: now) as d:
            assert d.deliver_due(now).claimed == 0
            later = now + timedelta(seconds=2)
            report = d.deliver_due(later)
        assert report.delivered == [msg.idempotency_key]
        assert recorder.completed_keys() == [msg.idempotency_key]
        assert len(recorder.requests) == 2
        row = box.get(msg.idempotency_key)
        assert row is not None and row.status == "delivered" and row.attempts == 2
    finally:
        box.close()


@pytest.mark.timeout(120)
def test_two_dispatchers_deliver_each_message_exactly_once(
    store_url: str, recorder: Recorder
) -> None:
    msgs = [message("webhook:ops", subject=f"s{i}") for i in range(40)]
    settings = ChannelsSettings.model_validate(
        {"retry": {"batch": 3}, "webhooks": {"ops": {"url": recorder.url + "/hook"}}}
    )
    seed = Outbox(store_url)
    seed.enqueue(msgs)
    reports: dict[str, DeliveryReport] = {}
    barrier = threading.Barrier(2)

    def run(owner: str) -> None:
        box = Outbox(store_url)  # own engine and connections, like a separate process
        try:
            with Dispatcher(box, settings, owner) as d:
                barrier.wait()
                reports[owner] = run_until_idle(d, timeout_s=60, poll_s=0.05)
        finally:
            box.close()

    threads = [threading.Thread(target=run, args=(f"d{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    delivered = [k for r in reports.values() for k in r.delivered]
    assert sorted(delivered) == sorted(m.idempotency_key for m in msgs)
    assert sorted(recorder.completed_keys()) == sorted(m.idempotency_key for m in msgs)
    assert len(recorder.requests) == 40
    assert seed.stats()["delivered"] == 40
    seed.close()
