"""The one validated kafkaops configuration (YAML), documented in ``kafkaops.example.yaml``.

Why strict: a typo in an alerting threshold silently disables an alert.  So unknown keys are
errors, duplicate keys are errors, every duration and percentage carries its unit, and every
error names the file, the dotted field path and the offending value in one line::

    config error: kafkaops.yaml: thresholds.warning.consumer_lag: '5 minutes' is not a
    duration (use e.g. 300s, 5m)

Secrets are never inline: they come from environment variables or files, are resolved only
when a client is built (so ``config-check`` works on a laptop without the production secrets),
and are held as ``SecretStr`` so they cannot leak through ``repr``, logs or ``model_dump``.

Relative paths in a config file (``password_file``, ``ssl_*``) are relative to that file's
directory, so a config and its certificates can move together.
"""

from __future__ import annotations

import difflib
import os
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kafkaops.collect.settings import MetricsSettings
from kafkaops.dr.settings import DrSettings
from kafkaops.errors import ConfigError
from kafkaops.incidents.settings import IncidentSettings
from kafkaops.notify.settings import ChannelsSettings
from kafkaops.service.settings import ServiceSettings
from kafkaops.units import DurationMs, Percent, format_duration_ms, format_percent

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "AWS_MSK_IAM"]
TimeLagMethod = Literal["exact", "estimated", "none"]
#: A count threshold: a YAML integer ≥ 0 (strict, so ``true`` or ``"1"`` are refused).
Count = Annotated[int, Field(ge=0, strict=True)]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_AWS_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
# b-1.prod.abc123.c2.kafka.eu-west-1.amazonaws.com / boot-x.c2.kafka-serverless.us-east-1...
_MSK_HOST = re.compile(
    r"\.kafka(?:-serverless)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$",
    re.IGNORECASE,
)
#: Error type for problems whose offending value must not be echoed (it may be a secret).
_SECRET_ERROR = "secret_value"
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
    #: AWS region for AWS_MSK_IAM; default: read from the MSK broker host names.
    aws_region: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict) and {"password", "sasl_plain_password"} & set(data):
            raise PydanticCustomError(
                _SECRET_ERROR,
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
                _SECRET_ERROR,
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
        if self.aws_region and self.sasl_mechanism != "AWS_MSK_IAM":
            return "aws_region is only used with sasl_mechanism AWS_MSK_IAM"
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
            self._prepare_msk_iam(region)
            return {"sasl_mechanism": "AWS_MSK_IAM"}
        password = self.resolve_password()
        return {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.resolve_username(),
            "sasl_plain_password": password.get_secret_value() if password else None,
        }

    def _prepare_msk_iam(self, region: str | None) -> None:
        """Make kafka-python's AWS_MSK_IAM mechanism work, or say exactly why it cannot.

        kafka-python 3.0.12 signs the IAM handshake with botocore's default credential chain and
        takes the region *only* from botocore (``AWS_DEFAULT_REGION`` or the profile); it has
        no argument for it.  So the cluster's region is exported as ``AWS_DEFAULT_REGION``
        when that is unset, and a conflicting value is an error rather than a baffling
        authentication failure later.
        """
        try:
            import botocore.session
        except ImportError:
            raise self._error(
                "sasl_mechanism",
                "AWS_MSK_IAM needs botocore (pip install boto3 into the kafkaops environment)",
            ) from None
        current = os.environ.get("AWS_DEFAULT_REGION")
        if region is None:
            if current or botocore.session.Session().get_config_variable("region"):
                return
            raise self._error(
                "aws_region",
                "AWS_MSK_IAM needs a region: set aws_region, AWS_DEFAULT_REGION or a region "
                "in the AWS profile",
            )
        if current and current != region:
            raise self._error(
                "aws_region",
                f"the cluster is in {region} but AWS_DEFAULT_REGION is {current}; kafka-python "
                "signs with AWS_DEFAULT_REGION, so unset it or make the two agree",
            )
        os.environ["AWS_DEFAULT_REGION"] = region


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
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list | tuple):
            if not value:
                raise ValueError("needs at least one HOST:PORT")
            for server in value:
                host, sep, port = str(server).rpartition(":")
                if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                    raise ValueError(f"{server!r} is not HOST:PORT")
            return tuple(str(s) for s in value)
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


