"""Benchmark: decoding a snapshot's big responses — kafka-python's decoder vs ``fastdecode``.

Takes one snapshot of a running cluster (``--bootstrap``; e.g. the lag benchmark's cluster left
by ``lag_bench.py --keep``), keeps the body of every Metadata, ListOffsets, OffsetFetch and
DescribeGroups response it received, then decodes each body ``--runs`` times both ways in this
process: kafka-python 3's generated decoder (``Response[v].decode``, what the snapshot used
before) and :func:`kafkaops.collect.fastdecode.decode`.  Checks the two agree field by field
(``fastdecode.plain``) and prints a Markdown table of medians per response kind.

    .venv/bin/python bench/decode_bench.py --bootstrap 127.0.0.1:37092
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict

from kafka.protocol.admin import DescribeGroupsResponse
from kafka.protocol.consumer import ListOffsetsResponse, OffsetFetchResponse
from kafka.protocol.metadata import MetadataResponse

from kafkaops.collect import fastdecode as fd
from kafkaops.collect.admin import CollectOptions
from kafkaops.collect.snapshot import collect_snapshot

CLASSES = {
    c.API_KEY: c
    for c in (MetadataResponse, ListOffsetsResponse, OffsetFetchResponse, DescribeGroupsResponse)
}


def record(bootstrap: str) -> list[tuple[int, int, bytes]]:
    """Bodies of the responses one snapshot decodes with fastdecode."""
    bodies: list[tuple[int, int, bytes]] = []
    real = fd.decode

    def recording(api_key: int, version: int, body: bytes) -> fd.FastResponse:
        bodies.append((api_key, version, bytes(body)))
        return real(api_key, version, body)

    fd.decode = recording  # type: ignore[assignment]
    try:
        snap = collect_snapshot(
            "bench", {"bootstrap_servers": bootstrap}, CollectOptions(time_lag_method="none")
        )
    finally:
        fd.decode = real  # type: ignore[assignment]
    parts = sum(len(t.partitions) for t in snap.topics)
    offsets = sum(len(g.partitions) for g in snap.groups)
    print(f"{parts} partitions, {len(snap.groups)} groups, {offsets} group-partitions",
          file=sys.stderr)  # fmt: skip
    return bodies


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    bodies = record(args.bootstrap)
    theirs: dict[str, list[float]] = defaultdict(list)
    ours: dict[str, list[float]] = defaultdict(list)
    sizes: dict[str, int] = defaultdict(int)
    for api_key, version, body in bodies:
        cls = CLASSES[api_key]
        name = f"{cls.__name__.removesuffix('Response')} v{version}"
        sizes[name] += len(body)
        fast = fd.decode(api_key, version, body)
        assert fast.fast, name
        assert fast.fields == fd.plain(cls[version].decode(body)).fields, name
    for _ in range(args.runs):
        per_kind_theirs: dict[str, float] = defaultdict(float)
        per_kind_ours: dict[str, float] = defaultdict(float)
        for api_key, version, body in bodies:
            cls = CLASSES[api_key]
            name = f"{cls.__name__.removesuffix('Response')} v{version}"
            versioned = cls[version]
            start = time.perf_counter()
            versioned.decode(body)
            per_kind_theirs[name] += time.perf_counter() - start
            start = time.perf_counter()
            fd.decode(api_key, version, body)
            per_kind_ours[name] += time.perf_counter() - start
        for name, t in per_kind_theirs.items():
            theirs[name].append(t)
            ours[name].append(per_kind_ours[name])
    med = statistics.median
    print(
        "| response (all of one snapshot) | bytes | kafka-python decode | fastdecode | faster by |"
    )
    print("|---|---|---|---|---|")
    for name in sorted(theirs):
        a, b = med(theirs[name]), med(ours[name])
        print(
            f"| {name} | {sizes[name]:,} | {a * 1000:.0f} ms | {b * 1000:.0f} ms | {a / b:.1f}× |"
        )
    a = sum(med(v) for v in theirs.values())
    b = sum(med(v) for v in ours.values())
    print(f"| **total** | {sum(sizes.values()):,} | {a * 1000:.0f} ms | {b * 1000:.0f} ms "
          f"| {a / b:.1f}× |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
