"""Property tests: the statistics never raise on any run a results file can hold (issue 27).

Synthetic runs drive every layer that computes a number (bench.location, bench.frame,
bench.run.schedule, the gate, the history's change points, the report's findings and answers):
1-2 processes per case (sometimes a few more), identical values, 100x spreads between
processes, values from 1e-9 to 1e6 seconds, instruction counts up to 1e12, whole-run shifts
of 3x, and values of 1e308 (finite, so the strict reader accepts them). Each property asserts
that nothing raises and that every interval is finite or marked not computable (NaN), with
its bounds around its value.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyperf
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.frame import (
    fit_exponents,
    load_results,
    process_mean_arrays,
    ratio_interval,
    summarize,
    tidy_frame,
)
from bench.gate.history import Point, analyse_series
from bench.gate.render import format_comparison
from bench.gate.rule import compare_runs
from bench.location import (
    FASTEST_HALF,
    MEAN,
    locate_case,
    noise_floor,
    relative_half_width,
    run_noise,
    spread_of,
)
from bench.report.findings import find_all, prepare_data
from bench.report.render import build_report
from bench.results import Results
from bench.run.schedule import Scheduler, describe_noise, describe_precision, measure_noise

# seeded (derandomize), as the results reader's fuzz test: the same examples on every run
FAST = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(FAST, max_examples=12)  # a report is ~2 s

# ---------------------------------------------------------------- strategies

HUGE = 1e308  # the largest order of magnitude a float (and JSON) holds
READABLE = 1e6  # the longest value in seconds bench.results reads (1e-12 to 1e6 s)

seconds = st.one_of(st.floats(-9, 6).map(lambda e: 10.0**e), st.sampled_from([1e-9, 1e6, HUGE]))
counts = st.one_of(st.integers(1, 10**12).map(float), st.sampled_from([1e12, HUGE]))
readable_seconds = st.one_of(st.floats(-9, 6).map(lambda e: 10.0**e), st.sampled_from([1e-9, 1e6]))
# a process mean against its case's level: identical, or up to 100x slower or faster
factors = st.one_of(st.just(1.0), st.floats(-2, 2).map(lambda e: 10.0**e))
shifts = st.floats(-math.log10(3), math.log10(3)).map(lambda e: 10.0**e)  # whole-run, 3x


@st.composite
def process_means(draw: Any, level: st.SearchStrategy[float] = seconds, most: int = 4,
                  top: float = HUGE) -> list[float]:
    """A case's process means: 1-2 processes mostly, identical or spread up to 100x."""
    centre = draw(level)
    n = draw(st.one_of(st.integers(1, 2), st.integers(1, most)))
    if draw(st.booleans()):
        return [centre] * n
    return [min(centre * draw(factors), top) for _ in range(n)]


@st.composite
def runs(draw: Any, names: list[str] | None = None, unit: str | None = None,
         top: float = HUGE) -> tuple[str, dict[str, list[list[float]]], dict[str, list[list[float]]]]:
    """A unit and two runs (base, head: name -> values per process), the head shifted
    as a whole by up to 3x and each of its cases moved on top of that; no value over `top`."""
    unit = unit or draw(st.sampled_from(["second", "integer"]))
    level = (seconds if top == HUGE else readable_seconds) if unit == "second" else counts
    names = names or [f"ser/pickle-5/dumps/ints/{i}" for i in range(draw(st.integers(1, 12)))]
    shift = draw(shifts)
    base: dict[str, list[list[float]]] = {}
    head: dict[str, list[list[float]]] = {}
    for name in names:
        means = draw(process_means(level, top=top))
        base[name] = [with_values(draw, m, unit, top) for m in means]
        start = means[0] if draw(st.integers(0, 3)) else draw(level)  # or a case of its own
        moved = [min(m * shift * draw(st.sampled_from([1.0, 1.0, 1.2, 3.0])), top)
                 for m in draw(process_means(st.just(start), top=top))]
        head[name] = [with_values(draw, m, unit, top) for m in moved]
    return unit, base, head


def with_values(draw: Any, mean: float, unit: str, top: float = HUGE) -> list[float]:
    """1-3 values of one process around its mean (counts: whole numbers)."""
    n = draw(st.integers(1, 3))
    jitter = draw(st.sampled_from([0.0, 0.01, 0.5]))
    values = [min(mean * (1 + jitter * (i - (n - 1) / 2)), top) for i in range(n)]
    return [max(float(round(v)), 1.0) if unit == "integer" and v < 1e15 else v for v in values]


# ---------------------------------------------------------------- builders

