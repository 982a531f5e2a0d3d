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
uncovered then is not the machine moving as a whole. `--fastest-half` takes each run's
estimate of a case as the regression gate does (bench.gate.estimates.locate: the mean of the
fastest half of its process means, Yuen's interval), floored likewise.
"""

from __future__ import annotations

import argparse
import math
import statistics

import numpy as np

from bench.frame import noise_floor, t_half_width
from bench.gate.estimates import locate
from bench.results import read_results
from bench.schedule import process_means


def read_means(paths: list[str]) -> dict[str, list[list[float]]]:
    """Case -> one list of process means per file, for the cases every file timed."""
    runs = [{b.get_name(): process_means(b) for b in read_results(p).benchmarks} for p in paths]
    common = set.intersection(*(set(run) for run in runs))
    return {name: [run[name] for run in runs] for name in sorted(common)
            if all(len(run[name]) >= 2 for run in runs)}


def spread_of(means: list[float], fastest_half: bool) -> float:
    """A run's relative spread of one case's process means: their stdev over their mean, or
    with `fastest_half` the winsorized stdev of their logs behind the gate's location."""
    if not fastest_half:
        return statistics.stdev(means) / statistics.fmean(means)
    _, var, df = locate(np.log(means))
    kept = df + 1
    return math.sqrt(var * kept * df / (len(means) - 1)) if df > 0 else math.nan


def interval_of(means: list[float], floor: float, fastest_half: bool) -> tuple[float, float]:
    """A run's estimate of one case and the half-width of its 95% CI, the spread floored at
    `floor`: the mean of the process means (Student t), or with `fastest_half` the log of the
    mean of their fastest half (bench.gate.estimates.locate: Yuen's variance, t on kept - 1 df)."""
    if not fastest_half:
        mean = statistics.fmean(means)
        return mean, float(t_half_width(max(statistics.stdev(means), floor * mean), len(means)))
    location, variance, df = locate(np.log(means))
    kept = int(df) + 1
    # the floor on the winsorized spread, as a floor on the variance of the location
    variance = max(variance, (len(means) - 1) * floor**2 / (kept * df))
    return location, float(t_half_width(math.sqrt(variance * kept), kept))


def flag_covered(means: list[list[float]], floors: list[float], fastest_half: bool = False
                 ) -> list[bool]:
    """Per run: whether its 95% CI covers the mean of the runs' estimates."""
    estimates = [interval_of(m, floor, fastest_half) for m, floor in zip(means, floors)]
    centre = statistics.fmean(centre for centre, _ in estimates)
    return [abs(value - centre) <= half for value, half in estimates]


def width_over_estimate(half: float, value: float, fastest_half: bool) -> float:
    """A half-width over its estimate (on the log scale already with `fastest_half`)."""
    return math.expm1(half) if fastest_half else half / value


def run_shifts(cases: dict[str, list[list[float]]], runs: int, fastest_half: bool = False
               ) -> list[float]:
    """Each run's shift: the median over cases of its estimate against their mean over runs."""
    logs: list[list[float]] = [[] for _ in range(runs)]
    for means in cases.values():
        run_means = [math.exp(interval_of(m, 0.0, True)[0]) if fastest_half
                     else statistics.fmean(m) for m in means]
        centre = statistics.fmean(run_means)
        for r, mean in enumerate(run_means):
            logs[r].append(math.log(mean / centre))
    return [math.exp(statistics.median(column)) for column in logs]


def remove_shifts(cases: dict[str, list[list[float]]], shifts: list[float]
                  ) -> dict[str, list[list[float]]]:
    """The process means with each run's shift divided out."""
    return {name: [[value / shift for value in m] for m, shift in zip(means, shifts)]
            for name, means in cases.items()}


def run_floors(cases: dict[str, list[list[float]]], runs: int, fastest_half: bool = False
               ) -> list[float]:
    """Each run's noise floor over the cases' spreads."""
    return [noise_floor([spread_of(means[r], fastest_half) for means in cases.values()])
            for r in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="results files of independent runs (3 or more)")
    parser.add_argument("--no-floor", action="store_true", help="plain t intervals")
    parser.add_argument("--fastest-half", action="store_true",
                        help="each run's estimate is the gate's: the mean of the fastest half")
    parser.add_argument("--net-of-shift", action="store_true",
                        help="divide each run's means by its shift (the whole machine's) first")
    args = parser.parse_args()
    cases = read_means(args.paths)
    shifts = run_shifts(cases, len(args.paths), args.fastest_half)
    if args.net_of_shift:
        cases = remove_shifts(cases, shifts)
    half_ = args.fastest_half
    floors = ([0.0] * len(args.paths) if args.no_floor
              else run_floors(cases, len(args.paths), half_))
    flags = {name: flag_covered(means, floors, half_) for name, means in cases.items()}
    widths = [[width_over_estimate(*interval_of(means[r], floors[r], half_)[::-1], half_)
               for means in cases.values()] for r in range(len(args.paths))]
    counts = {name: sum(f) for name, f in flags.items()}
    pairs = len(cases) * len(args.paths)
    print(f"{len(cases)} cases in all {len(args.paths)} runs: each run's 95% CI covers the mean "
          f"of the runs in {sum(counts.values())} of {pairs} (case, run) pairs "
          f"({sum(counts.values()) / pairs:.1%})")
    print(f"median 95% CI half-width {statistics.median(w for run in widths for w in run):.1%} "
          f"({'the fastest half' if half_ else 'the mean'} of each case's process means)")
    worst = sorted(counts.items(), key=lambda item: item[1])[:5]
    print("covered least: " + ", ".join(f"{name} ({n}/{len(args.paths)})" for name, n in worst))
    for r, path in enumerate(args.paths):
        noise = read_results(path).noise.get("process_cv")
        covered = sum(f[r] for f in flags.values()) / len(cases)
        print(f"{path}: per-process noise {'-' if noise is None else f'{noise:.1%}'}, "
              f"shift {shifts[r]:.3f}x, median half-width {statistics.median(widths[r]):.1%}, "
              f"covered {covered:.0%}")


if __name__ == "__main__":
    main()
