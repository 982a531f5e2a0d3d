"""Are a run's confidence intervals honest? Each run's 95% CI of a case against the mean of
all runs' estimates of it.

    python scripts/coverage_runs.py results/aa-1.json results/aa-2.json ... results/aa-5.json

For every case timed in every file: the run's location and 95% CI as `bench run` and the
report compute them (bench.location: the mean of the fastest half of the process means, the
spread floored at the run's noise floor, on process means corrected by their canaries; `--raw`:
as timed) and whether it covers the mean of the runs' locations. `--mean` locates every case
by the plain mean of its process means (Student t) instead; `--no-floor` leaves the spreads
unfloored. `--shrink` shrinks each case's variance toward its suite's common value (the limma
prior of bench.gate.estimates), so the interval borrows the suite's degrees of freedom;
`--floor` locates each process's fastest value corrected by its fastest canary
(`bench_canary_min`) instead of its mean by its mean canary.
Prints the share of (case, run) pairs covered (an honest 95% CI covers it in about 90% or
more of them: the mean of the runs itself carries each run's noise), the cases covered
least, and per run: how it was located, its per-process noise, its shift (the median over
cases of the run's location against the mean of the runs: the whole machine faster or slower
than on average) beside its typical canary against the runs' mean (the machine's own speed
in that run), and the share of its cases covered. `--net-of-shift` divides each run's
process means by its shift first: what is left uncovered then is not the machine moving as
a whole.
"""

from __future__ import annotations

import argparse
import math
import statistics

import numpy as np
from canary_estimators import process_floors  # scripts/ is the path of a script run

from bench.correction import correct_processes, typical_canary
from bench.gate.estimates import fit_variance_prior
from bench.location import (
    FASTEST_HALF,
    MEAN,
    Interval,
    interval_from_log,
    locate,
    locate_case,
    noise_floor,
    run_noise,
    spread_of,
    t_quantile,
)
from bench.results import read_results
from bench.run.schedule import process_canaries, process_means


def run_means(path: str, raw: bool = False, floor: bool = False) -> dict[str, list[float]]:
    """Case -> its process means in one results file, corrected by their canaries as bench
    locates them (bench.correction.correct_processes), or as timed with `raw`; with `floor`,
    each process's fastest value corrected by its fastest canary (`bench_canary_min`)."""
    benchmarks = read_results(path).benchmarks
    if floor:
        floors = {b.get_name(): process_floors(b) for b in benchmarks}
        means = {name: fastest for name, (fastest, _) in floors.items()}
        canaries = [c for b in benchmarks for c in floors[b.get_name()][1]]
    else:
        means = {b.get_name(): process_means(b) for b in benchmarks}
        canaries = [c for b in benchmarks for c in process_canaries(b)]
    if raw:
        return means
    names = [b.get_name() for b in benchmarks for _ in means[b.get_name()]]
    fixed, _ = correct_processes(names, [m for b in benchmarks for m in means[b.get_name()]], canaries)
    out, start = {}, 0
    for b in benchmarks:
        count = len(means[b.get_name()])
        out[b.get_name()] = fixed[start:start + count].tolist()
        start += count
    return out


def read_means(paths: list[str], raw: bool = False, floor: bool = False
               ) -> tuple[dict[str, list[list[float]]], list[float | None]]:
    """Case -> one list of process means per file, for the cases every file timed with 2+
    processes; and each file's per-process noise over all its cases."""
    runs = [run_means(p, raw, floor) for p in paths]
    common = set.intersection(*(set(run) for run in runs))
    cases = {name: [run[name] for run in runs] for name in sorted(common)
             if all(len(run[name]) >= 2 for run in runs)}
    return cases, [run_noise(run.values()) for run in runs]


def run_canaries(paths: list[str]) -> list[float]:
    """Each file's typical canary (bench.correction.typical_canary; NaN: none timed) over their
    geometric mean: the machine's speed in each run, which its shift follows when the machine
    itself moved between runs (the correction keeps that, see bench.correction)."""
    typical = [typical_canary([c for b in read_results(p).benchmarks for c in process_canaries(b)
                               if math.isfinite(c)]) for p in paths]
    finite = [t for t in typical if math.isfinite(t) and t > 0]
    centre = math.exp(statistics.fmean(math.log(t) for t in finite)) if finite else math.nan
    return [t / centre for t in typical]


def locate_runs(means: list[list[float]], floors: list[float], method: str = FASTEST_HALF
                ) -> list[Interval]:
    """One case's location in each run."""
    return [locate_case(m, floor, method) for m, floor in zip(means, floors)]


