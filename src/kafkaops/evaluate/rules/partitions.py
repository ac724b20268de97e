"""How partitions are named in evidence, shared by the availability and replication rules.

``orders-2 replicas [1,2,3] isr [1,3]``: the same wording wherever a partition is listed, user
topics before internal ones.
"""

from __future__ import annotations

from collections.abc import Iterable

from kafkaops.core.model import PartitionState


def id_list(ids: Iterable[int]) -> str:
    return "[" + ",".join(str(i) for i in ids) + "]"


def describe(p: PartitionState) -> str:
    """``orders-2 replicas [1,2,3] isr [1,3]``, plus what makes an offline partition offline."""
    text = f"{p.name} replicas {id_list(p.replicas)} isr {id_list(p.isr)}"
    if p.offline:
        text += " no leader"
    if p.offline_replicas:
        text += f" offline replicas {id_list(p.offline_replicas)}"
    return text


def user_first(partitions: Iterable[PartitionState]) -> list[PartitionState]:
    """User topics before internal ones: they are what the on-call engineer recognises."""
    return sorted(partitions, key=lambda p: (p.topic.startswith("__"), p.topic, p.partition))
