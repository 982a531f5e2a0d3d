"""Python-level attribution of a counted case: calls and bytecode instructions per Python function.

Callgrind sees Python code only as the interpreter's frame evaluation (`_PyEval_EvalFrameDefault`),
so a change inside dill's Python code would be named by that function alone (`is_evaluation`). For the counted
cases whose profile spends at least PYTHON_SHARE of its instructions in frame evaluation, a
separate pass, outside valgrind and after the count (so it never moves a count), runs
`python -m bench.run.pycalls` over them: each case is built and checked as a counting process
does (bench.run.worker), called WARMUP_CALLS times, then one call is traced with
`sys.settrace` and per-opcode events: per Python function (its qualified name, file and first
line), the bytecode instructions it executed itself (exclusive), with its callees (inclusive),
and its calls. These are deterministic (PYTHONHASHSEED=0, as a count), and join the case's
profile under `py` (bench.run.profiles).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from bench.run.profiles import TOP, short_file

if TYPE_CHECKING:
    from bench.run.counter import CountSettings
    from bench.run.runner import CaseResult

PYTHON_SHARE = 0.1    # a case gets the pass when frame evaluation holds this share of its instructions
EVAL_FUNCTION = "_PyEval_EvalFrameDefault"
WARMUP_CALLS = 3
BATCH = 16            # cases per pass process
TIMEOUT = 600.0       # seconds a pass process may take


def python_share(profile: dict[str, Any]) -> float:
    """The share of a profile's instructions spent in the interpreter's frame evaluation itself.

    >>> python_share({"ir": 100, "fns": [["_PyEval_EvalFrameDefault", "", 0, 30, 90, 1]]})
    0.3
    """
    total = float(profile.get("ir") or 0)
    spent = sum(row[3] for row in profile.get("fns", ()) if is_evaluation(str(row[0]), str(row[1])))
    return spent / total if total > 0 else 0.0


def is_evaluation(name: str, file: str) -> bool:
    """True for the interpreter's frame evaluation: `_PyEval_EvalFrameDefault`, or any function
    callgrind places in ceval's files (a build whose symbols name the loop otherwise).

    >>> is_evaluation("_PyObject_MakeTpCall", "internal/pycore_ceval.h"), is_evaluation("f", "a.c")
    (True, False)
    """
    return name.startswith(EVAL_FUNCTION) or "ceval" in file.rsplit("/", 1)[-1]


def trace_case(op: Callable[[], Any]) -> dict[str, Any]:
    """The `py` part of a profile: one traced call's functions (bytecode instructions executed
    and calls; a recursive call's instructions count once, in its outermost call's inclusive)."""
    costs: dict[tuple[str, str, int], list[int]] = {}  # key -> [exclusive, inclusive, calls]
    stack: list[tuple[tuple[str, str, int], list[int], int]] = []  # key, its row, ops at entry
    ops = [0]

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if event == "opcode":
            ops[0] += 1
            stack[-1][1][0] += 1
        elif event == "call":
            code = frame.f_code
            key = (getattr(code, "co_qualname", code.co_name), code.co_filename, code.co_firstlineno)
            row = costs.setdefault(key, [0, 0, 0])
            row[2] += 1
            stack.append((key, row, ops[0]))
            frame.f_trace_opcodes = True
        elif event == "return" and stack:
            key, row, entry = stack.pop()
            if all(key != outer for outer, _, _ in stack):
                row[1] += ops[0] - entry
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        op()
    finally:
        sys.settrace(previous)
    return make_python_profile(costs, ops[0])


def make_python_profile(costs: dict[tuple[str, str, int], list[int]], total: int, top: int = TOP
                        ) -> dict[str, Any]:
    """The stored form of traced costs.

    >>> make_python_profile({("f", "/a/b/m.py", 3): [5, 9, 1], ("g", "/a/b/m.py", 9): [4, 4, 1]}, 9)
    {'ops': 9, 'other': 0, 'fns': [['f', 'b/m.py:3', 5, 9, 1], ['g', 'b/m.py:9', 4, 4, 1]]}
    """
    rows = [(name, f"{short_file(file)}:{line}", row[0], row[1], row[2])
            for (name, file, line), row in costs.items()]
    kept = {id(r): r for r in sorted(rows, key=lambda r: -r[2])[:top]}
    kept.update({id(r): r for r in sorted(rows, key=lambda r: -r[3])[:top]})
    chosen = sorted(kept.values(), key=lambda r: (-r[2], r[0]))
    return {"ops": total, "other": total - sum(r[2] for r in chosen), "fns": [list(r) for r in chosen]}


def trace_cases(names: Sequence[str], workdir: str) -> Iterator[dict[str, Any]]:
    """Build, check and trace each case: one line per case (`py`, or the `error`)."""
    from bench.run.cases import parse_case
    from bench.run.worker import describe_failure, prepare_case

    for number, name in enumerate(names):
        try:
            folder = os.path.join(workdir, str(number))
            os.mkdir(folder)
            op, _ = prepare_case(parse_case(name), folder)
            for _ in range(WARMUP_CALLS):
                op()
            yield {"case": name, "py": trace_case(op)}
        except (Exception, RecursionError, MemoryError) as exc:
            yield {"case": name, "error": describe_failure(exc)}


def main(argv: Sequence[str] | None = None) -> int:
    """Pass process entry point: one JSON line per case on stdout."""
    from bench.run.plugins import load_plugins

    parser = argparse.ArgumentParser(prog="python -m bench.run.pycalls")
    parser.add_argument("--plugin", action="append", default=[])
    parser.add_argument("--plugin-path", default="")
    parser.add_argument("cases", nargs="+")
    args, _ = parser.parse_known_args(argv)  # options of the counting process's that do not apply
    load_plugins(args.plugin, args.plugin_path)
    with tempfile.TemporaryDirectory(prefix="bench-pycalls-") as workdir:
        for line in trace_cases(args.cases, workdir):
            print(json.dumps(line), flush=True)
    return 0


# ---------------------------------------------------------------- the parent

def run_pass(names: Sequence[str], settings: CountSettings) -> dict[str, dict[str, Any]]:
    """The `py` profiles of `names` from one pass process ({} for a case that failed in it)."""
    from bench.run.counter import COUNTING_ENV
    from bench.run.runner import absolute_program, child_environ, make_scratch, plugin_options

    scratch = make_scratch("pycalls")
    try:
        command = [absolute_program(settings.python), "-m", "bench.run.pycalls",
                   *plugin_options(settings.plugins), *names]
        done = subprocess.run(command, capture_output=True, text=True, cwd=scratch, timeout=TIMEOUT,
                              env=child_environ({**os.environ, **COUNTING_ENV}))
    except (OSError, subprocess.TimeoutExpired):
        return {}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    found = {}
    for text in done.stdout.splitlines():
        if text.startswith("{"):
            line = json.loads(text)
            if "py" in line:
                found[line["case"]] = line["py"]
    return found


def with_python(results: Iterable[CaseResult], settings: CountSettings, batch: int = BATCH
                ) -> Generator[CaseResult, None, None]:
    """The counted results, those spending PYTHON_SHARE or more in frame evaluation with their
    profile's `py` added, BATCH at a time (others pass straight on); BENCH_KEEP_PROFILES=0
    turns the pass off, as it leaves every result without a profile (callgrind.keep_profile).
    Held results are passed on, without `py`, when the count stops."""
    held: list[CaseResult] = []

    def release() -> Iterator[CaseResult]:
        found = run_pass([result.case.name for result in held], settings)
        for result in held:
            if result.case.name in found and result.profile is not None:
                profile = {**result.profile, "py": found[result.case.name]}
                result = dataclasses.replace(result, profile=profile)
            yield result
        held.clear()

    try:
        for result in results:
            if result.profile is None or python_share(result.profile) < PYTHON_SHARE:
                yield result
                continue
            held.append(result)
            if len(held) >= batch:
                yield from release()
        if held:
            yield from release()
    except KeyboardInterrupt:
        yield from list(held)
        raise


if __name__ == "__main__":
    raise SystemExit(main())
