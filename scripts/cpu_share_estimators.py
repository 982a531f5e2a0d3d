"""How much of a run's noise each order of the two corrections takes out, side by side.

    python scripts/cpu_share_estimators.py results/quick-1.json [results/quick-2.json ...]

For each results file (timed with the canary and the CPU share, `bench_canary` and
`bench_cpu_share` on every process): the per-process noise (bench.location.run_noise) and the
median 95% CI half-width of its cases (fastest half, the run's noise floor, as bench locates),
for the process means as timed; by the canary alone (bench before the CPU share); by the CPU
share alone (its slope learned per suite, and fixed at 1); by the share with the slope fixed
at 1, then the canary; and by both, their slopes learned together
(bench.correction.correct_processes, what bench does).
Also the CPU shares themselves: their median and 5th percentile per suite.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from canary_estimators import by_case, median_half_width  # scripts/ is the path of a script run

from bench.correction import correct_processes, preempted_logs, suite_of
from bench.location import FASTEST_HALF, run_noise
from bench.results import read_results
from bench.run.schedule import process_canaries, process_means, process_shares


def read_processes(path: str) -> dict[str, np.ndarray]:
    """Every process of a file with values: case name, mean, canary, CPU share."""
    names: list[str] = []
    means: list[float] = []
    canaries: list[float] = []
    shares: list[float] = []
    for bench in read_results(path).benchmarks:
        raw = process_means(bench)
        names += [bench.get_name()] * len(raw)
        means += raw
        canaries += process_canaries(bench)
        shares += process_shares(bench)
    return {"names": np.asarray(names, dtype=object), "means": np.asarray(means),
            "canaries": np.asarray(canaries), "shares": np.asarray(shares)}


def share_fixed_slope(names: np.ndarray, means: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Each process mean times its share over its case's highest (the slope fixed at 1)."""
    _, codes = np.unique(names, return_inverse=True)
    return np.exp(np.log(means) + preempted_logs(codes, shares)[0])


def variants(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The process means of one run, corrected each way."""
    names, means, canaries, shares = p["names"], p["means"], p["canaries"], p["shares"]
    none = np.full(len(means), math.nan)
    fixed = share_fixed_slope(names, means, shares)
    return {"raw": means, "canary": correct_processes(names, means, canaries)[0],
            "share": correct_processes(names, means, none, shares=shares)[0],
            "share(1)": fixed,
            "share(1), canary": correct_processes(names, fixed, canaries)[0],
            "share + canary": correct_processes(names, means, canaries, shares=shares)[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="results files timed with canary and CPU share")
    args = parser.parse_args()
    for path in args.paths:
        p = read_processes(path)
        _, how = correct_processes(p["names"], p["means"], p["canaries"], shares=p["shares"])
        print(f"{path}: {len(p['names'])} processes; {how.note}")
        suites = np.asarray([suite_of(n) for n in p["names"]])
        for suite in dict.fromkeys(suites.tolist()):
            share = p["shares"][suites == suite]
            print(f"  CPU share {suite}: median {np.nanmedian(share):.3f}, "
                  f"5th percentile {np.nanpercentile(share, 5):.3f}")
        for label, means in variants(p).items():
            cases = by_case(p["names"], means)
            noise = run_noise(cases.values())
            print(f"  {label:21s} per-process noise {'-' if noise is None else f'{noise:.1%}'}; "
                  f"median half-width {median_half_width(cases, FASTEST_HALF):.1%}")


if __name__ == "__main__":
    main()
