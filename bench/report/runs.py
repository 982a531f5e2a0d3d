"""The "Runs side by side" section: every run against the base run, by the gate's rule.

The verdicts are `bench compare`'s (bench.gate.rule.compare_runs), case by case; each
verdict cell carries data-case, data-run and data-verdict attributes, so the page can be
checked against `bench compare --format json`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from bench.frame import environment_differences
from bench.gate.render import (
    describe_geomean,
    describe_rule,
    describe_size_rules,
    summarize_counts,
    summarize_sizes,
)
from bench.gate.rule import Comparison
from bench.location import exp_clamped
from bench.report import plots
from bench.report.blocks import (
    Bullets,
    Cell,
    Heading,
    Section,
    Table,
    Text,
    make_figure,
    make_table,
    mark_noise,
    missing,
    slugify,
)
from bench.report.findings import RunComparisons
from bench.text import (
    SIZE_VERDICTS,
    SIZE_WORDS,
    VERDICTS,
    format_byte_change,
    format_change,
    format_interval,
    format_quantity,
    format_ratio,
    verdict_label,
)

MOVED_TOGETHER = 0.8  # share of cases moving the same way that suggests the machine moved
TOP = 10  # regressions and improvements named in the section


def verdict_cell(run: str, row: Any) -> Cell:
    """The verdict of one case of one run, coloured, its reason on hover, machine-readable."""
    verdict = str(row["verdict"])
    data = (("case", str(row["benchmark"])), ("run", run), ("verdict", verdict))
    return Cell(verdict_label(verdict), f"verdict-{verdict}",
                str(row["reason"] or VERDICTS.get(verdict, "")), data)


def mean_cells(summary: pd.DataFrame | None, run: str, case: str) -> list[Any]:
    """[mean, 95% CI] of one case of one run from the summary, the mean marked when noisy."""
    if summary is None:
        return [None, None]
    rows = summary[(summary["run"] == run) & (summary["benchmark"] == case)]
    if rows.empty:
        return [None, None]
    row = rows.iloc[0]
    return [mark_noise(format_quantity(row["mean"], row["unit"]), row.get("noise", "")),
            format_interval(row["ci_low"], row["ci_high"], row["unit"])]


def case_cells(run: str, row: Any | None, means: list[Any]) -> list[Any]:
    """[mean, 95% CI, ratio, verdict] cells of one case of one run (dashes when absent)."""
    if row is None:
        return [None, None, None, None]
    ratio = (None if pd.isna(row["ratio"])
             else format_change(row["ratio"], row["ci_low"], row["ci_high"]))
    return [*means, ratio, verdict_cell(run, row)]


def comparison_table(found: RunComparisons, summary: pd.DataFrame | None = None) -> Table:
    """One row per case: the base mean and CI, then each run's mean and CI, ratio to the base
    (with its CI) and verdict; means and CIs from the summary of bench.frame (dashes without)."""
    by_run = {run: {row["benchmark"]: row for _, row in cmp.cases.iterrows()}
              for run, cmp in found.comparisons.items()}
    cases = list(dict.fromkeys(case for rows in by_run.values() for case in rows))
    body = [[case, *mean_cells(summary, found.base, case),
             *(cell for run, rows in by_run.items()
               for cell in case_cells(run, rows.get(case), mean_cells(summary, run, case)))]
            for case in cases]
    columns = ["case", found.base, "95% CI", *(
        c for run in by_run for c in (run, "95% CI", f"{run} / {found.base}", "verdict"))]
    return make_table(columns, body, "Every case", sortable=True)


def headline(run: str, cmp: Comparison) -> str:
    """Counts per verdict and the geometric mean of one run against the base."""
    return (f"{run}: {summarize_counts(cmp.counts())}; {describe_geomean(cmp.geomean)} "
            f"({describe_rule(cmp)})")


def short_headline(run: str, base: str, cmp: Comparison) -> str:
    """'head against base (head / base): geomean ...; 3 regressed, 1 improved, 9 cannot tell'."""
    counts = cmp.counts()
    return (f"{run} against {base} ({run} / {base}): {describe_geomean(cmp.geomean)}; "
            f"{counts['slower']} regressed, {counts['faster']} improved, {counts['same']} same, "
            f"{counts['uncertain']} {verdict_label('uncertain')}")


def shared_move(cmp: Comparison) -> str | None:
    """A warning when most cases moved the same way (the machine moved, not the code), else None.

    Most: at least MOVED_TOGETHER of 10 or more cases with a ratio on the same side of 1.
    """
    shift = exp_clamped(cmp.pooling.run_shift)  # in words: past 1.8e308 reads as the largest
    if abs(cmp.pooling.run_shift) > math.log1p(cmp.threshold):
        return (f"every case moved together by {format_ratio(shift)} (the shift the gate "
                "measured between the runs and set apart from each case's ratio): when "
                "most cases move together the machine or its load probably moved, not the code.")
    ratios = cmp.cases["ratio"].dropna()
    if len(ratios) < 10:
        return None
    up, down = int((ratios > 1).sum()), int((ratios < 1).sum())
    moved, way = max((up, "slower"), (down, "faster"))
    if moved < MOVED_TOGETHER * len(ratios):
        return None
    return (f"{moved} of {len(ratios)} cases moved the same way ({way}): when most cases move "
            "together the machine or its load probably moved, not the code; read single "
            "cases against the geometric mean.")


def headline_lines(found: RunComparisons, runs: pd.DataFrame | None = None) -> list[str]:
    """The banner lines of a comparison: each run's headline, shared moves, environment."""
    lines = []
    for run, cmp in found.comparisons.items():
        lines.append(short_headline(run, found.base, cmp))
        moved = shared_move(cmp)
        if moved:
            lines.append(f"{run}: {moved}")
    differences = environment_differences(runs, [found.base])
    if differences:
        lines.append("The runs differ in: " + "; ".join(differences))
    return lines


