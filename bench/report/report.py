"""Summaries -> report sections -> one self-contained HTML page (Jinja2, autoescaped).

`render_report(frame, runs, capabilities)` is pure: data in, HTML text out.
Sections are lists of blocks (text, bullets, tables, figures) that one
template renders; there is one table renderer (the `table` macro), used by
every section. Each analysis section shows one run (the first result file that
has that suite's cases) and says which; "Runs side by side" compares them all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from bench import __version__
from bench.errors import InputError
from bench.frame import (
    CONFIDENCE,
    Interval,
    describe_runs,
    fit_exponents,
    list_failures,
    load_suites,
    process_mean_arrays,
    ratio_interval,
    summarize,
    tidy_frame,
)
from bench.report import plots

REL_STDEV_LIMIT = 0.10  # pyperf check: stdev >= 10% of the mean
OUTLIER_LIMIT = 0.50  # pyperf check: min or max 50% away from the mean
MIN_RAW_SECONDS = 1e-3  # pyperf check: shortest raw value under 1 ms
MIN_PROCESSES = 3
SUPERLINEAR = plots.SUPERLINEAR
BYTES_HEAVY_SHAPES = ("bytes", "ndarray")
REDUCE_STYLES = ("reduce-lambda", "reduce-operator")
SINK_OPS = ("dumps-bytesio", "loads-bytesio", "dumps-file", "loads-file")
GENERAL_PICKLERS = ("dill", "dill-recurse", "cloudpickle")
FUNCTION_KINDS = ("lambda", "closure", "recursive-function", "function-with-global",
                  "main-function", "top-level-function")
CODE_KIND, DATA_KIND = "builder-function", "built-data"  # capability kinds: send code, not data
CALLS = {  # (style, task) -> what the style calls, for the one-line answers
    ("reduce-operator", "sum"): "reduce(operator.add)",
    ("reduce-operator", "product"): "reduce(operator.mul)",
    ("reduce-operator", "max"): "reduce(max)",
    ("reduce-operator", "concat"): "reduce(operator.add)",
    ("reduce-operator", "merge"): "reduce(operator.or_)",
    ("reduce-operator", "flatten"): "reduce(operator.add)",
    ("builtin", "sum"): "builtin sum", ("builtin", "product"): "math.prod",
    ("builtin", "max"): "builtin max", ("builtin", "concat"): "str.join",
    ("builtin", "merge"): "dict(chain(...))", ("builtin", "flatten"): "list(chain(...))",
    ("builtin", "count-words"): "collections.Counter",
    ("toolz", "merge"): "toolz.merge", ("toolz", "flatten"): "toolz.concat",
    ("toolz", "count-words"): "toolz.frequencies", ("cytoolz", "merge"): "cytoolz.merge",
    ("cytoolz", "flatten"): "cytoolz.concat", ("cytoolz", "count-words"): "cytoolz.frequencies"}
STYLE_CALLS = {"loop": "the plain loop", "reduce-lambda": "reduce(lambda)",
               "accumulate": "itertools.accumulate", "numpy": "numpy.fromiter + reduction"}
OUTCOMES = {  # capability outcome -> (short text, CSS class, meaning)
    "ok": ("✓ ok", "cap-ok", "round-trips to an equal object"),
    "lossy": ("≈ lossy", "cap-lossy", "loads gives back a different object"),
    "dumps-error": ("✗ dumps", "cap-error", "dumps raised"),
    "loads-error": ("✗ loads", "cap-error", "loads raised"),
    "same-process-only": ("◐ same process", "cap-same", "loads only works in the same process"),
    "crash": ("✗✗ crash", "cap-crash", "the worker process crashed"),
    "timeout": ("✗ timeout", "cap-crash", "the worker ran out of time"),
    "skipped": ("– skipped", "cap-skip", "not tried (serializer unavailable)")}
METHODS = [
    "Each benchmark's values come from several worker processes; values inside one process "
    "are not independent, so the mean and its 95% confidence interval are computed over the "
    "per-process means (Student t with n_processes - 1 degrees of freedom). Median, stdev and "
    "IQR are over all values, as pyperf shows them.",
    "A ratio A/B is the ratio of the geometric means of A's and B's per-process means; its "
    "95% CI is Welch's t interval on the logs of the per-process means, exponentiated. "
    "A ratio is called faster/slower only when its CI excludes 1.",
    "Scaling exponent k: least squares of log(mean time) on log(size) (scipy.stats.linregress); "
    "95% CI = k ± t(0.975, n_sizes - 2) x stderr (unknown with two sizes). k > 1.5 is flagged "
    "as superlinear (quadratic folds have k ≈ 2).",
    "Warnings follow pyperf check: stdev >= 10% of the mean, minimum or maximum >= 50% away "
    "from the mean, shortest raw value (value x loops) under 1 ms, and fewer than 3 processes.",
    "Colours: the Okabe-Ito colour-blind-safe palette (without yellow); every series also has "
    "its own marker.",
]


# ---------------------------------------------------------------- blocks

@dataclass(frozen=True)
class Cell:
    """One table cell: text, an optional CSS class and an optional hover title."""

    text: str
    cls: str = ""
    title: str = ""


@dataclass(frozen=True)
class Table:
    """A table block: column names, rows of cells, optional heading and per-row classes."""

    columns: Sequence[Cell]
    rows: Sequence[Sequence[Cell]]
    heading: str = ""
    row_classes: Sequence[str] = ()
    collapsible: bool = True
    kind: str = "table"


@dataclass(frozen=True)
class Text:
    """A paragraph block; cls "missing" marks a "not measured" notice."""

    text: str
    cls: str = ""
    kind: str = "text"


@dataclass(frozen=True)
class Heading:
    """A sub-heading block (h3)."""

    text: str
    kind: str = "heading"


@dataclass(frozen=True)
class Bullets:
    """A bulleted list block."""

    items: Sequence[str]
    kind: str = "bullets"


@dataclass(frozen=True)
class Figure:
    """An inline SVG figure with its caption."""

    svg: Markup
    caption: str
    kind: str = "figure"


@dataclass
class Section:
    """One report section: an anchor id, a title and its blocks."""

    id: str
    title: str
    blocks: list[Any] = field(default_factory=list)


def make_cell(value: Any) -> Cell:
    """A Cell from a Cell, a string, a number or a missing value."""
    if isinstance(value, Cell):
        return value
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return Cell("–")
    return Cell(str(value))


def make_table(columns: Sequence[Any], rows: Iterable[Sequence[Any]], heading: str = "",
               row_classes: Sequence[str] = (), collapsible: bool = True) -> Table:
    """A Table block from plain values (strings, numbers, None or Cells).

    A collapsible table of more than 40 rows renders folded (<details>).
    """
    return Table([make_cell(c) for c in columns], [[make_cell(v) for v in row] for row in rows],
                 heading, list(row_classes), collapsible)


def figure(svg: str, caption: str) -> Figure:
    """A Figure block from matplotlib's SVG text (trusted: matplotlib escapes its text)."""
    return Figure(Markup(svg), caption)  # noqa: S704 - SVG written by matplotlib, text escaped


