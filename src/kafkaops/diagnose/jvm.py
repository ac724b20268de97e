"""The broker JVM against the runbook's tuning guide (``broker-tuning.sh``), from the JMX source.

The runbook prints fixed settings — ``-Xmx6g -Xms6g``, G1 with ``MaxGCPauseMillis=20`` and
``InitiatingHeapOccupancyPercent=35`` — without looking at the brokers.  Here each node's JMX
exporter is read twice, a window apart, and what is *in use* is compared with that guide:

* **heap**: ``jvm_memory_max_bytes{area="heap"}`` is ``-Xmx``, ``jvm_memory_init_bytes`` is
  ``-Xms``.  Xms < Xmx means the heap grows (and pauses) under load; the runbook's 6 GiB is a
  reasonable ceiling — Kafka lives on the page cache, so a larger heap only steals it.
* **collector**: from the ``gc`` label of ``jvm_gc_collection_seconds`` (``G1 Young Generation``
  → G1; ``Copy``/``MarkSweepCompact`` → Serial; ``PS *`` → Parallel; ``ZGC*``; …).
* **GC load over the window**: share of wall time spent collecting, mean pause, old-generation
  collections, and the old generation's occupancy right after its last collection
  (``jvm_memory_pool_collection_used_bytes``) — MSK's ``HeapMemoryAfterGC``, whose AWS
  guidance is "above 60 %: investigate".

What the exporter cannot tell: the remaining flags (``MaxGCPauseMillis``, IHOP).  They are not
guessed; the report says so.  OS settings (swappiness, file descriptors, TCP buffers) are not
visible over JMX at all.  On MSK the JVM and the OS are AWS's: the runbook's broker tuning
does not apply there and the report says that instead of advising flags nobody can set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from kafkaops.collect.prometheus import Scrape, counter_increase

GIB = 1024**3
#: The runbook's heap (``-Xmx6g``); beyond ~8 GiB the heap only takes page cache from Kafka.
RUNBOOK_HEAP = 6 * GIB
LARGE_HEAP = 8 * GIB
SMALL_HEAP = 1 * GIB
#: Old generation occupancy after a collection (AWS's HeapMemoryAfterGC guidance: 60 %).
AFTER_GC_WARN = 60.0
AFTER_GC_P1 = 85.0
GC_SHARE_WARN = 5.0  # percent of wall time in GC over the window
PAUSE_WARN_MS = 200.0  # mean pause: near replica.lag.time.max.ms / session timeouts it hurts
MSK_NOTE = (
    "MSK manages the broker JVM and OS: the runbook's broker tuning (heap, GC flags, sysctl) "
    "cannot be applied; watch HeapMemoryAfterGC (CloudWatch, PER_BROKER) and scale the "
    "instance type instead"
)
NOT_VISIBLE = (
    "not visible over JMX: MaxGCPauseMillis, InitiatingHeapOccupancyPercent and OS settings "
    "(check the broker's command line: ps -o args -p PID, and sysctl)"
)


def collector(names: list[str]) -> str:
    """The GC algorithm from the JVM's collector bean names."""
    joined = " ".join(names)
    for marker, name in (
        ("G1", "G1"),
        ("ZGC", "ZGC"),
        ("Shenandoah", "Shenandoah"),
        ("PS ", "Parallel"),
        ("ConcurrentMarkSweep", "CMS"),
        ("ParNew", "CMS"),
        ("MarkSweepCompact", "Serial"),
        ("Copy", "Serial"),
    ):
        if marker in joined:
            return name
    return "unknown" if names else "not reported"


@dataclass(frozen=True)
class JvmNode:
    node_id: int
    runtime: str | None = None
    heap_max_bytes: float | None = None
    heap_init_bytes: float | None = None
    heap_used_bytes: float | None = None
    gc: str = "not reported"
    collectors: list[str] = field(default_factory=list)
    #: Percent of the window's wall time spent in GC.
    gc_time_percent: float | None = None
    gc_mean_pause_ms: float | None = None
    old_collections: int | None = None
    #: Old generation occupancy after its last collection, percent of its maximum.
    old_after_gc_percent: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class JvmFinding:
    code: str
    severity: str  # P1 | P2 | INFO
    subject: str
    title: str
    evidence: str
    advice: str


