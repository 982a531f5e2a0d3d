"""Instruction counts under callgrind (`bench run --metric instructions`), and the program that counts.

The parent (`iter_count`, in the `bench` process) groups the cases by the libraries outside
the standard library they import (`group_cases`: the subject's module and the shape's
library, so a process that counts pickle never imports dill), cuts big groups into chunks,
and runs each chunk in one counting process under valgrind, two at a time. A counting
process (`python -m bench.run.counter`, COUNTING_ENV: PYTHONHASHSEED=0 and a fixed malloc mmap
threshold; address randomization off when `setarch -R` works) prepares a batch of cases with
bench.run.worker (build, check, describe()) with instrumentation stopped (starting it again
throws away all of callgrind's translations, ~0.3 s of work each time, so once per batch,
not per case), then counts each case of the batch:

    the loop with 1 call      -> the loop count k (calls that reach LOOP_TARGET instructions)
    k calls (10 at least)     -> warm-up, not counted (first-call caches, the interpreter's
                                 specializations); none when k is 1 (an op that costs up to
                                 seconds a call under callgrind): the check's call warmed it
    the loop with 0 calls     -> its fixed costs, after gc.collect()
    a warm-up value, then per value: the loop with k calls, after gc.collect()
    value = (count(k calls) - count(0 calls)) / k

The first count after the warm-up calls is pyperf's warm-up value, not a value: it read up
to 5% more than the counts after it (a dill loads, a list-growing fold) in every run, which
widened the case's interval past the gate's 1% threshold; when k is 1, the 1-call count is
that warm-up value. Values stop at `values` or at VALUE_BUDGET instructions (an op of 100 M
or more, ~1.5 s a call under callgrind, is counted once, with no warm-up value: its values
in one process agree within 0.01%). The fixed costs (the loop's set-up, the client requests,
the dump) cancel; what is left is one call
of the op and one turn of the `for` loop that calls it, as in a time run. Peak memory is
not measured here: it is the time run's, and its tracemalloc call would move the next
call's count. The objects alive after preparing (the interpreter's, the case's data) are
frozen (gc.freeze) while the case is counted, so the full collection before each value
walks only what the counting made, not every object (under callgrind a walk of all of them
costs more than counting most ops); a collection the op triggers skips them likewise.

Each count ends with a dump, whose file name the counting process knows from the order of
its dumps. Only the 1-call count is read there (it chooses k); the process prints one JSON
line per case (loops, metadata and the dump files of its empty loop and values, or the
reason it failed) and the parent reads those dumps (`read_values`) and deletes them: under
callgrind, reading a file in Python costs ~50 ms. Nothing the process prints depends on time
(the parent times the cases): a line whose length varied would move every later allocation,
and with it the counts of the address-sensitive cases after it. A counting process that dies
takes its case with it (recorded with how it died); the rest of its group goes on anew.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.metric import INSTRUCTIONS
from bench.run.callgrind import CALLGRIND_OPTIONS, Shim, Tools, keep_profile, read_dump, read_dump_head
from bench.run.cases import Case, parse_case
from bench.run.plugins import load_plugins
from bench.run.runner import (
    CaseResult,
    absolute_program,
    child_environ,
    describe_exit,
    make_scratch,
    plugin_options,
    python_metadata,
    remove_stale_scratch,
)
from bench.run.worker import describe_failure, imported_libraries, prepare_case, run_metadata
from bench.subjects.folds import STYLES
from bench.subjects.serializers import SERIALIZERS
from bench.subjects.shapes import SHAPES
from bench.subjects.user_data import register_options

VALUES = 3                # values per case unless -n/--values
JOBS = 2                  # counting processes at once
CHUNKS_PER_JOB = 4        # groups are cut so that each job gets about this many processes
MIN_CHUNK = 10            # cases, at least, per process of a big group (start-up costs ~4 s)
LOOP_TARGET = 1_000_000   # instructions the k calls of a count reach at least (fixed costs drift by
                          # ~1,000 between counts: 0.1%)
MAX_LOOPS = 10_000
WARMUP_CALLS = 64         # at least, before the counts: calls made once per call specialize only
                          # after dozens of calls (10 left the first value ~1% high)
VALUE_BUDGET = 100_000_000  # a case's values stop once they reach this many instructions
BATCH_BYTES = 256 * 2**20   # cases prepared at once hold at most about this much data
HASH_SEED = "0"
# glibc's mmap threshold, fixed: left alone it moves as big blocks are freed, so a 1 MB
# buffer came from mmap in one run and from the heap in the next (different instructions).
MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": "131072"}
COUNTING_ENV = {"PYTHONHASHSEED": HASH_SEED, **MALLOC_SETTINGS}
POLL_SECONDS = 0.2        # how often the parent looks up from waiting (for Ctrl-C)
UNIT = INSTRUCTIONS.unit  # pyperf's unit of a count
DUMP_NAME = "callgrind.out"


@dataclass
class CountSettings:
    """How to count: the tools, values per case, the interpreter, plugins, the profile's name."""

    tools: Tools
    values: int = VALUES
    python: str = sys.executable
    plugins: list[str] = field(default_factory=list)
    profile: str = ""
    jobs: int = JOBS


