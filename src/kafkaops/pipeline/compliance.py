"""The runbook's monthly security compliance check, per cluster.

What is checked, each as pass / fail / n/a / unknown (unknown: could not be read — never taken
as a pass):

* **listener_tls**, **listener_auth** — every client listener of every broker encrypts (SSL,
  SASL_SSL) and authenticates (SASL_*, or SSL with ``ssl.client.auth=required``), from the
  brokers' own ``listeners`` and ``listener.security.protocol.map`` (DescribeConfigs).
* **authorization**, **acls_present** — an authorizer is on (DescribeAcls does not answer
  "security disabled") and, where it is, ACLs exist.
* **dr_acls_replicated**, **dr_topic_configs_replicated**, **compliance_retention** — when a DR
  pair is configured (``dr:``) and this cluster is its primary: every topic ACL of a replicated
  topic has a binding for the same principal on the replica's remote topic (the runbook's backup
  replicates ACLs; MirrorMaker 2 copies topic ACLs, WRITE excepted, so only principals and
  resources are compared), key topic configs equal (``dr verify``'s comparison), and every
  remote topic keeps data at least ``dr.compliance_retention`` (the runbook's
  ``compliance_backup: 90_days``; ``retention.ms=-1`` is forever).
* **audit_trail** — the actions audit table (``act_audit``) is readable, has no missing ids
  (a deleted row leaves a hole), its times never run backwards by more than a clock skew, and
  no ``started`` action lacks its result for more than an hour (a crash or a lost write).

Why here (pipeline): it reads the config's clusters, the DR pair and the store together; the
rules themselves are pure functions over collected facts, tested without a cluster.

Why this module is long: seven checks, each a pure rule plus the collection of its facts;
the rules share one result type and one "unknown is never a pass" policy, kept in one place.
"""

from __future__ import annotations

import contextlib
import itertools
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kafkaops.config import Config

PASS, FAIL, NA, UNKNOWN = "pass", "fail", "n/a", "unknown"
#: Audit rows whose time is earlier than the row before by more than this: clock went back.
AUDIT_SKEW_US = 5_000_000
#: A ``started`` audit row with no later result row after this long: the result was lost.
AUDIT_OPEN_US = 3_600_000_000
TLS_PROTOCOLS = ("SSL", "SASL_SSL")
#: (principal, resource type, resource name, pattern type) — what MM2's ACL sync preserves.
AclKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class Check:
    check: str
    subject: str
    status: str
    evidence: str
    fix: str = ""


@dataclass
class ComplianceReport:
    cluster: str
    checked_at: datetime
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def ok(self) -> bool:
        """No failed check (unknown ones are listed, and make ``complete`` False)."""
        return not self.failed

    @property
    def complete(self) -> bool:
        return all(c.status != UNKNOWN for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for c in self.checks:
            counts[c.status] = counts.get(c.status, 0) + 1
        return {
            "cluster": self.cluster,
            "checked_at": f"{self.checked_at:%Y-%m-%dT%H:%M:%SZ}",
            "ok": self.ok,
            "complete": self.complete,
            "counts": counts,
            "checks": [asdict(c) for c in self.checks],
        }


# ------------------------------------------------------------------------------ the rules
def listener_checks(broker: str, configs: Mapping[str, str]) -> list[Check]:
    """TLS and authentication on each client listener of one broker."""
    subject = f"broker:{broker}"
    if "listeners" not in configs:
        why = "the broker does not report its listeners (DescribeConfigs)"
        return [
            Check("listener_tls", subject, UNKNOWN, why),
            Check("listener_auth", subject, UNKNOWN, why),
        ]
    controllers = set(filter(None, configs.get("controller.listener.names", "").split(",")))
    protocols = dict(
        item.split(":", 1)
        for item in configs.get("listener.security.protocol.map", "").split(",")
        if ":" in item
    )
    names = [i.split("://", 1)[0] for i in configs["listeners"].split(",") if "://" in i]
    out = []
    for name in names:
        if name in controllers:
            continue
        proto = protocols.get(name, name)
        sub = f"{subject} listener:{name}"
        tls = proto in TLS_PROTOCOLS
        out.append(
            Check(
                "listener_tls",
                sub,
                PASS if tls else FAIL,
                f"security protocol {proto}",
                ""
                if tls
                else "add an SSL/SASL_SSL listener, move clients, remove this one (MSK: "
                "encryption in transit TLS only)",
            )
        )
        client_auth = configs.get(
            f"listener.name.{name.lower()}.ssl.client.auth", configs.get("ssl.client.auth", "none")
        )
        authed = proto.startswith("SASL_") or (proto == "SSL" and client_auth == "required")
        how = "SASL" if proto.startswith("SASL_") else f"ssl.client.auth={client_auth}"
        out.append(
            Check(
                "listener_auth",
                sub,
                PASS if authed else FAIL,
                f"{proto}: {how}" if authed else f"{proto}: no client authentication",
                "" if authed else "require SASL (SCRAM/IAM) or TLS client certificates",
            )
        )
    return out


def acl_checks(
    cluster: str,
    authorization: bool | None,
    acls: Sequence[AclKey] | None,
    error: str | None = None,
) -> list[Check]:
    """``authorization``: None when it could not be told (``error`` says why)."""
    subject = f"cluster:{cluster}"
    if authorization is None:
        why = error or "DescribeAcls did not answer"
        return [
            Check("authorization", subject, UNKNOWN, why),
            Check("acls_present", subject, UNKNOWN, why),
        ]
    if not authorization:
        return [
            Check(
                "authorization",
                subject,
                FAIL,
                "no authorizer: every authenticated client may do anything",
                "set authorizer.class.name (KRaft: "
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer) and add ACLs",
            ),
            Check("acls_present", subject, NA, "authorization is off: ACLs are not enforced"),
        ]
    n = len(acls or ())
    return [
        Check("authorization", subject, PASS, "an authorizer answers DescribeAcls"),
        Check(
            "acls_present",
            subject,
            PASS if n else FAIL,
            f"{n} ACL binding(s)",
            ""
            if n
            else "no ACLs: only super users can use the cluster, or "
            "allow.everyone.if.no.acl.found lets everyone",
        ),
    ]


