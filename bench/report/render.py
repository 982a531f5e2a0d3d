"""Findings -> sections -> one self-contained HTML page (Jinja2, autoescaped).

`render_report(frame, runs, capabilities)` is pure: data in, HTML text out;
`build_report(paths, ...)` reads the files first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from bench import __version__
from bench.capability_file import read_capabilities
from bench.frame import MIN_PROCESSES, describe_runs, list_failures, tidy_frame
from bench.gate.history import History, build_history
from bench.location import CONFIDENCE
from bench.metric import choose_threshold, common_metric
from bench.report.blocks import Bullets, Section
from bench.report.explained import explained_section
from bench.report.findings import Findings, ReportData, find_all, prepare_data
from bench.report.history import history_section
from bench.report.matrix import capabilities_section
from bench.report.metrics import metrics_section
from bench.report.payload import payload_sections
from bench.report.questions import fold_answers, questions_section
from bench.report.runs import headline_lines, runs_section
from bench.report.sections import (
    environment_section,
    folds_section,
    scaling_section,
    serializers_section,
    table_section,
)
from bench.report.ship import ship_section
from bench.results import read_runs

METHODS = [
    "Each benchmark's values come from several worker processes; values inside one process "
    "are not independent, so a case's value and its 95% confidence interval are computed "
    "over the per-process means: the (geometric) mean of their fastest half, with Yuen's "
    "interval, as the regression gate locates a case. Load only adds time: a slow spell of "
    "the machine slows some processes, never speeds one up, and a contended machine moves "
    "the mean of all processes as a whole. Median, stdev and IQR are over all values, as "
    "pyperf shows them.",
    "A ratio A/B within one run is the ratio of the geometric means of A's and B's "
    "per-process means; its 95% CI is Student's t on the per-pass log differences when the "
    "run went in passes (the processes of one pass ran minutes apart at most, so a slow "
    "spell of the machine that hit both cancels), else Welch's t interval on the logs of the "
    "per-process means, exponentiated. It is called slower or faster when its CI excludes 1 and reaches "
    "past the threshold, same when the whole CI lies within the threshold, and uncertain "
    "otherwise (no correction for multiple comparisons).",
    "Runs side by side use the rule of `bench compare`: per case a t test on log(run / base), "
    "Benjamini-Hochberg control over all cases and the threshold; ratios are run / base.",
    "Scaling exponent k: least squares of log(mean time) on log(size) (scipy.stats.linregress); "
    "95% CI = k ± t(0.975, n_sizes - 2) x stderr (unknown with two sizes). A case grows faster "
    "than n^1.5 only when the whole CI lies above 1.5 (quadratic folds have k ≈ 2); cannot tell "
    "when it reaches both sides of 1.5 or is unknown.",
    "Warnings follow pyperf check: stdev >= 10% of the mean, minimum or maximum >= 50% away "
    f"from the mean, shortest raw value (value x loops) under 1 ms, and fewer than "
    f"{MIN_PROCESSES} processes.",
    "Colours: every serializer and fold style has its own colour in every figure (the pickle "
    "protocols 0-5 a ramp of blue from light to dark), and each family its own marker.",
]


def build_sections(data: ReportData, found: Findings, history: History | None = None,
                   csv_name: str | None = None) -> list[Section]:
    """Every section of the report, in page order (History only when a history is given;
    csv_name: the CSV of every case written beside the page, linked from the Table)."""
    extra = [history_section(history)] if history is not None else []
    return [*payload_sections(data, found), questions_section(data, found),
            environment_section(data, found),
            serializers_section(data, found), scaling_section(data, found), ship_section(data),
            folds_section(data, found, fold_answers(found)),
            capabilities_section(data.capabilities), runs_section(found.runs, data.runs, data.summary),
            *extra,
            metrics_section(data.summary),
            table_section(data, found, csv_name), Section("methods", "Methods", [Bullets(METHODS)])]


def banner_lines(data: ReportData, found: Findings) -> list[str]:
    """The lines under the title: each run's noise of the day, then the runs' headline."""
    noise = [f"Noise of the day, {row['run']}: {row['noise']}" for _, row in data.runs.iterrows()
             if isinstance(row.get("noise"), str)]
    return noise + (headline_lines(found.runs, data.runs) if found.runs is not None else [])


def template_environment() -> jinja2.Environment:
    """The Jinja2 environment of the report template, autoescape on."""
    return jinja2.Environment(loader=jinja2.PackageLoader("bench.report", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def render_report(frame: pd.DataFrame, runs: pd.DataFrame | None = None,
                  capabilities: dict[str, Any] | None = None,
                  failures: pd.DataFrame | None = None, base: str | None = None,
                  threshold: float | None = None, history: History | None = None,
                  csv_name: str | None = None, profiles: dict[str, dict[str, Any]] | None = None) -> str:
    """The HTML report of a tidy frame (see bench.frame), as one self-contained string.

    runs: bench.frame.describe_runs (their start dates choose the base run unless `base`
    names one); failures: bench.frame.list_failures (both optional); history: the change
    points of bench.gate.history, shown in a History section; csv_name: the file name of the
    summary CSV written beside the page (the Table links to it); profiles: run -> its counted
    cases' profiles (bench.run.profiles), for the Explained section of two counted runs.
    """
    data = prepare_data(frame, runs, capabilities, failures, threshold)
    found = find_all(data, base)
    sections = build_sections(data, found, history, csv_name)
    explained = explained_section(found.runs, profiles or {})
    if explained is not None:  # right after the runs side by side
        sections.insert(1 + next(i for i, s in enumerate(sections) if s.id == "runs"), explained)
    template = template_environment().get_template("report.html.j2")
    return template.render(sections=sections, runs=list(data.runs["run"]),
                           banners=banner_lines(data, found),
                           n_cases=len(data.summary), version=__version__,
                           confidence=f"{CONFIDENCE:.0%}")


def build_report(paths: Sequence[str | Path], capabilities: str | Path | None = None,
                 base: str | None = None, threshold: float | None = None,
                 history: Sequence[str | Path] = (), csv_name: str | None = None) -> str:
    """Read result files (and a capability matrix, and a history of runs) and return the
    report's HTML (linking to csv_name, the summary CSV beside it, when given)."""
    loaded = read_runs(paths)
    caps = read_capabilities(capabilities) if capabilities else None
    changes = None
    if history:
        runs = read_runs(history)
        metric = common_metric(run.metric() for run in runs)
        changes = build_history(runs, choose_threshold(threshold, [metric.unit] if metric else []))
    return render_report(tidy_frame(loaded), describe_runs(loaded), caps, list_failures(loaded),
                         base, threshold, changes, csv_name, {run.run: run.profiles for run in loaded})