def missing(text: str) -> Text:
    """A "not measured" notice."""
    return Text(text, "missing")


# ---------------------------------------------------------------- formatting

def is_missing(value: Any) -> bool:
    """True for None, pandas NA and NaN.

    >>> is_missing(None), is_missing(float("nan")), is_missing(pd.NA), is_missing(0)
    (True, True, True, False)
    """
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def format_seconds(seconds: Any) -> str:
    """A duration with a unit that suits it.

    >>> format_seconds(1.234e-6), format_seconds(0.5), format_seconds(float("nan"))
    ('1.23 µs', '500 ms', '–')
    """
    if is_missing(seconds):
        return "–"
    scale, unit = plots.time_unit([seconds])
    return f"{seconds / scale:.3g} {unit}"


def format_bytes(count: Any) -> str:
    """A byte count in B, kB, MB or GB (powers of 1000).

    >>> format_bytes(512), format_bytes(2_500_000), format_bytes(None)
    ('512 B', '2.5 MB', '–')
    """
    if is_missing(count):
        return "–"
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return f"{value:.3g} {unit}"
        value /= 1000
    return f"{value:.3g} GB"


def format_rate(bytes_per_second: float) -> str:
    """A throughput in MB/s, without exponents.

    >>> format_rate(1.2346e9), format_rate(5.5e6), format_rate(1.5e3)
    ('1235', '5.5', '0.0015')
    """
    value = bytes_per_second / 1e6
    return f"{value:.0f}" if value >= 100 else f"{value:.2g}"


def format_value(value: Any, unit: Any) -> str:
    """A benchmark value in its pyperf unit (second, byte or plain)."""
    if unit == "second":
        return format_seconds(value)
    if unit == "byte":
        return format_bytes(value)
    return "–" if is_missing(value) else f"{value:.4g}"


def format_interval(low: Any, high: Any, unit: Any) -> str:
    """A CI as "low – high" in the benchmark's unit ("unknown" without bounds)."""
    if is_missing(low) or is_missing(high):
        return "unknown (< 2 processes)"
    return f"{format_value(low, unit)} – {format_value(high, unit)}"


def format_ratio(interval: Interval | Sequence[float]) -> str:
    """A ratio with its 95% CI.

    >>> format_ratio((5.1234, 4.8, 5.4)), format_ratio((2.0, float("nan"), float("nan")))
    ('5.12x (4.8-5.4)', '2x (CI unknown)')
    """
    value, low, high = interval
    if is_missing(low) or is_missing(high):
        return f"{format_factor(value)}x (CI unknown)"
    return f"{format_factor(value)}x ({format_factor(low)}-{format_factor(high)})"


def format_factor(value: float) -> str:
    """A ratio with 3 significant digits, whole numbers from 100 on.

    >>> format_factor(5.1234), format_factor(0.01234), format_factor(2760.4)
    ('5.12', '0.0123', '2,760')
    """
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def verdict(low: Any, high: Any) -> str:
    """faster / slower / same from the CI of a time ratio (numerator vs reference).

    >>> verdict(0.5, 0.9), verdict(1.1, 1.2), verdict(0.9, 1.1), verdict(float("nan"), 1)
    ('faster', 'slower', 'same', 'unknown')
    """
    if is_missing(low) or is_missing(high):
        return "unknown"
    return "faster" if high < 1 else "slower" if low > 1 else "same"


def ratio_cell(row: Any) -> Cell:
    """A table cell of a ratio row (ratio, ratio_low, ratio_high), coloured by its verdict."""
    outcome = verdict(row["ratio_low"], row["ratio_high"])
    return Cell(format_ratio((row["ratio"], row["ratio_low"], row["ratio_high"])),
                f"ratio-{outcome}", outcome)


def call_of(style: str, task: str) -> str:
    """What a fold style calls for a task, for the generated sentences.

    >>> call_of("reduce-operator", "sum"), call_of("loop", "max"), call_of("zzz", "sum")
    ('reduce(operator.add)', 'the plain loop', 'zzz')
    """
    return CALLS.get((style, task), STYLE_CALLS.get(style, style))


# ---------------------------------------------------------------- report data

@dataclass
class ReportData:
    """Everything the sections are computed from."""

    frame: pd.DataFrame
    summary: pd.DataFrame
    runs: pd.DataFrame
    arrays: dict[tuple[str, str], np.ndarray]
    exponents: pd.DataFrame
    capabilities: dict[str, Any] | None
    failures: pd.DataFrame | None = None  # run, benchmark, reason of cases never timed

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
                 failures: pd.DataFrame | None = None) -> ReportData:
    """Summaries, process-mean arrays and exponents of a tidy frame."""
    summary = summarize(frame)
    if runs is None:
        runs = summary.drop_duplicates("run")[["run", "file", "host", "python"]]
    return ReportData(frame, summary, runs, process_mean_arrays(frame), fit_exponents(summary),
                      capabilities, failures)


# ---------------------------------------------------------------- ratios

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
                        "ratio": ratio.value, "ratio_low": ratio.low, "ratio_high": ratio.high})
    return pd.DataFrame(out, columns=[*rows.columns, "reference_mean", "ratio", "ratio_low",
                                      "ratio_high"])


def representative_sizes(rows: pd.DataFrame) -> pd.DataFrame:
    """Per shape, the size with the most cases (ties: the largest): columns shape, size."""
    counts = rows.groupby(["shape", "size"], sort=False).size().rename("count").reset_index()
    counts = counts.sort_values(["count", "size"], ascending=False, kind="stable")
    return counts.drop_duplicates("shape")[["shape", "size"]]


def at_representative_size(rows: pd.DataFrame) -> pd.DataFrame:
    """Only the rows at their shape's representative size, shapes in first-seen order."""
    if rows.empty:
        return rows
    chosen = representative_sizes(rows)
    return rows.merge(chosen, on=["shape", "size"])


def pickle_baseline(subjects: Iterable[str]) -> str | None:
    """pickle-5 when measured, else the highest pickle protocol measured.

    >>> pickle_baseline(["dill", "pickle-2", "pickle-4"]), pickle_baseline(["json"])
    ('pickle-4', None)
    """
    protocols = sorted(s for s in set(subjects) if s.startswith("pickle-") and s[7:].isdigit())
    if "pickle-5" in protocols:
        return "pickle-5"
    return protocols[-1] if protocols else None