def top_cases(cmp: Comparison, verdict: str, limit: int = TOP) -> list[str]:
    """The `limit` cases of one verdict that moved most, named, with ratio and CI."""
    rows = cmp.cases[cmp.cases["verdict"] == verdict].dropna(subset=["ratio"])
    rows = rows.sort_values("ratio", ascending=verdict == "faster", kind="stable").head(limit)
    return [f"{r['benchmark']}: {format_change(r['ratio'], r['ci_low'], r['ci_high'])}"
            for _, r in rows.iterrows()]


def ratio_rows(found: RunComparisons) -> pd.DataFrame:
    """run, ratio, ci_low, ci_high of every case with a ratio, for the figure."""
    parts = [cmp.cases.assign(run=run)[["run", "ratio", "ci_low", "ci_high"]]
             for run, cmp in found.comparisons.items()]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return rows.dropna(subset=["ratio"]) if not rows.empty else rows


def threshold_words(found: RunComparisons) -> str:
    """'threshold 5%', or each comparison's threshold when the gate chose it by unit."""
    chosen = sorted({cmp.threshold for cmp in found.comparisons.values()})
    if found.threshold is not None or len(chosen) == 1:
        return f"threshold {found.threshold if found.threshold is not None else chosen[0]:.0%}"
    return "threshold " + (" or ".join(f"{t:.0%}" for t in chosen) or "by unit")


