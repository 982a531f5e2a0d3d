"""The only pyperf glue: one `pyperf.Runner` that times each case in its own worker processes.

Orchestrator side (`iter_run`): the CLI's process creates one Runner and, for each
case, calls `bench_time_func`; pyperf's manager then spawns worker processes
(`python -m bench.runner ...`), calibrates loops, runs warmups and values, and
returns the Benchmark. The case name reaches the workers through pyperf's
`add_cmdline_args` hook (`--bench-case NAME`).

Worker side (`main`, run as `python -m bench.runner`): builds the data of its
own case only, imports only the library that case times, checks the result
(round trip equal, or fold equal to the plain loop) before timing it, measures
peak memory with tracemalloc in a separate untimed call, and hands pyperf a
low-overhead `time_func(loops)`. A check that fails is written to the error
file named by `--bench-errors` and the worker exits 1: the case is reported,
never timed.

What each op times (one loop iteration):
    dumps / loads                 codec.dumps(obj) / codec.loads(payload)
    dumps-bytesio / loads-bytesio dump(obj, BytesIO()) / load(BytesIO(payload))
    dumps-file / loads-file       with open(path, "wb") as f: dump(obj, f) / with open(path, "rb") ...
    fold tasks                    style_function(items) or style_function(generator over items)
    ref copy                      bytearray(buffer): allocation + memcpy of the payload size
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import __version__
from bench.cases import Case, parse_case
from bench.errors import BenchError, InputError

TimeFunc = Callable[[int], float]
Describe = Callable[[], dict[str, Any]]
WATCHED_LIBRARIES = ("dill", "cloudpickle", "msgpack", "numpy", "toolz", "cytoolz")

# pyperf settings per profile; flags given on the command line come after and win.
PROFILE_SETTINGS: dict[str, list[str]] = {
    "smoke": ["--processes", "1", "--values", "2", "--warmups", "1", "--min-time", "0.002",
              "--timeout", "60"],
    "quick": ["--processes", "4", "--values", "4", "--warmups", "1", "--min-time", "0.005",
              "--timeout", "120"],
    "full": ["--timeout", "600"],
    "scaling": ["--processes", "6", "--values", "3", "--warmups", "1", "--min-time", "0.02",
                "--timeout", "600"],
}


class CaseFailed(BenchError):
    """A case could not be measured: its check failed, or its worker failed."""


@dataclass(frozen=True)
class CaseResult:
    """What running one case gave: a pyperf Benchmark, or the reason it failed."""

    case: Case
    benchmark: Any = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class RunSettings:
    """How to run: profile name, pyperf flags, interpreter, plugin modules."""

    profile: str = "quick"
    pyperf_args: list[str] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- worker side

def build_time_func(case: Case, workdir: str, cache_path: str = "") -> tuple[TimeFunc, dict[str, Any]]:
    """Build the case's data, check it, and return its timing function and metadata.

    The costly metadata (peak memory, payload and input sizes) is the same in every
    worker of a case, so the first worker measures it and leaves it in `cache_path`
    for the others; the check and the `bench_imported` evidence run in every worker.
    """
    builders = {"ser": _prepare_serializer, "fold": _prepare_fold, "ref": _prepare_ref}
    op, describe = builders[case.suite](case, workdir)
    metadata = read_cached_metadata(cache_path)
    if not metadata:
        metadata = {**describe(), "peak_alloc_bytes": measure_peak_alloc(op)}
        write_cached_metadata(cache_path, metadata)
    metadata["bench_imported"] = ",".join(m for m in WATCHED_LIBRARIES if m in sys.modules) or "-"
    return make_time_func(op), metadata


def read_cached_metadata(path: str) -> dict[str, Any]:
    """Metadata an earlier worker of this case measured, or {}."""
    try:
        with open(path, encoding="utf-8") as f:
            return dict(json.load(f))
    except (OSError, ValueError):
        return {}


def write_cached_metadata(path: str, metadata: dict[str, Any]) -> None:
    """Leave measured metadata for the next workers of this case (no-op without a path)."""
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(metadata, f)


def make_time_func(op: Callable[[], Any]) -> TimeFunc:
    """A pyperf time_func that calls `op` `loops` times with a minimal loop."""

    def time_func(loops: int) -> float:
        calls = range(loops)
        clock = time.perf_counter
        start = clock()
        for _ in calls:
            op()
        return clock() - start

    return time_func


def measure_peak_alloc(op: Callable[[], Any]) -> int:
    """Peak bytes allocated by one untimed call of `op` (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        op()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _prepare_serializer(case: Case, workdir: str) -> tuple[Callable[[], Any], Describe]:
    from bench.equality import same_value
    from bench.serializers import classify_roundtrip, describe_error, get_serializer, payload_nbytes
    from bench.shapes import build_shape, shape_nbytes

    serializer = get_serializer(case.subject)
    codec = serializer.codec()
    obj = build_shape(case.shape, case.size)
    check = classify_roundtrip(codec, obj)
    if check.status != "ok":
        raise CaseFailed(f"check failed: {check.status}: {check.error}")
    payload = check.payload
    op = _serializer_op(case.op, codec, obj, payload, os.path.join(workdir, "payload.bin"))
    if case.op not in ("dumps", "loads"):
        try:
            back = _sink_round_trip(case.op, codec, obj, workdir)
        except Exception as exc:
            raise CaseFailed(f"check failed: {describe_error(exc)}") from exc
        if not same_value(obj, back):
            raise CaseFailed(f"check failed: {case.op} gave back a different object")
    return op, lambda: {"subject_version": serializer.version(),
                        "payload_bytes": payload_nbytes(payload), "shape_nbytes": shape_nbytes(obj)}


def _serializer_op(op: str, codec: Any, obj: Any, payload: Any, path: str) -> Callable[[], Any]:
    """The zero-argument callable one loop iteration of `op` calls."""
    dumps, loads, dump, load = codec.dumps, codec.loads, codec.dump, codec.load
    if op in ("loads-file", "dumps-file"):
        with open(path, "wb") as f:
            dump(obj, f)
    ops: dict[str, Callable[[], Any]] = {
        "dumps": lambda: dumps(obj),
        "loads": lambda: loads(payload),
        "dumps-bytesio": lambda: dump(obj, io.BytesIO()),
        "loads-bytesio": lambda: load(io.BytesIO(payload)),
        "dumps-file": lambda: _dump_file(dump, obj, path),
        "loads-file": lambda: _load_file(load, path),
    }
    return ops[op]


def _dump_file(dump: Callable[[Any, Any], Any], obj: Any, path: str) -> None:
    with open(path, "wb") as f:
        dump(obj, f)


def _load_file(load: Callable[[Any], Any], path: str) -> Any:
    with open(path, "rb") as f:
        return load(f)


def _sink_round_trip(op: str, codec: Any, obj: Any, workdir: str) -> Any:
    """Round-trip through the op's sink (BytesIO or a real file), for the check before timing."""
    if op.endswith("bytesio"):
        buffer = io.BytesIO()
        codec.dump(obj, buffer)
        return codec.load(io.BytesIO(buffer.getvalue()))
    path = os.path.join(workdir, "check.bin")
    _dump_file(codec.dump, obj, path)
    return _load_file(codec.load, path)


def _prepare_fold(case: Case, workdir: str) -> tuple[Callable[[], Any], Describe]:
    from bench.folds import build_items, feed_items, get_fold, get_style, same_answer
    from bench.serializers import library_version
    from bench.shapes import shape_nbytes

    items = build_items(case.op, case.size)
    fold = get_fold(case.subject, case.op)
    feed = feed_items(items, case.shape)  # type: ignore[arg-type]
    expected = get_fold("loop", case.op)(items)
    if not same_answer(fold(feed()), expected):
        raise CaseFailed(f"check failed: {case.subject} disagrees with loop on {case.op}")
    module = get_style(case.subject).module
    return (lambda: fold(feed())), lambda: {"subject_version": library_version(module),
                                            "shape_nbytes": shape_nbytes(items)}


def _prepare_ref(case: Case, workdir: str) -> tuple[Callable[[], Any], Describe]:
    from bench.serializers import library_version

    buffer = os.urandom(case.size)
    if bytearray(buffer) != buffer:
        raise CaseFailed("check failed: copy differs")
    return (lambda: bytearray(buffer)), lambda: {"subject_version": library_version(None),
                                                 "shape_nbytes": case.size}


def split_worker_args(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Take our `--bench-*` options out of a worker's argv; drop pyperf's `--worker-task`.

    Each worker process registers exactly one benchmark, so pyperf's task index
    (which counts benchmarks of the parent) must not be applied in the worker.

    >>> split_worker_args(["--worker", "--worker-task=3", "--bench-case", "a/b/c/d/1"])
    ({'case': 'a/b/c/d/1'}, ['--worker'])
    """
    ours: dict[str, str] = {}
    rest: list[str] = []
    items = iter(argv)
    for arg in items:
        if arg.startswith("--bench-"):
            key = arg[len("--bench-"):]
            ours[key] = ours[key] + "," + next(items) if key in ours else next(items)
        elif not arg.startswith("--worker-task"):
            rest.append(arg)
    return ours, rest


def main(argv: Sequence[str] | None = None) -> int:
    """Worker entry point: time one case, or write why it cannot be timed."""
    import pyperf

    ours, rest = split_worker_args(sys.argv[1:] if argv is None else argv)
    try:
        load_plugins(ours.get("plugin", ""))
        case = parse_case(ours["case"])
        with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
            time_func, metadata = build_time_func(case, workdir, ours.get("meta", ""))
            runner = pyperf.Runner(program_args=("-m", "bench.runner"))
            runner.parse_args(rest)
            runner.metadata.update(metadata)
            runner.metadata.update(case.metadata())
            runner.metadata.update(run_metadata(ours.get("profile", ""), ours.get("round", "")))
            runner.bench_time_func(case.name, time_func)
    except (Exception, RecursionError, MemoryError) as exc:
        from bench.serializers import describe_error

        reason = str(exc) if isinstance(exc, BenchError) else describe_error(exc)
        if "errors" in ours:
            with open(ours["errors"], "w", encoding="utf-8") as f:
                f.write(reason)
        else:
            print(f"bench worker: {ours.get('case')}: {reason}", file=sys.stderr)
        return 1
    return 0


def load_plugins(names: str) -> None:
    """Import plugin modules (comma-separated) that may add entries to the registries."""
    for name in filter(None, names.split(",")):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise InputError(f"--plugin {name!r}: cannot import it ({exc})") from None


def run_metadata(profile: str, ab_round: str = "") -> dict[str, str | int]:
    """Metadata every benchmark of a run carries (pyperf shows it at the top level)."""
    metadata: dict[str, str | int] = {"bench_profile": profile, "bench_version": __version__,
                                      "gc_enabled": int(gc.isenabled())}
    if ab_round:
        metadata["bench_round"] = int(ab_round)
    return metadata


def plan_ab_rounds(rounds: int) -> list[tuple[int, str]]:
    """(round, side) in run order: A B, then B A, ... so neither side always goes first.

    >>> plan_ab_rounds(2)
    [(1, 'a'), (1, 'b'), (2, 'b'), (2, 'a')]
    """
    if rounds < 1:
        raise InputError(f"--rounds {rounds}: need at least one round")
    return [(r, side) for r in range(1, rounds + 1)
            for side in (("a", "b") if r % 2 else ("b", "a"))]


# ---------------------------------------------------------------- orchestrator side

def pyperf_argv(settings: RunSettings) -> list[str]:
    """pyperf flags: the profile's defaults, then the user's, then ours."""
    try:
        defaults = PROFILE_SETTINGS[settings.profile]
    except KeyError:
        defaults = PROFILE_SETTINGS["quick"]
    return [*defaults, *settings.pyperf_args, "--quiet"]


def make_runner(settings: RunSettings, current: dict[str, str]) -> Any:
    """The one pyperf.Runner of this process; each worker it spawns is told the case, its
    error and metadata files and its A/B round from `current`, read when the worker starts."""
    import pyperf

    def add_case_args(cmd: list[str], args: Any) -> None:
        cmd.extend(["--bench-case", current["case"], "--bench-errors", current["errors"],
                    "--bench-meta", current["meta"], "--bench-profile", settings.profile])
        for plugin in settings.plugins:
            cmd.extend(["--bench-plugin", plugin])
        if current.get("round"):
            cmd.extend(["--bench-round", current["round"]])

    try:
        runner = pyperf.Runner(program_args=("-m", "bench.runner"), add_cmdline_args=add_case_args)
    except RuntimeError:
        raise BenchError("only one run per process: pyperf allows a single Runner") from None
    try:
        runner.parse_args(pyperf_argv(settings))
    except SystemExit:
        raise InputError(f"bad pyperf options: {' '.join(settings.pyperf_args)}") from None
    return runner


def reset_scratch(scratch: str, side: str = "") -> dict[str, str]:
    """Empty error and metadata files for the workers of one case (on one side)."""
    files = {"errors": os.path.join(scratch, f"errors{side}.txt"),
             "meta": os.path.join(scratch, f"meta{side}.json")}
    for path in files.values():
        open(path, "w").close()
    return files


def iter_run(cases: Sequence[Case], settings: RunSettings) -> Iterator[CaseResult]:
    """Time each case in its own pyperf workers; yield one CaseResult per case, in order."""
    current: dict[str, str] = {}
    scratch = tempfile.mkdtemp(prefix="bench-run-")
    try:
        runner = make_runner(settings, current)
        for case in cases:
            current.update(case=case.name, **reset_scratch(scratch))
            yield time_case(runner, case, current["errors"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def iter_ab(cases: Sequence[Case], settings: RunSettings, pythons: dict[str, str],
            rounds: int) -> Iterator[dict[str, CaseResult]]:
    """Time each case on interpreters A and B alternately; yield {side: CaseResult} per case.

    A case runs its rounds back to back (plan_ab_rounds: A B, B A, A B ...), so the two
    sides of a round are seconds apart and share the machine's state; each worker records
    its round (`bench_round`). Loops are calibrated once per case, on A's first call, and
    used by every later call of the case on both sides. A side whose call fails keeps the
    failure and the case's remaining rounds are skipped.
    """
    plan = plan_ab_rounds(rounds)
    current: dict[str, str] = {}
    scratch = tempfile.mkdtemp(prefix="bench-ab-")
    try:
        runner = make_runner(settings, current)
        given_loops = runner.args.loops
        for case in cases:
            files = {side: reset_scratch(scratch, side) for side in pythons}
            merged: dict[str, CaseResult] = {}
            runner.args.loops = given_loops
            for ab_round, side in plan:
                current.update(case=case.name, round=str(ab_round), **files[side])
                runner.args.python = pythons[side]
                result = time_case(runner, case, current["errors"],
                                   task=f"{case.name} [{side}{ab_round}]")
                merged[side] = combine_results(merged.get(side), result)
                if result.benchmark is None:
                    break
                runner.args.loops = runner.args.loops or result.benchmark.get_runs()[-1].get_loops()
            yield merged
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def combine_results(earlier: CaseResult | None, later: CaseResult) -> CaseResult:
    """One side's result of a case so far: the runs of both, or the later failure."""
    if earlier is None or later.benchmark is None or earlier.benchmark is None:
        return later
    earlier.benchmark.add_runs(later.benchmark)
    return CaseResult(later.case, earlier.benchmark, None, earlier.seconds + later.seconds)


def time_case(runner: Any, case: Case, error_path: str, task: str = "") -> CaseResult:
    """Run one case through pyperf's manager; turn a worker failure into a CaseResult.

    `task` names the call for pyperf (unique per Runner); the worker names the benchmark.
    """
    start = time.monotonic()
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            bench = runner.bench_time_func(task or case.name, _never_called)
        return CaseResult(case, bench, None, time.monotonic() - start)
    except (RuntimeError, ValueError, SystemExit) as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from exc  # pyperf turns Ctrl-C into sys.exit(1)
        reason = read_reason(error_path) or describe_worker_failure(exc, out.getvalue())
        return CaseResult(case, None, reason, time.monotonic() - start)


def _never_called(loops: int) -> float:
    raise AssertionError("the orchestrator never times anything itself")


def read_reason(path: str) -> str:
    """The reason a worker wrote before exiting, or an empty string."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return ""


def describe_worker_failure(exc: BaseException, output: str) -> str:
    """One line saying how a worker died, from pyperf's exception.

    >>> describe_worker_failure(RuntimeError("python failed with exit code -11"), "")
    'worker crashed: killed by SIGSEGV'
    """
    text = str(exc)
    if isinstance(exc, SystemExit):
        if exc.code == 124:
            return f"worker timed out: {output.strip().splitlines()[-1] if output.strip() else ''}"
        return f"pyperf stopped: {output.strip() or f'exit code {exc.code}'}"
    code = text.rsplit("exit code ", 1)[-1]
    if code.lstrip("-").isdigit() and int(code) < 0:
        return f"worker crashed: killed by {signal.Signals(-int(code)).name}"
    return f"worker failed: {text}"


# ---------------------------------------------------------------- results files

def suite_json(benchmarks: Sequence[Any], failures: dict[str, str]) -> str:
    """pyperf's JSON of the benchmarks, plus our `bench_failures` key (pyperf ignores it)."""
    import pyperf

    out = io.StringIO()
    pyperf.BenchmarkSuite(list(benchmarks)).dump(out, compact=True)
    text = out.getvalue().rstrip()
    if not text.endswith("}"):
        raise ValueError("pyperf's JSON does not end with an object")
    listed = json.dumps([{"name": k, "reason": v} for k, v in failures.items()])
    return f'{text[:-1]},"bench_failures":{listed}}}\n'


def load_suite(path: str) -> tuple[list[Any], dict[str, str]]:
    """Benchmarks and failures of an existing results file (for --append)."""
    from bench.frame import read_suite

    suite = read_suite(path)
    if not any(run.values for bench in suite.get_benchmarks() for run in bench.get_runs()):
        raise InputError(f"{path}: no timed values (only calibration runs?)")
    try:
        with open(path, encoding="utf-8") as f:
            failures = {f["name"]: f["reason"] for f in json.load(f).get("bench_failures", [])}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: bad bench_failures list ({exc})") from None
    return list(suite.get_benchmarks()), failures


def merge_benchmark(benchmarks: list[Any], bench: Any) -> None:
    """Add a benchmark, or its runs to the benchmark of the same name (pyperf --append)."""
    for existing in benchmarks:
        if existing.get_name() == bench.get_name():
            existing.add_runs(bench)
            return
    benchmarks.append(bench)


if __name__ == "__main__":
    raise SystemExit(main())