def bench_metadata(name: str, unit: str, **extra: Any) -> dict[str, Any]:
    """The metadata the runner writes on every run of a case."""
    suite, subject, op, shape, size = name.split("/")
    return {"name": name, "bench_suite": suite, "bench_subject": subject, "bench_op": op,
            "bench_shape": shape, "bench_size": int(size), "unit": unit, "loops": 16,
            "hostname": "host-a", "python_version": "3.11.7 (64-bit)", **extra}


def make_results(run: str, cases: dict[str, list[list[float]]], unit: str,
                 rounds: bool = False) -> Results:
    """A results file's contents, in memory: one pyperf Run per process (pass-labelled)."""
    benchmarks = [pyperf.Benchmark([
        pyperf.Run(values, metadata=bench_metadata(name, unit, bench_pass=k + 1,
                                                   **({"bench_round": k} if rounds else {})),
                   collect_metadata=False) for k, values in enumerate(processes)])
        for name, processes in cases.items()]
    return Results(benchmarks, path=f"{run}.json", run=run)


def frame_of(*results: Results) -> pd.DataFrame:
    """The tidy frame of results held in memory."""
    return tidy_frame(list(results))


def assert_interval(value: Any, low: Any, high: Any) -> None:
    """An interval is finite with its bounds around its value, or its bounds are NaN (not
    computable); its value is finite or NaN."""
    value, low, high = float(value), float(low), float(high)
    assert not math.isinf(value), (value, low, high)
    if math.isnan(low) or math.isnan(high):
        assert math.isnan(low) and math.isnan(high), (value, low, high)
        return
    assert math.isfinite(low) and math.isfinite(high), (value, low, high)
    assert low <= value * (1 + 1e-9) and value <= high * (1 + 1e-9), (value, low, high)


def assert_intervals(rows: pd.DataFrame, value: str, low: str, high: str) -> None:
    """assert_interval on every row of a frame."""
    for v, lo, hi in zip(rows[value], rows[low], rows[high], strict=True):
        assert_interval(v, lo, hi)


def assert_finite_or_nan(numbers: Iterable[Any]) -> None:
    """No number is infinite."""
    for number in numbers:
        assert not math.isinf(float(number)), number


# ---------------------------------------------------------------- location

@FAST
@given(st.lists(process_means(most=8), min_size=1, max_size=12),
       st.sampled_from([0.0, 0.01, 0.5]))
@example([[HUGE, HUGE]], 0.0)  # the mean's sum overflowed, and so did exp of the bounds
def test_a_cases_location_never_raises(cases: list[list[float]], floor: float) -> None:
    spreads = [spread_of(m) for m in cases]
    assert_finite_or_nan(spreads)
    assert math.isfinite(noise_floor(spreads))
    noise = run_noise(cases)
    assert noise is None or math.isfinite(noise)
    for means in cases:
        for method in (FASTEST_HALF, MEAN):
            found = locate_case(means, floor, method)
            assert_interval(*found)
            width = relative_half_width(means, floor, method)
            assert not math.isinf(width), (means, method)
            assert math.isnan(found.low) or width >= 0


# ---------------------------------------------------------------- frame

@FAST
@given(runs())
@pytest.mark.slow
def test_summaries_ratios_and_exponents_never_raise(drawn: Any) -> None:
    unit, base, head = drawn
    frame = frame_of(make_results("base", base, unit), make_results("head", head, unit))
    summary = summarize(frame)
    assert_intervals(summary, "mean", "ci_low", "ci_high")
    assert_finite_or_nan(summary["rel_half_width"])
    arrays = process_mean_arrays(frame)
    for name in base:
        head_means, base_means = arrays[("head", name)], arrays[("base", name)]
        assert_interval(*ratio_interval(head_means, base_means))  # paired by pass from 3
        assert_interval(*ratio_interval(head_means.to_numpy(), base_means.to_numpy()))  # Welch
    exponents = fit_exponents(summary.assign(unit="second"))
    assert_intervals(exponents, "k", "low", "high")


# ---------------------------------------------------------------- schedule

@FAST
@given(runs(unit="second"), st.sampled_from([0.0, 0.02]))
@pytest.mark.slow
def test_the_adaptive_schedule_never_raises(drawn: Any, target: float) -> None:
    _, base, _ = drawn
    plan = Scheduler(list(base), passes=1, target=target, budget=10.0)
    for name, processes in base.items():
        for k, values in enumerate(processes):
            run = pyperf.Run(values, metadata={"name": name, "bench_pass": k + 1},
                             collect_metadata=False)
            plan.record(name, pyperf.Benchmark([run]), 1.0)
    assert all(width > target for width in (plan.tracks[n].half_width(plan.floor())
                                             for n in plan.due()))
    summary = plan.summary()
    assert not math.isinf(summary["median_half_width"])
    assert describe_precision(summary)
    noise = measure_noise(make_results("base", base, "second").benchmarks)
    assert_finite_or_nan(noise["pass_factors"])
    assert describe_noise(noise)


