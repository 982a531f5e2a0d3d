"""The measurement scripts refuse inputs they would measure wrongly (exit 2, one line)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyperf
import pytest

CROSSCHECK = Path(__file__).parent.parent / "scripts" / "crosscheck_timeit.py"
PAIR = ("ser/marshal/dumps/ints/1000", "ser/pickle-5/dumps/ints/1000")


def write_run(path: Path, **metadata: object) -> Path:
    """A results file of the pair's two cases, 3 processes each, with `metadata` on every run."""
    benchmarks = []
    for name in PAIR:
        suite, subject, op, shape, size = name.split("/")
        meta = {"name": name, "bench_suite": suite, "bench_subject": subject, "bench_op": op,
                "bench_shape": shape, "bench_size": int(size), "loops": 1000, **metadata}
        benchmarks.append(pyperf.Benchmark([pyperf.Run([1e-5, 1.01e-5], metadata=meta,
                                                       collect_metadata=False) for _ in range(3)]))
    pyperf.BenchmarkSuite(benchmarks).dump(str(path), replace=True)
    return path


def run_crosscheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CROSSCHECK), *args, "--processes", "1",
                           "--pair", *PAIR], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_crosscheck_refuses_results_of_another_python_version(tmp_path: Path) -> None:
    path = write_run(tmp_path / "old.json", python_version="2.7.18 (64-bit)",
                     python_executable=sys.executable)
    done = run_crosscheck(str(path))
    assert done.returncode == 2
    assert f"was measured on Python 2.7.18, {sys.executable} is" in done.stderr
    assert "timeit" not in done.stdout  # nothing was timed


@pytest.mark.parametrize("where", ["metadata", "option"])
@pytest.mark.slow
def test_crosscheck_refuses_an_interpreter_it_cannot_run(tmp_path: Path, where: str) -> None:
    missing = str(tmp_path / "no-such-python")
    path = write_run(tmp_path / "run.json",
                     python_executable=missing if where == "metadata" else sys.executable)
    done = run_crosscheck(str(path), *(["--python", missing] if where == "option" else []))
    assert done.returncode == 2
    assert "no-such-python: cannot run it" in done.stderr and "Traceback" not in done.stderr


def load_script(name: str) -> Any:
    """A script of scripts/ as a module (they are not a package; as when one is run, scripts/ is
    on the path, for the scripts it imports)."""
    import importlib.util

    if str(CROSSCHECK.parent) not in sys.path:
        sys.path.append(str(CROSSCHECK.parent))
    spec = importlib.util.spec_from_file_location(name, CROSSCHECK.parent / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthetic_runs(shifts: list[float], cases: int = 30, processes: int = 6,
                   spread: float = 0.01) -> dict[str, list[list[float]]]:
    """Case -> per run the process means: each case's own time x the run's shift, with a
    small seeded per-process spread."""
    import random

    rng = random.Random(7)
    return {f"case-{c}": [[(1 + c / 10) * shift * (1 + rng.gauss(0, spread))
                           for _ in range(processes)] for shift in shifts]
            for c in range(cases)}


def test_coverage_finds_each_runs_shift_and_covers_once_it_is_divided_out() -> None:
    coverage = load_script("coverage_runs")
    cases = synthetic_runs([1.0, 1.0, 1.3])
    shifts = coverage.run_shifts(cases, 3, "mean")
    assert shifts[2] / shifts[0] == pytest.approx(1.3, rel=0.01)
    floors = [0.0] * 3

    def covered(runs: dict[str, list[list[float]]]) -> float:
        flags = [f for means in runs.values()
                 for f in coverage.flag_covered(means, floors, "mean")]
        return sum(flags) / len(flags)

    assert covered(cases) < 0.1  # 1% intervals cannot hold a 30% move of one run
    assert covered(coverage.remove_shifts(cases, shifts)) > 0.8


def test_coverage_sets_a_slow_spell_aside_where_the_mean_cannot(tmp_path: Path) -> None:
    """Two quiet runs and one whose slow spell took a third of every case's processes: the
    fastest half of each run (floored as the run floors it) covers the runs' mean, the plain
    mean does not."""
    import random

    coverage = load_script("coverage_runs")
    rng = random.Random(11)
    paths = []
    for r, spell in enumerate((1.0, 1.0, 3.0)):
        benchmarks = [pyperf.Benchmark([pyperf.Run(
            [c * (spell if p >= 4 else 1.0) * rng.lognormvariate(0, 0.01)],
            collect_metadata=False, metadata={"name": f"case-{c}", "loops": 1})
            for p in range(6)]) for c in range(1, 41)]
        paths.append(str(tmp_path / f"run{r}.json"))
        pyperf.BenchmarkSuite(benchmarks).dump(paths[-1])
    cases, noise = coverage.read_means(paths)
    assert len(cases) == 40 and noise[2] > 0.5 > 0.02 > noise[0]
    half, mean = "fastest half", "mean"
    found = coverage.locate_runs(cases["case-2"], [0.0] * 3, half)
    assert found[2].value == pytest.approx(2.0, rel=0.02)  # the mean of all six: 3.34

    def covered(method: str) -> float:
        floors = coverage.run_floors(cases, 3, method)
        flags = [f for m in cases.values() for f in coverage.flag_covered(m, floors, method)]
        return sum(flags) / len(flags)

    assert covered(half) >= 0.9 and covered(mean) < 0.5


def test_warmup_curve_compares_each_stretch_with_the_settled_process() -> None:
    curve = load_script("warmup_curve")
    processes = [[1.05] * 30 + [1.0] * 170, [1.04] * 30 + [1.0] * 170]
    stretches = dict(curve.summarize_curve(processes, 1.0, 100.0))
    assert stretches[(0, 5)] == pytest.approx(1.045)
    assert stretches[(20, 30)] == pytest.approx(1.045)
    assert stretches[(120, 200)] == pytest.approx(1.0)


def test_coverage_gives_each_run_s_canary_beside_its_shift(tmp_path: Path) -> None:
    coverage = load_script("coverage_runs")
    paths = [write_run(tmp_path / f"run{r}.json", bench_canary=canary)
             for r, canary in enumerate((3e-4, 3e-4, 3.9e-4))]
    found = coverage.run_canaries([str(p) for p in paths])
    assert found[2] / found[0] == pytest.approx(1.3)
    assert found[0] * found[1] * found[2] == pytest.approx(1.0)  # against their geometric mean
    assert all(math.isnan(x) for x in coverage.run_canaries([str(write_run(tmp_path / "none.json"))]))


def test_coverage_shrinks_few_processes_variances_toward_their_suite_s() -> None:
    coverage = load_script("coverage_runs")
    cases = {f"ser/{name}": means for name, means in
             synthetic_runs([1.0] * 5, cases=60, processes=4, spread=0.05).items()}
    own = [coverage.locate_runs(means, [0.0] * 5) for means in cases.values()]
    shrunk = [coverage.locate_shrunk(cases, r, 0.0) for r in range(5)]

    def half(found: Any) -> float:
        return (found.high - found.value) / found.value

    widths_own = sorted(half(f) for runs in own for f in runs)
    widths_shrunk = sorted(half(shrunk[r][name]) for r in range(5) for name in cases)
    assert widths_shrunk[150] < widths_own[150] / 2  # medians: 2 kept of 4 is 1 df of its own
    covered = [coverage.covers_mean([shrunk[r][name] for r in range(5)]) for name in cases]
    assert sum(map(sum, covered)) / 300 > 0.85  # still an interval of the truth (5% noise, no shift)
