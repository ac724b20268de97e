"""The forecaster: unit behaviour and a backtest that fails when it gets worse."""

from __future__ import annotations

import random

import pytest

from kafkaops.capacity.backtest import backtest
from kafkaops.capacity.forecast import (
    NotEnoughHistory,
    Point,
    fit_trend,
    normal_quantile,
    t_quantile,
)


def test_quantiles_match_tables() -> None:
    assert normal_quantile(0.9) == pytest.approx(1.28155, abs=1e-4)
    assert normal_quantile(0.05) == pytest.approx(-1.64485, abs=1e-4)
    assert t_quantile(0.9, 10) == pytest.approx(1.3722, abs=2e-3)
    assert t_quantile(0.9, 3) == pytest.approx(1.6377, abs=2e-2)


def test_not_enough_history_is_an_answer_not_a_number() -> None:
    fit = fit_trend([Point(d, 100.0 + d) for d in range(5)])
    assert isinstance(fit, NotEnoughHistory)
    assert str(fit) == "not enough history (5 days, needs 7)"


def test_exact_line_crosses_on_the_known_day() -> None:
    rng = random.Random(1)
    pts = [Point(20000 + d, 500.0 + 10.0 * d + rng.gauss(0, 1)) for d in range(30)]
    fit = fit_trend(pts)
    assert not isinstance(fit, NotEnoughHistory)
    assert fit.slope_per_day == pytest.approx(10.0, rel=0.02)
    c = fit.crossing(1000.0, 90)
    # 500 + 10·d = 1000 → d = 50, i.e. 21 days after the last point (day 29).
    assert c.days == pytest.approx(21.0, abs=0.5)
    assert c.earliest is not None and c.latest is not None
    assert c.earliest <= c.days <= c.latest


def test_change_point_uses_only_the_last_regime() -> None:
    # Flat for 30 days (retention reached), then a new topic: +5/day from day 30.
    pts = [Point(d, 400.0 + (0 if d < 30 else 5.0 * (d - 30))) for d in range(50)]
    fit = fit_trend(pts)
    assert not isinstance(fit, NotEnoughHistory)
    assert fit.change_points and abs(fit.change_points[-1] - 30) <= 1
    assert fit.slope_per_day == pytest.approx(5.0, rel=0.05)


def test_plateau_never_fills() -> None:
    rng = random.Random(2)
    pts = [Point(d, 300 + 8 * min(d, 30) + rng.gauss(0, 3)) for d in range(60)]
    fit = fit_trend(pts)
    assert not isinstance(fit, NotEnoughHistory)
    assert fit.crossing(1000.0, 90).days is None


def test_retention_cap_stops_growth() -> None:
    pts = [Point(d, 300 + 5.0 * d) for d in range(20)]
    fit = fit_trend(pts, cap=600.0)
    assert not isinstance(fit, NotEnoughHistory)
    assert fit.crossing(800.0, 365).days is None
    assert fit.predict(1000)[0] == 600.0


def test_weekly_seasonality_is_found_when_present() -> None:
    offsets = [20, 15, 5, -5, -10, -15, -10]
    pts = [Point(d, 300 + 4.0 * d + offsets[d % 7]) for d in range(42)]
    fit = fit_trend(pts)
    assert not isinstance(fit, NotEnoughHistory)
    assert fit.method == "linear+weekly"
    plain = fit_trend([Point(d, 300 + 4.0 * d + random.Random(d).gauss(0, 2)) for d in range(42)])
    assert not isinstance(plain, NotEnoughHistory)
    assert plain.method == "linear"


def test_backtest_targets() -> None:
    """Rolling-origin backtest on synthetic series with known fill dates (the issue's targets):
    days-to-full error ≤ 10 % at 30 days on linear and seasonal, 80 % intervals covering 70–90 %,
    and clearly better than predict_linear on the saw-tooth and the step change."""
    scores = {(s.name, s.series): s for s in backtest(seeds=(0, 1))}
    for series in ("linear", "seasonal", "sawtooth", "step"):
        ours = scores[("kafkaops", series)]
        assert ours.mape_30d is not None and ours.mape_30d <= 10.0, (series, ours.to_dict())
    for series in ("linear", "seasonal", "sawtooth"):
        cov = scores[("kafkaops", series)].value_coverage
        assert cov is not None and 70.0 <= cov <= 90.0, (series, cov)
    for series in ("sawtooth", "step"):
        ours, peer = scores[("kafkaops", series)], scores[("predict_linear", series)]
        assert ours.mape_30d is not None and peer.mape_30d is not None
        assert ours.mape_30d * 3 < peer.mape_30d, (series, ours.to_dict(), peer.to_dict())
    assert scores[("kafkaops", "plateau")].false_fill_rate == 0.0
