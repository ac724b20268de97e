"""The ``KafkaBrokerNodeId`` kafkaops sends for "every broker", checked against botocore's
real ``kafka`` model: capacity's printed ``aws kafka update-broker-storage`` and the action's
request carry the same value, and the model accepts it.

AWS spells the keyword two ways (API reference: "the keyword ALL"; the MSK Developer Guide's CLI
example: ``"All"``); the model has no enum for it, so the SDK cannot tell which one the service
wants — kafkaops follows the Developer Guide (see ``capacity.limits.MSK_ALL_BROKERS``).
"""

from __future__ import annotations

import json
import shlex

import boto3
from botocore.stub import Stubber

from kafkaops.capacity.plan import storage_command
from kafkaops.core.msk_limits import MSK_ALL_BROKERS

ARN = "arn:aws:kafka:eu-west-1:123456789012:cluster/prod/abc-1"


def test_all_brokers_spelling_and_model() -> None:
    assert MSK_ALL_BROKERS == "All"
    client = boto3.client("kafka", region_name="eu-west-1", aws_access_key_id="x",
                          aws_secret_access_key="x")  # fmt: skip
    shape = client.meta.service_model.shape_for("BrokerEBSVolumeInfo")
    node_id = shape.members["KafkaBrokerNodeId"]
    assert node_id.type_name == "string" and not node_id.enum  # both spellings pass the SDK
    assert "keyword ALL" in shape.documentation  # the API reference's spelling, noted

    command = storage_command(ARN, "K3AEGXETSR30VB", 1100)
    assert command is not None
    argv = shlex.split(command)
    volume = json.loads(argv[argv.index("--target-broker-ebs-volume-info") + 1])
    assert volume == [{"KafkaBrokerNodeId": "All", "VolumeSizeGB": 1100}]
    request = {"ClusterArn": ARN, "CurrentVersion": "K3AEGXETSR30VB",
               "TargetBrokerEBSVolumeInfo": volume}  # fmt: skip
    with Stubber(client) as stub:  # validates the request against the model on send
        stub.add_response("update_broker_storage", {"ClusterOperationArn": "arn:op"}, request)
        assert client.update_broker_storage(**request)["ClusterOperationArn"] == "arn:op"
        stub.assert_no_pending_responses()
