"""How much a case's payload size and peak memory move from one worker process to the next.

    python scripts/size_spread.py --profile quick --suite ser --suite fold --processes 5

Starts `--processes` fresh workers per case (`python -m bench.run.worker`, one call, each with
its own random hash seed, as a timed run's workers have), reads the `payload_bytes` and
`peak_alloc_bytes` each measured, and prints the cases whose values differ between processes
(smallest, largest, the spread in bytes and as a share of the smallest) and a summary: the
share of cases that move and the largest spreads. This is the evidence behind the size rule's
tolerances (bench.gate.sizes, docs/measurements.md).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import subprocess
import sys
import tempfile
from pathlib import Path

KEYS = ("payload_bytes", "peak_alloc_bytes")


def measure(python: str, case: str) -> dict[str, int]:
    """The sizes one fresh worker measures for `case` ({} when it failed)."""
    with tempfile.TemporaryDirectory(prefix="bench-sizes-") as scratch:
        result = Path(scratch) / "result.json"
        subprocess.run([python, "-m", "bench.run.worker", "--case", case, "--loops", "1",
                        "--values", "1", "--warmups", "0", "--result", str(result)],
                       capture_output=True, text=True, cwd=scratch, check=False)
        try:
            metadata = json.loads(result.read_text())["metadata"]
        except (OSError, ValueError, KeyError):
            return {}
    return {key: int(metadata[key]) for key in KEYS if key in metadata}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--suite", action="append", default=[])
    parser.add_argument("-k", dest="patterns", action="append", default=[])
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    from bench.run.cases import get_profile, select_cases

    cases = [c.name for c in select_cases(get_profile(args.profile).list_cases(), args.patterns,
                                          args.suite)]
    jobs = [(case, i) for i in range(args.processes) for case in cases]
    found: dict[str, list[dict[str, int]]] = {case: [] for case in cases}
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for (case, _), sizes in zip(jobs, pool.map(lambda job: measure(args.python, job[0]), jobs),
                                    strict=True):
            if sizes:
                found[case].append(sizes)
    for key in KEYS:
        moved: list[tuple[str, int, int, int, float]] = []
        measured = 0
        for case, measures in found.items():
            values = [m[key] for m in measures if key in m]
            if len(values) < 2:
                continue
            measured += 1
            low, high = min(values), max(values)
            if high != low:
                moved.append((case, low, high, high - low, (high - low) / low if low else 0.0))
        print(f"{key}: {len(moved)} of {measured} cases differ between {args.processes} processes")
        for case, low, high, spread, share in sorted(moved, key=lambda m: -m[4]):
            print(f"  {case}: {low} .. {high} ({spread} B, {share:.2%})")
        if moved:
            print(f"  largest spread: {max(m[3] for m in moved)} B; largest share: "
                  f"{max(m[4] for m in moved):.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
