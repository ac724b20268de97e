"""SLIs, budget and burn rates from the recorded verdicts.

*Availability* is bad while any of the runbook's "cannot write or cannot read" signals fired in
a cycle: the P0 ``cluster_offline`` (N cycles unreachable), offline partitions, no active
controller, or partitions under ``min.insync.replicas`` (``acks=all`` producers fail).  The
partition conditions count on the watched topics (``slo.topics``; default every topic).

*Freshness* is bad while a critical group's worst partition time lag exceeds the threshold;
unknown while the group is absent or its time lag unmeasured.

Time is attributed cycle by cycle: a verdict at ``t`` covers ``[t, min(next, t + 1.5 ×
interval))`` — a late cycle does not open a gap, a stopped watcher does: the rest is *unknown*,
reported as such and left out of the SLI (which is good / (good + bad)), never counted good.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafkaops.core.model import CheckStatus, ClusterSnapshot, Finding, HealthReport, Severity
from kafkaops.slo.settings import SloSettings
from kafkaops.slo.store import Verdict

#: Rules whose firing means writes or reads fail: availability is bad for that cycle.
UNAVAILABLE_RULES = (
    "cluster_offline",
    "offline_partitions",
    "active_controller",
    "under_min_isr_partitions",
)
#: The rules that are about partitions: with ``slo.topics`` set they count on those topics only.
TOPIC_RULES = ("offline_partitions", "under_min_isr_partitions")
#: Canary findings that mean a write with acks=all failed this cycle (slow is not down).
CANARY_UNAVAILABLE_RULES = ("canary_produce_failed", "canary_replication_stalled")
#: A cycle covers up to this many intervals when the next one is late (a slow collection).
GRACE = 1.5
SLIS = ("availability", "freshness")


def verdict_for(
    report: HealthReport,
    snapshot: ClusterSnapshot | None,
    settings: SloSettings,
    ts_ms: int,
    span_ms: int,
    canary: Sequence[Finding] | None = None,
) -> Verdict:
    """One cycle's verdict from its health report (and its snapshot, for freshness).

    ``canary``: the findings of this cycle's canary round, None when no round ran.  The canary
    is the direct measurement (a record written with acks=all and read back through every
    broker), so a failed round makes the cycle unavailable even when metadata looks healthy
    (a hung broker stays registered and leads its partitions).  The metadata signals still
    count beside it: they cover every topic, the canary only its own partitions.
    """
    fired = [
        f.rule
        for f in report.checks
        if f.rule in UNAVAILABLE_RULES and f.status == CheckStatus.TRIGGERED
    ]
    if settings.topics and snapshot is not None:
        fired = [r for r in fired if r not in TOPIC_RULES] + watched_topic_reasons(
            snapshot, settings.topics
        )
    if canary:
        fired += [
            f"{f.rule}({f.subject})"
            for f in canary
            if f.rule in CANARY_UNAVAILABLE_RULES and f.status == CheckStatus.TRIGGERED
        ]
    reasons = list(dict.fromkeys(fired))
    available = not fired
    fresh: bool | None = None
    if settings.freshness_groups and snapshot is not None:
        groups = {g.group_id: g for g in snapshot.groups}
        lags = [groups[g].max_time_lag_ms() if g in groups else None
                for g in settings.freshness_groups]  # fmt: skip
        late = [g for g, lag in zip(settings.freshness_groups, lags, strict=True)
                if lag is not None and lag > settings.freshness_max_lag]  # fmt: skip
        if late:
            fresh = False
            reasons.append("stale: " + ",".join(late))
        elif all(lag is not None for lag in lags):
            fresh = True
    return Verdict(ts_ms, span_ms, available, fresh, "; ".join(reasons))


def watched_topic_reasons(snapshot: ClusterSnapshot, patterns: Sequence[str]) -> list[str]:
    """``offline_partitions(t-0,…)`` / ``under_min_isr_partitions(…)`` for the watched topics.

    The same conditions as the health rules (an offline partition is not also counted under
    min ISR), restricted to topics that match one of ``patterns`` in full.
    """
    watched = re.compile("|".join(f"(?:{p})" for p in patterns))
    offline = [p.name for p in snapshot.offline_partitions if watched.fullmatch(p.topic)]
    under = [
        p.name
        for p in snapshot.under_min_isr_partitions
        if not p.offline and watched.fullmatch(p.topic)
    ]
    out = []
    for rule, names in (("offline_partitions", offline), ("under_min_isr_partitions", under)):
        if names:
            shown = ",".join(names[:3]) + (f",+{len(names) - 3}" if len(names) > 3 else "")
            out.append(f"{rule}({shown})")
    return out


@dataclass(frozen=True)
class Span:
    """A stretch of time with one state: True good, False bad, None unknown."""

    start_ms: int
    end_ms: int
    good: bool | None
    reason: str = ""


def spans(verdicts: Sequence[Verdict], sli: str, start_ms: int, end_ms: int) -> list[Span]:
    """The period cut into good / bad / unknown spans (adjacent equal states merged).

    One pass, no per-verdict objects: a month of 10-second cycles is 260,000 verdicts.
    """
    out: list[Span] = []
    # The open span: [cur_a, cur_b) in state cur_s (``missing`` before the first).
    missing = object()
    cur_a, cur_b, cur_s, cur_r = start_ms, start_ms, missing, ""

    def add(a: int, b: int, state: object, reason: str) -> None:
        nonlocal cur_a, cur_b, cur_s, cur_r
        a, b = max(a, start_ms), min(b, end_ms)
        if b <= a:
            return
        if state is cur_s and cur_b == a:
            cur_b = b
            return
        if cur_s is not missing:
            out.append(Span(cur_a, cur_b, cur_s, cur_r))  # type: ignore[arg-type]
        cur_a, cur_b, cur_s, cur_r = a, b, state, reason

    cursor = start_ms
    avail = sli == "availability"
    n = len(verdicts)
    for i, v in enumerate(verdicts):
        ts = v.ts_ms
        if ts >= end_ms:
            break
        end = ts + int(GRACE * v.span_ms)
        if i + 1 < n and verdicts[i + 1].ts_ms < end:
            end = verdicts[i + 1].ts_ms
        if end <= start_ms:
            continue
        if ts > cursor:
            add(cursor, ts, None, "")
        state = v.available if avail else v.fresh
        add(max(ts, cursor), end, state, v.reason if state is False else "")
        if end > cursor:
            cursor = end
    add(cursor, end_ms, None, "")
    if cur_s is not missing:
        out.append(Span(cur_a, cur_b, cur_s, cur_r))  # type: ignore[arg-type]
    return out


@dataclass(frozen=True)
class Totals:
    good_ms: int = 0
    bad_ms: int = 0
    unknown_ms: int = 0

    @property
    def known_ms(self) -> int:
        return self.good_ms + self.bad_ms

    @property
    def ratio(self) -> float | None:
        """good / known, or None when nothing was observed."""
        return self.good_ms / self.known_ms if self.known_ms else None


def totals(parts: Iterable[Span]) -> Totals:
    good = bad = unknown = 0
    for s in parts:
        d = s.end_ms - s.start_ms
        if s.good is True:
            good += d
        elif s.good is False:
            bad += d
        else:
            unknown += d
    return Totals(good, bad, unknown)


def burn_rate(verdicts: Sequence[Verdict], sli: str, now_ms: int, window_ms: int,
              settings: SloSettings) -> float | None:  # fmt: skip
    """Bad share of the observed time in the last ``window_ms``, over the allowed share.

    1.0 spends the budget exactly over the SLO window; None when nothing was observed.
    """
    # Only the window's verdicts (and the one before it, which may cover its start).
    first = max(0, bisect_left(verdicts, now_ms - window_ms, key=lambda v: v.ts_ms) - 1)
    t = totals(spans(verdicts[first:], sli, now_ms - window_ms, now_ms))
    if not t.known_ms:
        return None
    return (t.bad_ms / t.known_ms) / (1 - settings.objective / 100)


def burn_findings(
    verdicts: Sequence[Verdict], now_ms: int, settings: SloSettings, slis: Iterable[str] = SLIS
) -> list[Finding]:
    """One finding per SLI and burn window, triggered when both windows burn at ``factor``.

    Always returned (ok or triggered), so the incident engine resolves what stopped burning.
    An SLI never observed in the long window yields nothing (freshness without groups).
    """
    out = []
    for sli in slis:
        for w in settings.burn_windows:
            long_rate = burn_rate(verdicts, sli, now_ms, w.long, settings)
            if long_rate is None:
                continue
            short_rate = burn_rate(verdicts, sli, now_ms, w.short, settings) or 0.0
            fired = long_rate >= w.factor and short_rate >= w.factor
            sev = Severity(w.severity)
            label = f"{_dur(w.long)}/{_dur(w.short)}"
            out.append(
                Finding(
                    rule=f"slo_burn_{_dur(w.long)}",
                    severity=sev if fired else Severity.OK,
                    status=CheckStatus.TRIGGERED if fired else CheckStatus.OK,
                    title=f"{sli.capitalize()} SLO error budget burning ≥ {w.factor:g}× ({label})",
                    value=round(min(long_rate, short_rate), 2),
                    threshold=w.factor,
                    unit="ratio",
                    subject=sli,
                    evidence=(
                        f"burn rate {long_rate:.1f}× over {_dur(w.long)}, "
                        f"{short_rate:.1f}× over {_dur(w.short)} "
                        f"(objective {settings.objective:g} %)",
                    ),
                    source="slo",
                    response=(
                        "Find the cause: kafkaops health; kafkaops incidents list",
                        f"Budget: kafkaops slo --cluster <name> ({_budget_text(settings)})",
                    )
                    if fired
                    else (),
                )
            )
    return out


def _dur(ms: int) -> str:
    if ms % 86_400_000 == 0:
        return f"{ms // 86_400_000}d"
    if ms % 3_600_000 == 0:
        return f"{ms // 3_600_000}h"
    if ms % 60_000 == 0:
        return f"{ms // 60_000}m"
    return f"{ms // 1000}s"


def _budget_text(settings: SloSettings) -> str:
    return f"{settings.budget_ms / 60_000:.1f} min per {settings.window_days} days"


@dataclass
class SliResult:
    """One SLI over one period: the totals, the budget, and the bad spans."""

    name: str
    totals: Totals
    budget_ms: int
    objective: float
    bad_spans: list[Span] = field(default_factory=list)
    #: (ms, cumulative bad ms) at each change: the budget-burn chart.
    burn: list[tuple[int, int]] = field(default_factory=list)

    @property
    def spent_ms(self) -> int:
        return self.totals.bad_ms

    @property
    def left_ms(self) -> int:
        return self.budget_ms - self.spent_ms

    @property
    def met(self) -> bool | None:
        r = self.totals.ratio
        return None if r is None else 100 * r >= self.objective

    def to_dict(self) -> dict[str, Any]:
        r = self.totals.ratio
        return {
            "sli": self.name,
            "objective_percent": self.objective,
            "sli_percent": None if r is None else round(100 * r, 4),
            "met": self.met,
            "good_minutes": round(self.totals.good_ms / 60_000, 2),
            "bad_minutes": round(self.totals.bad_ms / 60_000, 2),
            "unknown_minutes": round(self.totals.unknown_ms / 60_000, 2),
            "budget_minutes": round(self.budget_ms / 60_000, 2),
            "budget_spent_minutes": round(self.spent_ms / 60_000, 2),
            "budget_left_minutes": round(self.left_ms / 60_000, 2),
            "budget_spent_percent": round(100 * self.spent_ms / self.budget_ms, 1)
            if self.budget_ms
            else None,
            "bad_periods": [
                {"start_ms": s.start_ms, "end_ms": s.end_ms, "reason": s.reason}
                for s in self.bad_spans[:200]
            ],
        }


def sli_result(
    verdicts: Sequence[Verdict], sli: str, start_ms: int, end_ms: int, settings: SloSettings
) -> SliResult:
    parts = spans(verdicts, sli, start_ms, end_ms)
    burn: list[tuple[int, int]] = [(start_ms, 0)]
    spent = 0
    for s in parts:
        if s.good is False:
            burn.append((s.start_ms, spent))
            spent += s.end_ms - s.start_ms
            burn.append((s.end_ms, spent))
    burn.append((end_ms, spent))
    return SliResult(
        sli,
        totals(parts),
        settings.budget_ms,
        settings.objective,
        [s for s in parts if s.good is False],
        burn,
    )