# ---------------------------------------------------------------- pure parts

def case_libraries(case: Case) -> tuple[str, ...]:
    """The libraries outside the standard library that counting a case imports: its subject's
    module and its shape's library.

    >>> case_libraries(Case("ser", "dill", "dumps", "ndarray", 10))
    ('dill', 'numpy')
    >>> case_libraries(Case("ser", "pickle-5", "dumps", "ints", 10))
    ()
    """
    modules: set[str | None] = set()
    if case.suite == "ser":
        modules = {SERIALIZERS[case.subject].module, SHAPES[case.shape].library}
    elif case.suite == "fold":
        modules = {STYLES[case.subject].module}
    return tuple(sorted(m for m in modules if m and m.split(".")[0] not in sys.stdlib_module_names))


def group_cases(cases: Sequence[Case], jobs: int = JOBS, per_job: int = CHUNKS_PER_JOB
                ) -> list[list[Case]]:
    """The cases in groups that share a counting process, largest first.

    Cases share a process only when they import the same libraries (a process that counts
    pickle never imports dill); a group is cut into chunks of MIN_CHUNK cases or more, so
    that `jobs` processes at once get about `per_job` chunks each.
    """
    groups: dict[tuple[str, ...], list[Case]] = {}
    for case in cases:
        groups.setdefault(case_libraries(case), []).append(case)
    size = max(MIN_CHUNK, math.ceil(len(cases) / (jobs * per_job)))
    chunks = [group[i:i + size] for group in groups.values() for i in range(0, len(group), size)]
    return sorted(chunks, key=len, reverse=True)


def choose_loops(one_call: int, target: int = LOOP_TARGET) -> int:
    """Calls per count so that k calls reach `target` instructions (1 to MAX_LOOPS).

    >>> choose_loops(3_000_000), choose_loops(40_000), choose_loops(0)
    (1, 25, 10000)
    """
    return min(MAX_LOOPS, max(1, math.ceil(target / max(one_call, 1))))


def per_call(empty: int, full: int, loops: int) -> float:
    """Instructions of one call: the count of k calls less that of the empty loop, over k.

    >>> per_call(300, 1_000_300, 10)
    100000.0
    """
    return (full - empty) / loops


# ---------------------------------------------------------------- the counting process

class Dumps:
    """Counts into callgrind dumps, named as callgrind names them: callgrind.out.1, .2, ..."""

    def __init__(self, shim: Shim, directory: str) -> None:
        self.shim = shim
        self.directory = directory
        self.made = 0

    def count(self, op: Callable[[], Any], loops: int, label: str) -> tuple[str, str]:
        """Count `loops` calls of `op` (plus fixed costs) into a new dump: its path and label."""
        self.shim.zero_stats()
        self.call(op, loops)
        self.shim.dump_stats_at(label)
        self.made += 1
        return os.path.join(self.directory, f"{DUMP_NAME}.{self.made}"), label

    @staticmethod
    def call(op: Callable[[], Any], loops: int) -> None:
        """The loop every count runs; warm-up calls go through it too, so that the loop's own
        bytecode is specialized for this op before the first value (on Python 3.11+ the
        first value read ~1% more when the warm-up ran in another loop)."""
        for _ in range(loops):
            op()


