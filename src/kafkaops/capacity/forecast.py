"""The storage forecaster: a trend on the *daily maxima*, change-point aware, with intervals.

Why not ``predict_linear`` (least squares through every raw sample, as Grafana does):

* Kafka disk usage is a saw-tooth — segments fill, then retention deletes whole segments.  A
  line through the raw samples runs through the *middle* of the teeth, but the disk fills when
  a *peak* reaches capacity, so the raw fit is late by half a tooth's height.  The daily max is
  the peak; the fit here runs on it.
* A retention change, a new topic or a deleted topic changes the trend from that day on.  A line
  through 30 days that straddles such a day is wrong on both sides.  A change point is found by
  comparing a single line with two independent lines split at every candidate day (BIC decides,
  so noise alone does not split); the fit uses only the last regime.  Repeated, so the last of
  several changes wins.
* Weekday traffic patterns make the daily max wave by weekday.  With three weeks or more in the
  regime, weekday offsets are added when BIC says the data show them.

Every forecast carries a prediction interval (Student-t on the regression's residuals, the
standard OLS prediction variance ``s²(1 + x₀ᵀ(XᵀX)⁻¹x₀)``).  Days until a threshold are found
by walking the forecast day by day: the *earliest* day is when the upper bound crosses, the
*latest* when the lower bound does — the interval of the crossing time.

Pure Python on purpose: a handful of parameters needs no numpy, and the default install stays
light.  Everything here is a pure function of its inputs (no clock, no store).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Central prediction-interval level (80 %: the band an operator plans with).
DEFAULT_LEVEL = 0.80
#: Fewer daily points than this: "not enough history", never a number.
MIN_POINTS = 7
#: A regime (after a change point) needs at least this many days to be fitted on its own.
MIN_REGIME = 7
#: Weekday offsets are only tried with at least this many days in the regime.
MIN_POINTS_SEASONAL = 21


@dataclass(frozen=True, slots=True)
class Point:
    """One day's value: ``x`` is the day number (days since the epoch), ``y`` the daily max."""

    x: int
    y: float


@dataclass(frozen=True, slots=True)
class Crossing:
    """Days from the last observed day until a threshold is reached, with its interval.

    ``None`` means "not within the horizon" (for ``latest``: the lower bound never crosses).
    ``reached`` is True when the last point is already at or above the threshold.
    """

    threshold: float
    days: float | None
    earliest: float | None
    latest: float | None
    reached: bool = False

    def to_dict(self) -> dict[str, float | bool | None]:
        return {
            "threshold": self.threshold,
            "days": _round(self.days),
            "earliest": _round(self.earliest),
            "latest": _round(self.latest),
            "reached": self.reached,
        }


@dataclass(frozen=True)
class Fit:
    """A fitted trend: ``y = a + b·(x − x0) + weekday[x mod 7]`` on the last regime."""

    x0: float
    a: float
    b: float
    #: Offsets by ``x mod 7`` (zero-sum), or None without seasonality.
    weekday: tuple[float, ...] | None
    #: Residual standard deviation and degrees of freedom.
    s: float
    dof: int
    #: (XᵀX)⁻¹ for the prediction variance.
    cov: tuple[tuple[float, ...], ...]
    #: First and last day of the regime the fit used.
    start_x: float
    last_x: float
    n: int
    #: Days (x) where the trend changed, oldest first.
    change_points: tuple[int, ...] = ()
    #: An upper limit the series cannot exceed (retention steady state); None when unbounded.
    cap: float | None = None
    level: float = DEFAULT_LEVEL
    method: str = "linear"
    #: The last observed value: "already reached" is a fact about it, not about the fit.
    last_y: float | None = None
    #: Lag-1 autocorrelation of the residuals the parameter covariance was widened for.
    rho: float = 0.0

    @property
    def slope_per_day(self) -> float:
        return self.b

    def _row(self, x: float) -> list[float]:
        row = [1.0, x - self.x0]
        if self.weekday is not None:
            row.extend(_effect_code(round(x) % 7))
        return row

    def predict(self, x: float) -> tuple[float, float, float]:
        """(mean, lower, upper) of the value on day ``x`` at :attr:`level`."""
        row = self._row(x)
        mean = self.a + self.b * (x - self.x0)
        if self.weekday is not None:
            mean += self.weekday[round(x) % 7]
        k = len(row)
        var = sum(row[i] * self.cov[i][j] * row[j] for i in range(k) for j in range(k))
        half = t_quantile(0.5 + self.level / 2, self.dof) * self.s * math.sqrt(1.0 + max(var, 0.0))
        lo, hi = mean - half, mean + half
        if self.cap is not None:
            mean, lo, hi = min(mean, self.cap), min(lo, self.cap), min(hi, self.cap)
        return mean, lo, hi

    def crossing(self, threshold: float, horizon_days: int) -> Crossing:
        """When mean / upper / lower bound first reach ``threshold``, in days after ``last_x``."""
        now = self.predict(self.last_x)
        observed = self.last_y if self.last_y is not None else now[0]
        if observed >= threshold:
            return Crossing(threshold, 0.0, 0.0, 0.0, reached=True)
        found: list[float | None] = [None, None, None]  # mean, upper (earliest), lower (latest)
        # Walk from what was observed last: a fit above it must not claim "full already".
        prev = tuple(min(v, observed) for v in now) if self.last_y is not None else now
        for h in range(1, horizon_days + 1):
            cur = self.predict(self.last_x + h)
            for k, idx in ((0, 0), (1, 2), (2, 1)):
                if found[k] is None and cur[idx] >= threshold:
                    found[k] = _interpolate(h, prev[idx], cur[idx], threshold)
            if all(v is not None for v in found):
                break
            prev = cur
        return Crossing(threshold, found[0], found[1], found[2])

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "slope_per_day": self.b,
            "level_now": self.predict(self.last_x)[0],
            "residual_sd": self.s,
            "points": self.n,
            "regime_start_day": self.start_x,
            "change_points": list(self.change_points),
            "cap": self.cap,
            "interval_level": self.level,
            "residual_autocorrelation": round(self.rho, 3),
        }


