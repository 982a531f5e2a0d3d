"""The page's measurement sections, built from the findings: they format, they compute nothing.

Each analysis section shows one run (the first result file that has that suite's cases)
and says which.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pandas as pd

from bench.frame import MIN_PROCESSES
from bench.report import plots
from bench.report.blocks import (
    Bullets,
    Cell,
    Details,
    Heading,
    Link,
    Section,
    Table,
    Text,
    drop_empty_columns,
    make_figure,
    make_table,
    mark_noise,
    missing,
    ratio_cell,
)
from bench.report.findings import (
    REL_STDEV_LIMIT,
    SUPERLINEAR,
    Findings,
    ReportData,
    at_representative_size,
    memcpy_speed,
)
from bench.report.pareto import pareto_points
from bench.report.tally import CANNOT_TELL, tally_verdicts
from bench.subjects.folds import STYLES
from bench.subjects.serializers import SERIALIZERS
from bench.subjects.shapes import SHAPES
from bench.text import (
    MISSING,
    NOISE_MARK,
    NOISE_MEANING,
    format_interval,
    format_percent,
    format_quantity,
    format_rate,
)

NOT_MEASURED = "Not measured in this run"


def call_of(style: str, task: str) -> str:
    """What a fold style calls for a task (the style's name when it is not in the registry).

    >>> call_of("reduce-operator", "sum"), call_of("loop", "max"), call_of("zzz", "sum")
    ('reduce(operator.add)', 'the plain loop', 'zzz')
    """
    entry = STYLES.get(style)
    return entry.call_for(task) if entry else style


def bytes_heavy_shapes() -> list[str]:
    """The shapes whose throughput is compared with memcpy."""
    return [name for name, shape in SHAPES.items() if shape.bytes_heavy]


def seconds(value: Any) -> str:
    """A duration in the shared units."""
    return format_quantity(value, "second")


def time_interval(row: Any) -> str:
    """The 95% CI of a time summary row."""
    return format_interval(row["ci_low"], row["ci_high"], "second")


# ---------------------------------------------------------------- environment

def runs_table(runs: pd.DataFrame) -> Table:
    """The result files side by side, one column per run."""
    fields = [c for c in runs.columns  # noise: its own block; libraries: the versions table
              if c not in ("run", "noise", "canaries", "libraries")]
    return make_table(["", *runs["run"]], ([name, *runs[name]] for name in fields),
                      "Result files")


def versions_table(summary: pd.DataFrame) -> Table | Text:
    """Library version of every measured subject, one column per run."""
    rows = summary.dropna(subset=["subject", "subject_version"])
    if rows.empty:
        return missing("No library versions recorded (no subject_version metadata).")
    wide = rows.pivot_table(index="subject", columns="run", values="subject_version",
                            aggfunc="first", sort=False)
    return make_table(["subject", *wide.columns], ([s, *wide.loc[s]] for s in wide.index),
                      "Library versions")


def warning_blocks(summary: pd.DataFrame, problems: pd.DataFrame) -> list[Any]:
    """A count of the warnings and every one of them."""
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


def folded(block: Table | Text) -> list[Any]:
    """A reference table folded under <details> named by its heading and row count (text as is)."""
    if not isinstance(block, Table):
        return [block]
    return [Details(f"{block.heading} ({len(block.rows)} rows)",
                    [replace(block, heading="", collapsible=False)])]


def environment_section(data: ReportData, found: Findings) -> Section:
    """Where and how the results were measured, and the warnings about them."""
    noise = [f"{row['run']}: {row['noise']}" for _, row in data.runs.iterrows()
             if isinstance(row.get("noise"), str)]
    return Section("environment", "Environment", [
        *([Heading("Noise of the day"), Bullets(noise)] if noise else []),
        runs_table(data.runs), *folded(versions_table(data.summary)), Heading("Warnings"),
        *warning_blocks(data.summary, found.warnings), *failure_blocks(data.failures)])


# ---------------------------------------------------------------- serializers

def op_cells(row: Any) -> list[Any]:
    """[mean, CI] cells of a summary row, or two dashes."""
    if row is None:
        return [None, None]
    return [mark_noise(seconds(row["mean"]), row["noise"]), time_interval(row)]


def speed_cells(row: Any, reference: float | None) -> list[Any]:
    """[MB/s, % of memcpy] of one serializer op (dashes when unknown).

    A zero-copy serializer (its registry entry says so) copies nothing, so it gets a note
    instead of a share of memcpy.
    """
    if row is None or pd.isna(row["shape_nbytes"]):
        return [None, None]
    speed = float(row["shape_nbytes"]) / float(row["mean"])
    entry = SERIALIZERS.get(str(row["subject"]))
    if reference and entry is not None and entry.zero_copy:
        return [format_rate(speed), Cell("zero-copy", "", "large buffers travel out of band: "
                                         "nothing is copied, so no share of memcpy")]
    return [format_rate(speed), format_percent(speed / reference, 1) if reference else None]


def serializer_cell(subject: str) -> Cell:
    """A serializer's name, with its registry call on hover."""
    entry = SERIALIZERS.get(subject)
    return Cell(subject, "", entry.call if entry else "")


def rank_cell(rank: Any) -> Cell:
    """A rank of rank_round_trips: "=2" with the subject it ties with on hover, when tied.

    >>> rank_cell({"rank": 2, "tied": "json"})
    Cell(text='=2', cls='', title='tied with json: the gate cannot tell them apart', data=(), href='')
    >>> rank_cell({"rank": 1, "tied": ""}).text
    '1'
    """
    if rank["tied"]:
        return Cell(f"={rank['rank']}", "", f"tied with {rank['tied']}: the gate cannot tell "
                                            "them apart")
    return Cell(str(rank["rank"]))


def serializer_table(data: ReportData, run: str, rows: pd.DataFrame,
                     ranks: pd.DataFrame) -> Table:
    """Per serializer, in rank order: dumps/loads mean and CI, payload, MB/s and % of memcpy."""
    shape = str(rows["shape"].iloc[0])
    nbytes = rows["shape_nbytes"].dropna()
    reference = (memcpy_speed(data, run, nbytes.iloc[0])
                 if shape in bytes_heavy_shapes() and not nbytes.empty else None)
    body = []
    for _, rank in ranks.iterrows():
        subject = rank["subject"]
        ops = {r["op"]: r for _, r in rows[rows["subject"] == subject].iterrows()}
        dumps, loads = ops.get("dumps"), ops.get("loads")
        payload = next((r["payload_bytes"] for r in ops.values()), None)
        body.append([rank_cell(rank), serializer_cell(subject), *op_cells(dumps), *op_cells(loads),
                     format_quantity(payload, "byte"), *speed_cells(dumps, reference),
                     *speed_cells(loads, reference)])
    columns = ["rank", "serializer", "dumps", "dumps 95% CI", "loads", "loads 95% CI", "payload",
               "dumps MB/s", "dumps % memcpy", "loads MB/s", "loads % memcpy"]
    return make_table(columns, body)


def fastest_words(ranks: pd.DataFrame) -> str:
    """'json' or 'json, tied with orjson and cbor2' for the subjects of rank 1.

    >>> fastest_words(pd.DataFrame({"subject": ["a", "b", "c"], "rank": [1, 1, 3]}))
    'a, tied with b'
    """
    first = list(ranks.loc[ranks["rank"] == ranks["rank"].min(), "subject"])
    return first[0] + (f", tied with {' and '.join(first[1:])}" if len(first) > 1 else "")


def shape_blocks(data: ReportData, run: str, rows: pd.DataFrame, ranks: pd.DataFrame
                 ) -> list[Any]:
    """Heading, figure and table of one shape at its representative size."""
    shape, size = rows["shape"].iloc[0], rows["size"].iloc[0]
    nbytes = rows["shape_nbytes"].dropna()
    about = (f", about {format_quantity(nbytes.iloc[0], 'byte')} in memory"
             if not nbytes.empty else "")
    svg = plots.plot_serializer_shape(rows, f"{shape}, n={size}: dumps, loads and payload",
                                      {r["subject"]: rank_cell(r).text for _, r in ranks.iterrows()})
    payloads = rows.dropna(subset=["payload_bytes"])
    smallest = (f"; smallest payload: {payloads.loc[payloads['payload_bytes'].idxmin(), 'subject']}"
                if not payloads.empty else "")
    summary = (f"{shape} (n={size}{about}): fastest round trip: {fastest_words(ranks)}"
               f"{smallest}")
    return [Details(summary, [
                make_figure(svg, f"Shape {shape}, n={size}: time per call with 95% CI, by rank "
                                 "of the mean round trip (=N: tied by the gate's rule); payload "
                                 "size (bytes on the wire)."),
                drop_empty_columns(serializer_table(data, run, rows, ranks))])]


def pareto_blocks(rows: pd.DataFrame) -> list[Any]:
    """The size-vs-speed scatter and, per shape, who is on the Pareto front."""
    points = pareto_points(rows)
    if points.empty:
        return [Heading("Size vs speed"), missing(f"{NOT_MEASURED}: no serializer has dumps, "
                                                  "loads and payload_bytes.")]
    fronts = [f"{shape}: " + ", ".join(group.loc[group["front"], "subject"])
              for shape, group in points.groupby("shape", sort=False)]
    return [Heading("Size vs speed (Pareto front)"), Text("On the Pareto front:"),
            Bullets(fronts),
            Details("Payload size against round-trip time (figure)", [make_figure(
                plots.plot_pareto(points), "Payload size against round-trip time (dumps + "
                "loads means); no serializer is both smaller and faster than a point on the "
                "front.")])]


def sink_blocks(sinks: pd.DataFrame) -> list[Any]:
    """Table of BytesIO and real-file sinks relative to plain bytes."""
    head = Heading("Sinks: bytes vs BytesIO vs a real file")
    if sinks.empty:
        return [head, missing(f"{NOT_MEASURED}: no dumps-bytesio / dumps-file cases.")]
    body = [[r["subject"], r["shape"], r["size"], r["op"],
             mark_noise(seconds(r["reference_mean"]), r["reference_noise"]),
             format_interval(r["reference_ci_low"], r["reference_ci_high"], "second"),
             mark_noise(seconds(r["mean"]), r["noise"]), time_interval(r), ratio_cell(r)]
            for _, r in sinks.iterrows()]
    columns = ["serializer", "shape", "n", "sink op", "to bytes", "95% CI", "to sink", "95% CI",
               "sink / bytes (95% CI)"]
    return [head, *folded(make_table(columns, body, "Every sink case"))]


def serializers_section(data: ReportData, found: Findings) -> Section:
    """Per shape dumps/loads/payload, size-vs-speed front, throughput and sinks."""
    section = Section("serializers", "Serializers")
    run = data.run_of("ser")
    if run is None:
        section.blocks.append(missing(f"{NOT_MEASURED}: no serializer (ser/...) cases."))
        return section
    rows = at_representative_size(found.ser_ops)
    note = ("" if not data.cases("ref", run).empty
            else " No memcpy reference (ref/memcpy/...) in this run, so no % of memcpy.")
    section.blocks.append(Text(f"Run {run}. Per shape, the size with the most cases. Rank: by "
                               "mean dumps + loads; a shared rank (=2) means the gate's rule "
                               "cannot tell the serializer from the first of that rank. "
                               f"MB/s is the shape's in-memory size per second; % memcpy "
                               f"(bytes-heavy shapes: {', '.join(bytes_heavy_shapes())}) "
                               f"compares it with copying a bytes buffer of about that size."
                               f"{note} {NOISE_MARK}: {NOISE_MEANING} (hover it for the reason)."))
    for (shape, size), group in rows.groupby(["shape", "size"], sort=False):
        ranks = found.ranks[(found.ranks["shape"] == shape) & (found.ranks["size"] == size)]
        section.blocks += shape_blocks(data, run, group, ranks)
    section.blocks += pareto_blocks(rows) + sink_blocks(found.sinks)
    return section


# ---------------------------------------------------------------- scaling

def growth_flag(row: Any) -> str:
    """What an exponent's 95% CI allows against n^SUPERLINEAR, in a few words ("" below it)."""
    if row["growth"] == "steep":
        return f"grows faster than n^{SUPERLINEAR}: k's 95% CI lies above {SUPERLINEAR}"
    if row["growth"] == CANNOT_TELL:
        why = "two sizes, no CI" if pd.isna(row["low"]) else \
            f"k's 95% CI reaches both sides of {SUPERLINEAR}"
        return f"{CANNOT_TELL}: {why}"
    return ""


def exponent_table(exponents: pd.DataFrame, heading: str) -> Table:
    """Fitted exponents, steepest first, rows flagged by what their CI allows against the bar."""
    rows = exponents.sort_values("k", ascending=False, kind="stable")
    body, classes = [], []
    for _, r in rows.iterrows():
        ci = "unknown (2 sizes)" if pd.isna(r["low"]) else format_interval(r["low"], r["high"])
        flag = growth_flag(r)
        body.append([r["suite"], r["subject"], r["op"], r["shape"], f"{r['k']:.2f}", ci,
                     f"{r['n']} ({r['min_size']} – {r['max_size']})", flag])
        classes.append(r["growth"].replace(" ", "-"))
    columns = ["suite", "subject", "op", "shape", "k", "k 95% CI", "sizes (range)", "flag"]
    return make_table(columns, body, heading, classes)


def scaling_lines(data: ReportData, suite: str, exponents: pd.DataFrame) -> pd.DataFrame:
    """Summary rows of one suite's fitted groups with their k, panel and line kind."""
    keys = ["subject", "op", "shape"]
    rows = data.cases(suite).merge(exponents[[*keys, "k", "growth"]], on=keys)
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
                                 f"k's 95% CI above {SUPERLINEAR})", "fold style")
        return [make_figure(svg, "Fold time per call against n, log-log, 95% CI bars.")]
    figures = []
    for op in ("dumps", "loads"):
        part = lines[lines["op"] == op]
        if not part.empty:
            svg = plots.plot_scaling(part, f"Serializers: {op} time vs n", "serializer")
            figures.append(make_figure(svg, f"{op} time per call against n, log-log, 95% CI "
                                            "bars."))
    return figures