def pareto_front(x: Sequence[float], y: Sequence[float]) -> list[bool]:
    """Which points no other point beats on both x and y (lower is better).

    >>> pareto_front([1, 2, 3, 2], [3, 1, 2, 4])
    [True, True, False, False]
    """
    points = list(zip(x, y, strict=True))
    return [not any((a <= px and b <= py) and (a < px or b < py) for a, b in points)
            for px, py in points]


# ---------------------------------------------------------------- environment

def check_cases(summary: pd.DataFrame) -> pd.DataFrame:
    """pyperf-check-style warnings: one row per (run, benchmark, problem)."""
    problems = []
    for row in summary.itertuples(index=False):
        found = []
        if not is_missing(row.rel_stdev) and row.rel_stdev >= REL_STDEV_LIMIT:
            found.append(("unstable", f"the stdev is {row.rel_stdev:.0%} of the mean"))
        if row.n_processes < MIN_PROCESSES:
            found.append(("too few processes", f"only {row.n_processes} process(es): the CI "
                          "is wide or unknown"))
        for name, extreme in (("maximum", row.maximum), ("minimum", row.minimum)):
            if row.mean > 0 and abs(extreme - row.mean) / row.mean >= OUTLIER_LIMIT:
                found.append(("outlier", f"the {name} is {abs(extreme / row.mean - 1):.0%} "
                              "away from the mean"))
        if row.unit == "second" and row.min_raw < MIN_RAW_SECONDS:
            found.append(("short raw values", "the shortest raw value is only "
                          + format_seconds(row.min_raw)))
        problems += [{"run": row.run, "benchmark": row.benchmark, "kind": kind, "problem": text}
                     for kind, text in found]
    return pd.DataFrame(problems, columns=["run", "benchmark", "kind", "problem"])


def runs_table(runs: pd.DataFrame) -> Table:
    """The result files side by side, one column per run."""
    fields = [c for c in runs.columns if c != "run"]
    return make_table(["", *runs["run"]], ([name, *runs[name]] for name in fields),
                      "Result files")


def versions_table(summary: pd.DataFrame) -> Table | Text:
    """Library version of every measured subject, one column per run."""
    rows = summary.dropna(subset=["subject", "subject_version"])
    if rows.empty:
        return missing("No library versions recorded (no subject_version metadata).")
    wide = rows.pivot_table(index="subject", columns="run", values="subject_version",
                            aggfunc="first", sort=False)
    runs = list(wide.columns)
    return make_table(["subject", *runs], ([s, *wide.loc[s]] for s in wide.index),
                      "Library versions")


def warning_blocks(summary: pd.DataFrame) -> list[Any]:
    """A count of the warnings and the first MAX_WARNINGS of them."""
    problems = check_cases(summary)
    if problems.empty:
        return [Text(f"No warnings: all {len(summary)} cases have a stdev under "
                     f"{REL_STDEV_LIMIT:.0%} of the mean and {MIN_PROCESSES}+ processes.")]
    flagged = problems.drop_duplicates(["run", "benchmark"])
    lead = Text(f"{len(flagged)} of {len(summary)} cases have warnings (pyperf check). "
                "Rerun them with more processes/values, or tune the system "
                "(python -m pyperf system tune).", "warning")
    counts = [f"{kind}: {n} cases" for kind, n in problems["kind"].value_counts().items()]
    rows = ([r.run, r.benchmark, r.kind, r.problem] for r in problems.itertuples())
    return [lead, Bullets(counts),
            make_table(["run", "case", "warning", "detail"], rows, "Every warning")]


def environment_section(data: ReportData) -> Section:
    """Where and how the results were measured, and the warnings about them."""
    return Section("environment", "Environment", [
        runs_table(data.runs), versions_table(data.summary),
        Heading("Warnings"), *warning_blocks(data.summary), *failure_blocks(data.failures)])


def failure_blocks(failures: pd.DataFrame | None) -> list[Any]:
    """The cases that failed their check or their worker, so were never timed."""
    if failures is None:
        return []
    if failures.empty:
        return [Heading("Failed cases"), Text("No case failed its check or its worker.")]
    rows = ([r.run, r.benchmark, r.reason] for r in failures.itertuples())
    return [Heading("Failed cases"),
            Text(f"{len(failures)} case(s) failed their correctness check or their worker and "
                 "were not timed:", "warning"),
            make_table(["run", "case", "reason"], rows)]


# ---------------------------------------------------------------- serializers

def op_cells(row: Any) -> list[Any]:
    """[mean, CI] cells of a summary row, or two dashes."""
    if row is None:
        return [None, None]
    return [format_seconds(row["mean"]), format_interval(row["ci_low"], row["ci_high"], "second")]


def memcpy_speed(data: ReportData, run: str, nbytes: float) -> float | None:
    """Bytes/s of the memcpy reference case whose size is closest to nbytes, or None."""
    refs = data.cases("ref", run)
    refs = refs[(refs["subject"] == "memcpy") & refs["size"].notna()]
    if refs.empty or is_missing(nbytes):
        return None
    distance = (np.log(refs["size"].astype(float)) - math.log(max(float(nbytes), 1.0))).abs()
    best = refs.loc[distance.idxmin()]
    return float(best["size"]) / float(best["mean"])


def speed_cells(row: Any, reference: float | None) -> list[Any]:
    """[MB/s, % of memcpy] of one serializer op (dashes when unknown)."""
    if row is None or is_missing(row["shape_nbytes"]):
        return [None, None]
    speed = float(row["shape_nbytes"]) / float(row["mean"])
    percent = f"{100 * speed / reference:.3g}%" if reference else None
    return [format_rate(speed), percent]


def serializer_table(data: ReportData, run: str, rows: pd.DataFrame, order: list[str]) -> Table:
    """Per serializer: dumps/loads mean and CI, payload, MB/s and % of memcpy."""
    shape = str(rows["shape"].iloc[0])
    nbytes = rows["shape_nbytes"].dropna()
    reference = (memcpy_speed(data, run, nbytes.iloc[0])
                 if shape in BYTES_HEAVY_SHAPES and not nbytes.empty else None)
    body = []
    for subject in order:
        ops = {r["op"]: r for _, r in rows[rows["subject"] == subject].iterrows()}
        dumps, loads = ops.get("dumps"), ops.get("loads")
        payload = next((r["payload_bytes"] for r in ops.values()), None)
        body.append([subject, *op_cells(dumps), *op_cells(loads), format_bytes(payload),
                     *speed_cells(dumps, reference), *speed_cells(loads, reference)])
    columns = ["serializer", "dumps", "dumps 95% CI", "loads", "loads 95% CI", "payload",
               "dumps MB/s", "dumps % memcpy", "loads MB/s", "loads % memcpy"]
    return make_table(columns, body)


