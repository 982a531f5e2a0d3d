"""bench.report.metrics: time beside instruction counts, on synthetic runs with known answers."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pyperf
import pytest

import bench.report.metrics
from bench.cli import main
from bench.report.metrics import correlate_metrics, pair_metrics

CASES = {f"ser/pickle-5/dumps/ints/{n}": n for n in (10, 100, 1000, 10_000, 100_000)}
CASES.update({f"fold/loop/sum/list/{n}": n for n in (10, 100, 1000, 10_000)})
OUTLIER = "ser/pickle-5/dumps/ints/100000"  # takes 10x the time its count says (page faults)


def write_run(path: Path, unit: str) -> Path:
    """A run of every case: times of 1 ns per instruction (the outlier 10 ns), or counts."""
    benchmarks = []
    for name, n in CASES.items():
        suite, subject, op, shape, size = name.split("/")
        count = 50.0 * n
        value = count if unit == "integer" else count * 1e-9 * (10 if name == OUTLIER else 1)
        metadata = {"name": name, "unit": unit, "loops": 1, "bench_suite": suite,
                    "bench_subject": subject, "bench_op": op, "bench_shape": shape,
                    "bench_size": int(size)}
        runs = [pyperf.Run([value * (1 + 1e-3 * k)], warmups=None, metadata=metadata,
                           collect_metadata=False) for k in range(3)]
        benchmarks.append(pyperf.Benchmark(runs))
    pyperf.BenchmarkSuite(benchmarks).dump(str(path))
    return path


@pytest.fixture()
def two_metrics(tmp_path: Path) -> tuple[Path, Path]:
    return write_run(tmp_path / "time.json", "second"), write_run(tmp_path / "instr.json",
                                                                    "integer")


def summary_of(paths: tuple[Path, Path]) -> pd.DataFrame:
    from bench.frame import summarize, tidy_frame
    from bench.results import read_runs

    return summarize(tidy_frame(read_runs(list(paths))))


def test_cases_pair_by_name_and_the_outlier_is_off(two_metrics: tuple[Path, Path]) -> None:
    pairs = pair_metrics(summary_of(two_metrics))
    assert len(pairs) == len(CASES)
    off = dict(zip(pairs["benchmark"], pairs["off"], strict=True))
    assert off[OUTLIER] == pytest.approx(10, rel=1e-2)
    assert all(math.isclose(v, 1, rel_tol=1e-2) for k, v in off.items() if k != OUTLIER)
    rho = dict(zip(*correlate_metrics(pairs)[["suite", "rho"]].to_numpy().T, strict=True))
    assert rho == {"ser": 1.0, "fold": 1.0}


def test_no_pairs_without_both_metrics(two_metrics: tuple[Path, Path]) -> None:
    assert pair_metrics(summary_of((two_metrics[0], two_metrics[0]))).empty


def test_report_sets_the_metrics_side_by_side(two_metrics: tuple[Path, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    assert main(["report", *map(str, two_metrics), "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    section = html[html.index('id="metrics"'):]
    text = " ".join(re.sub(r"<[^>]+>", " ", section).split())
    assert "ser: Spearman ρ = 1.00 over 5 cases" in text
    assert "disagree most" in text
    first_case = re.search(r"<td[^>]*>(ser/[^<]+|fold/[^<]+)</td>", section)
    assert first_case is not None and first_case.group(1) == OUTLIER
    runs = html[html.index('id="runs"'):html.index('id="metrics"')]
    assert "not compared" in runs
    assert 'data-verdict="slower"' not in runs


def test_a_correlation_over_one_case_reads_as_not_computable(tmp_path: Path, monkeypatch) -> None:
    from bench.report.metrics import metrics_section

    monkeypatch.setattr(bench.report.plots, "plot_time_against_count", lambda pairs: "<svg/>")
    one = {k: v for k, v in CASES.items() if k.startswith("fold/")}
    one = dict(list(one.items())[:1])
    monkeypatch.setitem(globals(), "CASES", one)
    paths = write_run(tmp_path / "t.json", "second"), write_run(tmp_path / "i.json", "integer")
    text = " ".join(str(getattr(b, "text", "")) for b in metrics_section(summary_of(paths)).blocks)
    assert "over 1 case" in text and "nan" not in text and "ρ = -" in text


def test_the_page_of_a_run_without_payload_sizes_warns_nothing(two_metrics, tmp_path) -> None:
    import warnings

    from bench.report.render import build_report

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_report([str(two_metrics[0])])
