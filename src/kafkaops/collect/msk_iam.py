"""MSK IAM authentication as SASL/OAUTHBEARER tokens, with the region and identity per cluster.

Why: kafka-python's own ``AWS_MSK_IAM`` mechanism takes the region only from botocore's
environment, so kafkaops used to export ``AWS_DEFAULT_REGION`` for the process — and a second IAM
cluster in another region (a DR pair, two MSK clusters under ``clusters:``) could not
authenticate in the same process.  AWS's signer library (``aws-msk-iam-sasl-signer-python``, the
``aws`` extra) makes MSK's OAUTHBEARER token — a SigV4-presigned ``kafka-cluster:Connect`` URL for
``kafka.<region>.amazonaws.com``, base64url — for an explicit region and explicit credentials;
kafka-python sends it with ``sasl_mechanism=OAUTHBEARER`` and ``sasl_oauth_token_provider``.

Per cluster: ``aws_region`` (else the one in the broker host names, else the profile's),
``aws_profile`` (a named profile of ``~/.aws/config``; default: botocore's default chain) and
``aws_role_arn`` (assumed with STS from those credentials, refreshed by botocore before it
expires).  A token lives 15 minutes; :class:`MskIamTokenProvider` re-signs when less than
:data:`REFRESH_BEFORE_S` is left, so every new connection (kafka-python authenticates each
broker connection) presents an unexpired token, and re-signing is local (no AWS call).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka.net.sasl.oauth import AbstractTokenProvider

#: Re-sign when the token has less than this left (of its 900 s).
REFRESH_BEFORE_S = 120.0
#: Session name of an assumed role (shows in CloudTrail as who connected).
ROLE_SESSION_NAME = "kafkaops"


class MskIamError(Exception):
    """Why no token can be made (no credentials, unknown profile, role not assumable)."""


class MskIamTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """kafka-python token provider: one per (region, profile, role); thread-safe; re-signs early.

    ``clock`` (seconds since the epoch) is injectable so the refresh is tested without waiting.
    """

    def __init__(
        self,
        region: str,
        *,
        profile: str | None = None,
        role_arn: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.region = region
        self.profile = profile
        self.role_arn = role_arn
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expiry_ms = 0
        self._credentials: Any = None
        #: How many tokens were signed (tests check the refresh; ``/metrics`` could show it).
        self.signed = 0

    def __repr__(self) -> str:  # never the token
        return (
            f"MskIamTokenProvider(region={self.region!r}, profile={self.profile!r}, "
            f"role_arn={self.role_arn!r})"
        )

    def token(self) -> str:
        with self._lock:
            now_ms = self._clock() * 1000
            if self._token is None or now_ms >= self._expiry_ms - REFRESH_BEFORE_S * 1000:
                self._token, self._expiry_ms = self._sign()
                self.signed += 1
            return self._token

    @property
    def expiry_ms(self) -> int:
        """When the current token expires (ms since the epoch; 0 before the first)."""
        return self._expiry_ms

    def _sign(self) -> tuple[str, int]:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider as signer
        from botocore.credentials import CredentialProvider
        from botocore.exceptions import BotoCoreError, ClientError

        # The signer takes a botocore CredentialProvider: this cluster's credentials.
        credentials = CredentialProvider()
        credentials.load = self._load_credentials  # type: ignore[method-assign]
        try:
            token, expiry_ms = signer.generate_auth_token_from_credentials_provider(
                self.region, credentials
            )
        except (BotoCoreError, ClientError, ValueError) as exc:
            raise MskIamError(_why(exc, self.profile, self.role_arn)) from None
        return str(token), int(expiry_ms)

    def _load_credentials(self) -> Any:
        """botocore credentials for this cluster, made once (botocore refreshes them)."""
        if self._credentials is None:
            import botocore.session

            session = botocore.session.Session(profile=self.profile)
            source = session.get_credentials()
            if source is None:
                raise MskIamError(
                    "no AWS credentials found (environment, profile "
                    f"{self.profile or 'default'}, instance role)"
                )
            if self.role_arn is None:
                self._credentials = source
            else:
                from botocore.credentials import (
                    AssumeRoleCredentialFetcher,
                    DeferredRefreshableCredentials,
                )

                fetcher = AssumeRoleCredentialFetcher(
                    functools.partial(session.create_client, region_name=self.region),
                    source,
                    self.role_arn,
                    extra_args={"RoleSessionName": ROLE_SESSION_NAME},
                )
                self._credentials = DeferredRefreshableCredentials(
                    refresh_using=fetcher.fetch_credentials, method="assume-role"
                )
        return self._credentials


def _why(exc: Exception, profile: str | None, role_arn: str | None) -> str:
    text = " ".join(str(exc).split())[:200]
    who = f"profile {profile}" if profile else "the default credential chain"
    if role_arn:
        who += f", role {role_arn}"
    return f"cannot sign an MSK IAM token with {who}: {text}"


_providers: dict[tuple[str, str | None, str | None], MskIamTokenProvider] = {}
_providers_lock = threading.Lock()


def token_provider(
    region: str, *, profile: str | None = None, role_arn: str | None = None
) -> MskIamTokenProvider:
    """The process's provider for this (region, profile, role): a token is reused by every
    client of the same cluster (admin, consumer, each watch cycle) until it is near expiry."""
    key = (region, profile, role_arn)
    with _providers_lock:
        provider = _providers.get(key)
        if provider is None:
            provider = _providers[key] = MskIamTokenProvider(
                region, profile=profile, role_arn=role_arn
            )
        return provider
