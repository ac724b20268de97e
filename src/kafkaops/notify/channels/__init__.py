"""One module per notification channel; each class has ``send(msg) -> None``."""

from kafkaops.notify.channels.alertmanager import AlertmanagerChannel
from kafkaops.notify.channels.base import Channel
from kafkaops.notify.channels.pagerduty import PagerDutyChannel
from kafkaops.notify.channels.slack import SlackChannel
from kafkaops.notify.channels.smtp import EmailChannel
from kafkaops.notify.channels.sns import SnsChannel
from kafkaops.notify.channels.webhook import WebhookChannel

__all__ = [
    "AlertmanagerChannel",
    "Channel",
    "EmailChannel",
    "PagerDutyChannel",
    "SlackChannel",
    "SnsChannel",
    "WebhookChannel",
]
