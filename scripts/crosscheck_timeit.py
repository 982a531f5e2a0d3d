"""Check a run's ratios between cases against timeit of the same calls on the same data.

Usage: python scripts/crosscheck_timeit.py RESULTS.json [--rounds 30] [--pair NUM DEN ...]

For each pair of cases (default: PAIRS, ratios the report states), the harness's ratio
of means and its 95% CI come from the results file (bench.frame's ratio_interval, paired by
pass); the independent figure comes from timeit in this one process: both ops are built and
checked by the worker's own `prepare_case` (the same data, the same call), then timed in
alternation, `--rounds` times each (A B, B A, ...), with the garbage collector on as in the
harness's workers. It prints both ratios of means, timeit's ratio of fastest times,
whether the harness agrees with timeit's mean within 10%, and whether timeit's mean lies
inside the harness's 95% CI.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import timeit
from collections.abc import Callable
from typing import Any

from bench.cases import parse_case
from bench.frame import load_results, process_mean_arrays, ratio_interval
from bench.worker import prepare_case

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


def time_alternately(ops: list[Callable[[], Any]], rounds: int) -> list[list[float]]:
    """Seconds per call of each op, `rounds` times, in alternating order (A B, B A, ...)."""
    gc.enable()  # as in the harness's workers (timeit turns it off by default)
    numbers = [timeit.Timer(op, setup="gc.enable()", globals={"gc": gc}).autorange()[0]
               for op in ops]
    times: list[list[float]] = [[] for _ in ops]
    for turn in range(rounds):
        order = range(len(ops)) if turn % 2 == 0 else reversed(range(len(ops)))
        for i in order:
            timer = timeit.Timer(ops[i], setup="gc.enable()", globals={"gc": gc})
            times[i].append(timer.timeit(numbers[i]) / numbers[i])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--pair", nargs=2, action="append", metavar=("NUM", "DEN"))
    args = parser.parse_args()
    frame = load_results([args.results])
    arrays = process_mean_arrays(frame)
    run = str(frame["run"].iloc[0])
    agreed = inside = 0
    pairs = args.pair or PAIRS
    print(f"{'pair':70} {'harness [95% CI]':>24} {'timeit mean':>11} {'timeit min':>10}  within 10%")
    for num, den in pairs:
        harness = ratio_interval(arrays[(run, num)], arrays[(run, den)])
        with tempfile.TemporaryDirectory() as workdir:
            ops = [prepare_case(parse_case(name), workdir)[0] for name in (num, den)]
            a, b = time_alternately(ops, args.rounds)
        mean_ratio = statistics.fmean(a) / statistics.fmean(b)
        ok = abs(harness.value / mean_ratio - 1) <= AGREE
        agreed += ok
        inside += harness.low <= mean_ratio <= harness.high
        print(f"{num + ' / ' + den.split('/')[1]:70} {harness.value:7.3f} [{harness.low:.3f}, "
              f"{harness.high:.3f}] {mean_ratio:11.3f} {min(a) / min(b):10.3f}  {'yes' if ok else 'NO'}")
    print(f"{agreed} of {len(pairs)} ratios of means within {AGREE:.0%} of timeit's; "
          f"timeit's inside the harness's 95% CI in {inside} of {len(pairs)}")


if __name__ == "__main__":
    main()
