"""End-to-end canary: can every broker take a write (acks=all) and deliver it, right now?

Metadata can look healthy while a broker cannot take writes: a hung disk, a stuck request
handler, a listener that accepts connections and never answers.  The broker still heartbeats to
the controller, so it stays registered and leads its partitions, and nothing in
``kafkaops health`` (which reads metadata and gauges) fails.  kminion's end-to-end check and
MSK's own ``__amazon_msk_canary`` topic exist for this: write a record to a partition *led by*
each broker and read it back.

How: the canary topic has one partition per broker, partition *i*'s preferred leader being the
*i*-th broker (explicit replica assignment, RF min(3, brokers), ``min.insync.replicas``
min(2, RF)).  Each round sends one record to every partition (acks=all, no retries, each with
its own timeout), timing the produce; a consumer assigned to every partition times the
end-to-end delivery.  A partition's result belongs to its *current* leader.

Severity: a broker in metadata whose canary produce fails or times out is **P1** (producers to
its partitions are failing now); slower than ``slow`` is P2; a broker listed in metadata that
leads no canary partition (leadership moved away: it was restarted, or the topic predates it) is
reported, not paged — ``kafka-leader-election --election-type preferred`` restores coverage.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (
    KafkaError,
    KafkaTimeoutError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
)

from kafkaops.core.errors import ClusterUnreachable
from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.diagnose.settings import CanarySettings

#: Error prefix for a send that never reached a leader: the topic's metadata did not arrive.
METADATA_TIMEOUT = "metadata not received"


@dataclass(frozen=True)
class BrokerCanary:
    """One broker's canary result (times in ms; None: not measured)."""

    node_id: int
    partitions: tuple[int, ...] = ()
    produce_ms: float | None = None
    end_to_end_ms: float | None = None
    error: str | None = None
    #: "ok"; "failed" (acks=1 failed: the leader cannot take writes, or it is fenced);
    #: "stalled" (only acks=all failed: a follower); "slow"; "uncovered" (leads no partition).
    state: str = "ok"


@dataclass(frozen=True)
class CanaryReport:
    cluster: str
    topic: str
    brokers: tuple[BrokerCanary, ...]
    created: bool = False
    notes: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def severity(self) -> Severity:
        return min((f.severity for f in self.findings), key=lambda s: s.rank, default=Severity.OK)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["findings"] = [f.to_dict() for f in self.findings]
        d["severity"] = self.severity.value
        return d


def canary_assignment(broker_ids: list[int]) -> dict[int, list[int]]:
    """Partition i led (preferred) by the i-th broker, followers the next ones round the ring."""
    ids = sorted(broker_ids)
    rf = min(3, len(ids))
    return {i: [ids[(i + k) % len(ids)] for k in range(rf)] for i in range(len(ids))}


def findings_for(results: list[BrokerCanary], settings: CanarySettings) -> list[Finding]:
    """P1 per broker whose canary write failed, P2 per slow one (the watch loop's alerts)."""
    out = []
    for r in results:
        if r.state == "failed":
            out.append(
                Finding(
                    rule="canary_produce_failed",
                    severity=Severity.P1,
                    status=CheckStatus.TRIGGERED,
                    title=f"Broker {r.node_id} cannot take writes (canary, acks=all)",
                    value=r.produce_ms,
                    threshold=float(settings.timeout),
                    unit="ms",
                    subject=f"broker:{r.node_id}",
                    evidence=(
                        f"canary partitions {list(r.partitions)} led by broker {r.node_id}: "
                        f"{r.error}",
                        "the broker is still listed in metadata",
                    ),
                    source="canary",
                    response=(
                        "check the broker's log dirs (read-only/full disk), request handler "
                        "threads and its listener; restart it if it does not recover",
                        "kafka-leader-election --election-type preferred after it is back",
                    ),
                )
            )
        elif r.state == "slow":
            out.append(
                Finding(
                    rule="canary_produce_slow",
                    severity=Severity.P2,
                    status=CheckStatus.TRIGGERED,
                    title=f"Broker {r.node_id} is slow to take writes (canary)",
                    value=r.produce_ms,
                    threshold=float(settings.slow),
                    unit="ms",
                    subject=f"broker:{r.node_id}",
                    evidence=(f"produce {r.produce_ms:.0f} ms, end-to-end {_ms(r.end_to_end_ms)}",),
                    source="canary",
                    response=("kafkaops producers: which part of the request time grew",),
                )
            )
    return out


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0f} ms"


