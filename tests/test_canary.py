"""The canary correction (bench.correction.correct_processes): synthetic runs of known answer.

Each synthetic run has cases of known true times, and a machine whose speed moves from process
to process along a known curve; every process's values and its canary are slowed by the
machine's speed at its moment (plus a little noise of their own).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pyperf
import pytest

from bench.correction import CANARY_MIN_PROCESSES, correct_processes
from bench.frame import (
    describe_runs,
    environment_differences,
    load_results,
    process_means,
    summarize,
)
from bench.gate.estimates import locate_units, log_process_means
from bench.location import relative_half_width
from bench.results import Results, read_runs, write_results
from bench.run.schedule import Scheduler, describe_noise, measure_noise
from bench.run.worker import canary_work, time_values

CANARY = 0.5e-3  # seconds of the canary on a quiet machine


def machine_speed(n: int) -> np.ndarray:
    """A known curve of the machine's slowness, one per process in run order: a slow drift
    and fast swings of up to 1.8x, as a busy host."""
    t = np.arange(n)
    return 1.0 + 0.3 * np.sin(t / 7.0) ** 2 + 0.5 * (np.sin(t * 1.7) > 0.6)


def synthetic_run(true: dict[str, float], processes: int, seed: int, interpreter: float = 1.0,
                  step: tuple[str, float] | None = None, canary: bool = True
                  ) -> list[pyperf.Benchmark]:
    """pyperf Benchmarks of one run: round-robin passes over the cases, each process slowed by
    machine_speed at its moment (and by `interpreter`, which slows the canary too); `step`
    (case, factor) makes that case's second half of processes `factor` slower (its own change)."""
    rng = np.random.default_rng(seed)
    names = list(true)
    speed = machine_speed(processes * len(names))
    runs: dict[str, list[pyperf.Run]] = {name: [] for name in names}
    for k in range(processes):
        for i, name in enumerate(names):
            slow = speed[k * len(names) + i] * interpreter
            own = step[1] if step and name == step[0] and k >= processes // 2 else 1.0
            mean = true[name] * own * slow * math.exp(rng.normal(0, 0.01))
            metadata = {"name": name, "bench_pass": k + 1, "loops": 10}
            if canary:
                metadata["bench_canary"] = CANARY * slow * math.exp(rng.normal(0, 0.01))
            runs[name].append(pyperf.Run([mean * 0.995, mean * 1.005], metadata=metadata,
                                         collect_metadata=False))
    return [pyperf.Benchmark(r) for r in runs.values()]


def cases(count: int, suite: str = "ser") -> dict[str, float]:
    """`count` cases of known true times from 1 us to 1 ms."""
    return {f"{suite}/s{i}/dumps/ints/1000": 10.0 ** (-6 + 3 * i / max(count - 1, 1))
            for i in range(count)}


def flatten(benchmarks: list[pyperf.Benchmark]) -> tuple[list[str], list[float], list[float]]:
    names, means, canaries = [], [], []
    for b in benchmarks:
        for run in b.get_runs():
            names.append(b.get_name())
            means.append(float(np.mean(run.values)))
            canaries.append(run.get_metadata().get("bench_canary", math.nan))
    return names, means, canaries


def write(path: Path, benchmarks: list[pyperf.Benchmark]) -> Path:
    pyperf.BenchmarkSuite(benchmarks).dump(str(path), replace=True)
    return path


def test_the_machine_curve_is_recovered() -> None:
    true = cases(12)
    names, means, canaries = flatten(synthetic_run(true, 6, seed=1))
    fixed, how = correct_processes(names, means, canaries)
    raw = np.asarray(means) / np.asarray([true[n] for n in names])
    corrected = fixed / np.asarray([true[n] for n in names])
    implied = raw / corrected  # the machine's slowness the correction divided out
    order = np.argsort([(int(i % 6), n) for i, n in enumerate(names)], axis=0)[:, 0]
    assert how.slopes["ser"] == pytest.approx(1.0, abs=0.05)
    assert np.corrcoef(implied, raw)[0, 1] > 0.99 and order.size == len(names)
    assert np.std(np.log(raw)) > 0.15 > 0.02 > np.std(np.log(corrected))  # 1.8x swings gone
    assert how.noise_before > 0.15 and how.noise_after < 0.03
    # scaled back to the run's typical (fastest-half) machine: within its fast state
    assert 0.95 < float(np.median(corrected)) < 1.2


def test_a_case_with_a_step_is_not_smeared_into_its_neighbours(tmp_path: Path) -> None:
    true = cases(12)
    step = "ser/s5/dumps/ints/1000"
    plain = load_results([write(tmp_path / "plain.json", synthetic_run(true, 6, 2))])
    frame = load_results([write(tmp_path / "step.json", synthetic_run(true, 6, 2, step=(step, 3.0)))])
    located = [summarize(f).set_index("benchmark")["mean"] for f in (plain, frame)]
    others = [n for n in true if n != step]
    moved = (located[1][others] / located[0][others]).to_numpy()
    assert np.all(np.abs(moved - 1) < 0.005)  # the neighbours stay where they were
    own = process_means(frame).query("benchmark == @step")["mean"].to_numpy()
    assert own[3:].mean() / own[:3].mean() == pytest.approx(3.0, rel=0.05)  # the step stays its own


