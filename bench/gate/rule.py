"""The verdict rule: compare head runs against base runs case by case.

The statistics of `bench compare` and of the paired analysis of `bench ab` (the per-case
estimates are in bench.gate.estimates). Pure: tidy frames (see bench.frame) in, a
`Comparison` out; no file access, no printing, no formatting (see bench.gate.render).

The rule
--------
Evidence is the per-process mean (values inside one process are correlated), on a log
scale: a case's effect is log(head / base) and its noise is relative. Per case:

* location: the mean of the fastest half of a unit's log process means, with Yuen's
  variance (bench.location.locate): load only adds time (docs/measurements.md).
* units: the blocks the two sides were measured in, whose spread is the noise a gate must
  beat. `runs` mode (3+ runs in all): a unit is a run, and the spread of run locations
  within each side, pooled, is the run-to-run variation; `paired` mode (one interleaved
  A/B run each side, every process carrying `round`): a unit is a round and the test is on
  the per-round differences; `within` mode (one base run, one head run): the spread of
  processes inside the runs (Yuen-Welch t), and from MIN_SHIFT_CASES cases on, the shift all
  cases share and a run-to-run floor learned across cases (bench.gate.shift): each case is
  tested net of the shift; with fewer cases a note says run-to-run variation is not counted.
* shared effect: the units' effect common to all cases (a run when the whole machine was
  slow) is the median over cases of their centred unit locations; its variance keeps the
  df of the units (k - 2 for k runs), however many cases there are, and is part of every
  case's variance.
* moderation: each case's own unit variance has few df (1 for 3 runs), so it is shrunk
  toward the common value of all cases by empirical Bayes (Smyth 2004, limma's moderated t),
  as an inflation over the case's process floor; in `within` mode the process variances
  are shrunk, and so are the unit variances when a unit holds one process (no floor).
  The prior adds its df (capped at MAX_PRIOR_DF), from at least MIN_PRIOR_CASES.
* floor: the variance of d is never below what the process spread inside the units implies
  (a variance-components estimate with between-unit variance truncated at zero).
* test: two-sided t on log(ratio); p-values adjusted by Benjamini-Hochberg over every case
  with a test (scipy.stats.false_discovery_control), at FDR `alpha` (ALPHA, 5%).
* verdict: `slower` when significant after the adjustment AND the 95% CI reaches above
  1 + threshold (the slowdown is real and cannot be shown to be negligible); `faster`
  likewise below 1 / (1 + threshold); `same` when the 95% CI lies inside
  [1 / (1 + threshold), 1 + threshold]; otherwise `uncertain` (also with fewer than
  MIN_PROCESSES processes on a side); `missing` (base only), `new` (head only).

The CI's bound, not the point estimate, must reach the threshold: a point-estimate rule
catches at most half of threshold-sized slowdowns (docs/measurements.md).
"""


from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

from bench.errors import InputError
from bench.frame import MIN_PROCESSES
from bench.gate.estimates import (
    check_units,
    estimate_cases,
    estimate_counts,
    log_process_means,
    moderate_cases,
    split_shared,
    welch_df,
)
from bench.gate.shift import RunShift, describe_shift, estimate_shift, net_of_shift
from bench.location import CONFIDENCE, exp_bound, exp_clamped, exp_intervals, interval_from_log
from bench.metric import INSTRUCTIONS, TIME, choose_threshold, metric_of_units
from bench.text import VERDICTS

DEFAULT_THRESHOLD = TIME.threshold  # smallest change a verdict slower or faster must reach past
COUNT_THRESHOLD = INSTRUCTIONS.threshold  # the same for counts (bench.metric holds both)
ALPHA = 0.05            # false discovery rate of the Benjamini-Hochberg adjustment
CASE_COLUMNS = ["benchmark", "verdict", "ratio", "ci_low", "ci_high", "p_value", "p_adjusted",
                "base_mean", "head_mean", "unit", "n_base", "n_head", "method", "df", "reason"]


