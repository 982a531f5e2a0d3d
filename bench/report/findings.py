"""Every number the report shows, computed once, as frames: ratios, fold answers, warnings, runs.

`find_all(data)` returns a Findings that the sections and the questions only format.
Ratios within one run are time ratios numerator / reference of per-process means (Welch
t on logs, bench.frame.ratio_interval) and get a verdict by the gate's words (see
`ratio_verdict`); runs against the base run are compared by the gate's own rule
(bench.gate.rule.compare_runs), so the report and `bench compare` agree case by case.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import InputError
from bench.frame import MIN_PROCESSES, fit_exponents, process_mean_arrays, ratio_interval, summarize
from bench.gate.rule import Comparison, classify, compare_runs
from bench.gate.sizes import SizeComparison, compare_sizes
from bench.location import Interval, interval_from_log
from bench.metric import choose_threshold
from bench.report.tally import CANNOT_TELL, side_of_bar
from bench.run.cases import SINK_OPS
from bench.subjects.folds import STYLES
from bench.text import format_percent, format_quantity, is_missing

REL_STDEV_LIMIT = 0.10  # pyperf check: stdev >= 10% of the mean
OUTLIER_LIMIT = 0.50  # pyperf check: min or max 50% away from the mean
FAULTS_LIMIT = 10      # minor page faults per call that make a case time the kernel too
MIN_RAW_SECONDS = 1e-3  # pyperf check: shortest raw value under 1 ms
SUPERLINEAR = 1.5  # the bar of "grows faster than n^1.5" (quadratic folds have k near 2)
RATIO_COLUMNS = ["reference_mean", "reference_ci_low", "reference_ci_high", "reference_noise", "ratio",
                 "ratio_low", "ratio_high", "verdict"]


@dataclass
class ReportData:
    """Everything the findings are computed from."""

    frame: pd.DataFrame
    summary: pd.DataFrame
    runs: pd.DataFrame
    arrays: dict[tuple[str, str], pd.Series]
    capabilities: dict[str, Any] | None
    failures: pd.DataFrame | None = None  # run, benchmark, reason of cases never timed
    threshold: float | None = None  # None: the gate's default for the runs' unit

    def run_of(self, suite: str) -> str | None:
        """The first run that has cases of `suite`, or None."""
        runs = self.summary.loc[self.summary["suite"] == suite, "run"]
        return None if runs.empty else str(runs.iloc[0])

    def cases(self, suite: str, run: str | None = None) -> pd.DataFrame:
        """The time summaries of one suite in one run (default: the suite's first run)."""
        run = run or self.run_of(suite)
        rows = self.summary[(self.summary["suite"] == suite) & (self.summary["run"] == run)
                            & (self.summary["unit"] == "second")]
        return rows.reset_index(drop=True)


def prepare_data(frame: pd.DataFrame, runs: pd.DataFrame | None = None,
                 capabilities: dict[str, Any] | None = None,
                 failures: pd.DataFrame | None = None,
                 threshold: float | None = None) -> ReportData:
    """Summaries and process-mean arrays of a tidy frame (threshold None: the gate's default)."""
    summary = summarize(frame)
    summary["noise"] = [noise_reason(row.rel_stdev, row.rel_half_width,
                                     threshold_of(row.unit, threshold))
                        for row in summary.itertuples(index=False)]
    if runs is None:
        runs = summary.drop_duplicates("run")[["run", "file", "host", "python"]]
    return ReportData(frame, summary, runs.reset_index(drop=True), process_mean_arrays(frame),
                      capabilities, failures, threshold)


def threshold_of(unit: Any, threshold: float | None) -> float:
    """The threshold a case is read against: the one given, else the gate's for its unit.

    >>> threshold_of("second", None), threshold_of("second", 0.1), threshold_of("second", 0.0)
    (0.05, 0.1, 0.0)
    """
    return choose_threshold(threshold, [unit] if isinstance(unit, str) else [])


def noise_reason(rel_stdev: Any, rel_half_width: Any, threshold: float) -> str:
    """Why a case's numbers are to be read with care, or "" when they are steady.

    Unstable: pyperf check's stdev >= REL_STDEV_LIMIT of the mean; wide CI: a 95% CI half-width
    over the threshold, so the number cannot resolve a change the gate would call.

    >>> noise_reason(0.23, 0.02, 0.05), noise_reason(0.01, 0.12, 0.05)
    ('unstable: the stdev is 23% of the mean', 'wide CI: ±12% of the mean')
    >>> noise_reason(0.01, 0.02, 0.05), noise_reason(0.01, float("nan"), 0.05)
    ('', '')
    """
    reasons = []
    if not is_missing(rel_stdev) and rel_stdev >= REL_STDEV_LIMIT:
        reasons.append(f"unstable: the stdev is {format_percent(rel_stdev)} of the mean")
    if not is_missing(rel_half_width) and rel_half_width > threshold:
        reasons.append(f"wide CI: ±{format_percent(rel_half_width)} of the mean")
    return "; ".join(reasons)


# ---------------------------------------------------------------- ratios within a run

def ratio_verdict(low: Any, high: Any, threshold: float | None = None) -> str:
    """The gate's verdict (bench.gate.rule.classify) of a time ratio's 95% CI, uncorrected.

    Significant means the CI excludes 1 (no multiple-comparison correction within a run);
    slower/faster: significant and the CI reaches past the threshold; same: the whole CI
    lies within it; uncertain ("cannot tell") otherwise, or without a CI. The threshold
    defaults to the gate's for times.

    >>> ratio_verdict(1.1, 1.3), ratio_verdict(0.5, 0.9), ratio_verdict(0.99, 1.02)
    ('slower', 'faster', 'same')
    >>> ratio_verdict(0.9, 1.2), ratio_verdict(1.01, 1.03), ratio_verdict(float("nan"), 1)
    ('uncertain', 'same', 'uncertain')
    >>> ratio_verdict(0.711, 1.92)
    'uncertain'
    """
    if is_missing(low) or is_missing(high):
        return "uncertain"
    low, high = float(low), float(high)
    significant = 0.0 if low > 1 or high < 1 else 1.0
    verdict = classify(np.array([math.sqrt(low * high)]), np.array([low]), np.array([high]),
                       np.array([significant]),
                       choose_threshold(threshold, []))
    return str(verdict[0])


def growth_class(k: Any, low: Any, high: Any) -> str:
    """How a fitted exponent k may be called against n^SUPERLINEAR, by what its 95% CI allows.

    steep: the whole CI lies above SUPERLINEAR; cannot tell: the CI reaches both sides of it, or
    is unknown (two sizes); "" when the CI lies at or below it (bench.report.tally.side_of_bar).

    >>> growth_class(1.98, 1.95, 2.01), growth_class(1.6, 0.44, 2.79), growth_class(1.0, 0.9, 1.1)
    ('steep', 'cannot tell', '')
    >>> growth_class(2.0, float("nan"), float("nan")), growth_class(1.4, 1.2, 1.6)
    ('cannot tell', 'cannot tell')
    """
    if is_missing(k):
        return ""
    return {"above": "steep", "below": ""}.get(side_of_bar(low, high, SUPERLINEAR), CANNOT_TELL)


def ratios_against(data: ReportData, rows: pd.DataFrame, groups: Sequence[str], column: str,
                   reference: str) -> pd.DataFrame:
    """Per group, each row's time ratio to the group's row whose `column` is `reference`."""
    out = []
    for _, group in rows.groupby(list(groups), sort=False, dropna=False):
        base = group[group[column] == reference]
        if base.empty:
            continue
        base_arrays = data.arrays[(base["run"].iloc[0], base["benchmark"].iloc[0])]
        for index, row in group.iterrows():
            ratio = (Interval(1.0, 1.0, 1.0) if index == base.index[0] else
                     ratio_interval(data.arrays[(row["run"], row["benchmark"])], base_arrays))
            out.append({**row.to_dict(), "reference_mean": base["mean"].iloc[0],
                        "reference_ci_low": base["ci_low"].iloc[0],
                        "reference_ci_high": base["ci_high"].iloc[0],
                        "reference_noise": "" if index == base.index[0] else base["noise"].iloc[0],
                        "ratio": ratio.value, "ratio_low": ratio.low, "ratio_high": ratio.high,
                        "verdict": ratio_verdict(ratio.low, ratio.high, data.threshold)})
    return pd.DataFrame(out, columns=[*rows.columns, *RATIO_COLUMNS])


def ratio_between(data: ReportData, slow: Any, fast: Any) -> Interval:
    """Time ratio slow/fast of two summary rows of the same run."""
    return ratio_interval(data.arrays[(slow["run"], slow["benchmark"])],
                          data.arrays[(fast["run"], fast["benchmark"])])


def representative_sizes(rows: pd.DataFrame) -> pd.DataFrame:
    """Per shape, the size with the most cases (ties: the largest): columns shape, size."""
    counts = rows.groupby(["shape", "size"], sort=False).size().rename("count").reset_index()
    counts = counts.sort_values(["count", "size"], ascending=False, kind="stable")
    return counts.drop_duplicates("shape")[["shape", "size"]]


def at_representative_size(rows: pd.DataFrame) -> pd.DataFrame:
    """Only the rows at their shape's representative size, shapes in first-seen order."""
    if rows.empty:
        return rows
    return rows.merge(representative_sizes(rows), on=["shape", "size"])


def pickle_baseline(subjects: Iterable[str]) -> str | None:
    """pickle-5 when measured, else the highest pickle protocol measured.

    >>> pickle_baseline(["dill", "pickle-2", "pickle-4"]), pickle_baseline(["json"])
    ('pickle-4', None)
    """
    protocols = sorted(s for s in set(subjects) if s.startswith("pickle-") and s[7:].isdigit())
    if "pickle-5" in protocols:
        return "pickle-5"
    return protocols[-1] if protocols else None


def round_trip(ops: dict[tuple[str, str], Any], subject: str, names: Sequence[str]
               ) -> tuple[float, float]:
    """The sum of a subject's op means and the half-width of its 95% CI (halves in quadrature)."""
    rows = [ops[(subject, op)] for op in names]
    halves = [(float(r["ci_high"]) - float(r["ci_low"])) / 2 for r in rows]
    return sum(float(r["mean"]) for r in rows), math.sqrt(sum(h * h for h in halves))


def is_clearly_slower(ops: dict[tuple[str, str], Any], subject: str, leader: str,
                      threshold: float | None = None) -> bool:
    """True when the gate's rule (ratio_verdict) calls subject's round trip slower than leader's.

    The round trip is the sum of the ops both have; the 95% CI of the ratio of the sums is
    ratio x exp(±d), d the two sums' relative half-widths in quadrature (no CI, or one past
    a float's range: not slower).
    """
    common = [op for op in ("dumps", "loads") if (subject, op) in ops and (leader, op) in ops]
    if not common:
        return False
    (slow, slow_half), (fast, fast_half) = (round_trip(ops, name, common)
                                            for name in (subject, leader))
    ratio, spread = slow / fast, math.hypot(slow_half / slow, fast_half / fast)
    if is_missing(ratio) or ratio <= 0:
        return False
    found = interval_from_log(math.log(ratio), spread)
    return ratio_verdict(found.low, found.high, threshold) == "slower"


def rank_round_trips(data: ReportData, rows: pd.DataFrame) -> pd.DataFrame:
    """Per subject of one shape and size: its rank by mean dumps + loads, ties sharing a rank.

    Subjects go in order of their mean round trip; each shares the rank of the first subject
    of the group above it unless its round trip is clearly slower (is_clearly_slower),
    so subjects the gate cannot tell apart are never ranked as if different. Columns:
    subject, rank, tied (the first subject of its group when it shares a rank, else "").
    """
    order = rows.groupby("subject", sort=False)["mean"].sum().sort_values(kind="stable").index
    ops = {(str(r["subject"]), str(r["op"])): r for _, r in rows.iterrows()}
    out: list[dict[str, Any]] = []
    leader, rank = "", 0
    for position, subject in enumerate(map(str, order), 1):
        if not leader or is_clearly_slower(ops, subject, leader, data.threshold):
            leader, rank = subject, position
        out.append({"subject": subject, "rank": rank, "tied": "" if leader == subject else leader})
    return pd.DataFrame(out, columns=["subject", "rank", "tied"])


def memcpy_speed(data: ReportData, run: str, nbytes: float) -> float | None:
    """Bytes/s of the memcpy reference case whose size is closest to nbytes, or None."""
    refs = data.cases("ref", run)
    refs = refs[(refs["subject"] == "memcpy") & refs["size"].notna()]
    if refs.empty or is_missing(nbytes):
        return None
    distance = (np.log(refs["size"].astype(float)) - math.log(max(float(nbytes), 1.0))).abs()
    best = refs.loc[distance.idxmin()]
    return float(best["size"]) / float(best["mean"])


# ---------------------------------------------------------------- warnings

def case_problems(row: Any) -> list[tuple[str, str]]:
    """pyperf-check-style (kind, text) warnings of one summary row."""
    found = []
    if not is_missing(row.rel_stdev) and row.rel_stdev >= REL_STDEV_LIMIT:
        found.append(("unstable", f"the stdev is {row.rel_stdev:.0%} of the mean"))
    if row.n_processes < MIN_PROCESSES:
        found.append(("too few processes", f"only {row.n_processes} process(es): no CI"))
    for name, extreme in (("maximum", row.maximum), ("minimum", row.minimum)):
        if row.mean > 0 and abs(extreme - row.mean) / row.mean >= OUTLIER_LIMIT:
            found.append(("outlier", f"the {name} is {abs(extreme / row.mean - 1):.0%} "
                          "away from the mean"))
    faults = getattr(row, "minor_faults_per_call", math.nan)
    if row.unit == "second" and not is_missing(faults) and faults >= FAULTS_LIMIT:
        found.append(("page faults", f"{faults:.0f} minor page faults per call: a buffer mapped "
                      "afresh each call, so the time is partly the kernel's (e.g. "
                      "MALLOC_TOP_PAD_ would keep it mapped)"))
    if row.unit == "second" and row.min_raw < MIN_RAW_SECONDS:
        found.append(("short raw values", "the shortest raw value is only "
                      + format_quantity(row.min_raw, "second")))
    return found


def check_cases(summary: pd.DataFrame) -> pd.DataFrame:
    """pyperf-check-style warnings: one row per (run, benchmark, problem)."""
    problems = [{"run": row.run, "benchmark": row.benchmark, "kind": kind, "problem": text}
                for row in summary.itertuples(index=False) for kind, text in case_problems(row)]
    return pd.DataFrame(problems, columns=["run", "benchmark", "kind", "problem"])


# ---------------------------------------------------------------- folds

def headline_folds(folds: pd.DataFrame) -> pd.DataFrame:
    """Per task the rows of one input: list input if measured, at the largest size."""
    if folds.empty:
        return folds
    keyed = folds.assign(is_list=folds["shape"] == "list")
    best = keyed.sort_values(["is_list", "size"], ascending=False, kind="stable")
    best = best.drop_duplicates("op")[["op", "shape", "size"]]
    return folds.merge(best, on=["op", "shape", "size"])


def is_reduce_style(subject: str) -> bool:
    """True for the fold styles the registry marks as functools.reduce."""
    style = STYLES.get(subject)
    return bool(style and style.is_reduce)


def reduce_answer(data: ReportData, rows: pd.DataFrame) -> dict[str, Any]:
    """The fastest reduce style against the fastest other style of one task's headline rows.

    ratio = reduce time / other time; winner: reduce, other, or None when the verdict
    is same or uncertain (and when the task lacks a reduce style or another style).
    """
    answer: dict[str, Any] = {"task": rows["op"].iloc[0], "shape": rows["shape"].iloc[0],
                              "size": rows["size"].iloc[0], "reduce": None, "other": None,
                              "ratio": math.nan, "ratio_low": math.nan,
                              "ratio_high": math.nan, "verdict": None, "winner": None,
                              "noise": ""}
    is_reduce = rows["subject"].map(is_reduce_style).astype(bool)
    if not is_reduce.any() or is_reduce.all():
        return answer
    best_reduce = rows[is_reduce].loc[rows.loc[is_reduce, "mean"].idxmin()]
    best_other = rows[~is_reduce].loc[rows.loc[~is_reduce, "mean"].idxmin()]
    ratio = ratio_between(data, best_reduce, best_other)
    verdict = ratio_verdict(ratio.low, ratio.high, data.threshold)
    winner = {"faster": "reduce", "slower": "other"}.get(verdict)
    return {**answer, "reduce": best_reduce["subject"], "other": best_other["subject"],
            "ratio": ratio.value, "ratio_low": ratio.low, "ratio_high": ratio.high,
            "verdict": verdict, "winner": winner,
            "noise": "; ".join(f"{r['subject']}: {r['noise']}" for r in (best_reduce, best_other)
                               if r["noise"])}


def reduce_answers(data: ReportData, headline: pd.DataFrame) -> pd.DataFrame:
    """One reduce_answer row per task of the headline fold rows."""
    rows = [reduce_answer(data, group) for _, group in headline.groupby("op", sort=False)]
    return pd.DataFrame(rows, columns=["task", "shape", "size", "reduce", "other", "ratio",
                                       "ratio_low", "ratio_high", "verdict", "winner", "noise"])


# ---------------------------------------------------------------- sinks

def sink_ratios(data: ReportData) -> pd.DataFrame:
    """BytesIO and file sink cases relative to the same serializer's plain bytes op."""
    rows = data.cases("ser")
    rows = rows[rows["op"].isin(["dumps", "loads", *SINK_OPS])].copy()
    if rows.empty or not rows["op"].isin(SINK_OPS).any():
        return pd.DataFrame()
    rows["direction"] = rows["op"].str.split("-").str[0]
    rows["sink"] = rows["op"].where(rows["op"].isin(SINK_OPS), "bytes")
    ratios = ratios_against(data, rows, ["subject", "shape", "size", "direction"], "sink",
                            "bytes")
    return ratios[ratios["sink"] != "bytes"].reset_index(drop=True)


# ---------------------------------------------------------------- runs against the base run

def choose_base(runs: pd.DataFrame, named: str | None = None) -> str:
    """The base run: the one `named` (run id or file), else the one whose runs started first.

    Runs without a start date count as newest; ties keep the order the files were given.
    """
    if named is not None:
        files = [Path(str(f)) for f in runs["file"]] if "file" in runs else []
        for index, run in enumerate(runs["run"]):
            if named == str(run) or (files and Path(named) == files[index]):
                return str(run)
        raise InputError(f"--base {named}: not one of the runs given "
                         f"({', '.join(map(str, runs['run']))})")
    dates = runs["start"] if "start" in runs else pd.Series([None] * len(runs))
    starts = pd.to_datetime(dates.reset_index(drop=True), errors="coerce")
    keys = pd.DataFrame({"undated": starts.isna(), "start": starts})
    first = keys.sort_values(["undated", "start"], kind="stable").index[0]
    return str(runs["run"].iloc[int(first)])


@dataclass
class RunComparisons:
    """Every other run against the base run: the gate's Comparison, or why there is none."""

    base: str
    named: bool  # the user named the base run (else: the run that started first)
    threshold: float | None  # as given; None: each comparison's default for its unit
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, SizeComparison] = field(default_factory=dict)  # payload, memory per run


