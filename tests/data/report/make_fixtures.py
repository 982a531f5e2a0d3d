"""Regenerate the report test fixtures in this folder: python tests/data/report/make_fixtures.py

py311.json and py313.json.gz: small synthetic bench runs (folds at 3 sizes with quadratic
reduce folds, serializers on two shapes with sinks, memcpy references), written with pyperf's
public API by scripts/bench_report_speed.py's generator. foreign.json: a pyperf file bench did
not write, with a hostile benchmark name. capabilities.json: a capability matrix (schema 1).
"""

from __future__ import annotations

import itertools
import json
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


def main() -> None:
    specs = fixture_specs()
    synthetic_suite("3.11.7", processes=3, specs=specs, seed=11).dump(
        str(HERE / "py311.json"), replace=True)
    synthetic_suite("3.13.1", processes=3, specs=specs, seed=13).dump(
        str(HERE / "py313.json.gz"), replace=True)
    foreign_suite().dump(str(HERE / "foreign.json"), replace=True)
    (HERE / "capabilities.json").write_text(json.dumps(capabilities(), indent=1) + "\n",
                                            encoding="utf-8")


if __name__ == "__main__":
    main()
