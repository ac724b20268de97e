"""An MSK cluster in moto (server mode) for the describe calls; the operations moto lacks go
through botocore's Stubber, which validates each request against the real ``kafka`` model."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import httpx
import pytest
from botocore.stub import Stubber

REGION = "eu-west-1"


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    httpx.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    return moto_url


def set_state(arn: str, state: str) -> None:
    """moto leaves every cluster CREATING; its server runs in this process, so flip it."""
    from moto.kafka.models import kafka_backends

    kafka_backends["123456789012"][REGION].clusters[arn].state = state


@pytest.fixture
def msk_cluster(aws: str) -> tuple[object, str]:
    """(moto kafka client, ARN) of an ACTIVE 3-broker m5.large cluster, 1000 GiB, 3 AZs."""
    kafka = boto3.client("kafka", region_name=REGION, endpoint_url=aws)
    arn = kafka.create_cluster_v2(
        ClusterName="prod-msk",
        Provisioned={
            "BrokerNodeGroupInfo": {
                "InstanceType": "kafka.m5.large",
                "ClientSubnets": ["subnet-a", "subnet-b", "subnet-c"],
                "StorageInfo": {"EbsStorageInfo": {"VolumeSize": 1000}},
            },
            "KafkaVersion": "3.6.0",
            "NumberOfBrokerNodes": 3,
        },
    )["ClusterArn"]
    set_state(arn, "ACTIVE")
    return kafka, arn


@pytest.fixture
def stubbed() -> Iterator[tuple[object, Stubber]]:
    """A kafka client whose every call must be one the test expects (else the test fails)."""
    client = boto3.client(
        "kafka", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()
