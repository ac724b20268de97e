"""The runbook's weekly "config audit" and the admin-protocol part of its "security scan".

Facts come from DescribeConfigs (brokers and topics, ``config_source`` kept) and metadata
(replication factor).  Each finding has a severity, the evidence, and the fix as a command.

Where the runbook is naive: its topic optimizer sets ``segment.ms`` = ``retention.ms``.  Kafka
deletes whole segments only, and never the active one, so a segment that rolls only as often as
the retention period keeps data up to twice as long as configured (and its disk).  That is
flagged when a topic sets it explicitly; Kafka's own defaults (7 d and 7 d) are left alone,
because ``segment.bytes`` (1 GiB) rolls busy topics long before — a clean default topic must not
produce findings.

Why this module is long: every audit rule (broker, topic, security, MSK limits) is a short
pure function over the same facts with its fix command; one table of rules reads better than
five modules of three functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from kafkaops.core.msk_limits import partition_limit
from kafkaops.core.units import format_bytes

if TYPE_CHECKING:
    from kafkaops.collect.admin import CollectOptions
    from kafkaops.core.model import ClusterSnapshot
    from kafkaops.diagnose.traffic import TopicTraffic

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
    clients = [n for n in listeners if n not in controller_names]
    unencrypted = [n for n in clients if protocols.get(n, n) == "SASL_PLAINTEXT"]
    if unencrypted:
        out.append(
            AuditFinding(
                "listener_no_tls",
                "P2",
                subject,
                "client listener authenticates without TLS: credentials and data in clear",
                f"listeners {', '.join(unencrypted)} use SASL_PLAINTEXT",
                "switch the listener to SASL_SSL (keystore, ssl.* settings), move clients, then "
                "remove SASL_PLAINTEXT",
            )
        )
    client_auth = _value(configs, "ssl.client.auth") or "none"
    anonymous = [n for n in clients if protocols.get(n, n) == "SSL" and client_auth != "required"]
    if anonymous:
        out.append(
            AuditFinding(
                "listener_no_auth",
                "P2",
                subject,
                "TLS client listener without client authentication: anyone who can connect is "
                "anonymous",
                f"listeners {', '.join(anonymous)} use SSL with ssl.client.auth={client_auth}",
                _alter("brokers", "*", "ssl.client.auth=required", bootstrap)
                + "  (clients then need certificates; or use SASL_SSL)",
            )
        )
    return out


def audit_disk_fit(
    snapshot: ClusterSnapshot,
    traffic: Mapping[str, TopicTraffic],
    configs: Mapping[str, Mapping[str, tuple[str, str]]],
    bootstrap: str,
) -> list[AuditFinding]:
    """Retention that cannot fit a broker's disk at the measured ingest rate.

    Per replica on the broker, the steady-state size is ingest/partition × retention.ms
    (capped by retention.bytes when set); compacted topics and topics without measured bytes
    keep their current size.  Their sum against the broker's log-dir capacity: above it P1,
    above 85 % P2.  The fix names the biggest contributor and a retention that brings the
    broker to 80 %.
    """
    capacity: dict[int, int] = {}
    for d in snapshot.log_dirs:
        if d.total_bytes:
            capacity[d.broker] = capacity.get(d.broker, 0) + d.total_bytes
    current: dict[str, int] = {}
    for d in snapshot.log_dirs:
        for name, size in d.partition_bytes.items():
            current[name] = max(current.get(name, 0), size)
    projected: dict[int, dict[str, float]] = {}
    for t in snapshot.topics:
        cfg = configs.get(t.name, {})
        tr = traffic.get(t.name)
        retention = _int(cfg, "retention.ms")
        cap = _int(cfg, "retention.bytes")
        deletes = "delete" in (_value(cfg, "cleanup.policy") or "delete")
        rate = (
            tr.bytes_per_s / tr.partitions
            if tr is not None and tr.bytes_per_s is not None and tr.partitions
            else None
        )
        for p in t.partitions:
            size: float = current.get(p.name, 0)
            if deletes and rate is not None and rate > 0:
                if retention is not None and retention > 0:
                    size = max(size, rate * retention / 1000)
                elif cap is None or cap < 0:
                    size = math.inf  # kept forever while data keeps coming
                if cap is not None and cap > 0:
                    size = min(size, cap + (_int(cfg, "segment.bytes") or 1 << 30))
            for b in p.replicas:
                by_topic = projected.setdefault(b, {})
                by_topic[t.name] = by_topic.get(t.name, 0.0) + size
    out: list[AuditFinding] = []
    for b, by_topic in sorted(projected.items()):
        disk = capacity.get(b)
        total = sum(by_topic.values())
        if not disk or total < 0.85 * disk:
            continue
        top = sorted(by_topic.items(), key=lambda kv: -kv[1])[:3]
        name, biggest = top[0]
        retention = _int(configs.get(name, {}), "retention.ms")
        if math.isinf(total):
            fix = _alter("topics", name, "retention.ms=604800000", bootstrap) + "  (a bound)"
        elif retention and retention > 0:
            excess = total - 0.8 * disk
            keep = max(0.1, (biggest - excess) / biggest) if biggest > 0 else 1.0
            fix = _alter("topics", name, f"retention.ms={int(retention * keep)}", bootstrap)
            fix += "  — or grow the volume (kafkaops capacity)"
        else:
            fix = "grow the volume (kafkaops capacity) or lower retention.bytes of " + name
        shown = "unbounded" if math.isinf(total) else format_bytes(total)
        out.append(
            AuditFinding(
                "retention_exceeds_disk",
                "P1" if total >= disk else "P2",
                f"broker:{b}",
                "at the current ingest rate the retained data will not fit the disk"
                if total >= disk
                else "at the current ingest rate the retained data fills the disk past 85 %",
                f"steady state {shown} of {format_bytes(disk)}; most from "
                + ", ".join(
                    f"{n} {'unbounded' if math.isinf(v) else format_bytes(v)}" for n, v in top
                ),
                fix,
            )
        )
    return out


def audit_heavy_uncompressed(
    traffic: Mapping[str, TopicTraffic],
    configs: Mapping[str, Mapping[str, tuple[str, str]]],
    heavy_bytes_per_s: float,
    bootstrap: str,
) -> list[AuditFinding]:
    """Compression switched off on a topic that carries real traffic.

    ``compression.type=uncompressed`` makes the broker decompress what producers compressed
    and store it raw: more disk, more replication traffic, more CPU.  (With the default
    ``producer`` the broker keeps what producers send; whether they compress is not visible
    from configs — ``kafkaops topics optimize`` advises them on heavy topics.)
    """
    out = []
    for name, tr in sorted(traffic.items()):
        cfg = configs.get(name, {})
        rate = tr.bytes_per_s
        if rate is None or rate < heavy_bytes_per_s:
            continue
        if _value(cfg, "compression.type") == "uncompressed":
            out.append(
                AuditFinding(
                    "compression_off_heavy_topic",
                    "P2",
                    f"topic:{name}",
                    "compression off on a heavy topic: the broker stores (and replicates) raw",
                    f"compression.type=uncompressed at {format_bytes(rate)}/s",
                    _alter("topics", name, "compression.type=producer", bootstrap)
                    + "  (and compression.type=lz4 in its producers)",
                )
            )
    return out


def audit_partition_limit(
    replicas_per_broker: Mapping[int, int], instance_type: str | None
) -> list[AuditFinding]:
    """Partition replicas per broker against MSK's limit for the instance type."""
    limit = partition_limit(instance_type)
    if limit is None:
        return []
    out = []
    for b, n in sorted(replicas_per_broker.items()):
        if n <= limit.recommended:
            continue
        over_max = n > limit.maximum
        out.append(
            AuditFinding(
                "partitions_per_broker_over_limit",
                "P1" if over_max else "P2",
                f"broker:{b}",
                f"{n} partition replicas: above MSK's "
                + (
                    "maximum (MSK blocks configuration updates and resizing)"
                    if over_max
                    else "recommendation"
                )
                + f" for {instance_type}",
                f"{n} replicas; {instance_type}: recommended {limit.recommended}, maximum "
                f"{limit.maximum}",
                "delete unused topics (partitions cannot be removed from a topic), or move to a "
                "larger instance type (aws kafka update-broker-type)",
            )
        )
    return out


