"""Moved to :mod:`kafkaops.core.msk_limits` (the audit in ``diagnose/`` needs the limits too);
re-exported here so code written against the old path keeps working."""

from kafkaops.core.msk_limits import (
    MSK_ALL_BROKERS,
    MSK_MAX_VOLUME_GIB,
    MSK_STORAGE_COOLDOWN_HOURS,
    PartitionLimit,
    partition_limit,
)

__all__ = [
    "MSK_ALL_BROKERS",
    "MSK_MAX_VOLUME_GIB",
    "MSK_STORAGE_COOLDOWN_HOURS",
    "PartitionLimit",
    "partition_limit",
]