def runs_section(found: RunComparisons | None, runs: pd.DataFrame | None = None,
                 summary: pd.DataFrame | None = None) -> Section:
    """Each run against the base run, by the rule of `bench compare`; runs: describe_runs;
    summary: bench.frame's summary with a noise column (the means and CIs of the table)."""
    section = Section("runs", "Runs side by side")
    if found is None:
        section.blocks.append(missing("One result file given: pass several (e.g. Python 3.11 "
                                      "and 3.13 runs) to compare them case by case."))
        return section
    why = "named with --base" if found.named else "the run that started first"
    section.blocks.append(Text(
        f"Base: {found.base} ({why}). Every other run is compared with it by the rule of "
        f"`bench compare` ({threshold_words(found)}): ratios are run / base, so above "
        "1 is slower; slower, faster, same and uncertain are the gate's verdicts."))
    problems = [missing(f"{run}: {reason}") for run, reason in found.problems.items()]
    if not found.comparisons:
        section.blocks += problems
        return section
    notes = [f"{run}: {note}" for run, cmp in found.comparisons.items() for note in cmp.notes]
    rows = ratio_rows(found)
    section.blocks += [Text("; ".join(headline_lines(found, runs)), "answer"),
                       Bullets([headline(run, cmp) for run, cmp in found.comparisons.items()]),
                       *problems, Bullets(notes)]
    for run, cmp in found.comparisons.items():
        for verdict, title in (("slower", "regressions"), ("faster", "improvements")):
            named = top_cases(cmp, verdict)
            section.blocks += [Heading(f"{run}: top {title}", f"runs-{slugify(run)}-{title}"),
                               Bullets(named) if named else Text(f"No case {verdict}.")]
    if not rows.empty:
        section.blocks.append(make_figure(plots.plot_run_ratios(rows, found.base),
                                          "Time ratio of each common case to the base run, "
                                          "sorted; the band is the 95% CI."))
    section.blocks.append(comparison_table(found, summary))
    section.blocks += size_blocks(found)
    return section


# ---------------------------------------------------------------- payload and memory

def size_cells(run: str, row: Any | None) -> list[Any]:
    """[value, change, verdict] of one case's size in one run (dashes when absent); the
    verdict cell carries data-case, data-run, data-size and data-verdict."""
    if row is None:
        return [None, None, None]
    verdict = str(row["verdict"])
    data = (("case", str(row["benchmark"])), ("run", run), ("size", str(row["size"])),
            ("verdict", verdict))
    change = (None if pd.isna(row["ratio"]) else
              f"{format_ratio(row['ratio'], SIZE_WORDS)} ({format_byte_change(row['head'] - row['base'])})")
    return [format_quantity(row["head"], "byte"), change,
            Cell(verdict_label(verdict), f"verdict-{verdict}",
                 str(row["reason"] or SIZE_VERDICTS.get(verdict, "")), data)]


def size_blocks(found: RunComparisons) -> list[Any]:
    """Payload and peak memory of every run against the base (bench.gate.sizes): each run's
    counts, and a table of the cases whose size is not the same in some run."""
    recorded = {run: sizes for run, sizes in found.sizes.items() if len(sizes.cases)}
    if not recorded:
        return []
    blocks: list[Any] = [
        Heading("Payload and peak memory", "runs-sizes"),
        Text(f"Payload bytes of one dumps and peak bytes allocated by one call (tracemalloc), "
             f"each run against {found.base}: nearly deterministic, so judged by a tolerance, "
             f"not a test ({describe_size_rules(next(iter(recorded.values())))}); larger and "
             "smaller are the gate's size verdicts (`bench compare --fail-on payload,memory`)."),
        Bullets([f"{run}: {line}" for run, sizes in recorded.items()
                 for line in summarize_sizes(sizes)])]
    by_run = {run: {(row["benchmark"], row["size"]): row for _, row in sizes.cases.iterrows()}
              for run, sizes in recorded.items()}
    keys = list(dict.fromkeys(key for rows in by_run.values() for key, row in rows.items()
                              if row["verdict"] != "same"))
    if not keys:
        blocks.append(Text("Every case's payload and peak memory is the same in every run."))
        return blocks
    base_value = {key: row["base"] for rows in by_run.values() for key, row in rows.items()}
    body = [[case, size, format_quantity(base_value[(case, size)], "byte"),
             *(cell for run, rows in by_run.items() for cell in size_cells(run, rows.get((case, size))))]
            for case, size in keys]
    columns = ["case", "size", found.base, *(c for run in by_run for c in (run, f"{run} / {found.base}",
                                                                        "verdict"))]
    blocks.append(make_table(columns, body, "Cases whose size changed", sortable=True))
    return blocks
