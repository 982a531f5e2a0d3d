"""Results files (read by `bench.results`) -> one tidy pandas DataFrame, and summaries of it.

The tidy frame has one row per timed value (warmups and calibration runs left
out) and these columns:

    run               str    run id: the file name without .json / .json.gz
    file              str    path of the file
    host              str    pyperf `hostname` metadata
    python            str    Python version, e.g. "3.11.7"
    benchmark         str    pyperf benchmark name (our case name)
    suite subject op shape   str, <NA> for files `bench` did not write
    size              Int64  <NA> for files `bench` did not write
    unit              str    pyperf unit: "second" or "byte"
    process           int    0-based index of the worker process within the benchmark
    value             float  one value (seconds per loop for time benchmarks)
    subject_version   str    <NA> when absent
    payload_bytes     Int64  <NA> when absent
    peak_alloc_bytes  Int64  <NA> when absent

Added columns (after the fixed ones):

    shape_nbytes      Int64  approximate in-memory size of the input, <NA> when absent
    round             Int64  run metadata `bench_round` (interleaved A/B rounds), <NA> when absent
    pass              Int64  run metadata `bench_pass` (the pass of a run, see bench.run.schedule)
    minor_faults_per_call float  page faults of one call, <NA> when absent
    reply_bytes       Int64  bytes of a ship case's reply, <NA> when absent
    comm_share        float  share of a ship scale case's time not spent computing, NaN when absent
    loops             int    pyperf loops of the value's process (raw value = value * loops)
    canary            float  run metadata `bench_canary`: seconds of the process's canary, NaN when absent
    cpu_share         float  run metadata `bench_cpu_share`: its CPU time / wall time, NaN when absent
    roundtrip         str    `bench_roundtrip` of the user's data (--data): exact, or lossy: FIRST DIFFERENCE

Values inside one process are not independent, so every statistic of a case's
location is computed over per-process means (`process_means`): the summary's `mean` is
bench.location's location, the mean of the fastest half of a case's per-process means
(geometric), with Yuen's 95% interval; a ratio's interval is Student's t on paired, or
Welch's t on unpaired, logs of all the per-process means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias

import numpy as np
import pandas as pd
from scipy import stats

from bench.correction import compare_canaries, correct_processes, typical_canary
from bench.location import (
    CONFIDENCE,
    LARGE,
    Interval,
    interval_from_log,
    locate_case,
    noise_floor,
    scale_of,
    spread_of,
    t_half_width,
)
from bench.results import Results, read_runs
from bench.run.schedule import describe_noise, process_canaries

KEYS = ["run", "benchmark"]
# Fewest worker processes a side of a case needs for an interval: with fewer there is no
# spread to estimate, so a CI gate calls the case `uncertain` rather than slower or faster.
MIN_PROCESSES = 2
LABELS = ["suite", "subject", "op", "shape", "size"]
STRING_COLUMNS = ["run", "file", "host", "python", "benchmark", "suite", "subject", "op",
                  "shape", "unit", "subject_version", "roundtrip"]
INT_COLUMNS = ["size", "payload_bytes", "peak_alloc_bytes", "shape_nbytes", "round", "pass",
               "reply_bytes"]
COLUMNS = ["run", "file", "host", "python", "benchmark", "suite", "subject", "op", "shape",
           "size", "unit", "process", "value", "subject_version", "payload_bytes",
           "peak_alloc_bytes", "shape_nbytes", "round", "pass", "reply_bytes", "comm_share",
           "minor_faults_per_call", "loops", "canary", "cpu_share", "roundtrip"]
# frame column -> pyperf run metadata key
METADATA_KEYS = {"host": "hostname", "python": "python_version", "benchmark": "name",
                 "suite": "bench_suite", "subject": "bench_subject", "op": "bench_op",
                 "shape": "bench_shape", "size": "bench_size", "unit": "unit",
                 "subject_version": "subject_version", "payload_bytes": "payload_bytes",
                 "peak_alloc_bytes": "peak_alloc_bytes", "shape_nbytes": "shape_nbytes",
                 "round": "bench_round", "pass": "bench_pass", "reply_bytes": "reply_bytes",
                 "comm_share": "comm_share", "minor_faults_per_call": "minor_faults_per_call",
                 "loops": "loops", "canary": "bench_canary", "cpu_share": "bench_cpu_share",
                 "roundtrip": "bench_roundtrip"}
Numbers: TypeAlias = "Sequence[float] | np.ndarray | pd.Series"  # statistics' inputs


class Exponent(NamedTuple):
    """Fitted exponent k of cost ~ n^k, its 95% CI and the number of sizes fitted."""

    k: float
    low: float
    high: float
    n: int


# ---------------------------------------------------------------- the tidy frame

def python_version(text: Any) -> Any:
    """The bare version of pyperf's `python_version` metadata.

    >>> python_version("3.11.7 (64-bit) revision abc"), python_version(None)
    ('3.11.7', None)
    """
    return text.split()[0] if isinstance(text, str) and text.split() else None


def run_records(loaded: Results) -> tuple[list[dict[str, Any]], list[float]]:
    """One record per worker process that has values, and all the values, in order."""
    records: list[dict[str, Any]] = []
    values: list[float] = []
    for benchmark in loaded.benchmarks:
        process = 0
        for run in benchmark.get_runs():
            if not run.values:
                continue  # a calibration run: warmups only
            metadata = run.get_metadata()
            record = {column: metadata.get(key) for column, key in METADATA_KEYS.items()}
            record.update(run=loaded.run, file=loaded.path, process=process,
                          n=len(run.values), python=python_version(record["python"]))
            records.append(record)
            values.extend(run.values)
            process += 1
    return records, values


def tidy_suite(loaded: Results) -> pd.DataFrame:
    """The tidy rows of one results file (read_results has checked it has timed values)."""
    records, values = run_records(loaded)
    per_run = pd.DataFrame.from_records(records)
    frame = per_run.loc[per_run.index.repeat(per_run["n"])].reset_index(drop=True)
    frame["value"] = np.asarray(values, dtype=float)
    return frame


def set_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast the tidy columns to the schema's dtypes and order them."""
    frame = frame.copy()
    for column in STRING_COLUMNS:
        frame[column] = frame[column].astype("string")
    frame["unit"] = frame["unit"].fillna("second")
    for column in INT_COLUMNS:
        numbers = pd.to_numeric(frame[column].astype("object"), errors="coerce")
        frame[column] = numbers.round().astype("Int64")
    frame["comm_share"] = pd.to_numeric(frame["comm_share"], errors="coerce").astype(float)
    frame["minor_faults_per_call"] = pd.to_numeric(frame["minor_faults_per_call"],
                                                   errors="coerce").astype(float)
    for column in ("canary", "cpu_share"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["loops"] = pd.to_numeric(frame["loops"], errors="coerce").fillna(1).astype("int64")
    frame["process"] = frame["process"].astype("int64")
    return frame[COLUMNS]


def tidy_frame(runs: Sequence[Results]) -> pd.DataFrame:
    """The tidy frame of results files read by `bench.results.read_runs`."""
    return set_dtypes(pd.concat([tidy_suite(r) for r in runs], ignore_index=True))


def load_results(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Read results files (.json, .json.gz) into the tidy frame, one row per value."""
    return tidy_frame(read_runs(paths))


def list_failures(runs: Sequence[Results]) -> pd.DataFrame:
    """One row per case that failed its check or its worker: run, benchmark, reason."""
    rows = [(r.run, name, reason) for r in runs for name, reason in r.failures.items()]
    return pd.DataFrame(rows, columns=["run", "benchmark", "reason"])


def describe_runs(runs: Sequence[Results]) -> pd.DataFrame:
    """One row per results file: host, Python, CPU, dates, profile, GC state and versions."""
    rows = []
    for loaded in runs:
        suite = loaded.suite()
        meta = suite.get_metadata()
        dates = suite.get_dates()
        rows.append({
            "run": loaded.run, "file": loaded.path, "host": meta.get("hostname"),
            "python": meta.get("python_version"),
            "implementation": meta.get("python_implementation"),
            "cpu": meta.get("cpu_model_name"), "cpu_count": meta.get("cpu_count"),
            "platform": meta.get("platform"),
            "start": dates[0].isoformat(" ", "seconds") if dates else None,
            "end": dates[1].isoformat(" ", "seconds") if dates else None,
            "profile": meta.get("bench_profile"), "bench_version": meta.get("bench_version"),
            "gc": {1: "enabled", 0: "disabled"}.get(meta.get("gc_enabled"), meta.get("gc_enabled")),
            "pyperf_version": meta.get("perf_version"),
            "benchmarks": len(loaded.benchmarks), "failed cases": len(loaded.failures),
            "noise": describe_noise(loaded.noise) if loaded.noise else None,
            "libraries": library_versions(loaded.benchmarks),
            **describe_canaries([c for b in loaded.benchmarks for c in process_canaries(b)])})
    return pd.DataFrame(rows, dtype="object")


def library_versions(benchmarks: Sequence[Any]) -> dict[str, str]:
    """{subject: its library's version} of a run's cases, the standard library's left out (the
    run's Python says it)."""
    versions = {}
    for benchmark in benchmarks:
        meta = benchmark.get_metadata()
        subject, version = meta.get("bench_subject"), meta.get("subject_version")
        if subject and version and not str(version).startswith("stdlib"):
            versions[str(subject)] = str(version)
    return versions


def describe_canaries(canaries: list[float]) -> dict[str, Any]:
    """A run's `canary` (its typical canary: bench.correction.typical_canary, in ms, None
    without one) and `canaries` (every process's, for comparing runs)."""
    timed = [c for c in canaries if c > 0]
    return {"canary": f"{typical_canary(timed) * 1e3:.3g} ms" if timed else None,
            "canaries": timed}


ENVIRONMENT_FIELDS = ("host", "python", "implementation", "cpu", "cpu_count", "platform",
                      "profile", "bench_version", "gc", "pyperf_version")


def environment_differences(runs: pd.DataFrame | None, bases: Sequence[str] = ()) -> list[str]:
    """'python: 3.11.7 (a, base) vs 3.11.2 (b)' for every ENVIRONMENT_FIELDS column the rows
    of describe_runs disagree on; the runs named in `bases` are marked as base."""
    if runs is None or len(runs) < 2:
        return []
    lines = []
    for column in ENVIRONMENT_FIELDS:
        if column not in runs:
            continue
        values = {str(run): value for run, value in zip(runs["run"], runs[column], strict=True)}
        if len({str(v) for v in values.values()}) > 1:
            lines.append(f"{column}: " + " vs ".join(
                f"{value} ({run}{', base' if run in bases else ''})" for run, value in values.items()))
    return lines + library_differences(runs, bases) + canary_differences(runs, bases)


def library_differences(runs: pd.DataFrame, bases: Sequence[str] = ()) -> list[str]:
    """'msgspec-json, msgspec-msgpack: 0.18.6 (a, base) vs 0.19.0 (b)' for the subjects whose
    library version differs between runs that both have it (the `libraries` of describe_runs),
    the subjects of one library in one line."""
    if "libraries" not in runs:
        return []
    per_run = {str(run): libraries for run, libraries in zip(runs["run"], runs["libraries"], strict=True)
               if isinstance(libraries, dict)}
    groups: dict[tuple[str | None, ...], list[str]] = {}
    for subject in sorted(set().union(*per_run.values())):
        versions = tuple(libraries.get(subject) for libraries in per_run.values())
        if len({v for v in versions if v is not None}) > 1:
            groups.setdefault(versions, []).append(subject)
    return [", ".join(subjects) + ": " + " vs ".join(
        f"{version} ({run}{', base' if run in bases else ''})"
        for run, version in zip(per_run, versions, strict=True) if version is not None)
        for versions, subjects in groups.items()]


def canary_differences(runs: pd.DataFrame, bases: Sequence[str] = ()) -> list[str]:
    """'canary: 0.42 ms (a, base) vs 0.55 ms (b): 1.31x ...' for each run whose typical canary
    differs from the (first) base run's beyond their noise (bench.correction.compare_canaries):
    another machine or interpreter, which the canary correction does not take out."""
    if "canaries" not in runs:
        return []
    canaries = {str(run): list(c) for run, c in zip(runs["run"], runs["canaries"], strict=True)
                if isinstance(c, list) and len(c) >= 2}
    base = next((run for run in [*bases, *canaries] if run in canaries), None)
    lines = []
    for run, values in canaries.items():
        if run == base or base is None:
            continue
        found = compare_canaries(canaries[base], values)
        if found.low > 1 or found.high < 1:
            lines.append(f"canary: {typical_canary(canaries[base]) * 1e3:.3g} ms ({base}, base) vs "
                         f"{typical_canary(values) * 1e3:.3g} ms ({run}): {found.value:.2f}x "
                         f"(95% CI {found.low:.2f}-{found.high:.2f}), beyond its noise: the machine "
                         "or the interpreter differs, and the canary correction keeps that in")
    return lines


# ---------------------------------------------------------------- statistics

def scale_groups(frame: pd.DataFrame, keys: list[str]) -> tuple[pd.Series, Any]:
    """The values over their group's largest when some value is past bench.location.LARGE
    (a sum or a square of values near 1.8e308 overflows), and what to multiply a group's
    mean or stdev of them by: the group's largest (a Series by group), else the values and 1.0."""
    values = frame["value"]
    if not len(values) or values.max() <= LARGE:
        return values, 1.0
    peaks = values.groupby([frame[k] for k in keys], sort=False, observed=True).transform("max")
    scale = peaks.where(peaks > LARGE, 1.0)
    by_group = scale.groupby([frame[k] for k in keys], sort=False, observed=True).first()
    return values / scale, by_group


def process_means(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run x benchmark x process, with the mean of that process's values,
    corrected by its canary (bench.correction.correct_processes, per run; `raw_mean` as timed)."""
    keys = [*KEYS, "process"]
    values, scale = scale_groups(frame, keys)
    grouped = values.groupby([frame[k] for k in keys], sort=False, observed=True)
    out = (grouped.mean() * scale).rename("mean").reset_index()
    out["raw_mean"] = out["mean"]
    if "canary" not in frame.columns or not frame["canary"].notna().any():
        return out
    canaries = frame.groupby(keys, sort=False, observed=True)["canary"].first().to_numpy(float)
    for _, rows in out.groupby("run", sort=False, observed=True).indices.items():
        fixed, _ = correct_processes(out["benchmark"].to_numpy(object)[rows].astype(str),
                                     out["raw_mean"].to_numpy(float)[rows], canaries[rows])
        out.loc[out.index[rows], "mean"] = fixed
    return out


def summarize_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Per run x benchmark statistics over all values: median, stdev, IQR, extremes, count."""
    grouped = frame.groupby(KEYS, sort=False, observed=True)["value"]
    out = grouped.agg(median="median", minimum="min", maximum="max", n_values="count")
    values, scale = scale_groups(frame, KEYS)
    out.insert(1, "stdev", values.groupby([frame[k] for k in KEYS], sort=False,
                                          observed=True).std() * scale)
    out["iqr"] = grouped.quantile(0.75) - grouped.quantile(0.25)
    raw = frame["value"] * frame["loops"]
    out["min_raw"] = raw.groupby([frame[k] for k in KEYS], sort=False, observed=True).min()
    return out


def summarize_processes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per run x benchmark location and 95% CI over per-process means (bench.location: the
    mean of the fastest half), each case's spread floored at its run's `noise_floor`."""
    rows = []
    for run, cases in process_means(frame).groupby("run", sort=False, observed=True):
        means = {name: group.to_numpy(float) for name, group
                 in cases.groupby("benchmark", sort=False, observed=True)["mean"]}
        floor = noise_floor(spread_of(m) for m in means.values())
        for name, m in means.items():
            found = locate_case(m, floor)
            scale = scale_of(m)
            rows.append((run, name, found.value, float(np.std(m / scale, ddof=1)) * scale
                         if len(m) > 1 else math.nan, len(m), found.low, found.high))
    out = pd.DataFrame(rows, columns=[*KEYS, "mean", "process_stdev", "n_processes", "ci_low",
                                      "ci_high"]).set_index(KEYS)
    out["rel_half_width"] = (out["ci_high"] - out["mean"]) / out["mean"]
    return out


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Per run x benchmark: labels, location with 95% CI over process means, median, stdev, IQR.

    `mean` is the case's location, the centre of the CI (bench.location: the geometric mean
    of the fastest half of its per-process means); `rel_stdev` is pyperf's stdev over all
    values divided by it.
    """
    labels = [c for c in COLUMNS if c not in (*KEYS, "process", "value", "round", "pass", "loops")]
    first = frame.groupby(KEYS, sort=False, observed=True)[labels].first()
    out = first.join(summarize_processes(frame)).join(summarize_values(frame))
    out["rel_stdev"] = out["stdev"] / out["mean"]
    out["n_processes"] = out["n_processes"].astype("int64")
    out["n_values"] = out["n_values"].astype("int64")
    return out.reset_index()


# ---------------------------------------------------------------- ratios and exponents

def ratio_interval(numerator: Numbers, denominator: Numbers) -> Interval:
    """Ratio of geometric means of two sets of per-process means, with its 95% CI.

    When both are Series indexed by pass (process_mean_arrays) and share 3 passes or more,
    the processes of one pass are paired: the CI is Student t on the per-pass log
    differences, which cancels a slow spell of the machine that hit both sides of a pass.
    Otherwise Welch t on the logs.

    >>> [round(x, 3) for x in ratio_interval([2.0, 2.0], [1.0, 1.0])]
    [2.0, 2.0, 2.0]
    >>> spell = pd.Series([1.0, 1.5, 1.0], index=pd.Index([1, 2, 3], name="pass"))
    >>> [round(x, 3) for x in ratio_interval(2 * spell, spell)]  # the spell cancels
    [2.0, 2.0, 2.0]
    """
    paired = paired_logs(numerator, denominator)
    if paired is not None:
        return interval_from_log(float(paired.mean()),
                                 float(t_half_width(paired.std(ddof=1), len(paired))))
    a = np.log(np.asarray(numerator, dtype=float))
    b = np.log(np.asarray(denominator, dtype=float))
    centre = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return interval_from_log(centre, math.nan)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return interval_from_log(centre, 0.0)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return interval_from_log(centre, float(stats.t.ppf(0.5 + CONFIDENCE / 2, dof)) * se)


def paired_logs(numerator: Numbers, denominator: Numbers) -> np.ndarray | None:
    """log(numerator / denominator) per shared pass, or None when the two cannot be paired."""
    if not (isinstance(numerator, pd.Series) and isinstance(denominator, pd.Series)
            and numerator.index.name == "pass" and denominator.index.name == "pass"):
        return None
    common = numerator.index.intersection(denominator.index)
    if len(common) < 3 or not numerator.index.is_unique or not denominator.index.is_unique:
        return None
    return np.log(numerator.loc[common].to_numpy(float) / denominator.loc[common].to_numpy(float))


def fit_exponent(sizes: Numbers, times: Numbers) -> Exponent:
    """Least-squares slope k of log(time) on log(size), with a 95% CI (NaN bounds below 3 sizes).

    >>> fit_exponent([10, 100, 1000], [1.0, 100.0, 10000.0]).k
    2.0
    """
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(times, float))
    n = len(np.unique(x))
    if n < 2:
        return Exponent(math.nan, math.nan, math.nan, n)
    fit = stats.linregress(x, y)
    k = round(float(fit.slope), 12)
    if len(x) < 3:
        return Exponent(k, math.nan, math.nan, n)
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(x) - 2)) * float(fit.stderr)
    return Exponent(k, k - half, k + half, n)


def fit_exponents(summary: pd.DataFrame) -> pd.DataFrame:
    """Exponent k of time ~ size^k per run x suite x subject x op x shape with 2+ sizes."""
    keys = ["run", "suite", "subject", "op", "shape"]
    timed = summary[(summary["unit"] == "second") & (summary["size"] > 0)  # a ship case's empty
                    & summary["suite"].notna()]                              # round trip is size 0
    rows = []
    for key, group in timed.groupby(keys, sort=False, observed=True):
        group = group.sort_values("size")
        exponent = fit_exponent(group["size"].astype(float), group["mean"])
        if exponent.n >= 2:
            rows.append({**dict(zip(keys, key, strict=True)), **exponent._asdict(),
                         "min_size": int(group["size"].min()),
                         "max_size": int(group["size"].max())})
    columns = [*keys, "k", "low", "high", "n", "min_size", "max_size"]
    return pd.DataFrame(rows, columns=columns)


def process_mean_arrays(frame: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    """Per-process means of each (run, benchmark) for ratio intervals: indexed by pass when
    every process of the run carries one (bench.run.schedule's passes), else by process."""
    means = process_means(frame)
    passes = frame.drop_duplicates([*KEYS, "process"])[[*KEYS, "process", "pass"]]
    means = means.merge(passes, on=[*KEYS, "process"], how="left")
    out: dict[tuple[str, str], pd.Series] = {}
    for key, group in means.groupby(KEYS, sort=False, observed=True):
        by_pass = group["pass"].notna().all() and group["pass"].is_unique
        index = pd.Index(group["pass" if by_pass else "process"].astype(int).to_numpy(),
                         name="pass" if by_pass else "process")
        out[(str(key[0]), str(key[1]))] = pd.Series(group["mean"].to_numpy(float), index=index)
    return out
