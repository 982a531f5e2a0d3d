"""Text, markdown and JSON of the gate's results: a `Comparison`, a `Sensitivity` and a `History`.

Every number is written through bench.text, so the gate speaks the same units and ratio
words as the report. Pure: results in, strings out.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from bench.gate.history import History
from bench.gate.rule import Comparison, Estimate
from bench.gate.sensitivity import RELIABLE, SLOWDOWN_GRID, SLOWDOWNS, Sensitivity
from bench.gate.sizes import SIZE_COLUMNS, SIZES, SizeComparison
from bench.location import CONFIDENCE
from bench.text import (
    MISSING,
    SIZE_VERDICTS,
    SIZE_WORDS,
    VERDICTS,
    escape_markdown,
    format_byte_change,
    format_change,
    format_change_interval,
    format_percent,
    format_quantity,
    format_ratio,
    records_of,
    render_document,
    render_markdown_table,
    render_text_table,
    round_float,
)

# JSON written by format_comparison / format_sensitivity. Bump on every change and say what:
#   1: first version (cases, geomean, summary, notes; sensitivity overall and per_case).
#   2: "pooling" {shared_var, shared_df, prior_df} replaces "prior_df".
#   3: "pooling" adds run_shift, run_shift_var, run_floor_var, run_floor_df (one run per side:
#      the log shift all cases share and the run-to-run floor learned across cases).
#   4: "sizes" {rules, summary, cases}: payload and peak memory verdicts (bench.gate.sizes).
SCHEMA_VERSION = 4


# ---------------------------------------------------------------- a comparison

def tabulate_cases(cases: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the case table, shared by the text and markdown renderers."""
    headers = ["Benchmark", "Base", "Head", "Change", f"{CONFIDENCE:.0%} CI", "Verdict"]
    rows = [[row.benchmark, format_quantity(row.base_mean, row.unit),
             format_quantity(row.head_mean, row.unit), format_ratio(row.ratio),
             format_change_interval(row.ratio, row.ci_low, row.ci_high), row.verdict]
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
    """'geometric mean of 12 cases: 1.02x slower [0.990x, 1.050x]'."""
    if not math.isfinite(estimate.ratio):
        return "geometric mean: no case with a test"
    return (f"geometric mean of {estimate.cases} cases: "
            f"{format_change(estimate.ratio, estimate.ci_low, estimate.ci_high)}")


def describe_rule(cmp: Comparison) -> str:
    """The rule in one line."""
    return (f"threshold {cmp.threshold:.0%}, Benjamini-Hochberg FDR {cmp.alpha:.0%}, "
            f"mode {cmp.mode}")


def format_comparison_text(cmp: Comparison, sizes: SizeComparison | None = None) -> str:
    """Terminal report: header, notes, case table slowest first, geometric mean, counts; then
    payload and memory, when the runs recorded them: counts and the cases not the same."""
    lines = [f"bench compare: {describe_sides(cmp)}; {describe_rule(cmp)}"]
    lines += [f"note: {note}" for note in cmp.notes]
    lines += ["", *render_text_table(*tabulate_cases(cmp.cases)), ""]
    lines += [describe_geomean(cmp.geomean), summarize_counts(cmp.counts())]
    if sizes is not None and len(sizes.cases):
        changed = sizes.cases[sizes.cases["verdict"] != "same"]
        lines += ["", f"Payload and peak memory ({describe_size_rules(sizes)}):",
                  *summarize_sizes(sizes), ""]
        lines += render_text_table(*tabulate_sizes(changed)) if len(changed) else [
            "no payload or memory change"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- payload and memory

def describe_size_rules(sizes: SizeComparison) -> str:
    """'payload exact (any byte), memory within 5% or 4.00 kB' for the sizes recorded."""
    return ", ".join(f"{name} {SIZES[name].describe()}" for name in sizes.recorded())


def summarize_sizes(sizes: SizeComparison) -> list[str]:
    """'payload: 1 larger, 0 smaller, 3 same, ...' per size recorded."""
    return [f"{name}: " + ", ".join(f"{count} {verdict}"
                                    for verdict, count in sizes.counts(name).items())
            for name in sizes.recorded()]


def tabulate_sizes(rows: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and cells of a size table: base and head values, the change, the verdict."""
    headers = ["Benchmark", "Size", "Base", "Head", "Change", "Bytes", "Verdict"]
    cells = []
    for row in rows.itertuples():
        change = format_ratio(row.ratio, SIZE_WORDS)
        span = format_change_interval(row.ratio, row.ratio_low, row.ratio_high)
        if row.ratio_low != row.ratio_high and span != MISSING:  # a side's values differ
            change += " " + span
        cells.append([row.benchmark, row.size, format_quantity(row.base, "byte"),
                      format_quantity(row.head, "byte"), change,
                      format_byte_change(row.head - row.base), row.verdict])
    return headers, cells


def format_sizes_markdown(sizes: SizeComparison) -> list[str]:
    """The markdown lines of payload and memory: counts, the cases not the same."""
    if not len(sizes.cases):
        return []
    changed = sizes.cases[sizes.cases["verdict"] != "same"]
    lines = ["", "#### Payload and peak memory", "",
             escape_markdown(describe_size_rules(sizes)) + "; verdicts: "
             + ", ".join(SIZE_VERDICTS), "", *(f"- {line}" for line in summarize_sizes(sizes))]
    if len(changed):
        lines += ["", *render_markdown_table(*tabulate_sizes(changed))]
    return lines


def sizes_document(sizes: SizeComparison | None) -> dict[str, Any]:
    """The "sizes" part of a comparison's JSON: each size's rule, counts and every case."""
    cases = sizes.cases if sizes is not None else pd.DataFrame(columns=SIZE_COLUMNS)
    found = sizes if sizes is not None else SizeComparison(cases)
    return {"rules": {name: {"relative": size.relative, "floor_bytes": size.floor,
                             "noun": size.noun} for name, size in SIZES.items()},
            "summary": {name: found.counts(name) for name in SIZES},
            "cases": records_of(cases)}


def format_comparison_markdown(cmp: Comparison, sizes: SizeComparison | None = None) -> str:
    """Step-summary / PR-comment report: summary, notes, table of the cases that changed or
    came and went; uncertain and same cases folded."""
    counts = cmp.counts()
    status = (f"**{counts['slower']} slower**" if counts["slower"] else "no regression")
    lines = [f"### bench compare: {status}", "",
             f"{summarize_counts(counts)}; {describe_geomean(cmp.geomean)}", "",
             f"{escape_markdown(describe_sides(cmp))}; {describe_rule(cmp)}", ""]
    lines += [f"- note: {escape_markdown(note)}" for note in cmp.notes]
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
    if sizes is not None:
        lines += format_sizes_markdown(sizes)
    return "\n".join(lines) + "\n"


def comparison_document(cmp: Comparison, sizes: SizeComparison | None = None) -> dict[str, Any]:
    """The versioned JSON document of a comparison (sizes: payload and memory verdicts)."""
    return {"schema_version": SCHEMA_VERSION, "kind": "bench-compare",
            "threshold": cmp.threshold, "alpha": cmp.alpha, "confidence": CONFIDENCE,
            "correction": "benjamini-hochberg", "mode": cmp.mode,
            "pooling": {k: round_float(v) for k, v in cmp.pooling.__dict__.items()},
            "base_runs": list(cmp.base_runs), "head_runs": list(cmp.head_runs),
            "summary": cmp.counts(), "regression": cmp.counts()["slower"] > 0,
            "geomean": {k: round_float(v) for k, v in cmp.geomean.__dict__.items()},
            "notes": list(cmp.notes), "cases": records_of(cmp.cases),
            "sizes": sizes_document(sizes)}


def format_comparison(cmp: Comparison, fmt: str = "text",
                      sizes: SizeComparison | None = None) -> str:
    """The comparison as text, md or json (bench.text.FORMATS), with payload and memory
    verdicts when `sizes` is given (bench.gate.sizes)."""
    return render_document(fmt, text=lambda: format_comparison_text(cmp, sizes),
                           markdown=lambda: format_comparison_markdown(cmp, sizes),
                           data=lambda: comparison_document(cmp, sizes))


# ---------------------------------------------------------------- a sensitivity

def tabulate_overall(overall: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the per-rule table."""
    headers = ["Rule", "Comparisons", "A/A false slower", "A/A runs failed",
               *(f"{s:.0%} caught" for s in SLOWDOWNS), "Median smallest reliable"]
    rows = [[row["rule"], str(row["comparisons"]),
             format_percent(row["aa_false_slower"], 1), format_percent(row["aa_failed"]),
             *(format_percent(row[f"caught_{round(s * 100)}"]) for s in SLOWDOWNS),
             format_slowdown(row["median_smallest_reliable"])]
            for _, row in overall.iterrows()]
    return headers, rows


def tabulate_per_case(per_case: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the per-case table: the main bench rule, then pyperf's and asv's."""
    main = per_case["rule"].iloc[0]
    by_rule = {rule: part.set_index("benchmark") for rule, part in per_case.groupby("rule")}
    headers = ["Benchmark", "bench A/A false", *(f"bench {s:.0%}" for s in SLOWDOWNS),
               "bench smallest", "pyperf A/A false", "pyperf smallest", "asv A/A false",
               "asv smallest"]
    rows = []
    for case, row in by_rule[main].iterrows():
        cells = [str(case), format_percent(row["aa_false_slower"])]
        cells += [format_percent(row[f"caught_{round(s * 100)}"]) for s in SLOWDOWNS]
        cells.append(format_slowdown(row["smallest_reliable"]))
        for rule in ("pyperf compare_to", "asv compare"):
            other = by_rule[rule].loc[case]
            cells += [format_percent(other["aa_false_slower"]),
                      format_slowdown(other["smallest_reliable"])]
        rows.append(cells)
    return headers, rows


def format_slowdown(share: float) -> str:
    """'7%', or '> 100%' when no grid slowdown is caught reliably.

    >>> format_slowdown(0.07), format_slowdown(float("nan"))
    ('7%', '> 100%')
    """
    return f"> {SLOWDOWN_GRID[-1]:.0%}" if not math.isfinite(share) else f"{share:.0%}"


def describe_sensitivity(sens: Sensitivity) -> str:
    """One line: runs and threshold."""
    if sens.paired:
        what = f"{len(sens.runs) // 2} interleaved A/A pair(s)"
    else:
        what = f"{len(sens.runs)} independent runs"
    return f"bench sensitivity: {what} ({', '.join(sens.runs)}); threshold {sens.threshold:.0%}"


def format_sensitivity_lines(sens: Sensitivity, markdown: bool) -> str:
    """The sensitivity tables as text or markdown: a header line, notes, per rule, per case."""
    render = render_markdown_table if markdown else render_text_table
    prefix = "- note: " if markdown else "note: "
    lines = [("### " if markdown else "") + describe_sensitivity(sens), ""]
    lines += [prefix + note for note in sens.notes]
    lines += ["", *render(*tabulate_overall(sens.overall)), "", "Per case:", ""]
    lines += render(*tabulate_per_case(sens.per_case))
    return "\n".join(lines) + "\n"


def sensitivity_document(sens: Sensitivity) -> dict[str, Any]:
    """The versioned JSON document of a sensitivity simulation."""
    return {"schema_version": SCHEMA_VERSION, "kind": "bench-sensitivity",
            "runs": list(sens.runs), "threshold": sens.threshold, "paired": sens.paired,
            "slowdown_grid": list(SLOWDOWN_GRID), "reliable_share": RELIABLE,
            "notes": list(sens.notes), "overall": records_of(sens.overall),
            "per_case": records_of(sens.per_case)}


def format_sensitivity(sens: Sensitivity, fmt: str = "text") -> str:
    """The sensitivity tables as text, md or json (bench.text.FORMATS)."""
    return render_document(fmt, text=lambda: format_sensitivity_lines(sens, markdown=False),
                           markdown=lambda: format_sensitivity_lines(sens, markdown=True),
                           data=lambda: sensitivity_document(sens))


# ---------------------------------------------------------------- a history

# JSON written by format_history. Bump on every change and say what:
#   1: first version (runs, threshold, changes, newest_regressions).
HISTORY_SCHEMA_VERSION = 1


def tabulate_changes(history: History) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the change-point table (text and markdown)."""
    headers = ["Benchmark", "From run", "Date", "Before", "After", "Change", "p"]
    rows = [[c.case + (" (newest run)" if c.newest else ""), c.label,
             history.points[c.index].date[:10], format_quantity(c.before, history.units[c.case]),
             format_quantity(c.after, history.units[c.case]), format_ratio(c.ratio),
             f"{c.p_value:.1g}"] for c in history.changes]
    return headers, rows


def describe_history(history: History) -> str:
    """'30 runs (a .. b), 343 cases, threshold 5%'."""
    points = history.points
    span = f"{points[0].label} {points[0].date[:10]} .. {points[-1].label} {points[-1].date[:10]}"
    return (f"{len(points)} runs ({span}), {len(history.series)} cases, "
            f"threshold {format_percent(history.threshold)}")


def summarize_history(history: History) -> str:
    """The closing line: how many change points, and whether the newest run starts a regression."""
    slower = sum(c.kind == "slower" for c in history.changes)
    line = (f"{len(history.changes)} change point(s): {slower} slower, "
            f"{len(history.changes) - slower} faster")
    newest = history.newest_regressions()
    if newest:
        return line + (f"; the newest run ({history.points[-1].label}) starts a regression in "
                       f"{len(newest)} case(s)")
    return line + "; the newest run starts no regression"


def format_history(history: History, fmt: str) -> str:
    """A history's change points as text, markdown or JSON (see HISTORY_SCHEMA_VERSION)."""
    headers, rows = tabulate_changes(history)

    def text() -> str:
        table = render_text_table(headers, rows) if rows else ["no change point"]
        return "\n".join([f"History: {describe_history(history)}", "", *table, "",
                          summarize_history(history)]) + "\n"

    def markdown() -> str:
        table = render_markdown_table(headers, rows) if rows else ["No change point."]
        return "\n".join([f"### History: {escape_markdown(describe_history(history))}", "", *table,
                          "", f"**{escape_markdown(summarize_history(history))}**"]) + "\n"

    def data() -> dict[str, Any]:
        changes = [{"case": c.case, "run": c.index, "label": c.label, "unit": history.units[c.case],
                    "before": round_float(c.before), "after": round_float(c.after),
                    "ratio": round_float(c.ratio), "p_value": round_float(c.p_value),
                    "kind": c.kind, "newest": c.newest} for c in history.changes]
        return {"schema_version": HISTORY_SCHEMA_VERSION, "threshold": history.threshold,
                "runs": [vars(p) for p in history.points], "cases": len(history.series),
                "changes": changes,
                "newest_regressions": [c.case for c in history.newest_regressions()]}

    return render_document(fmt, text=text, markdown=markdown, data=data)
