"""SLIs, budget and burn rates over synthetic verdict histories (no clock but the one given)."""

from __future__ import annotations

from kafkaops.core.model import CheckStatus, Severity
from kafkaops.slo.settings import SloSettings
from kafkaops.slo.sli import burn_findings, sli_result, spans, totals
from kafkaops.slo.store import Verdict

MIN = 60_000
S = SloSettings()


def cycles(start_ms: int, n: int, *, bad: set[int] = frozenset(), step: int = 10_000):
    return [Verdict(start_ms + i * step, step, i not in bad, None, "offline_partitions"
                    if i in bad else "") for i in range(n)]  # fmt: skip


def test_budget_is_the_runbooks_43_2_minutes() -> None:
    assert S.budget_ms == 43.2 * MIN
    assert SloSettings(objective=99.0).budget_ms == 432 * MIN


def test_bad_minutes_are_counted_and_gaps_are_unknown_not_good() -> None:
    # 10 minutes of 10-second cycles, 3 minutes bad (cycles 18..35), then the watcher stops
    # for 10 minutes and resumes for 5 good minutes.
    v = cycles(0, 60, bad=set(range(18, 36))) + cycles(20 * MIN, 30)
    t = totals(spans(v, "availability", 0, 25 * MIN))
    assert t.bad_ms == 3 * MIN
    # The last cycle before the gap covers 1.5 intervals (15 s), then nothing is known.
    assert t.good_ms == 12 * MIN + 5_000
    assert t.unknown_ms == 10 * MIN - 5_000, "a stopped watcher is unknown time, not good time"
    assert t.ratio == (12 * MIN + 5_000) / (15 * MIN + 5_000)
    r = sli_result(v, "availability", 0, 25 * MIN, S)
    assert r.spent_ms == 3 * MIN and r.left_ms == 40.2 * MIN
    assert [(s.start_ms, s.end_ms) for s in r.bad_spans] == [(3 * MIN, 6 * MIN)]
    assert r.burn[-1] == (25 * MIN, 3 * MIN)
    d = r.to_dict()
    assert d["budget_spent_minutes"] == 3.0 and d["unknown_minutes"] == 9.92


def test_a_late_cycle_is_not_a_gap_but_a_missing_one_is() -> None:
    v = [Verdict(0, 10_000, True, None), Verdict(14_000, 10_000, True, None),
         Verdict(60_000, 10_000, True, None)]  # fmt: skip
    t = totals(spans(v, "availability", 0, 70_000))
    # 0→14 s (late by 4 s, within 1.5 intervals) good; 14→29 s good; 29→60 s unknown.
    assert (t.good_ms, t.unknown_ms) == (14_000 + 15_000 + 10_000, 31_000)


def test_freshness_none_is_unknown() -> None:
    v = [Verdict(i * 10_000, 10_000, True, None if i < 3 else i != 4) for i in range(6)]
    t = totals(spans(v, "freshness", 0, 60_000))
    assert (t.unknown_ms, t.good_ms, t.bad_ms) == (30_000, 20_000, 10_000)


def _fired(findings) -> dict[str, Severity]:
    return {f.rule: f.severity for f in findings if f.status == CheckStatus.TRIGGERED}


def test_fast_burn_pages_p1_only_when_both_windows_burn() -> None:
    hour = 360
    # 6 good hours, then 2 bad minutes: 1 h window 2/60 = 3.3 % bad = 33x; 5 m window 40 %.
    v = cycles(0, 6 * hour + 12, bad=set(range(6 * hour, 6 * hour + 12)))
    now = v[-1].ts_ms + 10_000
    found = burn_findings(v, now, S, slis=("availability",))
    assert _fired(found) == {"slo_burn_1h": Severity.P1}
    ok = {f.rule for f in found if f.status == CheckStatus.OK}
    assert ok == {"slo_burn_6h"}, "6h: 2 bad min of 6 h = 5.6x, under 6x"
    # The same 2 bad minutes 10 minutes ago: the 5-minute window is clean → no page
    # (the outage is over; the long window alone would keep paging for an hour).
    v2 = v + cycles(now, 60)
    later = v2[-1].ts_ms + 10_000
    assert _fired(burn_findings(v2, later, S, slis=("availability",))) == {}


