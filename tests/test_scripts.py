"""The measurement scripts refuse inputs they would measure wrongly (exit 2, one line)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_crosscheck_refuses_results_of_another_python_version(tmp_path: Path) -> None:
    path = write_run(tmp_path / "old.json", python_version="2.7.18 (64-bit)",
                     python_executable=sys.executable)
    done = run_crosscheck(str(path))
    assert done.returncode == 2
    assert f"was measured on Python 2.7.18, {sys.executable} is" in done.stderr
    assert "timeit" not in done.stdout  # nothing was timed


@pytest.mark.parametrize("where", ["metadata", "option"])
def test_crosscheck_refuses_an_interpreter_it_cannot_run(tmp_path: Path, where: str) -> None:
    missing = str(tmp_path / "no-such-python")
    path = write_run(tmp_path / "run.json",
                     python_executable=missing if where == "metadata" else sys.executable)
    done = run_crosscheck(str(path), *(["--python", missing] if where == "option" else []))
    assert done.returncode == 2
    assert "no-such-python: cannot run it" in done.stderr and "Traceback" not in done.stderr
