"""Configuration changes on any Kafka cluster (self-managed or MSK) via IncrementalAlterConfigs.

The plan is a diff (current value → new value) read with DescribeConfigs; the dry-run sends the
same request with ``validate_only`` so the *broker* validates it (unknown key, bad value, a
static broker config that cannot change at run time) without changing anything.
IncrementalAlterConfigs, not AlterConfigs: the old API resets every key it is not given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafka.admin import ConfigResource, ConfigResourceType
from kafka.admin._configs import AlterConfigOp
from kafka.errors import KafkaError

from kafkaops.collect.snapshot import CollectOptions, KafkaAdmin
from kafkaops.core.errors import KafkaopsError

#: Shown instead of the value of any key that looks secret.
_SECRET_WORDS = ("password", "secret", "sasl.jaas", "token", "key")


class ConfigChangeError(KafkaopsError):
    """The broker refused the change (or could not be asked); one line."""


@dataclass(frozen=True)
class ConfigDiff:
    key: str
    current: str | None
    new: str | None  # None: delete (back to the default)

    @property
    def changes(self) -> bool:
        return self.current != self.new

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "current": _show(self.key, self.current),
                "new": _show(self.key, self.new), "changes": self.changes}  # fmt: skip


def _show(key: str, value: str | None) -> str | None:
    if value is not None and any(w in key.lower() for w in _SECRET_WORDS):
        return "<redacted>"
    return value


def _resource(kind: str, name: str, configs: dict[str, Any] | None) -> ConfigResource:
    rtype = ConfigResourceType.TOPIC if kind == "topic" else ConfigResourceType.BROKER
    return ConfigResource(rtype, name, configs)


def plan_configs(
    client_kwargs: Mapping[str, Any], kind: str, name: str, changes: Mapping[str, str | None]
) -> list[ConfigDiff]:
    """Current values of the keys to change (DescribeConfigs), as a diff."""
    admin = KafkaAdmin(client_kwargs, CollectOptions(client_id="kafkaops-configs"))
    try:
        raw = admin._admin.describe_configs(
            [_resource(kind, name, dict.fromkeys(changes))], config_filter="all"
        )
    except KafkaError as exc:
        raise ConfigChangeError(
            f"DescribeConfigs {kind} {name}: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        admin.close()
    current = raw.get(kind, {}).get(name, {})
    return [
        ConfigDiff(k, (current.get(k) or {}).get("value"), v) for k, v in sorted(changes.items())
    ]


def alter_configs(
    client_kwargs: Mapping[str, Any],
    kind: str,
    name: str,
    changes: Mapping[str, str | None],
    *,
    validate_only: bool,
) -> None:
    """IncrementalAlterConfigs (SET, or DELETE for None); ``validate_only`` for the dry-run."""
    ops = {
        k: (AlterConfigOp.DELETE, None) if v is None else (AlterConfigOp.SET, v)
        for k, v in changes.items()
    }
    admin = KafkaAdmin(client_kwargs, CollectOptions(client_id="kafkaops-configs"))
    try:
        result = admin._admin.alter_configs(
            [_resource(kind, name, ops)],
            validate_only=validate_only,
            raise_on_unknown=False,
            incremental=True,
        )
    except (KafkaError, ValueError) as exc:
        raise ConfigChangeError(
            f"AlterConfigs {kind} {name}: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        admin.close()
    failed = [f"{n}: {s}" for by in result.values() for n, s in by.items() if s != "OK"]
    if failed:
        raise ConfigChangeError(f"the broker refused the change: {'; '.join(failed)}")