@dataclass(frozen=True)
class Estimate:
    """A ratio head/base with its CI, p-value and degrees of freedom."""

    ratio: float
    ci_low: float
    ci_high: float
    p_value: float = math.nan
    df: float = math.nan
    cases: int = 0


@dataclass(frozen=True)
class Pooling:
    """What the cases share: the unit effect common to all of them, and the variance prior."""

    shared_var: float = 0.0     # variance of a unit effect every case feels (log scale)
    shared_df: float = math.inf
    prior_df: float = 0.0       # df the empirical Bayes prior adds to each case
    mean_var: float = 0.0       # variance of the all-case mean unit effect (for the geomean)
    mean_df: float = math.inf
    run_shift: float = 0.0      # one run per side: log shift common to all cases (shift.py)
    run_shift_var: float = 0.0  # its variance
    run_floor_var: float = 0.0  # run-to-run variance every case gets on top of its own
    run_floor_df: float = math.inf


@dataclass(frozen=True)
class Comparison:
    """Verdicts of head against base: one row per case, slowest first, and their summary."""

    cases: pd.DataFrame
    geomean: Estimate
    mode: str
    threshold: float
    alpha: float
    base_runs: tuple[str, ...]
    head_runs: tuple[str, ...]
    pooling: Pooling = field(default_factory=Pooling)
    notes: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        """Number of cases per verdict, every verdict present."""
        found = self.cases["verdict"].value_counts()
        return {v: int(found.get(v, 0)) for v in VERDICTS}


# ---------------------------------------------------------------- tests and verdicts

def apply_tests(estimates: pd.DataFrame, centered: pd.DataFrame | None,
                constraints: int) -> tuple[pd.DataFrame, Pooling]:
    """Add se, df, p-value and CI of each case: shared unit variance + the case's moderated
    residual unit variance, never below the process floor."""
    out = estimates.copy()
    s2, df = out["s2"].to_numpy(float), out["df"].to_numpy(float)
    shared_var, shared_df, residual_ss = split_shared(centered, constraints)
    scale = out["scale"].to_numpy(float)
    floor = out["floor"].fillna(0.0).to_numpy(float)
    by_units = np.zeros(len(out), dtype=bool)
    if residual_ss is not None:
        by_units = out["benchmark"].isin(residual_ss.index).to_numpy()
        s2 = s2.copy()
        s2[by_units] = residual_ss.reindex(out["benchmark"][by_units]).to_numpy(float) \
            / df[by_units]
        if (floor[by_units] > 0).all():
            s2, df, prior_df = moderate_cases(s2, df, floor / scale, by_units,
                                              out["floor_df"].to_numpy(float))
        else:  # one process per unit (bench ab's default): no floor, shrink s2 itself
            s2, df, prior_df = moderate_cases(s2, df, np.ones(len(out)), by_units)
    else:  # within mode: shrink the process variances themselves
        within = (out["method"] == "within").to_numpy()
        s2, df, prior_df = moderate_cases(s2, df, np.ones(len(out)), within)
    shared = np.where(by_units, shared_var, 0.0)
    unit_var = s2 + shared
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(by_units, unit_var**2 / (shared**2 / shared_df + s2**2 / df), df)
    use_floor = floor > unit_var * scale
    out["se"] = np.sqrt(np.where(use_floor, floor, unit_var * scale))
    out["df"] = np.where(use_floor, out["floor_df"].to_numpy(float), df)
    found = None
    if centered is None:  # within mode: the shift all cases share and the run-to-run floor
        found = estimate_shift(out["d"].to_numpy(float), out["se"].to_numpy(float) ** 2)
    if found is not None:
        d, var, df = net_of_shift(out["d"].to_numpy(float), out["se"].to_numpy(float) ** 2,
                                  out["df"].to_numpy(float), found)
        out["d"], out["se"], out["df"] = d, np.sqrt(var), df
    out["shift"] = found.shift if found else 0.0
    d, se, df = (out[c].to_numpy(float) for c in ("d", "se", "df"))
    out["p_value"] = p_values(d, se, df)
    half = half_widths(se, df)
    out["ratio"], out["ci_low"], out["ci_high"] = exp_intervals(d, half)
    out["log_low"], out["log_high"] = d - half, d + half  # for the verdict past a float's range
    out["shared_var"] = shared * scale
    mean_var, mean_df = spread_of_mean(centered, constraints)
    pooling = Pooling(shared_var, shared_df, prior_df, mean_var, mean_df)
    if found is not None:
        pooling = replace(pooling, run_shift=found.shift, run_shift_var=found.shift_var,
                          run_floor_var=found.floor_var, run_floor_df=found.df)
    return out, pooling


