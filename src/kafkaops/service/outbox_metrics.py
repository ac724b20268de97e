"""``/metrics`` families of notification delivery: is the pager actually reaching anyone?

A receiver outage used to be invisible here (issue 10, item 4): ``/health`` said ok while pages
piled up or were failed.  Three families:

* ``kafkaops_outbox_pending`` - messages queued and not yet delivered or failed (gauge, from the
  outbox: the same number on every instance, leader or standby);
* ``kafkaops_outbox_failed_total{channel}`` - messages this process's dispatcher finally failed
  (counter; 0 for every configured channel so ``increase()`` sees the first failure);
* ``kafkaops_notification_delivery_seconds`` - histogram of enqueue → delivered time.

Kept out of :mod:`.exporter` (one ``yield from`` there) so the exporter's split stays simple.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

log = logging.getLogger(__name__)


def outbox_families(runtime: Any) -> Iterator[Metric]:
    """The three families for ``runtime`` (a :class:`~kafkaops.pipeline.runtime.Runtime`).

    A runtime without an outbox or dispatcher (tests, a store that is down) yields what it can:
    a scrape must not fail because the database is briefly unavailable.
    """
    from kafkaops.notify.dispatcher import configured_channels

    outbox = getattr(runtime, "outbox", None)
    dispatcher = getattr(runtime, "dispatcher", None)
    if outbox is not None:
        try:
            pending = outbox.pending_count()
        except Exception as exc:  # store down: leave the gauge out rather than lie with 0
            log.warning("outbox stats unavailable: %s", type(exc).__name__)
        else:
            yield GaugeMetricFamily(
                "kafkaops_outbox_pending",
                "Notifications queued, not yet delivered or failed (retrying ones included).",
                float(pending),
            )
    if dispatcher is None:
        return
    failed = CounterMetricFamily(
        "kafkaops_outbox_failed",
        "Notifications finally failed (gave up or refused), by channel, since start.",
        labels=["channel"],
    )
    counts = dict.fromkeys(configured_channels(dispatcher.settings), 0)
    counts.update(dispatcher.stats.failed_total())
    for channel, n in sorted(counts.items()):
        failed.add_metric([channel], float(n))
    yield failed
    buckets, total = dispatcher.stats.histogram()
    yield HistogramMetricFamily(
        "kafkaops_notification_delivery_seconds",
        "Time from enqueue to delivery of each delivered notification.",
        buckets=buckets,
        sum_value=total,
    )