def shape_blocks(data: ReportData, run: str, rows: pd.DataFrame) -> list[Any]:
    """Heading, figure and table of one shape at its representative size."""
    shape, size = rows["shape"].iloc[0], rows["size"].iloc[0]
    order = rows.groupby("subject", sort=False)["mean"].sum().sort_values().index.tolist()
    nbytes = rows["shape_nbytes"].dropna()
    about = f", about {format_bytes(nbytes.iloc[0])} in memory" if not nbytes.empty else ""
    svg = plots.plot_serializer_shape(rows, f"{shape}, n={size}: dumps, loads and payload")
    return [Heading(f"{shape} (n={size}{about})"),
            figure(svg, f"Shape {shape}, n={size}: time per call with 95% CI, fastest "
                        "round trip at the top; payload size (bytes on the wire)."),
            serializer_table(data, run, rows, order)]


def pareto_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Per shape and serializer: payload, dumps + loads time, and Pareto-front membership."""
    out = []
    for (shape, size), group in rows.groupby(["shape", "size"], sort=False):
        wide = group.pivot_table(index="subject", columns="op", values="mean", sort=False)
        payload = group.dropna(subset=["payload_bytes"]).groupby("subject")["payload_bytes"].first()
        if not {"dumps", "loads"} <= set(wide.columns):
            continue
        points = pd.DataFrame({"time": wide["dumps"] + wide["loads"]}).join(payload.astype(float))
        points = points.dropna().reset_index()
        points["front"] = pareto_front(points["payload_bytes"], points["time"])
        out.append(points.assign(shape=shape, size=size))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def pareto_blocks(rows: pd.DataFrame) -> list[Any]:
    """The size-vs-speed scatter and, per shape, who is on the Pareto front."""
    points = pareto_points(rows)
    if points.empty:
        return [Heading("Size vs speed"), missing("Not measured in this run: no serializer "
                                                  "has dumps, loads and payload_bytes.")]
    fronts = [f"{shape}: " + ", ".join(group.loc[group["front"], "subject"])
              for shape, group in points.groupby("shape", sort=False)]
    return [Heading("Size vs speed (Pareto front)"),
            figure(plots.plot_pareto(points), "Payload size against round-trip time "
                   "(dumps + loads means); no serializer is both smaller and faster than a "
                   "point on the front."), Text("On the Pareto front:"), Bullets(fronts)]


def sink_blocks(sinks: pd.DataFrame) -> list[Any]:
    """Table of BytesIO and real-file sinks relative to plain bytes."""
    head = Heading("Sinks: bytes vs BytesIO vs a real file")
    if sinks.empty:
        return [head, missing("Not measured in this run: no dumps-bytesio / dumps-file cases.")]
    body = [[r["subject"], r["shape"], r["size"], r["op"], format_seconds(r["reference_mean"]),
             format_seconds(r["mean"]), ratio_cell(r)] for _, r in sinks.iterrows()]
    columns = ["serializer", "shape", "n", "sink op", "to bytes", "to sink", "sink / bytes"]
    return [head, make_table(columns, body)]


def serializers_section(data: ReportData, found: Findings) -> Section:
    """Per shape dumps/loads/payload, size-vs-speed front, throughput and sinks."""
    section = Section("serializers", "Serializers")
    run = data.run_of("ser")
    if run is None:
        section.blocks.append(missing("Not measured in this run: no serializer (ser/...) cases."))
        return section
    rows = at_representative_size(found.ser_ops)
    note = ("" if not data.cases("ref", run).empty
            else " No memcpy reference (ref/memcpy/...) in this run, so no % of memcpy.")
    section.blocks.append(Text(f"Run {run}. Per shape, the size with the most cases. "
                               f"MB/s is the shape's in-memory size per second; % memcpy "
                               f"(bytes-heavy shapes: {', '.join(BYTES_HEAVY_SHAPES)}) compares "
                               f"it with copying a bytes buffer of about that size.{note}"))
    for _, group in rows.groupby("shape", sort=False):
        section.blocks += shape_blocks(data, run, group)
    section.blocks += pareto_blocks(rows) + sink_blocks(found.sinks)
    return section


# ---------------------------------------------------------------- findings

@dataclass
class Findings:
    """Ratios computed once and shared by the sections and the answers to the questions."""

    ser_ops: pd.DataFrame  # serializer dumps/loads cases of the serializer run
    folds: pd.DataFrame  # fold styles relative to the loop, every task, shape and size
    sinks: pd.DataFrame  # BytesIO / file sinks relative to bytes
    versus_pickle: pd.DataFrame  # serializers relative to the pickle baseline
    baseline: str | None


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


def find_all(data: ReportData) -> Findings:
    """Compute every comparison the sections and answers use."""
    ser = data.cases("ser")
    ser_ops = ser[ser["op"].isin(["dumps", "loads"])].reset_index(drop=True)
    folds = ratios_against(data, data.cases("fold"), ["op", "shape", "size"], "subject", "loop")
    baseline = pickle_baseline(ser_ops["subject"].dropna())
    versus = (ratios_against(data, at_representative_size(ser_ops), ["op", "shape", "size"],
                             "subject", baseline) if baseline else pd.DataFrame())
    return Findings(ser_ops, folds, sink_ratios(data), versus, baseline)


# ---------------------------------------------------------------- scaling

def exponent_table(exponents: pd.DataFrame, heading: str) -> Table:
    """Fitted exponents, steepest first, superlinear rows flagged."""
    rows = exponents.sort_values("k", ascending=False, kind="stable")
    body, classes = [], []
    for _, r in rows.iterrows():
        steep = r["k"] > SUPERLINEAR
        ci = "unknown (2 sizes)" if is_missing(r["low"]) else f"{r['low']:.2f} – {r['high']:.2f}"
        body.append([r["suite"], r["subject"], r["op"], r["shape"], f"{r['k']:.2f}", ci,
                     f"{r['n']} ({r['min_size']} – {r['max_size']})",
                     f"superlinear (k > {SUPERLINEAR})" if steep else ""])
        classes.append("superlinear" if steep else "")
    columns = ["suite", "subject", "op", "shape", "k", "k 95% CI", "sizes (range)", "flag"]
    return make_table(columns, body, heading, classes)


def scaling_lines(data: ReportData, suite: str, exponents: pd.DataFrame) -> pd.DataFrame:
    """Summary rows of one suite's fitted groups with their k, panel and line kind."""
    keys = ["subject", "op", "shape"]
    rows = data.cases(suite).merge(exponents[[*keys, "k"]], on=keys)
    if suite == "fold":
        return rows.assign(panel=rows["op"], kind=rows["shape"])
    return rows.assign(panel=rows["shape"], kind="list")


