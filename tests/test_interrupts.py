"""Killing a run at random points never leaves a broken results file."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys

import pyperf
import pytest
from conftest import interrupt_after, shown_cases, start_bench

from bench.run.cases import get_profile

pytestmark = pytest.mark.slow


SER = [case.name for case in get_profile("smoke").list_cases() if case.suite == "ser"]


def run_and_kill(path, sig: int, after: int) -> tuple[list[str], int]:
    """Start a run, send `sig` to the parent once it has shown `after` finished cases (a
    point in the run, whatever the machine's speed); return printed case names, rc.

    Values of >= 50 ms keep the run going for seconds after the first lines: a run's lines
    are shown a save (a second) at a time, and a smoke run of ~80 ms processes could be over
    before the signal is sent."""
    proc = start_bench(["run", "--profile", "smoke", "-k", "ser/*", "--min-time", "0.05",
                        "-o", str(path)],
                       stderr=subprocess.PIPE, start_new_session=True)
    finished: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        finished += shown_cases(line)
        if len(finished) >= after:
            break
    proc.send_signal(sig)
    rest = proc.stderr.read()  # the same buffered reader: lines it holds are not lost
    finished += shown_cases(rest)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # orphaned workers of a SIGKILLed parent
    return finished, proc.wait(timeout=60)


def saved_names(path) -> set[str]:
    if not path.exists():
        return set()
    return set(pyperf.BenchmarkSuite.load(str(path)).get_benchmark_names())


@pytest.mark.parametrize("attempt", range(10))
def test_killed_run_leaves_a_valid_file(tmp_path, attempt):
    rng = random.Random(attempt)
    sig = signal.SIGTERM if attempt % 2 == 0 else signal.SIGKILL
    path = tmp_path / "run.json"
    finished, rc = run_and_kill(path, sig, rng.randint(1, len(SER) - 2))
    saved = saved_names(path)  # raises if the file is not valid pyperf JSON
    assert not list(tmp_path.glob(".tmp-*")) or sig == signal.SIGKILL
    if sig == signal.SIGTERM:
        assert rc == 130 or (rc == 0 and len(finished) == len(SER))
        assert saved == set(finished)
    else:
        assert rc == -signal.SIGKILL
        assert set(finished) <= saved <= set(SER)  # a kill between a save and its lines


def test_ctrl_c_during_ab_keeps_the_cases_finished_on_both_sides(tmp_path):
    """bench ab saves a.json and b.json after every case: an interrupt keeps exactly the
    cases shown, each with all of its rounds on both sides, and exits 130."""
    finished, rest, code = interrupt_after(
        ["ab", "--python", sys.executable, "--python", sys.executable, "--profile", "smoke",
         "-k", "ser/*", "--rounds", "2", "--outdir", str(tmp_path)], 3)
    assert code == 130
    ser = [c for c in get_profile("smoke").list_cases() if c.suite == "ser"]
    assert f"interrupted: {len(finished)} of {len(ser)} cases saved" in rest
    for side in "ab":
        suite = pyperf.BenchmarkSuite.load(str(tmp_path / f"{side}.json"))
        assert sorted(suite.get_benchmark_names()) == sorted(finished)
        for bench in suite.get_benchmarks():
            rounds = [run.get_metadata()["bench_round"] for run in bench.get_runs() if run.values]
            assert sorted(rounds) == [1, 2]