def take_count(path: str, label: str) -> int:
    """The Ir total of one dump, which must carry `label`; the file is deleted."""
    name = os.path.basename(path)
    try:
        found, counts = read_dump(read_dump_head(path))
        os.unlink(path)
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"callgrind dump {name} for {label!r} unreadable: {exc}") from None
    if found != label:
        raise RuntimeError(f"callgrind dump {name} is labelled {found!r}, not {label!r}")
    return counts["Ir"]


@dataclass
class Prepared:
    """A case built and checked, waiting to be counted: its op and metadata."""

    case: Case
    op: Callable[[], Any]
    metadata: dict[str, Any]


def prepare_batch(names: Iterator[str], workdir: str, budget: int = BATCH_BYTES
                  ) -> Generator[dict[str, Any] | Prepared, None, None]:
    """Prepare cases from `names` until their data reach `budget` bytes (at least one case):
    a Prepared for each case that passed its check, else its error line. Each case is
    announced first ({"at": name}), so the parent knows which case a dying process was on."""
    held = 0
    for number, name in enumerate(names):
        print(json.dumps({"at": name}), flush=True)
        try:
            case = parse_case(name)
            folder = os.path.join(workdir, str(number))
            os.mkdir(folder)
            op, describe = prepare_case(case, folder)
            metadata = {**describe(), "bench_imported": imported_libraries(),
                        "python_version": f"{platform.python_version()} "
                                          f"({platform.architecture()[0]})",
                        "python_implementation": sys.implementation.name}
        except (Exception, RecursionError, MemoryError) as exc:
            yield {"case": name, "error": describe_failure(exc)}
            continue
        yield Prepared(case, op, metadata)
        held += int(metadata.get("shape_nbytes") or 0)
        if held >= budget:
            return


def count_case(item: Prepared, dumps: Dumps, values: int) -> dict[str, Any]:
    """Count one prepared case: its line (loops, metadata and the dumps to read).

    The line names the dump of the empty loop and of each count; `counted` holds the counts
    already read here (the 1-call count, when one call is the whole loop); the first
    `warmup_counts` counts are warm-up values.
    """
    op, name = item.op, item.case.name
    one_call = take_count(*dumps.count(op, 1, f"{name} 1 call"))
    loops = choose_loops(one_call)
    dumps.call(op, max(loops, WARMUP_CALLS) if loops > 1 else 0)
    gc.collect()
    empty = dumps.count(op, 0, f"{name} empty")
    counted = [one_call] if loops == 1 else []
    files: list[tuple[str, str]] = []
    wanted = values + 1 if one_call * loops < VALUE_BUDGET else 1  # + the warm-up value
    while (len(counted) + len(files) < wanted
           and (len(counted) + len(files)) * one_call * loops < VALUE_BUDGET):
        gc.collect()
        files.append(dumps.count(op, loops, f"{name} {len(files)}"))
    return {"case": name, "loops": loops, "metadata": item.metadata,
            "empty": empty, "counted": counted, "dumps": files, "warmup_counts": int(wanted > 1)}


def count_cases(names: Sequence[str], dumps: Dumps, values: int) -> Iterator[dict[str, Any]]:
    """Prepare and count cases in batches: a batch is built and checked with instrumentation
    stopped, its objects frozen, then counted with instrumentation on; one line per case.

    Stopping and starting instrumentation throws away everything callgrind has translated
    (~0.3 s of re-translation under callgrind), so it happens once per batch, not per case.
    """
    pending = iter(names)
    while True:
        with tempfile.TemporaryDirectory(prefix="bench-count-", dir=dumps.directory) as workdir:
            dumps.shim.stop_instrumentation()  # building and checking at valgrind's plain speed
            try:
                batch = list(prepare_batch(pending, workdir))
                gc.collect()
                gc.freeze()
            finally:
                dumps.shim.start_instrumentation()
            if not batch:
                return
            try:
                for item in batch:
                    if isinstance(item, Prepared):
                        print(json.dumps({"at": item.case.name}), flush=True)
                        try:
                            yield count_case(item, dumps, values)
                        except (Exception, RecursionError, MemoryError) as exc:
                            yield {"case": item.case.name, "error": describe_failure(exc)}
                    else:
                        yield item
            finally:
                gc.unfreeze()
            del batch