def scaling_figures(data: ReportData, suite: str, exponents: pd.DataFrame) -> list[Any]:
    """Log-log figures of one suite: folds per task, serializers per shape for dumps and loads."""
    lines = scaling_lines(data, suite, exponents)
    if lines.empty:
        return []
    if suite == "fold":
        svg = plots.plot_scaling(lines, "Folds: time vs n (dashed: generator input; bold: "
                                 f"k > {SUPERLINEAR})", "fold style")
        return [figure(svg, "Fold time per call against n, log-log, 95% CI bars.")]
    figures = []
    for op in ("dumps", "loads"):
        part = lines[lines["op"] == op]
        if not part.empty:
            svg = plots.plot_scaling(part, f"Serializers: {op} time vs n", "serializer")
            figures.append(figure(svg, f"{op} time per call against n, log-log, 95% CI bars."))
    return figures


def scaling_section(data: ReportData) -> Section:
    """Exponents of time vs size for folds and serializers, quadratic ones highlighted."""
    section = Section("scaling", "Scaling")
    parts = []
    for suite in ("fold", "ser", "ref"):
        run = data.run_of(suite)
        exps = data.exponents[(data.exponents["run"] == run)
                              & (data.exponents["suite"] == suite)]
        if not exps.empty:
            parts.append((suite, run, exps))
    if not parts:
        section.blocks.append(missing("Not measured in this run: no case was run at two or "
                                      "more sizes (use the scaling profile)."))
        return section
    runs = ", ".join(f"{suite}: run {run}" for suite, run, _ in parts)
    section.blocks.append(Text(f"Shown: {runs}. A straight line of slope k on log-log axes "
                               f"means cost ~ n^k; k near 2 is quadratic."))
    exponents = pd.concat([e for _, _, e in parts])
    steep = exponents[exponents["k"] > SUPERLINEAR]
    section.blocks += [
        exponent_table(steep, f"Superlinear: k > {SUPERLINEAR}") if not steep.empty
        else Text(f"No case grows faster than n^{SUPERLINEAR}."),
        exponent_table(exponents, "Fitted exponents of every case: cost ~ n^k")]
    for suite, _, exps in parts:
        section.blocks += scaling_figures(data, suite, exps) if suite != "ref" else []
    return section


# ---------------------------------------------------------------- folds

def headline_folds(folds: pd.DataFrame) -> pd.DataFrame:
    """Per task the rows of one input: list input if measured, at the largest size."""
    if folds.empty:
        return folds
    keyed = folds.assign(is_list=folds["shape"] == "list")
    best = keyed.sort_values(["is_list", "size"], ascending=False, kind="stable")
    best = best.drop_duplicates("op")[["op", "shape", "size"]]
    return folds.merge(best, on=["op", "shape", "size"])


def ratio_between(data: ReportData, slow: Any, fast: Any) -> Interval:
    """Time ratio slow/fast of two summary rows of the same run."""
    return ratio_interval(data.arrays[(slow["run"], slow["benchmark"])],
                          data.arrays[(fast["run"], fast["benchmark"])])


def answer_reduce(data: ReportData, rows: pd.DataFrame) -> str:
    """One line answering "is reduce faster here?" for one task's headline rows."""
    task, shape, size = rows["op"].iloc[0], rows["shape"].iloc[0], rows["size"].iloc[0]
    where = f"{task} ({shape} of {size})"
    is_reduce = rows["subject"].isin(REDUCE_STYLES)
    if not is_reduce.any() or is_reduce.all():
        return f"{where}: not measured in this run (needs a reduce style and another style)."
    best_reduce = rows[is_reduce].loc[rows.loc[is_reduce, "mean"].idxmin()]
    best_other = rows[~is_reduce].loc[rows.loc[~is_reduce, "mean"].idxmin()]
    reduce_call = call_of(best_reduce["subject"], task)
    other_call = call_of(best_other["subject"], task)
    if best_other["mean"] < best_reduce["mean"]:
        ratio = ratio_between(data, best_reduce, best_other)
        answer = f"no: {other_call} is {format_ratio(ratio)} faster than {reduce_call}"
    else:
        ratio = ratio_between(data, best_other, best_reduce)
        answer = f"yes: {reduce_call} is {format_ratio(ratio)} faster than {other_call}"
    if not is_missing(ratio.low) and ratio.low <= 1:
        answer = (f"no clear difference: {reduce_call} vs {other_call}, "
                  f"{format_ratio(ratio)} (the CI includes 1)")
    return f"{where}: {answer}."


def fold_answers(data: ReportData, folds: pd.DataFrame) -> list[str]:
    """The "is reduce faster here?" line of every task."""
    headline = headline_folds(folds)
    return [answer_reduce(data, group) for _, group in headline.groupby("op", sort=False)]


def fold_table(folds: pd.DataFrame) -> Table:
    """Every fold case with its time and its ratio to the loop."""
    body = [[r["op"], r["shape"], r["size"], r["subject"], call_of(r["subject"], r["op"]),
             format_seconds(r["mean"]), format_interval(r["ci_low"], r["ci_high"], "second"),
             ratio_cell(r)] for _, r in folds.iterrows()]
    columns = ["task", "input", "n", "style", "call", "time", "95% CI", "time / loop"]
    return make_table(columns, body, "Every fold case")


def folds_section(data: ReportData, found: Findings) -> Section:
    """Each style relative to the loop per task, and the answer per task."""
    section = Section("folds", "Folds")
    if found.folds.empty:
        section.blocks.append(missing("Not measured in this run: no fold cases with a `loop` "
                                      "reference."))
        return section
    headline = headline_folds(found.folds)
    panels = headline.assign(panel=headline["op"] + " (" + headline["shape"] + ", n="
                             + headline["size"].astype(str) + ")",
                             ci_low=headline["ratio_low"], ci_high=headline["ratio_high"])
    svg = plots.plot_ratios(panels, "Fold styles: time relative to the plain loop (< 1 is "
                            "faster)", "time / loop time (log)")
    section.blocks += [
        Text(f"Run {data.run_of('fold')}. Below 1: faster than the loop. Bars: 95% CI of the "
             "ratio."), Heading("Is reduce faster here?"), Bullets(fold_answers(data, found.folds)),
        figure(svg, "Each fold style's time divided by the plain loop's, per task, at the "
                    "largest n (list input when measured)."), fold_table(found.folds)]
    return section


# ---------------------------------------------------------------- capabilities

def check_capabilities(data: Any, source: str) -> dict[str, Any]:
    """Validate a capability matrix (schema_version 1); InputError naming the problem."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: not a capability matrix (expected a JSON object)")
    if data.get("schema_version") != 1:
        raise InputError(f"{source}: capability matrix schema_version "
                         f"{data.get('schema_version')!r} is not supported (expected 1)")
    for key in ("serializers", "kinds", "cells"):
        if not isinstance(data.get(key), list):
            raise InputError(f"{source}: capability matrix has no {key!r} list")
    for cell in data["cells"]:
        if not isinstance(cell, dict) or not {"kind", "serializer", "outcome"} <= set(cell):
            raise InputError(f"{source}: capability cell {cell!r} lacks kind/serializer/outcome")
    return data


def load_capabilities(path: str | Path) -> dict[str, Any]:
    """Read and validate a capability matrix JSON file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the capability matrix ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: capability matrix is not valid JSON ({exc})") from None
    return check_capabilities(data, str(path))