def dr_checks(
    primary: str,
    replica: str,
    primary_acls: Sequence[AclKey] | None,
    replica_acls: Sequence[AclKey] | None,
    remote_topic: Mapping[str, str],
    config_diffs: Mapping[str, Mapping[str, tuple[str, str]]],
    missing_topics: Iterable[str],
    replica_retention_ms: Mapping[str, int | None],
    min_retention_ms: int,
) -> list[Check]:
    """The DR replica: ACLs, topic configs and compliance retention.

    ``remote_topic``: primary topic → its name on the replica (replicated topics only);
    ``replica_retention_ms``: remote topic → retention.ms (None: unknown, -1 forever).
    """
    subject = f"dr:{primary}->{replica}"
    out = []
    if primary_acls is None or replica_acls is None:
        out.append(
            Check(
                "dr_acls_replicated",
                subject,
                UNKNOWN,
                "ACLs could not be read on "
                + ("the primary" if primary_acls is None else "the replica"),
            )
        )
    else:
        have = {(p, rt, name, pt) for p, rt, name, pt in replica_acls}
        lost = []
        for p, rt, name, pt in primary_acls:
            if rt.upper() != "TOPIC" or name not in remote_topic:
                continue
            if (p, rt, remote_topic[name], pt) not in have:
                lost.append(f"{p} on {name}")
        wanted = sum(1 for a in primary_acls if a[1].upper() == "TOPIC" and a[2] in remote_topic)
        if not wanted:
            out.append(
                Check("dr_acls_replicated", subject, NA, "no topic ACLs on replicated topics")
            )
        else:
            out.append(
                Check(
                    "dr_acls_replicated",
                    subject,
                    FAIL if lost else PASS,
                    f"{len(lost)} of {wanted} topic ACL(s) missing on {replica}: "
                    + ", ".join(sorted(lost)[:5])
                    if lost
                    else f"{wanted} topic ACL(s) on {replica}",
                    "enable sync.topic.acls.enabled in MirrorMaker 2 (MSK Replicator: copy ACLs)"
                    if lost
                    else "",
                )
            )
    missing = sorted(missing_topics)
    if config_diffs or missing:
        parts = [
            f"{t}: " + ", ".join(f"{k} {a} vs {b}" for k, (a, b) in d.items())
            for t, d in sorted(config_diffs.items())
        ][:5]
        if missing:
            parts.insert(0, f"{len(missing)} topic(s) missing: {', '.join(missing[:5])}")
        out.append(
            Check(
                "dr_topic_configs_replicated",
                subject,
                FAIL,
                "; ".join(parts),
                "kafkaops dr verify --all; align the replica's topic configs",
            )
        )
    else:
        out.append(
            Check(
                "dr_topic_configs_replicated",
                subject,
                PASS,
                f"{len(remote_topic)} replicated topic(s), key configs equal",
            )
        )
    short, unknown = [], []
    for topic, ms in sorted(replica_retention_ms.items()):
        if ms is None:
            unknown.append(topic)
        elif ms != -1 and ms < min_retention_ms:
            short.append(f"{topic} ({ms / 86_400_000:.1f} d)")
    days = min_retention_ms / 86_400_000
    if short:
        out.append(
            Check(
                "compliance_retention",
                subject,
                FAIL,
                f"{len(short)} topic(s) on {replica} keep less than {days:g} days: "
                + ", ".join(short[:5]),
                f"kafka-configs --alter --entity-type topics --entity-name <topic> "
                f"--add-config retention.ms={min_retention_ms} (on {replica})",
            )
        )
    elif unknown or not replica_retention_ms:
        out.append(
            Check(
                "compliance_retention",
                subject,
                UNKNOWN,
                f"retention.ms unknown for {len(unknown)} topic(s)"
                if unknown
                else "no replicated topic on the replica",
            )
        )
    else:
        out.append(
            Check(
                "compliance_retention",
                subject,
                PASS,
                f"{len(replica_retention_ms)} topic(s) keep at least {days:g} days",
            )
        )
    return out


