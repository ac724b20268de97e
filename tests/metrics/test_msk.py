"""MSK control plane: describe_cluster_v2 through moto's server, list_nodes through a stub.

moto (5.2.5) implements ``create_cluster_v2`` / ``describe_cluster_v2`` but not ``list_nodes``.
``list_nodes`` is therefore answered by a small local HTTP server with the body shaped exactly
like the AWS API reference's ``ListNodesResponse`` (Amazon MSK API Reference, resource
``/v1/clusters/{clusterArn}/nodes``, GET, "ListNodes"; camelCase wire names ``nodeInfoList``,
``brokerNodeInfo.attachedENIId``, ``brokerId`` as a JSON number, ``nextToken`` …).  boto3's own
rest-json parser turns it into the PascalCase dicts the parser reads, so the test covers the
same path as production, pagination included.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import httpx
import pytest

from kafkaops.collect.msk import (
    MskBroker,
    describe_cluster,
    list_brokers,
    parse_cluster,
    parse_nodes,
    region_from_host,
)

REGION = "us-east-1"
ARN = (
    "arn:aws:kafka:us-east-1:0123456789019:cluster/SalesCluster/"
    "abcd1234-abcd-cafe-abab-9876543210ab-4"
)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def kafka(moto_url: str, aws_env: None) -> Any:
    httpx.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    return boto3.client("kafka", region_name=REGION, endpoint_url=moto_url)


# --- describe_cluster_v2 through moto ---------------------------------------------------------


def test_describe_provisioned_cluster(kafka: Any) -> None:
    arn = kafka.create_cluster_v2(
        ClusterName="prod-msk",
        Provisioned={
            "BrokerNodeGroupInfo": {
                "InstanceType": "kafka.m5.4xlarge",
                "ClientSubnets": ["subnet-a", "subnet-b", "subnet-c"],
                "SecurityGroups": ["sg-1"],
                "StorageInfo": {"EbsStorageInfo": {"VolumeSize": 1000}},
            },
            "KafkaVersion": "3.6.0",
            "NumberOfBrokerNodes": 3,
        },
        Tags={"team": "platform"},
    )["ClusterArn"]

    cluster = describe_cluster(kafka, arn)

    assert cluster.name == "prod-msk"
    assert cluster.arn == arn
    assert cluster.cluster_type == "PROVISIONED" and not cluster.serverless
    assert cluster.state == "CREATING" and not cluster.active
    assert cluster.kafka_version == "3.6.0"
    assert cluster.broker_count == 3
    assert cluster.instance_type == "kafka.m5.4xlarge"
    assert cluster.client_subnets == ("subnet-a", "subnet-b", "subnet-c")
    assert cluster.ebs_volume_gib == 1000
    assert cluster.enhanced_monitoring == "DEFAULT"
    assert cluster.storage_mode == "LOCAL"
    assert cluster.current_version == "1.0"
    # moto does not keep OpenMonitoring from create_cluster_v2: both exporters read as off.
    assert (cluster.jmx_exporter_enabled, cluster.node_exporter_enabled) == (False, False)


def test_describe_serverless_cluster(kafka: Any) -> None:
    arn = kafka.create_cluster_v2(
        ClusterName="events-serverless",
        Serverless={
            "VpcConfigs": [{"SubnetIds": ["subnet-x", "subnet-y"], "SecurityGroupIds": ["sg"]}],
            "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}},
        },
    )["ClusterArn"]

    cluster = describe_cluster(kafka, arn)

    assert cluster.serverless and cluster.cluster_type == "SERVERLESS"
    assert ":serverless-cluster/" in cluster.arn
    assert cluster.broker_count is None
    assert cluster.kafka_version is None
    assert cluster.instance_type is None
    assert cluster.enhanced_monitoring is None
    assert cluster.client_subnets == ("subnet-x", "subnet-y")


def test_describe_unknown_cluster_raises_a_boto_error(kafka: Any) -> None:
    """The thin call does not swallow errors: callers (CloudWatchSource) record them."""
    from botocore.exceptions import ClientError

    # Real MSK answers 404 NotFoundException; moto 5.2.5 a 500 (KeyError): both ClientError.
    with pytest.raises(ClientError):
        describe_cluster(kafka, ARN)


def test_parse_open_monitoring_and_state_info() -> None:
    """Provisioned fields moto does not keep, in the DescribeClusterV2 response shape."""
    response = {
        "ClusterInfo": {
            "ClusterArn": ARN,
            "ClusterName": "SalesCluster",
            "ClusterType": "PROVISIONED",
            "State": "ACTIVE",
            "StateInfo": {"Code": "OK", "Message": ""},
            "CurrentVersion": "K3AEGXETSR30VB",
            "Provisioned": {
                "BrokerNodeGroupInfo": {"InstanceType": "kafka.m7g.large"},
                "CurrentBrokerSoftwareInfo": {"KafkaVersion": "3.7.x.kraft"},
                "EnhancedMonitoring": "PER_TOPIC_PER_PARTITION",
                "OpenMonitoring": {
                    "Prometheus": {
                        "JmxExporter": {"EnabledInBroker": True},
                        "NodeExporter": {"EnabledInBroker": True},
                    }
                },
                "NumberOfBrokerNodes": 6,
                "StorageMode": "TIERED",
            },
        }
    }
    cluster = parse_cluster(response)
    assert cluster.active
    assert cluster.state_message is None
    assert cluster.enhanced_monitoring == "PER_TOPIC_PER_PARTITION"
    assert cluster.jmx_exporter_enabled and cluster.node_exporter_enabled
    assert (cluster.broker_count, cluster.storage_mode) == (6, "TIERED")
    assert cluster.kafka_version == "3.7.x.kraft"


def test_parse_tolerates_an_empty_response() -> None:
    cluster = parse_cluster({})
    assert (cluster.name, cluster.state, cluster.broker_count) == ("", "UNKNOWN", None)


# --- list_nodes through a stub of the documented REST API --------------------------------------


def _node(broker_id: int, az: str) -> dict[str, Any]:
    """One ``NodeInfo`` in the API reference's wire shape (camelCase, brokerId a number)."""
    host = f"b-{broker_id}.salescluster.abcd12.c2.kafka.us-east-1.amazonaws.com"
    return {
        "addedToClusterTime": "2025-03-04T10:11:12.000Z",
        "brokerNodeInfo": {
            "attachedENIId": f"eni-0{broker_id}a1b2c3d4e5f6",
            "brokerId": float(broker_id),
            "clientSubnet": f"subnet-{az}",
            "clientVpcIpAddress": f"10.0.{broker_id}.17",
            "currentBrokerSoftwareInfo": {
                "configurationArn": "arn:aws:kafka:us-east-1:0123456789019:configuration/c/1",
                "configurationRevision": 1,
                "kafkaVersion": "3.6.0",
            },
            "endpoints": [host],
        },
        "instanceType": "kafka.m5.large",
        "nodeARN": f"arn:aws:kafka:us-east-1:0123456789019:broker/SalesCluster/abcd/{broker_id}",
        "nodeType": "BROKER",
    }