@dataclass(frozen=True)
class NotEnoughHistory:
    """The honest answer: ``have`` daily points, ``need`` required."""

    have: int
    need: int
    reason: str = field(default="")

    def __str__(self) -> str:
        extra = f"; {self.reason}" if self.reason else ""
        return f"not enough history ({self.have} days, needs {self.need}{extra})"


def fit_trend(
    points: Sequence[Point],
    *,
    level: float = DEFAULT_LEVEL,
    cap: float | None = None,
    seasonal: bool | None = None,
    detect_changes: bool = True,
) -> Fit | NotEnoughHistory:
    """Fit the daily maxima: find the last regime, then a line (plus weekday offsets).

    ``seasonal``: None decides from the data (BIC), True/False forces it.  ``cap`` clamps every
    prediction (the retention steady state: a topic at its retention limit stops growing).
    """
    pts = sorted(points, key=lambda p: p.x)
    if len(pts) < MIN_POINTS:
        return NotEnoughHistory(len(pts), MIN_POINTS)
    changes: list[int] = []
    if detect_changes:
        start = 0
        while True:
            k = _change_point(pts[start:])
            if k is None:
                break
            start += k
            changes.append(pts[start].x)
        regime = pts[start:]
    else:
        regime = pts
    use_season = False
    if seasonal is None:
        if len(regime) >= MIN_POINTS_SEASONAL:
            plain = _ols(regime, False)
            weekly = _ols(regime, True)
            use_season = (
                weekly is not None
                and plain is not None
                and _bic(weekly[1], len(regime), 8) < _bic(plain[1], len(regime), 2) - 2.0
            )
    else:
        use_season = seasonal and len(regime) >= MIN_POINTS_SEASONAL
    solved = _ols(regime, use_season)
    if solved is None:
        return NotEnoughHistory(len(regime), MIN_POINTS, "the days have no spread")
    beta, sse, cov = solved
    p = len(beta)
    dof = len(regime) - p
    if dof < 2:
        return NotEnoughHistory(
            len(regime), p + 2, f"the trend changed on day {changes[-1]}" if changes else ""
        )
    s = math.sqrt(sse / dof)
    # Residuals that wander (a producer's rate drifting for days) are autocorrelated: the
    # trend is then less certain than OLS says.  Widen the parameter covariance by the AR(1)
    # variance-inflation factor (1 + ρ) / (1 − ρ) — no change for independent noise.
    rho = _lag1_autocorrelation(regime, beta, use_season)
    if rho > 0:
        factor = (1 + rho) / (1 - rho)
        cov = [[v * factor for v in row] for row in cov]
    weekday = None
    if use_season:
        effects = list(beta[2:8])
        weekday = tuple([*effects, -sum(effects)])
    return Fit(
        x0=regime[0].x,
        a=beta[0],
        b=beta[1],
        weekday=weekday,
        s=s,
        dof=dof,
        cov=tuple(tuple(r) for r in cov),
        start_x=regime[0].x,
        last_x=pts[-1].x,
        n=len(regime),
        change_points=tuple(changes),
        cap=cap,
        level=level,
        method="linear+weekly" if use_season else "linear",
        last_y=pts[-1].y,
        rho=rho,
    )


def predict_linear(
    samples: Sequence[tuple[float, float]], *, level: float = DEFAULT_LEVEL
) -> Fit | NotEnoughHistory:
    """The peer: least squares through raw ``(day, value)`` samples (Grafana's
    ``predict_linear``), no change points, no seasonality.  Only the backtest uses it."""
    if len(samples) < 3:
        return NotEnoughHistory(len(samples), 3)
    x0 = samples[0][0]
    rows = [[1.0, x - x0] for x, _ in samples]
    ys = [y for _, y in samples]
    solved = _lstsq(rows, ys)
    if solved is None:
        return NotEnoughHistory(len(samples), 3, "the samples have no spread")
    beta, sse, cov = solved
    dof = max(len(samples) - 2, 1)
    return Fit(
        x0=x0,
        a=beta[0],
        b=beta[1],
        weekday=None,
        s=math.sqrt(sse / dof),
        dof=dof,
        cov=tuple(tuple(r) for r in cov),
        start_x=x0,
        last_x=samples[-1][0],
        n=len(samples),
        method="predict_linear",
        level=level,
    )


