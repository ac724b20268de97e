"""AWS SNS ``Publish`` (boto3), topics per the runbook's "Alert Response Actions".

Topic choice: ``sns:<name>`` names the topic (routing defaults: ``msk-critical-alerts`` for
P0/P1, ``msk-warning-alerts`` for P2); a bare ``sns`` uses ``severity_topics``.  A name is
resolved to an ARN from ``topics`` or, if not listed, by ListTopics (cached for the life of the
channel); a target that already is an ARN is used as is.

Body: JSON - the runbook's ``maintenance-notice.json`` fields for a notice, otherwise the
message (summary, action, cluster, severity, details, idempotency key).  ``Subject`` (used by
e-mail subscriptions) is ≤ 100 printable ASCII characters without line breaks, as SNS demands.
``MessageAttributes`` ``severity``/``action``/``cluster`` let subscribers filter (SNS filter
policies), e.g. an SQS queue that only takes P0.

botocore's own retries are off (``total_max_attempts=1``): the outbox retries, with backoff and
an age limit, across restarts.  Throttling and 5xx are retryable; access denied, not found,
invalid parameter and missing credentials are permanent.
"""

from __future__ import annotations

import json
from typing import Any

from kafkaops.core.model import Severity
from kafkaops.notify.errors import PermanentDelivery, RetryableDelivery
from kafkaops.notify.message import OutboundMessage
from kafkaops.notify.settings import SnsSettings

SUBJECT_LIMIT = 100
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSThrottling",
    }
)


def sns_subject(text: str) -> str:
    """SNS Subject rules: ASCII, no control characters, starts with a letter/number/punct, ≤100."""
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else " " for ch in text)
    cleaned = " ".join(cleaned.split()) or "kafkaops notification"
    return cleaned[:SUBJECT_LIMIT]


def body(msg: OutboundMessage) -> str:
    if msg.action == "notice" and "notice" in msg.details:
        return json.dumps(msg.details["notice"], sort_keys=True)
    data = msg.to_dict()
    return json.dumps(data, sort_keys=True)


class SnsChannel:
    def __init__(self, settings: SnsSettings, timeout_s: float, client: Any = None) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._client = client
        self._arns: dict[str, str] = dict(settings.topics)

    def __repr__(self) -> str:
        return f"SnsChannel(region={self.settings.region!r})"

    def client(self) -> Any:
        if self._client is None:
            if not (self.settings.region or self.settings.endpoint_url):
                # Not configured: refuse rather than let boto3 guess a region and probe the
                # instance-metadata service for credentials on a machine that is not on AWS.
                raise PermanentDelivery(
                    "SNS is not configured: set channels.sns.region (and credentials)"
                )
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=self.timeout_s,
                read_timeout=self.timeout_s,
                retries={"total_max_attempts": 1, "mode": "standard"},
            )
            self._client = boto3.client(
                "sns",
                region_name=self.settings.region,
                endpoint_url=self.settings.endpoint_url,
                config=config,
            )
        return self._client

    def topic_name(self, msg: OutboundMessage) -> str:
        if msg.target:
            return msg.target
        topic = self.settings.severity_topics.get(Severity(msg.severity))
        if topic is None:
            raise PermanentDelivery(f"channels.sns.severity_topics has no topic for {msg.severity}")
        return topic

    def topic_arn(self, name: str) -> str:
        if name.startswith("arn:"):
            return name
        if name in self._arns:
            return self._arns[name]
        client = self.client()
        for page in client.get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                arn = topic["TopicArn"]
                if arn.rsplit(":", 1)[-1] == name:
                    self._arns[name] = arn
                    return arn
        raise PermanentDelivery(
            f"SNS topic {name!r} not found (create it, or map it in channels.sns.topics)"
        )

    def send(self, msg: OutboundMessage) -> None:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            NoRegionError,
            PartialCredentialsError,
        )
        from botocore.exceptions import (
            ConnectionError as BotoConnectionError,
        )

        name = self.topic_name(msg)
        where = f"sns:{name}"
        subject = msg.details.get("subject") if msg.action == "notice" else msg.summary
        attributes = {
            "severity": {"DataType": "String", "StringValue": msg.severity},
            "action": {"DataType": "String", "StringValue": msg.action},
            "idempotency_key": {"DataType": "String", "StringValue": msg.idempotency_key},
        }
        if msg.cluster:
            attributes["cluster"] = {"DataType": "String", "StringValue": msg.cluster}
        try:
            arn = self.topic_arn(name)
            self.client().publish(
                TopicArn=arn,
                Message=body(msg),
                Subject=sns_subject(str(subject or msg.summary)),
                MessageAttributes=attributes,
            )
        except PermanentDelivery:
            raise
        except (NoCredentialsError, PartialCredentialsError, NoRegionError) as exc:
            raise PermanentDelivery(f"{where}: {exc}") from None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            text = f"{where}: {code} {error.get('Message', '')}".strip()
            if code in RETRYABLE_CODES or status == 429 or status >= 500:
                raise RetryableDelivery(text) from None
            raise PermanentDelivery(text) from None
        except (BotoConnectionError, BotoCoreError) as exc:
            raise RetryableDelivery(f"{where}: {type(exc).__name__}: {exc}") from None