def audit_checks(
    rows: Sequence[tuple[int, int, str, str, str]] | None, now_us: int, error: str | None = None
) -> list[Check]:
    """``rows``: (id, at_us, cluster, operation, result) of ``act_audit``, by id."""
    subject = "store:act_audit"
    if rows is None:
        return [Check("audit_trail", subject, UNKNOWN, error or "the audit table was not read")]
    if not rows:
        return [Check("audit_trail", subject, PASS, "no actions recorded yet")]
    problems = []
    ids = [r[0] for r in rows]
    holes = (ids[-1] - ids[0] + 1) - len(ids)
    if holes:
        problems.append(f"{holes} row id(s) missing between {ids[0]} and {ids[-1]}")
    back = [b[0] for a, b in itertools.pairwise(rows) if b[1] < a[1] - AUDIT_SKEW_US]
    if back:
        problems.append(f"time runs backwards at id(s) {', '.join(map(str, back[:5]))}")
    started: dict[tuple[str, str], tuple[int, int]] = {}
    for rid, at, cluster, op, result in rows:
        if result == "started":
            started[(cluster, op)] = (rid, at)
        elif result in ("succeeded", "failed", "timed_out"):
            started.pop((cluster, op), None)
    lost = [rid for rid, at in started.values() if now_us - at > AUDIT_OPEN_US]
    if lost:
        problems.append(f"started without a result: id(s) {', '.join(map(str, sorted(lost)[:5]))}")
    if problems:
        return [
            Check(
                "audit_trail",
                subject,
                FAIL,
                "; ".join(problems),
                "find who changed the store; restore act_audit from a backup",
            )
        ]
    return [
        Check(
            "audit_trail",
            subject,
            PASS,
            f"{len(rows)} entries, ids contiguous, "
            "times in order, every started action has its result",
        )
    ]


# --------------------------------------------------------------------------- collection
def _admin(client_kwargs: Mapping[str, Any]) -> Any:
    from kafka import KafkaAdminClient

    return KafkaAdminClient(
        **{"request_timeout_ms": 15_000, "client_id": "kafkaops-compliance", **client_kwargs}
    )


def read_acls(admin: Any) -> tuple[bool | None, list[AclKey] | None, str | None]:
    """(authorization on?, ACL keys, error) from DescribeAcls (any resource, any principal)."""
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePatternFilter,
        ResourceType,
    )
    from kafka.errors import KafkaError, SecurityDisabledError

    flt = ACLFilter(
        principal=None,
        host="*",
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ANY,
        resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
    )
    try:
        acls, err = admin.describe_acls(flt)
    except SecurityDisabledError:
        return False, None, None
    except KafkaError as exc:
        return None, None, f"DescribeAcls: {type(exc).__name__}"
    if err is not None and getattr(err, "errno", 0):
        if isinstance(err, SecurityDisabledError) or "SecurityDisabled" in type(err).__name__:
            return False, None, None
        return None, None, f"DescribeAcls: {type(err).__name__}"
    keys = [
        (
            a.principal,
            a.resource_pattern.resource_type.name,
            a.resource_pattern.resource_name,
            a.resource_pattern.pattern_type.name,
        )
        for a in acls
    ]
    return True, keys, None


