"""bench.gate.history and `bench history`: change points over runs, on synthetic series."""

from __future__ import annotations

import collections
import json
import statistics
from pathlib import Path

import numpy as np
import pyperf
import pytest

import bench.gate.history
from bench.cli import main
from bench.gate.history import Point, analyse_series, build_history, detection_delay
from bench.results import Results, read_runs, write_results

RUNS = 30
STEP_AT = 20
POINTS = [Point(str(i), f"2026-11-{i + 1:02d}", "") for i in range(RUNS)]


def noisy_series(seed: int, step_at: int | None = None, step: float = 0.10, cv: float = 0.06,
                 run_sd: float = 0.015, values: int = 16) -> list[float]:
    """Per run: the median of `values` values (4 processes x 4 values, as `quick`), each with
    noise of CV `cv` (this machine: 3-9%), and a whole-run shift of `run_sd`; a step of `step`
    from run `step_at` on."""
    rng = np.random.default_rng(seed)
    out = []
    for run in range(RUNS):
        level = 1e-5 * (1 + step if step_at is not None and run >= step_at else 1)
        out.append(float(np.median(level * np.exp(rng.normal(0, run_sd)
                                                  + rng.normal(0, cv, values)))))
    return out


@pytest.mark.parametrize("cv", [0.03, 0.06, 0.09])
@pytest.mark.slow
def test_a_10_percent_step_is_found_at_its_run_with_no_false_change_point(cv: float) -> None:
    """The target over 100 seeded series at each noise level: the step found at exactly the
    right run, and nothing else, in most series; a false change point besides it is rare."""
    exact = extra = 0
    for seed in range(100):
        changes = analyse_series("c", noisy_series(seed, STEP_AT, cv=cv), POINTS, 0.05)
        found = [c.index for c in changes]
        exact += found == [STEP_AT]
        extra += len([i for i in found if abs(i - STEP_AT) > 1]) > 0
    assert exact >= {0.03: 93, 0.06: 88, 0.09: 80}[cv]
    assert extra <= 5


def test_one_seeded_series_reports_the_step_and_its_size() -> None:
    changes = analyse_series("c", noisy_series(7, STEP_AT, cv=0.06), POINTS, 0.05)
    assert [(c.index, c.label, c.kind, c.newest) for c in changes] == [(20, "20", "slower", False)]
    assert changes[0].ratio == pytest.approx(1.10, abs=0.03)
    assert changes[0].p_value < bench.gate.history.ALPHA


@pytest.mark.parametrize("cv", [0.03, 0.09])
@pytest.mark.slow
def test_unchanged_code_gives_no_change_point(cv: float) -> None:
    false = sum(bool(analyse_series("c", noisy_series(1000 + seed, cv=cv), POINTS, 0.05))
                for seed in range(200))
    assert false <= 4  # <= 2% of unchanged series


def test_a_faster_step_is_a_faster_change() -> None:
    changes = analyse_series("c", noisy_series(3, STEP_AT, step=-0.2, cv=0.03), POINTS, 0.05)
    assert [(c.index, c.kind) for c in changes] == [(STEP_AT, "faster")]


@pytest.mark.slow
def test_detection_delay() -> None:
    """Runs after the step until it is flagged, as the history grows one run at a time: mostly
    by the newest-run test on the step's own run; the median is 0 up to CV 6%."""
    delays = {cv: [detection_delay(noisy_series(seed, STEP_AT, cv=cv), STEP_AT, 0.05)
                   for seed in range(60)] for cv in (0.03, 0.06, 0.09)}
    assert statistics.median([d for d in delays[0.03] if d is not None]) == 0
    assert statistics.median([d for d in delays[0.06] if d is not None]) == 0
    assert sum(d is None for d in delays[0.09]) <= 6
    assert collections.Counter(delays[0.03])[0] >= 50


def test_the_newest_run_starting_a_regression_is_flagged() -> None:
    values = noisy_series(11, RUNS - 1, step=0.2, cv=0.03)
    changes = analyse_series("c", values, POINTS, 0.05)
    assert [(c.index, c.newest, c.kind) for c in changes] == [(RUNS - 1, True, "slower")]
    calm = analyse_series("c", noisy_series(11, cv=0.03), POINTS, 0.05)
    assert calm == []


def test_missing_runs_of_a_case_are_skipped() -> None:
    values: list[float | None] = list(noisy_series(7, STEP_AT, cv=0.03))
    values[5] = values[12] = None
    changes = analyse_series("c", values, POINTS, 0.05)
    assert [c.index for c in changes] == [STEP_AT]


