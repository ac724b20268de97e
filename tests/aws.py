"""AWS test helpers: datapoints as MSK publishes them, for moto's CloudWatch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

#: Keyword → CloudWatch dimension name of the AWS/Kafka namespace.
DIMENSIONS = {"broker": "Broker ID", "group": "Consumer Group", "topic": "Topic"}


def put_kafka_metric(
    cw: Any, cluster: str, at: datetime, metric: str, value: float, unit: str, **dims: str
) -> None:
    """One AWS/Kafka datapoint with the ``Cluster Name`` dimension plus ``broker`` / ``group``
    / ``topic`` ones, e.g. ``put_kafka_metric(cw, "prod", t, "CpuUser", 35.0, "Percent",
    broker="1")``."""
    dimensions = [{"Name": "Cluster Name", "Value": cluster}]
    dimensions += [{"Name": DIMENSIONS[k], "Value": v} for k, v in dims.items()]
    cw.put_metric_data(
        Namespace="AWS/Kafka",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": dimensions,
                "Timestamp": at,
                "Value": value,
                "Unit": unit,
            }
        ],
    )
