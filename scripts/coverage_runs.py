"""Are a run's confidence intervals honest? Each run's 95% CI of a case's mean against the
mean of all runs.

    python scripts/coverage_runs.py results/aa-1.json results/aa-2.json ... results/aa-5.json

For every case timed in every file: the run's 95% CI (Student t over its process means, the
spread floored at the run's noise floor, as `bench run` and the report compute it) and
whether it covers the mean of the runs' means (`--no-floor`: the plain t interval).
Prints the share of (case, run) pairs covered (an honest 95% CI covers it in about 90% or
more of them: the grand mean itself carries each run's noise), the cases covered least, and
per run: its per-process noise, its shift (the median over cases of the run's mean against
the mean of the runs: the whole machine faster or slower than on average) and the share of
its cases covered. `--net-of-shift` divides each run's means by its shift first: what is left
uncovered then is not the machine moving as a whole.
"""

from __future__ import annotations

import argparse
import math
import statistics

from bench.frame import noise_floor, t_half_width
from bench.results import read_results
from bench.schedule import process_means


def read_means(paths: list[str]) -> dict[str, list[list[float]]]:
    """Case -> one list of process means per file, for the cases every file timed."""
    runs = [{b.get_name(): process_means(b) for b in read_results(p).benchmarks} for p in paths]
    common = set.intersection(*(set(run) for run in runs))
    return {name: [run[name] for run in runs] for name in sorted(common)
            if all(len(run[name]) >= 2 for run in runs)}


def flag_covered(means: list[list[float]], floors: list[float]) -> list[bool]:
    """Per run: whether its 95% CI covers the mean of the runs' means."""
    centre = statistics.fmean(statistics.fmean(m) for m in means)
    flags = []
    for m, floor in zip(means, floors):
        mean = statistics.fmean(m)
        half = float(t_half_width(max(statistics.stdev(m), floor * mean), len(m)))
        flags.append(abs(mean - centre) <= half)
    return flags


def run_shifts(cases: dict[str, list[list[float]]], runs: int) -> list[float]:
    """Each run's shift: the median over cases of its mean against the mean of the runs."""
    logs: list[list[float]] = [[] for _ in range(runs)]
    for means in cases.values():
        run_means = [statistics.fmean(m) for m in means]
        centre = statistics.fmean(run_means)
        for r, mean in enumerate(run_means):
            logs[r].append(math.log(mean / centre))
    return [math.exp(statistics.median(column)) for column in logs]


def remove_shifts(cases: dict[str, list[list[float]]], shifts: list[float]
                  ) -> dict[str, list[list[float]]]:
    """The process means with each run's shift divided out."""
    return {name: [[value / shift for value in m] for m, shift in zip(means, shifts)]
            for name, means in cases.items()}


def run_floors(cases: dict[str, list[list[float]]], runs: int) -> list[float]:
    """Each run's noise floor over the cases."""
    return [noise_floor([statistics.stdev(means[r]) / statistics.fmean(means[r])
                         for means in cases.values()]) for r in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="results files of independent runs (3 or more)")
    parser.add_argument("--no-floor", action="store_true", help="plain t intervals")
    parser.add_argument("--net-of-shift", action="store_true",
                        help="divide each run's means by its shift (the whole machine's) first")
    args = parser.parse_args()
    cases = read_means(args.paths)
    shifts = run_shifts(cases, len(args.paths))
    if args.net_of_shift:
        cases = remove_shifts(cases, shifts)
    floors = [0.0] * len(args.paths) if args.no_floor else run_floors(cases, len(args.paths))
    flags = {name: flag_covered(means, floors) for name, means in cases.items()}
    counts = {name: sum(f) for name, f in flags.items()}
    pairs = len(cases) * len(args.paths)
    print(f"{len(cases)} cases in all {len(args.paths)} runs: each run's 95% CI covers the mean "
          f"of the runs in {sum(counts.values())} of {pairs} (case, run) pairs "
          f"({sum(counts.values()) / pairs:.1%})")
    worst = sorted(counts.items(), key=lambda item: item[1])[:5]
    print("covered least: " + ", ".join(f"{name} ({n}/{len(args.paths)})" for name, n in worst))
    for r, path in enumerate(args.paths):
        noise = read_results(path).noise.get("process_cv")
        covered = sum(f[r] for f in flags.values()) / len(cases)
        print(f"{path}: per-process noise {'-' if noise is None else f'{noise:.1%}'}, "
              f"shift {shifts[r]:.3f}x, covered {covered:.0%}")


if __name__ == "__main__":
    main()
