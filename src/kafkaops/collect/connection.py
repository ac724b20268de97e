"""How to reach one cluster: bootstrap servers, TLS/SASL/MSK-IAM security, timeouts.

Why here and not in the root config: building a Kafka client is the collect stage's concern;
the root config only aggregates each stage's settings.  Secrets are never inline: they come from
environment variables or files, are resolved only when a client is built (so ``config-check``
works on a laptop without the production secrets), and are held as ``SecretStr`` so they cannot
leak through ``repr``, logs or ``model_dump``.  Relative paths (``password_file``, ``ssl_*``)
are relative to the config file's directory, so a config and its certificates move together.
"""

from __future__ import annotations

import os
import re
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kafkaops.collect.settings import MetricsSettings
from kafkaops.core.errors import SECRET_ERROR, ConfigError
from kafkaops.core.units import DurationMs, format_duration_ms

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "AWS_MSK_IAM"]
TimeLagMethod = Literal["exact", "estimated", "none"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_AWS_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
# b-1.prod.abc123.c2.kafka.eu-west-1.amazonaws.com / boot-x.c2.kafka-serverless.us-east-1...
_MSK_HOST = re.compile(
    r"\.kafka(?:-serverless)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$",
    re.IGNORECASE,
)
#: kafka-python arguments that hold a secret: masked in the repr of the client kwargs.
SECRET_KWARGS = frozenset({"sasl_plain_password", "ssl_password"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Located(_Model):
    """A section that knows which file and field path it was loaded from.

    Secrets and certificate files are checked lazily, after loading; their errors must still
    name the file and the full field path (``clusters.prod.security.password_env``).
    """

    _source: str | None = PrivateAttr(default=None)
    _path: str = PrivateAttr(default="")
    _base_dir: Path | None = PrivateAttr(default=None)

    def _locate(self, source: str | None, path: str, base_dir: Path | None) -> None:
        self._source, self._path, self._base_dir = source, path, base_dir

    def _error(self, field: str, problem: str) -> ConfigError:
        where = f"{self._path}.{field}" if self._path else field
        return ConfigError.at(self._source, where, problem)

    def _file(self, path: Path) -> Path:
        """``path`` as configured, made relative to the config file's directory."""
        path = path.expanduser()
        if not path.is_absolute() and self._base_dir is not None:
            return self._base_dir / path
        return path


class ClientKwargs(dict[str, Any]):
    """kafka-python keyword arguments whose ``repr`` masks the password.

    The dict necessarily holds the plain password (kafka-python wants a ``str``), but it ends
    up in dataclass reprs, debug logs and tracebacks' locals; those must show ``'***'``.
    """

    def __repr__(self) -> str:
        shown = {k: ("***" if k in SECRET_KWARGS and v else v) for k, v in self.items()}
        return repr(shown)

    __str__ = __repr__


def parse_bootstrap(value: str | list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
    """``"a:1, b:2"`` or ``["a:1", "b:2"]`` → ``("a:1", "b:2")``; every entry must be HOST:PORT.

    The one check for the config's ``bootstrap`` and the CLI's ``--bootstrap``: a server
    without a port used to pass on the command line and fail later, and obscurely.
    """
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not value:
        raise ValueError("needs at least one HOST:PORT")
    for server in value:
        host, sep, port = str(server).rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{server!r} is not HOST:PORT")
    return tuple(str(s) for s in value)


def bootstrap_text(servers: Any) -> str:
    """Bootstrap servers as people write them: ``"a:1,b:2"`` (never a Python list's repr)."""
    if servers is None:
        return ""
    if isinstance(servers, str):
        return servers
    return ",".join(str(s) for s in servers)


def region_from_bootstrap(servers: typing.Iterable[str]) -> str | None:
    """The AWS region in an MSK broker host name (``….kafka.eu-west-1.amazonaws.com``)."""
    for server in servers:
        host = server.rpartition(":")[0]
        match = _MSK_HOST.search(host)
        if match:
            return match.group(1).lower()
    return None


class SecurityConfig(_Located):
    """How to authenticate and encrypt; mirrors Kafka's ``security.protocol``/``sasl.mechanism``."""

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    #: Not a secret, so it may be inline; ``username_env`` reads it from the environment.
    username: str | None = None
    username_env: str | None = None
    #: Name of the environment variable holding the password (never the password itself).
    password_env: str | None = None
    password_file: Path | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True
    #: AWS region for AWS_MSK_IAM; default: read from the MSK broker host names, else the
    #: profile's region.  Per cluster: two IAM clusters in two regions work in one process.
    aws_region: str | None = None
    #: AWS_MSK_IAM: a named profile (``~/.aws/config``); default: botocore's credential chain.
    aws_profile: str | None = None
    #: AWS_MSK_IAM: a role to assume (STS) with those credentials, e.g. a cross-account role.
    aws_role_arn: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict) and {"password", "sasl_plain_password"} & set(data):
            raise PydanticCustomError(
                SECRET_ERROR,
                "inline passwords are not allowed; use password_env (the name of an environment "
                "variable) or password_file",
            )
        return data

    @field_validator("username_env", "password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        # Someone who writes the password itself here must not see it echoed back.
        if value is not None and not _ENV_NAME.match(value):
            raise PydanticCustomError(
                SECRET_ERROR,
                "must be the name of an environment variable (letters, digits, _), "
                "e.g. KAFKA_PASSWORD, not the value itself",
            )
        return value

    @field_validator("aws_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _AWS_REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region (e.g. eu-west-1)")
        return value

    @field_validator("aws_role_arn")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and not _ROLE_ARN.match(value):
            raise ValueError(f"{value!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/x)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SecurityConfig:
        for check in (self._check_sasl, self._check_credentials, self._check_tls):
            problem = check()
            if problem:
                raise ValueError(problem)
        return self

    def _check_sasl(self) -> str | None:
        sasl = self.protocol.startswith("SASL_")
        if sasl and self.sasl_mechanism is None:
            return f"protocol {self.protocol} needs sasl_mechanism"
        if not sasl and self.sasl_mechanism is not None:
            return f"sasl_mechanism {self.sasl_mechanism} needs protocol SASL_SSL or SASL_PLAINTEXT"
        if self.sasl_mechanism == "AWS_MSK_IAM" and self.protocol != "SASL_SSL":
            return "AWS_MSK_IAM needs protocol SASL_SSL (MSK's IAM listener, port 9098)"
        for key in ("aws_region", "aws_profile", "aws_role_arn"):
            if getattr(self, key) and self.sasl_mechanism != "AWS_MSK_IAM":
                return f"{key} is only used with sasl_mechanism AWS_MSK_IAM"
        return None

    def _check_credentials(self) -> str | None:
        has_user = self.username is not None or self.username_env is not None
        has_password = self.password_env is not None or self.password_file is not None
        if self.username is not None and self.username_env is not None:
            return "give username or username_env, not both"
        if self.password_env is not None and self.password_file is not None:
            return "give password_env or password_file, not both"
        if self.sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            if not has_user:
                return f"{self.sasl_mechanism} needs username or username_env"
            if not has_password:
                return f"{self.sasl_mechanism} needs password_env or password_file"
        elif has_user or has_password:
            why = "AWS_MSK_IAM uses AWS credentials" if self.sasl_mechanism else "no SASL"
            return f"username/password are not used here ({why}); remove them"
        return None

    def _check_tls(self) -> str | None:
        files = [f for f in ("ssl_cafile", "ssl_certfile", "ssl_keyfile") if getattr(self, f)]
        if files and not self.uses_tls:
            return f"{files[0]} needs protocol SSL or SASL_SSL (protocol is {self.protocol})"
        if self.ssl_keyfile and not self.ssl_certfile:
            return "ssl_keyfile needs ssl_certfile (the client certificate)"
        return None

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def resolve_username(self) -> str | None:
        """The SASL username, from ``username`` or the ``username_env`` variable."""
        if self.username_env is None:
            return self.username
        value = os.environ.get(self.username_env)
        if not value:
            raise self._error(
                "username_env", f"environment variable {self.username_env} is not set or empty"
            )
        return value

    def resolve_password(self) -> SecretStr | None:
        """Read the password from its environment variable or file, now.

        Returned as ``SecretStr``: call ``get_secret_value()`` only to hand it to the client.
        """
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if not value:
                raise self._error(
                    "password_env",
                    f"environment variable {self.password_env} is not set or empty",
                )
            return SecretStr(value)
        if self.password_file is not None:
            path = self._file(self.password_file)
            try:
                value = path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise self._error("password_file", f"cannot read {path}: {why}") from None
            if not value:
                raise self._error("password_file", f"{path} is empty")
            return SecretStr(value)
        return None

    def ssl_kwargs(self) -> dict[str, Any]:
        """kafka-python TLS arguments, with every configured file checked to be readable."""
        if not self.uses_tls:
            return {}
        kwargs: dict[str, Any] = {"ssl_check_hostname": self.ssl_check_hostname}
        for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            configured = getattr(self, key)
            if configured is None:
                continue
            path = self._file(configured)
            if not path.is_file() or not os.access(path, os.R_OK):
                raise self._error(key, f"{path} does not exist or is not readable")
            kwargs[key] = str(path)
        return kwargs

    def sasl_kwargs(self, region: str | None) -> dict[str, Any]:
        """kafka-python SASL arguments; secrets are resolved here and nowhere earlier."""
        if self.sasl_mechanism is None:
            return {}
        if self.sasl_mechanism == "AWS_MSK_IAM":
            return {
                "sasl_mechanism": "OAUTHBEARER",
                "sasl_oauth_token_provider": self.msk_iam_token_provider(region),
            }
        password = self.resolve_password()
        return {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.resolve_username(),
            "sasl_plain_password": password.get_secret_value() if password else None,
        }

    def msk_iam_token_provider(self, region: str | None) -> Any:
        """The OAUTHBEARER token provider of this cluster (AWS_MSK_IAM), checked now.

        Nothing process-wide is set (kafka-python's own AWS_MSK_IAM mechanism needed
        ``AWS_DEFAULT_REGION``): region, profile and role are this cluster's.  The first token
        is signed here (local, no AWS call unless a role is assumed), so missing credentials or
        an unknown profile are a one-line error naming the field, not a failed handshake.
        """
        try:
            import botocore.session

            from kafkaops.collect import msk_iam
        except ImportError:
            raise self._error(
                "sasl_mechanism",
                "AWS_MSK_IAM needs the aws extra: pip install 'kafkaops[aws]'",
            ) from None
        from botocore.exceptions import BotoCoreError

        if region is None:
            try:
                region = botocore.session.Session(profile=self.aws_profile).get_config_variable(
                    "region"
                )
            except BotoCoreError as exc:  # e.g. ProfileNotFound
                raise self._error("aws_profile", " ".join(str(exc).split())) from None
        if not region:
            raise self._error(
                "aws_region",
                "AWS_MSK_IAM needs a region: set aws_region (MSK broker host names carry it; "
                "else AWS_DEFAULT_REGION or the profile's region)",
            )
        provider = msk_iam.token_provider(
            region, profile=self.aws_profile, role_arn=self.aws_role_arn
        )
        try:
            provider.token()
        except (msk_iam.MskIamError, BotoCoreError) as exc:
            field = "aws_role_arn" if self.aws_role_arn else "aws_profile"
            raise self._error(field, " ".join(str(exc).split())[:300]) from None
        return provider


class Timeouts(_Model):
    """Every network call is bounded: per request, and for the first connection.

    kafka-python's consumer (used to read time lag) needs 500ms < request < 9m, hence the range.
    """

    request: DurationMs = 10_000
    connect: DurationMs = 5_000

    @field_validator("request")
    @classmethod
    def _request_range(cls, value: int) -> int:
        return _within(value, 1_000, 300_000)

    @field_validator("connect")
    @classmethod
    def _connect_range(cls, value: int) -> int:
        return _within(value, 100, 300_000)


def _within(value_ms: int, low_ms: int, high_ms: int) -> int:
    if not low_ms <= value_ms <= high_ms:
        raise ValueError(
            f"{format_duration_ms(value_ms)} is outside {format_duration_ms(low_ms)} to "
            f"{format_duration_ms(high_ms)}"
        )
    return value_ms


class ClusterConfig(_Located):
    """One cluster: where it is, how to authenticate, how long to wait."""

    #: ``HOST:PORT`` entries; the YAML may give a comma-separated string or a list.
    bootstrap: tuple[str, ...]
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    #: exact = timestamp of the first unconsumed record; estimated = from offset history;
    #: none = offset lag only.
    time_lag_method: TimeLagMethod = "exact"
    #: Broker-metrics sources (Prometheus JMX/node exporters, CloudWatch) beside the admin
    #: protocol: CPU, memory, network, producer errors, the controller's own counters.
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    _name: str = PrivateAttr(default="")

    @field_validator("bootstrap", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str | list | tuple):
            return parse_bootstrap(value)
        return value

    @property
    def name(self) -> str:
        """The cluster's key under ``clusters:`` ("" when built outside a :class:`Config`)."""
        return self._name

    def aws_region(self) -> str | None:
        """The configured AWS region, else the one in the MSK broker host names."""
        return self.security.aws_region or region_from_bootstrap(self.bootstrap)

    def kafka_client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's ``KafkaAdminClient`` and ``KafkaConsumer``.

        Resolves secrets and checks certificate files now, raising :class:`ConfigError` naming
        the field.  The connect timeout is ``bootstrap_timeout_ms``: kafka-python 3.0.12 has no
        ``api_version_auto_timeout_ms`` (and rejects unknown arguments).
        """
        kwargs = ClientKwargs(
            bootstrap_servers=list(self.bootstrap),
            security_protocol=self.security.protocol,
            request_timeout_ms=self.timeouts.request,
            bootstrap_timeout_ms=self.timeouts.connect,
        )
        kwargs.update(self.security.ssl_kwargs())
        kwargs.update(self.security.sasl_kwargs(self.aws_region()))
        return kwargs