def test_a_slower_interpreter_is_a_real_change_and_is_flagged(tmp_path: Path) -> None:
    true = cases(12)
    base = write(tmp_path / "base.json", synthetic_run(true, 6, 3))
    head = write(tmp_path / "head.json", synthetic_run(true, 6, 4, interpreter=1.3))
    frame = load_results([base, head])
    located = summarize(frame).pivot(index="benchmark", columns="run", values="mean")
    ratios = (located["head"] / located["base"]).to_numpy()
    assert np.all(np.abs(ratios - 1.3) < 0.05)  # the correction does not divide it out
    lines = environment_differences(describe_runs(read_runs([base, head])), ["base"])
    assert any(line.startswith("canary: ") and "1.30x" in line for line in lines), lines
    same = write(tmp_path / "same.json", synthetic_run(true, 6, 5))
    assert not any(line.startswith("canary") for line in
                   environment_differences(describe_runs(read_runs([base, same])), ["base"]))


def test_too_few_processes_fall_back_and_bench_noise_says_so() -> None:
    few = synthetic_run(cases(3), 4, seed=6)  # 12 processes: too few to learn a slope
    assert CANARY_MIN_PROCESSES > 3 * 4
    noise = measure_noise(few)
    assert noise["canary_corrected"] == 0.0
    assert noise["process_cv"] == noise["process_cv_raw"]
    assert "not corrected by the canary" in describe_noise(noise)
    names, means, canaries = flatten(few)
    fixed, how = correct_processes(names, means, canaries)
    assert np.array_equal(fixed, means) and not how.slopes and "too few" in how.note
    enough = measure_noise(synthetic_run(cases(12), 6, seed=6))
    assert enough["canary_corrected"] == 1.0 and enough["process_cv"] < enough["process_cv_raw"] / 5
    assert "before)" in describe_noise(enough)


def test_runs_without_a_canary_are_located_as_before(tmp_path: Path) -> None:
    """`bench ab` and --metric instructions time no canary: their values are not touched."""
    path = write(tmp_path / "ab.json", synthetic_run(cases(12), 6, 7, canary=False))
    frame = load_results([path])
    assert frame["canary"].isna().all()
    noise = measure_noise(synthetic_run(cases(12), 6, 7, canary=False))
    assert noise["canary_corrected"] == 0.0 and noise["canary_typical"] is None
    assert "canary" not in describe_noise(noise)


def test_a_case_without_a_canary_on_every_process_is_left_as_timed() -> None:
    names, means, canaries = flatten(synthetic_run(cases(12), 6, seed=8))
    canaries[0] = math.nan  # the first case's first process has none (a resumed older file)
    fixed, how = correct_processes(names, means, canaries)
    first = [i for i, n in enumerate(names) if n == names[0]]
    assert np.array_equal(fixed[first], np.asarray(means)[first])
    assert "without a canary" in how.note and how.corrected < 1.0


def test_the_schedule_spends_processes_by_the_corrected_width() -> None:
    true = cases(12)
    benchmarks = synthetic_run(true, 5, seed=9)
    plan = Scheduler(list(true), passes=5, target=0.03, budget=100.0)
    for b in benchmarks:
        for run in b.get_runs():
            plan.record(b.get_name(), pyperf.Benchmark([run]), 1.0)
    plan.floor()
    track = plan.tracks[list(true)[0]]
    assert track.half_width() < relative_half_width(track.means) / 3


def test_the_worker_times_the_canary_between_its_values() -> None:
    assert canary_work(10) == canary_work(10)  # the same work in every process
    result = time_values(lambda loops: loops * 1e-3, 2, 1, 3, canary=True)
    assert result["metadata"]["bench_canary"] > 0
    assert 0 < result["metadata"]["bench_canary_min"] <= result["metadata"]["bench_canary"]
    assert "bench_canary" not in time_values(lambda loops: loops * 1e-3, 2, 1, 3)["metadata"]


def test_the_noise_banner_gives_the_noise_before_and_after(tmp_path: Path) -> None:
    benchmarks = synthetic_run(cases(12), 6, seed=10)
    path = str(tmp_path / "run.json")
    write_results(Results(benchmarks, path=path, noise=measure_noise(benchmarks)))
    noise = describe_runs(read_runs([path]))["noise"].iloc[0]  # the report's "Noise of the day"
    before = re.search(r"per-process noise ([\d.]+)% after the canary correction \(([\d.]+)% before\)",
                       noise)
    assert before is not None, noise
    assert float(before[1]) < 3 < 15 < float(before[2])


def test_the_gate_and_the_summary_locate_a_corrected_case_alike(tmp_path: Path) -> None:
    frame = load_results([write(tmp_path / "run.json", synthetic_run(cases(12), 5, seed=12))])
    summary = summarize(frame).set_index("benchmark")["mean"]
    units = locate_units(log_process_means(frame), "run").set_index("benchmark")
    assert np.allclose(np.exp(units["loc"]), summary[units.index])
    raw = process_means(frame)
    assert not np.allclose(raw["mean"], raw["raw_mean"])  # both located the corrected means
