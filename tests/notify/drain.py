"""Deliver an outbox until it is empty: what the notification tests wait on.

The service and ``kafkaops watch`` deliver once per cycle (``Dispatcher.deliver_due``); only the
tests need to run the dispatcher until nothing is pending.
"""

from __future__ import annotations

from kafkaops.notify.dispatcher import DeliveryReport, Dispatcher
from kafkaops.notify.outbox import to_ms


def run_until_idle(d: Dispatcher, timeout_s: float, poll_s: float = 0.5) -> DeliveryReport:
    """Deliver until nothing is pending, or ``timeout_s`` (clock time) has passed.

    Between rounds it sleeps until the next message is due (at most ``poll_s``, and never
    past the deadline), using the injected ``sleep``: with a fake clock whose sleep advances
    time, backoffs pass instantly.
    """
    report = DeliveryReport()
    deadline = to_ms(d.clock()) + round(timeout_s * 1000)
    while True:
        report.merge(d.deliver_due(d.clock()))
        now_ms = to_ms(d.clock())
        next_due = d.outbox.next_due_ms()
        if next_due is None or now_ms >= deadline:
            return report
        if next_due > now_ms:
            wait_ms = min(next_due - now_ms, round(poll_s * 1000), deadline - now_ms)
            d.sleep(max(wait_ms, 1) / 1000)
