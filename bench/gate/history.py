"""Change points in a history of runs: where a case's time stepped, and whether the newest run
starts a regression.

A history is a list of results files, one per commit, ordered by the commit's date (or the
run's start). Each case becomes one series: per run, the median of all its values. On
log(series) ruptures' PELT (least squares, a step in the mean; segments of 2 runs or more)
finds the change points with a penalty of PENALTY x sigma^2 x log(n), where sigma is the
series' own run-to-run noise, estimated robustly from successive differences (a step moves
one difference only). A change point is kept when its two neighbouring segments differ by
at least the threshold and a Welch t test between them gives p < ALPHA. The newest run,
which no segment of two can hold yet, is tested on its own: it starts a regression when it
is slower than the last segment by the threshold and by Z_NEWEST standard errors.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench.location import exp_clamped, middle_value
from bench.results import Results

PENALTY = 4.0        # x sigma^2 x log(n): PELT's price of a change point
ALPHA = 0.001        # Welch t test between the segments on either side of a change point
Z_NEWEST = 3.3       # standard errors the newest run must be above the last segment
MIN_SIGMA = 0.005    # floor of the noise estimate (log scale): a series that never moves
MIN_RUNS = 5         # shorter series are not analysed


@dataclass(frozen=True)
class Point:
    """One run of the history: its label (commit or file name), date and file."""

    label: str
    date: str
    path: str


@dataclass(frozen=True)
class Change:
    """A step in one case's series: from run `index` on, `ratio` times the level before it."""

    case: str
    index: int
    label: str
    before: float
    after: float
    ratio: float
    p_value: float
    newest: bool = False

    @property
    def kind(self) -> str:
        return "slower" if self.ratio > 1 else "faster"


@dataclass
class History:
    """The runs in order, each case's series (None where a run lacks it) and its changes."""

    points: list[Point]
    series: dict[str, list[float | None]]
    units: dict[str, str]
    changes: list[Change] = field(default_factory=list)
    threshold: float = 0.05

    def newest_regressions(self) -> list[Change]:
        """The changes that start at the newest run and are slower."""
        return [c for c in self.changes if c.newest and c.kind == "slower"]


def estimate_noise(log_values: np.ndarray) -> float:
    """Robust run-to-run standard deviation: 1.4826 x MAD of successive differences / sqrt 2.

    >>> noise = np.random.default_rng(0).normal(0, 0.03, 200)
    >>> round(estimate_noise(noise), 2), round(estimate_noise(noise + (np.arange(200) >= 100)), 2)
    (0.03, 0.03)
    """
    diffs = np.diff(log_values)
    mad = float(np.median(np.abs(diffs - np.median(diffs))))
    return max(1.4826 * mad / math.sqrt(2), MIN_SIGMA)


def find_changes(values: Sequence[float], threshold: float) -> list[tuple[int, float, float]]:
    """(index, ratio, p) of each change point of a series of positive numbers."""
    import ruptures
    from scipy import stats

    x = np.log(np.asarray(values, dtype=float))
    n = len(x)
    if n < MIN_RUNS:
        return []
    sigma = estimate_noise(x)
    breaks = ruptures.Pelt(model="l2", min_size=2, jump=1).fit(x.reshape(-1, 1)).predict(
        pen=PENALTY * sigma**2 * math.log(n))[:-1]
    edges = [0, *breaks, n]
    changes = []
    for j, index in enumerate(breaks):
        before, after = x[edges[j]:index], x[index:edges[j + 2]]
        p = float(stats.ttest_ind(before, after, equal_var=False).pvalue)
        step = float(after.mean() - before.mean())
        if abs(step) >= math.log1p(threshold) and p < ALPHA:
            changes.append((index, float(exp_clamped(step)), p))
    return changes


