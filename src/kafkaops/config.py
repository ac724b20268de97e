"""The one validated kafkaops configuration (YAML), documented in ``kafkaops.example.yaml``.

Why strict: a typo in an alerting threshold silently disables an alert.  Unknown keys are
errors, every duration and percentage carries its unit, and every error names the file, the
dotted field path and the offending value in one line.  Secrets are never inline: they come from
environment variables or files, are resolved only when a client is built, and are held as
``SecretStr`` so they cannot leak through ``repr``, logs or ``model_dump``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from kafkaops.errors import ConfigError
from kafkaops.units import DurationMs, Percent


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "AWS_MSK_IAM"]


class SecurityConfig(_Model):
    """How to authenticate and encrypt; mirrors Kafka's ``security.protocol``/``sasl.mechanism``."""

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    username: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True
    #: AWS region for AWS_MSK_IAM (else the usual AWS_REGION / AWS_DEFAULT_REGION / profile).
    aws_region: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(
                "inline passwords are not allowed; use password_env (an environment variable) "
                "or password_file"
            )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> SecurityConfig:
        sasl = self.protocol.startswith("SASL_")
        if sasl and self.sasl_mechanism is None:
            raise ValueError(f"protocol {self.protocol} needs sasl_mechanism")
        if not sasl and self.sasl_mechanism is not None:
            raise ValueError("sasl_mechanism needs protocol SASL_SSL or SASL_PLAINTEXT")
        if self.sasl_mechanism == "AWS_MSK_IAM" and self.protocol != "SASL_SSL":
            raise ValueError("AWS_MSK_IAM needs protocol SASL_SSL (MSK's IAM listener, port 9098)")
        if self.sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            if not (self.username or self.username_env):
                raise ValueError(f"{self.sasl_mechanism} needs username or username_env")
            if not (self.password_env or self.password_file):
                raise ValueError(f"{self.sasl_mechanism} needs password_env or password_file")
        return self

    def resolve_username(self) -> str | None:
        if self.username_env:
            value = os.environ.get(self.username_env)
            if not value:
                raise ConfigError(
                    f"config error: environment variable {self.username_env} "
                    "(security.username_env) is not set"
                )
            return value
        return self.username

    def resolve_password(self) -> SecretStr | None:
        """Read the password from its env var or file; never log or print the result."""
        if self.password_env:
            value = os.environ.get(self.password_env)
            if not value:
                raise ConfigError(
                    f"config error: environment variable {self.password_env} "
                    "(security.password_env) is not set"
                )
            return SecretStr(value)
        if self.password_file:
            try:
                return SecretStr(self.password_file.read_text().strip())
            except OSError as exc:
                raise ConfigError(
                    f"config error: security.password_file: cannot read {self.password_file}: "
                    f"{exc.strerror}"
                ) from exc
        return None


class Timeouts(_Model):
    """Every network call is bounded: per request, and for the first connection."""

    request: DurationMs = 10_000
    connect: DurationMs = 5_000