def spread_of_mean(centered: pd.DataFrame | None, constraints: int) -> tuple[float, float]:
    """Variance of one unit's mean effect over the cases measured in every unit, and its df."""
    if centered is None:
        return 0.0, math.inf
    complete = centered.dropna()
    df = float(centered.shape[1] - constraints)
    if complete.empty or df < 1:
        return 0.0, math.inf
    return float((complete.mean(axis=0) ** 2).sum()) / df, df


def p_values(d: np.ndarray, se: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided t-test p-values of d = 0 (NaN where untestable; 0 or 1 when se is 0).

    >>> p_values(np.array([0.0, 0.1]), np.array([0.0, 0.0]), np.array([3.0, 3.0])).tolist()
    [1.0, 0.0]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(d) / se
        p = 2 * stats.t.sf(t, df)
    p = np.where(se == 0, np.where(d == 0, 1.0, 0.0), p)
    return np.where(np.isfinite(se) & (df > 0), p, math.nan)


def half_widths(se: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Half-widths of CONFIDENCE-level t intervals on the log scale (NaN where df <= 0)."""
    with np.errstate(invalid="ignore"):
        return stats.t.ppf(0.5 + CONFIDENCE / 2, np.where(df > 0, df, math.nan)) * se


def intervals(d: np.ndarray, se: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CONFIDENCE-level interval of the ratio exp(d) (NaN where untestable or past a float)."""
    _, low, high = exp_intervals(d, half_widths(se, df))
    return low, high


def adjust_p_values(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN entries stay NaN and are not counted.

    >>> adjust_p_values(np.array([0.01, np.nan, 0.04])).tolist()
    [0.02, nan, 0.04]
    """
    out = np.full(len(p), math.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out


def classify(ratio: np.ndarray, ci_low: np.ndarray, ci_high: np.ndarray, p_adjusted: np.ndarray,
             threshold: float, alpha: float = ALPHA) -> np.ndarray:
    """Verdict per case: slower, faster, same or uncertain (see the module docstring).

    >>> classify(np.array([1.2, 1.01, 1.2, 1.04]), np.array([1.1, 0.99, 0.8, 1.01]),
    ...          np.array([1.3, 1.03, 1.7, 1.07]), np.array([0.001, 0.5, 0.3, 0.001]),
    ...          0.05).tolist()
    ['slower', 'same', 'uncertain', 'slower']
    """
    up, down = 1 + threshold, 1 / (1 + threshold)
    with np.errstate(invalid="ignore"):
        significant = p_adjusted < alpha
        same = (ci_low >= down) & (ci_high <= up)
        slower = significant & (ratio > 1) & (ci_high > up)
        faster = significant & (ratio < 1) & (ci_low < down)
    return np.select([~np.isfinite(p_adjusted), slower, faster, same],
                     ["uncertain", "slower", "faster", "same"], "uncertain")


def assess_counts(base_pm: pd.DataFrame, head_pm: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Counts need no test: the ratio of median counts, the interval the values' spread
    allows around it (estimate_counts), and a verdict from the two (classify_counts)."""
    est = estimate_counts(base_pm, head_pm)
    d, half = est["d"].to_numpy(float), est["half"].to_numpy(float)
    ratio, low, high = exp_intervals(d, half)
    out = est.assign(ratio=ratio, ci_low=low, ci_high=high, p_value=math.nan,
                     p_adjusted=math.nan, method="counts", df=math.nan)
    out["verdict"] = classify_counts(exp_clamped(d), exp_clamped(d - half),
                                     exp_clamped(d + half), threshold)
    return out


def classify_counts(ratio: np.ndarray, low: np.ndarray, high: np.ndarray,
                    threshold: float) -> np.ndarray:
    """Verdicts of counts: `slower` when the whole interval is above 1 and it reaches above
    1 + threshold, `faster` likewise below; `same` when it lies inside the threshold's band.

    >>> classify_counts(np.array([1.02, 1.0, 1.008, 1.012]), np.array([1.015, 0.995, 1.008, 0.99]),
    ...                 np.array([1.025, 1.005, 1.008, 1.035]), 0.01).tolist()
    ['slower', 'same', 'same', 'uncertain']
    """
    up, down = 1 + threshold, 1 / (1 + threshold)
    return np.select([(low > 1) & (high > up), (high < 1) & (low < down),
                      (low >= down) & (high <= up)],
                     ["slower", "faster", "same"], "uncertain")


def count_geomean(tests: pd.DataFrame) -> Estimate:
    """Geometric mean of the count ratios, its interval the mean of the cases' intervals."""
    if tests.empty:
        return Estimate(math.nan, math.nan, math.nan)
    found = interval_from_log(float(tests["d"].mean()), float(tests["half"].mean()))
    return Estimate(*found, cases=len(tests))


def explain(row: pd.Series, threshold: float) -> str:
    """One short reason for a verdict."""
    if row["verdict"] == "missing":
        return "in base only"
    if row["verdict"] == "new":
        return "in head only"
    if row["method"] == "none":
        return f"fewer than {MIN_PROCESSES} processes on a side"
    if row["verdict"] == "uncertain" and row["method"] == "counts":
        return f"values spread too wide to tell a {threshold:.0%} change"
    if row["verdict"] == "uncertain":
        return f"CI too wide to tell a {threshold:.0%} change"
    return ""


# ---------------------------------------------------------------- the comparison

def choose_mode(base_pm: pd.DataFrame, head_pm: pd.DataFrame, paired: bool | None) -> str:
    """paired (one interleaved run each side), runs (3+ runs in all) or within (one run each).

    >>> pm = pd.DataFrame({"run": ["a"], "round": pd.array([1], dtype="Int64")})
    >>> choose_mode(pm, pm.assign(run="b"), None), choose_mode(pm, pm, False)
    ('paired', 'within')
    """
    rounds = bool(base_pm["round"].notna().all() and head_pm["round"].notna().all())
    single = base_pm["run"].nunique() == 1 and head_pm["run"].nunique() == 1
    if paired and not (rounds and single):
        raise InputError("a paired comparison takes one interleaved A/B run per side, with a "
                         "round index (bench_round) on every process")
    if paired or (paired is None and rounds and single):
        return "paired"
    return "runs" if base_pm["run"].nunique() + head_pm["run"].nunique() >= 3 else "within"


def estimate_geomean(tests: pd.DataFrame, pooling: Pooling) -> Estimate:
    """Geometric mean of the ratios of the tested cases; its variance is the shared unit
    variance (common to all cases) plus the cases' own variances over n squared, or what the
    spread of the all-case mean over units says when that is larger."""
    tested = tests[np.isfinite(tests["se"])]
    if tested.empty:
        return Estimate(math.nan, math.nan, math.nan)
    n = len(tested)
    shared = float(tested["shared_var"].mean())
    own = np.maximum(tested["se"].to_numpy(float) ** 2 - tested["shared_var"].to_numpy(float),
                     0.0) / n**2
    own_df = independent_df(own, tested["df"].to_numpy(float))
    var = shared + own.sum()
    df = float(welch_df(np.array([shared]), np.array([pooling.shared_df]),
                        np.array([own.sum()]), np.array([own_df]))[0])
    by_units = pooling.mean_var * float(tested["scale"].mean())
    if by_units > var:  # the units say the cases move together more than the split found
        var, df = by_units, pooling.mean_df
    d, se = float((tested["d"] + tested["shift"]).mean()), math.sqrt(var)
    low, high = intervals(np.array([d]), np.array([se]), np.array([df]))
    p = p_values(np.array([d]), np.array([se]), np.array([df]))
    return Estimate(exp_bound(d), float(low[0]), float(high[0]), float(p[0]), df, n)


def independent_df(variances: np.ndarray, dfs: np.ndarray) -> float:
    """Welch-Satterthwaite df of a sum of many independent variance estimates.

    >>> independent_df(np.array([1.0, 1.0, 1.0]), np.array([4.0, 4.0, 4.0]))
    12.0
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = float(np.where(dfs > 0, variances**2 / dfs, 0.0).sum())
    return float(variances.sum() ** 2 / denominator) if denominator > 0 else math.inf


def default_threshold(frame: pd.DataFrame) -> float:
    """The threshold of a comparison of these runs unless one is given: their metric's
    (bench.metric; time's when the units mix)."""
    units = set(frame["unit"].dropna().unique()) if "unit" in frame else set()
    return choose_threshold(None, units)


def is_count(cmp: Comparison) -> bool:
    """True when the comparison is of counts (instructions), not times."""
    return metric_of_units(cmp.cases["unit"].dropna()) is INSTRUCTIONS


def compare_runs(base: pd.DataFrame, head: pd.DataFrame, threshold: float | None = None,
                 paired: bool | None = None, alpha: float = ALPHA) -> Comparison:
    """Compare head against base (tidy frames of one or more runs each), case by case.

    `threshold`: None takes `default_threshold(base)`. `paired`: True pairs the sides by
    interleaved round, False never does, None (default) pairs when both sides carry rounds.
    """
    if threshold is None:
        threshold = default_threshold(base)
    if not 0 <= threshold < 1:
        raise InputError(f"threshold {threshold:.0%}: give a percentage from 0 to 100")
    if base.empty or head.empty:
        raise InputError(f"no timed values in the {'base' if base.empty else 'head'} runs")
    check_units(base, head)
    base_pm, head_pm = log_process_means(base), log_process_means(head)
    common = set(base_pm["benchmark"]) & set(head_pm["benchmark"])
    if not common:
        raise InputError(f"no case in common between base ({', '.join(run_names(base))}) "
                         f"and head ({', '.join(run_names(head))})")
    if default_threshold(base) == COUNT_THRESHOLD:
        mode, pooling = "counts", Pooling()
        tests = assess_counts(base_pm, head_pm, threshold)
        geomean = count_geomean(tests)
    else:
        mode = choose_mode(base_pm, head_pm, paired)
        tests, pooling = assess_cases(base_pm, head_pm, mode)
        # clamped to a float's range: a ratio past it still gets its verdict
        ratio, low, high = (exp_clamped(tests[c].to_numpy(float))
                            for c in ("d", "log_low", "log_high"))
        tests["verdict"] = classify(ratio, low, high, tests["p_adjusted"].to_numpy(float),
                                    threshold, alpha)
        geomean = estimate_geomean(tests, pooling)
    one_sided = one_sided_cases(base_pm, head_pm)
    cases = pd.concat([tests, one_sided], ignore_index=True) if len(one_sided) else tests.copy()
    cases["reason"] = cases.apply(explain, axis=1, threshold=threshold)
    comparison = Comparison(
        cases=sort_cases(cases[CASE_COLUMNS]),
        geomean=geomean, mode=mode,
        threshold=threshold, alpha=alpha, base_runs=tuple(run_names(base)),
        head_runs=tuple(run_names(head)), pooling=pooling)
    return replace(comparison, notes=describe_evidence(comparison))


def assess_cases(base_pm: pd.DataFrame, head_pm: pd.DataFrame,
                 mode: str) -> tuple[pd.DataFrame, Pooling]:
    """Estimates, tests and BH-adjusted p-values of the common cases, and what they share."""
    estimates, centered = estimate_cases(base_pm, head_pm, mode)
    tests, pooling = apply_tests(estimates, centered, constraints=2 if mode == "runs" else 1)
    tests["p_adjusted"] = adjust_p_values(tests["p_value"].to_numpy(float))
    return tests, pooling


def one_sided_cases(base_pm: pd.DataFrame, head_pm: pd.DataFrame) -> pd.DataFrame:
    """Rows of the cases measured on only one side: missing (base only) and new (head only)."""
    rows = []
    for pm, other, verdict, column in ((base_pm, head_pm, "missing", "base_mean"),
                                       (head_pm, base_pm, "new", "head_mean")):
        only = sorted(set(pm["benchmark"]) - set(other["benchmark"]))
        for case in only:
            part = pm[pm["benchmark"] == case]
            count = "n_base" if verdict == "missing" else "n_head"
            rows.append({"benchmark": case, "verdict": verdict, "unit": part["unit"].iloc[0],
                         column: math.exp(part["log_mean"].mean()), "method": "none",
                         count: len(part)})
    return pd.DataFrame(rows, columns=CASE_COLUMNS)


def sort_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """Slowest first; cases without a ratio (missing, new) last, by name."""
    keyed = cases.assign(_has=cases["ratio"].notna(), _neg=-cases["ratio"].fillna(0.0))
    keyed = keyed.sort_values(["_has", "_neg", "benchmark"], ascending=[False, True, True],
                              kind="mergesort")
    out = keyed.drop(columns=["_has", "_neg"]).reset_index(drop=True)
    for column in ("n_base", "n_head"):
        out[column] = pd.to_numeric(out[column]).fillna(0).astype(int)
    return out


def run_names(frame: pd.DataFrame) -> list[str]:
    """Distinct run ids of a frame, in order of appearance."""
    return [str(r) for r in pd.unique(frame["run"])]


def describe_evidence(cmp: Comparison) -> tuple[str, ...]:
    """Notes on what the verdicts rest on, for every output format."""
    kb, kh = len(cmp.base_runs), len(cmp.head_runs)
    notes = []
    if cmp.mode == "counts":
        spread = ("the spread of values inside each run" if kb == kh == 1 else
                  f"the spread of values over {kb} base and {kh} head run(s), run to run included")
        notes.append(f"counts, not times: no test, the ratio of median counts and the interval "
                     f"{spread} allows; load does not move counts, but work that depends on where "
                     "objects sit in memory (pickle's memo, dict layouts) can move one between "
                     "runs, which one run per side does not show: pass several base runs "
                     "(--base, repeatable) to measure it")
    elif cmp.mode == "within" and math.isfinite(cmp.pooling.run_floor_df):
        p = cmp.pooling
        tested = int((cmp.cases["method"] == "within").sum())
        notes += describe_shift(RunShift(p.run_shift, p.run_shift_var, p.run_floor_var,
                                         p.run_floor_df, tested), CONFIDENCE)
    elif cmp.mode == "within":
        notes.append("one base run and one head run: only the spread of processes inside each "
                     "run is known, so run-to-run variation (often 5-10% on shared machines) is "
                     "not accounted for; pass several base runs (--base, repeatable) for a "
                     "trustworthy gate")
    elif cmp.mode == "runs":
        notes.append(f"run-to-run variation estimated from {kb} base and {kh} head run(s)")
    else:
        notes.append("interleaved A/B: paired by round")
    unit = "round" if cmp.mode == "paired" else "run"
    if cmp.pooling.shared_var > 0:
        cause = "which side ran first in the round" if unit == "round" else "machine state"
        notes.append(f"a {unit} effect shared by all cases ({cause}) moves them together "
                     f"by {math.sqrt(cmp.pooling.shared_var):.1%} (sd, "
                     f"df {cmp.pooling.shared_df:.0f}); it is part of every case's CI")
    if cmp.pooling.prior_df > 0:
        what = "spread of processes" if cmp.mode == "within" else f"{unit}-to-{unit} variation"
        notes.append(f"each case's own {what} is shrunk toward the common value of all cases "
                     f"(prior df {cmp.pooling.prior_df:.1f})")
    few = int((cmp.cases["method"] == "none").sum()
              - cmp.cases["verdict"].isin(["missing", "new"]).sum())
    if few:
        notes.append(f"{few} case(s) with fewer than {MIN_PROCESSES} processes on a side: "
                     "uncertain")
    return tuple(notes)
