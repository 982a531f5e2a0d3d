"""How a case's speed changes over the first few hundred milliseconds of a worker process.

    python scripts/warmup_curve.py fold/loop/sum/list/1000 fold/builtin/sum/list/1000

Starts `--processes` workers per case (`python -m bench.run.worker`, the cases alternating),
each timing `--values` values of about `--value-ms` milliseconds with no warm-up, and prints
per case the median over processes of each stretch of values against the process's own
later speed (its median value after `--settled-ms`): 1.03 in the stretch 5-30 ms means the
case ran 3% slower there than once the process had settled. A quick run's values lie within
the first ~30 ms of a process (one warm-up value and four of ~5.5 ms), pyperf's default
values within its first ~400 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

STRETCHES_MS = [(0, 5), (5, 10), (10, 20), (20, 30), (30, 50), (50, 80), (80, 120),
                (120, 200)]


def time_process(python: str, case: str, loops: int, values: int) -> list[float]:
    """One worker's values (seconds per call), no warm-up."""
    out = subprocess.run([python, "-m", "bench.run.worker", "--case", case, "--loops", str(loops),
                          "--values", str(values), "--warmups", "0"],
                         capture_output=True, text=True, check=True).stdout
    return [float(v) for v in json.loads(out)["values"]]


def calibrate(python: str, case: str, value_ms: float) -> int:
    """Loops per value so that a value lasts about `value_ms` milliseconds."""
    per_call = statistics.median(time_process(python, case, 1, 20))
    return max(1, round(value_ms / 1e3 / per_call))


def summarize_curve(processes: list[list[float]], value_ms: float, settled_ms: float
                    ) -> list[tuple[tuple[int, int], float]]:
    """Per stretch of milliseconds: the median over processes of the stretch's mean value
    against the process's median value after `settled_ms`.

    >>> summarize_curve([[2.0, 1.0, 1.0, 1.0]], 1.0, 1.0)[:2]
    [((0, 5), 1.25), ((5, 10), nan)]
    """
    rows = []
    for start, end in STRETCHES_MS:
        first, last = int(start / value_ms), int(end / value_ms)
        ratios = [statistics.fmean(values[first:last])
                  / statistics.median(values[int(settled_ms / value_ms):])
                  for values in processes if values[first:last]]
        rows.append(((start, end), statistics.median(ratios) if ratios else float("nan")))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="+")
    parser.add_argument("--processes", type=int, default=20)
    parser.add_argument("--value-ms", type=float, default=1.0)
    parser.add_argument("--settled-ms", type=float, default=100.0)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    values = int(max(end for _, end in STRETCHES_MS) / args.value_ms)
    loops = {case: calibrate(args.python, case, args.value_ms) for case in args.cases}
    curves: dict[str, list[list[float]]] = {case: [] for case in args.cases}
    for _ in range(args.processes):
        for case in args.cases:
            curves[case].append(time_process(args.python, case, loops[case], values))
    for case, processes in curves.items():
        stretches = summarize_curve(processes, args.value_ms, args.settled_ms)
        print(f"{case} ({loops[case]} loops a value): " + "  ".join(
            f"{start}-{end} ms {ratio:.3f}" for (start, end), ratio in stretches))


if __name__ == "__main__":
    main()
