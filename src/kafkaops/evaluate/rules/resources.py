"""Resource rules: broker disk usage from the log dirs, the metrics source's figure otherwise.

CPU, memory, producer error rate and network I/O come only from a metrics source and live in
:mod:`kafkaops.evaluate.rules.metrics`.
"""

from __future__ import annotations

from kafkaops.core.model import ClusterSnapshot, Finding, Severity
from kafkaops.core.units import format_bytes
from kafkaops.evaluate.findings import result
from kafkaops.evaluate.rules.metrics import disk_from_metrics
from kafkaops.evaluate.settings import Thresholds


def _disk_per_broker(snapshot: ClusterSnapshot) -> dict[int, tuple[int, int, list[str]]]:
    """``broker → (total, used, paths)`` over log dirs that report their capacity."""
    out: dict[int, tuple[int, int, list[str]]] = {}
    for d in snapshot.log_dirs:
        if d.error or not d.total_bytes or d.usable_bytes is None:
            continue
        total, used, paths = out.get(d.broker, (0, 0, []))
        out[d.broker] = (
            total + d.total_bytes,
            used + d.total_bytes - d.usable_bytes,
            [*paths, d.path],
        )
    return out


def disk_usage(snapshot: ClusterSnapshot, thresholds: Thresholds) -> list[Finding]:
    """Per broker: (total − usable) / total of its log-dir filesystems, as ``df`` shows it."""
    crit, warn = thresholds.critical.disk_usage, thresholds.warning.disk_usage
    per_broker = _disk_per_broker(snapshot)
    if not per_broker:
        return disk_from_metrics(
            snapshot.metrics,
            thresholds,
            "no log dir reported its capacity (needs Kafka 3.3+ brokers: DescribeLogDirs v4) "
            "and no metrics source reported disk usage",
        )
    out = []
    for broker, (total, used, paths) in sorted(per_broker.items()):
        pct = 100.0 * used / total
        severity, threshold = (Severity.P1, crit) if pct > crit else (Severity.P2, warn)
        out.append(
            result(
                "disk_usage",
                severity,
                pct > threshold,
                round(pct, 2),
                threshold,
                subject=f"broker {broker}",
                evidence=[
                    f"broker {broker}: {pct:.1f}% used ({format_bytes(used)} of "
                    f"{format_bytes(total)}) in {', '.join(paths)}"
                ],
            )
        )
    return out
