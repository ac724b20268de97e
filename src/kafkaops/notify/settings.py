"""``channels:`` configuration: where each notification channel sends, and the retry policy.

Why strict (``extra="forbid"``) like the rest of the config: a typo in ``webhooks`` would
otherwise silently drop every Slack alert.  Secrets are never inline: every routing key,
webhook URL and password is a ``*_env`` (environment variable *name*) or ``*_file`` reference,
read at send time (see :mod:`kafkaops.notify.secrets`).  A Slack incoming-webhook URL is its
own credential, so Slack URLs can only come from env/file.  Durations carry units (``10s``).

Everything is optional: a channel that is not configured fails its messages with a reason that
names the missing field, instead of failing the whole config load.

The documented example is ``channels.example.yaml`` next to this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from kafkaops.core.model import Severity
from kafkaops.core.units import DurationMs
from kafkaops.incidents.routing import ChannelRef
from kafkaops.notify.secrets import check_env_name

PositiveInt = Annotated[int, Field(ge=1)]
#: An environment variable *name*; a pasted secret is refused.
EnvName = Annotated[str, AfterValidator(check_env_name)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _SecretRef(_Model):
    """Mixin check: at most one of ``<name>_env`` / ``<name>_file`` per secret."""

    @staticmethod
    def _one_of(data: Any, name: str) -> Any:
        if isinstance(data, dict) and data.get(f"{name}_env") and data.get(f"{name}_file"):
            raise ValueError(f"give {name}_env or {name}_file, not both")
        return data


class RetrySettings(_Model):
    """Exponential backoff with full jitter, retried until ``give_up_after``.

    The n-th retry waits a uniformly random time in ``[0, min(max_backoff, base * 2^(n-1))]``
    (AWS "full jitter": many dispatchers retrying a recovered receiver do not all arrive in the
    same second).  A message is retried until it is ``give_up_after`` old: an alert about a lag
    spike from yesterday helps nobody, but a page must survive a receiver outage of hours.
    Attempts do not end a page (10 attempts ran out after ~7 minutes of outage).
    """

    #: Claims *without any recorded outcome* after which a message is failed: its send kills
    #: the dispatcher every time (a poison message).  Attempts that failed do not count here.
    max_attempts: PositiveInt = 10
    base_backoff: DurationMs = 2_000
    max_backoff: DurationMs = 300_000
    give_up_after: DurationMs = 6 * 3_600_000
    #: How long a claimed message is reserved for its dispatcher; after that another may take it
    #: (a dispatcher killed mid-delivery).  Must exceed the longest single send (timeouts).
    lease: DurationMs = 60_000
    #: Messages claimed per ``deliver_due`` round.
    batch: PositiveInt = 50


class PagerDutySettings(_SecretRef):
    """PagerDuty Events API v2 (``POST {url}/v2/enqueue``; notices as change events)."""

    url: str = "https://events.pagerduty.com"
    routing_key_env: EnvName | None = None
    routing_key_file: Path | None = None
    #: ``payload.source``: what PagerDuty shows as the affected system.
    source: str = "kafkaops"

    @model_validator(mode="before")
    @classmethod
    def _single(cls, data: Any) -> Any:
        return cls._one_of(data, "routing_key")


class SlackWebhook(_SecretRef):
    """One Slack incoming webhook (one per Slack channel: a webhook posts to one channel)."""

    url_env: EnvName | None = None
    url_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _single(cls, data: Any) -> Any:
        if isinstance(data, dict) and "url" in data:
            raise ValueError(
                "a Slack webhook URL is a credential: use url_env or url_file, not url"
            )
        return cls._one_of(data, "url")


class SlackSettings(_Model):
    """Slack incoming webhooks by target: ``slack:#ops`` posts via ``webhooks["#ops"]``."""

    webhooks: dict[str, SlackWebhook] = {}
    #: Slack allows about one message per second per incoming webhook.
    min_interval: DurationMs = 1_000


class EmailSettings(_SecretRef):
    """SMTP submission (stdlib ``smtplib``): STARTTLS required by default, AUTH optional."""

    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password_env: EnvName | None = None
    password_file: Path | None = None
    from_addr: str = "kafkaops@localhost"
    #: Target (``email:<target>``) → recipients; a target not listed is itself the address.
    to: dict[str, list[str]] = {}
    #: CA bundle to verify the server certificate (system CAs when unset).
    ca_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _single(cls, data: Any) -> Any:
        return cls._one_of(data, "password")

    @model_validator(mode="after")
    def _auth_needs_tls(self) -> EmailSettings:
        # A password sent in the clear is a leaked password.
        if self.username and not self.starttls:
            raise ValueError("SMTP AUTH without STARTTLS would send the password in the clear")
        return self