def scaling_section(data: ReportData, found: Findings) -> Section:
    """Exponents of time vs size for folds and serializers, quadratic ones highlighted."""
    section = Section("scaling", "Scaling")
    parts = []
    for suite in ("fold", "ser", "ref"):
        run = data.run_of(suite)
        exps = found.exponents[(found.exponents["run"] == run)
                               & (found.exponents["suite"] == suite)]
        if not exps.empty:
            parts.append((suite, run, exps))
    if not parts:
        section.blocks.append(missing(f"{NOT_MEASURED}: no case was run at two or more sizes "
                                      "(use the scaling profile)."))
        return section
    runs = ", ".join(f"{suite}: run {run}" for suite, run, _ in parts)
    section.blocks.append(Text(f"Shown: {runs}. A straight line of slope k on log-log axes "
                               f"means cost ~ n^k; k near 2 is quadratic."))
    exponents = pd.concat([e for _, _, e in parts])
    steep = exponents[exponents["growth"] != ""]
    growth = tally_verdicts(exponents["growth"], ["steep"], [""], [CANNOT_TELL])
    section.blocks += [
        Text(growth.words(f"Grows faster than n^{SUPERLINEAR} (k's 95% CI above {SUPERLINEAR})",
                          "no faster (CI at or below it)", " cases")
             + (" (the CI reaches both sides of the bar, or two sizes)" if growth.undecided
                else "") + ".", "answer"),
        exponent_table(steep, f"k's 95% CI reaches above {SUPERLINEAR}") if not steep.empty
        else Text(f"No case's 95% CI of k reaches above {SUPERLINEAR}: none grows faster than "
                  f"n^{SUPERLINEAR}."),
        exponent_table(exponents, "Fitted exponents of every case: cost ~ n^k")]
    for suite, _, exps in parts:
        section.blocks += scaling_figures(data, suite, exps) if suite != "ref" else []
    return section