class ClusterConfig(_Model):
    bootstrap: list[str]
    security: SecurityConfig = SecurityConfig()
    timeouts: Timeouts = Timeouts()
    #: exact = timestamp of the first unconsumed record; none = skip time lag.
    time_lag_method: Literal["exact", "none"] = "exact"

    @field_validator("bootstrap", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            for server in value:
                host, sep, port = str(server).rpartition(":")
                if not sep or not host or not port.isdigit():
                    raise ValueError(f"{server!r} is not HOST:PORT")
            if not value:
                raise ValueError("needs at least one HOST:PORT")
        return value

    def kafka_client_kwargs(self) -> dict[str, Any]:
        """kafka-python client arguments (admin and consumer), secrets resolved now."""
        sec = self.security
        kwargs: dict[str, Any] = {
            "bootstrap_servers": list(self.bootstrap),
            "security_protocol": sec.protocol,
            "request_timeout_ms": self.timeouts.request,
            "bootstrap_timeout_ms": self.timeouts.connect,
        }
        if sec.protocol in ("SSL", "SASL_SSL"):
            kwargs["ssl_check_hostname"] = sec.ssl_check_hostname
            for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
                path = getattr(sec, key)
                if path is not None:
                    kwargs[key] = str(path)
        if sec.sasl_mechanism:
            kwargs["sasl_mechanism"] = sec.sasl_mechanism
        if sec.sasl_mechanism == "AWS_MSK_IAM":
            try:
                import botocore  # noqa: F401
            except ImportError as exc:
                raise ConfigError(
                    "config error: security.sasl_mechanism AWS_MSK_IAM needs botocore "
                    "(pip install boto3 into the kafkaops environment)"
                ) from exc
            if sec.aws_region:
                os.environ.setdefault("AWS_DEFAULT_REGION", sec.aws_region)
        elif sec.sasl_mechanism:
            kwargs["sasl_plain_username"] = sec.resolve_username()
            password = sec.resolve_password()
            kwargs["sasl_plain_password"] = password.get_secret_value() if password else None
        return kwargs


class CriticalThresholds(_Model):
    """Runbook "Critical Thresholds": P1, except offline partitions (P0)."""

    offline_partitions: NonNegativeInt = 0
    under_replicated_partitions: NonNegativeInt = 0
    consumer_lag: DurationMs = 300_000
    broker_cpu: Percent = 90.0
    broker_memory: Percent = 90.0
    disk_usage: Percent = 85.0
    #: The runbook's P1 trigger "Producer error rate > 1%".
    producer_error_rate: Percent = 1.0


class WarningThresholds(_Model):
    """Runbook "Warning Thresholds": P2."""

    consumer_lag: DurationMs = 60_000
    broker_cpu: Percent = 70.0
    broker_memory: Percent = 80.0
    disk_usage: Percent = 80.0
    #: The runbook's ``producer_error_rate: 0.001`` (a ratio) = 0.1%.
    producer_error_rate: Percent = 0.1
    network_io: Percent = 60.0


class Thresholds(_Model):
    critical: CriticalThresholds = CriticalThresholds()
    warning: WarningThresholds = WarningThresholds()

    @model_validator(mode="after")
    def _warning_below_critical(self) -> Thresholds:
        for name in (
            "consumer_lag",
            "broker_cpu",
            "broker_memory",
            "disk_usage",
            "producer_error_rate",
        ):
            warn, crit = getattr(self.warning, name), getattr(self.critical, name)
            if warn > crit:
                raise ValueError(
                    f"warning.{name} ({warn}) is above critical.{name} ({crit}); "
                    "a warning must trigger first"
                )
        return self


class StoreConfig(_Model):
    """Where history (offsets, lag) is kept: an SQLite file or a PostgreSQL database."""

    #: SQLAlchemy URL, e.g. sqlite:///var/lib/kafkaops/history.db or
    #: postgresql+psycopg://kafkaops@db:5432/kafkaops (password via PGPASSWORD or .pgpass).
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:", "postgresql")):
            raise ValueError(f"{value!r} is not an sqlite:// or postgresql+psycopg:// URL")
        if value is not None and "@" in value and ":" in value.split("@")[0].split("//")[-1]:
            raise ValueError("put the database password in PGPASSWORD or ~/.pgpass, not the URL")
        return value


class LagConfig(_Model):
    """Consumer status evaluation (Burrow-style sliding window)."""

    #: Samples per partition in the window (Burrow's default is 10 commits).
    window: int = Field(default=10, ge=2, le=1000)
    #: The runbook's scale_up_lag_threshold and partition_increment, for recommendations.
    scale_up_lag_threshold: NonNegativeInt = 10_000
    partition_increment: int = Field(default=4, ge=1)


class Config(_Model):
    clusters: dict[str, ClusterConfig] = Field(default_factory=dict)
    thresholds: Thresholds = Thresholds()
    store: StoreConfig = StoreConfig()
    lag: LagConfig = LagConfig()


def default_config() -> Config:
    """The runbook's defaults, no clusters."""
    return Config()


def _describe_error(path: Path, exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    value = first.get("input")
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field"
        text = f"config error: {path}: {loc}: {message}"
    elif first["type"] == "missing":
        text = f"config error: {path}: {loc}: required field is missing"
    elif (
        isinstance(value, dict | list)
        or first["type"].startswith("model_")
        or "password" in loc
        or repr(value) in message
    ):
        text = f"config error: {path}: {loc}: {message}"
    else:
        text = f"config error: {path}: {loc}: {value!r}: {message}"
    more = len(errors) - 1
    return text + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def load_config(path: Path | str) -> Config:
    """Load and validate a YAML config; raise :class:`ConfigError` with one clear line."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config error: {path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"config error: {path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"config error: {path}:{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config error: {path}: top level must be a mapping of settings")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe_error(path, exc)) from None
