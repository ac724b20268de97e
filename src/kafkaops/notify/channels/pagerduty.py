"""PagerDuty Events API v2.

* ``trigger`` / ``acknowledge`` / ``resolve`` → ``POST {url}/v2/enqueue`` with ``routing_key``,
  ``event_action`` and ``dedup_key``; triggers carry ``payload`` (summary ≤ 1024 chars,
  source, severity critical/error/warning, timestamp, component, group, class,
  custom_details).  PagerDuty deduplicates by ``dedup_key``, so a repeated send of the same
  trigger (at-least-once delivery) updates the same PagerDuty alert instead of opening another.
* Incident-level messages (``details["alert_keys"]``) act on every alert key of the incident:
  PagerDuty knows alerts, not kafkaops incidents, so an acknowledge must name each dedup key.
* ``notice`` (maintenance) → a change event, ``POST {url}/v2/change/enqueue``: it shows in the
  service's timeline without paging anyone.

Responses: 202 accepted; 400 invalid event (permanent); 429 and 5xx retryable.
"""

from __future__ import annotations

from typing import Any

import httpx

from kafkaops.core.model import Severity
from kafkaops.incidents.routing import DEFAULT_ROUTING, RoutingConfig, pagerduty_severity
from kafkaops.notify.channels.base import post_json
from kafkaops.notify.message import OutboundMessage
from kafkaops.notify.secrets import read_secret
from kafkaops.notify.settings import PagerDutySettings

SUMMARY_LIMIT = 1024
DEDUP_LIMIT = 255


class PagerDutyChannel:
    """Sends to one PagerDuty service (one routing key)."""

    def __init__(
        self,
        settings: PagerDutySettings,
        client: httpx.Client,
        routing: RoutingConfig = DEFAULT_ROUTING,
    ) -> None:
        self.settings = settings
        self.client = client
        self.routing = routing

    def __repr__(self) -> str:
        return f"PagerDutyChannel(url={self.settings.url!r})"

    def _severity(self, msg: OutboundMessage) -> str:
        sev = Severity(msg.severity)
        return "info" if sev == Severity.OK else pagerduty_severity(sev, self.routing)

    def events(self, msg: OutboundMessage, routing_key: str) -> list[dict[str, Any]]:
        """The Events API v2 bodies for ``msg`` (several for an incident with several alerts)."""
        keys = [str(k) for k in msg.details.get("alert_keys") or []] or [msg.dedup_key]
        out = []
        for key in keys:
            event: dict[str, Any] = {
                "routing_key": routing_key,
                # An update re-sends the trigger: PagerDuty folds it into the open alert (same
                # dedup_key) and shows its details in the alert's log; it pages nobody anew.
                "event_action": "trigger" if msg.action == "update" else msg.action,
                "dedup_key": key[:DEDUP_LIMIT],
            }
            if msg.action in ("trigger", "update"):
                event["payload"] = {
                    "summary": msg.summary[:SUMMARY_LIMIT],
                    "source": f"{self.settings.source}:{msg.cluster}"
                    if msg.cluster
                    else self.settings.source,
                    "severity": self._severity(msg),
                    "timestamp": msg.created_at,
                    "component": msg.cluster or None,
                    "group": msg.details.get("subject"),
                    "class": msg.details.get("rule"),
                    "custom_details": {
                        **msg.details,
                        "kafkaops_severity": msg.severity,
                        "idempotency_key": msg.idempotency_key,
                    },
                }
                event["payload"] = {k: v for k, v in event["payload"].items() if v is not None}
            out.append(event)
        return out

    def change_event(self, msg: OutboundMessage, routing_key: str) -> dict[str, Any]:
        return {
            "routing_key": routing_key,
            "payload": {
                "summary": msg.summary[:SUMMARY_LIMIT],
                "timestamp": msg.created_at,
                "source": self.settings.source,
                "custom_details": msg.details.get("notice", msg.details),
            },
        }

    def send(self, msg: OutboundMessage) -> None:
        key = read_secret(
            self.settings.routing_key_env,
            self.settings.routing_key_file,
            "channels.pagerduty.routing_key",
        ).get_secret_value()
        base = self.settings.url.rstrip("/")
        name = str(msg.channel_ref)
        if msg.action == "notice":
            post_json(
                self.client,
                f"{base}/v2/change/enqueue",
                name,
                json_body=self.change_event(msg, key),
                secrets=(key,),
                url_is_secret=False,
            )
            return
        for event in self.events(msg, key):
            post_json(
                self.client,
                f"{base}/v2/enqueue",
                name,
                json_body=event,
                secrets=(key,),
                url_is_secret=False,
            )