def read_values(line: dict[str, Any]) -> dict[str, Any]:
    """A counting process's line with its `values`: each count (read from its dump, which
    is deleted) less the empty loop's, per call; or with an `error` when a dump is wrong."""
    if "error" in line:
        return line
    try:
        empty = take_count(*line["empty"])
        totals = [*line["counted"], *(take_count(path, label) for path, label in line["dumps"])]
    except RuntimeError as exc:
        return {"case": line["case"], "error": str(exc)}
    counts = [per_call(empty, total, line["loops"]) for total in totals]
    skip = int(line.get("warmup_counts", 0))
    return {**line, "warmups": counts[:skip], "values": counts[skip:]}


def main(argv: Sequence[str] | None = None) -> int:
    """Counting process entry point: count each case given, one JSON line per case on stdout."""
    parser = argparse.ArgumentParser(prog="python -m bench.run.counter")
    parser.add_argument("--shim", required=True)
    parser.add_argument("--dumps", required=True, help="the directory callgrind dumps into")
    parser.add_argument("--values", type=int, default=VALUES)
    parser.add_argument("--plugin", action="append", default=[])
    parser.add_argument("--plugin-path", default="", help="the plugins' folders (os.pathsep)")
    parser.add_argument("--data", default="", help="the parent's data specs (JSON)")
    parser.add_argument("cases", nargs="+")
    args = parser.parse_args(argv)
    load_plugins(args.plugin, args.plugin_path)
    register_options(args.data)
    shim = Shim(args.shim)
    if not shim.on_valgrind():
        print("bench counter: not running under valgrind", file=sys.stderr)
        return 2
    for line in count_cases(args.cases, Dumps(shim, args.dumps), args.values):
        print(json.dumps(line), flush=True)
    return 0


# ---------------------------------------------------------------- the parent

def counting_metadata(settings: CountSettings) -> dict[str, Any]:
    """Metadata every counted case carries: the metric and what makes two runs agree."""
    return {"bench_metric": "instructions", "hash_seed": HASH_SEED,
            "malloc_settings": " ".join(f"{k}={v}" for k, v in MALLOC_SETTINGS.items()),
            "valgrind_version": settings.tools.version,
            "callgrind_options": " ".join(CALLGRIND_OPTIONS),
            "address_randomization": "off" if settings.tools.setarch else "on",
            **run_metadata(settings.profile)}


def predict_metadata(python: str) -> dict[str, Any]:
    """The machine's and interpreter's metadata (and unit) a count of `python` will carry."""
    return {**python_metadata(python), "unit": UNIT}


def make_benchmark(case: Case, line: dict[str, Any], common: dict[str, Any]) -> Any:
    """A pyperf Benchmark of one counted case: one Run per value (so n 'processes')."""
    import pyperf

    metadata = {**common, **line["metadata"], **case.metadata(), "name": case.name,
                "unit": UNIT, "loops": int(line["loops"]),
                "date": datetime.datetime.now().isoformat(" ", "seconds")}
    warmups = [(int(line["loops"]), value) for value in line.get("warmups", ())]
    return pyperf.Benchmark([pyperf.Run([value], warmups=warmups if number == 0 else None,
                                        metadata=metadata, collect_metadata=False)
                             for number, value in enumerate(line["values"])])


def read_case_line(case: Case, line: dict[str, Any], common: dict[str, Any]) -> CaseResult:
    """The CaseResult of one JSON line of a counting process."""
    if "error" in line:
        return CaseResult(case, None, str(line["error"]))
    if not line["values"] or min(line["values"]) <= 0:
        return CaseResult(case, None, f"count not positive: {line['values']}")
    return CaseResult(case, make_benchmark(case, line, common), profile=line.get("profile"))


