"""The metric's one home (bench/metric.py): its facts, and every reader's threshold taken from it,
with `--threshold 0` meaning 0 in compare, history and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import metric
from bench.cli import main

DATA = Path(__file__).parent / "data" / "compare"
BASE, HEAD = DATA / "base-1.json", DATA / "head.json"


def as_counts(source: Path, target: Path) -> Path:
    """A copy of a timed results file whose values are instruction counts (unit "integer")."""
    doc = json.loads(source.read_text())
    doc["metadata"]["unit"] = "integer"
    for bench in doc["benchmarks"]:
        bench.get("metadata", {}).pop("unit", None)
        for run in bench["runs"]:
            run["values"] = [float(round(v * 1e9)) for v in run.get("values", [])]
            if "warmups" in run:
                run["warmups"] = [[loops, float(round(v * 1e9))] for loops, v in run["warmups"]]
    target.write_text(json.dumps(doc))
    return target


def test_every_metric_is_found_by_its_name_and_its_unit():
    for m in metric.METRICS.values():
        assert metric.get_metric(m.name) is m is metric.metric_of_unit(m.unit)
        assert 0 < m.threshold < 1
    assert metric.metric_of_units(["second", "integer"]) is None


@pytest.mark.parametrize("command", ["compare", "history"])
@pytest.mark.parametrize(("threshold", "counts", "expected"), [
    (None, False, metric.TIME.threshold), (None, True, metric.INSTRUCTIONS.threshold),
    ("0", False, 0.0), ("0", True, 0.0), ("2", True, 0.02)])
def test_the_threshold_is_the_metric_default_or_the_one_given(command, threshold, counts, expected,
                                                              tmp_path, capsys):
    base, head = BASE, HEAD
    if counts:
        base, head = as_counts(BASE, tmp_path / "base.json"), as_counts(HEAD, tmp_path / "head.json")
    argv = [command, str(base), str(head), "--format", "json", "--fail-on", "never"]
    if threshold is not None:
        argv += ["--threshold", threshold]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["threshold"] == pytest.approx(expected)


@pytest.mark.parametrize(("threshold", "expected"), [
    (None, metric.INSTRUCTIONS.threshold), (0.0, 0.0)])
def test_the_report_judges_a_count_history_by_the_count_threshold(threshold, expected, tmp_path,
                                                                  monkeypatch):
    from bench.report import render

    seen = []
    real = render.build_history
    monkeypatch.setattr(render, "build_history",
                        lambda runs, value, *a: seen.append(value) or real(runs, value, *a))
    history = [str(as_counts(BASE, tmp_path / "a.json")), str(as_counts(HEAD, tmp_path / "b.json"))]
    render.build_report([str(BASE)], threshold=threshold, history=history)
    assert seen == [pytest.approx(expected)]


def test_a_history_of_two_metrics_is_refused(tmp_path, capsys):
    counts = as_counts(HEAD, tmp_path / "head.json")
    assert main(["history", str(BASE), str(counts)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "different metrics (instructions, time)" in err[0]


def test_the_metric_a_run_wrote_wins_over_its_unit():
    assert metric.metric_of_run({"metric": "time"}, ["integer"]) is metric.TIME
    assert metric.metric_of_run({"metric": "nonsense"}, ["integer"]) is metric.INSTRUCTIONS
