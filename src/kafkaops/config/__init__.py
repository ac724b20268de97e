"""The one validated kafkaops configuration (YAML), documented in ``kafkaops.example.yaml``.

Why strict: a typo in an alerting threshold silently disables an alert.  So unknown keys are
errors, duplicate keys are errors, every duration and percentage carries its unit, and every
error names the file, the dotted field path and the offending value in one line::

    config error: kafkaops.yaml: thresholds.warning.consumer_lag: '5 minutes' is not a
    duration (use e.g. 300s, 5m)

This package only aggregates and loads: each pipeline stage owns its settings model
(``collect.connection``/``collect.settings``, ``lag.settings``, ``evaluate.settings``,
``incidents.settings``, ``notify.settings``, ``store.settings``).  The two faces' settings
(watch loop, service) live here, in :mod:`kafkaops.config.service`, because the faces sit above
the config in the layer order and the config may not import them.
"""

from __future__ import annotations

import difflib
import functools
import re
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kafkaops.actions.settings import ActionsSettings
from kafkaops.balance.settings import BalanceSettings
from kafkaops.capacity.settings import CapacitySettings
from kafkaops.collect.connection import ClusterConfig
from kafkaops.config.jobs import JobsSettings
from kafkaops.config.service import ServiceSettings
from kafkaops.core.errors import SECRET_ERROR, ConfigError
from kafkaops.core.units import bounded_duration
from kafkaops.diagnose.settings import DiagnoseSettings
from kafkaops.dr.settings import DrSettings
from kafkaops.evaluate.settings import Thresholds
from kafkaops.incidents.settings import IncidentSettings
from kafkaops.lag.settings import LagSettings
from kafkaops.notify.settings import ChannelsSettings
from kafkaops.slo.settings import SloSettings
from kafkaops.store.settings import StoreSettings

_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WatchSettings(_Model):
    """The watch loop (``kafkaops watch``, and the service's loop)."""

    #: Time between collections of one cluster (the runbook's checks run every 10 s on MSK).
    #: At least 1 s (the CLI's minimum), at most a day: a longer one is not a watch.
    interval: bounded_duration(1_000, 86_400_000) = 10_000  # type: ignore[valid-type]
    #: A cluster unreachable for this many consecutive cycles is a P0 "completely offline".
    offline_after_cycles: int = Field(default=3, ge=1, le=1000)
    #: How instances sharing one store split the work.  ``leader``: one instance (the holder
    #: of one lease) watches and pages for every cluster, the others are hot standbys.
    #: ``per_cluster``: every cluster has its own fenced lease and exactly one instance
    #: watches it; clusters are spread over the live instances and move when one dies
    #: (within two intervals) or joins (README "Running at scale").
    sharing: Literal["leader", "per_cluster"] = "leader"


class Config(_Model):
    """The whole file: clusters to check and how to judge them."""

    clusters: dict[str, ClusterConfig] = Field(default_factory=dict)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    store: StoreSettings = Field(default_factory=StoreSettings)
    lag: LagSettings = Field(default_factory=LagSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    #: Alerting, escalation, contacts, routing and maintenance windows (runbook defaults).
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    #: Where notifications go: PagerDuty, Slack, e-mail, SNS, webhook, Alertmanager.
    channels: ChannelsSettings = Field(default_factory=ChannelsSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    #: Capacity forecasts and recommendations (thresholds, MSK limits, the runbook's steps).
    capacity: CapacitySettings = Field(default_factory=CapacitySettings)
    #: Partition balance: tolerance bands, throttle, batch size, audit log.
    balance: BalanceSettings = Field(default_factory=BalanceSettings)
    #: Disaster recovery: the primary/replica pair, replication policy, RPO/RTO targets.
    dr: DrSettings = Field(default_factory=DrSettings)
    #: When the runbook's scheduled jobs run (cron, UTC), catch-up, where reports go.
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    #: MSK operations (kafkaops msk) and the opt-in automatic alert actions.
    actions: ActionsSettings = Field(default_factory=ActionsSettings)
    #: Service levels: availability / freshness objective, error budget, burn-rate alerts.
    slo: SloSettings = Field(default_factory=SloSettings)
    #: Producer diagnosis thresholds and the end-to-end canary (off in watch by default).
    diagnose: DiagnoseSettings = Field(default_factory=DiagnoseSettings)

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
@functools.cache
def _strict_loader() -> Any:
    """Safe YAML that refuses duplicate keys: PyYAML would silently keep the last one.

    Built on first use: PyYAML costs 30-100 ms to import and ``--bootstrap`` runs (``kafkaops
    lag`` in scripts) never read a file.
    """
    import yaml

    class _StrictLoader(yaml.SafeLoader):
        pass

    _StrictLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
        _construct_mapping,  # type: ignore[arg-type]
    )
    return _StrictLoader


def _construct_mapping(loader: Any, node: Any) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # "<<: *anchor" merges legitimately repeat keys
        key = loader.construct_object(key_node)
        if isinstance(key, typing.Hashable) and key in seen:
            line = key_node.start_mark.line + 1
            raise ConfigError(f"line {line}: key {key!r} appears twice (the last would win)")
        seen.add(key)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node))


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError.at(path, None, "file not found") from None
    except UnicodeDecodeError:
        raise ConfigError.at(path, None, "not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError.at(path, None, f"cannot read: {exc.strerror}") from None
    import yaml

    try:
        return yaml.load(text, Loader=_strict_loader())  # a SafeLoader subclass: no tags
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
        kind == SECRET_ERROR
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
