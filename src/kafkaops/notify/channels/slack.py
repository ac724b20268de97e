"""Slack incoming webhooks, one per Slack channel (``slack:#ops-critical``).

Message layout (Block Kit), so on-call sees the essentials without opening anything:

* header - severity emoji + state: ``🔴 P0 FIRING``, ``🟠 P1``, ``🟡 P2``; a resolve is a
  distinct ``✅ RESOLVED`` header so it is never mistaken for a new page; acknowledge 👀,
  maintenance notice 🛠;
* a section with the one-line summary, then fields (cluster, severity, rule, subject, value,
  threshold);
* evidence and the runbook's response steps as bullet lists (triggers only);
* the recommended actions with their exact commands, and what the automatic action did or
  why it held back (triggers and updates: an ``update`` is headed ``🤖 P1 UPDATE``);
* a context line with the time and the idempotency key (Slack has no dedup: a reader, or a bot,
  can spot a duplicate of an at-least-once delivery by it).

A report (``action == "report"``, :mod:`kafkaops.notify.reports`) is a 📊 header, the summary,
its headline numbers as fields and a link to the stored report when
``channels.reports.dashboard_url`` is set.  Incoming webhooks cannot upload files, so the
charts and the JSON travel by e-mail or the dashboard, and the message says so.

The webhook URL is the credential (env var or file per Slack channel).  Rate limit: Slack
allows about 1 message/s per webhook; the dispatcher spaces messages per webhook
(:attr:`rate_key`) and a 429's ``Retry-After`` is honoured.
"""

from __future__ import annotations

from typing import Any

import httpx

from kafkaops.notify.channels.base import post_json
from kafkaops.notify.errors import PermanentDelivery
from kafkaops.notify.message import OutboundMessage, action_lines
from kafkaops.notify.secrets import read_secret
from kafkaops.notify.settings import SlackSettings

HEADER_LIMIT = 150
TEXT_LIMIT = 2900
EMOJI = {"P0": "🔴", "P1": "🟠", "P2": "🟡", "OK": "🛠"}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bullets(items: list[Any]) -> str:
    return _cut("\n".join(f"• {item}" for item in items), TEXT_LIMIT)


def _fmt(value: Any, unit: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:g} {unit}" if isinstance(value, int | float) and unit else str(value)


def header_text(msg: OutboundMessage) -> str:
    sev = msg.severity
    if msg.action == "resolve":
        return f"✅ RESOLVED {sev}"
    if msg.action == "acknowledge":
        return f"👀 ACKNOWLEDGED {sev}"
    if msg.action == "notice":
        return "🛠 MAINTENANCE NOTICE"
    if msg.action == "update":
        return f"🤖 {sev} UPDATE"
    if msg.action == "report":
        return f"📊 {msg.details.get('title') or msg.summary}"
    return f"{EMOJI.get(sev, '⚪')} {sev} FIRING"


def report_blocks(msg: OutboundMessage) -> list[dict[str, Any]]:
    """A report: header, headline numbers (fields), the summary, the link or where to find it."""
    d = msg.details
    out: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(header_text(msg), HEADER_LIMIT)},
        }
    ]
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{label}*\n{value}", 2000)}
        for label, value in (d.get("headline") or [])[:10]
    ]
    if fields:
        out.append({"type": "section", "fields": fields})
    if d.get("text"):
        out.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(d["text"], TEXT_LIMIT)}}
        )
    url = d.get("url")
    where = (
        f"<{url}|Open the full report> (charts, tables, JSON)"
        if url
        else "Full report with charts: the e-mail, or the kafkaops dashboard (Reports)"
    )
    out.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(where, TEXT_LIMIT)}})
    out.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": _cut(f"{d.get('at') or msg.created_at} · key "
                                               f"`{msg.idempotency_key}`", 2000)}
            ],
        }
    )  # fmt: skip
    return out


def blocks(msg: OutboundMessage) -> list[dict[str, Any]]:
    """The Block Kit blocks for ``msg``."""
    if msg.action == "report":
        return report_blocks(msg)
    d = msg.details
    out: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(header_text(msg), HEADER_LIMIT)},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(msg.summary, TEXT_LIMIT)}},
    ]
    fields: list[tuple[str, Any]] = [("Cluster", msg.cluster), ("Severity", msg.severity)]
    if "rule" in d:
        fields += [
            ("Rule", d.get("rule")),
            ("Subject", d.get("subject")),
            ("Value", _fmt(d.get("value"), d.get("unit"))),
            ("Threshold", _fmt(d.get("threshold"), d.get("unit"))),
        ]
    if "incident_id" in d:
        fields.append(("Incident", d["incident_id"]))
    if "notice" in d:
        notice = d["notice"]
        fields += [
            ("Type", notice.get("type")),
            ("Start", notice.get("start_time")),
            ("Duration", notice.get("duration")),
            ("Impact", notice.get("impact")),
            ("Contact", notice.get("contact")),
        ]
    out.append(
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _cut(f"*{label}*\n{value}", 2000)}
                for label, value in fields[:10]
                if value not in (None, "")
            ],
        }
    )
    if msg.action == "trigger" and d.get("evidence"):
        out.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Evidence*\n" + _bullets(d["evidence"])},
            }
        )
    if msg.action == "trigger" and d.get("response"):
        out.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Response*\n" + _bullets(d["response"])},
            }
        )
    actions = action_lines(d) if msg.action in ("trigger", "update") else []
    if actions:
        # Commands in code spans so Slack neither links nor reformats them.
        shown = [f"`{a[4:]}`" if a.startswith("  $ ") else f"• {a}" for a in actions]
        out.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut("*Actions*\n" + "\n".join(shown),
                                                        TEXT_LIMIT)},
            }
        )  # fmt: skip
    when = d.get("at") or msg.created_at
    out.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": _cut(f"{when} · key `{msg.idempotency_key}`", 2000)}
            ],
        }
    )
    return out


def payload(msg: OutboundMessage) -> dict[str, Any]:
    """Webhook body: ``text`` is the notification/fallback line, ``blocks`` the layout."""
    if msg.action == "report":
        return {"text": _cut(header_text(msg), TEXT_LIMIT), "blocks": blocks(msg)}
    return {"text": _cut(f"{header_text(msg)}: {msg.summary}", TEXT_LIMIT), "blocks": blocks(msg)}


class SlackChannel:
    """Posts to the incoming webhook configured for the message's Slack channel."""

    def __init__(self, settings: SlackSettings, client: httpx.Client) -> None:
        self.settings = settings
        self.client = client

    def __repr__(self) -> str:
        return f"SlackChannel(targets={sorted(self.settings.webhooks)!r})"

    @staticmethod
    def rate_key(msg: OutboundMessage) -> str:
        """What Slack's 1 msg/s limit applies to: one webhook = one Slack channel target."""
        return f"slack:{msg.target}"

    def send(self, msg: OutboundMessage) -> None:
        hook = self.settings.webhooks.get(msg.target)
        if hook is None:
            raise PermanentDelivery(
                f"no Slack webhook configured for {msg.target!r} "
                f"(add channels.slack.webhooks[{msg.target!r}].url_env or url_file)"
            )
        field = f"channels.slack.webhooks[{msg.target!r}].url"
        url = read_secret(hook.url_env, hook.url_file, field).get_secret_value()
        post_json(
            self.client,
            url,
            str(msg.channel_ref),
            json_body=payload(msg),
            headers={"X-Kafkaops-Idempotency-Key": msg.idempotency_key},
        )