def check_newest(values: Sequence[float], threshold: float, since: int) -> tuple[float, float] | None:
    """(ratio, p) when the newest value is a slowdown from the segment values[since:-1], else None."""
    from scipy import stats

    x = np.log(np.asarray(values, dtype=float))
    segment = x[since:-1]
    if len(segment) < 2:
        return None
    sigma = estimate_noise(x[:-1])
    z = (x[-1] - segment.mean()) / (sigma * math.sqrt(1 + 1 / len(segment)))
    ratio = float(exp_clamped(x[-1] - segment.mean()))
    if ratio >= 1 + threshold and z >= Z_NEWEST:
        return ratio, float(stats.norm.sf(z))
    return None


def analyse_series(case: str, values: Sequence[float | None], points: Sequence[Point],
                   threshold: float) -> list[Change]:
    """The changes of one case; runs without the case are skipped."""
    kept = [(i, v) for i, v in enumerate(values) if v is not None and v > 0]
    if len(kept) < MIN_RUNS:
        return []
    where = [i for i, _ in kept]
    numbers = [float(v) for _, v in kept]
    changes = []
    last = 0
    for index, ratio, p in find_changes(numbers, threshold):
        changes.append(make_change(case, where, numbers, points, index, last, ratio, p))
        last = index
    newest = check_newest(numbers, threshold, last)
    if newest is not None and where[-1] == len(points) - 1:
        changes.append(make_change(case, where, numbers, points, len(numbers) - 1, last,
                                   *newest, newest=True))
    return changes


def make_change(case: str, where: list[int], numbers: list[float], points: Sequence[Point],
                index: int, since: int, ratio: float, p: float, newest: bool = False) -> Change:
    """A Change at position `index` of the kept values, with the median levels either side."""
    before = middle_value(numbers[since:index])
    return Change(case, where[index], points[where[index]].label, before,
                  min(before * ratio, sys.float_info.max), ratio, p, newest)


def median_values(results: Results) -> tuple[dict[str, float], dict[str, str]]:
    """Each case's median over all its values in one run, and its unit."""
    medians, units = {}, {}
    for benchmark in results.benchmarks:
        values = benchmark.get_values()
        if values:
            medians[benchmark.get_name()] = middle_value(values)
            units[benchmark.get_name()] = benchmark.get_unit()
    return medians, units


def describe_point(results: Results, label: str = "") -> Point:
    """The run's label (given, else its commit's first 10 digits, else its run id) and date."""
    setup = results.setup
    start = results.suite().get_dates()
    date = str(setup.get("commit_date") or (start[0].isoformat() if start else ""))
    commit = str(setup.get("commit", ""))[:10]
    return Point(label or commit or results.run, date, results.path)


def build_history(runs: Sequence[Results], threshold: float = 0.05,
                  labels: Sequence[str] = ()) -> History:
    """Order the runs by date (ties: as given), build each case's series and find its changes."""
    points = [describe_point(r, labels[i] if i < len(labels) else "") for i, r in enumerate(runs)]
    order = sorted(range(len(runs)), key=lambda i: points[i].date)
    medians = [median_values(runs[i]) for i in order]
    points = [points[i] for i in order]
    cases = list(dict.fromkeys(name for values, _ in medians for name in values))
    history = History(points, {case: [m.get(case) for m, _ in medians] for case in cases},
                      {case: unit for _, units in medians for case, unit in units.items()},
                      threshold=threshold)
    for case in cases:
        history.changes += analyse_series(case, history.series[case], points, threshold)
    return history


def detection_delay(values: Sequence[float], step_at: int, threshold: float) -> int | None:
    """Runs after `step_at` until the step is first flagged at `step_at` (0: by the run itself),
    looking at the history as it grew; None when it is never flagged."""
    points = [Point(str(i), str(i), "") for i in range(len(values))]
    for end in range(step_at + 1, len(values) + 1):
        changes = analyse_series("x", values[:end], points[:end], threshold)
        if any(c.index == step_at and c.kind == "slower" for c in changes):
            return end - 1 - step_at
    return None
