"""The runbook's monthly DR test, measured: with a live producer and a live consumer, take the
primary away, fail over, and count.

Two kinds of pair:

* **the sandbox pair** — the primary's brokers are killed (SIGKILL) and MM2 is stopped by the
  failover, as in a real regional outage;
* **a configured pair** (``dr:`` in the config: real clusters, e.g. MSK) — nothing is killed.
  The outage is *simulated* for the drill's own clients: at that instant they stop using the
  primary, and the replica is read at once, so the RPO counts what a real outage would have lost
  then (replication keeps running: other applications still use the pair).  The drill touches
  only its own topic and group (deleted afterwards, :meth:`Drill.cleanup`), switches only its
  own clients' endpoint file and never runs the configured fence command or endpoint switch.

* **RTO** — first failing produce on the primary → first produce acknowledged by the replica
  (detection + failover steps + clients reconnecting through the endpoint switch).
* **RPO** — records acknowledged by the primary but absent on the replica (count), and the
  span of acknowledged writes they cover: last primary ack − ack of the first lost record.
* **duplicates** — sequence numbers the consumer saw more than once (the replay from the
  conservative translated offsets); **gaps** — sequence numbers present on the replica that
  the consumer never saw (must be 0: a gap is a record skipped by offset translation).

Clients find the cluster through an endpoint file (the failover's "file" switch), as an
application reading its bootstrap from config would.  Producers write, after the failover, to
the topic the consumers resume on: the remote topic (``<alias>.<topic>`` under the default
policy, the same name under identity).

Fail back here restarts the primary's brokers, points the endpoint back and restarts MM2 (a
configured pair: points the endpoint back); the records written to the replica during the drill
are *not* copied back (that needs a reverse mirror) and the report says how many.

Why this module is long: the drill is one measured sequence (clients, outage, failover,
counting, fail back) whose steps share the producer's and consumer's ledgers; split, every
step would pass the same half-dozen objects around.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kafkaops.dr.failover import Failover
from kafkaops.dr.pair import DrPair
from kafkaops.dr.settings import EndpointSwitch


@dataclass
class Ack:
    seq: int
    cluster: str
    partition: int
    offset: int
    acked_at: float


@dataclass
class DrillReport:
    topic: str
    remote_topic: str
    group: str
    policy: str
    started_at: float
    primary_killed_at: float
    first_failed_produce_at: float | None
    first_replica_ack_at: float | None
    rto_s: float | None
    rpo_records: int
    rpo_s: float
    acked_primary: int
    acked_replica: int
    consumed: int
    duplicates: int
    gaps: int
    lost_seqs: list[int]
    failover: dict[str, Any]
    failed_back: bool
    written_during_outage: int
    targets: dict[str, float]
    verdict: dict[str, bool] = field(default_factory=dict)
    #: "brokers killed" (sandbox) or "simulated" (a configured pair: clients switched).
    outage: str = "brokers killed"
    #: ``primary -> replica`` cluster names.
    pair: str = ""
    #: Produce and consume per second around the kill (:func:`build_timeline`).
    timeline: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Producer(threading.Thread):
    """Keyed records with sequence numbers, one at a time, through the endpoint file."""

    def __init__(self, drill: Drill, rate: float) -> None:
        super().__init__(daemon=True, name="drill-producer")
        self.d, self.interval = drill, 1.0 / rate
        self.stop = threading.Event()
        self.acks: list[Ack] = []
        self.first_fail: float | None = None
        self.first_replica_ack: float | None = None
        #: (when, cluster) of every produce that failed.
        self.fails: list[tuple[float, str]] = []
        self.seq = 0

    def run(self) -> None:
        from kafka import KafkaProducer

        producer, current = None, None
        while not self.stop.is_set():
            endpoint = self.d.endpoint()
            if endpoint != current:
                if producer is not None:
                    _close_quietly(producer)
                producer, current = None, endpoint
            cluster = self.d.cluster_of(current)
            topic = self.d.topic if cluster == "primary" else self.d.remote
            t0 = time.time()
            try:
                if cluster == "primary" and self.d.primary_down.is_set():
                    raise ConnectionError("simulated outage of the primary")
                if producer is None:
                    producer = KafkaProducer(
                        **{
                            **self.d.client_kwargs(cluster, KafkaProducer, current),
                            # Short timeouts: the drill measures how fast a failure is seen.
                            "acks": "all",
                            "request_timeout_ms": 1500,
                            "delivery_timeout_ms": 3000,
                            "max_block_ms": 2000,
                            "linger_ms": 0,
                            "retries": 2,
                            "reconnect_backoff_max_ms": 500,
                        }
                    )
                md = producer.send(
                    topic, key=f"k{self.seq % 13}".encode(), value=str(self.seq).encode()
                ).get(timeout=4)
                now = time.time()
                self.acks.append(Ack(self.seq, cluster, md.partition, md.offset, now))
                if cluster == "replica" and self.first_replica_ack is None:
                    self.first_replica_ack = now
                self.seq += 1
            except Exception:
                self.fails.append((t0, cluster))
                if self.first_fail is None and cluster == "primary":
                    self.first_fail = t0
                self.seq += 1  # an unacknowledged number is never reused
                time.sleep(0.2)
                continue
            time.sleep(max(0.0, self.interval - (time.time() - t0)))
        if producer is not None:
            _close_quietly(producer)


def _close_quietly(producer: Any) -> None:
    """Close a producer whose cluster is gone: kafka-python's close() raises on records it
    cannot flush and then retries (and prints) from ``__del__``; mark it closed either way."""
    with contextlib.suppress(Exception):
        producer.close(0)
    with contextlib.suppress(Exception):
        producer._closed = True


class _Consumer(threading.Thread):
    """A consumer group member that commits after every poll, through the endpoint file."""

    def __init__(self, drill: Drill) -> None:
        super().__init__(daemon=True, name="drill-consumer")
        self.d = drill
        self.stop = threading.Event()
        #: (cluster, partition, offset, seq) of every record consumed, in order.
        self.seen: list[tuple[str, int, int, int]] = []
        #: (when, cluster, records) of every non-empty poll, for the timeline.
        self.batches: list[tuple[float, str, int]] = []

    def run(self) -> None:
        from kafka import KafkaConsumer

        consumer, current = None, None
        while not self.stop.is_set():
            endpoint = self.d.endpoint()
            if endpoint != current:
                if consumer is not None:
                    with contextlib.suppress(Exception):
                        consumer.close(autocommit=False)
                consumer, current = None, endpoint
            cluster = self.d.cluster_of(current)
            try:
                if cluster == "primary" and self.d.primary_down.is_set():
                    if consumer is not None:
                        with contextlib.suppress(Exception):
                            consumer.close(autocommit=False)
                        consumer = None
                    raise ConnectionError("simulated outage of the primary")
                if consumer is None:
                    if cluster == "replica" and not self.d.offsets_ready.is_set():
                        time.sleep(0.2)  # the failover commits translated offsets first
                        continue
                    consumer = KafkaConsumer(
                        self.d.topic if cluster == "primary" else self.d.remote,
                        **{
                            **self.d.client_kwargs(cluster, KafkaConsumer, current),
                            "group_id": self.d.group,
                            "enable_auto_commit": False,
                            "auto_offset_reset": "earliest",
                            "request_timeout_ms": 3000,
                            "session_timeout_ms": 6000,
                            "heartbeat_interval_ms": 1000,
                            "max_poll_records": 200,
                        },
                    )
                batch = consumer.poll(timeout_ms=300)
                if batch:
                    self.batches.append((time.time(), cluster, sum(map(len, batch.values()))))
                for records in batch.values():
                    for r in records:
                        self.seen.append((cluster, r.partition, r.offset, int(r.value)))
                if batch:
                    consumer.commit()
            except Exception:
                time.sleep(0.3)
        if consumer is not None:
            with contextlib.suppress(Exception):
                consumer.close(autocommit=False)


class Drill:
    def __init__(
        self,
        pair: DrPair,
        *,
        rate: float = 50.0,
        warmup_s: float = 10.0,
        after_s: float = 10.0,
        fail_back: bool = True,
        workdir: Path | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.pair, self.rate, self.warmup_s, self.after_s = pair, rate, warmup_s, after_s
        #: A configured pair: the outage is simulated for the drill's clients (see above).
        self.simulated = pair.mirror is None
        self.fail_back = fail_back
        self.say = progress or (lambda _m: None)
        tag = uuid.uuid4().hex[:6]
        self.topic, self.group = f"drill-{tag}", f"drill-{tag}-consumer"
        self.remote = pair.policy.remote_topic(self.topic)
        self.workdir = workdir or (pair.mirror.root.parent if pair.mirror else Path.cwd())
        self.endpoint_file = self.workdir / f"drill-{tag}.bootstrap"
        self.primary_bs = ",".join(pair.primary_kwargs["bootstrap_servers"])
        self.replica_bs = ",".join(pair.replica_kwargs["bootstrap_servers"])
        self.offsets_ready = threading.Event()
        self.primary_down = threading.Event()
        self.replica_at_outage: set[int] | None = None
        #: The drill's topic exists (so there is something to clean up).
        self.created = False

    def client_kwargs(self, cluster: str, cls: Any, bootstrap: str) -> dict[str, Any]:
        """The configured client settings of ``cluster`` (TLS, SASL, timeouts) that ``cls``
        (KafkaProducer, KafkaConsumer, KafkaAdminClient) accepts, on ``bootstrap``."""
        base = self.pair.primary_kwargs if cluster == "primary" else self.pair.replica_kwargs
        out = {k: v for k, v in base.items() if k in cls.DEFAULT_CONFIG}
        out["bootstrap_servers"] = bootstrap.split(",")
        return out

    def endpoint(self) -> str:
        with contextlib.suppress(OSError):
            return self.endpoint_file.read_text().strip()
        return self.primary_bs

    def cluster_of(self, bootstrap: str) -> str:
        return "replica" if bootstrap == self.replica_bs else "primary"

    # ------------------------------------------------------------------- run
    def run(self) -> DrillReport:
        from kafka import KafkaAdminClient
        from kafka.admin import NewTopic

        mirror = self.pair.mirror
        if mirror is not None and not mirror.running():
            raise RuntimeError("MirrorMaker 2 is not running: 'kafkaops sandbox mirror up'")
        started = time.time()
        admin = KafkaAdminClient(**self.client_kwargs("primary", KafkaAdminClient, self.primary_bs))
        try:
            # As durable as the cluster allows (a real cluster's min.insync.replicas is 2).
            brokers = admin.describe_cluster().get("brokers", [])
            rf = min(3, len([b for b in brokers if not b.get("is_fenced")]) or 1)
            admin.create_topics([NewTopic(self.topic, 2, rf)])
            self.created = True
        finally:
            admin.close()
        self.endpoint_file.write_text(self.primary_bs + "\n")
        producer, consumer = _Producer(self, self.rate), _Consumer(self)
        self.producer, self.consumer = producer, consumer
        producer.start()
        consumer.start()
        self.say(f"producing {self.rate:.0f}/s to {self.topic}; consumer group {self.group}")
        try:
            self._wait_replicated()
        except Exception:
            self._stop_clients()  # before anything cleans up the topic they write to
            raise
        time.sleep(self.warmup_s)
        killed_at = time.time()
        if mirror is not None:
            self.say("killing the primary's brokers (SIGKILL)")
            for n in mirror.source.nodes():
                if n.role == "broker":
                    mirror.source.kill_node(n.node_id)
        else:
            self.say("simulated outage: the drill's clients stop using the primary")
            self.primary_down.set()
            # What a real outage would lose: what the replica holds at this instant.
            self.replica_at_outage = self._replica_records()
        # A drill never fences real producers nor moves real clients: only its own endpoint.
        pair = dataclasses.replace(
            self.pair, settings=self.pair.settings.model_copy(update={"fence_command": None})
        )
        fo = Failover(
            pair,
            accept_data_loss=True,
            groups=[self.group],
            switch=EndpointSwitch(type="file", path=str(self.endpoint_file)),
            verify_timeout_s=60,
            audit_log=(
                self.workdir / "dr-audit.jsonl"
                if mirror is not None
                else Path(self.pair.settings.audit_log)
            ),
            progress=self.say,
        )
        # The consumer may go to the replica only after its offsets are translated.
        orig = fo._commit_offsets

        def commit_then_release(step: Any, apply: bool) -> None:
            orig(step, apply)
            self.offsets_ready.set()

        fo._commit_offsets = commit_then_release  # type: ignore[method-assign]
        result = fo.run(apply=True)
        self.offsets_ready.set()
        time.sleep(self.after_s)
        producer.stop.set()
        producer.join(10)
        self._drain(consumer)
        consumer.stop.set()
        consumer.join(10)
        report = self._measure(started, killed_at, producer, consumer, result.to_dict())
        if self.fail_back:
            self._fail_back(report)
        return report

    def _stop_clients(self) -> None:
        for thread in (self.producer, self.consumer):
            thread.stop.set()
        for thread in (self.producer, self.consumer):
            thread.join(10)

    def _wait_replicated(self, timeout_s: float = 180) -> None:
        from kafkaops.dr.collect import collect_facts

        deadline = time.monotonic() + timeout_s
        p = self.pair
        while time.monotonic() < deadline:
            facts = collect_facts(
                p.primary, p.primary_kwargs, p.replica, p.replica_kwargs, p.policy,
                p.target_alias, offset_syncs_on=p.settings.offset_syncs_location,
            )  # fmt: skip
            if any(g == self.group for g, _t, _p in facts.checkpoints) and (
                self.remote in facts.replica.topics
            ):
                self.say("replicated, and the group is checkpointed on the replica")
                return
            time.sleep(1)
        raise RuntimeError(
            f"MM2 did not replicate {self.topic} (as {self.remote}) and checkpoint "
            f"{self.group} within {timeout_s:.0f}s: do the mirror's topics and groups "
            "filters include drill-.*?"
        )

    def _drain(self, consumer: _Consumer, timeout_s: float = 30) -> None:
        """Let the consumer read to the replica's end before counting.

        Done when every record on the replica has been consumed on *either* cluster: the
        group resumes on the replica at its translated offsets, so what it had read on the
        primary before them is not read again there (waiting for the replica alone to show
        it always ran into the timeout).  A record never consumed anywhere keeps the wait
        going until the timeout; it is then a gap in the report."""
        total = self._replica_records()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            seen = {s for _c, _p, _o, s in consumer.seen}
            if total <= seen or not total:
                return
            time.sleep(0.5)

    def _replica_records(self) -> set[int]:
        from kafkaops.collect.topic_reader import read_topic

        records = read_topic(self.pair.replica_kwargs, self.remote, timeout_s=20)
        return {int(r.value) for r in records}

    def _measure(
        self,
        started: float,
        killed_at: float,
        producer: _Producer,
        consumer: _Consumer,
        failover: dict[str, Any],
    ) -> DrillReport:
        on_replica = self._replica_records()
        # Lost: not on the replica when the primary went away (a simulated outage leaves
        # replication running, so later arrivals do not count as saved).
        saved = on_replica if self.replica_at_outage is None else self.replica_at_outage
        acked_p = [a for a in producer.acks if a.cluster == "primary"]
        acked_r = [a for a in producer.acks if a.cluster == "replica"]
        lost = sorted((a for a in acked_p if a.seq not in saved), key=lambda a: a.seq)
        lost_seqs = [a.seq for a in lost]
        rpo_s = max(a.acked_at for a in acked_p) - min(a.acked_at for a in lost) if lost else 0.0
        counts = Counter(s for _c, _p, _o, s in consumer.seen)
        duplicates = sum(n - 1 for n in counts.values() if n > 1)
        gaps = len(on_replica - set(counts))
        rto = (
            producer.first_replica_ack - producer.first_fail
            if producer.first_replica_ack and producer.first_fail
            else None
        )
        targets = {
            "rto_s": self.pair.targets.rto_ms / 1000,
            "rpo_s": self.pair.targets.rpo_ms / 1000,
        }
        return DrillReport(
            topic=self.topic,
            remote_topic=self.remote,
            group=self.group,
            policy=self.pair.policy.name,
            started_at=started,
            primary_killed_at=killed_at,
            first_failed_produce_at=producer.first_fail,
            first_replica_ack_at=producer.first_replica_ack,
            rto_s=None if rto is None else round(rto, 3),
            rpo_records=len(lost),
            rpo_s=round(rpo_s, 3),
            acked_primary=len(acked_p),
            acked_replica=len(acked_r),
            consumed=len(consumer.seen),
            duplicates=duplicates,
            gaps=gaps,
            lost_seqs=lost_seqs[:1000],
            failover=failover,
            failed_back=False,
            written_during_outage=len(acked_r),
            targets=targets,
            pair=f"{self.pair.primary} -> {self.pair.replica}",
            timeline=build_timeline(
                producer.acks,
                producer.fails,
                consumer.batches,
                origin=killed_at,
                since=killed_at - max(self.warmup_s, 10.0),
            ),
            verdict={
                "rto_met": rto is not None and rto < targets["rto_s"],
                "rpo_met": rpo_s < targets["rpo_s"],
                "no_gaps": gaps == 0,
            },
            outage="simulated" if self.simulated else "brokers killed",
        )

    def _fail_back(self, report: DrillReport) -> None:
        mirror = self.pair.mirror
        if mirror is None:
            self.say("failing back: the drill's clients point at the primary again")
            self.endpoint_file.write_text(self.primary_bs + "\n")
            report.failed_back = True
            return
        self.say("failing back: restarting the primary's brokers, endpoint back, MM2 up")
        for n in mirror.source.nodes():
            if n.role == "broker":
                mirror.source.start_node(n.node_id)
        self.endpoint_file.write_text(self.primary_bs + "\n")
        mirror.up()
        report.failed_back = True

    def cleanup(self) -> list[str]:
        """Delete the drill's topic (primary, then its copy on the replica), its group on
        both and its endpoint file; what could not be deleted is returned, not raised."""
        from kafka import KafkaAdminClient

        left: list[str] = []
        if not self.created:
            return left
        for cluster, bootstrap, topic in (
            ("primary", self.primary_bs, self.topic),
            ("replica", self.replica_bs, self.remote),
        ):
            try:
                admin = KafkaAdminClient(**self.client_kwargs(cluster, KafkaAdminClient, bootstrap))
            except Exception as exc:
                left.append(f"{cluster}: {type(exc).__name__}: {exc}")
                continue
            try:
                for what, call in (
                    (f"topic {topic}", lambda a=admin, t=topic: a.delete_topics([t])),
                    (f"group {self.group}", lambda a=admin: a.delete_groups([self.group])),
                ):
                    try:
                        call()
                    except Exception as exc:
                        left.append(f"{cluster} {what}: {type(exc).__name__}: {exc}")
            finally:
                admin.close()
        self.endpoint_file.unlink(missing_ok=True)
        return left


def build_timeline(
    acks: list[Ack],
    fails: list[tuple[float, str]],
    consumed: list[tuple[float, str, int]],
    *,
    origin: float,
    since: float,
) -> list[dict[str, float]]:
    """Per second from ``since`` to the last event, ``t`` seconds relative to ``origin`` (the
    kill): records acknowledged by the primary / the replica, failed produce attempts, records
    consumed from each.  What the report's chart draws: the outage is the hole between the
    last primary ack and the first replica ack."""
    events = [a.acked_at for a in acks] + [t for t, _ in fails] + [t for t, _, _ in consumed]
    if not events:
        return []
    first, last = int(since - origin) - 1, int(max(events) - origin) + 1
    names = ("acked_primary", "acked_replica", "failed", "consumed_primary", "consumed_replica")
    rows = {t: dict.fromkeys(names, 0.0) for t in range(first, last + 1)}

    def add(when: float, name: str, n: float = 1.0) -> None:
        t = int((when - origin) // 1)
        if t in rows:
            rows[t][name] += n

    for a in acks:
        add(a.acked_at, f"acked_{a.cluster}")
    for when, _cluster in fails:
        add(when, "failed")
    for when, cluster, n in consumed:
        add(when, f"consumed_{cluster}", n)
    return [{"t": float(t), **v} for t, v in sorted(rows.items())]
