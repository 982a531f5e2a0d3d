"""The worker program, `python -m bench.run.worker`: builds, checks and times one case.

The parent (`bench run` and `bench ab`, see bench.run.runner) starts this program for each
worker process of a case, with the case name, pyperf's settings (values, warmups, loops,
min-time) and the files it shares with the case's other workers. The worker builds the
data of its own case only, imports only the library that case times, checks the result
(round trip equal, or fold equal to the plain loop) before timing it, measures peak memory
with tracemalloc in a separate untimed call and minor page faults per call over a few more
(`minor_faults_per_call`), then times warmups and values as pyperf's worker does (`loops`
calls per value, the value divided by `loops`) and writes one JSON object: the values, the
warmups and the run's metadata, or the reason the case cannot be timed (exit 1). The parent
turns it into a pyperf Run.

It stays small and imports little: not pyperf (its import, with psutil and
importlib.metadata for its hooks, was 45 ms of a quick process's 100 ms here), no pandas,
scipy, matplotlib or any library but the one its case times (the `bench_imported` metadata
records which were loaded).

What each op times (one loop iteration):
    dumps / loads                 codec.dumps(obj) / codec.loads(payload)
    dumps-bytesio / loads-bytesio dump(obj, BytesIO()) / load(BytesIO(payload))
    dumps-file / loads-file       with open(path, "wb") as f: dump(obj, f) / with open(path, "rb") ...
    fold tasks                    style_function(items) or style_function(generator over items)
    ref copy                      bytearray(buffer): allocation + memcpy of the payload size
"""

from __future__ import annotations

import gc
import io
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench import __version__
from bench.errors import BenchError
from bench.run.cases import Case, parse_case
from bench.run.plugins import load_plugins
from bench.subjects.user_data import register_options

TimeFunc = Callable[[int], float]
Describe = Callable[[], dict[str, Any]]
PROGRAM_ARGS = ("-m", "bench.run.worker")  # how the parent starts this program
FAULT_CALLS, FAULT_SECONDS = 20, 0.2   # untimed calls that measure page faults per call
MAX_LOOPS = 2 ** 32                     # pyperf's own bound on loops per value
LOOP_SLACK = 0.1                        # calibrated values last min_time plus this share
CANARY_ROUNDS = 3_000                   # the canary's integer loop (with its word count: ~0.35 ms here)
CANARY_TEXT = " ".join(f"w{i % 211}" for i in range(2_000))  # the canary's words, the same bytes


class CaseFailed(BenchError):
    """A case could not be measured: its check failed."""


def build_time_func(case: Case, workdir: str, cache_path: str = "") -> tuple[TimeFunc, dict[str, Any]]:
    """Build the case's data, check it, and return its timing function and metadata.

    The costly metadata (peak memory, payload and input sizes) is the same in every
    worker of a case, so the first worker measures it and leaves it in `cache_path`
    for the others; the check and the `bench_imported` evidence run in every worker.
    """
    op, describe = prepare_case(case, workdir)
    metadata = read_json_file(cache_path)
    if not metadata:
        metadata = {**describe(), "peak_alloc_bytes": measure_peak_alloc(op),
                    "minor_faults_per_call": measure_minor_faults(op)}
        write_cached_metadata(cache_path, metadata)
    metadata["bench_imported"] = imported_libraries()
    return make_time_func(op), metadata


def prepare_case(case: Case, workdir: str) -> tuple[Callable[[], Any], Describe]:
    """Build the case's data and check it: its zero-argument op and its describe() metadata.

    Raises CaseFailed when the check fails; the op is never called before the check passes.
    """
    builders = {"ser": _prepare_serializer, "fold": _prepare_fold, "ref": _prepare_ref,
                "ship": _prepare_ship}
    return builders[case.suite](case, workdir)


def watched_libraries() -> list[str]:
    """The optional libraries the registries' entries import (serializers, fold styles, ship
    transports) and numpy, which shapes use: outside the standard library, each once."""
    from bench.subjects.folds import STYLES
    from bench.subjects.serializers import SERIALIZERS
    from bench.subjects.ship import TRANSPORTS

    modules = [*(s.module for s in SERIALIZERS.values()), *(s.module for s in STYLES.values()),
               *(t.module for t in TRANSPORTS.values()), "numpy"]
    tops = (m.split(".")[0] for m in modules if m)
    return list(dict.fromkeys(m for m in tops if m not in sys.stdlib_module_names))