def counting_command(group: Sequence[Case], settings: CountSettings, dumps: str) -> list[str]:
    """The valgrind command of one counting process (started in `dumps`, never in the
    caller's folder, whose modules it must not import)."""
    program = [absolute_program(settings.python), "-m", "bench.run.counter", "--shim", settings.tools.shim,
               "--dumps", dumps, "--values", str(settings.values)]
    return settings.tools.command(os.path.join(dumps, DUMP_NAME),
                                  [*program, *plugin_options(settings.plugins), *(c.name for c in group)])


class Pool:
    """Counting processes, `jobs` at a time, each reporting its cases on `results`."""

    def __init__(self, cases: Sequence[Case], settings: CountSettings) -> None:
        self.settings = settings
        self.pending = deque(group_cases(cases, settings.jobs))
        self.lock = threading.Lock()
        self.results: queue.Queue[CaseResult | None] = queue.Queue()
        self.processes: set[subprocess.Popen[str]] = set()
        self.stopped = False
        self.common = {**python_metadata(settings.python), **counting_metadata(settings)}
        self.env = child_environ({**os.environ, **COUNTING_ENV})

    def next_group(self) -> list[Case] | None:
        with self.lock:
            return None if self.stopped or not self.pending else self.pending.popleft()

    def serve(self) -> None:
        """One thread's work: groups until none is left, then a None on `results`."""
        try:
            while (group := self.next_group()) is not None:
                self.count_group(group)
        finally:
            self.results.put(None)

    def count_group(self, group: list[Case]) -> None:
        """Run one counting process over `group`; requeue what a dead process left."""
        dumps = make_scratch("callgrind")
        try:
            with tempfile.TemporaryFile("w+") as errors:
                try:
                    proc = subprocess.Popen(counting_command(group, self.settings, dumps),
                                            stdout=subprocess.PIPE, stderr=errors, text=True,
                                            env=self.env, cwd=dumps)
                except OSError as exc:
                    for case in group:
                        self.results.put(CaseResult(case, None, f"cannot start valgrind: {exc}"))
                    return
                with self.lock:
                    self.processes.add(proc)
                left = {case.name: case for case in group}
                at, since = "", time.perf_counter()
                assert proc.stdout is not None
                for text in proc.stdout:
                    if not text.startswith("{"):
                        continue
                    line = json.loads(text)
                    if "at" in line:
                        at = line["at"]
                    elif line.get("case") in left:
                        line = read_values(keep_profile(line))
                        now = time.perf_counter()
                        if "values" in line:  # the time since the last case, a value's share
                            line["metadata"]["duration"] = (now - since) / len(line["values"])
                        since = now
                        self.results.put(read_case_line(left.pop(line["case"]), line, self.common))
                code = proc.wait()
                with self.lock:
                    self.processes.discard(proc)
                errors.seek(0)
                self.settle(list(left.values()), at, code, errors.read())
        finally:
            shutil.rmtree(dumps, ignore_errors=True)

    def settle(self, left: list[Case], at: str, code: int, stderr: str) -> None:
        """A process ended with cases left: the case it was on (`at`, else the first left)
        fails with how it died; the rest requeue."""
        if not left or self.stopped:
            return
        dead = next((case for case in left if case.name == at), left[0])
        last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        self.results.put(CaseResult(dead, None, f"{describe_exit(code)}{f': {last}' if last else ''}"))
        rest = [case for case in left if case is not dead]
        with self.lock:
            if rest:
                self.pending.appendleft(rest)

    def stop(self) -> None:
        """Start no more groups and kill the running processes."""
        with self.lock:
            self.stopped = True
            for proc in self.processes:
                proc.kill()


def iter_count(cases: Sequence[Case], settings: CountSettings) -> Generator[CaseResult, None, None]:
    """Count each case under callgrind; yield one CaseResult per case, as they finish."""
    remove_stale_scratch()
    pool = Pool(cases, settings)
    threads = [threading.Thread(target=pool.serve, daemon=True) for _ in range(settings.jobs)]
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            try:  # a timeout, so that Ctrl-C is seen even when another thread caught the signal
                result = pool.results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if result is None:
                running -= 1
            else:
                yield result
    finally:
        pool.stop()
        for thread in threads:
            thread.join(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())
