"""Real runs of the parts of a run: a SIGKILLed run resumed, and shards merged into one run."""

from __future__ import annotations

import contextlib
import os
import platform
import random
import signal
import subprocess
import sys
from pathlib import Path

import pyperf
import pytest
from conftest import RunBench, shown_cases, start_bench

from bench.results import read_results
from bench.run.cases import get_profile
from bench.run.provenance import run_part

pytestmark = pytest.mark.slow
SELECTION = ["--profile", "smoke", "-k", "ser/*"]
SER = [case.name for case in get_profile("smoke").list_cases() if case.suite == "ser"]
# Metadata one case has in every run of the same code on the same machine.
CASE_KEYS = ("name", "bench_suite", "bench_subject", "bench_op", "bench_shape", "bench_size",
             "subject_version", "payload_bytes", "shape_nbytes", "bench_imported", "bench_profile",
             "bench_version", "gc_enabled", "python_version", "hostname", "unit")


def kill_run_after(path: Path, cases: int, *options: str) -> None:
    """Start `bench run` of SELECTION into `path` and SIGKILL it (and its workers) once it has
    shown `cases` finished cases or processes (a point in the run, whatever the machine's speed)."""
    proc = start_bench(["run", *SELECTION, *options, "-o", str(path)],
                       stderr=subprocess.PIPE, start_new_session=True)
    assert proc.stderr is not None
    shown = 0
    for line in proc.stderr:
        shown += line.startswith("[")
        if shown >= cases:
            break
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    proc.stderr.read()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the orphaned workers


@pytest.mark.parametrize("attempt", range(3))
def test_resume_after_sigkill_runs_exactly_the_missing_cases(tmp_path: Path, attempt: int,
                                                              run_bench: RunBench) -> None:
    # Progress is shown as the file is saved, at most once a second: values of >= 50 ms keep
    # each save to a few cases, so a kill in the first half lands before the run's last save.
    path, slow = tmp_path / "run.json", ("--min-time", "0.05")
    kill_run_after(path, random.Random(attempt).randint(1, len(SER) // 2), *slow)
    saved = {b.get_name() for b in read_results(path).benchmarks} if path.exists() else set()
    assert len(saved) < len(SER), "the run finished before the kill; kill it sooner"
    done = run_bench("run", *SELECTION, *slow, "--resume", "-o", str(path))
    assert done.returncode == 0, done.stderr
    ran = shown_cases(done.stderr)
    assert sorted(ran) == sorted(set(SER) - saved)
    progress = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert all(f"/{len(SER) - len(saved)}] " in line for line in progress)
    final = pyperf.BenchmarkSuite.load(str(path))
    names = final.get_benchmark_names()
    assert sorted(names) == sorted(SER)  # every case, each once
    assert len({len(b.get_runs()) for b in final.get_benchmarks()}) == 1  # none added twice
    again = run_bench("run", *SELECTION, *slow, "--resume", "-o", str(path))
    assert again.returncode == 0 and shown_cases(again.stderr) == []


def test_a_resumed_run_in_passes_numbers_its_processes_after_those_saved(tmp_path: Path,
                                                                         run_bench: RunBench) -> None:
    path = tmp_path / "run.json"
    kill_run_after(path, len(SER) + 2, "-p", "3", "--target-ci", "0")  # inside the second pass
    before = read_results(path)
    timed = {sum(1 for run in b.get_runs() if run.values) for b in before.benchmarks}
    assert timed >= {1, 2}  # some cases had had their second pass, some not
    done = run_bench("run", *SELECTION, "-p", "3", "--target-ci", "0", "--resume", "-o", str(path))
    assert done.returncode == 0, done.stderr
    for benchmark in read_results(path).benchmarks:
        passes = [run.get_metadata()["bench_pass"] for run in benchmark.get_runs() if run.values]
        assert sorted(passes) == [1, 2, 3], (benchmark.get_name(), passes)


def test_shards_merged_equal_one_run_of_the_same_selection(tmp_path: Path, run_bench: RunBench) -> None:
    whole = tmp_path / "whole.json"
    assert run_bench("run", *SELECTION, "-o", str(whole)).returncode == 0
    parts = []
    for k in (1, 2, 3):
        part = tmp_path / f"shard-{k}.json"
        done = run_bench("run", *SELECTION, "--shard", f"{k}/3", "--costs", str(whole),
                         "-o", str(part))
        assert done.returncode == 0, done.stderr
        parts.append(str(part))
    merged = tmp_path / "merged.json"
    done = run_bench("merge", *parts, "-o", str(merged))
    assert done.returncode == 0, done.stderr
    one, joined = read_results(whole), read_results(merged)
    assert [b.get_name() for b in joined.benchmarks] == [b.get_name() for b in one.benchmarks]
    for a, b in zip(one.benchmarks, joined.benchmarks):
        meta_a, meta_b = a.get_metadata(), b.get_metadata()
        assert {k: meta_a.get(k) for k in CASE_KEYS} == {k: meta_b.get(k) for k in CASE_KEYS}
        assert len(a.get_runs()) == len(b.get_runs())
        assert a.get_nvalue() == b.get_nvalue()
    assert run_part(joined.setup) == run_part(one.setup)
    stats = subprocess.run([sys.executable, "-m", "pyperf", "stats", str(merged)],
                           capture_output=True, text=True)
    assert stats.returncode == 0 and f"Number of benchmarks: {len(SER)}" in stats.stdout


def move_to_another_host(path: Path, keep_runs: int) -> None:
    """Rewrite `path` as if its runs were made on another CI runner, keeping `keep_runs` each."""
    from bench.results import write_results

    results = read_results(path)
    results.benchmarks = [pyperf.Benchmark([
        pyperf.Run(run.values, warmups=run.warmups, collect_metadata=False,
                   metadata={**run.get_metadata(), "hostname": "ci-runner-1",
                             "python_executable": "/home/runner/venv/bin/python"})
        for run in benchmark.get_runs()[:keep_runs]]) for benchmark in results.benchmarks]
    write_results(results)


@pytest.mark.parametrize("option", ["--resume", "--append"])
def test_a_file_of_another_host_is_resumed_or_appended_to_without_touching_its_cases(
        tmp_path: Path, run_bench: RunBench, option: str) -> None:
    # Two passes, the second dropped: resuming would top the other host's cases up, which
    # pyperf refuses (`metadata hostname is different`) after timing them.
    path, two = tmp_path / "run.json", ["--profile", "smoke", "-p", "2", "--target-ci", "0"]
    first = ["-k", "ref/*", "-k", "fold/loop/sum/list/*"]
    done = run_bench("run", *two, *first, "-o", str(path))
    assert done.returncode == 0, done.stderr
    move_to_another_host(path, keep_runs=1)
    before = {b.get_name(): [run.values for run in b.get_runs()] for b in read_results(path).benchmarks}
    done = run_bench("run", *two, *first, "-k", "fold/builtin/*", option, "-o", str(path))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert (f"{option}: 2 cases were run on host 'ci-runner-1' (this is '{platform.node()}'); "
            "kept as they are, not topped up here") in done.stderr.splitlines()
    assert set(shown_cases(done.stderr)) == {"fold/builtin/sum/list/100"}
    after = read_results(path)
    for benchmark in after.benchmarks:
        runs = [run.values for run in benchmark.get_runs()]
        if benchmark.get_name() in before:
            assert runs == before[benchmark.get_name()]  # untouched
            assert benchmark.get_metadata()["hostname"] == "ci-runner-1"
        else:
            assert len(runs) == 2 and benchmark.get_metadata()["hostname"] == platform.node()
