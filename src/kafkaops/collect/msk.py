"""Amazon MSK control-plane facts: ``describe_cluster_v2`` and ``list_nodes``.

The runbook's daily check asks MSK for the cluster state (``describe-cluster``) and the broker
list (``list-nodes``: node ARN, broker id, client subnet).  These are *pure parsers* over the
dicts boto3 returns plus two thin calls, so the parsing is tested without AWS: moto's server
implements ``create_cluster_v2``/``describe_cluster_v2`` but not ``list_nodes``, whose parser is
tested against a response shaped like the AWS API reference's ``ListNodesResponse``.

boto3 hands back PascalCase keys (``ClusterInfo``, ``BrokerNodeInfo``); the REST wire format is
camelCase, botocore translates.  Every field is optional in the API model, so every lookup here
tolerates a missing key: a Serverless cluster has no brokers, instance type or Kafka version,
and a cluster still ``CREATING`` has no open-monitoring section yet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: MSK broker and bootstrap host names end in ``.kafka.<region>.amazonaws.com`` (Provisioned)
#: or ``.kafka-serverless.<region>.amazonaws.com`` (Serverless).
_MSK_HOST = re.compile(r"\.kafka(?:-serverless)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com\.?$")


@dataclass(frozen=True, slots=True)
class MskCluster:
    """What MSK itself says about a cluster (as opposed to what Kafka says)."""

    name: str
    arn: str
    #: "PROVISIONED" or "SERVERLESS".
    cluster_type: str
    #: ACTIVE, CREATING, DELETING, FAILED, HEALING, MAINTENANCE, REBOOTING_BROKER, UPDATING.
    state: str
    #: Why the cluster is in that state (MSK fills it for FAILED and some UPDATING states).
    state_message: str | None = None
    current_version: str | None = None
    #: Provisioned only; Serverless hides brokers, instance types and Kafka versions.
    kafka_version: str | None = None
    broker_count: int | None = None
    instance_type: str | None = None
    #: CloudWatch level: DEFAULT, PER_BROKER, PER_TOPIC_PER_BROKER or PER_TOPIC_PER_PARTITION.
    #: Below PER_BROKER there is no RequestHandlerAvgIdlePercent or replication traffic.
    enhanced_monitoring: str | None = None
    #: Open Monitoring: Prometheus JMX exporter on port 11001 of every broker.
    jmx_exporter_enabled: bool = False
    #: Open Monitoring: Prometheus node exporter on port 11002 of every broker.
    node_exporter_enabled: bool = False
    #: LOCAL or TIERED.
    storage_mode: str | None = None
    #: EBS volume size per broker, GiB.
    ebs_volume_gib: int | None = None
    client_subnets: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.state == "ACTIVE"

    @property
    def serverless(self) -> bool:
        return self.cluster_type == "SERVERLESS"


@dataclass(frozen=True, slots=True)
class MskBroker:
    """One broker as ``list_nodes`` describes it (the runbook's daily "Broker Status")."""

    broker_id: int
    node_arn: str | None = None
    instance_type: str | None = None
    #: Broker host names (no port): what Kafka metadata advertises for this broker.
    endpoints: tuple[str, ...] = ()
    #: The elastic network interface MSK attached in the client VPC.
    attached_eni: str | None = None
    client_subnet: str | None = None
    client_vpc_ip: str | None = None
    kafka_version: str | None = None
    added_to_cluster_time: str | None = None


# --- parsers ------------------------------------------------------------------------------------


def parse_cluster(response: Mapping[str, Any]) -> MskCluster:
    """``describe_cluster_v2`` response (Provisioned or Serverless) → :class:`MskCluster`."""
    info = _map(response.get("ClusterInfo"))
    provisioned = _map(info.get("Provisioned"))
    state_info = _map(info.get("StateInfo"))
    common: dict[str, Any] = {
        "name": str(info.get("ClusterName", "")),
        "arn": str(info.get("ClusterArn", "")),
        "cluster_type": str(info.get("ClusterType") or ("PROVISIONED" if provisioned else "")),
        "state": str(info.get("State", "UNKNOWN")),
        "state_message": _opt_str(state_info.get("Message")),
        "current_version": _opt_str(info.get("CurrentVersion")),
    }
    if not provisioned:
        serverless = _map(info.get("Serverless"))
        subnets = [s for vpc in _list(serverless.get("VpcConfigs")) for s in _subnets(vpc)]
        return MskCluster(**common, client_subnets=tuple(subnets))
    return MskCluster(**common, **_provisioned_fields(provisioned))


def _provisioned_fields(provisioned: Mapping[str, Any]) -> dict[str, Any]:
    group = _map(provisioned.get("BrokerNodeGroupInfo"))
    ebs = _map(_map(group.get("StorageInfo")).get("EbsStorageInfo"))
    prometheus = _map(_map(provisioned.get("OpenMonitoring")).get("Prometheus"))
    return {
        "kafka_version": _opt_str(
            _map(provisioned.get("CurrentBrokerSoftwareInfo")).get("KafkaVersion")
        ),
        "broker_count": _opt_int(provisioned.get("NumberOfBrokerNodes")),
        "instance_type": _opt_str(group.get("InstanceType")),
        "enhanced_monitoring": _opt_str(provisioned.get("EnhancedMonitoring")),
        "jmx_exporter_enabled": _enabled(prometheus.get("JmxExporter")),
        "node_exporter_enabled": _enabled(prometheus.get("NodeExporter")),
        "storage_mode": _opt_str(provisioned.get("StorageMode")),
        "ebs_volume_gib": _opt_int(ebs.get("VolumeSize")),
        "client_subnets": tuple(str(s) for s in _list(group.get("ClientSubnets"))),
    }


def parse_nodes(pages: Iterable[Mapping[str, Any]]) -> list[MskBroker]:
    """``list_nodes`` response pages → brokers sorted by id.

    Nodes without ``BrokerNodeInfo`` (ZooKeeper or KRaft controller nodes, which MSK may list
    on some versions) are skipped: they carry no broker id and no Kafka traffic.
    """
    brokers = [
        broker
        for page in pages
        for node in _list(page.get("NodeInfoList"))
        if (broker := _parse_node(_map(node))) is not None
    ]
    return sorted(brokers, key=lambda b: b.broker_id)


def _parse_node(node: Mapping[str, Any]) -> MskBroker | None:
    info = _map(node.get("BrokerNodeInfo"))
    broker_id = _opt_int(info.get("BrokerId"))  # a JSON number ("double" in the API model)
    if broker_id is None:
        return None
    software = _map(info.get("CurrentBrokerSoftwareInfo"))
    return MskBroker(
        broker_id=broker_id,
        node_arn=_opt_str(node.get("NodeARN")),
        instance_type=_opt_str(node.get("InstanceType")),
        endpoints=tuple(str(e) for e in _list(info.get("Endpoints"))),
        attached_eni=_opt_str(info.get("AttachedENIId")),
        client_subnet=_opt_str(info.get("ClientSubnet")),
        client_vpc_ip=_opt_str(info.get("ClientVpcIpAddress")),
        kafka_version=_opt_str(software.get("KafkaVersion")),
        added_to_cluster_time=_opt_str(node.get("AddedToClusterTime")),
    )


def region_from_host(host: str) -> str | None:
    """``b-1.c.x.c2.kafka.eu-west-1.amazonaws.com`` → ``eu-west-1``; None if not an MSK host.

    Lets a CloudWatch source default its region to the cluster's own without more config.
    """
    match = _MSK_HOST.search(host.strip().lower())
    return match.group(1) if match else None


# --- thin calls ---------------------------------------------------------------------------------


def describe_cluster(client: Any, arn: str) -> MskCluster:
    """One ``describe_cluster_v2`` call (boto3 ``kafka`` client); boto3 errors propagate."""
    return parse_cluster(client.describe_cluster_v2(ClusterArn=arn))


def list_brokers(client: Any, arn: str) -> list[MskBroker]:
    """Every broker of the cluster via ``list_nodes``, following ``NextToken``."""
    paginator = client.get_paginator("list_nodes")
    return parse_nodes(paginator.paginate(ClusterArn=arn))


# --- tolerant lookups ---------------------------------------------------------------------------


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _opt_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _enabled(exporter: Any) -> bool:
    return bool(_map(exporter).get("EnabledInBroker", False))


def _subnets(vpc_config: Any) -> list[str]:
    return [str(s) for s in _list(_map(vpc_config).get("SubnetIds"))]
