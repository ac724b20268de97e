"""``kafkaops topics optimize``: the runbook's topic optimizer, done right.

The runbook's ``optimize_topic`` sets ``segment.ms=retention.ms=7d`` and ``compression.type=gzip``
on every topic and picks partitions as ``msgs/s / 1000 + 1``, whatever the topic carries.  What
is wrong with it, and what this module does instead:

* ``retention.ms`` is a business decision (how long consumers may be down, legal holds): it is
  never changed here.
* ``segment.ms = retention.ms`` keeps data up to twice the retention: Kafka deletes closed
  segments only.  The segment should roll at most every retention/10 (≤ 10 % overshoot); when
  the *measured* traffic fills ``segment.bytes`` sooner, segments already roll often enough and
  ``segment.ms`` is left alone.
* ``compression.type=gzip`` on the topic makes the broker recompress every batch with the
  slowest codec.  Compression belongs in the producer (lz4/zstd); the topic should keep what
  producers send (``producer``).  Only ``uncompressed`` — which makes the broker *decompress*
  compressed batches and store them raw — is changed.
* Partitions from measured bytes/s per partition, rounded up to a multiple of the broker count;
  advice only (adding partitions moves keys: ordering per key breaks), never applied here.
* Durability settings that do not depend on traffic: ``min.insync.replicas`` = 2 with RF 3,
  unclean leader election off.

Only topic configs are changed, and only through IncrementalAlterConfigs (by the caller).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from kafkaops.core.units import format_bytes, format_duration_ms
from kafkaops.diagnose.settings import OptimizerSettings
from kafkaops.diagnose.traffic import TopicTraffic

MIN_SEGMENT_MS = 10 * 60_000
MAX_SEGMENT_MS = 7 * 86_400_000
MIN_SEGMENT_BYTES = 16 * 1024 * 1024
DEFAULT_SEGMENT_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True)
class Recommendation:
    key: str
    current: str | None
    recommended: str
    why: str


@dataclass(frozen=True)
class OptimizePlan:
    topic: str
    traffic: TopicTraffic
    changes: list[Recommendation]
    #: What the optimizer will not change itself (partitions, producer settings), with commands.
    advice: list[str] = field(default_factory=list)

    @property
    def settings(self) -> dict[str, str]:
        return {r.key: r.recommended for r in self.changes}

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "traffic": self.traffic.to_dict(),
            "changes": [asdict(r) for r in self.changes],
            "advice": list(self.advice),
        }


def _int(configs: Mapping[str, str | None], key: str, default: int) -> int:
    try:
        value = configs.get(key)
        return default if value is None else int(value)
    except ValueError:
        return default


def recommend(
    traffic: TopicTraffic,
    configs: Mapping[str, str | None],
    brokers: int,
    settings: OptimizerSettings,
    bootstrap: str,
) -> OptimizePlan:
    """The changes (current → recommended, with why) and the advice for one topic.

    ``configs`` are the topic's effective values (overrides and inherited defaults alike).
    """
    changes: list[Recommendation] = []
    advice: list[str] = []
    rf = traffic.replication_factor

    def change(key: str, value: str, why: str) -> None:
        if configs.get(key) != value:
            changes.append(Recommendation(key, configs.get(key), value, why))

    # Durability: independent of traffic.
    if rf >= 3:
        if _int(configs, "min.insync.replicas", 1) != 2:
            change(
                "min.insync.replicas",
                "2",
                f"RF {rf}: acks=all survives one replica down and never acks a single copy",
            )
    else:
        advice.append(
            f"replication factor {rf} < 3: no config fixes that; raise it with "
            "kafka-reassign-partitions.sh (three replicas per partition)"
        )
        if rf == 2 and _int(configs, "min.insync.replicas", 1) >= 2:
            change(
                "min.insync.replicas",
                "1",
                "RF 2: min ISR 2 stops acks=all writes when a replica is down",
            )
    if configs.get("unclean.leader.election.enable") == "true":
        change(
            "unclean.leader.election.enable",
            "false",
            "an out-of-sync replica must not become leader (silent data loss)",
        )

    # Segments: from retention and the measured bytes per partition.
    retention = _int(configs, "retention.ms", 7 * 86_400_000)
    segment_ms = _int(configs, "segment.ms", 7 * 86_400_000)
    segment_bytes = _int(configs, "segment.bytes", DEFAULT_SEGMENT_BYTES)
    compact_only = "delete" not in (configs.get("cleanup.policy") or "delete")
    if segment_bytes < MIN_SEGMENT_BYTES:
        change(
            "segment.bytes",
            str(DEFAULT_SEGMENT_BYTES),
            f"{format_bytes(segment_bytes)} segments: many files and index memory for nothing",
        )
        segment_bytes = DEFAULT_SEGMENT_BYTES
    per_partition = (
        traffic.bytes_per_s / traffic.partitions
        if traffic.bytes_per_s is not None and traffic.partitions
        else None
    )
    fill_ms = (
        segment_bytes / per_partition * 1000 if per_partition else math.inf
    )  # time to fill a segment by size
    if retention > 0 and not compact_only:
        target = min(MAX_SEGMENT_MS, max(MIN_SEGMENT_MS, retention // 10))
        rolls_every = min(segment_ms, fill_ms)
        if rolls_every > retention / 4 and segment_ms > target:
            change(
                "segment.ms",
                str(target),
                f"segments roll every {format_duration_ms(rolls_every)} against a retention of "
                f"{format_duration_ms(retention)}: data would stay up to "
                f"{format_duration_ms(retention + rolls_every)}; retention/10 keeps the "
                "overshoot under 10 %",
            )
    if segment_ms < MIN_SEGMENT_MS:
        change(
            "segment.ms",
            str(min(MAX_SEGMENT_MS, max(MIN_SEGMENT_MS, retention // 10 if retention > 0 else 0))),
            f"segment.ms {format_duration_ms(segment_ms)}: a new segment (files, index) that often "
            "costs more than it saves",
        )

    # Compression: producers compress; the broker should store what they send.
    heavy = traffic.bytes_per_s is not None and traffic.bytes_per_s >= settings.heavy_bytes_per_s
    codec = configs.get("compression.type") or "producer"
    if codec == "uncompressed":
        change(
            "compression.type",
            "producer",
            "uncompressed makes the broker decompress every compressed batch and store it raw",
        )
    if heavy and codec in ("producer", "uncompressed"):
        advice.append(
            f"{format_bytes(traffic.bytes_per_s or 0)}/s into this topic: have its producers set "
            "compression.type=lz4 (or zstd) with linger.ms=5-20 so batches are worth compressing"
        )
    elif codec == "gzip":
        advice.append(
            "compression.type=gzip on the topic makes the broker recompress with the slowest "
            "codec: prefer compression.type=producer and lz4/zstd in the producers"
        )

    # Partitions: advice only.
    if traffic.bytes_per_s is not None and brokers > 0:
        needed = max(1, math.ceil(traffic.bytes_per_s / settings.partition_bytes_per_s))
        if needed > traffic.partitions:
            rounded = math.ceil(needed / brokers) * brokers
            advice.append(
                f"{format_bytes(traffic.bytes_per_s)}/s needs {needed} partitions at "
                f"{format_bytes(settings.partition_bytes_per_s)}/s each (has "
                f"{traffic.partitions}): kafka-topics.sh --bootstrap-server {bootstrap} --alter "
                f"--topic {traffic.topic} --partitions {rounded}  (moves keys to other "
                "partitions: per-key order breaks for records in flight)"
            )
    hot = traffic.max_partition_bytes_per_s
    if hot is not None and hot >= settings.partition_bytes_per_s and traffic.partitions > 1:
        advice.append(
            f"one partition takes {format_bytes(hot)}/s of {format_bytes(traffic.bytes_per_s or 0)}"
            "/s: skewed keys; more partitions will not help, a better key will"
        )
    return OptimizePlan(traffic.topic, traffic, changes, advice)
