"""Where a case's worker processes put it: its location and 95% CI, from process means alone.

Values inside one process are not independent, so every interval here is over per-process
means. A case's location in a run is the mean of the fastest half of its log process means,
with Yuen's interval (`locate`); the regression gate (bench.gate.estimates) locates a case
the same way, so the report and the gate speak of one number:

- Load on a shared machine only ever adds time, so the slow end of a case's processes is the
  machine and the fast end the code (how this location covers across runs, against the plain
  mean: docs/measurements.md). The adaptive schedule (bench.run.schedule) spends its
  processes where this interval is wide.

A case's spread is never taken below its run's `noise_floor`: a few processes estimate a
spread loosely, and the adaptive schedule stops the cases whose spread looked small. The
plain mean (MEAN) is kept for comparing the two.

Nothing here raises on numbers a results file can hold: a bound whose exp no float holds
is NaN, and so is its partner (`interval_from_log`: the interval is not computable), and
values past LARGE are scaled before a sum or a square (`average_values`). Pure: numbers
in, numbers out.
"""

from __future__ import annotations

import functools
import math
import statistics
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy import stats

CONFIDENCE = 0.95       # level of every reported interval
FLOOR_QUANTILE = 0.25   # no case's process spread is taken as below this quantile of its run's
FLOOR_MIN_CASES = 10    # cases (2+ processes) a run needs before the floor is learned
TRIM_SLOW = 0.5         # share of process means the fastest half drops from the slow end
MIN_KEPT = 2            # ... but never fewer than this many kept (a variance needs two)
NOISE_MIN_PROCESSES = 3  # processes a case needs before its spread counts in the run's noise
FASTEST_HALF = "fastest half"  # the location of every case (`locate`)
MEAN = "mean"                  # the plain mean of the process means, for comparison
MAX_LOG = math.log(sys.float_info.max)  # 709.78: the exp of a larger log overflows a float
LARGE = 1e150  # numbers past this are scaled down first: their squares (or sums) would overflow


class Interval(NamedTuple):
    """A point estimate and its 95% confidence interval (NaN bounds when unknown)."""

    value: float
    low: float
    high: float


def scale_of(values: Iterable[float]) -> float:
    """1.0, or the largest magnitude of the values when it is past LARGE: what to divide them
    by before a sum or a square (dividing by 1.0 changes no bit of an ordinary value).

    >>> scale_of([1.0, 2.0]), scale_of([1e308, 1.0])
    (1.0, 1e+308)
    """
    peak = max((abs(v) for v in values), default=0.0)
    return peak if peak > LARGE else 1.0


def average_values(values: Sequence[float]) -> float:
    """The mean of finite numbers (statistics.fmean), scaled first when they are past LARGE,
    so that their sum cannot overflow.

    >>> average_values([1.0, 2.0]), average_values([1e308, 1e308])
    (1.5, 1e+308)
    """
    scale = scale_of(values)
    if scale == 1.0:
        return statistics.fmean(values)
    return statistics.fmean(v / scale for v in values) * scale


def middle_value(values: Sequence[float]) -> float:
    """The median of finite numbers, scaled first when they are past LARGE (the mean of
    the two middle ones of 1e308s overflows).

    >>> middle_value([1.0, 2.0]), middle_value([1e308, 1e308])
    (1.5, 1e+308)
    """
    scale = scale_of(values)
    return float(np.median(np.asarray(values, dtype=float) / scale)) * scale


def exp_bound(x: float) -> float:
    """exp(x), NaN where no float holds it (a bound past 1.8e308 is not computable).

    >>> exp_bound(0.0), exp_bound(800.0), exp_bound(-800.0)
    (1.0, nan, 0.0)
    """
    return math.exp(x) if x <= MAX_LOG else math.nan


def exp_clamped(x: Any) -> Any:
    """exp(x) (elementwise) within a float's range: past 1.8e308 reads as the largest float;
    for a verdict, which only compares a ratio with 1 and the threshold, or a change's size.

    >>> float(exp_clamped(0.0)), bool(exp_clamped(np.array([800.0]))[0] > 1.79e308)
    (1.0, True)
    """
    return np.exp(np.minimum(x, MAX_LOG))