# ------------------------------------------------------------------------------- internals


def _change_point(pts: Sequence[Point]) -> int | None:
    """Index of the most convincing split into two independent lines, or None (BIC)."""
    n = len(pts)
    if n < 2 * MIN_REGIME:
        return None
    one = _ols(pts, False)
    if one is None:
        return None
    best_k, best_sse = None, math.inf
    for k in range(MIN_REGIME, n - MIN_REGIME + 1):
        left, right = _ols(pts[:k], False), _ols(pts[k:], False)
        if left is None or right is None:
            continue
        sse = left[1] + right[1]
        if sse < best_sse:
            best_k, best_sse = k, sse
    if best_k is None:
        return None
    # 2 params vs 4 params + the break position.
    if _bic(best_sse, n, 5) < _bic(one[1], n, 2) - 10.0:
        return best_k
    return None


def _lag1_autocorrelation(pts: Sequence[Point], beta: Sequence[float], seasonal: bool) -> float:
    """ρ of the fit's residuals in day order, clamped to [0, 0.9]."""
    x0 = pts[0].x
    res = []
    for p in pts:
        row = [1.0, float(p.x - x0)]
        if seasonal:
            row.extend(_effect_code(p.x % 7))
        res.append(p.y - sum(b * v for b, v in zip(beta, row, strict=True)))
    den = sum(e * e for e in res)
    if den <= 0 or len(res) < 3:
        return 0.0
    rho = sum(a * b for a, b in itertools.pairwise(res)) / den
    return min(max(rho, 0.0), 0.9)


def _bic(sse: float, n: int, k: int) -> float:
    return n * math.log(max(sse, 1e-12) / n) + k * math.log(n)


def _effect_code(dow: int) -> list[float]:
    """Six zero-sum weekday columns (the seventh day is minus the sum)."""
    if dow == 6:
        return [-1.0] * 6
    return [1.0 if i == dow else 0.0 for i in range(6)]


def _ols(
    pts: Sequence[Point], seasonal: bool
) -> tuple[list[float], float, list[list[float]]] | None:
    x0 = pts[0].x
    rows = []
    for p in pts:
        row = [1.0, float(p.x - x0)]
        if seasonal:
            row.extend(_effect_code(p.x % 7))
        rows.append(row)
    return _lstsq(rows, [p.y for p in pts])


def _lstsq(
    rows: Sequence[Sequence[float]], ys: Sequence[float]
) -> tuple[list[float], float, list[list[float]]] | None:
    """Least squares by the normal equations (a few columns, well-scaled): β, SSE, (XᵀX)⁻¹."""
    p = len(rows[0])
    if len(rows) < p:
        return None
    xtx = [[sum(r[i] * r[j] for r in rows) for j in range(p)] for i in range(p)]
    xty = [sum(r[i] * y for r, y in zip(rows, ys, strict=True)) for i in range(p)]
    inv = _invert(xtx)
    if inv is None:
        return None
    beta = [sum(inv[i][j] * xty[j] for j in range(p)) for i in range(p)]
    sse = 0.0
    for r, y in zip(rows, ys, strict=True):
        e = y - sum(b * v for b, v in zip(beta, r, strict=True))
        sse += e * e
    return beta, sse, inv


def _invert(m: list[list[float]]) -> list[list[float]] | None:
    """Gauss-Jordan with partial pivoting; None when singular."""
    n = len(m)
    a = [[*row, *(1.0 if i == j else 0.0 for j in range(n))] for i, row in enumerate(m)]
    scale = max(abs(v) for row in m for v in row) or 1.0
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[piv][col]) < 1e-12 * scale:
            return None
        a[col], a[piv] = a[piv], a[col]
        d = a[col][col]
        a[col] = [v / d for v in a[col]]
        for r in range(n):
            if r != col and a[r][col] != 0.0:
                f = a[r][col]
                a[r] = [v - f * w for v, w in zip(a[r], a[col], strict=True)]
    return [row[n:] for row in a]


def _interpolate(h: int, prev: float, cur: float, threshold: float) -> float:
    if cur == prev:
        return float(h)
    frac = (threshold - prev) / (cur - prev)
    return h - 1 + min(max(frac, 0.0), 1.0)


def t_quantile(p: float, dof: int) -> float:
    """Student-t quantile (Cornish-Fisher expansion around the normal; ample for dof ≥ 2)."""
    z = normal_quantile(p)
    v = float(max(dof, 1))
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / v + g2 / v**2 + g3 / v**3 + g4 / v**4


def normal_quantile(p: float) -> float:
    """Acklam's rational approximation of the standard normal quantile (|error| < 1.2e-9)."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)  # fmt: skip
    lo = 0.02425
    if p < lo:
        q = math.sqrt(-2 * math.log(p))
        num = ((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]
        return num / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    if p > 1 - lo:
        return -normal_quantile(1 - p)
    q = p - 0.5
    r = q * q
    num = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
    return num / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)
