"""How much of a run's noise the machine-speed estimators take out, side by side.

    python scripts/canary_estimators.py results/quick-1.json [results/quick-2.json ...]

For each results file (timed with the canary, `bench_canary` on every process): the per-process
noise (bench.location.run_noise) and the median 95% CI half-width of its cases, for the process
means as timed, corrected by their canaries (bench.location.correct_processes, what bench does),
and corrected by the time-neighbour estimate (each process against the median, over the other
cases' processes that started within --window seconds of it, of their log mean against their
case's median; a case's own processes never enter); each located by the fastest half (Yuen,
bench's rule) and by the plain mean (Student t), both with the run's noise floor. Also the
canary's cost: its seconds per process (one canary after the warmup and after each value).
Files with `bench_canary_min` also get each process's floor: its fastest value, as timed
("floor raw") and corrected by its fastest canary ("floor").
"""

from __future__ import annotations

import argparse
import bisect
import datetime
import math
import statistics
from typing import Any

import numpy as np

from bench.correction import correct_processes
from bench.location import (
    FASTEST_HALF,
    MEAN,
    locate_case,
    noise_floor,
    run_noise,
    spread_of,
)
from bench.results import read_results
from bench.run.schedule import process_canaries, process_means


def process_floors(bench: Any) -> tuple[list[float], list[float]]:
    """Each process's floor in one pyperf Benchmark: its fastest value, and its fastest canary
    (`bench_canary_min`, NaN in files made before it was recorded)."""
    runs = [run for run in bench.get_runs() if run.values]
    return ([min(run.values) for run in runs],
            [float(run.get_metadata().get("bench_canary_min", math.nan)) for run in runs])


def read_processes(path: str) -> dict[str, Any]:
    """Every process of a file with values: case name, mean, canary, start (s), values; and
    each process's floor: its fastest value and its fastest canary (`bench_canary_min`, NaN
    in files made before it was recorded)."""
    names, means, canaries, starts, counts, floors, canary_floors = [], [], [], [], [], [], []
    for bench in read_results(path).benchmarks:
        runs = [run for run in bench.get_runs() if run.values]
        names += [bench.get_name()] * len(runs)
        means += process_means(bench)
        canaries += process_canaries(bench)
        starts += [datetime.datetime.fromisoformat(str(run.get_metadata()["date"])).timestamp()
                   for run in runs]
        counts += [len(run.values) + 1 for run in runs]  # canaries: after the warmup and each value
        fastest, fastest_canaries = process_floors(bench)
        floors += fastest
        canary_floors += fastest_canaries
    return {"names": names, "means": np.asarray(means), "canaries": np.asarray(canaries),
            "starts": np.asarray(starts), "counts": np.asarray(counts), "floors": np.asarray(floors),
            "canary_floors": np.asarray(canary_floors)}


def neighbour_correct(names: list[str], means: np.ndarray, starts: np.ndarray,
                      window: float) -> np.ndarray:
    """Each process mean divided by the machine's slowness at its start as the other cases'
    processes within `window` seconds saw it (their log mean against their case's median)."""
    logs = np.log(means)
    centre = {n: float(np.median(logs[[i for i, m in enumerate(names) if m == n]]))
              for n in dict.fromkeys(names)}
    deviation = logs - np.asarray([centre[n] for n in names])
    order = np.argsort(starts)
    times = starts[order].tolist()
    fixed = logs.copy()
    for i in range(len(names)):
        lo, hi = bisect.bisect_left(times, starts[i] - window), bisect.bisect_right(times, starts[i] + window)
        others = [deviation[j] for j in order[lo:hi] if names[j] != names[i]]
        if others:
            fixed[i] -= statistics.median(others)
    return np.exp(fixed)


def by_case(names: list[str], means: np.ndarray) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for name, mean in zip(names, means.tolist()):
        out.setdefault(name, []).append(mean)
    return out


def median_half_width(cases: dict[str, list[float]], method: str) -> float:
    """The median over cases (2+ processes) of the relative 95% CI half-width by `method`."""
    floor = noise_floor(spread_of(m, method) for m in cases.values() if len(m) >= 2)
    widths = []
    for means in cases.values():
        found = locate_case(means, floor, method)
        width = (found.high - found.value) / found.value
        if len(means) >= 2 and math.isfinite(width):
            widths.append(width)
    return statistics.median(widths) if widths else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="results files timed with the canary")
    parser.add_argument("--window", type=float, default=0.5, help="seconds either side (0.5)")
    args = parser.parse_args()
    for path in args.paths:
        p = read_processes(path)
        canary, how = correct_processes(p["names"], p["means"], p["canaries"])
        variants = {"raw": p["means"], "canary": canary,
                    "neighbours": neighbour_correct(p["names"], p["means"], p["starts"], args.window)}
        if np.isfinite(p["canary_floors"]).any():  # each process's fastest value by its fastest canary
            variants["floor raw"] = p["floors"]
            variants["floor"] = correct_processes(p["names"], p["floors"], p["canary_floors"])[0]
        cost = p["canaries"] * p["counts"]
        print(f"{path}: {len(p['names'])} processes; canary {how.note}; typical canary "
              f"{how.typical * 1e3:.3f} ms, {np.nanmedian(cost) * 1e3:.2f} ms per process")
        for label, means in variants.items():
            cases = by_case(p["names"], means)
            noise = run_noise(cases.values())
            print(f"  {label:10s} per-process noise {'-' if noise is None else f'{noise:.1%}'}; "
                  "median half-width "
                  f"fastest half {median_half_width(cases, FASTEST_HALF):.1%}, "
                  f"mean {median_half_width(cases, MEAN):.1%}")


if __name__ == "__main__":
    main()
