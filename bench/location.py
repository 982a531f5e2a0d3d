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
from collections.abc import Callable, Iterable, Sequence
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


# ---------------------------------------------------------------- the canary correction

CANARY_MIN_PROCESSES = 20   # processes (of cases with 2+, all with a canary) a suite needs
SLOPE_LIMITS = (0.0, 1.5)   # the learned slope of a process's log time on its canary's, clipped


class Correction(NamedTuple):
    """How a run's process means were divided by the machine's speed at their moment: the
    slope learned per suite (absent: not corrected), the run's typical canary (seconds), the
    run's per-process noise before and after, the share of processes corrected, and one
    line saying what was done."""

    slopes: dict[str, float]
    typical: float
    noise_before: float | None
    noise_after: float | None
    note: str
    corrected: float = 0.0

    def noise(self) -> dict[str, Any]:
        """The keys `bench_noise` records about the correction (numbers, as all its keys):
        the noise before it, the typical canary, the share of processes corrected (0: the
        run fell back to the raw values) and each suite's slope."""
        return {"process_cv_raw": self.noise_before,
                "canary_typical": self.typical if math.isfinite(self.typical) else None,
                "canary_corrected": round(self.corrected, 4),
                **{f"canary_slope_{suite}": slope for suite, slope in self.slopes.items()}}


def suite_of(name: str) -> str:
    """The suite of a case name (what comes before its first '/').

    >>> suite_of("ser/pickle-5/dumps/ints/1000")
    'ser'
    """
    return name.split("/", 1)[0]


def typical_canary(canaries: Sequence[float]) -> float:
    """A run's typical canary: the mean of the fastest half of its processes' canaries
    (geometric, as `locate`), what the corrected values are scaled back to (NaN: none).

    >>> round(typical_canary([1.0, 1.0, 4.0, 4.0]), 6)
    1.0
    """
    logs = np.log(np.asarray([c for c in canaries if c > 0 and math.isfinite(c)], dtype=float))
    return exp_bound(locate(logs)[0]) if len(logs) else math.nan


def group_deviations(codes: np.ndarray, logs: np.ndarray) -> np.ndarray:
    """Each log against the mean of its group's (codes: 0..k-1 per element)."""
    counts = np.bincount(codes)
    return logs - (np.bincount(codes, weights=logs) / counts)[codes]


def learn_slope(codes: np.ndarray, log_means: np.ndarray, log_canaries: np.ndarray) -> float:
    """The slope of a process's log mean on its log canary, each against its case's mean (a
    case's own level does not enter): the weighted median of the cases' least-squares slopes,
    each weighted by its canary's spread, so that a case with a change of its own (a step,
    an outlier) cannot move the others' correction; clipped to SLOPE_LIMITS.

    >>> codes = np.array([0, 0, 1, 1, 2, 2])
    >>> c = np.log(np.array([1.0, 2.0, 1.0, 2.0, 1.0, 2.0]))
    >>> round(learn_slope(codes, c + np.array([0.0, 0.0, 5.0, 5.0, 0.0, 9.0]), c), 9)
    1.0
    """
    dm, dc = group_deviations(codes, log_means), group_deviations(codes, log_canaries)
    weights = np.bincount(codes, weights=dc * dc)
    covariance = np.bincount(codes, weights=dm * dc)
    keep = weights > 0
    if not keep.any():
        return 0.0
    slopes, weights = covariance[keep] / weights[keep], weights[keep]
    order = np.argsort(slopes)
    cumulative = np.cumsum(weights[order])
    middle = slopes[order][np.searchsorted(cumulative, cumulative[-1] / 2)]
    return float(np.clip(middle, *SLOPE_LIMITS))