def compare_to_base(frame: pd.DataFrame, runs: pd.DataFrame, named: str | None,
                    threshold: float | None) -> RunComparisons:
    """The gate's verdicts of every run against the base run (ratios new / old: run / base).

    A run of another metric than the base's (instruction counts against times) is not
    compared: the "Time and instructions" section sets the two metrics side by side.
    """
    base = choose_base(runs, named)
    found = RunComparisons(base, named is not None, threshold)
    base_frame = frame[frame["run"] == base]
    base_units = set(base_frame["unit"].dropna())
    for run in map(str, runs["run"]):
        if run == base:
            continue
        units = set(frame.loc[frame["run"] == run, "unit"].dropna())
        if units and base_units and units.isdisjoint(base_units):
            found.problems[run] = (f"measures {', '.join(sorted(units))}, the base "
                                   f"{', '.join(sorted(base_units))}: not compared (see Time "
                                   "and instructions)")
            continue
        try:
            found.comparisons[run] = compare_runs(base_frame, frame[frame["run"] == run],
                                                  threshold=threshold)
            found.sizes[run] = compare_sizes(base_frame, frame[frame["run"] == run])
        except InputError as exc:
            found.problems[run] = str(exc)
    return found


# ---------------------------------------------------------------- all of it

@dataclass
class Findings:
    """Every number the sections and the answers to the questions show."""

    ser_ops: pd.DataFrame  # serializer dumps/loads cases of the serializer run
    folds: pd.DataFrame  # fold styles relative to the loop, every task, shape and size
    headline: pd.DataFrame  # per task, the fold rows of one input and size
    reduce: pd.DataFrame  # per task, the fastest reduce style against the fastest other
    sinks: pd.DataFrame  # BytesIO / file sinks relative to bytes
    versus_pickle: pd.DataFrame  # serializers relative to the pickle baseline
    baseline: str | None
    warnings: pd.DataFrame  # check_cases of every case
    exponents: pd.DataFrame  # fit_exponents of every run, with its growth_class as "growth"
    runs: RunComparisons | None  # None with one run
    ranks: pd.DataFrame = field(default_factory=pd.DataFrame)  # shape, size + rank_round_trips


