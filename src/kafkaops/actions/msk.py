"""A small interface over the MSK ``kafka`` API: the writes, the operation history, the poll.

Why an interface: moto (the AWS emulator the tests use) implements ``describe_cluster_v2`` but
none of the cluster operations (``update_broker_storage``, ``update_broker_count``,
``update_broker_type``, ``reboot_broker``, ``create_configuration``,
``update_cluster_configuration``, ``list_cluster_operations_v2``,
``describe_cluster_operation_v2``).  :class:`MskApi` takes two boto3 clients — one for the
describe calls, one for the operations — so the tests send the describes to moto and the
operations to a client under ``botocore.stub.Stubber``, which validates every request against
the real service model.  In production both are the same client.

Polling: the runbook polls the *cluster* state for ACTIVE right after the call, which can exit
before MSK has even moved the cluster to UPDATING.  kafkaops polls the *operation* returned by
the call (``describe_cluster_operation_v2``) until it is complete or failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.config import Config as BotoConfig

from kafkaops.collect import msk as msk_facts
from kafkaops.collect.msk import MskCluster

#: Every AWS call has a connect and a read timeout, and few retries (the poll loop retries).
BOTO = BotoConfig(connect_timeout=5, read_timeout=20, retries={"max_attempts": 3})

#: Operation states (``OperationState``): MSK reports PENDING, UPDATE_IN_PROGRESS, then
#: UPDATE_COMPLETE or UPDATE_FAILED; the others are accepted defensively.
DONE_STATES = frozenset({"UPDATE_COMPLETE", "COMPLETED", "ACTIVE"})
FAILED_STATES = frozenset({"UPDATE_FAILED", "FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED"})


def region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 4 and parts[3] else None


@dataclass(frozen=True, slots=True)
class Operation:
    """One cluster operation as ``list``/``describe_cluster_operation_v2`` report it."""

    arn: str
    type: str
    state: str
    start: datetime | None = None
    end: datetime | None = None
    error: str | None = None
    steps: tuple[tuple[str, str], ...] = field(default=())

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES

    @property
    def failed(self) -> bool:
        return self.state in FAILED_STATES or (self.error is not None and not self.done)

    def to_dict(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "type": self.type,
            "state": self.state,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "error": self.error,
            "steps": [{"name": n, "status": s} for n, s in self.steps],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def parse_operation(info: dict[str, Any]) -> Operation:
    err = info.get("ErrorInfo") or {}
    error = None
    if err.get("ErrorCode") or err.get("ErrorString"):
        error = f"{err.get('ErrorCode', '')}: {err.get('ErrorString', '')}".strip(": ")
    steps = tuple(
        (str(s.get("StepName", "")), str((s.get("StepInfo") or {}).get("StepStatus", "")))
        for s in ((info.get("Provisioned") or {}).get("OperationSteps") or [])
    )
    return Operation(
        arn=str(info.get("OperationArn", "")),
        type=str(info.get("OperationType", "")),
        state=str(info.get("OperationState", "UNKNOWN")),
        start=info.get("StartTime"),
        end=info.get("EndTime"),
        error=error,
        steps=steps,
    )


class MskApi:
    """The calls the actions make; ``describe`` and ``ops`` are boto3 ``kafka`` clients."""

    def __init__(self, describe: Any, ops: Any | None = None) -> None:
        self.describe_client = describe
        self.ops = ops or describe

    @classmethod
    def connect(cls, arn: str, region: str | None, endpoint_url: str | None) -> MskApi:
        import boto3

        client = boto3.client(
            "kafka",
            region_name=region or region_of(arn),
            endpoint_url=endpoint_url,
            config=BOTO,
        )
        return cls(client)

    def describe(self, arn: str) -> MskCluster:
        return msk_facts.describe_cluster(self.describe_client, arn)

    def operations(self, arn: str, limit: int = 50) -> list[Operation]:
        """The newest cluster operations (at most ``limit``), newest first."""
        out: list[Operation] = []
        token: str | None = None
        while len(out) < limit:
            kwargs: dict[str, Any] = {"ClusterArn": arn, "MaxResults": min(50, limit)}
            if token:
                kwargs["NextToken"] = token
            page = self.ops.list_cluster_operations_v2(**kwargs)
            out.extend(parse_operation(i) for i in page.get("ClusterOperationInfoList") or [])
            token = page.get("NextToken")
            if not token:
                break
        return sorted(out, key=lambda o: o.start.timestamp() if o.start else 0.0, reverse=True)

    def operation(self, op_arn: str) -> Operation:
        info = self.ops.describe_cluster_operation_v2(ClusterOperationArn=op_arn)
        return parse_operation(info.get("ClusterOperationInfo") or {})

    def call(self, api: str, request: dict[str, Any]) -> dict[str, Any]:
        """Send one planned request (``api`` is the boto3 method name)."""
        result: dict[str, Any] = getattr(self.ops, api)(**request)
        return result


def poll(
    api: MskApi,
    op_arn: str,
    *,
    interval_s: float,
    timeout_s: float,
    on_change: Callable[[Operation, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Operation:
    """Poll the operation until it is complete or failed, or ``timeout_s`` passes.

    Returns the last state seen (a state neither done nor failed means it timed out).
    ``on_change`` is called with every new (state, steps) and the elapsed seconds: progress.
    """
    start = clock()
    last: Operation | None = None
    while True:
        op = api.operation(op_arn)
        if (last is None or (op.state, op.steps) != (last.state, last.steps)) and on_change:
            on_change(op, clock() - start)
        last = op
        if op.done or op.failed or clock() - start >= timeout_s:
            return op
        sleep(interval_s)