def audit_acls(
    broker_configs: Mapping[str, tuple[str, str]], acl_count: int | None
) -> list[AuditFinding]:
    """The security scan's ACL check: an authorizer with no ACLs at all.

    With ``allow.everyone.if.no.acl.found=true`` every client may do everything (authorization
    in name only: P1); otherwise only super users can do anything (P2: clients are denied).
    ``acl_count`` None means it could not be read (no authorizer, or not allowed).
    """
    authorizer = _value(broker_configs, "authorizer.class.name")
    if not authorizer or acl_count is None or acl_count > 0:
        return []
    open_ = _value(broker_configs, "allow.everyone.if.no.acl.found") == "true"
    return [
        AuditFinding(
            "acls_absent",
            "P1" if open_ else "P2",
            "cluster",
            "authorization is on but no ACL exists: "
            + ("every client may do everything" if open_ else "only super users can act"),
            f"authorizer.class.name={authorizer}, 0 ACLs, allow.everyone.if.no.acl.found="
            f"{str(open_).lower()}",
            "kafka-acls.sh --bootstrap-server HOST:PORT --add --allow-principal User:APP "
            "--operation Write --topic TOPIC  (one per application; then set "
            "allow.everyone.if.no.acl.found=false)",
        )
    ]


def report_dict(findings: list[AuditFinding]) -> dict[str, Any]:
    sevs = {f.severity for f in findings}
    return {
        "severity": "P1" if "P1" in sevs else "P2" if "P2" in sevs else "OK",
        "findings": [asdict(f) for f in findings],
    }


