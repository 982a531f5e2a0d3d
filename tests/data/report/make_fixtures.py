"""Regenerate the report test fixtures in this folder: python tests/data/report/make_fixtures.py

py311.json and py313.json.gz: small synthetic bench runs (folds at 3 sizes with quadratic
reduce folds, serializers on two shapes with sinks, memcpy references), written with pyperf's
public API by scripts/bench_report_speed.py's generator. foreign.json: a pyperf file bench did
not write, with a hostile benchmark name. capabilities.json: a capability matrix (schema 1).

The run comparison's fixtures (the report and `bench compare` must agree on every verdict):
verdict-base.json, started 2025-01-01: 16 cases, 5 processes each, 2% process noise;
verdict-slower.json, started 2025-01-02: the same cases, one of them 20% slower;
verdict-drift.json, started 2025-01-03: every case about 8% slower, and one case more.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import sys
from pathlib import Path

import pyperf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "scripts"))

from bench_report_speed import synthetic_suite  # noqa: E402

FOLDS = {"sum": ["loop", "reduce-lambda", "reduce-operator", "builtin"],
         "concat": ["loop", "reduce-lambda", "reduce-operator", "builtin"],
         "merge": ["loop", "reduce-lambda", "reduce-operator", "builtin", "toolz", "cytoolz"]}


def fixture_specs() -> list[dict]:
    """The cases of the synthetic fixture runs."""
    specs = [{"bench_suite": "ref", "bench_subject": "memcpy", "bench_op": "copy",
              "bench_shape": "bytes", "bench_size": s} for s in (1000, 100_000)]
    for task, styles in FOLDS.items():
        specs += [{"bench_suite": "fold", "bench_subject": style, "bench_op": task,
                   "bench_shape": "list", "bench_size": size}
                  for style, size in itertools.product(styles, (100, 1000, 10000))]
    for ser, shape, op, size in itertools.product(
            ["pickle-5", "marshal", "dill", "cloudpickle"], ["ints", "bytes"],
            ["dumps", "loads"], [100, 1000]):
        specs.append({"bench_suite": "ser", "bench_subject": ser, "bench_op": op,
                      "bench_shape": shape, "bench_size": size})
    specs += [{"bench_suite": "ser", "bench_subject": "pickle-5", "bench_op": op,
               "bench_shape": "ints", "bench_size": 1000}
              for op in ("dumps-bytesio", "loads-bytesio", "dumps-file", "loads-file")]
    return specs


def foreign_suite() -> pyperf.BenchmarkSuite:
    """Two benchmarks without bench metadata, one with a hostile name."""
    benchmarks = []
    for name, mean in (("telco", 0.01), ("<script>alert(1)</script>", 0.002)):
        runs = [pyperf.Run([mean * (1 + 0.01 * i + 0.001 * j) for j in range(3)],
                           metadata={"name": name, "hostname": "other-host",
                                     "python_version": "3.12.1 (64-bit)", "loops": 8},
                           collect_metadata=False) for i in range(3)]
        benchmarks.append(pyperf.Benchmark(runs))
    return pyperf.BenchmarkSuite(benchmarks)


def capability_cell(kind: str, serializer: dict, outcome: str) -> dict:
    """One cell; dumps errors carry hostile error text (the report must escape it)."""
    if not serializer["available"]:
        return {"kind": kind, "serializer": serializer["name"], "outcome": "skipped",
                "error": serializer["reason"], "payload_bytes": None}
    error = ("PicklingError: Can't pickle <function <lambda>>: <img src=x onerror=alert(1)>"
             if outcome == "dumps-error" else None)
    payload = None if outcome == "dumps-error" else 48_900 if kind == "built-data" else 120
    return {"kind": kind, "serializer": serializer["name"], "outcome": outcome, "error": error,
            "payload_bytes": payload}


def capabilities() -> dict:
    """A small capability matrix in the schema of `bench capabilities --format json`."""
    serializers = [{"name": n, "version": "3.11.7", "available": True, "reason": None}
                   for n in ("pickle-5", "marshal", "dill", "dill-recurse", "cloudpickle")]
    serializers.append({"name": "msgpack", "version": None, "available": False,
                        "reason": "No module named 'msgpack'"})
    kinds = [{"name": "lambda", "group": "code", "note": "lambda x: x + 1"},
             {"name": "closure", "group": "code", "note": "inner function using a cell"},
             {"name": "built-data", "group": "container", "note": "list(range(10_000))"},
             {"name": "builder-function", "group": "code", "note": "code that builds built-data"}]
    outcomes = {("lambda", "pickle-5"): "dumps-error", ("lambda", "marshal"): "dumps-error",
                ("closure", "pickle-5"): "dumps-error", ("closure", "marshal"): "crash",
                ("closure", "dill"): "same-process-only", ("built-data", "marshal"): "lossy",
                ("builder-function", "pickle-5"): "dumps-error",
                ("builder-function", "marshal"): "dumps-error"}
    cells = [capability_cell(k["name"], s, outcomes.get((k["name"], s["name"]), "ok"))
             for k in kinds for s in serializers]
    return {"schema_version": 1, "python": "3.11.7", "serializers": serializers,
            "kinds": kinds, "cells": cells,
            "dill_extend": {"import_dill_changes_pickle_dispatch": True,
                            "added_types": ["<class 'function'>", "<class 'code'>"],
                            "replaced_types": [], "extend_false_restores": True}}


VERDICT_CASES = [f"fold/{style}/{task}/list/1000" for style, task in itertools.product(
    ("loop", "reduce-lambda", "builtin", "accumulate"), ("sum", "product", "max", "concat"))]
SLOWED_CASE = "fold/builtin/sum/list/1000"
EXTRA_CASE = "fold/numpy/sum/list/1000"


def verdict_run(name: str, mean: float, rng: random.Random, day: int,
                processes: int = 5) -> pyperf.Benchmark:
    """One case: `processes` worker processes of 3 values, 2% noise between processes."""
    suite, subject, op, shape, size = name.split("/")
    meta = {"name": name, "bench_suite": suite, "bench_subject": subject, "bench_op": op,
            "bench_shape": shape, "bench_size": int(size), "loops": 1000,
            "hostname": "bench-host", "python_version": "3.11.7 (64-bit)"}
    runs = []
    for process in range(processes):
        level = math.log(mean) + rng.gauss(0, 0.02)
        values = [math.exp(level + rng.gauss(0, 0.005)) for _ in range(3)]
        date = f"2025-01-{day:02d} 12:{process:02d}:00.000000"
        runs.append(pyperf.Run(values, warmups=[(1000, values[0])],
                               metadata={**meta, "date": date, "duration": 0.1},
                               collect_metadata=False))
    return pyperf.Benchmark(runs)


def verdict_suite(seed: int, day: int, factors: dict[str, float], default: float = 1.0,
                  extra: tuple[str, ...] = ()) -> pyperf.BenchmarkSuite:
    """The comparison fixture's cases, each `factor` times its base mean (seeded)."""
    rng = random.Random(seed)
    base = random.Random(0)
    means = {name: 1e-5 * (1 + 9 * base.random()) for name in [*VERDICT_CASES, EXTRA_CASE]}
    names = [*VERDICT_CASES, *extra]
    return pyperf.BenchmarkSuite([verdict_run(n, means[n] * factors.get(n, default), rng, day)
                                  for n in names])


def write_verdict_fixtures() -> None:
    """verdict-base.json, verdict-slower.json and verdict-drift.json (see the docstring)."""
    verdict_suite(1, 1, {}).dump(str(HERE / "verdict-base.json"), replace=True)
    verdict_suite(2, 2, {SLOWED_CASE: 1.2}).dump(str(HERE / "verdict-slower.json"),
                                                 replace=True)
    verdict_suite(3, 3, {}, 1.08, (EXTRA_CASE,)).dump(str(HERE / "verdict-drift.json"),
                                                      replace=True)


def main() -> None:
    specs = fixture_specs()
    synthetic_suite("3.11.7", processes=3, specs=specs, seed=11).dump(
        str(HERE / "py311.json"), replace=True)
    synthetic_suite("3.13.1", processes=3, specs=specs, seed=13).dump(
        str(HERE / "py313.json.gz"), replace=True)
    foreign_suite().dump(str(HERE / "foreign.json"), replace=True)
    (HERE / "capabilities.json").write_text(json.dumps(capabilities(), indent=1) + "\n",
                                            encoding="utf-8")
    write_verdict_fixtures()


if __name__ == "__main__":
    main()