def correct_processes(names: Sequence[str], means: Sequence[float], canaries: Sequence[float],
                      group: Callable[[str], str] = suite_of) -> tuple[np.ndarray, Correction]:
    """Every process mean of one run divided by the machine's speed at its moment, and how.

    A process's canary (bench.run.worker.canary_work, timed between its values) shares its
    speed state: log mean - slope x (log canary - log typical canary), with one slope per
    suite learned from the run (`learn_slope`), and `typical_canary` the run's, so values
    stay in seconds of the run's own typical machine (a slower interpreter, whose canary is
    slower too, stays slower). `group` names the cases that share a slope (their suite; finer
    groups did worse, docs/measurements.md). A case is corrected only when every process of it
    has a canary; a suite with fewer than CANARY_MIN_PROCESSES such processes is left as it is.
    NaN canary: none.

    >>> names = ["a/x"] * 10 + ["a/y"] * 10 + ["a/z"] * 10
    >>> speed = np.tile([1.0, 1.5, 1.0, 2.0, 1.2, 1.0, 1.0, 1.1, 1.3, 1.0], 3)
    >>> true = np.repeat([1.0, 2.0, 3.0], 10)
    >>> fixed, how = correct_processes(names, true * speed, speed * 0.01)
    >>> np.allclose(fixed, true), how.slopes, round(how.noise_after, 6)
    (True, {'a': 1.0}, 0.0)
    """
    names_array = np.asarray(names, dtype=object)
    m = np.asarray(means, dtype=float)
    c = np.asarray(canaries, dtype=float)
    fixed = m.copy()
    _, codes = np.unique(names_array, return_inverse=True)
    has = np.isfinite(c) & (c > 0) & (m > 0)
    complete = np.bincount(codes, weights=~has, minlength=codes.max(initial=-1) + 1) == 0
    sizes = np.bincount(codes)
    usable = complete[codes] & (sizes[codes] >= 2)
    typical = typical_canary(c[has]) if has.any() else math.nan
    slopes: dict[str, float] = {}
    short: list[str] = []
    done = np.zeros(len(m), dtype=bool)
    suites = np.asarray([group(n) for n in names_array], dtype=object) if len(m) else names_array
    for suite in dict.fromkeys(suites[complete[codes] & has]):
        rows = usable & (suites == suite)
        if rows.sum() < CANARY_MIN_PROCESSES:
            short.append(f"{suite} ({int(rows.sum())} processes)")
            continue
        _, local = np.unique(codes[rows], return_inverse=True)
        slope = learn_slope(local, np.log(m[rows]), np.log(c[rows]))
        slopes[suite] = round(slope, 4)
        corrected = complete[codes] & (suites == suite)  # one-process cases too
        done |= corrected
        fixed[corrected] = np.exp(np.log(m[corrected]) - slope * (np.log(c[corrected])
                                                                   - math.log(typical)))
    before, after = (run_noise(list(group) for group in split_by(codes, x)) for x in (m, fixed))
    return fixed, Correction(slopes, typical, before, after, describe_correction(
        slopes, short, int((~complete[codes]).sum()), bool(has.any())),
        float(done.mean()) if len(m) else 0.0)


def compare_canaries(base: Sequence[float], head: Sequence[float]) -> Interval:
    """head's typical canary over base's (`typical_canary`) with its 95% CI (Yuen-Welch on
    the logs): the machine or the interpreter differs between two runs when it excludes 1.

    >>> found = compare_canaries([1.0, 1.01, 0.99, 1.0] * 5, [1.3, 1.31, 1.29, 1.3] * 5)
    >>> round(found.value, 2), found.low > 1.2
    (1.3, True)
    """
    (cb, vb, db), (ch, vh, dh) = (locate(np.log(np.asarray(x, dtype=float))) for x in (base, head))
    if db <= 0 or dh <= 0:
        return interval_from_log(ch - cb, math.nan)
    if vb + vh == 0:
        return interval_from_log(ch - cb, 0.0)
    df = (vb + vh) ** 2 / (vb**2 / db + vh**2 / dh)
    return interval_from_log(ch - cb, t_quantile(df) * math.sqrt(vb + vh))


def split_by(codes: np.ndarray, values: np.ndarray) -> list[np.ndarray]:
    """The values of each code, in code order."""
    order = np.argsort(codes, kind="stable")
    return np.split(values[order], np.cumsum(np.bincount(codes))[:-1]) if len(codes) else []


def describe_correction(slopes: dict[str, float], short: list[str], without: int,
                        any_canary: bool) -> str:
    """One line: whether the canary correction was applied, to which suites, and why not.

    >>> describe_correction({"ser": 0.9}, ["ship (12 processes)"], 0, True)[:67]
    'corrected by the canary (slope ser 0.90); not corrected, too few pr'
    >>> describe_correction({}, ["ser (4 processes)"], 0, True)
    'not corrected, too few processes to learn a slope: ser (4 processes)'
    """
    if not any_canary:
        return "not corrected: no canary in this run"
    parts = [f"corrected by the canary (slope {', '.join(f'{s} {b:.2f}' for s, b in slopes.items())})"
             ] if slopes else []
    if short:
        parts.append(f"not corrected, too few processes to learn a slope: {', '.join(short)}")
    if without:
        parts.append(f"not corrected: {without} processes of cases without a canary on each")
    return "; ".join(parts) or "not corrected"
