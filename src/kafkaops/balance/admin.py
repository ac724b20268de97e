"""The admin calls balance needs, over the project's kafka-python adapter.

Reassignments, preferred-leader elections, throttle configs (incremental AlterConfigs: only
the keys named change, nothing else on the broker or topic is reset) and replica sizes.
Every request has the adapter's timeout; errors come back as :class:`BalanceError`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.admin._configs import AlterConfigOp
from kafka.errors import KafkaError

from kafkaops.collect.snapshot import CollectOptions, KafkaAdmin
from kafkaops.core.errors import KafkaopsError

RATE_KEYS = ("leader.replication.throttled.rate", "follower.replication.throttled.rate")
REPLICA_KEYS = ("leader.replication.throttled.replicas", "follower.replication.throttled.replicas")

Key = tuple[str, int]


class BalanceError(KafkaopsError):
    """A cluster call of balance failed (the message says which and why)."""


@dataclass
class Throttles:
    """Throttle configs found on the cluster: broker id and topic name → the throttle keys
    set on it."""

    brokers: dict[str, dict[str, str]] = field(default_factory=dict)
    topics: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.brokers and not self.topics

    def to_dict(self) -> dict[str, Any]:
        return {"brokers": self.brokers, "topics": self.topics}


class BalanceAdmin:
    def __init__(self, client_kwargs: Mapping[str, Any], request_timeout_ms: int = 15_000):
        self._kafka = KafkaAdmin(
            client_kwargs,
            CollectOptions(request_timeout_ms=request_timeout_ms, client_id="kafkaops-balance"),
        )
        self.admin = self._kafka._admin

    def close(self) -> None:
        self._kafka.close()

    def __enter__(self) -> BalanceAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KafkaError as exc:
            raise BalanceError(f"{what} failed: {type(exc).__name__}: {exc}") from exc

    # ------------------------------------------------------------------ reads
    def broker_ids(self) -> list[int]:
        info = self._call("DescribeCluster", self._kafka.describe_cluster)
        return sorted(b["broker_id"] for b in info.get("brokers", []))

    def reassignments(self) -> dict[Key, dict[str, list[int]]]:
        """Reassignments running now: replicas, adding_replicas, removing_replicas."""
        raw = self._call("ListPartitionReassignments", self.admin.list_partition_reassignments)
        return {(tp.topic, tp.partition): v for tp, v in raw.items()}

    def replica_sizes(self, brokers: Iterable[int]) -> dict[tuple[str, int, int], int]:
        """Bytes of each replica on the given brokers, keyed (topic, partition, broker)."""
        out: dict[tuple[str, int, int], int] = {}
        for b in sorted(set(brokers)):
            # topics=None: every partition, without the metadata round trip kafka-python's
            # describe_log_dirs() makes to list them.
            raw = self._call(
                f"DescribeLogDirs on broker {b}",
                self.admin._manager.run,
                self.admin._async_describe_log_dirs,
                None,
                [b],
            )
            for entry in raw if isinstance(raw, list) else [raw]:
                for d in entry.get("log_dirs", []) if isinstance(entry, dict) else []:
                    for t in d.get("topics", []):
                        for p in t.get("partitions", []):
                            key = (t["name"], p["partition_index"], b)
                            out[key] = max(out.get(key, 0), int(p.get("partition_size", 0)))
        return out

    def find_throttles(self, topics: Iterable[str]) -> Throttles:
        """Throttle configs left on any broker, the cluster default, or any of ``topics``."""
        found = Throttles()
        resources = [
            ConfigResource(ConfigResourceType.BROKER, str(b), dict.fromkeys(RATE_KEYS))
            for b in self.broker_ids()
        ]
        raw = self._call("DescribeConfigs (brokers)", self.admin.describe_configs, resources)
        for name, configs in raw.get("broker", {}).items():
            values = {k: v["value"] for k, v in configs.items() if k in RATE_KEYS}
            if values:
                found.brokers[name] = values
        # The cluster-wide default (broker resource "") is not read: kafka-python 3.0.12
        # accepts only numeric broker names.  kafkaops never sets it.
        names = sorted(set(topics))
        for i in range(0, len(names), 500):
            resources = [
                ConfigResource(ConfigResourceType.TOPIC, t, dict.fromkeys(REPLICA_KEYS))
                for t in names[i : i + 500]
            ]
            raw = self._call("DescribeConfigs (topics)", self.admin.describe_configs, resources)
            for name, configs in raw.get("topic", {}).items():
                values = {k: v["value"] for k, v in configs.items() if k in REPLICA_KEYS}
                if values:
                    found.topics[name] = values
        return found

    # ----------------------------------------------------------------- writes
    def _alter(self, what: str, resources: list[ConfigResource]) -> None:
        if not resources:
            return
        result = self._call(
            what, self.admin.alter_configs, resources, raise_on_unknown=False, incremental=True
        )
        failed = [
            f"{kind} {name}: {status}"
            for kind, by_name in result.items()
            for name, status in by_name.items()
            if status != "OK"
        ]
        if failed:
            raise BalanceError(f"{what} failed: {'; '.join(failed)}")

    def set_throttle(
        self, rate: int, moves: Iterable[tuple[Key, tuple[int, ...], tuple[int, ...]]]
    ) -> tuple[list[int], list[str]]:
        """Throttle the moves (key, replicas before, after) the way Kafka's own tool does:
        the rate on every broker involved, leader throttle on the current replicas, follower
        throttle on the new ones.  Returns the brokers and topics it configured."""
        leaders: dict[str, set[str]] = defaultdict(set)
        followers: dict[str, set[str]] = defaultdict(set)
        brokers: set[int] = set()
        for (topic, part), before, after in moves:
            brokers |= set(before) | set(after)
            leaders[topic] |= {f"{part}:{b}" for b in before}
            followers[topic] |= {f"{part}:{b}" for b in after if b not in before}
        topics = sorted(set(leaders) | set(followers))

        def by_part(items: set[str]) -> str:
            return ",".join(sorted(items, key=lambda s: tuple(int(x) for x in s.split(":"))))

        self._alter(
            "setting the throttle rate",
            [
                ConfigResource(
                    ConfigResourceType.BROKER, str(b), dict.fromkeys(RATE_KEYS, str(rate))
                )
                for b in sorted(brokers)
            ],
        )
        topic_resources = []
        for t in topics:
            configs = {}
            if leaders[t]:
                configs[REPLICA_KEYS[0]] = by_part(leaders[t])
            if followers[t]:
                configs[REPLICA_KEYS[1]] = by_part(followers[t])
            topic_resources.append(ConfigResource(ConfigResourceType.TOPIC, t, configs))
        self._alter("setting the throttled replicas", topic_resources)
        return sorted(brokers), topics

    def clear_throttle(self, brokers: Iterable[int | str], topics: Iterable[str]) -> None:
        delete = (AlterConfigOp.DELETE, None)
        self._alter(
            "removing the throttle rate",
            [
                ConfigResource(ConfigResourceType.BROKER, str(b), dict.fromkeys(RATE_KEYS, delete))
                for b in sorted({str(b) for b in brokers})
            ],
        )
        self._alter(
            "removing the throttled replicas",
            [
                ConfigResource(ConfigResourceType.TOPIC, t, dict.fromkeys(REPLICA_KEYS, delete))
                for t in sorted(set(topics))
            ],
        )

    def reassign(self, targets: Mapping[Key, tuple[int, ...] | None]) -> dict[Key, str]:
        """AlterPartitionReassignments (None cancels); returns partition → error text."""
        raw = self._call(
            "AlterPartitionReassignments",
            self.admin.alter_partition_reassignments,
            {
                TopicPartition(t, p): (list(r) if r is not None else None)
                for (t, p), r in targets.items()
            },
        )
        return {
            (tp.topic, tp.partition): err.__name__ for tp, err in raw.items() if err is not None
        }

    def elect_preferred(self, keys: Iterable[Key]) -> None:
        by_topic: dict[str, list[int]] = defaultdict(list)
        for t, p in keys:
            by_topic[t].append(p)
        if by_topic:
            self._call(
                "ElectLeaders (preferred)",
                self.admin.elect_leaders,
                0,
                {t: sorted(ps) for t, ps in by_topic.items()},
                raise_errors=False,
            )
