"""Preempted time taken out by each process's CPU share (bench.correction.remove_preemption,
then the canary, in correct_processes): synthetic runs of known answer.

Each synthetic process of a case of known true time ran on the CPU for a known share of its
values' window (`bench_cpu_share`) and waited for it the rest, so its values are the truth over
that share; a machine whose CPU speed moves from process to process along a known curve slows
its values and its canary alike (the canary, timed in slots of ~0.35 ms, is not preempted).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pyperf
import pytest

from bench.correction import correct_processes
from bench.errors import InputError
from bench.frame import describe_runs, load_results
from bench.location import locate_case
from bench.results import Results, read_results, read_runs, write_results
from bench.run.schedule import describe_noise, measure_noise
from bench.run.worker import time_values

CANARY = 0.35e-3  # seconds of the canary on a quiet machine


def cases(count: int, suite: str = "ser") -> dict[str, float]:
    """`count` cases of known true times from 1 us to 1 ms."""
    return {f"{suite}/s{i}/dumps/ints/1000": 10.0 ** (-6 + 3 * i / max(count - 1, 1))
            for i in range(count)}


def synthetic_run(true: dict[str, float], processes: int, seed: int, *, speed: bool = False,
                  interpreter: float = 1.0, share: bool = True, canary: bool = True
                  ) -> list[pyperf.Benchmark]:
    """pyperf Benchmarks of one run: each case's first process had the whole CPU, the others a
    known share of it from 0.4 to 1 (`bench_cpu_share` unless not `share`); with `speed`, a
    CPU that is up to 1.6x slower at some moments; `interpreter` slows values and canary alike."""
    rng = np.random.default_rng(seed)
    runs: dict[str, list[pyperf.Run]] = {name: [] for name in true}
    for k in range(processes):
        for name in true:
            own = 1.0 if k == 0 else float(rng.uniform(0.4, 1.0))
            slow = (1.0 + 0.6 * float(rng.uniform() > 0.6)) if speed else 1.0
            slow *= interpreter
            mean = true[name] * slow / own * math.exp(rng.normal(0, 0.005))
            metadata: dict[str, object] = {"name": name, "bench_pass": k + 1, "loops": 10}
            if share:
                metadata["bench_cpu_share"] = own
            if canary:
                metadata["bench_canary"] = CANARY * slow * math.exp(rng.normal(0, 0.005))
            runs[name].append(pyperf.Run([mean * 0.999, mean * 1.001], metadata=metadata,
                                         collect_metadata=False))
    return [pyperf.Benchmark(r) for r in runs.values()]


def flatten(benchmarks: list[pyperf.Benchmark]) -> dict[str, list]:
    """Per process: case name, mean, canary and CPU share (NaN: none)."""
    out: dict[str, list] = {"names": [], "means": [], "canaries": [], "shares": []}
    for b in benchmarks:
        for run in b.get_runs():
            metadata = run.get_metadata()
            out["names"].append(b.get_name())
            out["means"].append(float(np.mean(run.values)))
            out["canaries"].append(metadata.get("bench_canary", math.nan))
            out["shares"].append(metadata.get("bench_cpu_share", math.nan))
    return out


def truth_of(names: list[str], true: dict[str, float]) -> np.ndarray:
    return np.asarray([true[n] for n in names])


def write(path: Path, benchmarks: list[pyperf.Benchmark]) -> Path:
    pyperf.BenchmarkSuite(benchmarks).dump(str(path), replace=True)
    return path


def test_a_preempted_process_is_corrected_to_the_truth() -> None:
    true = cases(10)
    p = flatten(synthetic_run(true, 6, seed=1, canary=False))
    raw = np.asarray(p["means"]) / truth_of(p["names"], true)
    fixed, how = correct_processes(p["names"], p["means"], p["canaries"], shares=p["shares"])
    assert np.std(np.log(raw)) > 0.15  # preempted up to 60% of the window
    assert np.allclose(fixed / truth_of(p["names"], true), 1.0, rtol=0.02)
    assert how.share_slopes["ser"] == pytest.approx(1.0, abs=0.02) and how.share_corrected == 1.0
    assert how.noise_before > 0.15 > 0.01 > how.noise_share == pytest.approx(how.noise_after)


def test_a_process_with_its_whole_cpu_is_left_alone() -> None:
    p = flatten(synthetic_run(cases(10), 6, seed=2, canary=False))
    fixed, _ = correct_processes(p["names"], p["means"], p["canaries"], shares=p["shares"])
    whole = np.asarray(p["shares"]) == 1.0
    assert whole.sum() == 10 and np.allclose(fixed[whole], np.asarray(p["means"])[whole], rtol=1e-12)
    assert np.all(fixed[~whole] < np.asarray(p["means"])[~whole])  # the others lose their wait


def test_preemption_and_a_slower_cpu_both_come_out() -> None:
    true = cases(10)
    p = flatten(synthetic_run(true, 6, seed=3, speed=True))
    fixed, how = correct_processes(p["names"], p["means"], p["canaries"], shares=p["shares"])
    corrected = fixed / truth_of(p["names"], true)
    assert np.std(np.log(corrected)) < 0.02
    assert how.noise_before > how.noise_share > 0.1 > 0.02 > how.noise_after  # each step's share
    assert how.slopes["ser"] == pytest.approx(1.0, abs=0.05)
    assert how.note.startswith("preempted time taken out by the CPU share (slope ser 1.00); corrected")


def test_runs_without_a_cpu_share_are_corrected_as_before() -> None:
    """Files written before `bench_cpu_share` existed: the canary alone, and bench_noise says so."""
    old = synthetic_run(cases(10), 6, seed=4, speed=True, share=False)
    p = flatten(old)
    alone, how = correct_processes(p["names"], p["means"], p["canaries"])
    fixed, again = correct_processes(p["names"], p["means"], p["canaries"], shares=p["shares"])
    assert np.array_equal(fixed, alone) and again.share_corrected == how.share_corrected == 0.0
    assert again.note.startswith("not corrected for preemption: no CPU share in this run")
    assert how.note.startswith("corrected by the canary")  # no shares given: the canary alone
    noise = measure_noise(old)
    assert noise["cpu_share_corrected"] == 0.0 and noise["canary_corrected"] == 1.0
    assert noise["process_cv_cpu_share"] == noise["process_cv_raw"]
    assert "preempted" not in describe_noise(noise) and "canary correction" in describe_noise(noise)


def test_a_case_without_a_share_on_every_process_is_not_corrected_by_it() -> None:
    p = flatten(synthetic_run(cases(10), 6, seed=5, canary=False))
    p["shares"][1] = math.nan  # the first case's second process has none
    fixed, how = correct_processes(p["names"], p["means"], p["canaries"], shares=p["shares"])
    first = [i for i, n in enumerate(p["names"]) if n == p["names"][0]]
    assert np.array_equal(fixed[first], np.asarray(p["means"])[first])
    assert how.share_corrected == pytest.approx(54 / 60)


def test_a_slower_interpreter_is_still_a_real_change() -> None:
    true = cases(10)
    located = []
    for run in (synthetic_run(true, 6, 6, speed=True),
                synthetic_run(true, 6, 7, speed=True, interpreter=1.3)):
        p = flatten(run)
        fixed, _ = correct_processes(p["names"], p["means"], p["canaries"], shares=p["shares"])
        located.append(np.asarray([locate_case(fixed[np.asarray(p["names"]) == n]).value
                                   for n in true]))
    assert np.allclose(located[1] / located[0], 1.3, rtol=0.03)
    assert np.allclose(located[0] / np.asarray(list(true.values())), 1.0, rtol=0.03)


def test_the_noise_of_each_step_and_the_banner_that_says_it(tmp_path: Path) -> None:
    benchmarks = synthetic_run(cases(10), 6, seed=8, speed=True)
    p = flatten(benchmarks)
    how = correct_processes(p["names"], p["means"], p["canaries"], shares=p["shares"])[1]
    noise = {"process_cv": how.noise_after, **how.noise()}
    assert noise["process_cv_raw"] > noise["process_cv_cpu_share"] > noise["process_cv"]
    assert noise["cpu_share_corrected"] == 1.0 and noise["cpu_share_slope_ser"] == pytest.approx(1, abs=0.05)
    path = str(tmp_path / "run.json")
    write_results(Results(benchmarks, path=path, noise=noise))
    banner = describe_runs(read_runs([path]))["noise"].iloc[0]
    assert "after taking out preempted time (" in banner and "and the canary correction" in banner


def test_bench_records_the_share_but_corrects_by_the_canary_alone(tmp_path: Path) -> None:
    """On quick runs the share's step narrowed no interval (docs/measurements.md): left out."""
    benchmarks = synthetic_run(cases(10), 6, seed=8, speed=True)
    noise = measure_noise(benchmarks)
    assert noise["cpu_share_corrected"] == 0.0 and noise["canary_corrected"] == 1.0
    frame = load_results([write(tmp_path / "run.json", benchmarks)])
    assert frame["cpu_share"].between(0.4, 1.0).all()  # kept in the frame for export
    assert "preempted" not in describe_noise(noise)


def test_a_share_out_of_range_is_refused(tmp_path: Path) -> None:
    benchmarks = synthetic_run(cases(2), 2, seed=9)
    run = benchmarks[0].get_runs()[0]
    bad = pyperf.Run(run.values, metadata={**run.get_metadata(), "bench_cpu_share": 1.5},
                     collect_metadata=False)
    path = write(tmp_path / "bad.json", [pyperf.Benchmark([bad]), benchmarks[1]])
    with pytest.raises(InputError, match="bench_cpu_share"):
        read_results(str(path))


def test_the_worker_records_its_share_of_the_cpu() -> None:
    def sleeping(loops: int) -> float:
        time.sleep(loops * 2e-3)
        return loops * 2e-3

    waited = time_values(sleeping, 2, 1, 3)["metadata"]["bench_cpu_share"]
    busy = time_values(lambda loops: float(sum(range(loops * 20_000)) * 0 + 1e-3), 2, 1, 3,
                       canary=True)["metadata"]["bench_cpu_share"]
    assert 0 < waited < 0.2 and 0 < busy <= 1.0