# ---------------------------------------------------------------- gate

@FAST
@given(runs(), st.sampled_from(["within", "runs", "paired"]))
@pytest.mark.slow
def test_the_gate_never_raises(drawn: Any, mode: str) -> None:
    unit, base, head = drawn
    rounds = mode == "paired"
    base_frame = frame_of(make_results("base", base, unit, rounds))
    if mode == "runs":
        base_frame = frame_of(make_results("base", base, unit),
                              make_results("base-2", head, unit))
    cmp = compare_runs(base_frame, frame_of(make_results("head", head, unit, rounds)))
    tested = cmp.cases[cmp.cases["ratio"].notna()]
    assert_intervals(tested, "ratio", "ci_low", "ci_high")
    assert_interval(cmp.geomean.ratio if not math.isnan(cmp.geomean.ratio) else 1.0,
                    cmp.geomean.ci_low, cmp.geomean.ci_high)
    assert_finite_or_nan(cmp.cases["p_value"])
    for fmt in ("text", "md", "json"):
        assert format_comparison(cmp, fmt)


# ---------------------------------------------------------------- history

@FAST
@given(st.lists(st.one_of(seconds, st.none()), min_size=5, max_size=12),
       st.sampled_from([1.0, 3.0, 1 / 3]), st.integers(0, 11))
@example([1.0, 1.0, 0.1, HUGE, HUGE], 3.0, 0)  # a step past a float's range
@example([1.0, 1.0, 1.0, 1e-9, HUGE], 1.0, 0)  # the newest run past it
def test_change_points_never_raise(series: list[float | None], step: float, at: int) -> None:
    values = [None if v is None else min(v * (step if i >= at else 1.0), HUGE)
              for i, v in enumerate(series)]
    points = [Point(str(i), f"2026-01-{i + 1:02d}", "") for i in range(len(values))]
    for change in analyse_series("c", values, points, 0.05):
        assert math.isfinite(change.ratio) and change.ratio > 0
        assert math.isfinite(change.before) and math.isfinite(change.after)
    flat = [v for v in values if v is not None][:1] * len(values)
    assert analyse_series("c", flat, points, 0.05) == []


# ---------------------------------------------------------------- report

REPORT_CASES = [f"ser/{subject}/{op}/ints/1000" for subject in ("pickle-5", "marshal", "dill")
                for op in ("dumps", "loads")] + [
    "ser/pickle-5/dumps-bytesio/ints/1000",
    *(f"fold/{style}/sum/list/{size}" for style in ("loop", "reduce-lambda", "builtin")
      for size in (100, 1000, 10000)),
    "ref/memcpy/copy/bytes/1000"]


def write_file(path: Path, cases: dict[str, list[list[float]]], unit: str) -> Path:
    """A results file pyperf writes (and bench's strict reader reads)."""
    pyperf.BenchmarkSuite(make_results(path.stem, cases, unit).benchmarks).dump(
        str(path), replace=True)
    return path


@SLOW
@given(runs(names=REPORT_CASES, unit="second", top=READABLE),
       runs(names=REPORT_CASES, unit="integer", top=1e12),
       st.sampled_from(["one run", "two runs", "time and instructions"]))
@pytest.mark.slow
def test_the_report_renders_any_run(timed: Any, counted: Any, kind: str) -> None:
    _, base, head = timed
    with tempfile.TemporaryDirectory() as folder:
        paths = [write_file(Path(folder) / "base.json", base, "second")]
        if kind == "two runs":
            paths.append(write_file(Path(folder) / "head.json", head, "second"))
        if kind == "time and instructions":
            paths.append(write_file(Path(folder) / "counts.json", counted[1], "integer"))
        found = find_all(prepare_data(load_results(paths)))
        page = build_report(paths)
    for rows in (found.folds, found.versus_pickle, found.sinks, found.reduce):
        if len(rows):
            assert_intervals(rows, "ratio", "ratio_low", "ratio_high")
    assert_intervals(found.exponents, "k", "low", "high")
    for cmp in (found.runs.comparisons.values() if found.runs else ()):
        assert_intervals(cmp.cases[cmp.cases["ratio"].notna()], "ratio", "ci_low", "ci_high")
    assert "</html>" in page
    # what cannot be computed reads "-" or "CI unknown", never a float's own words (the
    # metrics section prints a Spearman rho of one case as "nan": bench.report.metrics)
    words = re.sub(r'<section id="metrics">.*?</section>', "", page, flags=re.S).lower()
    assert not {"inf", "nan", "-inf"} & set(re.split(r"[\s<>()\[\],;:]+", words))


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q", "--hypothesis-show-statistics"])
