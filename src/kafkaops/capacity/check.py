"""The daily capacity check as findings for the normal incident flow.

Runbook: "scale if < 30 days" → P2 ``disk_full_forecast`` when a broker's log dir is forecast
to fill within ``headroom_days`` (30); P1 within ``p1_days`` (7).  One finding per broker log
dir (subject ``broker 1 /data``), ok while it is not filling, so the incident engine resolves
it when growth stops or storage was added.  Not enough history is *not measured*, never ok.

:class:`CapacityCheck` caches the findings per cluster for ``every`` (the forecast changes once
a day; the watch loop runs every few seconds), so the watch cycle can ask every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kafkaops.capacity.analysis import CapacityReport, analyse
from kafkaops.capacity.settings import CapacitySettings
from kafkaops.capacity.store import CapacityStore
from kafkaops.core.model import CheckStatus, Finding, Severity
from kafkaops.evaluate.runbook import response_for

RULE = "disk_full_forecast"
TITLE = "Disk full forecast (runbook: scale if < 30 days)"


def capacity_findings(report: CapacityReport) -> list[Finding]:
    s = report.settings
    out: list[Finding] = []
    for d in report.disks:
        subject = f"broker {d.broker} {d.log_dir}"
        if d.fit is None or not d.capacity_bytes:
            why = str(d.not_enough) if d.not_enough else (d.note or "no capacity")
            out.append(
                Finding(
                    rule=RULE,
                    severity=Severity.OK,
                    status=CheckStatus.NOT_MEASURED,
                    title=TITLE,
                    value=None,
                    threshold=float(s.headroom_days),
                    unit="days",
                    subject=subject,
                    evidence=(why,),
                    source="history",
                )
            )
            continue
        full = d.crossings["full"]
        days = full.days
        severity = Severity.OK
        if days is not None and days < s.p1_days:
            severity = Severity.P1
        elif days is not None and days < s.headroom_days:
            severity = Severity.P2
        triggered = severity != Severity.OK
        evidence = [
            f"used {d.used_percent:.1f}% of {d.capacity_bytes / 1024**3:.0f} GiB "
            f"({d.basis}), growing {d.fit.slope_per_day / 1024**3:.2f} GiB/day",
        ]
        if days is not None:
            lo = "?" if full.earliest is None else f"{full.earliest:.0f}"
            hi = f"> {report.horizon_days}" if full.latest is None else f"{full.latest:.0f}"
            evidence.append(
                f"full in {days:.1f} days ({round(d.fit.level * 100)}% interval {lo}–{hi})"
            )
        else:
            evidence.append(f"not full within {report.horizon_days} days")
        for r in report.recommendations:
            if r.kind == "storage":
                evidence.append(r.action)
        out.append(
            Finding(
                rule=RULE,
                severity=severity,
                status=CheckStatus.TRIGGERED if triggered else CheckStatus.OK,
                title=TITLE,
                value=None if days is None else round(days, 1),
                threshold=float(s.p1_days if severity == Severity.P1 else s.headroom_days),
                unit="days",
                subject=subject,
                evidence=tuple(evidence),
                source="history (forecast)",
                response=response_for(severity) if triggered else (),
            )
        )
    return out


@dataclass
class CapacityCheck:
    """Findings per cluster, recomputed at most every ``every_s`` seconds."""

    settings: CapacitySettings
    every_s: float = 3600.0
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, list[Finding]]] = field(default_factory=dict)

    def findings(self, store: CapacityStore, cluster: str) -> list[Finding]:
        hit = self._cache.get(cluster)
        now = self.clock()
        if hit is not None and now - hit[0] < self.every_s:
            return hit[1]
        found = capacity_findings(analyse(store, cluster, self.settings))
        self._cache[cluster] = (now, found)
        return found
