"""Regression verdicts: compare head runs against base runs case by case, and measure the rule.

Owns the statistics of `bench compare`, the paired analysis of `bench ab` and the simulation
of `bench sensitivity`. Pure: tidy frames (see bench.frame) in, dataclasses, frames and
strings out; no file access, no printing.

The rule
--------
Evidence is the per-process mean (values inside one process are correlated), on a log
scale: a case's effect is log(head / base) and its noise is relative. Per case:

* location: the interquartile mean (TRIM = 25% off each end) of a unit's log process
  means, with Yuen's variance. A busy machine makes a few processes slow; on real runs of
  this machine that halved the run-to-run spread of a case compared with the plain mean.
* units: the blocks the two sides were measured in, whose spread is the noise a gate must
  beat. `runs` mode (3+ runs in all): a unit is a run, and the spread of run locations
  within each side, pooled, is the run-to-run variation; `paired` mode (one interleaved
  A/B run each side, every process carrying `round`): a unit is a round and the test is on
  the per-round differences; `within` mode (one base run, one head run): only the spread of
  processes inside the runs is known (Yuen-Welch t), and a note says run-to-run variation is
  not accounted for.
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
  with a test (scipy.stats.false_discovery_control), at FDR `alpha` (5%).
* verdict: `slower` when significant after the adjustment AND the 95% CI reaches above
  1 + threshold (the slowdown is real and cannot be shown to be negligible); `faster`
  likewise below 1 / (1 + threshold); `same` when the 95% CI lies inside
  [1 / (1 + threshold), 1 + threshold]; otherwise `uncertain` (also with fewer than
  MIN_PROCESSES processes on a side); `missing` (base only), `new` (head only).

Why the CI's upper bound, not the point estimate, must reach the threshold: a slowdown of
exactly the threshold has a point estimate above it only half the time, so a point-estimate
rule can never catch more than ~50% of threshold-sized slowdowns (asv's 1.1 factor catching
49% of 10% slowdowns is that cap). Significance is still required, so this changes no A/A
verdict whose p-value is not already significant; the bands stay a partition: a significant
change whose whole CI lies within the threshold is `same`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from bench.errors import InputError
from bench.frame import process_means
from bench.tables import render_markdown_table, render_text_table

# JSON written by format_comparison / format_sensitivity. Bump on every change and say what:
#   1: first version (cases, geomean, summary, notes; sensitivity overall and per_case).
#   2: "pooling" {shared_var, shared_df, prior_df} replaces "prior_df".
SCHEMA_VERSION = 2

ALPHA = 0.05            # false discovery rate of the Benjamini-Hochberg adjustment
CONFIDENCE = 0.95       # level of every reported interval
MIN_PROCESSES = 2       # per side; fewer makes a case `uncertain`
TRIM = 0.25             # share trimmed off each end of a unit's process means
MIN_PRIOR_CASES = 10    # cases needed to fit the variance prior
MAX_PRIOR_DF = 30.0     # cap on the prior's degrees of freedom (trust in the common variance)
VERDICTS = ("slower", "faster", "same", "uncertain", "missing", "new")
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


# ---------------------------------------------------------------- per-process evidence

def has_rounds(frame: pd.DataFrame) -> bool:
    """True when every value of the frame carries an interleaved A/B round index."""
    return "round" in frame.columns and len(frame) > 0 and bool(frame["round"].notna().all())


def check_units(base: pd.DataFrame, head: pd.DataFrame) -> None:
    """Raise InputError when a case has several units, or different units on the two sides."""
    units: dict[str, dict[str, str]] = {}
    for side, frame in (("base", base), ("head", head)):
        per_case = frame.groupby("benchmark", observed=True)["unit"].unique()
        for case, found in per_case.items():
            if len(found) > 1:
                raise InputError(f"{case}: several units in the {side} runs ({', '.join(found)})")
            units.setdefault(case, {})[side] = found[0]
    for case, sides in units.items():
        if len(set(sides.values())) > 1:
            raise InputError(f"{case}: unit {sides['base']!r} in base but {sides['head']!r} "
                             "in head")


def summarize_processes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per run x case x process: log of the process mean, unit and round (non-positive dropped)."""
    means = process_means(frame)
    extra = ["unit", "round"] if "round" in frame.columns else ["unit"]
    labels = frame.drop_duplicates(["run", "benchmark", "process"])[
        ["run", "benchmark", "process", *extra]]
    out = means.merge(labels, on=["run", "benchmark", "process"], how="left")
    if "round" not in out.columns:
        out["round"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out = out[out["mean"] > 0].copy()
    out["log_mean"] = np.log(out["mean"].to_numpy(dtype=float))
    out["benchmark"] = out["benchmark"].astype(str)
    out["run"] = out["run"].astype(str)
    return out


def locate(values: np.ndarray) -> tuple[float, float, float]:
    """Interquartile (TRIM-trimmed) mean of values, Yuen's variance of it, and its df.

    The interquartile mean shrugs off the slow processes a busy machine produces while
    keeping most of the mean's efficiency (Yuen 1974; scipy's ttest_ind(trim=...) uses the
    same estimate).

    >>> locate(np.array([1.0, 2.0, 3.0, 4.0, 100.0]))
    (3.0, 0.6666666666666666, 2.0)
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    g = int(TRIM * n)
    h = n - 2 * g
    location = float(x[g:n - g].mean())
    if h < 2:
        return location, math.nan, 0.0
    winsorized = np.clip(x, x[g], x[n - g - 1])
    return location, float((n - 1) * winsorized.var(ddof=1) / (h * (h - 1))), float(h - 1)


def locate_units(pm: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per case x unit (the values of column `key`): location, its variance and df."""
    rows = [(case, unit, *locate(group.to_numpy(float)), len(group))
            for (case, unit), group in pm.groupby(["benchmark", key], observed=True,
                                                  sort=True)["log_mean"]]
    return pd.DataFrame(rows, columns=["benchmark", "unit", "loc", "var", "df", "n"])


def pivot_units(units: pd.DataFrame, column: str, cases: list[str]) -> pd.DataFrame:
    """One column of locate_units as a cases x units table."""
    table = units.pivot(index="benchmark", columns="unit", values=column)
    return table.reindex(cases).astype(float)


def welch_df(var_a: np.ndarray, df_a: np.ndarray, var_b: np.ndarray,
             df_b: np.ndarray) -> np.ndarray:
    """Welch-Satterthwaite df of the sum of two independent variance estimates.

    >>> welch_df(np.array([1.0]), np.array([9.0]), np.array([1.0]), np.array([9.0]))
    array([18.])
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = (np.where(df_a > 0, var_a**2 / df_a, 0.0)
                       + np.where(df_b > 0, var_b**2 / df_b, 0.0))
        return np.where(denominator > 0, (var_a + var_b) ** 2 / denominator, df_a + df_b)


# ---------------------------------------------------------------- per-case estimates
# Each returns one row per case (index: case name) with d = log(head/base), s2 (variance of
# one unit's location, with df), scale (Var(d) = s2 * scale), floor (Var(d) implied by the
# processes alone, with floor_df), and the two sides' geometric means.

def estimate_within(base_pm: pd.DataFrame, head_pm: pd.DataFrame,
                    cases: list[str]) -> pd.DataFrame:
    """Yuen-Welch estimates from the processes alone, all of a side's processes as one unit.

    s2 is the process-level (winsorized) variance and scale turns it into Var(d), so that
    s2 compares across cases with different numbers of processes.
    """
    b, h = (locate_units(pm.assign(side="all"), "side").set_index("benchmark").reindex(cases)
            for pm in (base_pm, head_pm))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = ((b["n"] - 1) / ((b["df"] + 1) * b["df"])
                 + (h["n"] - 1) / ((h["df"] + 1) * h["df"]))
    return pd.DataFrame({
        "method": "within", "d": h["loc"] - b["loc"], "s2": (b["var"] + h["var"]) / scale,
        "df": welch_df(*(x.to_numpy(float) for x in (b["var"], b["df"], h["var"], h["df"]))),
        "scale": scale, "floor": 0.0, "floor_df": 0.0,
        "base_mean": np.exp(b["loc"]), "head_mean": np.exp(h["loc"])}, index=cases)


def estimate_runs(base_pm: pd.DataFrame, head_pm: pd.DataFrame,
                  cases: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Estimates from run locations (run-to-run variance pooled over both sides), and the
    run locations centred on their side's mean (cases x runs)."""
    bu, hu = locate_units(base_pm, "run"), locate_units(head_pm, "run")
    loc_b, loc_h = pivot_units(bu, "loc", cases), pivot_units(hu, "loc", cases)
    kb, kh = loc_b.notna().sum(axis=1), loc_h.notna().sum(axis=1)
    mb, mh = loc_b.mean(axis=1), loc_h.mean(axis=1)
    centered = pd.concat([loc_b.sub(mb, axis=0), loc_h.sub(mh, axis=0)], axis=1,
                         keys=["base", "head"])
    df = (kb + kh - 2).astype(float)
    floor = (pivot_units(bu, "var", cases).mean(axis=1) / kb
             + pivot_units(hu, "var", cases).mean(axis=1) / kh)
    floor_df = pivot_units(bu, "df", cases).sum(axis=1) + pivot_units(hu, "df", cases).sum(axis=1)
    estimates = pd.DataFrame({
        "method": "runs", "d": mh - mb, "s2": (centered**2).sum(axis=1) / df.where(df > 0),
        "df": df, "scale": 1 / kb + 1 / kh, "floor": floor, "floor_df": floor_df,
        "base_mean": np.exp(mb), "head_mean": np.exp(mh)})
    return estimates, centered


def estimate_paired(base_pm: pd.DataFrame, head_pm: pd.DataFrame,
                    cases: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Estimates from per-round differences of locations, and the differences centred on
    their case's mean (cases x rounds)."""
    bu, hu = locate_units(base_pm, "round"), locate_units(head_pm, "round")
    loc_b, loc_h = pivot_units(bu, "loc", cases), pivot_units(hu, "loc", cases)
    rounds = loc_b.columns.intersection(loc_h.columns)
    diffs = loc_h[rounds] - loc_b[rounds]
    present = diffs.notna()
    count = present.sum(axis=1)
    d = diffs.mean(axis=1)
    centered = diffs.sub(d, axis=0)
    df = (count - 1).astype(float)
    floor_var = (pivot_units(bu, "var", cases)[rounds]
                 + pivot_units(hu, "var", cases)[rounds]).where(present)
    floor_df = (pivot_units(bu, "df", cases)[rounds]
                + pivot_units(hu, "df", cases)[rounds]).where(present)
    estimates = pd.DataFrame({
        "method": "paired", "d": d, "s2": (centered**2).sum(axis=1) / df.where(df > 0),
        "df": df, "scale": 1 / count, "floor": floor_var.mean(axis=1) / count,
        "floor_df": floor_df.sum(axis=1),
        "base_mean": np.exp(loc_b[rounds].where(present).mean(axis=1)),
        "head_mean": np.exp(loc_h[rounds].where(present).mean(axis=1))})
    return estimates, centered


def estimate_cases(base_pm: pd.DataFrame, head_pm: pd.DataFrame,
                   mode: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """One estimate row per case present on both sides, in name order, and the centred unit
    table of the cases estimated in `mode` (None in within mode).

    A case lacking units for the mode (a run or round short) falls back to `within`; a case
    with fewer than MIN_PROCESSES processes on a side gets method `none` (no test).
    """
    cases = sorted(set(base_pm["benchmark"]) & set(head_pm["benchmark"]))
    estimates = estimate_within(base_pm, head_pm, cases)
    centered = None
    if mode in ("runs", "paired"):
        by_units, centered = (estimate_runs if mode == "runs" else estimate_paired)(
            base_pm, head_pm, cases)
        usable = by_units["df"] >= 1
        estimates.loc[usable] = by_units.loc[usable, estimates.columns]
        centered = centered.loc[usable]
    n_base = base_pm.groupby("benchmark").size().reindex(cases)
    n_head = head_pm.groupby("benchmark").size().reindex(cases)
    few = (np.minimum(n_base, n_head) < MIN_PROCESSES).to_numpy()
    estimates.loc[few, ["method", "s2", "df"]] = ["none", math.nan, math.nan]
    if centered is not None:
        centered = centered.loc[~few[np.isin(cases, centered.index)]]
    estimates.insert(0, "benchmark", cases)
    estimates["unit"] = base_pm.groupby("benchmark")["unit"].first().reindex(cases)
    estimates["n_base"], estimates["n_head"] = n_base, n_head
    return estimates.reset_index(drop=True), centered


# ---------------------------------------------------------------- moderation (empirical Bayes)

def invert_trigamma(y: float) -> float:
    """x such that trigamma(x) = y.

    >>> round(invert_trigamma(float(special.polygamma(1, 2.5))), 6)
    2.5
    """
    if y > 1e12:
        return 1 / math.sqrt(y)
    if y < 1e-12:
        return 1 / y
    return float(optimize.brentq(lambda x: special.polygamma(1, x) - y, 1e-9, 1e13))


def fit_variance_prior(s2: np.ndarray, df: np.ndarray,
                       noise_df: np.ndarray | None = None) -> tuple[float, float]:
    """Prior (s0^2, d0) of scaled inverse chi-square variances, by moments of log s^2 (limma).

    `noise_df`: s2 is a ratio over another estimated variance with these df (the process
    floor), whose sampling noise in log s2 is not spread between cases either.
    """
    ok = np.isfinite(s2) & (s2 > 0) & (df > 0)
    if noise_df is not None:
        ok &= noise_df > 0
    if ok.sum() < MIN_PRIOR_CASES:
        return math.nan, 0.0
    s2, df = s2[ok], df[ok]
    e = np.log(s2) - special.digamma(df / 2) + np.log(df / 2)
    excess = float(e.var(ddof=1) - special.polygamma(1, df / 2).mean())
    if noise_df is not None:
        excess -= float(special.polygamma(1, noise_df[ok] / 2).mean())
    d0 = 2 * invert_trigamma(excess) if excess > 0 else math.inf
    d0 = min(d0, MAX_PRIOR_DF)
    s0 = math.exp(float(e.mean()) + float(special.digamma(d0 / 2)) - math.log(d0 / 2))
    return s0, d0


def moderate_variances(s2: np.ndarray, df: np.ndarray, noise_df: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray, float]:
    """Posterior variances and df after shrinking toward the fitted prior, and the prior df."""
    s0, d0 = fit_variance_prior(s2, df, noise_df)
    if d0 == 0:
        return s2, df, 0.0
    s2 = np.where(np.isfinite(s2), s2, 0.0)
    return (d0 * s0 + df * s2) / (d0 + df), df + d0, d0


# ---------------------------------------------------------------- tests and verdicts

def split_shared(centered: pd.DataFrame | None,
                 constraints: int) -> tuple[float, float, pd.Series | None]:
    """Variance of the unit effect shared by all cases (e.g. a run when the whole machine was
    slow), its df, and each case's residual sum of squares around it.

    The shared effect of a unit is the median over cases of their centred location. Every
    case sees the same few shared effects, so their variance has the df of the units
    (minus the `constraints` of centring), however many cases there are.
    """
    if centered is None or len(centered) < MIN_PRIOR_CASES:
        return 0.0, math.inf, None
    shared = centered.median(axis=0)
    shared_df = float(shared.notna().sum() - constraints)
    if shared_df < 1:
        return 0.0, math.inf, None
    residual_ss = (centered - shared).pow(2).sum(axis=1)
    return float((shared**2).sum()) / shared_df, shared_df, residual_ss


def moderate_cases(s2: np.ndarray, df: np.ndarray, unit_floor: np.ndarray, pooled: np.ndarray,
                   floor_df: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Unit variances and df after shrinking each case's inflation over its process floor.

    A case's unit variance s2 is its process floor (what the spread of processes inside a
    unit implies) times an inflation from run-to-run or round-to-round variation. Cases
    differ far more in s2 than in inflation, so the inflation s2 / floor is what is shrunk
    toward the common value (limma's empirical Bayes with the floor as covariate).
    """
    s2, df = s2.copy(), df.copy()
    pooled = pooled & (unit_floor > 0)
    if not pooled.any():
        return s2, df, 0.0
    noise_df = None if floor_df is None else floor_df[pooled]
    inflation, df_post, prior_df = moderate_variances(s2[pooled] / unit_floor[pooled],
                                                      df[pooled], noise_df)
    s2[pooled], df[pooled] = inflation * unit_floor[pooled], df_post
    return s2, df, prior_df


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
    d, se, df = (out[c].to_numpy(float) for c in ("d", "se", "df"))
    out["p_value"] = p_values(d, se, df)
    low, high = intervals(d, se, df)
    out["ratio"], out["ci_low"], out["ci_high"] = np.exp(d), low, high
    out["shared_var"] = shared * scale
    mean_var, mean_df = spread_of_mean(centered, constraints)
    return out, Pooling(shared_var, shared_df, prior_df, mean_var, mean_df)


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


def intervals(d: np.ndarray, se: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CONFIDENCE-level interval of the ratio exp(d) (NaN where untestable)."""
    with np.errstate(invalid="ignore"):
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, np.where(df > 0, df, math.nan)) * se
    return np.exp(d - half), np.exp(d + half)


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


def explain(row: pd.Series, threshold: float) -> str:
    """One short reason for a verdict."""
    if row["verdict"] == "missing":
        return "in base only"
    if row["verdict"] == "new":
        return "in head only"
    if row["method"] == "none":
        return f"fewer than {MIN_PROCESSES} processes on a side"
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
    d, se = float(tested["d"].mean()), math.sqrt(var)
    low, high = intervals(np.array([d]), np.array([se]), np.array([df]))
    p = p_values(np.array([d]), np.array([se]), np.array([df]))
    return Estimate(math.exp(d), float(low[0]), float(high[0]), float(p[0]), df, n)


def independent_df(variances: np.ndarray, dfs: np.ndarray) -> float:
    """Welch-Satterthwaite df of a sum of many independent variance estimates.

    >>> independent_df(np.array([1.0, 1.0, 1.0]), np.array([4.0, 4.0, 4.0]))
    12.0
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = float(np.where(dfs > 0, variances**2 / dfs, 0.0).sum())
    return float(variances.sum() ** 2 / denominator) if denominator > 0 else math.inf


def compare_runs(base: pd.DataFrame, head: pd.DataFrame, threshold: float = 0.05,
                 paired: bool | None = None, alpha: float = ALPHA) -> Comparison:
    """Compare head against base (tidy frames of one or more runs each), case by case.

    `paired`: True pairs the sides by interleaved round, False never does, None (default)
    pairs when both sides carry rounds.
    """
    if not 0 <= threshold < 1:
        raise InputError(f"threshold {threshold:.0%}: give a percentage from 0 to 100")
    if base.empty or head.empty:
        raise InputError(f"no timed values in the {'base' if base.empty else 'head'} runs")
    check_units(base, head)
    base_pm, head_pm = summarize_processes(base), summarize_processes(head)
    common = set(base_pm["benchmark"]) & set(head_pm["benchmark"])
    if not common:
        raise InputError(f"no case in common between base ({', '.join(run_names(base))}) "
                         f"and head ({', '.join(run_names(head))})")
    mode = choose_mode(base_pm, head_pm, paired)
    tests, pooling = assess_cases(base_pm, head_pm, mode)
    tests["verdict"] = classify(tests["ratio"].to_numpy(float), tests["ci_low"].to_numpy(float),
                                tests["ci_high"].to_numpy(float),
                                tests["p_adjusted"].to_numpy(float), threshold, alpha)
    one_sided = one_sided_cases(base_pm, head_pm)
    cases = pd.concat([tests, one_sided], ignore_index=True) if len(one_sided) else tests.copy()
    cases["reason"] = cases.apply(explain, axis=1, threshold=threshold)
    comparison = Comparison(
        cases=sort_cases(cases[CASE_COLUMNS]),
        geomean=estimate_geomean(tests, pooling), mode=mode,
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
    if cmp.mode == "within":
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


def exit_code_for(cmp: Comparison, fail_on: str = "slower") -> int:
    """1 when fail_on is 'slower' and a case is slower, else 0."""
    return int(fail_on == "slower" and cmp.counts()["slower"] > 0)


# ---------------------------------------------------------------- formatting

UNIT_SCALES = {"second": [(1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")],
               "byte": [(2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1.0, "B")]}


def format_quantity(value: float, unit: str) -> str:
    """A value with a readable unit, 3 significant digits.

    >>> format_quantity(0.00123, "second"), format_quantity(2048, "byte")
    ('1.23 ms', '2.00 KiB')
    """
    if value is None or not math.isfinite(value):
        return "-"
    for scale, suffix in UNIT_SCALES.get(unit, [(1.0, unit)]):
        if value >= scale * 0.9995:
            return f"{value / scale:#.3g} {suffix}".replace(". ", " ")
    scale, suffix = UNIT_SCALES.get(unit, [(1.0, unit)])[-1]
    return f"{value / scale:#.3g} {suffix}".replace(". ", " ")


def format_ratio(ratio: float) -> str:
    """pyperf's wording of a ratio head/base.

    >>> format_ratio(1.234), format_ratio(0.95), format_ratio(1.0001)
    ('1.23x slower', '1.05x faster', '1.00x')
    """
    if ratio is None or not math.isfinite(ratio):
        return "-"
    if f"{ratio:.2f}" == "1.00" and f"{1 / ratio:.2f}" == "1.00":
        return "1.00x"
    return f"{ratio:.2f}x slower" if ratio > 1 else f"{1 / ratio:.2f}x faster"


def format_interval(low: float, high: float) -> str:
    """'[0.987, 1.012]', or '-' when unknown."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "-"
    return f"[{low:.3f}, {high:.3f}]"


def format_percent(share: float | None, digits: int = 0) -> str:
    """'12%' or '-' for a missing share.

    >>> format_percent(0.125, 1), format_percent(None)
    ('12.5%', '-')
    """
    if share is None or not math.isfinite(share):
        return "-"
    return f"{share * 100:.{digits}f}%"


def tabulate_cases(cases: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the case table, shared by the text and markdown renderers."""
    headers = ["Benchmark", "Base", "Head", "Change", f"{CONFIDENCE:.0%} CI", "Verdict"]
    rows = [[row.benchmark, format_quantity(row.base_mean, row.unit),
             format_quantity(row.head_mean, row.unit), format_ratio(row.ratio),
             format_interval(row.ci_low, row.ci_high), row.verdict]
            for row in cases.itertuples()]
    return headers, rows


def summarize_counts(counts: dict[str, int]) -> str:
    """'1 slower, 0 faster, 3 same, ...' with every verdict.

    >>> summarize_counts({"slower": 1, "same": 2})
    '1 slower, 0 faster, 2 same, 0 uncertain, 0 missing, 0 new'
    """
    return ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)


def describe_sides(cmp: Comparison) -> str:
    """'head h vs base a, b (2 runs)'."""
    def side(runs: tuple[str, ...]) -> str:
        plural = f" ({len(runs)} runs)" if len(runs) > 1 else ""
        return ", ".join(runs) + plural
    return f"head {side(cmp.head_runs)} vs base {side(cmp.base_runs)}"


def describe_geomean(estimate: Estimate) -> str:
    """'geometric mean of 12 cases: 1.02x slower [0.990, 1.050]'."""
    if not math.isfinite(estimate.ratio):
        return "geometric mean: no case with a test"
    return (f"geometric mean of {estimate.cases} cases: {format_ratio(estimate.ratio)} "
            f"{format_interval(estimate.ci_low, estimate.ci_high)}")


def describe_rule(cmp: Comparison) -> str:
    """The rule in one line."""
    return (f"threshold {cmp.threshold:.0%}, Benjamini-Hochberg FDR {cmp.alpha:.0%}, "
            f"mode {cmp.mode}")


def format_text(cmp: Comparison) -> str:
    """Terminal report: header, notes, case table slowest first, geometric mean, counts."""
    lines = [f"bench compare: {describe_sides(cmp)}; {describe_rule(cmp)}"]
    lines += [f"note: {note}" for note in cmp.notes]
    lines += ["", *render_text_table(*tabulate_cases(cmp.cases)), ""]
    lines += [describe_geomean(cmp.geomean), summarize_counts(cmp.counts())]
    return "\n".join(lines) + "\n"


def format_markdown(cmp: Comparison) -> str:
    """Step-summary / PR-comment report: summary, notes, table of the cases that changed or
    came and went; uncertain and same cases folded."""
    counts = cmp.counts()
    status = (f"**{counts['slower']} slower**" if counts["slower"] else "no regression")
    lines = [f"### bench compare: {status}", "",
             f"{summarize_counts(counts)}; {describe_geomean(cmp.geomean)}", "",
             f"{describe_sides(cmp)}; {describe_rule(cmp)}", ""]
    lines += [f"- note: {note}" for note in cmp.notes]
    folded = {"uncertain": "uncertain (CI too wide to tell, or too few processes)",
              "same": "the same (within the threshold)"}
    shown = cmp.cases[~cmp.cases["verdict"].isin(list(folded))]
    if len(shown):
        lines += ["", *render_markdown_table(*tabulate_cases(shown))]
    for verdict, label in folded.items():
        part = cmp.cases[cmp.cases["verdict"] == verdict]
        if len(part):
            lines += ["", f"<details><summary>{len(part)} case(s) {label}</summary>", "",
                      *render_markdown_table(*tabulate_cases(part)), "", "</details>"]
    return "\n".join(lines) + "\n"


def round_float(value: Any, digits: int = 6) -> Any:
    """A float rounded to `digits` significant digits (None for NaN), for stable JSON.

    >>> round_float(1.23456789), round_float(float("nan")), round_float(3)
    (1.23457, None, 3)
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if value is None or pd.isna(value):
        return None
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}")
    return value


def records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready records: floats rounded, NaN as null."""
    return [{k: round_float(v) for k, v in row.items()} for row in frame.to_dict("records")]


def to_json_dict(cmp: Comparison) -> dict[str, Any]:
    """The versioned JSON document of a comparison."""
    return {"schema_version": SCHEMA_VERSION, "kind": "bench-compare",
            "threshold": cmp.threshold, "alpha": cmp.alpha, "confidence": CONFIDENCE,
            "correction": "benjamini-hochberg", "mode": cmp.mode,
            "pooling": {k: round_float(v) for k, v in cmp.pooling.__dict__.items()},
            "base_runs": list(cmp.base_runs), "head_runs": list(cmp.head_runs),
            "summary": cmp.counts(), "regression": cmp.counts()["slower"] > 0,
            "geomean": {k: round_float(v) for k, v in cmp.geomean.__dict__.items()},
            "notes": list(cmp.notes), "cases": records_of(cmp.cases)}


def format_json(document: dict[str, Any]) -> str:
    """Stable JSON text of a document."""
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def format_comparison(cmp: Comparison, fmt: str = "text") -> str:
    """The comparison as text, md or json."""
    if fmt == "text":
        return format_text(cmp)
    if fmt == "md":
        return format_markdown(cmp)
    if fmt == "json":
        return format_json(to_json_dict(cmp))
    raise InputError(f"unknown format {fmt!r} (text, md or json)")
