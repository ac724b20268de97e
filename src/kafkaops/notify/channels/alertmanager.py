"""Prometheus Alertmanager: ``POST {url}/api/v2/alerts``.

Labels identify the alert (Alertmanager deduplicates and groups by them, so a repeated send is
harmless): ``alertname`` = rule, ``cluster``, ``subject``, ``severity`` (P0/P1/P2) plus
``source="kafkaops"``.  Annotations carry the human text: summary, description (evidence),
response steps, idempotency key.

* trigger → ``startsAt`` = when the alert fired; ``endsAt`` only if ``ends_at_after`` is set
  (otherwise Alertmanager resolves it after its ``resolve_timeout`` unless re-sent);
* resolve → the same labels with ``endsAt`` = now, which resolves it at once;
* acknowledge and maintenance notices have no Alertmanager equivalent (silences are made by
  people in Alertmanager itself): they are accepted without a request.

Incident-level messages are sent per alert key (``details["alert_keys"]``), whose
``cluster|rule|subject`` form gives the labels.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from kafkaops.core.clock import utc_now
from kafkaops.notify.channels.base import post_json
from kafkaops.notify.errors import PermanentDelivery
from kafkaops.notify.message import OutboundMessage, action_lines, iso_utc, split_alert_key
from kafkaops.notify.settings import AlertmanagerSettings

_split_key = split_alert_key


class AlertmanagerChannel:
    def __init__(
        self,
        settings: AlertmanagerSettings,
        client: httpx.Client,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.client = client
        self.clock = clock

    def __repr__(self) -> str:
        return f"AlertmanagerChannel(url={self.settings.url!r})"

    def alerts(self, msg: OutboundMessage) -> list[dict[str, Any]]:
        """The ``postableAlerts`` body for ``msg`` (empty for acknowledge/notice)."""
        if msg.action not in ("trigger", "resolve"):
            return []
        d = msg.details
        keys = [str(k) for k in d.get("alert_keys") or []] or [msg.dedup_key]
        now = self.clock()
        out = []
        for key in keys:
            cluster, rule, subject = _split_key(key)
            labels = {
                "alertname": str(d.get("rule") or rule or "kafkaops"),
                "cluster": msg.cluster or cluster,
                "subject": str(d.get("subject") or subject or "cluster"),
                "severity": msg.severity,
                "source": "kafkaops",
            }
            annotations = {
                "summary": msg.summary,
                "description": "\n".join(str(e) for e in d.get("evidence") or []),
                "response": "\n".join(str(r) for r in d.get("response") or []),
                "actions": "\n".join(action_lines(d)),
                "idempotency_key": msg.idempotency_key,
            }
            alert: dict[str, Any] = {
                "labels": labels,
                "annotations": {k: v for k, v in annotations.items() if v},
                "startsAt": d.get("fired_at") or msg.created_at,
            }
            if msg.action == "resolve":
                alert["endsAt"] = iso_utc(now)
            elif self.settings.ends_at_after is not None:
                alert["endsAt"] = iso_utc(now + timedelta(milliseconds=self.settings.ends_at_after))
            out.append(alert)
        return out

    def send(self, msg: OutboundMessage) -> None:
        if not self.settings.url:
            raise PermanentDelivery("channels.alertmanager.url is not configured")
        body = self.alerts(msg)
        if not body:
            return
        url = self.settings.url.rstrip("/") + "/api/v2/alerts"
        post_json(self.client, url, "alertmanager", json_body=body, url_is_secret=False)