def test_slow_burn_is_p2() -> None:
    hour = 360
    # One bad cycle in every 12 (8.3 % bad = 83x) for the last 30 min of 6 h:
    bad = {i for i in range(6 * hour - 180, 6 * hour) if i % 3 == 0}
    v = cycles(0, 6 * hour, bad=bad)
    found = burn_findings(v, v[-1].ts_ms + 10_000, S, slis=("availability",))
    fired = _fired(found)
    # 60 bad cycles = 10 min: 1 h 16.7 % (167x), 5 m 33 %, 6 h 2.8 % (28x), 30 m 33 %.
    assert fired == {"slo_burn_1h": Severity.P1, "slo_burn_6h": Severity.P2}
    few = {i for i in range(6 * hour - 180, 6 * hour) if i % 18 == 0}  # 10 cycles = 100 s
    found = burn_findings(cycles(0, 6 * hour, bad=few), 6 * hour * 10_000, S,
                          slis=("availability",))  # fmt: skip
    # 100 s: 1 h 2.8 % = 27.8x but 5 m 1/30 = 33x … both ≥ 14.4 → P1; 6 h 0.46 % = 4.6x.
    assert _fired(found) == {"slo_burn_1h": Severity.P1}


def test_nothing_observed_gives_no_finding() -> None:
    assert burn_findings([], 10 * MIN, S) == []
    # Freshness without critical groups is never observed: only availability findings.
    found = burn_findings(cycles(0, 10), 100_000, S)
    assert {f.subject for f in found} == {"availability"}


def _healthy_report():
    from kafkaops.core.model import Finding, HealthReport

    ok = Finding("offline_partitions", Severity.OK, CheckStatus.OK, "none offline", 0, 0, "count")
    return HealthReport("c", "b:9092", 0, True, True, Severity.OK, (), (ok,), {})


def test_canary_round_is_the_availability_signal_when_it_ran() -> None:
    from kafkaops.core.model import Finding
    from kafkaops.diagnose.canary import BrokerCanary, findings_for
    from kafkaops.diagnose.settings import CanarySettings
    from kafkaops.slo.sli import verdict_for

    report = _healthy_report()  # metadata looks healthy: a hung broker stays registered
    hung = findings_for([BrokerCanary(2, (1,), None, None, "timed out", "failed")],
                        CanarySettings())  # fmt: skip
    v = verdict_for(report, None, S, 0, 10_000, canary=hung)
    assert v.available is False and v.reason == "canary_produce_failed(broker:2)"
    # A slow broker is a P2, not an outage; a clean round is available; no round: metadata.
    slow = (Finding("canary_produce_slow", Severity.P2, CheckStatus.TRIGGERED, "slow", 1500,
                    1000, "ms", "broker:3", source="canary"),)  # fmt: skip
    assert verdict_for(report, None, S, 0, 10_000, canary=slow).available is True
    assert verdict_for(report, None, S, 0, 10_000, canary=()).available is True
    assert verdict_for(report, None, S, 0, 10_000, canary=None).available is True


def test_watched_topics_decide_which_partitions_count() -> None:
    """``slo.topics``: a never-writable scratch topic (RF 1 under min.insync.replicas 2) does not
    spend the budget of the topics that matter; an offline watched partition does."""
    from kafkaops.core.model import ClusterSnapshot, Finding, HealthReport, PartitionState, Topic
    from kafkaops.slo.sli import verdict_for

    def snap(orders_leader: int) -> ClusterSnapshot:
        scratch = Topic("scratch", False, (PartitionState("scratch", 0, 1, (1,), (1,), min_isr=2),))
        isr = (2,) if orders_leader >= 0 else ()
        orders = Topic("orders.eu", False,
                       (PartitionState("orders.eu", 0, orders_leader, (2,), isr),))  # fmt: skip
        return ClusterSnapshot("c", "b:9092", 0, 1, "id", 1, 1, (1,), (), (scratch, orders), (), ())

    under = Finding("under_min_isr_partitions", Severity.P1, CheckStatus.TRIGGERED, "x", 1, 0,
                    "count")  # fmt: skip
    report = HealthReport("c", "b:9092", 0, True, True, Severity.P1, (), (under,), {})
    # Every topic (the default): the scratch topic makes the cluster unavailable.
    assert verdict_for(report, snap(2), S, 0, 10_000).available is False
    watched = SloSettings(topics=(r"orders\..*",))
    assert verdict_for(report, snap(2), watched, 0, 10_000).available is True
    v = verdict_for(report, snap(-1), watched, 0, 10_000)
    assert v.available is False and v.reason == "offline_partitions(orders.eu-0)"


def test_watched_topics_must_be_regular_expressions() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"slo.topics: '\(' is not a regular expression"):
        SloSettings(topics=("(",))
