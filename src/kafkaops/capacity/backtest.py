"""Rolling-origin backtest of the forecaster against ``predict_linear``, on series with known truth.

Used by ``bench/forecast_backtest.py`` (the table in bench/README.md) and by the test that fails
when the forecaster gets worse.  Series are hourly disk samples, in GiB, of one broker with a
1,000 GiB volume; each is a *saw-tooth* (segments fill, retention deletes them once a day) on
top of a trend, with noise:

* ``linear``      steady growth;
* ``seasonal``    growth plus a weekday pattern (busier weekdays, quiet weekends);
* ``plateau``     growth until retention is reached, then flat (never fills: a forecaster that
                  says "full in N days" there is a false alarm);
* ``step``        a new topic on day 45: a jump and faster growth from then on;
* ``sawtooth``    a tall, noisy saw-tooth (the daily peak is far above the daily mean).

At each origin (every ``step_days`` days) both forecasters see only the past: ours the daily
maxima of the last ``window_days`` days, the peer a least-squares line through the raw samples
of the last ``peer_window_days`` (``predict_linear(x[30d])``).  The truth is the first day whose
observed peak reaches capacity.  Reported: the mean absolute percentage error of days-to-full
at origins whose truth is 25–35 days out (the "30-day horizon"), how often the 80 % interval
contained the truth, and, for the plateau, how often a fill was forecast within the horizon.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kafkaops.capacity.forecast import Fit, Point, fit_trend, predict_linear

CAPACITY = 1000.0
HOURS = 24


@dataclass(frozen=True)
class Series:
    name: str
    #: (time in days, value) hourly.
    samples: tuple[tuple[float, float], ...]
    days: int

    def daily_max(self, until_day: int, window: int) -> list[Point]:
        out = []
        for d in range(max(0, until_day - window), until_day):
            vals = [v for t, v in self.samples[d * HOURS : (d + 1) * HOURS]]
            out.append(Point(d, max(vals)))
        return out

    def true_fill_day(self, after_day: int) -> int | None:
        for d in range(after_day, self.days):
            if max(v for _, v in self.samples[d * HOURS : (d + 1) * HOURS]) >= CAPACITY:
                return d
        return None


def _series(
    name: str,
    days: int,
    level: Callable[[float], float],
    *,
    tooth: float,
    noise: float,
    seed: int,
) -> Series:
    """``level(t)`` is the trough-to-trough trend; the tooth rises ``tooth`` GiB over each day."""
    rng = random.Random(seed)
    samples = []
    for h in range(days * HOURS):
        t = h / HOURS
        frac = (h % HOURS) / (HOURS - 1)
        samples.append((t, level(t) + tooth * frac + rng.gauss(0.0, noise)))
    return Series(name, tuple(samples), days)


def _weekly(t: float) -> float:
    # Busy Monday-Friday, quiet weekends: ±25 GiB on the retained volume.
    return 25.0 * math.sin(2 * math.pi * (math.floor(t) % 7) / 7)


def synthetic(name: str, seed: int = 0) -> Series:
    """One of the named synthetic series (see the module docstring)."""
    days = 160
    if name == "linear":
        return _series(name, days, lambda t: 300 + 6.0 * t, tooth=20, noise=4, seed=seed)
    if name == "seasonal":
        return _series(
            name, days, lambda t: 300 + 6.0 * t + _weekly(t), tooth=20, noise=4, seed=seed
        )
    if name == "plateau":
        return _series(name, days, lambda t: 300 + 8.0 * min(t, 50.0), tooth=20, noise=4, seed=seed)
    if name == "step":
        return _series(
            name,
            days,
            lambda t: 250 + 3.0 * t if t < 45 else 250 + 3.0 * 45 + 120 + 7.0 * (t - 45),
            tooth=20,
            noise=4,
            seed=seed,
        )
    if name == "sawtooth":
        return _series(name, days, lambda t: 250 + 6.0 * t, tooth=150, noise=12, seed=seed)
    raise ValueError(f"unknown series {name!r}")


SERIES = ("linear", "seasonal", "plateau", "step", "sawtooth")


@dataclass
class Score:
    """One forecaster on one series, over all origins and seeds."""

    name: str
    series: str
    errors_30d: list[float]
    covered: int = 0
    judged: int = 0
    false_fills: int = 0
    plateau_origins: int = 0
    #: The observed daily peak 7 and 30 days ahead inside the 80 % interval.
    value_covered: int = 0
    value_judged: int = 0

    @property
    def mape_30d(self) -> float | None:
        return 100 * sum(self.errors_30d) / len(self.errors_30d) if self.errors_30d else None

    @property
    def coverage(self) -> float | None:
        return 100 * self.covered / self.judged if self.judged else None

    @property
    def value_coverage(self) -> float | None:
        return 100 * self.value_covered / self.value_judged if self.value_judged else None

    @property
    def false_fill_rate(self) -> float | None:
        return 100 * self.false_fills / self.plateau_origins if self.plateau_origins else None

    def to_dict(self) -> dict[str, object]:
        return {
            "forecaster": self.name,
            "series": self.series,
            "mape_30d_percent": _r(self.mape_30d),
            "n_30d": len(self.errors_30d),
            "interval_coverage_percent": _r(self.value_coverage),
            "n_interval": self.value_judged,
            "fill_day_coverage_percent": _r(self.coverage),
            "n_fill_day": self.judged,
            "false_fill_percent": _r(self.false_fill_rate),
        }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def _judge(
    score: Score, fit: Fit | object, truth: int | None, last_day: int, shift: float, horizon: int
) -> None:
    """``truth``: days after ``last_day`` of the first full day; ``shift`` moves a fit's
    crossing (measured after its own ``last_x``) into that frame."""
    if not isinstance(fit, Fit):
        return
    c = fit.crossing(CAPACITY, horizon)
    if truth is None:
        score.plateau_origins += 1
        if c.days is not None:
            score.false_fills += 1
        return
    if truth > horizon:
        return
    pred = None if c.days is None else math.ceil(c.days + shift - 1e-9)
    if 25 <= truth <= 35:
        score.errors_30d.append(1.0 if pred is None else abs(pred - truth) / truth)
    if truth <= 60:
        score.judged += 1
        # A crossing at 31.3 days means "day 32 is the first day at or above capacity".
        lo = -math.inf if c.earliest is None else math.ceil(c.earliest + shift - 1e-9)
        hi = math.inf if c.latest is None else math.ceil(c.latest + shift - 1e-9)
        if lo <= truth <= hi:
            score.covered += 1


def _judge_values(score: Score, fit: Fit | object, s: Series, last_day: int) -> None:
    """Is the day's observed peak 7 and 30 days ahead inside the interval?  (For the peer,
    whose line is through raw samples, the interval at the day's end is used.)"""
    if not isinstance(fit, Fit):
        return
    for h in (7, 30):
        d = last_day + h
        if d >= s.days:
            continue
        peak = max(v for _, v in s.samples[d * HOURS : (d + 1) * HOURS])
        x = d if fit.method != "predict_linear" else d + 1.0
        _, lo, hi = fit.predict(x)
        score.value_judged += 1
        score.value_covered += lo <= peak <= hi


