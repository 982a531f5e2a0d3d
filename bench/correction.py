"""A run's process means corrected for the machine's state at their moment, before they are located.

Two corrections in `correct_processes` (the one place; the schedule, the summary, the
report, `bench export` and the gate all locate what it returns):

1. **Preemption**: a process's `bench_cpu_share` (CPU time over wall time of its values'
   window, bench.run.worker.time_values) is the share of that window it ran; the rest it
   waited for the CPU. Given the shares, `correct_processes` takes that waiting out; bench's
   own callers give none: on quick runs it narrowed no interval beyond the canary's
   (docs/measurements.md), so the worker records the share and
   scripts/cpu_share_estimators.py measures the step.
2. **A slower CPU while running**: a process's `bench_canary` (bench.run.worker.canary_work,
   timed between its values) shares its speed state; the means are divided by it.

Both slopes are learned per suite from the run, each net of the other. The raw values stay
untouched in the results file; a run without a canary (older files, `bench ab`) is located as
timed, and `Correction.note` says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from bench.location import Interval, exp_bound, interval_from_log, locate, run_noise, t_quantile

CANARY_MIN_PROCESSES = 20   # processes (of cases with 2+, all with a canary) a suite needs
SLOPE_LIMITS = (0.0, 1.5)   # the learned slope of a process's log time on its canary's, clipped
SHARE_LIMITS = (0.0, 1.0)   # ... on its log 1 / CPU share: 1 when all its time is its own CPU's


class Correction(NamedTuple):
    """How a run's process means were corrected: the slope learned per suite on the canary
    (absent: not corrected by it), the run's typical canary (seconds), the run's per-process
    noise before and after, one line saying what was done, the share of processes corrected
    by the canary, the slope per suite on the CPU share, the share of processes corrected by
    it and the noise after that step alone."""

    slopes: dict[str, float]
    typical: float
    noise_before: float | None
    noise_after: float | None
    note: str
    corrected: float = 0.0
    share_slopes: dict[str, float] = {}
    share_corrected: float = 0.0
    noise_share: float | None = None

    def noise(self) -> dict[str, Any]:
        """The keys `bench_noise` records about the correction (numbers, as all its keys):
        the noise before it and after the CPU-share step, the typical canary, the shares of
        processes corrected by each step (0: that step fell back to the values as timed)
        and each suite's slopes."""
        return {"process_cv_raw": self.noise_before,
                "process_cv_cpu_share": self.noise_share,
                "cpu_share_corrected": round(self.share_corrected, 4),
                "canary_typical": self.typical if math.isfinite(self.typical) else None,
                "canary_corrected": round(self.corrected, 4),
                **{f"cpu_share_slope_{suite}": slope for suite, slope in self.share_slopes.items()},
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


def learn_slope(codes: np.ndarray, log_means: np.ndarray, log_canaries: np.ndarray,
                limits: tuple[float, float] = SLOPE_LIMITS) -> float:
    """The slope of a process's log mean on its log canary, each against its case's mean (a
    case's own level does not enter): the weighted median of the cases' least-squares slopes,
    each weighted by its canary's spread, so that a case with a change of its own (a step,
    an outlier) cannot move the others' correction; clipped to `limits`.

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
    return float(np.clip(middle, *limits))


def complete_cases(codes: np.ndarray, has: np.ndarray) -> np.ndarray:
    """Per process: whether every process of its case has the number (`has`)."""
    return (np.bincount(codes, weights=~has, minlength=codes.max(initial=-1) + 1) == 0)[codes]


def preempted_logs(codes: np.ndarray, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per process: log share - log its case's highest share (<= 0: how much more of its
    window it waited than its case's least preempted process; 0 where its case lacks a share
    on some process), and whether its case has one on every process.

    >>> logs, ok = preempted_logs(np.array([0, 0, 1, 1]), np.array([1.0, 0.5, 0.8, np.nan]))
    >>> np.round(logs, 3).tolist(), ok.tolist()
    ([0.0, -0.693, 0.0, 0.0], [True, True, False, False])
    """
    ok = complete_cases(codes, np.isfinite(shares) & (shares > 0))
    logs = np.log(np.where(ok, shares, 1.0))
    best = np.full(codes.max(initial=-1) + 1, -np.inf)
    np.maximum.at(best, codes, logs)
    return np.where(ok, logs - best[codes], 0.0), ok


def correct_processes(names: Sequence[str], means: Sequence[float], canaries: Sequence[float],
                      group: Callable[[str], str] = suite_of,
                      shares: Sequence[float] | None = None) -> tuple[np.ndarray, Correction]:
    """Every process mean of one run corrected for the machine's state at its moment, and how:
    log mean + share slope x `preempted_logs` - canary slope x (log canary - log typical).

    A process's CPU share (`shares`; None: not recorded) says which share of its values'
    window it waited for the CPU: that time is taken out, each case kept at the level of its
    least preempted process. Its canary (bench.run.worker.canary_work, timed between its
    values) shares its speed state, and
    `typical_canary` is the run's, so values stay in seconds of the run's own typical machine
    (a slower interpreter, whose canary is slower too, stays slower). Both slopes are learned
    per suite from the run (`learn_slope`; the share's within SHARE_LIMITS: 1 where a case's
    time is all its own CPU's, less where it waits on I/O or other processes), each net of the
    other (two rounds). `group` names the cases that share the slopes (their suite; finer
    groups did worse, docs/measurements.md). A case is corrected by a number only when every
    process of it has one; a suite with fewer than CANARY_MIN_PROCESSES such processes (of
    cases with 2+) is not corrected by it. NaN: none.

    >>> names = ["a/x"] * 10 + ["a/y"] * 10 + ["a/z"] * 10
    >>> speed = np.tile([1.0, 1.5, 1.0, 2.0, 1.2, 1.0, 1.0, 1.1, 1.3, 1.0], 3)
    >>> share = np.tile([1.0, 0.5, 0.9, 1.0, 0.7], 6)
    >>> true = np.repeat([1.0, 2.0, 3.0], 10)
    >>> fixed, how = correct_processes(names, true * speed / share, speed * 0.01, shares=share)
    >>> np.allclose(fixed, true, rtol=1e-3), round(how.noise_after, 3)
    (True, 0.0)
    >>> how.note
    'preempted time taken out by the CPU share (slope a 1.00); corrected by the canary (slope a 1.00)'
    """
    names_array = np.asarray(names, dtype=object)
    m = np.asarray(means, dtype=float)
    _, codes = np.unique(names_array, return_inverse=True)
    suites = np.asarray([group(n) for n in names_array], dtype=object) if len(m) else names_array
    share = np.full(len(m), math.nan) if shares is None else np.asarray(shares, dtype=float)
    pre, by_share = preempted_logs(codes, share)
    c = np.asarray(canaries, dtype=float)  # as timed: a socket case's share is not its canary's
    has = np.isfinite(c) & (c > 0) & (m > 0)
    complete = complete_cases(codes, has)
    typical = typical_canary(c[has]) if has.any() else math.nan
    x = {"share": -pre, "canary": np.log(np.where(complete, c, typical if has.any() else 1.0))
         - (math.log(typical) if has.any() else 0.0)}
    log_m = np.log(np.where(m > 0, m, 1.0))
    several = np.bincount(codes)[codes] >= 2
    learned: dict[str, dict[str, float]] = {"share": {}, "canary": {}}
    fix = {"share": np.zeros(len(m)), "canary": np.zeros(len(m))}  # what each takes off log m
    short: list[str] = []
    for suite in dict.fromkeys(suites[(complete & has) | by_share]):
        in_suite = suites == suite
        rows = {"share": several & by_share & in_suite, "canary": several & complete & in_suite}
        learn = [k for k in ("canary", "share") if rows[k].sum() >= CANARY_MIN_PROCESSES]
        if complete[in_suite].any() and "canary" not in learn:
            short.append(f"{suite} ({int(rows['canary'].sum())} processes)")
        for _ in range(2 if len(learn) == 2 else 1):  # each net of the other
            for key in learn:
                other = fix["canary" if key == "share" else "share"]
                local = np.unique(codes[rows[key]], return_inverse=True)[1]
                slope = learn_slope(local, (log_m - other)[rows[key]], x[key][rows[key]],
                                    SHARE_LIMITS if key == "share" else SLOPE_LIMITS)
                learned[key][str(suite)] = round(slope, 4)
                fix[key] = np.where(in_suite, slope * x[key], fix[key])
    corrected = {k: np.isin(suites, list(learned[k])) & (by_share if k == "share" else complete)
                 for k in learned}
    moved = (m > 0) & (fix["share"] + fix["canary"] != 0)  # the others stay as timed, bit for bit
    fixed = np.where(moved, np.exp(log_m - fix["share"] - fix["canary"]), m)
    with_share = np.where((m > 0) & (fix["share"] != 0), np.exp(log_m - fix["share"]), m)
    before, middle, after = (run_noise(list(group) for group in split_by(codes, values))
                             for values in (m, with_share, fixed))
    note = (describe_shares(learned["share"], bool(np.isfinite(share).any()))
            if shares is not None else "") + describe_correction(
        learned["canary"], short, int((~complete).sum()), bool(has.any()))
    return fixed, Correction(learned["canary"], typical, before, after, note,
                             float(corrected["canary"].mean()) if len(m) else 0.0,
                             learned["share"], float(corrected["share"].mean()) if len(m) else 0.0,
                             middle)


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


def describe_shares(slopes: dict[str, float], any_share: bool) -> str:
    """The start of a Correction's note: whether the preempted time was taken out, and where.

    >>> describe_shares({"ser": 1.0}, True)
    'preempted time taken out by the CPU share (slope ser 1.00); '
    >>> describe_shares({}, False)[:58]
    'not corrected for preemption: no CPU share in this run (an'
    """
    if not any_share:
        return "not corrected for preemption: no CPU share in this run (an older file); "
    if not slopes:
        return "not corrected for preemption: too few processes with a CPU share; "
    return ("preempted time taken out by the CPU share (slope "
            f"{', '.join(f'{s} {b:.2f}' for s, b in slopes.items())}); ")
