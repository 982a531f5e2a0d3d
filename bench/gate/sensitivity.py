"""How well a regression rule works on this machine: A/A false alarms and injected slowdowns.

The simulation of `bench sensitivity`. Pure: tidy frames (one per result file) in,
a `Sensitivity` of tables out (bench.gate.render writes them).

Comparisons. From k >= 3 independent runs of unchanged code: `bench compare`'s rule with
k - 1 base runs (each run as head against the others, leave-one-out), `bench compare` with
one base run (every ordered pair of runs), and, on the same ordered pairs, the rules of
`pyperf compare_to` and `asv compare`. From interleaved A/A runs (`paired`: files taken two
by two, A then B, both sides carrying `round`): the paired rule, each file of a pair as head
once, and the other rules on the same pairs.

For each comparison the head side is slowed by every level of SLOWDOWN_GRID (values
multiplied by 1 + s) and each rule says `slower` or not. The bench rule corrects for many
cases at once, so a slowdown is injected into one case at a time while the others stay A/A
(a lone regression, the hard case); the `every case` rows slow all cases at once, where
Benjamini-Hochberg gains power. Level 0 is the A/A comparison: any `slower` there is a
false alarm, and the share of A/A comparisons with any case `slower` is how often a gate on
that rule would fail unchanged code (a per-case rate of 3% over a dozen cases fails a third
of them). The notes check TARGETS, and for separate runs whether one base run against one
head run (SINGLE_RULE) keeps within the false-alarm target while catching more 10% slowdowns
than asv's rule on the same pairs.

The other rules, as their sources do it:
* pyperf compare_to: Student's two-sample t-test with pooled variance on all values of
  the two benchmarks, two-sided, 95%; `slower` when significant and the mean ratio
  head/base > 1 (no --min-speed). pyperf falls back to
  "significant" when the two sides have different numbers of values, and so does this.
  scipy's exact t quantile replaces pyperf's table (they differ in the third decimal).
* asv compare: Mann-Whitney U on all values, two-sided, p < 0.002 (exact below 21 values
  per side, normal approximation without continuity correction above, as asv), and
  median head > 1.1 x median base; when the samples are too small for p < 0.002 to be
  possible (5 values or fewer per side), asv's fallback: the 99% order-statistic CIs of
  the medians do not overlap (a bound the sample cannot give becomes the sample's extreme;
  asv widens it further with a Laplace posterior).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from bench.errors import InputError
from bench.gate.estimates import has_rounds, log_process_means
from bench.gate.rule import (
    ALPHA,
    adjust_p_values,
    assess_cases,
    classify,
    default_threshold,
    half_widths,
    p_values,
)
from bench.location import exp_clamped
from bench.text import format_percent

SLOWDOWNS = (0.05, 0.10, 0.20)
SLOWDOWN_GRID = (0.0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.10, 0.15, 0.20, 0.30, 0.50, 1.00)
RELIABLE = 0.8          # share of comparisons a slowdown must be caught in to be "reliable"
MIN_RUNS = 3
ASV_P = 0.002
ASV_FACTOR = 1.1
PYPERF_P = 0.05
# What the gate must achieve, per kind of evidence: (rule kind, most A/A false `slower`
# allowed, an injected slowdown, least share of it caught). Separate runs: at most 2% false
# alarms and 75% of 10% slowdowns caught; interleaved A/B: at most 1% and 90% of 5% ones.
TARGETS = {"runs": (0.02, 0.10, 0.75), "paired": (0.01, 0.05, 0.90)}
SINGLE_RULE = "bench, 1 base run"  # the rule's label with one base run against one head run
METRIC_COLUMNS = ["aa_false_slower", *(f"caught_{round(s * 100)}" for s in SLOWDOWNS)]


@dataclass(frozen=True)
class Sensitivity:
    """Per rule and per case: A/A false-slower rate, share of injected slowdowns caught."""

    overall: pd.DataFrame
    per_case: pd.DataFrame
    runs: tuple[str, ...]
    threshold: float
    paired: bool
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------- the rules

def slower_pyperf(base: np.ndarray, head: np.ndarray) -> np.ndarray:
    """pyperf compare_to's `slower` for each row of head (levels x values) against base.

    >>> slower_pyperf(np.array([1.0, 1.1, 0.9]), np.array([[1.0, 1.1, 0.9], [2.0, 2.2, 1.8]]))
    array([False,  True])
    """
    if len(base) == 1 and head.shape[1] == 1 or len(base) != head.shape[1]:
        significant = np.ones(len(head), dtype=bool)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            p = stats.ttest_ind(head, base[None, :], axis=1, equal_var=True).pvalue
        significant = np.nan_to_num(p, nan=1.0) < PYPERF_P
    return significant & (head.mean(axis=1) / base.mean() > 1)


def slower_asv(base: np.ndarray, head: np.ndarray) -> np.ndarray:
    """asv compare's `worse` for each row of head (levels x values) against base.

    >>> base = np.linspace(1.0, 1.1, 30)
    >>> slower_asv(base, np.stack([base, base * 1.05, base * 1.3]))
    array([False, False,  True])
    """
    n_base, n_head = len(base), head.shape[1]
    if 1 / special.comb(n_base + n_head, min(n_base, n_head)) < ASV_P:
        method = "exact" if max(n_base, n_head) <= 20 else "asymptotic"
        p = stats.mannwhitneyu(head, base[None, :], axis=1, method=method,
                               use_continuity=False).pvalue
        different = p < ASV_P
    else:
        different = np.array([not overlap(median_ci(base), median_ci(row)) for row in head])
    return different & (np.median(head, axis=1) > ASV_FACTOR * np.median(base))


def median_ci(values: np.ndarray) -> tuple[float, float]:
    """99% order-statistic CI of the median, widened to the sample range when unattainable."""
    ci = stats.quantile_test(values, q=float(np.median(values))).confidence_interval(0.99)
    low = ci.low if np.isfinite(ci.low) else values.min()
    high = ci.high if np.isfinite(ci.high) else values.max()
    return float(low), float(high)


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True when two closed intervals overlap.

    >>> overlap((1, 2), (2, 3)), overlap((1, 2), (2.5, 3))
    (True, False)
    """
    return a[1] >= b[0] and a[0] <= b[1]