def capability_cell(cell: dict[str, Any] | None) -> Cell:
    """A coloured matrix cell: outcome glyph, payload size, error text on hover."""
    if cell is None:
        return Cell("", "cap-skip", "not in the matrix")
    text, cls, meaning = OUTCOMES.get(cell["outcome"], (cell["outcome"], "cap-skip", ""))
    title = cell.get("error") or meaning
    if cell.get("payload_bytes"):
        title += f" (payload {format_bytes(cell['payload_bytes'])})"
    return Cell(text, cls, title)


def serializer_header(entry: dict[str, Any]) -> Cell:
    """A column header: the serializer, its version, why it is unavailable."""
    available = entry.get("available", True)
    title = (f"version {entry.get('version')}" if available
             else f"unavailable: {entry.get('reason')}")
    return Cell(str(entry.get("name")), "" if available else "cap-skip", title)


def capability_table(caps: dict[str, Any], kinds: Sequence[dict[str, Any]] | None = None,
                     serializers: Sequence[str] | None = None) -> Table:
    """The kinds x serializers matrix, optionally restricted to some kinds and serializers."""
    entries = [s for s in caps["serializers"]
               if serializers is None or s.get("name") in serializers]
    cells = {(c["kind"], c["serializer"]): c for c in caps["cells"]}
    body = [[Cell(str(k.get("name")), "", str(k.get("note") or "")), str(k.get("group") or ""),
             *(capability_cell(cells.get((k.get("name"), s.get("name")))) for s in entries)]
            for k in (caps["kinds"] if kinds is None else kinds)]
    columns = [Cell("object kind"), Cell("group"), *(serializer_header(s) for s in entries)]
    return make_table(columns, body, collapsible=False)


def capabilities_section(caps: dict[str, Any] | None) -> Section:
    """The capability matrix, colour-coded, with the error text on hover."""
    section = Section("capabilities", "Capabilities")
    if caps is None:
        section.blocks.append(missing("Not given: run `bench capabilities --format json -o FILE`"
                                      " and pass `--capabilities FILE`."))
        return section
    legend = [f"{text}: {meaning}" for text, _, meaning in OUTCOMES.values()]
    section.blocks += [Text(f"Python {caps.get('python', '?')}. Hover a cell for the error "
                            "text and the payload size; hover a header for the version."),
                       capability_table(caps),
                       Heading("Legend"), Bullets(legend)]
    return section


def describe_mapping(value: Any) -> list[str]:
    """Lines "key: value" of a JSON mapping (a non-mapping becomes one line).

    >>> describe_mapping({"a": 1, "b": [1, 2]})
    ['a: 1', 'b: [1, 2]']
    """
    if not isinstance(value, dict):
        return [json.dumps(value, ensure_ascii=False)]
    return [f"{key}: {describe_item(item)}" for key, item in value.items()]


def describe_item(item: Any, limit: int = 8) -> str:
    """A JSON value as text, long lists cut to their first `limit` items.

    >>> describe_item(list(range(10)), 3), describe_item("a"), describe_item(True)
    ('0, 1, 2 ... (10 in all)', 'a', 'true')
    """
    if isinstance(item, list) and len(item) > limit:
        return ", ".join(map(str, item[:limit])) + f" ... ({len(item)} in all)"
    return item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)


# ---------------------------------------------------------------- runs side by side

def run_ratios(data: ReportData) -> pd.DataFrame:
    """Every time case of every other run relative to the same case in the first run."""
    base = str(data.runs["run"].iloc[0])
    rows = data.summary[data.summary["unit"] == "second"]
    ratios = ratios_against(data, rows, ["benchmark"], "run", base)
    return ratios[ratios["run"] != base].reset_index(drop=True)


def runs_comparison_table(data: ReportData, ratios: pd.DataFrame, base: str) -> Table:
    """One row per common case: base time, then each run's time and ratio to the base."""
    others = list(dict.fromkeys(ratios["run"]))
    by_key = {(r["run"], r["benchmark"]): r for _, r in ratios.iterrows()}
    body = []
    for benchmark in dict.fromkeys(ratios["benchmark"]):
        first = next(by_key[(run, benchmark)] for run in others if (run, benchmark) in by_key)
        row = [benchmark, format_seconds(first["reference_mean"])]
        for run in others:
            match = by_key.get((run, benchmark))
            row += ([format_seconds(match["mean"]), ratio_cell(match)] if match is not None
                    else [None, None])
        body.append(row)
    columns = ["case", base] + [c for run in others for c in (run, f"{run} / {base}")]
    return make_table(columns, body, "Every common case")


def runs_section(data: ReportData) -> Section:
    """Each case of every run against the first run, with CIs of the ratios."""
    section = Section("runs", "Runs side by side")
    if len(data.runs) < 2:
        section.blocks.append(missing("One result file given: pass several (e.g. Python 3.11 "
                                      "and 3.13 runs) to compare them case by case."))
        return section
    base = str(data.runs["run"].iloc[0])
    ratios = run_ratios(data)
    if ratios.empty:
        section.blocks.append(missing(f"No case in common with the base run {base}."))
        return section
    counts = [f"{run}: {len(g)} common cases, "
              + ", ".join(f"{n} {v}" for v, n in
                          g.apply(lambda r: verdict(r["ratio_low"], r["ratio_high"]), axis=1)
                          .value_counts().items())
              for run, g in ratios.groupby("run", sort=False)]
    svg = plots.plot_run_ratios(ratios.assign(ci_low=ratios["ratio_low"],
                                              ci_high=ratios["ratio_high"]), base)
    section.blocks += [Text(f"Base: {base} (the first file). faster/slower only when the 95% "
                            "CI of the ratio excludes 1."), Bullets(counts),
                       figure(svg, "Time ratio of each common case to the base run, sorted; "
                                   "the band is the 95% CI."),
                       runs_comparison_table(data, ratios, base)]
    return section


# ---------------------------------------------------------------- the full table

def full_table(data: ReportData) -> Table:
    """Every case of every run: median, mean and CI, spread, payload, peak memory."""
    flagged = set(zip(*[check_cases(data.summary)[k] for k in ("run", "benchmark")],
                      strict=True))
    body, classes = [], []
    for r in data.summary.itertuples(index=False):
        body.append([r.run, r.benchmark, format_value(r.median, r.unit),
                     format_value(r.mean, r.unit), format_interval(r.ci_low, r.ci_high, r.unit),
                     "–" if is_missing(r.rel_half_width) else f"±{r.rel_half_width:.1%}",
                     "–" if is_missing(r.rel_stdev) else f"{r.rel_stdev:.1%}",
                     r.n_processes, r.n_values, format_bytes(r.payload_bytes),
                     format_bytes(r.peak_alloc_bytes), r.subject_version])
        classes.append("warn" if (r.run, r.benchmark) in flagged else "")
    columns = ["run", "case", "median", "mean", "95% CI", "CI ±", "stdev/mean", "processes",
               "values", "payload", "peak alloc", "version"]
    return make_table(columns, body, "", classes, collapsible=False)


