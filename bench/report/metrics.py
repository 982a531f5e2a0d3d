"""The "Time and instructions" section: one run of each metric, case by case.

A time run and an instruction-count run (`bench run --metric instructions`) of the same
cases are paired by case name. Per suite, the section gives the rank correlation of time
with instructions, a log-log figure, and the cases where the two disagree most: those whose
time per instruction is furthest from the suite's median. Counts cannot see what costs time
without instructions (page faults and memory bandwidth of big buffers, cache misses, system
calls of the file sinks), so those cases are where a count is no proxy for time.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from bench.metric import INSTRUCTIONS, TIME
from bench.report import plots
from bench.report.blocks import Section, Table, Text, make_figure, make_table, missing
from bench.text import MISSING, format_factor, format_quantity, is_missing

TIME_UNIT, COUNT_UNIT = TIME.unit, INSTRUCTIONS.unit
DISAGREEMENTS = 12  # cases listed as disagreeing most
BLIND_SPOTS = (
    "Instruction counts are a proxy for time, not time. They do not see cache misses and "
    "memory bandwidth (big buffers such as bytes and ndarray shapes), page faults, or the "
    "system calls of the file sinks; they do see every interpreter and library instruction, "
    "and they do not move with the machine's load.")


def pair_metrics(summary: pd.DataFrame) -> pd.DataFrame:
    """Cases measured in both metrics: the first time run's mean beside the first count run's.

    Columns: benchmark, suite, subject, time, count, time_run, count_run, ns_per_instruction,
    off (time per instruction over the suite's median: 1 = typical).
    """
    columns = ["benchmark", "suite", "subject", "time", "count", "time_run", "count_run",
               "ns_per_instruction", "off"]
    sides = {}
    for unit, name in ((TIME_UNIT, "time"), (COUNT_UNIT, "count")):
        rows = summary[summary["unit"] == unit]
        if rows.empty:
            return pd.DataFrame(columns=columns)
        run = rows["run"].iloc[0]
        sides[name] = rows[rows["run"] == run][["benchmark", "suite", "subject", "mean"]].rename(
            columns={"mean": name}).assign(**{f"{name}_run": run})
    pairs = sides["time"].merge(sides["count"].drop(columns=["suite", "subject"]), on="benchmark")
    pairs = pairs[(pairs["time"] > 0) & (pairs["count"] > 0)].copy()
    pairs["ns_per_instruction"] = pairs["time"] / pairs["count"] * 1e9
    typical = pairs.groupby("suite")["ns_per_instruction"].transform("median")
    pairs["off"] = pairs["ns_per_instruction"] / typical
    return pairs[columns].reset_index(drop=True)


def correlate_metrics(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per suite: cases, Spearman's rank correlation of time with instructions, and its p-value.

    >>> pairs = pd.DataFrame({"suite": ["ser"] * 4, "time": [1.0, 2, 3, 4], "count": [10, 30, 20, 40]})
    >>> correlate_metrics(pairs)[["suite", "cases", "rho"]].to_dict("records")
    [{'suite': 'ser', 'cases': 4, 'rho': 0.8}]
    """
    rows = []
    for suite, part in pairs.groupby("suite", sort=False):
        rho, p = (stats.spearmanr(part["time"], part["count"]) if len(part) >= 3
                  else (math.nan, math.nan))
        rows.append({"suite": suite, "cases": len(part), "rho": round(float(rho), 6),
                     "p_value": float(p)})
    return pd.DataFrame(rows, columns=["suite", "cases", "rho", "p_value"])


def disagreement_table(pairs: pd.DataFrame) -> Table:
    """The cases whose time per instruction is furthest from their suite's median."""
    spread = np.abs(np.log(pairs["off"].to_numpy(float)))
    worst = pairs.assign(spread=spread).nlargest(DISAGREEMENTS, "spread")
    body = [[row.benchmark, format_quantity(row.time, TIME_UNIT),
             format_quantity(row.count, COUNT_UNIT), f"{row.ns_per_instruction:.3g} ns",
             f"{format_factor(row.off)}x"] for row in worst.itertuples()]
    return make_table(["case", "time", "instructions", "time per instruction",
                       "x the suite's median"], body,
                      "Where time and instructions disagree most")


def metrics_section(summary: pd.DataFrame) -> Section:
    """Time beside instruction counts, when the report has a run of each."""
    section = Section("metrics", "Time and instructions")
    pairs = pair_metrics(summary)
    if pairs.empty:
        section.blocks.append(missing(
            "Not measured in this report: give a time run and an instruction run of the same "
            "cases (bench run --metric instructions) to see them side by side."))
        return section
    found = correlate_metrics(pairs)
    lines = "; ".join(f"{r.suite}: Spearman ρ = {MISSING if is_missing(r.rho) else f'{r.rho:.2f}'} "
                      f"over {r.cases} case{'s' if r.cases != 1 else ''}" for r in found.itertuples())
    section.blocks += [
        Text(f"Time from {pairs['time_run'].iloc[0]}, instructions from "
             f"{pairs['count_run'].iloc[0]}. {lines}."),
        Text(BLIND_SPOTS),
        make_figure(plots.plot_time_against_count(pairs),
                    "Mean time against instructions per call, log-log; one point per case."),
        disagreement_table(pairs)]
    return section
