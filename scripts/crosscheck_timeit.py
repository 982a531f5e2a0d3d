"""Check a run's ratios between cases against timeit of the same calls on the same data.

Usage: python scripts/crosscheck_timeit.py RESULTS.json [--processes 10] [--rounds 6]
       [--pair NUM DEN ...] [--python PATH]

For each pair of cases (default: PAIRS, ratios the report states), the harness's ratio
of means and its 95% CI come from the results file (bench.frame's ratio_interval, paired by
pass); the independent figure comes from timeit in fresh Python processes, one op per
process as the harness times them, `--processes` of each op in alternation (A B, B A, ...):
each builds and checks its op with the worker's own `prepare_case` (the same data, the
same call) and times it `--rounds` times with the garbage collector on, as in the harness's
workers. One op per process matters: timed alternately inside one process,
`fold/builtin/sum/list/1000` against `fold/loop/sum/list/1000` read 0.24-0.27, and in
separate processes 0.17-0.21, as in the harness (2026-12-06). It prints both ratios of
means (timeit's: the mean over processes of each op, then the ratio), timeit's ratio of
the fastest processes, whether the harness agrees with timeit's mean within 10%, and
whether timeit's mean lies inside the harness's 95% CI; then both ratios of the fastest half
of each op's processes (as the regression gate locates a case, bench.location.locate)
and whether those agree within 10%.

The children run on the interpreter the results were measured with (the file's
`python_executable`, `--python` to name another of the same version): two builds of
Python 3.11 here differ by up to 1.5x, and not alike for every op (pickle-5 dumps of 1000
ints 6.8 us on Debian's 3.11.2, 10.4 us on pyenv's 3.11.7; json dumps 385 and 494 us).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import tempfile
import timeit
from typing import Any

from bench.run.cases import parse_case
from bench.run.worker import prepare_case

PAIRS = [
    ("ser/dill/dumps/records/1000", "ser/pickle-5/dumps/records/1000"),
    ("ser/dill/loads/records/1000", "ser/pickle-5/loads/records/1000"),
    ("ser/cloudpickle/dumps/records/1000", "ser/pickle-5/dumps/records/1000"),
    ("ser/marshal/dumps/ints/1000", "ser/pickle-5/dumps/ints/1000"),
    ("ser/marshal/loads/ints/1000", "ser/pickle-5/loads/ints/1000"),
    ("ser/json/dumps/flat-dict/1000", "ser/pickle-5/dumps/flat-dict/1000"),
    ("ser/msgpack/dumps/records/1000", "ser/pickle-5/dumps/records/1000"),
    ("ser/orjson/dumps/records/1000", "ser/json/dumps/records/1000"),
    ("ser/msgspec-json/dumps/records/1000", "ser/json/dumps/records/1000"),
    ("fold/reduce-lambda/sum/list/1000", "fold/loop/sum/list/1000"),
    ("fold/reduce-operator/sum/list/1000", "fold/loop/sum/list/1000"),
    ("fold/builtin/sum/list/1000", "fold/loop/sum/list/1000"),
]
AGREE = 0.10  # the harness's ratio of means within 10% of timeit's


def time_op(name: str, rounds: int) -> float:
    """Mean seconds per call of one case's op, timed in this process (a child's job)."""
    with tempfile.TemporaryDirectory() as workdir:
        op = prepare_case(parse_case(name), workdir)[0]
        gc.enable()  # as in the harness's workers (timeit turns it off by default)
        timer = timeit.Timer(op, setup="gc.enable()", globals={"gc": gc})
        number = timer.autorange()[0]
        return statistics.fmean(timer.timeit(number) / number for _ in range(rounds))


def time_in_processes(python: str, num: str, den: str, processes: int, rounds: int
                      ) -> list[list[float]]:
    """Per op (num, den): its mean seconds per call in each of `processes` fresh processes of
    `python`, the two ops' processes alternating (A B, B A, ...)."""
    means: list[list[float]] = [[], []]
    for turn in range(processes):
        for i in (0, 1) if turn % 2 == 0 else (1, 0):
            out = subprocess.run([python, __file__, "--child", (num, den)[i],
                                  "--rounds", str(rounds)], capture_output=True, text=True,
                                 check=True).stdout
            means[i].append(float(out))
    return means