def _default_severity_topics() -> dict[Severity, str]:
    # Runbook "Alert Response Actions": Critical → msk-critical-alerts, Warning → warning.
    return {
        Severity.P0: "msk-critical-alerts",
        Severity.P1: "msk-critical-alerts",
        Severity.P2: "msk-warning-alerts",
    }


class SnsSettings(_Model):
    """AWS SNS ``Publish``.  Credentials: the normal boto3 chain (env, profile, instance role)."""

    region: str | None = None
    #: Another endpoint (LocalStack, moto, VPC endpoint).
    endpoint_url: str | None = None
    #: Topic name → ARN.  Names not listed are looked up with ListTopics (and cached).
    topics: dict[str, str] = {}
    #: Topic for a bare ``sns`` channel, by severity.
    severity_topics: dict[Severity, str] = Field(default_factory=_default_severity_topics)


class WebhookSettings(_SecretRef):
    """A generic JSON webhook; optional HMAC-SHA256 signature over ``<timestamp>.<body>``."""

    url: str | None = None
    url_env: EnvName | None = None
    url_file: Path | None = None
    secret_env: EnvName | None = None
    secret_file: Path | None = None
    signature_header: str = "X-Kafkaops-Signature"

    @model_validator(mode="before")
    @classmethod
    def _single(cls, data: Any) -> Any:
        cls._one_of(data, "secret")
        urls = ("url", "url_env", "url_file")
        if isinstance(data, dict) and sum(bool(data.get(k)) for k in urls) > 1:
            raise ValueError("give one of url, url_env, url_file")
        return data


class AlertmanagerSettings(_Model):
    """Prometheus Alertmanager (``POST {url}/api/v2/alerts``)."""

    url: str | None = None
    #: ``endsAt`` sent with a trigger (``now + this``).  Unset: Alertmanager applies its
    #: ``resolve_timeout`` (5 m by default) - set this, or raise resolve_timeout, because
    #: kafkaops sends a firing alert once and does not re-send it periodically.
    ends_at_after: DurationMs | None = None


#: Channel kinds a report can go to: e-mail (the HTML report with PNG charts, the JSON
#: attached) and Slack (a summary with the headline numbers and a link).
REPORT_KINDS = frozenset({"email", "slack"})


def _check_report_channel(value: str) -> str:
    ref = ChannelRef.parse(value)
    if ref.kind not in REPORT_KINDS:
        raise ValueError(
            f"{value!r}: reports go to email:<target> or slack:<#channel> "
            f"({ref.kind} has no way to carry a report)"
        )
    return str(ref)


ReportChannel = Annotated[str, AfterValidator(_check_report_channel)]


class ReportsSettings(_Model):
    """``channels.reports``: who receives which rendered report, through the channels above.

    Delivery goes through the outbox like a page (stored first, retried until
    ``retry.give_up_after``, survives a restart); the e-mail and Slack settings, secrets and
    rate limits are those of ``channels.email`` / ``channels.slack``.
    """

    #: Report kind (``weekly_review``, ``monthly_report``, ``dr_drill``) → channels, e.g.
    #: ``["email:capacity-review", "slack:#kafka-ops"]``.  A kind not listed is stored (listed in
    #: the dashboard) but not sent.
    to: dict[str, list[ReportChannel]] = {}
    #: The dashboard's address as readers reach it (``https://kafkaops.example.com``): Slack
    #: messages and e-mails link to the stored report there.  Unset: no link.
    dashboard_url: str | None = None

    @model_validator(mode="after")
    def _url(self) -> ReportsSettings:
        url = self.dashboard_url
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"dashboard_url {url!r} must start with http:// or https://")
        return self


class ChannelsSettings(_Model):
    """The ``channels:`` section."""

    #: Per-request timeout for HTTP channels, SMTP and AWS (connect and read each).
    timeout: DurationMs = 10_000
    retry: RetrySettings = RetrySettings()
    pagerduty: PagerDutySettings = PagerDutySettings()
    slack: SlackSettings = SlackSettings()
    email: EmailSettings = EmailSettings()
    sns: SnsSettings = SnsSettings()
    #: Webhook targets by name (``webhook:<name>``).
    webhooks: dict[str, WebhookSettings] = {}
    #: Name of the webhook (in ``webhooks``) that phone/SMS pages go to - a paging gateway.
    pager: str | None = None
    alertmanager: AlertmanagerSettings = AlertmanagerSettings()
    reports: ReportsSettings = ReportsSettings()

    @model_validator(mode="after")
    def _pager_exists(self) -> ChannelsSettings:
        if self.pager is not None and self.pager not in self.webhooks:
            raise ValueError(f"pager {self.pager!r} is not one of webhooks {sorted(self.webhooks)}")
        return self

    @property
    def timeout_s(self) -> float:
        return self.timeout / 1000