class Canary:
    """One canary for one cluster; keeps its clients between rounds (the watch loop)."""

    def __init__(
        self,
        cluster: str,
        client_kwargs: Mapping[str, Any],
        settings: CanarySettings | None = None,
        *,
        create: bool = True,
    ) -> None:
        self.cluster = cluster
        self.settings = settings or CanarySettings()
        self.client_kwargs = dict(client_kwargs)
        self.create = create
        self._admin: KafkaAdminClient | None = None
        self._producer: KafkaProducer | None = None
        self._consumer: KafkaConsumer | None = None
        self._fenced: set[int] = set()
        self._replicas: dict[int, list[int]] = {}
        self._leader_only: KafkaProducer | None = None

    # ------------------------------------------------------------------ clients
    def _kw(self, **extra: Any) -> dict[str, Any]:
        t = self.settings.timeout
        return {
            "client_id": "kafkaops-canary",
            "request_timeout_ms": t,
            **self.client_kwargs,
            **extra,
        }

    def admin(self) -> KafkaAdminClient:
        if self._admin is None:
            try:
                self._admin = KafkaAdminClient(**self._kw())
            except KafkaError as exc:
                raise ClusterUnreachable(f"canary: cluster unreachable: {exc}") from exc
        return self._admin

    def close(self) -> None:
        for client in (self._producer, self._leader_only, self._consumer, self._admin):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close(timeout=2) if isinstance(client, KafkaProducer) else client.close()
        self._admin = self._producer = self._leader_only = self._consumer = None

    def __enter__(self) -> Canary:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ topic
    def _describe(self) -> tuple[list[int], dict[int, int] | None]:
        """(broker ids in metadata, partition → leader) or None when the topic is missing.

        The admin client sends these to any broker; a hung one times out, so up to three
        attempts (kafka-python picks another node after a failed request)."""
        admin = self.admin()
        last: Exception | None = None
        for _attempt in range(3):
            try:
                listed = admin.describe_cluster()["brokers"]
                topic = admin.describe_topics([self.settings.topic])[0]
                break
            except UnknownTopicOrPartitionError:
                return sorted(b["broker_id"] for b in listed), None
            except KafkaError as exc:  # a hung broker answered nothing: ask again
                last = exc
        else:
            raise ClusterUnreachable(f"canary: no broker answered metadata: {last}")
        brokers = sorted(b["broker_id"] for b in listed)
        self._fenced = {b["broker_id"] for b in listed if b.get("is_fenced")}
        if topic.get("error_code"):
            return brokers, None
        self._replicas = {
            p["partition_index"]: list(p["replica_nodes"]) for p in topic["partitions"]
        }
        return brokers, {p["partition_index"]: p["leader_id"] for p in topic["partitions"]}

    def ensure_topic(self) -> tuple[list[int], dict[int, int], bool]:
        brokers, leaders = self._describe()
        if leaders is not None:
            return brokers, leaders, False
        if not self.create:
            raise ClusterUnreachable(
                f"canary topic {self.settings.topic} does not exist: create it with "
                "kafkaops canary --create (or diagnose.canary.enabled in watch)"
            )
        assignment = canary_assignment(brokers)
        rf = len(assignment[0])
        with contextlib.suppress(TopicAlreadyExistsError):
            self.admin().create_topics(
                [
                    NewTopic(
                        self.settings.topic,
                        replica_assignments=assignment,
                        topic_configs={
                            "min.insync.replicas": str(min(2, rf)),
                            "retention.ms": "3600000",
                            "cleanup.policy": "delete",
                        },
                    )
                ],
                timeout_ms=self.settings.timeout,
            )
        deadline = time.monotonic() + self.settings.timeout / 1000
        while time.monotonic() < deadline:
            brokers, leaders = self._describe()
            if leaders and all(v >= 0 for v in leaders.values()):
                return brokers, leaders, True
            time.sleep(0.3)
        raise ClusterUnreachable(f"canary topic {self.settings.topic} has no leaders yet")

    # ------------------------------------------------------------------ a round
    def _producer_for(self, acks: str | int) -> KafkaProducer:
        s = self.settings
        return KafkaProducer(
            **self._kw(
                acks=acks,
                linger_ms=0,
                retries=0,
                max_block_ms=s.timeout,
                # kafka-python wants delivery > linger + request; the round's own deadline
                # (fut.get) is still ``timeout``, and the cluster's request timeout must not
                # stretch it.
                request_timeout_ms=s.timeout,
                delivery_timeout_ms=s.timeout + 100,
                enable_idempotence=False,
            )
        )

    def _send_all(
        self, producer: KafkaProducer, partitions: list[int], run_id: str, acks: str
    ) -> tuple[dict[int, float], dict[int, int], dict[int, str], dict[int, float]]:
        """Send one record per partition; (ack ms, offsets, errors, send instants)."""
        s = self.settings
        sent: dict[int, float] = {}
        futures = {}
        errors: dict[int, str] = {}
        try:
            # The topic's metadata first, once: kafka-python asks a node picked at random, and
            # a hung broker never answers — then every send below would block ``timeout`` in
            # turn and the round would pin the hung node's silence on every leader.
            producer.partitions_for(s.topic)
        except KafkaTimeoutError as exc:
            why = f"{METADATA_TIMEOUT}: {exc}"[:200]
            return {}, {}, dict.fromkeys(partitions, why), dict.fromkeys(partitions, 0.0)
        for p in partitions:
            value = json.dumps({"run": run_id, "acks": acks, "p": p, "t": time.time()}).encode()
            sent[p] = time.monotonic()
            try:
                futures[p] = producer.send(s.topic, value=value, partition=p)
            except KafkaError as exc:
                errors[p] = f"{type(exc).__name__}: {exc}"[:200]
        acked: dict[int, float] = {}
        offsets: dict[int, int] = {}
        deadline = time.monotonic() + s.timeout / 1000
        for p, fut in futures.items():
            try:
                meta = fut.get(timeout=max(0.05, deadline - time.monotonic()))
                acked[p] = (time.monotonic() - sent[p]) * 1000
                offsets[p] = meta.offset
            except (KafkaError, FutureTimeout) as exc:
                errors[p] = (f"{type(exc).__name__}: {exc}"[:200]) or "timed out"
        return acked, offsets, errors, sent

    def _reset_producers(self) -> None:
        for producer in (self._producer, self._leader_only):
            if producer is not None:
                with contextlib.suppress(Exception):
                    producer.close(timeout=0)
        self._producer = self._leader_only = None

    def _send_both(
        self, partitions: list[int], run_id: str
    ) -> tuple[dict[int, float], dict[int, int], dict[int, str], dict[int, float], dict[int, str]]:
        """The acks=all and acks=1 records at the same time: (acks=all acked ms, offsets,
        acks=all errors, send instants, acks=1 errors)."""
        if self._producer is None:
            self._producer = self._producer_for("all")
        if self._leader_only is None:
            self._leader_only = self._producer_for(1)
        with ThreadPoolExecutor(max_workers=2) as pool:
            f_all = pool.submit(self._send_all, self._producer, partitions, run_id, "all")
            f_one = pool.submit(self._send_all, self._leader_only, partitions, run_id, "1")
            acked, offsets, errors, sent = f_all.result()
            _acked1, _off1, errors1, _sent1 = f_one.result()
        return acked, offsets, errors, sent, errors1

    def run(self, progress: Callable[[str], None] | None = None) -> CanaryReport:
        """One round: a record to every canary partition, timed to ack and to delivery.

        Each partition gets two records, one with acks=1 and one with acks=all, sent at the same
        time: when only acks=all fails, the leader took the write and a follower did not (the
        culprit is a follower, not the leader); when acks=1 fails too, the leader cannot take
        writes.  Without this split a single hung follower makes every leader it follows look
        broken (acks=all waits for it until it drops out of the ISR).
        """
        s = self.settings
        brokers, leaders, created = self.ensure_topic()
        # Fresh clients time their connection set-up and metadata too: no "slow" verdict then.
        warm = self._producer is not None and self._leader_only is not None
        if self._producer is None:
            self._producer = self._producer_for("all")
        if self._leader_only is None:
            self._leader_only = self._producer_for(1)
        if self._consumer is None:
            self._consumer = KafkaConsumer(
                **self._kw(
                    enable_auto_commit=False,
                    group_id=None,
                    fetch_max_wait_ms=100,
                    request_timeout_ms=max(s.timeout, 5000),
                )
            )
        run_id = uuid.uuid4().hex
        partitions = sorted(leaders)
        if progress:
            progress(f"canary: writing to {len(partitions)} partitions of {s.topic} …")
        acked, offsets, errors, sent, errors1 = self._send_both(partitions, run_id)
        unasked = sorted(
            p
            for p in partitions
            if errors.get(p, "").startswith(METADATA_TIMEOUT)
            or errors1.get(p, "").startswith(METADATA_TIMEOUT)
        )
        if unasked:
            # No leader was asked: the metadata request went to a node that did not answer.
            # Fresh clients pick again; only a second miss counts against the leaders.
            self._reset_producers()
            acked2, offsets2, errors2, sent2, errors12 = self._send_both(unasked, run_id)
            for p in unasked:
                for table in (acked, offsets, errors, sent, errors1):
                    table.pop(p, None)
            acked |= acked2
            offsets |= offsets2
            errors |= errors2
            sent |= sent2
            errors1 |= errors12
        # Read exactly the acked records: seeking to the acked offsets needs no ListOffsets to a
        # broker that may be the hung one (that would block the whole round).
        consumer = self._consumer
        parts = [TopicPartition(s.topic, p) for p in sorted(offsets)]
        consumer.assign(parts)
        for tp in parts:
            consumer.seek(tp, offsets[tp.partition])
        delivered: dict[int, float] = {}
        e2e_deadline = time.monotonic() + s.timeout / 1000
        while len(delivered) < len(acked) and time.monotonic() < e2e_deadline:
            batch = consumer.poll(timeout_ms=200)
            now = time.monotonic()
            for records in batch.values():
                for rec in records:
                    with contextlib.suppress(ValueError, TypeError, AttributeError):
                        body = json.loads(rec.value)
                        if body.get("run") == run_id and body.get("acks") == "all":
                            delivered.setdefault(rec.partition, (now - sent[rec.partition]) * 1000)
        if errors or errors1:
            # A failed send may mean the producers' metadata is stale (leadership moved off a
            # hung broker): fresh clients next round, so the next failure is not pinned on the
            # new leader.
            self._reset_producers()
        results = self._per_broker(brokers, leaders, acked, delivered, errors, errors1)
        notes: tuple[str, ...] = ()
        if not warm:
            results = [replace(r, state="ok") if r.state == "slow" else r for r in results]
            notes += ("first round: latencies include connection set-up (not judged slow)",)
        notes += tuple(
            f"partition {p}: acked but not delivered within {s.timeout} ms"
            for p in sorted(acked)
            if p not in delivered
        )
        stalled = sorted(
            p for p in errors if p not in errors1 and leaders.get(p, -1) not in self._fenced
        )
        findings = findings_for(results, s)
        if stalled:
            findings.append(self._replication_finding(stalled, leaders, errors))
        return CanaryReport(
            cluster=self.cluster,
            topic=s.topic,
            brokers=tuple(results),
            created=created,
            notes=notes,
            findings=tuple(findings),
        )

    def _replication_finding(
        self, stalled: list[int], leaders: dict[int, int], errors: dict[int, str]
    ) -> Finding:
        """acks=all failed where acks=1 succeeded: the followers those partitions share."""
        followers = [set(self._replicas.get(p, [])) - {leaders.get(p, -1)} for p in stalled]
        common = sorted(set.intersection(*followers)) if followers else []
        suspects = ", ".join(map(str, common)) or "unknown"
        return Finding(
            rule="canary_replication_stalled",
            severity=Severity.P1,
            status=CheckStatus.TRIGGERED,
            title=f"acks=all writes stall: followers do not confirm (suspect broker {suspects})",
            value=float(len(stalled)),
            threshold=0.0,
            unit="count",
            subject=f"broker:{common[0]}" if len(common) == 1 else "cluster",
            evidence=(
                f"canary partitions {stalled}: acks=1 succeeded, acks=all failed "
                f"({errors[stalled[0]]})",
                f"followers common to them: {suspects}",
            ),
            source="canary",
            response=(
                "the suspect follower is hung or slow: producers with acks=all wait for it until "
                "it leaves the ISR (replica.lag.time.max.ms); check it, restart it if hung",
            ),
        )

    def _per_broker(
        self,
        brokers: list[int],
        leaders: dict[int, int],
        acked: dict[int, float],
        delivered: dict[int, float],
        errors: dict[int, str],
        leader_errors: dict[int, str],
    ) -> list[BrokerCanary]:
        """Per broker (the leader of its partitions): failed only when acks=1 failed too."""
        out = []
        for b in brokers:
            ps = tuple(p for p, leader in sorted(leaders.items()) if leader == b)
            if b in self._fenced:
                out.append(
                    BrokerCanary(
                        b, ps, state="failed", error="fenced by the controller (missed heartbeats)"
                    )
                )
                continue
            if not ps:
                out.append(BrokerCanary(b, state="uncovered", error="leads no canary partition"))
                continue
            failed = [p for p in ps if p in leader_errors]
            produce = max((acked[p] for p in ps if p in acked), default=None)
            e2e = max((delivered[p] for p in ps if p in delivered), default=None)
            if failed:
                why = "; ".join(f"p{p}: {leader_errors[p]}" for p in failed)
                out.append(BrokerCanary(b, ps, produce, e2e, why, "failed"))
            elif any(p in errors for p in ps):
                why = "; ".join(f"p{p}: acks=all {errors[p]}" for p in ps if p in errors)
                out.append(BrokerCanary(b, ps, produce, e2e, why, "stalled"))
            elif produce is not None and produce >= self.settings.slow:
                out.append(BrokerCanary(b, ps, produce, e2e, None, "slow"))
            else:
                out.append(BrokerCanary(b, ps, produce, e2e))
        return out