def broker_configs(admin: Any) -> dict[str, dict[str, str]]:
    """Every broker's configs (name → value; sensitive ones have no value and are left out)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    brokers = [str(b["broker_id"]) for b in admin.describe_cluster()["brokers"]]
    found = admin.describe_configs(
        [ConfigResource(ConfigResourceType.BROKER, b, None) for b in brokers], config_filter="all"
    )
    return {
        b: {k: str(v["value"]) for k, v in entries.items() if v.get("value") is not None}
        for b, entries in found.get("broker", {}).items()
    }


def read_audit(store_url: str | None) -> tuple[list[tuple[int, int, str, str, str]] | None, str]:
    if not store_url:
        return None, "no store.url: the audit trail lives in the store"
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from kafkaops.actions.audit import act_audit, metadata
    from kafkaops.store import db

    try:
        engine = db.acquire(store_url)
        try:
            db.ensure_schema(engine, metadata)
            c = act_audit.c
            q = select(c.id, c.at_us, c.cluster, c.operation, c.result).order_by(c.id)
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(q)], ""  # type: ignore[misc]
        finally:
            db.release(engine)
    except (SQLAlchemyError, OSError) as exc:
        return None, f"the store cannot be read: {type(exc).__name__}"


def check_cluster(
    config: Config,
    cluster: str,
    client_kwargs: Mapping[str, Any],
    *,
    store_url: str | None,
    now: datetime | None = None,
) -> ComplianceReport:
    """Every check for one cluster (the DR ones when it is the configured DR primary)."""
    now = now or datetime.now(UTC)
    report = ComplianceReport(cluster, now)
    #: The primary's ACLs for the DR comparison: [] when authorization is off, None unknown.
    acl_keys: list[AclKey] | None = None
    try:
        admin = _admin(client_kwargs)
    except Exception as exc:  # unreachable: every cluster check is unknown, said once
        text = str(exc) if type(exc).__name__ in str(exc) else f"{type(exc).__name__}: {exc}"
        why = f"cluster unreachable: {text}"[:300]
        report.checks += [
            Check(n, f"cluster:{cluster}", UNKNOWN, why)
            for n in ("listener_tls", "listener_auth", "authorization")
        ]
    else:
        try:
            for broker, cfg in sorted(broker_configs(admin).items()):
                report.checks += listener_checks(broker, cfg)
            authz, acls, err = read_acls(admin)
            report.checks += acl_checks(cluster, authz, acls, err)
            acl_keys = [] if authz is False else acls
        finally:
            admin.close()
    if config.dr.primary == cluster and config.dr.replica:
        report.checks += _dr(config, acl_keys)
    rows, why = read_audit(store_url)
    report.checks += audit_checks(rows, int(now.timestamp() * 1_000_000), why)
    return report


def _dr(config: Config, primary_acls: list[AclKey] | None) -> list[Check]:
    from kafkaops.core.errors import KafkaopsError
    from kafkaops.pipeline.dr_pair import check_pair, pair_from_config

    s = config.dr
    subject = f"dr:{s.primary}->{s.replica}"
    try:
        pair = pair_from_config(config)
        facts, report = check_pair(pair)
    except KafkaopsError as exc:
        return [
            Check(n, subject, UNKNOWN, str(exc)[:300])
            for n in ("dr_acls_replicated", "dr_topic_configs_replicated", "compliance_retention")
        ]
    replica_acls: list[AclKey] | None = None
    with contextlib.suppress(Exception):  # unreachable: stays None, the check says unknown
        admin = _admin(pair.replica_kwargs)
        try:
            on, found, _err = read_acls(admin)
            replica_acls = [] if on is False else found
        finally:
            admin.close()
    present = [t for t in report.topics if t.status != "missing"]
    remote = {t.topic: t.remote for t in present}
    retention: dict[str, int | None] = {}
    for t in present:
        facts_t = facts.replica.topics.get(t.remote)
        value = facts_t.configs.get("retention.ms") if facts_t else None
        retention[t.remote] = int(value) if value not in (None, "?") else None
    return dr_checks(
        s.primary or "",
        s.replica or "",
        primary_acls,
        replica_acls,
        remote,
        {t.topic: t.config_diffs for t in report.topics if t.config_diffs},
        [t.topic for t in report.topics if t.status == "missing"],
        retention,
        s.compliance_retention,
    )


def _verdict(report: ComplianceReport) -> str:
    if not report.ok:
        return "FAILED"
    return "OK" if report.complete else "INCOMPLETE"


def render_text(report: ComplianceReport) -> list[str]:
    """Lines under 80 columns: failures first with their fix, then a count of the rest."""
    d = report.to_dict()
    counts = ", ".join(f"{n} {k}" for k, n in sorted(d["counts"].items()))
    lines = [f"{report.cluster}: compliance {_verdict(report)} ({counts}) at {d['checked_at']}"]
    order = {FAIL: 0, UNKNOWN: 1, NA: 2, PASS: 3}
    for c in sorted(report.checks, key=lambda c: order.get(c.status, 9)):
        lines.append(f"  {c.status.upper():<7} {c.check:<28} {c.subject}"[:80])
        lines += textwrap.wrap(c.evidence, 80, initial_indent=" " * 10, subsequent_indent=" " * 10)
        if c.fix and c.status == FAIL:
            lines += textwrap.wrap(
                "fix: " + c.fix, 80, initial_indent=" " * 10, subsequent_indent=" " * 15
            )
    return lines