def _acl_count(admin: Any) -> int | None:
    """Every ACL of the cluster (DescribeAcls, filter ANY); None when it cannot be read."""
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePatternFilter,
        ResourceType,
    )

    try:
        acls, _ = admin.describe_acls(
            ACLFilter(
                principal=None,
                host=None,
                operation=ACLOperation.ANY,
                permission_type=ACLPermissionType.ANY,
                resource_pattern=ResourcePatternFilter(
                    ResourceType.ANY, None, ACLResourcePatternType.ANY
                ),
            )
        )
    except Exception:  # SecurityDisabled, not authorized, old broker: nothing to judge
        return None
    return len(acls)


def collect_and_audit(
    client_kwargs: Mapping[str, Any],
    bootstrap: str,
    timeout_ms: int = 15_000,
    *,
    window_s: float = 0.0,
    options: CollectOptions | None = None,
    instance_type: str | None = None,
    heavy_bytes_per_s: float = 1024 * 1024,
    cluster: str = "cluster",
    progress: Callable[[str], None] | None = None,
) -> list[AuditFinding]:
    """DescribeConfigs for every broker and non-internal topic, metadata and ACLs, then the
    rules; with ``window_s`` > 0 also the traffic rules (disk fit, heavy uncompressed topics)
    from two snapshots that far apart."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    from kafkaops.collect.admin import CollectOptions

    snapshot = traffic = None
    if window_s > 0:
        from kafkaops.diagnose.traffic import measure_traffic

        snapshot, traffic = measure_traffic(
            cluster, client_kwargs, options or CollectOptions(), window_s, progress
        )

    admin = KafkaAdminClient(
        **{"request_timeout_ms": timeout_ms, "client_id": "kafkaops-audit", **client_kwargs}
    )
    try:
        brokers = [str(b["broker_id"]) for b in admin.describe_cluster()["brokers"]]
        all_names = list(admin.list_topics())
        names = [t for t in all_names if not t.startswith("__")]
        described = admin.describe_topics(all_names) if all_names else []
        rf = {
            t["name"]: min((len(p["replica_nodes"]) for p in t["partitions"]), default=0)
            for t in described
        }
        per_broker: dict[int, int] = {}
        for t in described:
            for p in t["partitions"]:
                for r in p["replica_nodes"]:
                    per_broker[r] = per_broker.get(r, 0) + 1
        resources = [ConfigResource(ConfigResourceType.BROKER, b, None) for b in brokers] + [
            ConfigResource(ConfigResourceType.TOPIC, t, None) for t in names
        ]
        configs = admin.describe_configs(resources, config_filter="all")
        broker_flat = {b: _flat(e) for b, e in configs.get("broker", {}).items()}
        acls = (
            _acl_count(admin)
            if any(_value(c, "authorizer.class.name") for c in broker_flat.values())
            else None
        )
    finally:
        admin.close()

    topic_flat = {t: _flat(e) for t, e in configs.get("topic", {}).items()}
    findings: list[AuditFinding] = []
    for b, flat in sorted(broker_flat.items()):
        findings += audit_broker(b, flat, bootstrap)
    if broker_flat:
        findings += audit_acls(next(iter(sorted(broker_flat.items())))[1], acls)
    findings += audit_partition_limit(per_broker, instance_type)
    for t, flat in sorted(topic_flat.items()):
        findings += audit_topic(TopicFacts(t, rf.get(t, 0), flat), bootstrap)
    if snapshot is not None and traffic is not None:
        user = {n: tr for n, tr in traffic.items() if not n.startswith("__")}
        findings += audit_disk_fit(snapshot, user, topic_flat, bootstrap)
        findings += audit_heavy_uncompressed(user, topic_flat, heavy_bytes_per_s, bootstrap)
    return findings


def _flat(entries: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        k: (str(v.get("value")), str(v.get("config_source")))
        for k, v in entries.items()
        if v.get("value") is not None
    }