def slower_bench(tests: pd.DataFrame, levels: Sequence[float], threshold: float,
                 at_once: bool = False) -> np.ndarray:
    """bench compare's `slower` per case x level, head slowed one case at a time (or all).

    Scaling a case's head values by f shifts its log ratio by log f and leaves its
    variances unchanged, so the A/A tests are shifted rather than recomputed.
    """
    d, se, df = (tests[c].to_numpy(float) for c in ("d", "se", "df"))
    p_null = tests["p_value"].to_numpy(float)
    out = np.zeros((len(tests), len(levels)), dtype=bool)
    for j, level in enumerate(levels):
        shifted = d + math.log1p(level)
        p = p_values(shifted, se, df)
        half = half_widths(se, df)  # clamped to a float's range: only compared for a verdict
        ratio, low, high = (exp_clamped(x) for x in (shifted, shifted - half, shifted + half))
        if at_once or level == 0:
            p_adjusted = adjust_p_values(p)
        else:
            p_adjusted = adjust_one_at_a_time(p, p_null, ratio > 1 + threshold)
        out[:, j] = classify(ratio, low, high, p_adjusted, threshold) == "slower"
    return out


def adjust_one_at_a_time(p: np.ndarray, p_null: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """BH-adjusted p of each case when only that case takes its value from p (others p_null)."""
    out = np.full(len(p), math.nan)
    for i in np.flatnonzero(candidates & (p < ALPHA)):
        mixed = p_null.copy()
        mixed[i] = p[i]
        out[i] = adjust_p_values(mixed)[i]
    return out


# ---------------------------------------------------------------- comparisons

def plan_comparisons(n: int, paired: bool) -> dict[str, list[tuple[list[int], int]]]:
    """(base indices, head index) of every comparison, per kind: runs, pairs or paired.

    >>> plan_comparisons(3, paired=False)["runs"]
    [([1, 2], 0), ([0, 2], 1), ([0, 1], 2)]
    >>> plan_comparisons(4, paired=True)["pairs"]
    [([0], 1), ([1], 0), ([2], 3), ([3], 2)]
    """
    if paired:
        pairs = [pair for i in range(0, n, 2) for pair in (([i], i + 1), ([i + 1], i))]
        return {"paired": pairs, "pairs": pairs}
    return {"runs": [([j for j in range(n) if j != i], i) for i in range(n)],
            "pairs": [([j], i) for i in range(n) for j in range(n) if i != j]}


def common_cases(frames: Sequence[pd.DataFrame]) -> list[str]:
    """Cases present in every run, sorted."""
    sets = [set(frame["benchmark"].astype(str)) for frame in frames]
    return sorted(set.intersection(*sets))


def run_bench_rule(pms: Sequence[pd.DataFrame], plan: list[tuple[list[int], int]],
                   mode: str, threshold: float, at_once: bool) -> np.ndarray:
    """bench's slower flags: comparisons x cases x levels."""
    flags = []
    for base_idx, head_idx in plan:
        base_pm = pd.concat([pms[i] for i in base_idx], ignore_index=True)
        tests, _ = assess_cases(base_pm, pms[head_idx], mode)
        flags.append(slower_bench(tests, SLOWDOWN_GRID, threshold, at_once))
    return np.stack(flags)


def run_value_rule(values: Sequence[dict[str, np.ndarray]], cases: list[str],
                   plan: list[tuple[list[int], int]],
                   rule: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """A rule on all values (pyperf, asv): comparisons x cases x levels."""
    factors = 1 + np.asarray(SLOWDOWN_GRID)[:, None]
    return np.stack([np.stack([rule(values[base_idx[0]][case], factors * values[head][case])
                               for case in cases])
                     for base_idx, head in plan])


def values_by_case(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """All values of each case of one run."""
    return {str(case): group.to_numpy(float)
            for case, group in frame.groupby("benchmark", observed=True)["value"]}


def simulate_flags(frames: Sequence[pd.DataFrame], threshold: float,
                   paired: bool) -> tuple[list[str], dict[str, np.ndarray]]:
    """The cases and, per rule label, slower flags (comparisons x cases x levels)."""
    cases = common_cases(frames)
    if not cases:
        raise InputError("no case is present in every run")
    frames = [frame[frame["benchmark"].astype(str).isin(cases)] for frame in frames]
    pms = [log_process_means(frame) for frame in frames]
    values = [values_by_case(frame) for frame in frames]
    plan = plan_comparisons(len(frames), paired)
    flags = {}
    if paired:
        label = "bench, interleaved (paired by round)"
        flags[label] = run_bench_rule(pms, plan["paired"], "paired", threshold, False)
        flags[label + ", every case slowed"] = run_bench_rule(pms, plan["paired"], "paired",
                                                              threshold, True)
    else:
        label = f"bench, {len(frames) - 1} base runs (leave-one-out)"
        flags[label] = run_bench_rule(pms, plan["runs"], "runs", threshold, False)
        flags[label + ", every case slowed"] = run_bench_rule(pms, plan["runs"], "runs",
                                                              threshold, True)
    flags[SINGLE_RULE] = run_bench_rule(pms, plan["pairs"], "within", threshold, False)
    flags["pyperf compare_to"] = run_value_rule(values, cases, plan["pairs"], slower_pyperf)
    flags["asv compare"] = run_value_rule(values, cases, plan["pairs"], slower_asv)
    return cases, flags


# ---------------------------------------------------------------- summaries

def smallest_reliable(shares: np.ndarray) -> float:
    """Smallest grid slowdown from which every larger one is caught in >= RELIABLE of cases.

    `shares` holds one share per SLOWDOWN_GRID level; NaN when even the largest fails.

    >>> smallest_reliable(np.array([0, 0, 0, .2, .5, .8, .9, 1, 1, 1, 1, 1]))
    0.07
    """
    reliable = shares[1:] >= RELIABLE
    if not reliable[-1]:
        return math.nan
    failing = np.flatnonzero(~reliable)
    start = failing[-1] + 1 if len(failing) else 0
    return SLOWDOWN_GRID[1:][start]


def summarize_flags(label: str, cases: list[str], flags: np.ndarray) -> pd.DataFrame:
    """Per case: comparisons, A/A false-slower share, caught shares, smallest reliable."""
    shares = flags.mean(axis=0)  # cases x levels
    frame = pd.DataFrame({"rule": label, "benchmark": cases, "comparisons": flags.shape[0],
                          "aa_false_slower": shares[:, 0]})
    for s in SLOWDOWNS:
        frame[f"caught_{round(s * 100)}"] = shares[:, SLOWDOWN_GRID.index(s)]
    frame["smallest_reliable"] = [smallest_reliable(row) for row in shares]
    return frame


def share_failed(flags: np.ndarray) -> float:
    """Share of the A/A comparisons (level 0) with at least one case `slower`: how often the
    gate would exit 1 on unchanged code.

    >>> flags = np.zeros((4, 3, 2), dtype=bool); flags[0, 1, 0] = flags[1, 2, 1] = True
    >>> share_failed(flags)
    0.25
    """
    return float(flags[:, :, 0].any(axis=1).mean())


def summarize_overall(per_case: pd.DataFrame) -> pd.DataFrame:
    """Per rule: comparisons x cases, mean shares, median smallest reliable slowdown."""
    grouped = per_case.groupby("rule", sort=False)
    out = grouped[METRIC_COLUMNS].mean()
    out.insert(0, "comparisons", grouped["comparisons"].sum())
    out["median_smallest_reliable"] = grouped["smallest_reliable"].agg(
        lambda s: float(np.median(s.fillna(math.inf))))
    return out.reset_index().replace(math.inf, math.nan)


def check_targets(overall: pd.DataFrame, paired: bool) -> list[str]:
    """Notes saying whether TARGETS are met by the bench rule, for a lone slowed case and for
    the whole head side slowed (the first two rows)."""
    kind = "paired" if paired else "runs"
    max_false, slowdown, min_caught = TARGETS[kind]
    notes = []
    for _, row in overall.iloc[:2].iterrows():
        caught = row[f"caught_{round(slowdown * 100)}"]
        met = row["aa_false_slower"] <= max_false and caught >= min_caught
        notes.append(f"target ({'interleaved A/B' if paired else 'separate runs'}): A/A false "
                     f"slower <= {max_false:.0%} and >= {min_caught:.0%} of {slowdown:.0%} "
                     f"slowdowns caught; {row['rule']}: "
                     f"{format_percent(row['aa_false_slower'], 1)} and "
                     f"{format_percent(caught)}: {'met' if met else 'NOT met'}")
    if not paired and {SINGLE_RULE, "asv compare"} <= set(overall["rule"]):
        notes.append(describe_single_target(overall))
    return notes


def describe_single_target(overall: pd.DataFrame) -> str:
    """Whether one base run against one head run keeps A/A false `slower` within the runs
    target and catches more 10% slowdowns than asv's rule on the same pairs."""
    max_false = TARGETS["runs"][0]
    rows = overall.set_index("rule")
    single, asv = rows.loc[SINGLE_RULE], rows.loc["asv compare"]
    met = single["aa_false_slower"] <= max_false and single["caught_10"] > asv["caught_10"]
    return (f"target (single runs): A/A false slower <= {max_false:.0%} and more 10% slowdowns "
            f"caught than asv compare; bench, 1 base run: "
            f"{format_percent(single['aa_false_slower'], 1)} and "
            f"{format_percent(single['caught_10'])} (asv: "
            f"{format_percent(asv['aa_false_slower'], 1)} and {format_percent(asv['caught_10'])})"
            f": {'met' if met else 'NOT met'}")


def simulate_sensitivity(frames: Sequence[pd.DataFrame], threshold: float | None = None,
                         paired: bool = False) -> Sensitivity:
    """A/A false alarms and caught injected slowdowns of each rule on these runs.

    `frames`: one tidy frame per result file; with `paired`, interleaved A/A files taken
    two by two (A, B).
    """
    if paired and (len(frames) < 2 or len(frames) % 2):
        raise InputError(f"--paired needs interleaved A/A runs two by two (A B [A B ...]), "
                         f"got {len(frames)} file(s)")
    if not paired and len(frames) < MIN_RUNS:
        raise InputError(f"sensitivity needs at least {MIN_RUNS} independent runs of unchanged "
                         f"code, got {len(frames)}")
    if paired and not all(has_rounds(frame) for frame in frames):
        raise InputError("--paired needs files of an interleaved A/B run (bench_round on every "
                         "run)")
    if threshold is None:
        threshold = default_threshold(frames[0])
    cases, flags = simulate_flags(frames, threshold, paired)
    per_case = pd.concat([summarize_flags(label, cases, f) for label, f in flags.items()],
                         ignore_index=True)
    overall = summarize_overall(per_case)
    overall.insert(overall.columns.get_loc("aa_false_slower") + 1, "aa_failed",
                   [share_failed(flags[label]) for label in overall["rule"]])
    runs = tuple(str(frame["run"].iloc[0]) for frame in frames)
    notes = [*check_targets(overall, paired),
             f"{len(cases)} case(s) present in every run; slowdowns are injected into one case "
             "at a time unless the rule says 'every case slowed'; 'smallest reliable' is the "
             f"smallest slowdown caught in >= {RELIABLE:.0%} of comparisons"]
    return Sensitivity(overall, per_case, runs, threshold, paired, tuple(notes))