@dataclass(frozen=True)
class JvmReport:
    cluster: str
    window_s: float
    msk: bool
    nodes: tuple[JvmNode, ...]
    findings: tuple[JvmFinding, ...]
    notes: tuple[str, ...] = ()

    @property
    def severity(self) -> str:
        sevs = {f.severity for f in self.findings}
        return "P1" if "P1" in sevs else "P2" if "P2" in sevs else "OK"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "severity": self.severity}


def _one(scrape: Scrape, name: str, **labels: str) -> float | None:
    found = scrape.matching(name, **labels)
    return next(iter(found.values()), None) if found else None


def _old_pool(scrape: Scrape) -> str | None:
    pools = {dict(k).get("pool", "") for k in scrape.series.get("jvm_memory_pool_max_bytes", {})}
    for name in ("G1 Old Gen", "Tenured Gen", "PS Old Gen", "CMS Old Gen", "ZGC Old Generation"):
        if name in pools:
            return name
    return None


def jvm_node(node_id: int, prev: Scrape, cur: Scrape) -> JvmNode:
    """One node's JVM from two scrapes of its exporter."""
    counts = cur.series.get("jvm_gc_collection_seconds_count", {})
    names = sorted(dict(k).get("gc", "") for k in counts)
    dt = cur.taken_at - prev.taken_at
    gc_s = n_gc = 0.0
    old_n = 0
    measured = False
    for labels, count in counts.items():
        before = prev.series.get("jvm_gc_collection_seconds_count", {}).get(labels)
        s0 = prev.series.get("jvm_gc_collection_seconds_sum", {}).get(labels)
        s1 = cur.series.get("jvm_gc_collection_seconds_sum", {}).get(labels)
        if before is None or s0 is None or s1 is None:
            continue
        measured = True
        n = counter_increase(before, count)
        n_gc += n
        gc_s += counter_increase(s0, s1)
        gc_name = dict(labels).get("gc", "")
        if any(w in gc_name for w in ("Old", "MarkSweep", "Major")):
            old_n += round(n)
    old = _old_pool(cur)
    after_gc = None
    if old:
        used = _one(cur, "jvm_memory_pool_collection_used_bytes", pool=old)
        cap = _one(cur, "jvm_memory_pool_max_bytes", pool=old)
        if used is not None and cap and cap > 0:
            after_gc = 100.0 * used / cap
    runtime = next(iter(cur.series.get("jvm_runtime_info", {})), None)
    return JvmNode(
        node_id=node_id,
        runtime=dict(runtime).get("version") if runtime else None,
        heap_max_bytes=_one(cur, "jvm_memory_max_bytes", area="heap"),
        heap_init_bytes=_one(cur, "jvm_memory_init_bytes", area="heap"),
        heap_used_bytes=_one(cur, "jvm_memory_used_bytes", area="heap"),
        gc=collector(names),
        collectors=names,
        gc_time_percent=100.0 * gc_s / dt if measured and dt > 0 else None,
        gc_mean_pause_ms=1000.0 * gc_s / n_gc if n_gc > 0 else None,
        old_collections=old_n if measured else None,
        old_after_gc_percent=after_gc,
    )


def _gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


