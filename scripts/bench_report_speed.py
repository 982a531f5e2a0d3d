"""Time `bench report` on synthetic results: 4 result files x 400 benchmarks.

Usage: python scripts/bench_report_speed.py [--files 4] [--benchmarks 400] [--keep DIR]

Prints the seconds to load + summarize + render in-process, the wall time of the whole
`python -m bench report` command (interpreter start, imports, writing the file) and the
size of the HTML in MB, against the targets <= 10 s and <= 3 MB. The generator here
(`synthetic_suite`) also builds the committed test fixtures under tests/data/report/
(see make_fixtures.py there).

The synthetic model: time = base(subject) * op factor * size^k * noise, with a
process-level noise (what makes per-process means differ) and a smaller
value-level noise; reduce-lambda over concat/flatten/merge and reduce-operator over
concat/flatten are quadratic (k = 2), everything else linear.
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyperf

from bench.run.cases import SINK_OPS
from bench.subjects.folds import STYLES
from bench.subjects.serializers import SERIALIZERS as REGISTRY

SERIALIZERS = list(REGISTRY)  # every registered serializer; the model's factors below, else 1
SER_BASE = {"pickle-0": 3.0, "pickle-2": 1.3, "pickle-3": 1.2, "pickle-4": 1.0, "pickle-5": 1.0,
            "pickle-5-oob": 1.05, "marshal": 0.7, "dill": 6.0, "dill-recurse": 6.5,
            "cloudpickle": 1.1, "msgpack": 0.9, "json": 2.5}
SER_PAYLOAD = {"pickle-0": 2.0, "pickle-2": 1.2, "pickle-3": 1.1, "pickle-4": 1.0,
               "pickle-5": 1.0, "pickle-5-oob": 0.95, "marshal": 1.3, "dill": 1.02,
               "dill-recurse": 1.02, "cloudpickle": 1.0, "msgpack": 0.8, "json": 1.6}
SHAPES = {"ints": 30, "records": 400, "bytes": 1, "text": 7}  # shape -> nbytes per item
FOLD_FACTORS = {"loop": 1.0, "reduce-lambda": 1.6, "reduce-operator": 1.1, "toolz": 0.9,
               "cytoolz": 0.5, "builtin": 0.2, "accumulate": 1.3, "numpy": 0.6}
FOLD_TASKS = ["sum", "product", "max", "concat", "merge", "flatten", "count-words"]
QUADRATIC = {("reduce-lambda", "concat"), ("reduce-lambda", "flatten"),
             ("reduce-lambda", "merge"), ("reduce-operator", "flatten"),
             ("reduce-lambda", "count-words")}


def case_specs(n_benchmarks: int) -> Iterator[dict]:
    """Case metadata in the runner's naming, ser first, then sinks, folds and memcpy refs."""
    sizes = [100, 1000, 10000]
    yield from ({"bench_suite": "ref", "bench_subject": "memcpy", "bench_op": "copy",
                 "bench_shape": "bytes", "bench_size": s} for s in [1000, 100_000, 1_000_000])
    for style, task, size in itertools.product(STYLES, FOLD_TASKS, [1000, 10000]):
        yield {"bench_suite": "fold", "bench_subject": style, "bench_op": task,
               "bench_shape": "list", "bench_size": size}
    for ser, shape, op in itertools.product(["pickle-5", "dill", "cloudpickle", "json"], SHAPES,
                                            SINK_OPS):
        yield {"bench_suite": "ser", "bench_subject": ser, "bench_op": op,
               "bench_shape": shape, "bench_size": 1000}
    for ser, shape, op, size in itertools.product(SERIALIZERS, SHAPES, ["dumps", "loads"],
                                                  sizes):
        yield {"bench_suite": "ser", "bench_subject": ser, "bench_op": op, "bench_shape": shape,
               "bench_size": size}


def mean_time(spec: dict) -> float:
    """The model's true mean seconds of one case."""
    subject, op, size = spec["bench_subject"], spec["bench_op"], spec["bench_size"]
    if spec["bench_suite"] == "ref":
        return 2e-7 + size / 10e9
    if spec["bench_suite"] == "fold":
        k = 2.0 if (subject, op) in QUADRATIC else 1.0
        return 4e-8 * FOLD_FACTORS.get(subject, 1.0) * size**k / (1000 if k == 2 else 1)
    per_item = SHAPES[spec["bench_shape"]] * 2e-10 * (5 if spec["bench_shape"] == "bytes" else 50)
    factor = {"dumps": 1.0, "loads": 1.3}.get(op, 1.15 if "bytesio" in op else 2.0)
    return 1e-6 + SER_BASE.get(subject, 1.0) * factor * per_item * size


