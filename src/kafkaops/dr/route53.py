"""The Route 53 endpoint switch: the clients' bootstrap name becomes a CNAME to the replica.

Idempotent (a record already pointing at the replica is "already"); the previous value is
returned as the rollback.  Tested with moto's Route 53.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config as BotoConfig

from kafkaops.dr.settings import EndpointSwitch

_BOTO = BotoConfig(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})


def _target(bootstrap: str) -> str:
    return bootstrap.split(",")[0].rsplit(":", 1)[0]


def switch_record(
    sw: EndpointSwitch, new_bootstrap: str, *, apply: bool, client: Any = None
) -> tuple[str, str, str | None]:
    import boto3

    if not sw.hosted_zone_id or not sw.record_name:
        return "failed", "switch.type route53 needs hosted_zone_id and record_name", None
    r53 = client or boto3.client("route53", config=_BOTO)
    name = sw.record_name.rstrip(".") + "."
    target = _target(new_bootstrap)
    found = r53.list_resource_record_sets(
        HostedZoneId=sw.hosted_zone_id, StartRecordName=name, StartRecordType="CNAME", MaxItems="1"
    )
    old = None
    for rr in found.get("ResourceRecordSets", []):
        if rr["Name"] == name and rr["Type"] == "CNAME":
            old = rr["ResourceRecords"][0]["Value"]
    if old == target:
        return "already", f"{name} CNAME already {target}", None
    if not apply:
        return "planned", f"UPSERT {name} CNAME {target} (now {old})", None
    r53.change_resource_record_sets(
        HostedZoneId=sw.hosted_zone_id,
        ChangeBatch={
            "Comment": "kafkaops dr failover",
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": "CNAME",
                        "TTL": sw.ttl,
                        "ResourceRecords": [{"Value": target}],
                    },
                }
            ],
        },
    )
    rollback = f"UPSERT {name} CNAME {old}" if old else f"DELETE {name} CNAME {target}"
    return "done", f"{name} CNAME {old} -> {target}", rollback
