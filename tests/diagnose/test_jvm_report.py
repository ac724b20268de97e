"""The JVM report on exporter text as the JMX exporter (1.0.1) writes it (no cluster)."""

from __future__ import annotations

from kafkaops.collect.prometheus import parse_exposition
from kafkaops.diagnose.jvm import MSK_NOTE, analyse, collector

GIB = 1024**3


Pair = tuple[float, float]


def expo(
    gc: tuple[str, str], counts: Pair, sums: Pair, heap: Pair, old_pool: str, old_after: float,
    old_max: float,
) -> str:  # fmt: skip
    young, old = gc
    return f"""
# TYPE jvm_gc_collection_seconds summary
jvm_gc_collection_seconds_count{{gc="{young}"}} {counts[0]}
jvm_gc_collection_seconds_sum{{gc="{young}"}} {sums[0]}
jvm_gc_collection_seconds_count{{gc="{old}"}} {counts[1]}
jvm_gc_collection_seconds_sum{{gc="{old}"}} {sums[1]}
# TYPE jvm_memory_max_bytes gauge
jvm_memory_max_bytes{{area="heap"}} {heap[0]}
# TYPE jvm_memory_init_bytes gauge
jvm_memory_init_bytes{{area="heap"}} {heap[1]}
# TYPE jvm_memory_used_bytes gauge
jvm_memory_used_bytes{{area="heap"}} {heap[1] / 2}
# TYPE jvm_memory_pool_max_bytes gauge
jvm_memory_pool_max_bytes{{pool="{old_pool}"}} {old_max}
# TYPE jvm_memory_pool_collection_used_bytes gauge
jvm_memory_pool_collection_used_bytes{{pool="{old_pool}"}} {old_after}
# TYPE jvm_runtime_info gauge
jvm_runtime_info{{runtime="OpenJDK Runtime Environment",vendor="Debian",version="17.0.15"}} 1
"""


def pair(before: str, after: str, dt: float = 10.0):
    return parse_exposition(before, taken_at=0.0), parse_exposition(after, taken_at=dt)


def test_runbook_shaped_g1_broker_is_clean() -> None:
    g1 = ("G1 Young Generation", "G1 Old Generation")
    a = expo(g1, (100, 0), (1.0, 0), (6 * GIB, 6 * GIB), "G1 Old Gen", 1 * GIB, 6 * GIB)
    b = expo(g1, (110, 0), (1.1, 0), (6 * GIB, 6 * GIB), "G1 Old Gen", 1 * GIB, 6 * GIB)
    report = analyse("c", {1: pair(a, b)}, {}, msk=False)
    [node] = report.nodes
    assert (node.gc, node.runtime, node.old_collections) == ("G1", "17.0.15", 0)
    assert abs(node.gc_time_percent - 1.0) < 1e-9  # 0.1 s of GC in 10 s
    assert abs(node.gc_mean_pause_ms - 10.0) < 1e-9
    assert report.findings == () and report.severity == "OK"


def test_serial_gc_small_growing_heap_full_after_gc() -> None:
    serial = ("Copy", "MarkSweepCompact")
    a = expo(serial, (7, 2), (0.3, 0.4), (0.4 * GIB, 0.1 * GIB), "Tenured Gen", 0.2e9, 0.25e9)
    b = expo(serial, (9, 4), (0.4, 1.9), (0.4 * GIB, 0.1 * GIB), "Tenured Gen", 0.23e9, 0.25e9)
    report = analyse("c", {1: pair(a, b)}, {2: "http://x: ConnectError"}, msk=False)
    codes = {f.code: f.severity for f in report.findings}
    assert codes == {
        "heap_after_gc_high": "P1",  # 92 % of the old generation live after GC
        "gc_time_high": "P2",  # 1.6 s in 10 s
        "gc_pause_long": "P2",  # 1.6 s over 4 collections = 400 ms
        "gc_not_g1": "P2",
        "heap_not_fixed": "INFO",
        "heap_small": "INFO",
    }
    assert report.nodes[0].old_collections == 2
    assert report.nodes[1].error == "http://x: ConnectError"
    assert report.severity == "P1"


def test_on_msk_no_flag_advice_only_load_findings() -> None:
    serial = ("Copy", "MarkSweepCompact")
    a = expo(serial, (7, 2), (0.3, 0.4), (0.4 * GIB, 0.1 * GIB), "Tenured Gen", 0.2e9, 0.25e9)
    report = analyse("c", {1: pair(a, a)}, {}, msk=True)
    assert {f.code for f in report.findings} == {"heap_after_gc_high"}
    assert "instance type" in report.findings[0].advice
    assert MSK_NOTE in report.notes


def test_collector_names() -> None:
    assert collector(["PS MarkSweep", "PS Scavenge"]) == "Parallel"
    assert collector(["ZGC Cycles", "ZGC Pauses"]) == "ZGC"
    assert collector([]) == "not reported"