# ---------------------------------------------------------------- folds

def fold_table(folds: pd.DataFrame) -> Table:
    """Every fold case with its time and its ratio to the loop."""
    body = [[r["op"], r["shape"], r["size"], r["subject"], call_of(r["subject"], r["op"]),
             mark_noise(seconds(r["mean"]), r["noise"]), time_interval(r), ratio_cell(r)]
            for _, r in folds.iterrows()]
    columns = ["task", "input", "n", "style", "call", "time", "95% CI", "time / loop (95% CI)"]
    return make_table(columns, body, "Every fold case")


def folds_section(data: ReportData, found: Findings, answers: list[str]) -> Section:
    """Each style relative to the loop per task, and the answer per task."""
    section = Section("folds", "Folds")
    if found.folds.empty:
        section.blocks.append(missing(f"{NOT_MEASURED}: no fold cases with a `loop` "
                                      "reference."))
        return section
    headline = found.headline
    panels = headline.assign(panel=headline["op"] + " (" + headline["shape"] + ", n="
                             + headline["size"].astype(str) + ")",
                             ci_low=headline["ratio_low"], ci_high=headline["ratio_high"])
    svg = plots.plot_ratios(panels, "Fold styles: time relative to the plain loop (< 1 is "
                            "faster)", "time / loop time (log)")
    section.blocks += [
        Text(f"Run {data.run_of('fold')}. Below 1: faster than the loop. Bars: 95% CI of the "
             f"ratio. {NOISE_MARK}: {NOISE_MEANING}."), Heading("Is reduce faster here?"), Bullets(answers),
        make_figure(svg, "Each fold style's time divided by the plain loop's, per task, at "
                         "the largest n (list input when measured)."), fold_table(found.folds)]
    return section