def locate_shrunk(cases: dict[str, list[list[float]]], run: int, floor: float) -> dict[str, Interval]:
    """Each case's fastest half in one run with its Yuen variance shrunk toward the common value
    of its suite's cases (the limma prior of the gate, bench.gate.estimates.fit_variance_prior):
    the t quantile then has the prior's degrees of freedom besides the case's own 1-2."""
    found: dict[str, tuple[float, float, float, int]] = {}
    for name, means in cases.items():
        centre, variance, df = locate(np.log(means[run]))
        n, kept = len(means[run]), df + 1  # the winsorized variance of the logs, from the location's
        found[name] = (centre, variance * kept * df / (n - 1) if df > 0 else math.nan, df, n)
    out = {}
    for suite in {name.split("/")[0] for name in found}:
        names = [name for name in found if name.split("/")[0] == suite]
        s2 = np.array([found[name][1] for name in names])
        dfs = np.array([found[name][2] for name in names])
        s0, d0 = fit_variance_prior(s2, dfs)
        for name in names:
            centre, var, df, n = found[name]
            if df <= 0:
                out[name] = Interval(math.exp(centre), math.nan, math.nan)
                continue
            if d0 > 0:
                var, df = (d0 * s0 + df * var) / (d0 + df), df + d0
            var = max(var, floor ** 2)
            kept = found[name][2] + 1
            half = t_quantile(df) * math.sqrt(var * (n - 1) / (kept * (kept - 1)))
            out[name] = interval_from_log(centre, half)
    return out


def covers_mean(found: list[Interval]) -> list[bool]:
    """Per run: whether its 95% CI covers the mean of the runs' locations."""
    centre = statistics.fmean(f.value for f in found)
    return [f.low <= centre <= f.high for f in found]


def flag_covered(means: list[list[float]], floors: list[float], method: str = FASTEST_HALF
                 ) -> list[bool]:
    """Per run: whether its 95% CI of one case covers the mean of the runs' locations."""
    return covers_mean(locate_runs(means, floors, method))


def run_shifts(cases: dict[str, list[list[float]]], runs: int, method: str = FASTEST_HALF
               ) -> list[float]:
    """Each run's shift: the median over cases of its location against their mean over runs."""
    logs: list[list[float]] = [[] for _ in range(runs)]
    for means in cases.values():
        values = [f.value for f in locate_runs(means, [0.0] * runs, method)]
        centre = statistics.fmean(values)
        for r, value in enumerate(values):
            logs[r].append(math.log(value / centre))
    return [math.exp(statistics.median(column)) for column in logs]


def remove_shifts(cases: dict[str, list[list[float]]], shifts: list[float]
                  ) -> dict[str, list[list[float]]]:
    """The process means with each run's shift divided out."""
    return {name: [[value / shift for value in m] for m, shift in zip(means, shifts)]
            for name, means in cases.items()}


def run_floors(cases: dict[str, list[list[float]]], runs: int, method: str = FASTEST_HALF
               ) -> list[float]:
    """Each run's noise floor over the cases' spreads, as `method` sees them."""
    return [noise_floor(spread_of(means[r], method) for means in cases.values())
            for r in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="results files of independent runs (3 or more)")
    parser.add_argument("--no-floor", action="store_true", help="plain t intervals")
    parser.add_argument("--mean", action="store_const", const=MEAN, default=FASTEST_HALF,
                        dest="method", help="locate by the plain mean of the process means")
    parser.add_argument("--raw", action="store_true",
                        help="the process means as timed, without the canary's correction")
    parser.add_argument("--net-of-shift", action="store_true",
                        help="divide each run's means by its shift (the whole machine's) first")
    parser.add_argument("--floor", action="store_true",
                        help="each process's fastest value by its fastest canary (bench_canary_min)")
    parser.add_argument("--shrink", action="store_true",
                        help="the fastest half's variance shrunk toward its suite's (limma prior)")
    args = parser.parse_args()
    if args.shrink and args.method == MEAN:
        parser.error("--shrink shrinks the fastest half's variance; give it without --mean")
    cases, noise = read_means(args.paths, args.raw, args.floor)
    runs, method = len(args.paths), args.method
    shifts = run_shifts(cases, runs, method)
    if args.net_of_shift:
        cases = remove_shifts(cases, shifts)
    floors = [0.0] * runs if args.no_floor else run_floors(cases, runs, method)
    found = {name: locate_runs(means, floors, method) for name, means in cases.items()}
    if args.shrink:
        shrunk = [locate_shrunk(cases, r, floors[r]) for r in range(runs)]
        found = {name: [shrunk[r][name] for r in range(runs)] for name in cases}
    flags = {name: covers_mean(f) for name, f in found.items()}
    widths = [[(f[r].high - f[r].value) / f[r].value for f in found.values()] for r in range(runs)]
    counts = {name: sum(f) for name, f in flags.items()}
    pairs = len(cases) * len(args.paths)
    print(f"{len(cases)} cases in all {len(args.paths)} runs: each run's 95% CI covers the mean "
          f"of the runs in {sum(counts.values())} of {pairs} (case, run) pairs "
          f"({sum(counts.values()) / pairs:.1%})")
    print(f"median 95% CI half-width {statistics.median(w for run in widths for w in run):.1%}")
    worst = sorted(counts.items(), key=lambda item: item[1])[:5]
    print("covered least: " + ", ".join(f"{name} ({n}/{len(args.paths)})" for name, n in worst))
    canaries = run_canaries(args.paths)
    for r, path in enumerate(args.paths):
        covered = sum(f[r] for f in flags.values()) / len(cases)
        level = "-" if noise[r] is None else f"{noise[r]:.1%}"
        canary = f"{canaries[r]:.3f}x" if math.isfinite(canaries[r]) else "-"
        print(f"{path}: {method}, per-process noise {level}, shift {shifts[r]:.3f}x "
              f"(canary {canary}), median half-width {statistics.median(widths[r]):.1%}, "
              f"covered {covered:.0%}")


if __name__ == "__main__":
    main()