# ---------------------------------------------------------------- files and the command

def write_history(folder: Path, step_at: int | None, step: float = 0.10) -> list[Path]:
    """30 results files, one per commit (dates in the setup), written in shuffled order of
    names: `ser/a` steps at `step_at`, `ser/b` never changes."""
    folder.mkdir(exist_ok=True)
    a = noisy_series(5, step_at, step=step, cv=0.03)
    b = noisy_series(6, cv=0.03)
    paths = []
    for run in range(RUNS):
        benches = [pyperf.Benchmark([pyperf.Run([value] * 2, metadata={"name": name, "loops": 1},
                                                collect_metadata=False)])
                   for name, value in (("ser/a/dumps/ints/10", a[run]), ("ser/b/dumps/ints/10", b[run]))]
        path = folder / f"{(run * 7) % RUNS:02d}.json"
        write_results(Results(benches, {}, str(path), setup={
            "commit": f"{run:04d}" + "c" * 36, "commit_date": f"2026-10-{run + 1:02d}T12:00:00"}))
        paths.append(path)
    return paths


def test_history_orders_runs_by_commit_date_and_names_the_commit(tmp_path: Path) -> None:
    write_history(tmp_path / "h", STEP_AT)
    history = build_history(read_runs(sorted((tmp_path / "h").iterdir())))
    assert [p.label for p in history.points] == [f"{r:04d}cccccc" for r in range(RUNS)]
    assert [(c.case, c.index, c.label) for c in history.changes] == [
        ("ser/a/dumps/ints/10", STEP_AT, f"{STEP_AT:04d}cccccc")]


def test_bench_history_text_json_and_md(tmp_path: Path, capsys) -> None:
    write_history(tmp_path / "h", STEP_AT)
    assert main(["history", str(tmp_path / "h")]) == 0
    out = capsys.readouterr().out
    assert "History: 30 runs" in out and "ser/a/dumps/ints/10" in out and "0020cccccc" in out
    assert "1 change point(s): 1 slower, 0 faster; the newest run starts no regression" in out
    assert main(["history", str(tmp_path / "h"), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1 and len(doc["runs"]) == RUNS
    assert [(c["case"], c["run"], c["kind"]) for c in doc["changes"]] == [
        ("ser/a/dumps/ints/10", STEP_AT, "slower")]
    assert doc["newest_regressions"] == []
    assert main(["history", str(tmp_path / "h"), "--format", "md"]) == 0
    assert "| ser/a/dumps/ints/10 | 0020cccccc |" in capsys.readouterr().out


def test_bench_history_exits_1_when_the_newest_run_starts_a_regression(tmp_path: Path,
                                                                       capsys) -> None:
    write_history(tmp_path / "h", RUNS - 1, step=0.25)
    assert main(["history", str(tmp_path / "h")]) == 1
    assert "the newest run (0029cccccc) starts a regression in 1 case(s)" in capsys.readouterr().out
    assert main(["history", str(tmp_path / "h"), "--fail-on", "never"]) == 0


def test_labels_and_bad_input(tmp_path: Path, capsys) -> None:
    paths = [str(p) for p in sorted(write_history(tmp_path / "h", None))]
    labels = [f"v{i}" for i in range(RUNS)]
    args = ["history", *paths, "--format", "json"]
    assert main([*args, *(x for label in labels for x in ("--label", label))]) == 0
    assert {r["label"] for r in json.loads(capsys.readouterr().out)["runs"]} == set(labels)
    assert main([*args, "--label", "x"]) == 2
    assert "--label: 1 label(s) for 30 runs" in capsys.readouterr().err
    assert main(["history", paths[0]]) == 2
    assert "give two runs or more" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["history", str(tmp_path / "empty")]) == 2
    assert "no results files" in capsys.readouterr().err


@pytest.mark.slow
def test_the_report_has_a_history_section_with_the_step_and_its_commit(tmp_path: Path) -> None:
    from bench.report.render import build_report

    write_history(tmp_path / "h", STEP_AT)
    out = tmp_path / "report.html"
    assert main(["report", str(Path(__file__).parent / "data" / "report" / "py311.json"),
                 "--history", str(tmp_path / "h"), "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    section = html[html.index('id="history"'):]
    section = section[:section.index("</section>")]
    assert "0020cccccc 1.1" in section  # the step's label in the trend line
    assert "<svg" in section and "ser/a/dumps/ints/10" in section
    assert "ser/b/dumps/ints/10" not in section  # unchanged cases get no trend line
    plain = build_report([str(Path(__file__).parent / "data" / "report" / "py311.json")])
    assert 'id="history"' not in plain
