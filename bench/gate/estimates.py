"""Per-case estimates of log(head / base) and their variances, before any test.

The evidence is the per-process mean on a log scale (`log_process_means`); a case's
location in a unit (a run, a round, or a whole side) is the mean of the fastest half of its
process means (bench.location.locate): load only adds time, so the slow end of a unit's
process means is the machine and the fast end the code. `estimate_within`, `estimate_runs`
and `estimate_paired` give one row per case in each mode of bench.gate.rule, and the
moderation functions shrink each case's few-df variance toward the common value of all
cases (empirical Bayes, as limma).
Pure: frames in, frames and arrays out.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, special

from bench.errors import InputError
from bench.frame import MIN_PROCESSES, process_means
from bench.location import locate

MIN_PRIOR_CASES = 10    # cases needed to fit the variance prior
MAX_PRIOR_DF = 30.0     # cap on the prior's degrees of freedom (trust in the common variance)

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


def log_process_means(frame: pd.DataFrame) -> pd.DataFrame:
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


def estimate_counts(base_pm: pd.DataFrame, head_pm: pd.DataFrame) -> pd.DataFrame:
    """Per case of both sides of a comparison of counts: d, the log ratio of the median
    counts, and `half`, half the widest log range of one side's values (every run of a side
    together, so several runs per side bring their run-to-run variation in).

    >>> from bench.metric import INSTRUCTIONS
    >>> pm = lambda vs: pd.DataFrame({"benchmark": "c", "log_mean": np.log(vs), "unit": INSTRUCTIONS.unit})
    >>> row = estimate_counts(pm([100.0, 101.0, 100.0]), pm([102.0, 102.0, 102.0])).iloc[0]
    >>> round(math.exp(row["d"]), 3), round(math.exp(row["half"]), 4)
    (1.02, 1.005)
    """
    rows = []
    for case in sorted(set(base_pm["benchmark"]) & set(head_pm["benchmark"])):
        b = base_pm.loc[base_pm["benchmark"] == case, "log_mean"].to_numpy(float)
        h = head_pm.loc[head_pm["benchmark"] == case, "log_mean"].to_numpy(float)
        rows.append({"benchmark": case, "d": float(np.median(h) - np.median(b)),
                     "half": max(np.ptp(b), np.ptp(h)) / 2,
                     "base_mean": math.exp(float(np.median(b))),
                     "head_mean": math.exp(float(np.median(h))), "n_base": len(b), "n_head": len(h),
                     "unit": base_pm.loc[base_pm["benchmark"] == case, "unit"].iloc[0]})
    return pd.DataFrame(rows, columns=["benchmark", "d", "half", "base_mean", "head_mean",
                                       "n_base", "n_head", "unit"])


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


# ---------------------------------------------------------------- the effect all cases share

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