def find_all(data: ReportData, base: str | None = None) -> Findings:
    """Compute every number the sections and answers use, once."""
    ser = data.cases("ser")
    ser_ops = ser[ser["op"].isin(["dumps", "loads"])].reset_index(drop=True)
    folds = ratios_against(data, data.cases("fold"), ["op", "shape", "size"], "subject", "loop")
    headline = headline_folds(folds)
    baseline = pickle_baseline(ser_ops["subject"].dropna())
    versus = (ratios_against(data, at_representative_size(ser_ops), ["op", "shape", "size"],
                             "subject", baseline) if baseline else pd.DataFrame())
    runs = None
    if len(data.runs) > 1 or base is not None:
        runs = compare_to_base(data.frame, data.runs, base, data.threshold)
    exponents = fit_exponents(data.summary)
    exponents["growth"] = [growth_class(k, low, high) for k, low, high
                           in zip(exponents["k"], exponents["low"], exponents["high"], strict=True)]
    shown = at_representative_size(ser_ops)
    ranks = [rank_round_trips(data, group).assign(shape=shape, size=size)
             for (shape, size), group in shown.groupby(["shape", "size"], sort=False)]
    return Findings(ser_ops, folds, headline, reduce_answers(data, headline),
                    sink_ratios(data), versus, baseline, check_cases(data.summary),
                    exponents, runs, pd.concat(ranks, ignore_index=True) if ranks
                    else pd.DataFrame(columns=["subject", "rank", "tied", "shape", "size"]))
