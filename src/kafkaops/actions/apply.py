"""Apply a :class:`~kafkaops.actions.guardrails.Plan`: call, poll, verify, audit.

The order matters for the audit: a ``started`` row is written before the AWS call, so an
interrupted run is still on record; the final row carries the operation ARN, its last state,
the steps MSK reported and the verification.  Verification is the describe made after the
operation (the volume size, broker count or type asked for, cluster ACTIVE again) plus the
caller's health check (the CLI runs ``kafkaops health`` when the cluster is reachable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafkaops.actions.audit import AuditLog
from kafkaops.actions.guardrails import Plan
from kafkaops.actions.msk import MskApi, Operation, poll
from kafkaops.collect.msk import MskCluster


class ActionFailed(Exception):
    """AWS rejected the call or the operation failed; the message is one line."""


@dataclass
class Outcome:
    result: str  # succeeded | failed | timed_out
    plan: Plan
    operation: Operation | None = None
    verification: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "plan": self.plan.to_dict(),
            "operation": self.operation.to_dict() if self.operation else None,
            "verification": self.verification,
            "problems": self.problems,
        }


def expected(plan: Plan, info: MskCluster) -> list[str]:
    """What the describe after the operation must show; returns the mismatches."""
    req = plan.request
    bad = []
    if info.state != "ACTIVE":
        bad.append(f"cluster state {info.state}, not ACTIVE")
    if plan.operation == "scale_storage":
        want = req["TargetBrokerEBSVolumeInfo"][0]["VolumeSizeGB"]
        if info.ebs_volume_gib != want:
            bad.append(f"volume {info.ebs_volume_gib} GiB, expected {want} GiB")
    elif plan.operation == "scale_brokers":
        if info.broker_count != req["TargetNumberOfBrokerNodes"]:
            bad.append(f"{info.broker_count} brokers, expected {req['TargetNumberOfBrokerNodes']}")
    elif plan.operation == "scale_type" and info.instance_type != req["TargetInstanceType"]:
        bad.append(f"type {info.instance_type}, expected {req['TargetInstanceType']}")
    return bad


def execute(
    plan: Plan,
    api: MskApi,
    audit: AuditLog,
    *,
    interval_s: float,
    timeout_s: float,
    progress: Callable[[Operation, float], None] | None = None,
    health: Callable[[], tuple[bool, str]] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Outcome:
    """Run the plan; raises :class:`ActionFailed` when AWS rejects a call (audited first)."""
    audit.record(
        cluster=plan.cluster,
        operation=plan.operation,
        result="started",
        summary=plan.summary,
        detail={"request": plan.request, "prepare": plan.prepare},
    )
    request = dict(plan.request)
    try:
        if plan.prepare is not None:
            created = api.call("create_configuration", plan.prepare)
            request["ConfigurationInfo"] = {
                "Arn": created["Arn"],
                "Revision": int((created.get("LatestRevision") or {}).get("Revision", 1)),
            }
        response = api.call(plan.api, request)
    except Exception as exc:  # botocore ClientError / ParamValidationError / connection errors
        reason = f"{plan.api}: {type(exc).__name__}: {exc}"
        audit.record(
            cluster=plan.cluster,
            operation=plan.operation,
            result="failed",
            summary=plan.summary,
            detail={"request": request, "error": reason},
        )
        raise ActionFailed(reason) from None
    op_arn = str(response.get("ClusterOperationArn", ""))
    kwargs: dict[str, Any] = {"interval_s": interval_s, "timeout_s": timeout_s}
    if sleep is not None:
        kwargs["sleep"] = sleep
    op = poll(api, op_arn, on_change=progress, **kwargs)
    outcome = Outcome(
        result="succeeded" if op.done else "failed" if op.failed else "timed_out",
        plan=plan,
        operation=op,
    )
    if op.failed:
        outcome.problems.append(f"operation {op.state}: {op.error or 'no error given'}")
    elif op.done:
        try:
            mismatches = expected(plan, api.describe(plan.arn))
        except Exception as exc:
            mismatches = [f"describe_cluster_v2: {type(exc).__name__}: {exc}"]
        outcome.problems += mismatches
        if not mismatches:
            outcome.verification.append("describe_cluster_v2 shows the change, cluster ACTIVE")
        if health is not None:
            ok, text = health()
            (outcome.verification if ok else outcome.problems).append(f"health: {text}")
        if outcome.problems:
            outcome.result = "failed"
    else:
        outcome.problems.append(f"still {op.state} after {timeout_s:.0f}s (not cancelled)")
    audit.record(
        cluster=plan.cluster,
        operation=plan.operation,
        result=outcome.result,
        summary=plan.summary,
        operation_arn=op_arn,
        detail={
            "request": request,
            "operation": op.to_dict(),
            "verification": outcome.verification,
            "problems": outcome.problems,
        },
    )
    return outcome