def exp_intervals(centre: Any, half: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """interval_from_log elementwise: exp(centre), exp(centre - half), exp(centre + half),
    NaN past a float's range (both bounds where either is).

    >>> [x.tolist() for x in exp_intervals(np.array([0.0, 800.0]), np.array([0.0, 1.0]))]
    [[1.0, nan], [1.0, nan], [1.0, nan]]
    """
    centre, half = np.asarray(centre, dtype=float), np.asarray(half, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        value, low, high = (np.exp(x) for x in (centre, centre - half, centre + half))
    unknown = ~(np.isfinite(low) & np.isfinite(high))
    return (np.where(np.isinf(value), math.nan, value), np.where(unknown, math.nan, low),
            np.where(unknown, math.nan, high))


def check_interval(value: float, low: float, high: float) -> Interval:
    """The interval, both bounds NaN (not computable) when either is not a finite number.

    >>> check_interval(2.0, 1.0, float("inf"))
    Interval(value=2.0, low=nan, high=nan)
    """
    if math.isfinite(low) and math.isfinite(high):
        return Interval(value, low, high)
    return Interval(value, math.nan, math.nan)


def interval_from_log(centre: float, half: float) -> Interval:
    """exp(centre) and its interval exp(centre +- half) (bounds past a float's range: NaN).

    >>> interval_from_log(0.0, math.log(2.0))
    Interval(value=1.0, low=0.5, high=2.0)
    >>> interval_from_log(700.0, 20.0)[1:]
    (nan, nan)
    """
    return check_interval(exp_bound(centre), exp_bound(centre - half), exp_bound(centre + half))


@functools.lru_cache(maxsize=1024)
def t_quantile(dof: float, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student t quantile for `confidence` (a run asks for the same few
    degrees of freedom thousands of times: before every save of its file).

    >>> round(t_quantile(2), 3)
    4.303
    """
    return float(stats.t.ppf(0.5 + confidence / 2, dof))


def t_half_width(stdev: Any, n: Any, confidence: float = CONFIDENCE) -> Any:
    """Half-width of the Student t interval of a mean (NaN when n < 2).

    >>> round(float(t_half_width(1.0, 3)), 3)
    2.484
    """
    if np.ndim(n) == 0 and np.ndim(stdev) == 0:  # one interval: the quantile from the cache
        count = float(n)
        if count < 2:
            return math.nan
        return t_quantile(count - 1, confidence) * float(stdev) / math.sqrt(count)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        dof = np.where(n >= 2, n - 1, np.nan)
        return stats.t.ppf(0.5 + confidence / 2, dof) * np.asarray(stdev, float) / np.sqrt(n)


def noise_floor(relative_stdevs: Iterable[float]) -> float:
    """The relative spread of process means below which no case of a run is believed: the
    run's FLOOR_QUANTILE over its cases (0 with fewer than FLOOR_MIN_CASES).

    Three or four processes estimate a spread very loosely (with 2 df, one case in ten shows
    under a third of its real spread), and a run's adaptive schedule stops the cases whose
    spread looked small, so unfloored intervals of the quiet-looking cases cover their mean
    far less often than 95%. The cases of a run share its machine; a floor at the low
    quartile of their spreads is SAM's fudge constant s0 (Tusher et al. 2001) for this.

    >>> round(noise_floor([0.01 * k for k in range(1, 21)]), 4)
    0.0575
    """
    data = np.asarray(list(relative_stdevs), dtype=float)
    data = data[np.isfinite(data)]
    return float(np.quantile(data, FLOOR_QUANTILE)) if len(data) >= FLOOR_MIN_CASES else 0.0


def floored_stdev(stdev: Any, mean: Any, floor: float) -> Any:
    """The stdev of process means, never below `floor` (relative) x the mean."""
    return np.maximum(stdev, floor * np.abs(mean))


def locate(values: np.ndarray) -> tuple[float, float, float]:
    """Mean of the fastest half of values (TRIM_SLOW dropped from the slow end, at least
    MIN_KEPT kept), the variance of that mean, and its df.

    On six pyperf runs of a dozen benchmarks here, a case's run-to-run spread (net of the
    whole run's shift) was 1.0% for this mean of log process means against 2.0% for the
    interquartile mean (median over cases; 3.2% and 6.6% pooled over all). The variance is
    Yuen's, winsorizing at the largest value kept: a trimmed mean's asymptotic variance is
    its winsorized variance over the kept share squared, for one-sided trimming too
    (Stigler 1973).

    >>> locate(np.array([1.0, 2.0, 3.0, 4.0, 100.0]))
    (2.0, 0.5333333333333333, 2.0)
    >>> locate(np.array([1.0, 3.0]))
    (2.0, 1.0, 1.0)
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    h = n - min(int(TRIM_SLOW * n), max(n - MIN_KEPT, 0))
    location = float(x[:h].mean())
    if h < 2:
        return location, math.nan, 0.0
    winsorized = np.minimum(x, x[h - 1])
    return location, float((n - 1) * winsorized.var(ddof=1) / (h * (h - 1))), float(h - 1)


def relative_stdev(means: Sequence[float]) -> float:
    """Sample stdev over mean, in floats (statistics.stdev is exact, and slow).

    >>> round(relative_stdev([1.0, 1.1, 0.9]), 3)
    0.1
    """
    scale = scale_of(means)  # the ratio does not depend on it
    scaled = [m / scale for m in means]
    mean = statistics.fmean(scaled)
    return math.sqrt(math.fsum((m - mean) ** 2 for m in scaled) / (len(means) - 1)) / mean


def run_noise(case_means: Iterable[Sequence[float]]) -> float | None:
    """A run's per-process noise: the median over its cases with NOISE_MIN_PROCESSES or more
    processes of the coefficient of variation of their process means (None: no such case).

    >>> round(run_noise([[1.0, 1.1, 0.9], [2.0, 2.0, 2.0], [5.0]]), 4)
    0.05
    """
    cvs = [relative_stdev(m) for m in case_means if len(m) >= NOISE_MIN_PROCESSES]
    return statistics.median(cvs) if cvs else None


def spread_of(means: Sequence[float], method: str = FASTEST_HALF) -> float:
    """A case's relative spread of process means as `method` sees it: their stdev over their
    mean, or the winsorized stdev of their logs behind the fastest half (NaN under 2)."""
    if len(means) < 2:
        return math.nan
    if method == MEAN:
        return relative_stdev(means)
    _, variance, df = locate(np.log(means))
    return math.sqrt(variance * (df + 1) * df / (len(means) - 1)) if df > 0 else math.nan


def locate_case(means: Sequence[float], floor: float = 0.0,
                method: str = FASTEST_HALF) -> Interval:
    """A case's location in one run and its 95% CI (NaN bounds under 2 processes), the
    spread floored at `floor` (relative).

    >>> [round(x, 3) for x in locate_case([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])[:3]]
    [1.0, 1.0, 1.0]
    >>> [round(x, 3) for x in locate_case([1.0, 2.0, 3.0], method=MEAN)[:3]]
    [2.0, -0.484, 4.484]
    """
    n = len(means)
    if method == MEAN:
        centre = average_values(means)
        if n < 2:
            return Interval(centre, math.nan, math.nan)
        half = float(t_half_width(floored_stdev(relative_stdev(means), 1.0, floor), n)) * centre
        return check_interval(centre, centre - half, centre + half)
    logs = np.log(np.asarray(means, dtype=float))
    centre, variance, df = locate(logs)
    if df <= 0:
        return Interval(exp_bound(centre), math.nan, math.nan)
    # the floor on the winsorized spread, as a floor on the variance of the location
    variance = max(variance, (n - 1) * floor**2 / ((df + 1) * df))
    return interval_from_log(centre, t_quantile(df) * math.sqrt(variance))


def relative_half_width(means: Sequence[float], floor: float = 0.0,
                        method: str = FASTEST_HALF) -> float:
    """The half-width of a case's 95% CI over its location (the upper one on a log scale;
    NaN when the interval is not computable).

    >>> round(relative_half_width([1.0, 1.1, 0.9], method=MEAN), 3)
    0.248
    >>> round(relative_half_width([1.0, 1.1, 0.9], 0.2, method=MEAN), 3)
    0.497
    """
    found = locate_case(means, floor, method)
    width = (found.high - found.value) / found.value
    return width if math.isfinite(width) else math.nan