#: Two pages, like the reference's example (MaxResults=1 first, then NextToken); the second
#: page also lists a node without brokerNodeInfo (a controller), which is not a broker.
PAGES: dict[str | None, dict[str, Any]] = {
    None: {"nodeInfoList": [_node(2, "b")], "nextToken": "token-2"},
    "token-2": {
        "nodeInfoList": [
            _node(3, "c"),
            _node(1, "a"),
            {"controllerNodeInfo": {"endpoints": ["c-1.example"]}, "nodeType": "BROKER"},
        ]
    },
}


@pytest.fixture
def list_nodes_url() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            seen.append(unquote(self.path))
            token = parse_qs(url.query).get("nextToken", [None])[0]
            ok = url.path.endswith("/nodes") and token in PAGES
            body = json.dumps(PAGES[token] if ok else {"message": "not found"}).encode()
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_list_brokers_follows_next_token(list_nodes_url: tuple[str, list[str]]) -> None:
    url, seen = list_nodes_url
    client = boto3.client("kafka", region_name=REGION, endpoint_url=url)

    brokers = list_brokers(client, ARN)

    assert [b.broker_id for b in brokers] == [1, 2, 3]  # sorted, ints (the API sends 1.0)
    assert len(seen) == 2 and f"/v1/clusters/{ARN}/nodes" in seen[0]
    assert "nextToken=token-2" in seen[1]
    b1 = brokers[0]
    assert b1 == MskBroker(
        broker_id=1,
        node_arn="arn:aws:kafka:us-east-1:0123456789019:broker/SalesCluster/abcd/1",
        instance_type="kafka.m5.large",
        endpoints=("b-1.salescluster.abcd12.c2.kafka.us-east-1.amazonaws.com",),
        attached_eni="eni-01a1b2c3d4e5f6",
        client_subnet="subnet-a",
        client_vpc_ip="10.0.1.17",
        kafka_version="3.6.0",
        added_to_cluster_time="2025-03-04T10:11:12.000Z",
    )


def test_parse_nodes_skips_nodes_without_a_broker_id() -> None:
    pages = [{"NodeInfoList": [{"BrokerNodeInfo": {}}, {"InstanceType": "x"}, "junk"]}, {}]
    assert parse_nodes(pages) == []


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("b-1.prod.abc123.c2.kafka.eu-west-1.amazonaws.com", "eu-west-1"),
        ("B-2.PROD.ABC123.C4.KAFKA.AP-SOUTHEAST-2.AMAZONAWS.COM", "ap-southeast-2"),
        ("boot-abcd.c1.kafka-serverless.us-east-2.amazonaws.com", "us-east-2"),
        ("b-1.prod.abc123.c2.kafka.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
        ("localhost", None),
        ("kafka.example.com", None),
    ],
)
def test_region_from_host(host: str, region: str | None) -> None:
    assert region_from_host(host) == region
