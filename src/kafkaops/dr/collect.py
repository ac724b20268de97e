"""Collect :class:`DrFacts` from a primary and a replica over the Kafka protocol.

Reads, on each side: topics with partition counts, the key configs and log start/end offsets;
consumer groups with their state, member count and committed offsets.  Then MM2's own
records: offset syncs (on the primary by default), checkpoints and heartbeats (on the
replica), decoded in Python (``codec``).  Last, the timestamps of the primary records that the
lag and replay figures need (the first unreplicated record of each lagging partition; the
first and last record a failover would replay for each group).

Every call has a timeout; a side that cannot be reached is recorded as unreachable with the
reason, never raised, so ``verify`` can still say what it knows.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, OffsetSpec

from kafkaops.collect.admin import CollectOptions, Errors
from kafkaops.collect.record_time import read_first_timestamps
from kafkaops.collect.topic_reader import read_topic
from kafkaops.dr import codec, verify
from kafkaops.dr.facts import KEY_CONFIGS, ClusterFacts, DrFacts, GroupFacts, TopicFacts
from kafkaops.dr.policy import ReplicationPolicy, is_mm2_topic


def _admin_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k in KafkaAdminClient.DEFAULT_CONFIG}


def _consumer_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    base = {k: v for k, v in kwargs.items() if k in KafkaConsumer.DEFAULT_CONFIG}
    base.update(group_id=None, enable_auto_commit=False, client_id="kafkaops-dr")
    return base


def collect_cluster(
    name: str, client_kwargs: Mapping[str, Any], *, user_topics_only: str | None = None
) -> ClusterFacts:
    """Topics, offsets, configs and groups of one cluster; unreachable → a reason, not a raise.

    ``user_topics_only``: a source alias; MM2's own topics on a replica are then skipped.
    """
    bootstrap = ",".join(client_kwargs.get("bootstrap_servers", []))
    try:
        admin = KafkaAdminClient(**_admin_kwargs(client_kwargs))
    except Exception as exc:  # kafka-python raises NoBrokersAvailable, OSError, …
        return ClusterFacts(name, bootstrap, False, f"{type(exc).__name__}: {exc}")
    try:
        names = [t for t in admin.list_topics() if not t.startswith("__")]
        if user_topics_only is not None:
            names = [t for t in names if not is_mm2_topic(t, user_topics_only)]
        topics: dict[str, TopicFacts] = {}
        described = admin.describe_topics(names) if names else []
        parts: dict[str, list[int]] = {
            d["name"]: sorted(p["partition_index"] for p in d["partitions"]) for d in described
        }
        configs: dict[str, dict[str, str]] = {}
        if names:
            raw = admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, t) for t in names], config_filter="all"
            )
            for topic, values in raw.get("topic", {}).items():
                configs[topic] = {
                    k: str(v.get("value")) for k, v in values.items() if k in KEY_CONFIGS
                }
        tps = [TopicPartition(t, p) for t, ps in parts.items() for p in ps]
        start: dict[TopicPartition, int] = {}
        end: dict[TopicPartition, int] = {}
        if tps:
            start = {
                tp: o.offset
                for tp, o in admin.list_partition_offsets(
                    dict.fromkeys(tps, OffsetSpec.EARLIEST)
                ).items()
            }
            end = {
                tp: o.offset
                for tp, o in admin.list_partition_offsets(
                    dict.fromkeys(tps, OffsetSpec.LATEST)
                ).items()
            }
        for t, ps in parts.items():
            topics[t] = TopicFacts(
                t,
                len(ps),
                configs.get(t, {}),
                {p: start.get(TopicPartition(t, p), 0) for p in ps},
                {p: end.get(TopicPartition(t, p), 0) for p in ps},
            )
        groups: dict[str, GroupFacts] = {}
        listed = [g for g in admin.list_groups() if g.get("protocol_type") != "connect"]
        ids = [g["group_id"] for g in listed]
        if ids:
            desc = admin.describe_groups(ids)
            offsets = admin.list_group_offsets(dict.fromkeys(ids))
            for gid in ids:
                d = desc.get(gid, {})
                committed = {
                    (tp.topic, tp.partition): om.offset
                    for tp, om in offsets.get(gid, {}).items()
                    if om.offset >= 0
                }
                groups[gid] = GroupFacts(
                    gid, str(d.get("group_state", "")), len(d.get("members", [])), committed
                )
        return ClusterFacts(name, bootstrap, True, None, topics, groups)
    except Exception as exc:
        return ClusterFacts(name, bootstrap, False, f"{type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(Exception):
            admin.close()


def _safe(fn: Callable[[], Any]) -> tuple[Any, str | None]:
    try:
        return fn(), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]


def collect_facts(
    primary_name: str,
    primary_kwargs: Mapping[str, Any],
    replica_name: str,
    replica_kwargs: Mapping[str, Any],
    policy: ReplicationPolicy,
    target_alias: str,
    *,
    offset_syncs_on: str = "source",
    replicator: dict[str, object] | None = None,
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
) -> DrFacts:
    primary = collect_cluster(primary_name, primary_kwargs)
    replica = collect_cluster(replica_name, replica_kwargs, user_topics_only=policy.source_alias)

    syncs_kwargs = primary_kwargs if offset_syncs_on == "source" else replica_kwargs
    syncs_side = primary if offset_syncs_on == "source" else replica
    offset_syncs: dict[tuple[str, int], list[codec.OffsetSync]] = {}
    syncs_error = None
    if syncs_side.reachable:
        records, syncs_error = _safe(
            lambda: read_topic(syncs_kwargs, policy.offset_syncs_topic(target_alias))
        )
        for r in records or []:
            with contextlib.suppress(codec.DecodeError):
                s = codec.decode_offset_sync(r.key, r.value, r.timestamp)
                offset_syncs.setdefault((s.topic, s.partition), []).append(s)
    else:
        syncs_error = f"{syncs_side.name} unreachable: {syncs_side.error}"

    checkpoints: dict[tuple[str, str, int], codec.Checkpoint] = {}
    heartbeats: dict[tuple[str, str], codec.Heartbeat] = {}
    cp_error = hb_error = None
    if replica.reachable:
        records, cp_error = _safe(lambda: read_topic(replica_kwargs, policy.checkpoints_topic()))
        for r in records or []:
            with contextlib.suppress(codec.DecodeError):
                c = codec.decode_checkpoint(r.key, r.value, r.timestamp)
                checkpoints[(c.group, c.topic, c.partition)] = c
        hb_topics = ["heartbeats", f"{policy.source_alias}.heartbeats"]
        for topic in hb_topics:
            records, error = _safe(
                functools.partial(read_topic, replica_kwargs, topic, tail=50, timeout_s=5)
            )
            hb_error = hb_error or error
            for r in records or []:
                with contextlib.suppress(codec.DecodeError):
                    h = codec.decode_heartbeat(r.key, r.value)
                    old = heartbeats.get((h.source, h.target))
                    if old is None or h.timestamp_ms > old.timestamp_ms:
                        heartbeats[(h.source, h.target)] = h
    else:
        cp_error = hb_error = f"{replica.name} unreachable: {replica.error}"

    facts = DrFacts(
        collected_at_ms=now_ms(),
        policy=policy,
        target_alias=target_alias,
        primary=primary,
        replica=replica,
        offset_syncs=offset_syncs,
        offset_syncs_error=syncs_error,
        checkpoints=checkpoints,
        checkpoints_error=cp_error,
        heartbeats=heartbeats,
        heartbeats_error=hb_error,
        replicator=dict(replicator or {}),
    )
    positions = verify.wanted_timestamps(facts)
    if positions and primary.reachable:
        errors = Errors()
        found, _rounds = read_first_timestamps(
            positions, primary_kwargs, CollectOptions(client_id="kafkaops-dr"), errors
        )
        facts.primary_timestamps.update(found)
    return facts
