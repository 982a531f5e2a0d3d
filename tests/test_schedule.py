"""bench.run.schedule: round-robin passes, precision where the noise is, the day's noise."""

from __future__ import annotations

import random
import statistics
import subprocess
import sys

import pyperf
import pytest

from bench.location import locate_case
from bench.results import read_results
from bench.run.schedule import Scheduler, describe_noise, describe_precision, measure_noise


def fake_process(mean: float, step: int) -> pyperf.Benchmark:
    """A one-process pyperf Benchmark whose values average `mean`, labelled with its pass."""
    run = pyperf.Run([mean * 0.99, mean * 1.01], metadata={"name": "x", "bench_pass": step},
                     collect_metadata=False)
    return pyperf.Benchmark([run])


def drive(plan: Scheduler, draw, seconds_per_process: float = 1.0) -> list[str]:
    """Run the plan on a fake clock: each process takes `seconds_per_process` and its mean
    comes from draw(case). Returns the order of cases."""
    now = [0.0]
    order = []
    for name in plan.order(lambda: now[0]):
        order.append(name)
        now[0] += seconds_per_process
        plan.record(name, fake_process(draw(name), len(plan.tracks[name].means) + 1),
                    seconds_per_process)
    return order


def test_passes_go_round_robin_over_the_cases():
    plan = Scheduler(["a", "b", "c"], passes=3)
    assert drive(plan, lambda name: 1.0) == ["a", "b", "c"] * 3


def test_a_failed_case_leaves_the_passes():
    plan = Scheduler(["a", "b"], passes=3)
    now, order = [0.0], []
    for name in plan.order(lambda: now[0]):
        order.append(name)
        plan.record(name, None if name == "b" else fake_process(1.0, 1), 1.0)
    assert order == ["a", "b", "a", "a"]


def test_a_noisy_case_gets_more_processes_than_a_quiet_one_within_the_budget():
    rng = random.Random(7)
    noise = {"quiet": 0.005, "noisy": 0.10, "medium": 0.03}
    plan = Scheduler(list(noise), passes=3, target=0.03, budget=40)
    order = drive(plan, lambda name: rng.lognormvariate(0, noise[name]))
    counts = {name: order.count(name) for name in noise}
    assert counts["quiet"] == 3 and counts["noisy"] > counts["medium"] >= 3
    assert len(order) <= 40  # one second each: the budget holds
    summary = plan.summary()
    assert summary["processes"] == len(order) and summary["under_target"] >= 1
    assert summary["missed_budget"] + summary["missed_never_settles"] + summary["under_target"] == 3


def test_the_budget_counts_from_when_the_run_started():
    """Time spent before the first process (the capability matrix) comes out of the budget."""
    rng = random.Random(7)
    plan = Scheduler(["noisy"], passes=3, target=0.03, budget=40, started=-35.0)
    order = drive(plan, lambda name: rng.lognormvariate(0, 0.1))
    assert len(order) == 3 + 2  # the passes, then 40 - 35 - 3 s of adaptive processes


def test_the_schedule_judges_a_case_by_its_fastest_half():
    """Slow spells take a third of every case's processes: the mean of all processes never
    reaches a 3% interval, the fastest half does, and the schedule judges by it."""
    from bench.location import relative_half_width

    rng = random.Random(5)
    cases = [f"case-{i}" for i in range(20)]
    plan = Scheduler(cases, passes=3, target=0.03, budget=400)

    def draw(name: str) -> float:
        return rng.gauss(1.0, 0.005) * (1.5 if rng.random() < 1 / 3 else 1.0)

    order = drive(plan, draw)
    summary = plan.summary()
    assert summary["under_target"] >= 15 and len(order) < 400
    assert describe_precision(summary).startswith("median 95% CI half-width")
    means = [t.means for t in plan.tracks.values()]
    assert statistics.median(relative_half_width(m, method="mean") for m in means) > 0.03


def test_a_case_that_never_settles_stops_at_the_process_cap():
    rng = random.Random(3)
    plan = Scheduler(["wild"], passes=3, target=0.001, budget=10_000, max_processes=8)
    order = drive(plan, lambda name: rng.lognormvariate(0, 0.3))
    assert len(order) == 8
    assert plan.summary()["missed_never_settles"] == 1 and plan.summary()["missed_budget"] == 0