def metadata_of(spec: dict, python: str, profile: str) -> dict:
    """Every metadata key the runner writes, plus pyperf's environment keys."""
    size, shape = spec["bench_size"], spec["bench_shape"]
    name = "/".join(str(spec[k]) for k in ("bench_suite", "bench_subject", "bench_op",
                                             "bench_shape", "bench_size"))
    nbytes = SHAPES.get(shape, 8) * size
    meta = {**spec, "name": name, "subject_version": "stdlib " + python, "shape_nbytes": nbytes,
            "peak_alloc_bytes": int(nbytes * 1.5) + 512, "hostname": "bench-host",
            "python_version": f"{python} (64-bit) revision 0123abc",
            "python_implementation": "cpython", "cpu_model_name": "Synthetic CPU @ 3.0GHz",
            "cpu_count": 8, "platform": "Linux-6.1-x86_64-with-glibc2.36",
            "perf_version": pyperf.__version__, "bench_profile": profile,
            "bench_version": "0.1.0", "gc_enabled": "true"}
    if spec["bench_suite"] == "ser":
        meta["payload_bytes"] = int(SER_PAYLOAD.get(spec["bench_subject"], 1.0) * nbytes) + 16
    return meta


def synthetic_runs(spec: dict, meta: dict, rng: random.Random, processes: int,
                   values: int) -> list[pyperf.Run]:
    """The runs of one benchmark: per-process noise 3%, per-value noise 1%."""
    true_mean = mean_time(spec) * (1 + 0.05 * rng.random())
    loops = max(1, int(0.1 / true_mean))  # pyperf calibrates a value to >= 100 ms
    runs = []
    for index in range(processes):
        process_mean = true_mean * rng.lognormvariate(0, 0.03)
        run_values = [process_mean * rng.lognormvariate(0, 0.01) for _ in range(values)]
        date = f"2025-01-01 12:{index // 60:02d}:{index % 60:02d}.000000"
        run_meta = {**meta, "loops": loops, "date": date, "duration": 0.1}
        runs.append(pyperf.Run(run_values, warmups=[(loops, process_mean)], metadata=run_meta,
                               collect_metadata=False))
    return runs


def synthetic_suite(python: str = "3.11.7", n_benchmarks: int = 400, processes: int = 20,
                    values: int = 3, seed: int = 1, profile: str = "quick",
                    specs: list[dict] | None = None) -> pyperf.BenchmarkSuite:
    """A BenchmarkSuite of n synthetic cases shaped like the runner's output."""
    rng = random.Random(seed)
    chosen = specs if specs is not None else list(itertools.islice(case_specs(n_benchmarks),
                                                                   n_benchmarks))
    benchmarks = [pyperf.Benchmark(synthetic_runs(spec, metadata_of(spec, python, profile), rng,
                                                  processes, values)) for spec in chosen]
    return pyperf.BenchmarkSuite(benchmarks)


def time_report(paths: list[str]) -> tuple[float, int]:
    """Seconds to load, summarize and render the report of `paths` in-process, and its bytes."""
    from bench.report.render import build_report

    start = time.perf_counter()
    html = build_report(paths)
    return time.perf_counter() - start, len(html.encode())


def time_cli(paths: list[str], output: Path) -> float:
    """Wall seconds of `python -m bench report` in a fresh process (imports and writing too)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench", "report", *paths, "-o", str(output)],
                   check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--benchmarks", type=int, default=400)
    parser.add_argument("--processes", type=int, default=20)
    parser.add_argument("--keep", metavar="DIR", help="keep the results and report here")
    args = parser.parse_args(argv)
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="bench-report-speed-"))
    workdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(args.files):
        path = workdir / f"py3{11 + index}.json"
        synthetic_suite(f"3.{11 + index}.0", args.benchmarks, args.processes,
                        seed=index).dump(str(path), replace=True)
        paths.append(str(path))
    seconds, size = time_report(paths)
    wall = time_cli(paths, workdir / "index.html")
    print(f"{args.files} files x {args.benchmarks} benchmarks x {args.processes} processes: "
          f"report in {seconds:.2f} s in-process, {wall:.2f} s for the whole `bench report` "
          f"command; {size / 1e6:.2f} MB (targets: <= 10 s, <= 3 MB)")
    if not args.keep:
        shutil.rmtree(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
