"""Are a run's confidence intervals honest? Each run's 95% CI of a case's mean against the
mean of all runs.

    python scripts/coverage_runs.py results/aa-1.json results/aa-2.json ... results/aa-5.json

For every case timed in every file: the run's 95% CI (Student t over its process means, the
spread floored at the run's noise floor, as `bench run` and the report compute it) and
whether it covers the mean of the runs' means (`--no-floor`: the plain t interval).
Prints the share of (case, run) pairs covered (an honest 95% CI covers it in about 90% or
more of them: the grand mean itself carries each run's noise) and the cases covered least.
"""

from __future__ import annotations

import argparse
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


def count_covered(means: list[list[float]], floors: list[float]) -> int:
    """How many runs' 95% CIs cover the mean of the runs' means."""
    centre = statistics.fmean(statistics.fmean(m) for m in means)
    covered = 0
    for m, floor in zip(means, floors):
        mean = statistics.fmean(m)
        half = float(t_half_width(max(statistics.stdev(m), floor * mean), len(m)))
        covered += abs(mean - centre) <= half
    return covered


def run_floors(cases: dict[str, list[list[float]]], runs: int) -> list[float]:
    """Each run's noise floor over the cases."""
    return [noise_floor([statistics.stdev(means[r]) / statistics.fmean(means[r])
                         for means in cases.values()]) for r in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="results files of independent runs (3 or more)")
    parser.add_argument("--no-floor", action="store_true", help="plain t intervals")
    args = parser.parse_args()
    cases = read_means(args.paths)
    floors = [0.0] * len(args.paths) if args.no_floor else run_floors(cases, len(args.paths))
    counts = {name: count_covered(means, floors) for name, means in cases.items()}
    pairs = len(cases) * len(args.paths)
    print(f"{len(cases)} cases in all {len(args.paths)} runs: each run's 95% CI covers the mean "
          f"of the runs in {sum(counts.values())} of {pairs} (case, run) pairs "
          f"({sum(counts.values()) / pairs:.1%})")
    worst = sorted(counts.items(), key=lambda item: item[1])[:5]
    print("covered least: " + ", ".join(f"{name} ({n}/{len(args.paths)})" for name, n in worst))


if __name__ == "__main__":
    main()