class CriticalThresholds(_Model):
    """Runbook "Critical Thresholds": P1, except offline partitions (P0)."""

    offline_partitions: Count = 0
    under_replicated_partitions: Count = 0
    #: Runbook ``consumer_lag_ms: 300000`` (P1 trigger "EstimatedMaxTimeLag > 300000ms").
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


#: Metrics with both a warning and a critical threshold; the warning must not be the higher.
SHARED_THRESHOLDS = (
    "consumer_lag",
    "broker_cpu",
    "broker_memory",
    "disk_usage",
    "producer_error_rate",
)


class Thresholds(_Model):
    critical: CriticalThresholds = Field(default_factory=CriticalThresholds)
    warning: WarningThresholds = Field(default_factory=WarningThresholds)

    @model_validator(mode="after")
    def _warning_not_above_critical(self) -> Thresholds:
        for name in SHARED_THRESHOLDS:
            warn, crit = getattr(self.warning, name), getattr(self.critical, name)
            if warn > crit:
                fmt = format_duration_ms if name == "consumer_lag" else format_percent
                raise ValueError(
                    f"warning.{name} ({fmt(warn)}) is above critical.{name} ({fmt(crit)}); "
                    "the warning must trigger first"
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
        if value is None:
            return value
        if "@" in value and ":" in value.split("@")[0].split("//")[-1]:
            # Checked first: the message must not repeat a URL that holds a password.
            raise PydanticCustomError(
                _SECRET_ERROR, "put the database password in PGPASSWORD or ~/.pgpass, not the URL"
            )
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError(f"{value!r} is not an sqlite:// or postgresql+psycopg:// URL")
        return value


class LagConfig(_Model):
    """Consumer status evaluation (Burrow-style sliding window)."""

    #: Samples per partition in the window (Burrow's default is 10 commits).
    window: int = Field(default=10, ge=2, le=1000)
    #: The runbook's scale_up_lag_threshold and partition_increment, for recommendations.
    scale_up_lag_threshold: Count = 10_000
    partition_increment: int = Field(default=4, ge=1)


class WatchConfig(_Model):
    """The watch loop (``kafkaops watch``, and the service's loop)."""

    #: Time between collections of one cluster (the runbook's checks run every 10 s on MSK).
    interval: DurationMs = 10_000
    #: A cluster unreachable for this many consecutive cycles is a P0 "completely offline".
    offline_after_cycles: int = Field(default=3, ge=1, le=1000)


class Config(_Model):
    """The whole file: clusters to check and how to judge them."""

    clusters: dict[str, ClusterConfig] = Field(default_factory=dict)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    store: StoreConfig = Field(default_factory=StoreConfig)
    lag: LagConfig = Field(default_factory=LagConfig)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    #: Alerting, escalation, contacts, routing and maintenance windows (runbook defaults).
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    #: Where notifications go: PagerDuty, Slack, e-mail, SNS, webhook, Alertmanager.
    channels: ChannelsSettings = Field(default_factory=ChannelsSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    #: Disaster recovery: the primary/replica pair, replication policy, RPO/RTO targets.
    dr: DrSettings = Field(default_factory=DrSettings)

    _source: str | None = PrivateAttr(default=None)

    @field_validator("clusters")
    @classmethod
    def _cluster_names(cls, value: dict[str, ClusterConfig]) -> dict[str, ClusterConfig]:
        for name in value:
            if not _CLUSTER_NAME.match(str(name)):
                raise ValueError(
                    f"cluster name {name!r} must start with a letter or digit and contain only "
                    "letters, digits, '.', '_' and '-'"
                )
        return value

    @model_validator(mode="after")
    def _stamp_locations(self, info: ValidationInfo) -> Config:
        """Tell each cluster its name and file, for errors raised after loading."""
        context = info.context or {}
        source = context.get("source")
        base_dir = context.get("base_dir")
        self._source = source
        for name, cluster in self.clusters.items():
            cluster._name = name
            cluster._locate(source, f"clusters.{name}", base_dir)
            cluster.security._locate(source, f"clusters.{name}.security", base_dir)
        return self

    @property
    def source(self) -> str | None:
        """The file this config was loaded from (None for built-in defaults)."""
        return self._source


def default_config() -> Config:
    """The runbook's defaults and no clusters: what ``--bootstrap`` runs use."""
    return Config()


# ----------------------------------------------------------------------------- loading
class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys: PyYAML would silently keep the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # "<<: *anchor" merges legitimately repeat keys
        key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
        if isinstance(key, typing.Hashable) and key in seen:
            line = key_node.start_mark.line + 1
            raise ConfigError(f"line {line}: key {key!r} appears twice (the last would win)")
        seen.add(key)
    loader.flatten_mapping(node)  # type: ignore[no-untyped-call]
    return dict(loader.construct_pairs(node))  # type: ignore[no-untyped-call]


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,  # type: ignore[arg-type]
)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError.at(path, None, "file not found") from None
    except UnicodeDecodeError:
        raise ConfigError.at(path, None, "not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError.at(path, None, f"cannot read: {exc.strerror}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no tags
    except ConfigError as exc:  # duplicate key, raised from inside the loader
        raise ConfigError.at(path, None, str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or "invalid YAML"
        context = getattr(exc, "context", None)
        text = f"{problem} ({context})" if context else problem
        raise ConfigError.at(path, where, f"invalid YAML: {text}") from None


def load_config(path: Path | str) -> Config:
    """Load and validate a YAML config; raise :class:`ConfigError` with one clear line.

    An empty file is valid: the runbook's default thresholds and no clusters.
    """
    path = Path(path).expanduser()
    data = _read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError.at(path, None, "the top level must be a mapping of settings")
    try:
        return Config.model_validate(
            data, context={"source": str(path), "base_dir": path.resolve().parent}
        )
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path, exc)) from None


# ------------------------------------------------------------------- error messages
def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """Field names the model accepts at ``loc`` (for "did you mean" on unknown keys)."""
    current: Any = Config
    parts = list(loc)
    while parts:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(parts.pop(0)))
            if field is None:
                return []
            current = field.annotation
        elif typing.get_origin(current) is dict:
            parts.pop(0)  # the key, e.g. the cluster name
            current = typing.get_args(current)[1]
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unknown_field(loc: tuple[int | str, ...]) -> str:
    key = str(loc[-1]) if loc else ""
    if "password" in key:
        return "unknown field; secrets go in security.password_env or security.password_file"
    close = difflib.get_close_matches(key, _fields_at(loc[:-1]), n=1)
    return "unknown field" + (f" (did you mean {close[0]!r}?)" if close else "")


def describe_validation_error(path: Path | str | None, exc: ValidationError) -> str:
    """One line for the first problem: file, dotted field path, offending value, why.

    Values are left out where they may be secret (anything under a ``password`` field) or are
    whole sections (the message then names the fields itself).
    """
    errors = exc.errors()
    first = errors[0]
    loc = tuple(first["loc"])
    where = _dotted(loc)
    value = first.get("input")
    message = str(first["msg"]).removeprefix("Value error, ")
    kind = first["type"]
    if kind == "extra_forbidden":
        problem = _unknown_field(loc)
    elif kind == "missing":
        problem = "required field is missing"
    elif (
        kind == _SECRET_ERROR
        or isinstance(value, dict | list)
        or "password" in where
        or message.startswith(repr(value))
    ):
        problem = message
    else:
        problem = f"{_short_repr(value)}: {message}"
    more = len(errors) - 1
    if more:
        problem += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError.at(path, where, problem).message
