"""Keep a rendered report in the store and send it now: ``review weekly --send`` and ``dr
drill -c``.  The same :func:`kafkaops.notify.reports.deliver_report` the scheduled jobs use,
then one delivery round so the operator sees the outcome; what fails stays queued with its
retries (``kafkaops outbox list``) for ``watch`` / ``serve`` to finish."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from kafkaops.core.report_page import RenderedReport

err = Console(stderr=True)


def store_and_send(rendered: RenderedReport, config: Any, url: str | None) -> dict[str, Any]:
    """Store ``rendered`` at ``url`` and send it per ``channels.reports``; raises
    :class:`kafkaops.core.errors.KafkaopsError` when the store cannot be opened."""
    from kafkaops.notify.reports import deliver_report
    from kafkaops.pipeline.runtime import open_runtime

    runtime = open_runtime(config, url)
    try:
        delivery = deliver_report(rendered, runtime.outbox, config.channels).to_dict()
        if delivery["queued"]:
            with err.status("sending the report …"):
                sent = runtime.dispatcher.deliver_due()
            delivery["delivered"] = len(sent.delivered)
            delivery["errors"] = dict(sent.errors)
        return delivery
    finally:
        runtime.close()


def describe(delivery: dict[str, Any], kind: str) -> list[str]:
    """Lines for a person: where the report is, who got it, what failed (secrets redacted)."""
    lines = [f"stored as {delivery['report_id']} (dashboard: Reports; /api/reports)"]
    if not delivery["queued"] and not delivery["already_queued"]:
        lines.append(f"sent to nobody: no channels.reports.to.{kind} in the config")
    if delivery["queued"]:
        lines.append(
            f"sent {delivery.get('delivered', 0)} of {len(delivery['queued'])}: "
            + ", ".join(delivery["queued"])
        )
    if delivery["already_queued"]:
        lines.append("already sent earlier: " + ", ".join(delivery["already_queued"]))
    for key, error in (delivery.get("errors") or {}).items():
        channel = key.rsplit("|", 1)[-1]
        lines.append(f"  {channel}: {error} (retried: kafkaops outbox list)")
    return lines