def backtest(
    names: Sequence[str] = SERIES,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    window_days: int = 60,
    peer_window_days: int = 30,
    step_days: int = 2,
    horizon: int = 90,
    first_origin: int = 21,
) -> list[Score]:
    """Both forecasters on every named series; one :class:`Score` per (forecaster, series)."""
    scores: list[Score] = []
    for name in names:
        ours, peer = Score("kafkaops", name, []), Score("predict_linear", name, [])
        for seed in seeds:
            s = synthetic(name, seed)
            for origin in range(first_origin, s.days - 5, step_days):
                last_day = origin - 1
                fill = s.true_fill_day(origin)
                if fill is None and name != "plateau":
                    continue
                if s.true_fill_day(0) not in (None, fill):
                    continue  # already full before the origin: nothing to forecast
                if name == "plateau" and origin < 60:
                    continue  # judge the plateau once it has been flat for 10 days
                truth = None if fill is None else fill - last_day
                fit = fit_trend(s.daily_max(origin, window_days))
                _judge(ours, fit, truth, last_day, 0.0, horizon)
                _judge_values(ours, fit, s, last_day)
                first = max(0, origin - peer_window_days) * HOURS
                raw = list(s.samples[first : origin * HOURS])
                pfit = predict_linear(raw)
                # The peer's crossing is measured after its last raw sample (end of last_day).
                _judge(peer, pfit, truth, last_day, raw[-1][0] - last_day, horizon)
                _judge_values(peer, pfit, s, last_day)
        scores += [ours, peer]
    return scores