def fastest_half_ratio(numerator: Any, denominator: Any) -> float:
    """The ratio of two ops' locations as the harness and the regression gate take them
    (bench.location.locate_case: the mean of the fastest half of the per-process means)."""
    from bench.location import locate_case  # the parent's only: children import as a worker

    return locate_case(list(numerator)).value / locate_case(list(denominator)).value


def choose_python(results: str, given: str | None) -> str:
    """The interpreter that measured `results` (its `python_executable`), or `given`;
    ValueError with a one-line reason when it cannot run or is another Python version."""
    from bench.results import read_results

    metadata = read_results(results).suite().get_metadata()
    python = given or metadata.get("python_executable", sys.executable)
    try:
        probe = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                               capture_output=True, text=True)
    except OSError as exc:
        raise ValueError(f"{python}: cannot run it: {exc.strerror} (give --python)") from None
    measured = str(metadata.get("python_version", "")).split(" ")[0]
    if probe.returncode != 0:
        raise ValueError(f"{python}: cannot run it (give --python)")
    if measured and probe.stdout.strip() != measured:
        raise ValueError(f"{results} was measured on Python {measured}, {python} is "
                         f"{probe.stdout.strip()} (give --python)")
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?")
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--pair", nargs=2, action="append", metavar=("NUM", "DEN"))
    parser.add_argument("--python", help="interpreter of the children (default: the results')")
    parser.add_argument("--child", metavar="CASE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(repr(time_op(args.child, args.rounds)))
        return
    if not args.results:
        parser.error("give a results file")
    # pandas only here: the children import no more than a worker does
    from bench.frame import load_results, process_mean_arrays, ratio_interval
    frame = load_results([args.results])
    try:
        python = choose_python(args.results, args.python)
    except ValueError as exc:
        parser.error(str(exc))
    arrays = process_mean_arrays(frame)
    run = str(frame["run"].iloc[0])
    agreed = inside = 0
    pairs = args.pair or PAIRS
    half_agreed = 0
    print(f"{'pair':62} {'harness [95% CI]':>24} {'timeit mean':>11} {'timeit min':>10} "
          f"{'10%':>3}  {'fastest half: harness':>21} {'timeit':>6} {'10%':>3}")
    for num, den in pairs:
        harness = ratio_interval(arrays[(run, num)], arrays[(run, den)])
        a, b = time_in_processes(python, num, den, args.processes, args.rounds)
        mean_ratio = statistics.fmean(a) / statistics.fmean(b)
        ok = abs(harness.value / mean_ratio - 1) <= AGREE
        agreed += ok
        inside += harness.low <= mean_ratio <= harness.high
        half_harness = fastest_half_ratio(arrays[(run, num)], arrays[(run, den)])
        half_timeit = fastest_half_ratio(a, b)
        half_ok = abs(half_harness / half_timeit - 1) <= AGREE
        half_agreed += half_ok
        print(f"{num + ' / ' + den.split('/')[1]:62} {harness.value:7.3f} [{harness.low:.3f}, "
              f"{harness.high:.3f}] {mean_ratio:11.3f} {min(a) / min(b):10.3f} "
              f"{'yes' if ok else 'NO':>3}  {half_harness:21.3f} {half_timeit:6.3f} "
              f"{'yes' if half_ok else 'NO':>3}")
    print(f"{agreed} of {len(pairs)} ratios of means within {AGREE:.0%} of timeit's "
          f"({args.processes} processes); timeit's inside the harness's 95% CI in {inside} of "
          f"{len(pairs)}; ratios of the fastest halves within {AGREE:.0%} in {half_agreed} of "
          f"{len(pairs)}")


if __name__ == "__main__":
    main()
