"""Amazon MSK platform limits the recommendations stay within.

Partitions per Standard broker (leader and follower replicas), from the MSK developer guide's
"Best practices for Standard brokers" — *recommended*, and the *maximum* above which MSK blocks
configuration updates, broker-size changes and SASL/SCRAM secret association.  Storage: a
broker's EBS volume only grows, up to 16 TiB (16,384 GiB), and MSK needs a cool-down of at least
six hours between two storage updates (its own auto-scaling also steps by at least
max(10 GiB, 10 %) and never shrinks).
"""

from __future__ import annotations

from dataclasses import dataclass

MSK_MAX_VOLUME_GIB = 16_384
#: ``KafkaBrokerNodeId`` of an ``UpdateBrokerStorage`` request: MSK only updates every broker
#: at once.  AWS spells it two ways: the API reference (and the botocore model's documentation
#: of ``BrokerEBSVolumeInfo``) says "the keyword ALL", while the MSK Developer Guide's CLI
#: example ("Manual scaling for Standard brokers") sends ``"All"``, as do community.aws's
#: ``msk_cluster`` module and AWS's own agent toolkit.  The model types it as a plain string
#: (no enum), so the SDK accepts both; kafkaops sends the Developer Guide's ``"All"``.  (The
#: runbook's script writes neither: ``VolumeSize=$new_size_gb``, without the broker id.)
MSK_ALL_BROKERS = "All"
MSK_STORAGE_COOLDOWN_HOURS = 6.0


@dataclass(frozen=True, slots=True)
class PartitionLimit:
    recommended: int
    maximum: int


_LIMITS: dict[str, PartitionLimit] = {
    "kafka.t3.small": PartitionLimit(300, 300),
}
for _family in ("m5", "m7g"):
    for _size in ("large", "xlarge"):
        _LIMITS[f"kafka.{_family}.{_size}"] = PartitionLimit(1000, 1500)
    _LIMITS[f"kafka.{_family}.2xlarge"] = PartitionLimit(2000, 3000)
    for _size in ("4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"):
        _LIMITS[f"kafka.{_family}.{_size}"] = PartitionLimit(4000, 6000)


def partition_limit(instance_type: str | None) -> PartitionLimit | None:
    """The limits for an MSK instance type (``kafka.m5.large``); None when unknown."""
    if not instance_type:
        return None
    name = instance_type if instance_type.startswith("kafka.") else f"kafka.{instance_type}"
    return _LIMITS.get(name)