# ---------------------------------------------------------------- the full table

def full_table(data: ReportData, found: Findings) -> Table:
    """Every case of every run: median, mean and CI, spread, payload, peak memory."""
    flagged = set(zip(found.warnings["run"], found.warnings["benchmark"], strict=True))
    body, classes = [], []
    for r in data.summary.itertuples(index=False):
        body.append([r.run, r.benchmark, format_quantity(r.median, r.unit),
                     mark_noise(format_quantity(r.mean, r.unit), r.noise),
                     format_interval(r.ci_low, r.ci_high, r.unit),
                     MISSING if pd.isna(r.rel_half_width) else f"±{format_percent(r.rel_half_width, 1)}",
                     format_percent(r.rel_stdev, 1), r.n_processes, r.n_values,
                     format_quantity(r.payload_bytes, "byte"),
                     format_quantity(r.peak_alloc_bytes, "byte"), r.subject_version])
        classes.append("warn" if (r.run, r.benchmark) in flagged else "")
    columns = ["run", "case", "median", "mean", "95% CI", "CI ±", "stdev/mean", "processes",
               "values", "payload", "peak alloc", "version"]
    return make_table(columns, body, "", classes, collapsible=False, sortable=True)


def table_section(data: ReportData, found: Findings, csv_name: str | None = None) -> Section:
    """Every case with median, CI, payload and peak memory; rows with warnings tinted; a link
    to csv_name, the same cases as CSV beside the page, when given."""
    link = [Link(f"Every case as CSV ({csv_name}, the columns of bench export)", quote(csv_name))
            ] if csv_name else []
    return Section("table", "Table", [*link,
        Text("Every case of every run. Tinted rows have pyperf-check warnings (see "
             f"Environment); {NOISE_MARK}: {NOISE_MEANING}. Click a header to sort, type in "
             "the box to filter."),
        Details(f"Every case ({len(data.summary)} rows)", [full_table(data, found)])])
