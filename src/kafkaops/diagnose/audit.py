"""The runbook's weekly "config audit" and the admin-protocol part of its "security scan".

Facts come from DescribeConfigs (brokers and topics, ``config_source`` kept) and metadata
(replication factor).  Each finding has a severity, the evidence, and the fix as a command.

Where the runbook is naive: its topic optimizer sets ``segment.ms`` = ``retention.ms``.  Kafka
deletes whole segments only, and never the active one, so a segment that rolls only as often as
the retention period keeps data up to twice as long as configured (and its disk).  That is
flagged when a topic sets it explicitly; Kafka's own defaults (7 d and 7 d) are left alone,
because ``segment.bytes`` (1 GiB) rolls busy topics long before — a clean default topic must not
produce findings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

#: Config sources that mean "set for this topic" (not inherited from the broker/default).
TOPIC_SET = frozenset({"DYNAMIC_TOPIC_CONFIG", "TOPIC_CONFIG"})
MIN_SEGMENT_MS = 10 * 60_000
MIN_SEGMENT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class AuditFinding:
    rule: str
    severity: str  # P1 | P2
    subject: str  # "topic:NAME" | "broker:ID" | "cluster"
    title: str
    evidence: str
    fix: str


@dataclass(frozen=True)
class TopicFacts:
    name: str
    replication_factor: int
    #: name → (value, config_source)
    configs: Mapping[str, tuple[str, str]]


def _value(configs: Mapping[str, tuple[str, str]], key: str) -> str | None:
    entry = configs.get(key)
    return None if entry is None else entry[0]


def _int(configs: Mapping[str, tuple[str, str]], key: str) -> int | None:
    value = _value(configs, key)
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _alter(entity: str, name: str, setting: str, bootstrap: str) -> str:
    target = "--entity-default" if name == "*" else f"--entity-name {name}"
    return (
        f"kafka-configs.sh --bootstrap-server {bootstrap} --alter --entity-type {entity} "
        f"{target} --add-config {setting}"
    )


def audit_topic(t: TopicFacts, bootstrap: str) -> list[AuditFinding]:
    """The topic rules; internal topics (``__``) are Kafka's business and skipped."""
    out: list[AuditFinding] = []
    subject = f"topic:{t.name}"
    rf = t.replication_factor
    if rf < 3:
        out.append(
            AuditFinding(
                "replication_factor_low",
                "P1" if rf == 1 else "P2",
                subject,
                f"replication factor {rf} < 3: "
                + ("one broker loss loses data" if rf == 1 else "no room for a second failure"),
                f"replication factor {rf}",
                f"kafka-reassign-partitions.sh --bootstrap-server {bootstrap} "
                "--reassignment-json-file rf3.json --execute  (three replicas per partition)",
            )
        )
    min_isr = _int(t.configs, "min.insync.replicas")
    if min_isr is not None and min_isr >= rf and rf > 1:
        out.append(
            AuditFinding(
                "min_isr_not_below_rf",
                "P1",
                subject,
                f"min.insync.replicas {min_isr} >= replication factor {rf}: acks=all producers "
                "fail as soon as one replica is down",
                f"min.insync.replicas={min_isr}, RF={rf}",
                _alter(
                    "topics", t.name, f"min.insync.replicas={max(1, min(2, rf - 1))}", bootstrap
                ),
            )
        )
    elif min_isr is not None and min_isr < 2 and rf >= 3:
        out.append(
            AuditFinding(
                "min_isr_low",
                "P2",
                subject,
                "min.insync.replicas 1: acks=all is satisfied by the leader alone",
                f"min.insync.replicas={min_isr}, RF={rf}",
                _alter("topics", t.name, "min.insync.replicas=2", bootstrap),
            )
        )
    if _value(t.configs, "unclean.leader.election.enable") == "true":
        out.append(
            AuditFinding(
                "unclean_election_on",
                "P1",
                subject,
                "unclean leader election on: an out-of-sync replica may become leader (data loss)",
                "unclean.leader.election.enable=true",
                _alter("topics", t.name, "unclean.leader.election.enable=false", bootstrap),
            )
        )
    seg = t.configs.get("segment.ms")
    retention = _int(t.configs, "retention.ms")
    seg_ms = _int(t.configs, "segment.ms")
    if seg and seg[1] in TOPIC_SET and seg_ms is not None:
        if retention is not None and retention > 0 and seg_ms >= retention:
            better = max(MIN_SEGMENT_MS, retention // 10)
            out.append(
                AuditFinding(
                    "segment_ms_not_below_retention",
                    "P2",
                    subject,
                    "segment.ms >= retention.ms: data is kept up to twice the retention (only "
                    "closed segments are deleted)",
                    f"segment.ms={seg_ms}, retention.ms={retention}",
                    _alter("topics", t.name, f"segment.ms={better}", bootstrap),
                )
            )
        elif seg_ms < MIN_SEGMENT_MS:
            out.append(
                AuditFinding(
                    "segment_ms_tiny",
                    "P2",
                    subject,
                    "segment.ms under 10 min: many small segments (open files, index memory)",
                    f"segment.ms={seg_ms}",
                    _alter("topics", t.name, f"segment.ms={MIN_SEGMENT_MS}", bootstrap),
                )
            )
    sb = t.configs.get("segment.bytes")
    sb_value = _int(t.configs, "segment.bytes")
    if sb and sb[1] in TOPIC_SET and sb_value is not None and sb_value < MIN_SEGMENT_BYTES:
        out.append(
            AuditFinding(
                "segment_bytes_tiny",
                "P2",
                subject,
                "segment.bytes under 16 MiB: many small segments",
                f"segment.bytes={sb_value}",
                _alter("topics", t.name, "segment.bytes=1073741824", bootstrap),
            )
        )
    return out


def audit_broker(
    broker_id: str, configs: Mapping[str, tuple[str, str]], bootstrap: str
) -> list[AuditFinding]:
    """Broker rules, including the admin-protocol part of the runbook's security scan."""
    out: list[AuditFinding] = []
    subject = f"broker:{broker_id}"
    if _value(configs, "auto.create.topics.enable") == "true":
        out.append(
            AuditFinding(
                "auto_create_topics_on",
                "P2",
                subject,
                "auto.create.topics.enable: a typo in a producer creates a topic with defaults",
                "auto.create.topics.enable=true",
                _alter("brokers", "*", "auto.create.topics.enable=false", bootstrap)
                + "  (static on MSK: set it in the cluster configuration)",
            )
        )
    if _value(configs, "unclean.leader.election.enable") == "true":
        out.append(
            AuditFinding(
                "unclean_election_on",
                "P1",
                subject,
                "unclean leader election on for every topic without an override",
                "unclean.leader.election.enable=true",
                _alter("brokers", "*", "unclean.leader.election.enable=false", bootstrap),
            )
        )
    controller_names = set((_value(configs, "controller.listener.names") or "").split(","))
    protocols = dict(
        item.split(":", 1)
        for item in (_value(configs, "listener.security.protocol.map") or "").split(",")
        if ":" in item
    )
    listeners = [
        item.split("://", 1)[0]
        for item in (_value(configs, "listeners") or "").split(",")
        if "://" in item
    ]
    plain = [
        name
        for name in listeners
        if name not in controller_names and protocols.get(name, name) == "PLAINTEXT"
    ]
    if plain:
        out.append(
            AuditFinding(
                "listener_plaintext",
                "P2",
                subject,
                "client listener without TLS or authentication (security scan)",
                f"listeners {', '.join(plain)} use PLAINTEXT",
                "add an SASL_SSL (or SSL with client auth) listener, move clients, then remove "
                "PLAINTEXT (MSK: update-security, client-authentication + encryption-in-transit)",
            )
        )
    return out


def report_dict(findings: list[AuditFinding]) -> dict[str, Any]:
    sevs = {f.severity for f in findings}
    return {
        "severity": "P1" if "P1" in sevs else "P2" if "P2" in sevs else "OK",
        "findings": [asdict(f) for f in findings],
    }


def collect_and_audit(
    client_kwargs: Mapping[str, Any], bootstrap: str, timeout_ms: int = 15_000
) -> list[AuditFinding]:
    """DescribeConfigs for every broker and non-internal topic, then the rules."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(
        **{"request_timeout_ms": timeout_ms, "client_id": "kafkaops-audit", **client_kwargs}
    )
    try:
        brokers = [str(b["broker_id"]) for b in admin.describe_cluster()["brokers"]]
        names = [t for t in admin.list_topics() if not t.startswith("__")]
        described = admin.describe_topics(names) if names else []
        rf = {
            t["name"]: min((len(p["replica_nodes"]) for p in t["partitions"]), default=0)
            for t in described
        }
        resources = [ConfigResource(ConfigResourceType.BROKER, b, None) for b in brokers] + [
            ConfigResource(ConfigResourceType.TOPIC, t, None) for t in names
        ]
        configs = admin.describe_configs(resources, config_filter="all")
    finally:
        admin.close()

    def flat(entries: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
        return {
            k: (str(v.get("value")), str(v.get("config_source")))
            for k, v in entries.items()
            if v.get("value") is not None
        }

    findings: list[AuditFinding] = []
    for b, entries in sorted(configs.get("broker", {}).items()):
        findings += audit_broker(b, flat(entries), bootstrap)
    for t, entries in sorted(configs.get("topic", {}).items()):
        findings += audit_topic(TopicFacts(t, rf.get(t, 0), flat(entries)), bootstrap)
    return findings