def imported_libraries() -> str:
    """The watched optional libraries this process has loaded (`bench_imported`), or '-'."""
    return ",".join(m for m in watched_libraries() if m in sys.modules) or "-"


def describe_failure(exc: BaseException) -> str:
    """One line saying why a case could not be measured."""
    from bench.subjects.serializers import describe_error

    return str(exc) if isinstance(exc, BenchError) else describe_error(exc)


def read_json_file(path: str) -> dict[str, Any]:
    """The JSON object in `path` (the metadata an earlier worker of this case measured, a
    worker's result), or {} when there is none whole."""
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


def calibrate_loops(time_func: TimeFunc, min_time: float) -> int:
    """Loops per value: doubled from 1 until one value takes `min_time` seconds (pyperf's
    rule), then cut back to the fewest that still last `min_time` plus `LOOP_SLACK`, run
    inside the worker that then times the case (pyperf would spend a process on it).

    Doubling alone leaves values between 1 and 2 times `min_time` (1.4 on average): the cut
    spends that time on more processes, which is where a quick run's precision comes from.

    >>> calibrate_loops(lambda loops: loops * 0.001, 0.005)
    6
    """
    loops, elapsed = 1, time_func(1)
    while elapsed < min_time and loops * 2 <= MAX_LOOPS:
        loops *= 2
        elapsed = time_func(loops)
    if loops == 1 or elapsed <= 0:
        return loops
    needed = math.ceil(loops * min_time * (1 + LOOP_SLACK) / elapsed)
    return max(loops // 2 + 1, min(loops, needed))


def measure_peak_alloc(op: Callable[[], Any]) -> int:
    """Peak bytes allocated by one untimed call of `op` (tracemalloc)."""
    import tracemalloc  # only the first worker of a case measures it

    gc.collect()
    tracemalloc.start()
    try:
        op()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure_minor_faults(op: Callable[[], Any], calls: int = FAULT_CALLS,
                         seconds: float = FAULT_SECONDS) -> float:
    """Minor page faults per call of `op` (getrusage), over up to `calls` untimed calls or
    `seconds`, after one call that warms the allocator: a call that maps a big buffer afresh
    each time (glibc gives blocks over its mmap threshold back to the system on free) faults
    once per 4 KiB page, and then times the kernel as much as the serializer."""
    import resource

    op()
    start, made = time.perf_counter(), 0
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    while made < calls and (made == 0 or time.perf_counter() - start < seconds):
        op()
        made += 1
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / made


def _prepare_serializer(case: Case, workdir: str) -> tuple[Callable[[], Any], Describe]:
    from bench.equality import same_value
    from bench.subjects.serializers import classify_roundtrip, describe_error, get_serializer, payload_nbytes
    from bench.subjects.shapes import SHAPES, build_shape, shape_nbytes

    serializer = get_serializer(case.subject)
    codec = serializer.codec()
    obj = build_shape(case.shape, case.size)
    check = classify_roundtrip(codec, obj)
    user_data = SHAPES[case.shape].user_data  # the user's data: a lossy round trip is timed, labelled
    if check.status != "ok" and not (user_data and check.status == "lossy"):
        raise CaseFailed(f"check failed: {check.status}: {check.error}")
    payload = check.payload
    expected = obj if check.status == "ok" else codec.loads(payload)
    op = _serializer_op(case.op, codec, obj, payload, os.path.join(workdir, "payload.bin"))
    if case.op not in ("dumps", "loads"):
        try:
            back = _sink_round_trip(case.op, codec, obj, workdir)
        except Exception as exc:
            raise CaseFailed(f"check failed: {describe_error(exc)}") from exc
        if not same_value(expected, back):
            raise CaseFailed(f"check failed: {case.op} gave back a different object")
    labels = {"bench_roundtrip": "exact" if check.status == "ok" else f"lossy: {check.error}"}
    return op, lambda: {"subject_version": serializer.version(), **(labels if user_data else {}),
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
    from bench.subjects.folds import build_items, feed_items, get_fold, get_style, same_answer
    from bench.subjects.serializers import library_version
    from bench.subjects.shapes import shape_nbytes

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
    from bench.subjects.serializers import library_version

    buffer = os.urandom(case.size)
    if bytearray(buffer) != buffer:
        raise CaseFailed("check failed: copy differs")
    return (lambda: bytearray(buffer)), lambda: {"subject_version": library_version(None),
                                                 "shape_nbytes": case.size}


def _prepare_ship(case: Case, workdir: str) -> tuple[Callable[[], Any], Describe]:
    from bench.run.ship_run import prepare_ship

    return prepare_ship(case)


def parse_worker_args(argv: Sequence[str]) -> dict[str, str]:
    """The worker's `--name value` options as a dict; a repeated option joins its values
    with commas (argparse's import alone is a few ms of a process that lasts ~60).

    >>> parse_worker_args(["--case", "a/b/c/d/1", "--plugin", "x", "--plugin", "y"])
    {'case': 'a/b/c/d/1', 'plugin': 'x,y'}
    """
    options: dict[str, str] = {}
    items = iter(argv)
    for arg in items:
        if not arg.startswith("--"):
            raise BenchError(f"unexpected argument {arg!r} (options are --name value)")
        key, value = arg[2:], next(items, None)
        if value is None:
            raise BenchError(f"option {arg} needs a value")
        options[key] = options[key] + "," + value if key in options else value
    return options


def canary_work(rounds: int = CANARY_ROUNDS) -> int:
    """The canary: a fixed workload, the same in every process (a pure-Python loop of integer
    arithmetic, then a word count and a sort in C), which slows down with the machine as the
    cases do (docs/measurements.md).

    >>> canary_work(10)
    496
    """
    total = 0
    for i in range(rounds):
        total = (total + i * i) % 1_000_003
    counts: dict[str, int] = {}
    for word in CANARY_TEXT.split():
        counts[word] = counts.get(word, 0) + 1
    return total + len(sorted(counts.items()))


def time_canary() -> float:
    """Seconds one canary_work() takes in this process now."""
    clock = time.perf_counter
    start = clock()
    canary_work()
    return clock() - start


def time_values(time_func: TimeFunc, loops: int, warmups: int, values: int,
                canary: bool = False) -> dict[str, Any]:
    """Warmup values, then values, each `time_func(loops) / loops` (pyperf's worker), with the
    run's metadata pyperf's worker records: its start `date`, `duration`, `load_avg_1min`
    and `mem_max_rss`; with `canary`, also `bench_canary`: the mean seconds of the canary
    timed after the warmups and after each value (interleaved with the values, it shares the
    process's speed state; bench.correction divides it out), and `bench_canary_min`: the
    fastest of those canaries (scripts/coverage_runs.py --floor); `bench_cpu_share`: the process's
    CPU time over the wall time of its values' window (with their canaries), at most 1: the
    share of it the process ran, not preempted (bench.correction removes the rest).

    >>> result = time_values(lambda loops: loops * 0.5, 4, 1, 2)
    >>> result["loops"], result["warmups"], result["values"]
    (4, [[4, 0.5]], [0.5, 0.5])
    >>> time_values(lambda loops: loops * 0.5, 4, 1, 2, canary=True)["metadata"]["bench_canary"] > 0
    True
    >>> 0 < time_values(lambda loops: sum(range(loops * 1000)) * 0 + 1e-3, 4, 1, 2, canary=True
    ...                 )["metadata"]["bench_cpu_share"] <= 1
    True
    """
    import resource

    date = format_date(time.time())
    start = time.perf_counter()
    timed: list[float] = []
    canaries: list[float] = []
    window = (start, time.process_time())
    for step in range(warmups + values):
        if step == warmups:  # the values' window starts: wall and CPU clocks, outside the loops
            window = (time.perf_counter(), time.process_time())
        timed.append(time_func(loops) / loops)
        if canary and step >= warmups - 1:
            canaries.append(time_canary())
    cpu, duration = time.process_time() - window[1], time.perf_counter() - start
    wall = time.perf_counter() - window[0]
    if not all(timed):
        raise CaseFailed(f"the timer read zero for {loops} loops: the op is too fast for it")
    metadata = {"date": date, "duration": duration, "load_avg_1min": round(os.getloadavg()[0], 2),
                "mem_max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    if canaries:
        metadata["bench_canary"] = sum(canaries) / len(canaries)
        metadata["bench_canary_min"] = min(canaries)
    if cpu > 0 and wall > 0:
        metadata["bench_cpu_share"] = min(cpu / wall, 1.0)
    return {"loops": loops, "warmups": [[loops, value] for value in timed[:warmups]],
            "values": timed[warmups:], "metadata": metadata}


def format_date(seconds: float) -> str:
    """Local time as pyperf's worker records a run's `date` (`datetime.now().isoformat(" ")`,
    with microseconds always), without importing datetime.

    >>> import datetime
    >>> stamp = 1765000000.25
    >>> format_date(stamp) == datetime.datetime.fromtimestamp(stamp).isoformat(" ")
    True
    """
    whole = int(seconds)
    return (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(whole))
            + f".{min(int((seconds - whole) * 1e6), 999_999):06d}")


def write_result(path: str, result: dict[str, Any]) -> None:
    """Write the worker's result for the parent (to `path`; to stdout without one)."""
    text = json.dumps(result)
    if not path:
        print(text)
        return
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Worker entry point: time one case, or write why it cannot be timed.

    Options: --case NAME, --values N, --warmups N, --loops N (0: calibrate them, see
    calibrate_loops), --min-time SECONDS, --result PATH (default: print it), --meta PATH
    (metadata shared by the case's workers), --profile, --round, --pass, --canary 1 (time
    the canary beside the values, see time_values), --plugin MODULE,
    --plugin-path FOLDERS (where the plugins are, os.pathsep between them), --data JSON (the
    parent's data specs, bench.subjects.user_data.child_options).
    """
    options: dict[str, str] = {}
    try:
        options = parse_worker_args(sys.argv[1:] if argv is None else argv)
        if "case" not in options:
            raise BenchError("no --case given")
        load_plugins(filter(None, options.get("plugin", "").split(",")), options.get("plugin-path", ""))
        register_options(options.get("data", ""))
        case = parse_case(options["case"])
        scratch = os.path.dirname(options.get("result", "")) or None  # the parent removes it
        with tempfile.TemporaryDirectory(prefix="bench-", dir=scratch) as workdir:
            time_func, metadata = build_time_func(case, workdir, options.get("meta", ""))
            loops = (int(options.get("loops", 0))
                     or calibrate_loops(time_func, float(options.get("min-time", 0.1))))
            result = time_values(time_func, loops, int(options.get("warmups", 1)),
                                 int(options.get("values", 3)), options.get("canary") == "1")
        result["metadata"] = {**metadata, **case.metadata(), **result["metadata"],
                              **run_metadata(options.get("profile", ""), options.get("round", ""),
                                             options.get("pass", ""))}
        write_result(options.get("result", ""), result)
    except (Exception, RecursionError, MemoryError) as exc:
        reason = describe_failure(exc)
        write_result(options.get("result", ""), {"error": reason})
        if not options.get("result"):
            print(f"bench worker: {options.get('case')}: {reason}", file=sys.stderr)
        return 1
    return 0


def run_metadata(profile: str, ab_round: str = "", step: str = "") -> dict[str, str | int]:
    """Metadata every benchmark of a run carries (pyperf shows it at the top level): the
    profile, bench's version, the GC state while timing, the A/B round and the pass."""
    metadata: dict[str, str | int] = {"bench_version": __version__, "gc_enabled": int(gc.isenabled())}
    if profile:
        metadata["bench_profile"] = profile
    if ab_round:
        metadata["bench_round"] = int(ab_round)
    if step:
        metadata["bench_pass"] = int(step)
    return metadata


def exit_worker(code: int) -> None:
    """End the worker process, without the interpreter's teardown where nothing needs it.

    The result is already written and the case's files are closed, while the parent waits
    for the exit: the teardown (numpy's, dill's modules) was ~15% of a quick
    run's time. A ship case's worker started pools, clusters or servers that atexit shuts
    down, so it exits normally.
    """
    if "bench.run.ship_run" in sys.modules:
        raise SystemExit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_worker(main())
