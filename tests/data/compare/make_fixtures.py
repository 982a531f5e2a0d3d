"""Write the synthetic pyperf result files of the gate's tests (tests/test_gate_*.py).

Run `python tests/data/compare/make_fixtures.py` to rewrite the fixtures, then
`python tests/data/compare/make_fixtures.py --goldens` to rewrite the golden outputs of
`bench compare` (within/runs/paired x .txt/.md/.json); review the diff before committing.
Values come from seeded generators, so the files do not change between runs; the tests also
use `write_suite` to build one-off files in a temporary directory.

Files (all with unit "second" unless said):
  base-1.json base-2.json base-3.json  three runs of the base, each with its own run shift
  head.json      the head: one case 25% slower, one 20% faster, one noisy, one with 1 process,
                 one case dropped (missing) and one added (new)
  ab-a.json ab-b.json  an interleaved A/B run, 4 rounds of 2 processes per side, a drift per
                 round that hits both sides, and B 8% slower on one case
"""

from __future__ import annotations

import contextlib
import io
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import pyperf

HERE = Path(__file__).parent
LOOPS = 1000


@dataclass(frozen=True)
class Spec:
    """One case of a synthetic run: mean seconds, relative noise per process, size."""

    mean: float
    noise: float = 0.01
    processes: int = 6
    values: int = 3
    unit: str = "second"


def make_run(name: str, unit: str, values: list[float], round_: int | None) -> pyperf.Run:
    """One worker process's run: one warmup and the values, our metadata only."""
    metadata: dict[str, object] = {"name": name, "unit": unit, "loops": LOOPS}
    if round_ is not None:
        metadata["bench_round"] = round_
    return pyperf.Run(values, warmups=[(LOOPS, values[0])], metadata=metadata,
                      collect_metadata=False)


def write_suite(path: Path | str, cases: dict[str, Spec], seed: int, shift: float = 0.0,
                rounds: int | None = None, drifts: list[float] | None = None) -> Path:
    """Write a pyperf suite: per case, processes whose values scatter around mean * e^shift.

    With `rounds`, process p belongs to round p * rounds // processes and gets that
    round's drift (log scale) from `drifts`.
    """
    rng = random.Random(seed)
    benchmarks = []
    for name, spec in cases.items():
        runs = []
        for process in range(spec.processes):
            round_ = process * rounds // spec.processes if rounds else None
            drift = drifts[round_] if drifts and round_ is not None else 0.0
            level = math.log(spec.mean) + shift + drift + rng.gauss(0, spec.noise)
            values = [math.exp(level + rng.gauss(0, spec.noise / 4)) for _ in range(spec.values)]
            runs.append(make_run(name, spec.unit, values, round_))
        benchmarks.append(pyperf.Benchmark(runs))
    path = Path(path)
    if path.exists():
        path.unlink()
    pyperf.BenchmarkSuite(benchmarks).dump(str(path))
    return path


BASE = {
    "ser/pickle-5/dumps/records/1000": Spec(120e-6),
    "ser/pickle-5/loads/records/1000": Spec(150e-6),
    "ser/json/dumps/ints/100": Spec(6.8e-6),
    "fold/reduce-lambda/sum/list/10000": Spec(320e-6),
    "ser/dill/dumps/records/1000": Spec(900e-6, noise=0.25),
    "ser/marshal/dumps/ints/100": Spec(2.1e-6, processes=1),
    "ser/cloudpickle/dumps/records/1000": Spec(400e-6),
}
HEAD = {
    **{k: v for k, v in BASE.items() if "cloudpickle" not in k},
    "ser/pickle-5/dumps/records/1000": Spec(150e-6),
    "ser/pickle-5/loads/records/1000": Spec(120e-6),
    "ser/dill/dumps/records/1000": Spec(1000e-6, noise=0.25),
    "ser/msgpack/dumps/records/1000": Spec(50e-6),
}
AB_CASES = {
    "ser/pickle-5/dumps/records/1000": Spec(120e-6, noise=0.005, processes=8),
    "ser/json/dumps/ints/100": Spec(6.8e-6, noise=0.005, processes=8),
    "fold/reduce-lambda/sum/list/10000": Spec(320e-6, noise=0.005, processes=8),
}
AB_DRIFTS = [0.0, 0.06, -0.04, 0.09]


GOLDENS = {
    "within": ["base-1.json", "head.json"],
    "runs": ["--base", "base-*.json", "head.json"],
    "paired": ["ab-a.json", "ab-b.json"],
}
SUFFIXES = {"text": "txt", "md": "md", "json": "json"}


def golden_args(name: str, fmt: str) -> list[str]:
    """`bench` arguments of one golden output, paths inside this directory."""
    args = [a if a.startswith("--") else str(HERE / a) for a in GOLDENS[name]]
    return ["compare", *args, "--format", fmt]


def write_goldens() -> None:
    """Rewrite the golden outputs from the current fixtures and code."""
    from bench.cli import main as bench_main

    for name in GOLDENS:
        for fmt, suffix in SUFFIXES.items():
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                bench_main(golden_args(name, fmt))
            (HERE / f"{name}.{suffix}").write_text(out.getvalue(), encoding="utf-8")


def main() -> None:
    """Write every fixture file next to this script."""
    if "--goldens" in sys.argv[1:]:
        write_goldens()
        return
    for i, shift in enumerate([0.0, 0.02, -0.015], start=1):
        write_suite(HERE / f"base-{i}.json", BASE, seed=i, shift=shift)
    write_suite(HERE / "head.json", HEAD, seed=10, shift=0.005)
    b_cases = {**AB_CASES, "ser/pickle-5/dumps/records/1000": Spec(120e-6 * 1.08, noise=0.005,
                                                                    processes=8)}
    write_suite(HERE / "ab-a.json", AB_CASES, seed=20, rounds=4, drifts=AB_DRIFTS)
    write_suite(HERE / "ab-b.json", b_cases, seed=21, rounds=4, drifts=AB_DRIFTS)


if __name__ == "__main__":
    main()