def table_section(data: ReportData) -> Section:
    """Every case with median, CI, payload and peak memory; rows with warnings tinted."""
    return Section("table", "Table", [
        Text("Every case of every run. Tinted rows have pyperf-check warnings (see "
             "Environment)."), full_table(data)])


# ---------------------------------------------------------------- questions

NOT_MEASURED = "Not measured in this run"


def answer_reduce_claim(data: ReportData, found: Findings) -> list[Any]:
    """"Use reduce whenever speed is required": per task answers and steep reduce folds."""
    lines = fold_answers(data, found.folds)
    if not lines:
        return [missing(f"{NOT_MEASURED}: no fold cases with a loop reference.")]
    wins = sum(": yes:" in line for line in lines)
    exps = data.exponents
    steep = exps[(exps["run"] == data.run_of("fold")) & exps["subject"].isin(REDUCE_STYLES)
                 & (exps["k"] > SUPERLINEAR)]
    growth = [f"{call_of(r['subject'], r['op'])} over {r['op']} ({r['shape']}) grows as "
              f"n^{r['k']:.2f}" + ("" if is_missing(r["low"]) else
                                  f" (95% CI {r['low']:.2f}-{r['high']:.2f})")
              for _, r in steep.iterrows()]
    lead = (f"A reduce style was clearly the fastest in {wins} of {len(lines)} tasks measured."
            + (f" {len(growth)} reduce folds are superlinear (quadratic):" if growth else ""))
    return [Text(lead), Bullets(growth), Bullets(lines)]


def answer_toolz_claim(data: ReportData, found: Findings) -> list[Any]:
    """toolz/cytoolz idiomatic calls against the loop and the builtin, per task."""
    rows = headline_folds(found.folds)
    libs = rows[rows["subject"].isin(["toolz", "cytoolz"])] if not rows.empty else rows
    if libs.empty:
        return [missing(f"{NOT_MEASURED}: no toolz or cytoolz fold case with a plain-loop "
                        "reference at the same task, input and size.")]
    lines = []
    for task, group in rows[rows["op"].isin(libs["op"])].groupby("op", sort=False):
        parts = [f"{call_of(r['subject'], task)} {format_ratio(iv_of(r))}"
                 for _, r in group.iterrows()
                 if r["subject"] in ("toolz", "cytoolz", "builtin")]
        lines.append(f"{task} (n={group['size'].iloc[0]}), time / loop: " + "; ".join(parts))
    faster = {lib: f"{(g['ratio_high'] < 1).sum()} of {len(g)}"
              for lib, g in libs.groupby("subject", sort=False)}
    lead = ("Faster than the plain loop (CI below 1) in: "
            + ", ".join(f"{lib} {count} tasks" for lib, count in faster.items())
            + ". Note toolz.reduce is functools.reduce, so the reduce answer covers "
              "toolz-style reduce code.")
    return [Text(lead), Bullets(lines)]


def iv_of(row: Any) -> Interval:
    """The ratio Interval of a ratios row."""
    return Interval(row["ratio"], row["ratio_low"], row["ratio_high"])


def answer_sinks_claim(found: Findings) -> list[Any]:
    """BytesIO and real files run the same code: what each costs relative to bytes."""
    if found.sinks.empty:
        return [missing(f"{NOT_MEASURED}: no dumps-bytesio / dumps-file sink cases.")]
    first = found.sinks.drop_duplicates(["subject", "op"])
    lines = [f"{r['subject']} {r['op']} ({r['shape']}, n={r['size']}): "
             f"{format_ratio(iv_of(r))} the time of {r['direction']} "
             + ("to bytes" if r["direction"] == "dumps" else "from bytes")
             for _, r in first.iterrows()]
    lead = (f"Yes for {first['subject'].nunique()} serializer(s): the same dump/load calls ran "
            "on io.BytesIO and on a real file opened with `with`, each checked to round-trip "
            "before it was timed. What the file-like sink costs relative to bytes:")
    return [Text(lead), Bullets(lines)]


def pickle_lines(found: Findings, subjects: Sequence[str]) -> list[str]:
    """"shape (n) op: subject ratio" lines of serializers relative to the pickle baseline."""
    rows = found.versus_pickle
    rows = rows[rows["subject"].isin(subjects)] if not rows.empty else rows
    return [f"{r['shape']} (n={r['size']}) {r['op']}: {r['subject']} takes "
            f"{format_ratio(iv_of(r))} {found.baseline}'s time ({verdict(*iv_of(r)[1:])})"
            for _, r in rows.iterrows()]


def ok_counts(caps: dict[str, Any] | None, serializers: Sequence[str],
              kinds: set[str] | None = None) -> str:
    """"name: ok of total kinds" for some serializers of the capability matrix."""
    if caps is None:
        return ""
    cells = [c for c in caps["cells"] if kinds is None or c["kind"] in kinds]
    parts = [f"{name} {sum(c['outcome'] == 'ok' for c in cells if c['serializer'] == name)} of "
             f"{sum(c['serializer'] == name for c in cells)}" for name in serializers]
    return "Round-trips (ok) in the capability matrix: " + ", ".join(parts) + "."


def answer_marshal_claim(data: ReportData, found: Findings) -> list[Any]:
    """marshal vs pickle speed, its capability gaps and its version-specific format."""
    pythons = ", ".join(sorted({str(p) for p in data.runs["python"].dropna()}))
    note = Text("marshal's format is CPython-specific and may change between Python versions "
                f"(the marshal docs say so): do not store it. Pythons in these results: "
                f"{pythons or 'unknown'}.")
    lines = pickle_lines(found, ["marshal"])
    if not lines:
        return [missing(f"{NOT_MEASURED}: no marshal and pickle cases."), note]
    caps = ok_counts(data.capabilities, ["marshal", found.baseline or "pickle-5"])
    return [Text(f"marshal against {found.baseline}. {caps}"), Bullets(lines), note]


def function_kinds(caps: dict[str, Any]) -> list[dict[str, Any]]:
    """Kinds of the matrix that are functions: lambdas, closures, recursive, using globals."""
    return [k for k in caps["kinds"] if k.get("name") in FUNCTION_KINDS]


