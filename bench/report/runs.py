"""The "Runs side by side" section: every run against the base run, by the gate's rule.

The verdicts are `bench compare`'s (bench.gate.rule.compare_runs), case by case; each
verdict cell carries data-case, data-run and data-verdict attributes, so the page can be
checked against `bench compare --format json`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.gate.render import describe_geomean, describe_rule, summarize_counts
from bench.gate.rule import Comparison
from bench.report import plots
from bench.report.blocks import (
    Bullets,
    Cell,
    Section,
    Table,
    Text,
    describe_ratio,
    make_figure,
    make_table,
    missing,
)
from bench.report.findings import RunComparisons
from bench.text import VERDICTS, format_quantity


def verdict_cell(run: str, row: Any) -> Cell:
    """The verdict of one case of one run, coloured, its reason on hover, machine-readable."""
    verdict = str(row["verdict"])
    data = (("case", str(row["benchmark"])), ("run", run), ("verdict", verdict))
    return Cell(verdict, f"verdict-{verdict}", str(row["reason"] or VERDICTS.get(verdict, "")),
                data)


def case_cells(run: str, row: Any | None) -> list[Any]:
    """[mean, ratio, verdict] cells of one case of one run (dashes when absent)."""
    if row is None:
        return [None, None, None]
    ratio = (None if pd.isna(row["ratio"])
             else describe_ratio(row["ratio"], row["ci_low"], row["ci_high"]))
    return [format_quantity(row["head_mean"], row["unit"]), ratio, verdict_cell(run, row)]


def base_mean(comparisons: dict[str, Comparison], case: str) -> str:
    """The base run's mean of a case, from the first comparison that has it."""
    for cmp in comparisons.values():
        rows = cmp.cases[cmp.cases["benchmark"] == case]
        if not rows.empty and not pd.isna(rows["base_mean"].iloc[0]):
            return format_quantity(rows["base_mean"].iloc[0], rows["unit"].iloc[0])
    return format_quantity(None, "second")


def comparison_table(found: RunComparisons) -> Table:
    """One row per case: the base mean, then each run's mean, ratio to the base and verdict."""
    by_run = {run: {row["benchmark"]: row for _, row in cmp.cases.iterrows()}
              for run, cmp in found.comparisons.items()}
    cases = list(dict.fromkeys(case for rows in by_run.values() for case in rows))
    body = [[case, base_mean(found.comparisons, case),
             *(cell for run, rows in by_run.items() for cell in case_cells(run, rows.get(case)))]
            for case in cases]
    columns = ["case", found.base, *(c for run in by_run
                                      for c in (run, f"{run} / {found.base}", "verdict"))]
    return make_table(columns, body, "Every case")


def headline(run: str, cmp: Comparison) -> str:
    """Counts per verdict and the geometric mean of one run against the base."""
    return (f"{run}: {summarize_counts(cmp.counts())}; {describe_geomean(cmp.geomean)} "
            f"({describe_rule(cmp)})")


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


def runs_section(found: RunComparisons | None) -> Section:
    """Each run against the base run, by the rule of `bench compare`."""
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
    section.blocks += [Bullets([headline(run, cmp) for run, cmp in found.comparisons.items()]),
                       *problems, Bullets(notes)]
    if not rows.empty:
        section.blocks.append(make_figure(plots.plot_run_ratios(rows, found.base),
                                          "Time ratio of each common case to the base run, "
                                          "sorted; the band is the 95% CI."))
    section.blocks.append(comparison_table(found))
    return section