def judge(node: JvmNode, msk: bool) -> list[JvmFinding]:
    """The node against the runbook's guide; on MSK only the load findings (nothing to set)."""
    out: list[JvmFinding] = []
    subject = f"node {node.node_id}"
    fix = "MSK: scale the instance type" if msk else ""
    if node.old_after_gc_percent is not None and node.old_after_gc_percent >= AFTER_GC_WARN:
        pct = node.old_after_gc_percent
        out.append(
            JvmFinding(
                "heap_after_gc_high",
                "P1" if pct >= AFTER_GC_P1 else "P2",
                subject,
                "old generation stays full after GC: heap too small for the live data",
                f"{pct:.0f}% of the old generation in use right after its last collection",
                fix
                or "raise -Xmx (KAFKA_HEAP_OPTS) up to ~6 GiB, or find what holds memory "
                "(many partitions, large max.message.bytes, transactional.id.expiration.ms)",
            )
        )
    if node.gc_time_percent is not None and node.gc_time_percent >= GC_SHARE_WARN:
        out.append(
            JvmFinding(
                "gc_time_high",
                "P2",
                subject,
                "the broker spends a large share of its time in GC",
                f"{node.gc_time_percent:.1f}% of the window in GC, mean pause "
                f"{node.gc_mean_pause_ms or 0:.0f} ms",
                fix or "G1 with -XX:MaxGCPauseMillis=20 and a heap sized to the live data",
            )
        )
    if node.gc_mean_pause_ms is not None and node.gc_mean_pause_ms >= PAUSE_WARN_MS:
        out.append(
            JvmFinding(
                "gc_pause_long",
                "P2",
                subject,
                "long GC pauses (followers drop out of ISR, clients time out)",
                f"mean pause {node.gc_mean_pause_ms:.0f} ms over the window",
                fix or "use G1 (-XX:+UseG1GC -XX:MaxGCPauseMillis=20), not a stop-the-world GC",
            )
        )
    if msk:
        return out
    if node.gc not in ("G1", "ZGC", "Shenandoah", "not reported", "unknown"):
        out.append(
            JvmFinding(
                "gc_not_g1",
                "P2",
                subject,
                f"{node.gc} collector: pauses grow with the heap (runbook: G1)",
                f"collectors {', '.join(node.collectors)}",
                'KAFKA_JVM_PERFORMANCE_OPTS="-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 '
                '-XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent"',
            )
        )
    hmax, hinit = node.heap_max_bytes, node.heap_init_bytes
    if hmax and hinit and hinit < hmax * 0.95:
        out.append(
            JvmFinding(
                "heap_not_fixed",
                "INFO",
                subject,
                "-Xms below -Xmx: the heap resizes (and pauses) under load",
                f"-Xms {_gib(hinit)}, -Xmx {_gib(hmax)}",
                f'KAFKA_HEAP_OPTS="-Xmx{round(hmax / GIB) or 1}g -Xms{round(hmax / GIB) or 1}g"',
            )
        )
    if hmax and hmax > LARGE_HEAP:
        out.append(
            JvmFinding(
                "heap_large",
                "INFO",
                subject,
                "heap above 8 GiB: memory the page cache (Kafka's real read cache) does not get",
                f"-Xmx {_gib(hmax)} (runbook: 6 GiB)",
                'KAFKA_HEAP_OPTS="-Xmx6g -Xms6g" unless the heap after GC needs more',
            )
        )
    elif hmax and hmax < SMALL_HEAP:
        out.append(
            JvmFinding(
                "heap_small",
                "INFO",
                subject,
                "heap under 1 GiB: fine for a test cluster, small for production",
                f"-Xmx {_gib(hmax)} (runbook: 6 GiB)",
                'KAFKA_HEAP_OPTS="-Xmx6g -Xms6g" on production brokers',
            )
        )
    return out


def analyse(
    cluster: str,
    pairs: Mapping[int, tuple[Scrape, Scrape]],
    errors: Mapping[int, str],
    msk: bool,
) -> JvmReport:
    """The report from two scrapes per node (pure: tests feed exposition text)."""
    nodes = [jvm_node(n, *pairs[n]) for n in sorted(pairs)]
    nodes += [JvmNode(node_id=n, error=e) for n, e in sorted(errors.items())]
    nodes.sort(key=lambda n: n.node_id)
    findings = [f for n in nodes if not n.error for f in judge(n, msk)]
    notes = [MSK_NOTE] if msk else [NOT_VISIBLE]
    if nodes and all(n.gc == "not reported" for n in nodes if not n.error):
        notes.append("no jvm_* series: the exporter's default JVM collectors are switched off")
    windows = [cur.taken_at - prev.taken_at for prev, cur in pairs.values()]
    return JvmReport(
        cluster=cluster,
        window_s=round(max(windows), 3) if windows else 0.0,
        msk=msk,
        nodes=tuple(nodes),
        findings=tuple(findings),
        notes=tuple(notes),
    )