def answer_functions_claim(caps: dict[str, Any] | None) -> list[Any]:
    """Which of pickle, dill, dill-recurse and cloudpickle round-trip functions."""
    kinds = function_kinds(caps) if caps else []
    if not kinds:
        return [missing(f"{NOT_MEASURED}: no capability matrix with function kinds "
                        "(pass --capabilities).")]
    names = [s["name"] for s in caps["serializers"]  # type: ignore[index]
             if s.get("name") in ("pickle-5", "dill", "dill-recurse", "cloudpickle")]
    counts = ok_counts(caps, names, {k["name"] for k in kinds})
    return [Text(f"{counts} Each outcome was proven by loading in a fresh process."),
            capability_table(caps, kinds, names)]  # type: ignore[arg-type]


def answer_extend_claim(caps: dict[str, Any] | None) -> list[Any]:
    """What importing dill changes in pickle and what dill.extend(False) undoes."""
    extend = caps.get("dill_extend") if caps else None
    if not isinstance(extend, dict) or extend.get("import_dill_changes_pickle_dispatch") is None:
        reason = extend.get("error") if isinstance(extend, dict) else None
        return [missing(f"{NOT_MEASURED}: the capability matrix has no dill_extend "
                        f"measurement{f' ({reason})' if reason else ''}.")]
    changed = "changes" if extend["import_dill_changes_pickle_dispatch"] else "does not change"
    restores = "restores it" if extend.get("extend_false_restores") else "does NOT restore it"
    added = extend.get("added_types") or []
    return [Text(f"import dill {changed} pickle._Pickler.dispatch ({len(added)} types added, "
                 f"{len(extend.get('replaced_types') or [])} replaced); dill.extend(False) "
                 f"{restores}. Measured in a fresh process by the capability run."),
            Bullets(describe_mapping(extend))]


def answer_code_claim(caps: dict[str, Any] | None) -> list[Any]:
    """Payload of code that builds data (builder-function) against the data (built-data)."""
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for cell in (caps or {}).get("cells", []):
        if cell["kind"] in (CODE_KIND, DATA_KIND):
            cells.setdefault(cell["serializer"], {})[cell["kind"]] = cell
    pairs = {name: c for name, c in cells.items() if len(c) == 2
             and c[DATA_KIND].get("payload_bytes") and c[CODE_KIND].get("payload_bytes")}
    if not pairs:
        return [missing(f"{NOT_MEASURED}: no {CODE_KIND} and {DATA_KIND} payload sizes in the "
                        "capability matrix (a later suite measures the round trip across "
                        "processes).")]
    return [Text(f"Payload of {CODE_KIND} (code that builds the data) against {DATA_KIND} "
                 "(the data itself), from the capability matrix; exact byte counts, so no CI. "
                 "Code only counts as sent when it loads and works in a fresh process (ok):"),
            Bullets([code_line(name, c[CODE_KIND], c[DATA_KIND]) for name, c in pairs.items()])]


def code_line(serializer: str, code: dict[str, Any], data: dict[str, Any]) -> str:
    """One serializer's code-vs-data payload sentence."""
    sizes = (f"code {format_bytes(code['payload_bytes'])}, data "
             f"{format_bytes(data['payload_bytes'])}")
    if code["outcome"] != "ok":
        return (f"{serializer}: {sizes}, but the code does not work in a fresh process "
                f"({code['outcome']}): it was sent by reference, not as code")
    factor = format_factor(data["payload_bytes"] / code["payload_bytes"])
    return f"{serializer}: {sizes}: the code is {factor}x smaller"


def answer_generality_claim(found: Findings) -> list[Any]:
    """dill and cloudpickle against pickle on plain data, per shape, with CIs."""
    lines = pickle_lines(found, GENERAL_PICKLERS)
    if not lines:
        return [missing(f"{NOT_MEASURED}: no dill/cloudpickle and pickle cases.")]
    rows = found.versus_pickle[found.versus_pickle["subject"].isin(GENERAL_PICKLERS)]
    spans = [f"{name} {g['ratio'].min():.3g}x-{g['ratio'].max():.3g}x"
             for name, g in rows.groupby("subject", sort=False)]
    return [Text(f"Time relative to {found.baseline} on plain data, across shapes and dumps/"
                 f"loads: {', '.join(spans)}. Per case, with 95% CI:"), Bullets(lines)]


def questions_section(data: ReportData, found: Findings) -> Section:
    """Each claim of QUESTIONS.md with the answer the data gives."""
    caps = data.capabilities
    claims = [
        ("“Use reduce whenever speed is required.”", answer_reduce_claim(data, found)),
        ("toolz and cytoolz make functional code fast", answer_toolz_claim(data, found)),
        ("io.BytesIO acts like a file, so code for files runs without a filesystem",
         answer_sinks_claim(found)),
        ("pickle is the default; marshal is faster but CPython-only and version-specific",
         answer_marshal_claim(data, found)),
        ("Functions are tricky to pickle; use dill", answer_functions_claim(caps)),
        ("`dill.extend(False)` restores normal pickling", answer_extend_claim(caps)),
        ("Send code, not data: code is much smaller", answer_code_claim(caps)),
        ("What does generality cost?", answer_generality_claim(found))]
    blocks: list[Any] = []
    for claim, answer in claims:
        blocks += [Heading(claim), *answer]
    return Section("questions", "Questions", blocks)


# ---------------------------------------------------------------- rendering

def build_sections(data: ReportData) -> list[Section]:
    """Every section of the report, in page order."""
    found = find_all(data)
    return [questions_section(data, found), environment_section(data),
            serializers_section(data, found), scaling_section(data), folds_section(data, found),
            capabilities_section(data.capabilities), runs_section(data), table_section(data),
            Section("methods", "Methods", [Bullets(METHODS)])]


def template_environment() -> jinja2.Environment:
    """The Jinja2 environment of the report template, autoescape on."""
    return jinja2.Environment(loader=jinja2.PackageLoader("bench.report", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def render_report(frame: pd.DataFrame, runs: pd.DataFrame | None = None,
                  capabilities: dict[str, Any] | None = None,
                  failures: pd.DataFrame | None = None) -> str:
    """The HTML report of a tidy frame (see bench.frame), as one self-contained string.

    runs: bench.frame.describe_runs; failures: bench.frame.list_failures (both optional).
    """
    data = prepare_data(frame, runs, capabilities, failures)
    sections = build_sections(data)
    template = template_environment().get_template("report.html.j2")
    return template.render(sections=sections, runs=list(data.runs["run"]),
                           n_cases=len(data.summary), version=__version__,
                           confidence=f"{CONFIDENCE:.0%}")


def build_report(paths: Sequence[str | Path], capabilities: str | Path | None = None) -> str:
    """Read result files (and a capability matrix) and return the report's HTML."""
    loaded = load_suites(paths)
    caps = load_capabilities(capabilities) if capabilities else None
    return render_report(tidy_frame(loaded), describe_runs(loaded), caps, list_failures(loaded))
