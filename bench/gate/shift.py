"""One base run against one head run: the shift all cases share and the run-to-run floor.

Between two single runs on a shared machine whole runs move (every case 8% slower) and
single cases move by more than the spread of their processes says. Neither is visible
inside one run, but both are visible across the cases of the comparison (an empirical
null, Efron 2004): most cases did not change, so

* the run shift is the median over cases of d = log(head / base), the effect common to all
  cases (the machine, or a change that slowed everything alike); its variance is that of a
  median, pi / 2 times the typical case variance over the number of cases;
* the run-to-run floor is the variance tau^2 every case gets on top of its process variance:
  the smallest tau^2 for which the cases' squared distances from the shift, each over its own
  variance + tau^2, have the median of a chi-square with 1 df (a robust, MAD-like estimate
  that up to half the cases changing does not move); its df are those of a MAD over the
  cases, MAD_EFFICIENCY x (cases - 1).

Each case is then tested net of the shift: d - shift, with variance = the case's own
variance + tau^2 + the shift's variance. Pure: arrays in, numbers out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from bench.gate.estimates import MIN_PRIOR_CASES
from bench.location import interval_from_log
from bench.text import format_change

MIN_SHIFT_CASES = MIN_PRIOR_CASES  # cases needed to learn a shift and a floor from them
MAD_EFFICIENCY = 0.37              # the MAD's efficiency relative to the sd (normal data)
CHI2_MEDIAN = float(stats.chi2.ppf(0.5, 1))


@dataclass(frozen=True)
class RunShift:
    """The log shift common to all cases, its variance and df, and the run-to-run floor."""

    shift: float
    shift_var: float
    floor_var: float
    df: float
    cases: int


def estimate_floor(squared: np.ndarray, variances: np.ndarray) -> float:
    """Smallest tau^2 >= 0 with median(squared / (variances + tau^2)) <= the chi-square median.

    >>> round(estimate_floor(np.array([0.0, 0.25, 1.0]) * CHI2_MEDIAN, np.zeros(3)), 6)
    0.25
    >>> estimate_floor(np.array([0.1, 0.2, 0.3]), np.ones(3))
    0.0
    """
    def excess(tau2: float) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            standardized = np.where(squared > 0, squared / (variances + tau2), 0.0)
        return float(np.median(standardized)) - CHI2_MEDIAN

    if excess(0.0) <= 0:
        return 0.0
    high = float(squared.max()) / CHI2_MEDIAN
    if excess(high) >= 0:
        return high
    return float(optimize.brentq(excess, 0.0, high, xtol=1e-14, rtol=1e-10))


def estimate_shift(d: np.ndarray, variances: np.ndarray) -> RunShift | None:
    """The run shift and floor of these cases' log ratios and variances (None when fewer than
    MIN_SHIFT_CASES cases can be used).

    >>> rng = np.random.default_rng(0)
    >>> found = estimate_shift(0.1 + rng.normal(0, 0.05, 400), np.full(400, 0.03**2))
    >>> round(math.exp(found.shift), 2), round(math.sqrt(found.floor_var), 2)
    (1.1, 0.04)
    """
    ok = np.isfinite(d) & np.isfinite(variances) & (variances >= 0)
    n = int(ok.sum())
    if n < MIN_SHIFT_CASES:
        return None
    d, variances = d[ok], variances[ok]
    shift = float(np.median(d))
    floor = estimate_floor((d - shift) ** 2, variances)
    shift_var = math.pi / 2 * float(np.median(variances + floor)) / n
    return RunShift(shift, shift_var, floor, max(MAD_EFFICIENCY * (n - 1), 1.0), n)


def net_of_shift(d: np.ndarray, variances: np.ndarray, dfs: np.ndarray,
                 found: RunShift) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each case's d net of the shift, its variance with the floor and the shift's variance
    added, and the Welch-Satterthwaite df of that sum.

    >>> found = RunShift(shift=0.1, shift_var=0.0, floor_var=1.0, df=10.0, cases=30)
    >>> [x.tolist() for x in net_of_shift(np.array([0.1]), np.array([1.0]), np.array([10.0]),
    ...                                   found)]
    [[0.0], [2.0], [20.0]]
    """
    extra = found.floor_var + found.shift_var
    total = variances + extra
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = (np.where(dfs > 0, variances**2 / dfs, 0.0)
                       + extra**2 / found.df)
        df = np.where(denominator > 0, total**2 / denominator, dfs)
    return d - found.shift, total, df


def describe_shift(found: RunShift, confidence: float) -> list[str]:
    """Notes on the shift and the floor a comparison of one run per side rests on.

    >>> describe_shift(RunShift(math.log(1.08), 1e-4, 0.03**2, 10.0, 30), 0.95)[1][:50]
    'all cases moved together by 1.08x slower [1.056x, '
    """
    half = float(stats.t.ppf(0.5 + confidence / 2, found.df)) * math.sqrt(found.shift_var)
    return [f"one base run and one head run: run-to-run variation learned from the spread of "
            f"the {found.cases} cases around their common shift (a robust empirical null): "
            f"{math.sqrt(found.floor_var):.1%} per case (sd, df {found.df:.0f}), part of every "
            "case's CI; pass several base runs (--base, repeatable) to measure it case by case",
            "all cases moved together by " + format_change(*interval_from_log(found.shift, half))
            + ": "
            "the machine or a global change; each case's change and CI are net of that shift"]
