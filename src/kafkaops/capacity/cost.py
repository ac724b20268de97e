"""MSK cost for the weekly review, from AWS Cost Explorer, grouped by a cluster tag.

The runbook's script groups by SERVICE and filters with a file it does not show; what an
operator wants is *this cluster's* MSK cost per day.  So: service "Amazon Managed Streaming for
Apache Kafka", grouped by the cost-allocation tag ``capacity.cost_tag`` (its values name the
clusters; the tag must be activated for cost allocation in the billing console), daily
UnblendedCost.  Cost Explorer is a global API served from us-east-1; each call costs
USD 0.01, so the review makes one (paginated) call per week.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kafkaops.capacity.settings import CapacitySettings

MSK_SERVICE = "Amazon Managed Streaming for Apache Kafka"


@dataclass
class WeeklyCost:
    tag: str
    unit: str | None
    #: tag value (cluster) → total over the period
    totals: dict[str, float]
    #: tag value → [(day ISO, amount)]
    daily: dict[str, list[tuple[str, float]]]
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if not self.errors else "error",
            "tag": self.tag,
            "unit": self.unit,
            "totals": self.totals,
            "daily": {k: [{"day": d, "amount": a} for d, a in v] for k, v in self.daily.items()},
            "errors": self.errors,
        }


def weekly_cost(
    settings: CapacitySettings, start: datetime, end: datetime, *, client: Any | None = None
) -> WeeklyCost | None:
    """Daily MSK cost per ``cost_tag`` value over [start, end); None when not configured."""
    tag = settings.cost_tag
    if not tag:
        return None
    if client is None:
        import boto3
        from botocore.config import Config

        client = boto3.session.Session().client(
            "ce",
            region_name="us-east-1",
            endpoint_url=settings.msk.endpoint_url,
            config=Config(connect_timeout=10, read_timeout=30,
                          retries={"total_max_attempts": 3, "mode": "standard"}),
        )  # fmt: skip
    result = WeeklyCost(tag, None, {}, {})
    token = None
    for _ in range(20):
        kwargs: dict[str, Any] = {
            "TimePeriod": {"Start": start.date().isoformat(), "End": end.date().isoformat()},
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost"],
            "Filter": {"Dimensions": {"Key": "SERVICE", "Values": [MSK_SERVICE]}},
            "GroupBy": [{"Type": "TAG", "Key": tag}],
        }
        if token:
            kwargs["NextPageToken"] = token
        try:
            page = client.get_cost_and_usage(**kwargs)
        except Exception as exc:  # botocore errors: reported in the review, never raised
            result.errors.append(f"get_cost_and_usage: {type(exc).__name__}: {exc}")
            break
        for period in page.get("ResultsByTime", []):
            day = period.get("TimePeriod", {}).get("Start", "")
            for group in period.get("Groups", []):
                key = (group.get("Keys") or ["?"])[0]
                # Tag keys come back as "<tag>$<value>"; an untagged resource as "<tag>$".
                value = key.split("$", 1)[1] if "$" in key else key
                metric = group.get("Metrics", {}).get("UnblendedCost", {})
                amount = float(metric.get("Amount", 0.0))
                result.unit = result.unit or metric.get("Unit")
                name = value or "(untagged)"
                result.totals[name] = result.totals.get(name, 0.0) + amount
                result.daily.setdefault(name, []).append((day, amount))
        token = page.get("NextPageToken")
        if not token:
            break
    return result