def test_the_noise_of_a_run_shows_a_slow_pass():
    rng = random.Random(1)
    slow = {1: 1.0, 2: 1.4, 3: 1.0, 4: 1.0}  # the machine 40% slower during pass 2
    benchmarks = []
    for case in range(30):
        runs = [pyperf.Run([v, v], metadata={"name": f"c{case}", "bench_pass": step},
                           collect_metadata=False)
                for step, v in ((s, (case + 1) * slow[s] * rng.lognormvariate(0, 0.02))
                                for s in slow)]
        benchmarks.append(pyperf.Benchmark(runs))
    noise = measure_noise(benchmarks)
    factors = noise["pass_factors"]
    assert len(factors) == 4 and factors[1] / factors[0] == pytest.approx(1.4, rel=0.05)
    assert noise["cases"] == 30 and 0.1 < noise["process_cv"] < 0.3
    assert "not reliable" in describe_noise(noise)
    assert describe_noise(measure_noise(benchmarks[:0])).startswith("noise not measured")


@pytest.mark.slow
def test_a_run_interleaves_the_processes_of_its_cases(tmp_path):
    path = tmp_path / "rr.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "--profile", "smoke",
                           "-k", "ser/pickle-5/dumps/*", "-k", "ser/marshal/dumps/*",
                           "-k", "fold/loop/sum/*", "-p", "3", "-o", str(path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = read_results(path)
    stamped = sorted((run.get_metadata()["date"], bench.get_name(), run.get_metadata()["bench_pass"])
                     for bench in results.benchmarks for run in bench.get_runs() if run.values)
    names = [name for _, name, _ in stamped]
    assert len(set(names)) >= 3
    for name in set(names):
        at = [i for i, n in enumerate(names) if n == name]
        assert len(at) == 3 and at[-1] - at[0] > 2  # never all adjacent
    passes = [step for _, _, step in stamped]
    assert passes == sorted(passes)  # pass 1 of every case, then pass 2 ...
    assert results.noise["passes"] == 3 and len(results.noise["pass_factors"]) == 3
    assert all(r.get_metadata()["gc_enabled"] == 1 for b in results.benchmarks for r in b.get_runs())
    assert "noise" in proc.stderr
    from bench.report.render import build_report

    html = build_report([path])
    assert "Noise of the day" in html and "per-process noise" in html


@pytest.mark.slow
def test_compare_names_the_noise_each_run_recorded(tmp_path, run_bench):
    from bench.results import Results, write_results

    for name, cv in (("base", 0.02), ("head", 0.11)):
        benchmarks = [pyperf.Benchmark([pyperf.Run([v * (1 + 0.01 * p), v], metadata={
            "name": f"ser/pickle-5/dumps/ints/{v}", "bench_pass": p, "loops": 1},
            collect_metadata=False) for p in (1, 2, 3)]) for v in (10, 20, 30)]
        write_results(Results(benchmarks, {}, str(tmp_path / f"{name}.json"),
                              noise={"process_cv": cv, "pass_factors": [1.0, 1.01, 1.02]}))
    proc = run_bench("compare", str(tmp_path / "base.json"), str(tmp_path / "head.json"))
    assert proc.returncode == 0, proc.stderr
    assert "base: per-process noise 2.0% in this run" in proc.stdout
    assert "head: per-process noise 11.0% in this run" in proc.stdout
    assert read_results(tmp_path / "head.json").noise["process_cv"] == 0.11


def test_cases_the_schedule_stopped_early_keep_honest_intervals():
    """Three processes estimate a spread loosely; stopping the cases whose spread looked
    small leaves them with intervals that miss their true mean. The run's noise floor, in
    the stopping rule and in the intervals, keeps 95% intervals covering 95%."""

    class Unfloored(Scheduler):
        def floor(self) -> float:
            return 0.0

    def coverage(kind: type[Scheduler]) -> float:
        rng = random.Random(3)
        plan = kind([f"case-{i}" for i in range(600)], passes=3, target=0.03, budget=3000)
        drive(plan, lambda name: rng.gauss(1.0, 0.03))  # every case: true mean 1, process sd 3%
        floor = plan.floor()
        assert plan.summary()["noise_floor"] == floor
        found = [locate_case(t.means, floor) for t in plan.tracks.values()]
        assert all(f.high / f.value - 1 == pytest.approx(t.half_width(floor))
                   for f, t in zip(found, plan.tracks.values()))
        hits = [f.low <= 1.0 <= f.high for f in found]
        return sum(hits) / len(hits)

    assert coverage(Scheduler) >= 0.95
    assert coverage(Unfloored) < 0.95
