"""Replication policies: how a primary topic is named on the replica, and which topics MM2
leaves alone.

The runbook's check compares topic lists by name, which under MM2's default policy reports
every topic missing (``orders`` is ``primary.orders`` on the replica).  These mirror
``DefaultReplicationPolicy`` (``<alias><separator><topic>``, separator ``.``) and
``IdentityReplicationPolicy`` (names kept: MSK Replicator's "identical topic names").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PolicyName = Literal["default", "identity"]

#: MM2's default ``topics.exclude`` (``DefaultTopicFilter``) plus its own internal topics:
#: these are never replicated, so they are never "missing".
_EXCLUDED = (
    re.compile(r".*[\-.]internal"),
    re.compile(r".*\.replica"),
    re.compile(r"__.*"),
    re.compile(r"mm2-.*"),
    re.compile(r"connect-.*"),
)


@dataclass(frozen=True, slots=True)
class ReplicationPolicy:
    name: PolicyName
    source_alias: str
    separator: str = "."

    def remote_topic(self, topic: str) -> str:
        """The replica's name for primary topic ``topic``."""
        if self.name == "identity":
            return topic
        return f"{self.source_alias}{self.separator}{topic}"

    def upstream_topic(self, remote: str) -> str | None:
        """The primary topic a replica topic came from, or None when it is not a remote topic
        of this source (identity: every name could be, so the name itself)."""
        if self.name == "identity":
            return remote
        prefix = f"{self.source_alias}{self.separator}"
        return remote[len(prefix) :] if remote.startswith(prefix) else None

    def is_cycle(self, topic: str, target_alias: str) -> bool:
        """Did ``topic`` come from ``target_alias``?  MM2 then never replicates it back there
        (``MirrorSourceConnector`` cycle detection): after a failover, the replica's
        ``primary.orders`` is the primary's own ``orders`` when the flow is reversed for the
        failback.  Identity names carry no source, so MM2 (and this) cannot tell."""
        if self.name == "identity":
            return False
        rest = topic
        while self.separator in rest:
            source, rest = rest.split(self.separator, 1)
            if source == target_alias:
                return True
        return False

    def checkpoints_topic(self) -> str:
        return f"{self.source_alias}.checkpoints.internal"

    def offset_syncs_topic(self, target_alias: str) -> str:
        return f"mm2-offset-syncs.{target_alias}.internal"


def replicable(topic: str) -> bool:
    """Would MM2 (with its default filters) replicate this primary topic?"""
    return topic != "heartbeats" and not any(p.fullmatch(topic) for p in _EXCLUDED)


def is_mm2_topic(topic: str, source_alias: str) -> bool:
    """Topics MM2 writes on the replica for its own use (not user data)."""
    return (
        topic == "heartbeats"
        or topic.endswith(".heartbeats")
        or topic == f"{source_alias}.checkpoints.internal"
        or not replicable(topic)
    )
