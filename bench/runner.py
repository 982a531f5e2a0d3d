"""The orchestrator: one `pyperf.Runner` that times each case in its own worker processes.

The CLI's process creates one Runner and, for each case, calls `bench_time_func`;
pyperf's manager then spawns worker processes (`python -m bench.worker ...`, see
bench.worker), runs warmups and values, and returns the Benchmark. Loops are calibrated
inside a case's first worker (`--bench-calibrate`, see bench.worker.calibrate_loops), not
in a calibration process of pyperf's own: a process costs more than the timing it holds.
The case name reaches the workers through pyperf's `add_cmdline_args` hook
(`--bench-case NAME`), with the scratch files where a worker leaves the reason it
failed (`--bench-errors`) and the metadata the first worker measured (`--bench-meta`).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.cases import Case, Profile
from bench.errors import BenchError, InputError
from bench.schedule import Scheduler
from bench.worker import PROGRAM_ARGS


@dataclass(frozen=True)
class CaseResult:
    """What running one case gave: a pyperf Benchmark, or the reason it failed."""

    case: Case
    benchmark: Any = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class RunSettings:
    """How to run: the profile, the user's pyperf flags, plugin modules the workers import."""

    profile: Profile
    pyperf_args: list[str] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)


def plan_ab_rounds(rounds: int) -> list[tuple[int, str]]:
    """(round, side) in run order: A B, then B A, ... so neither side always goes first.

    >>> plan_ab_rounds(2)
    [(1, 'a'), (1, 'b'), (2, 'b'), (2, 'a')]
    """
    if rounds < 1:
        raise InputError(f"--rounds {rounds}: need at least one round")
    return [(r, side) for r in range(1, rounds + 1)
            for side in (("a", "b") if r % 2 else ("b", "a"))]


def pyperf_argv(settings: RunSettings) -> list[str]:
    """pyperf flags: the profile's settings, then the user's (which win), then ours."""
    return [*settings.profile.pyperf_settings, *settings.pyperf_args, "--quiet"]


def make_runner(settings: RunSettings, current: dict[str, str]) -> Any:
    """The one pyperf.Runner of this process; each worker it spawns is told the case, its
    error and metadata files and its A/B round from `current`, read when the worker starts."""
    import pyperf

    def add_case_args(cmd: list[str], args: Any) -> None:
        cmd.extend(["--bench-case", current["case"], "--bench-errors", current["errors"],
                    "--bench-meta", current["meta"], "--bench-profile", settings.profile.name])
        for plugin in settings.plugins:
            cmd.extend(["--bench-plugin", plugin])
        if current.get("round"):
            cmd.extend(["--bench-round", current["round"]])
        if current.get("step"):
            cmd.extend(["--bench-pass", current["step"]])
        if current.get("calibrate"):
            cmd.extend(["--bench-calibrate", "1"])

    try:
        runner = pyperf.Runner(program_args=PROGRAM_ARGS, add_cmdline_args=add_case_args)
    except RuntimeError:
        raise BenchError("only one run per process: pyperf allows a single Runner") from None
    try:
        runner.parse_args(pyperf_argv(settings))
    except SystemExit:
        raise InputError(f"bad pyperf options: {' '.join(settings.pyperf_args)}") from None
    return runner


def set_loops(runner: Any, current: dict[str, str], loops: int) -> None:
    """Give the next worker `loops`, or (0: not known yet) have it calibrate them itself."""
    runner.args.loops = loops or 1  # pyperf spawns a calibration process for 0
    current["calibrate"] = "" if loops else "1"


def reset_scratch(scratch: str, side: str = "") -> dict[str, str]:
    """Empty error and metadata files for the workers of one case (on one side)."""
    files = {"errors": os.path.join(scratch, f"errors{side}.txt"),
             "meta": os.path.join(scratch, f"meta{side}.json")}
    for path in files.values():
        open(path, "w").close()
    return files


def iter_run(cases: Sequence[Case], settings: RunSettings, plan: Scheduler
             ) -> Generator[CaseResult, None, None]:
    """Time the cases in passes (see bench.schedule): one worker process of every case per
    pass, then adaptive passes while `plan` finds cases over its target within its budget.

    Yields one CaseResult per process (its benchmark holds that process's run; the caller
    merges them). Loops are calibrated in a case's first process and kept. A case that
    fails leaves the schedule.
    """
    current: dict[str, str] = {}
    scratch = tempfile.mkdtemp(prefix="bench-run-")
    try:
        runner = make_runner(settings, current)
        given_loops = runner.args.loops
        runner.args.processes = 1
        by_name = {case.name: case for case in cases}
        files = {case.name: reset_scratch(scratch, f"-{i}") for i, case in enumerate(cases)}
        loops: dict[str, int] = {}

        def run_process(name: str) -> CaseResult:
            step = len(plan.tracks[name].means) + 1  # after the processes a resumed file holds
            current.update(case=name, step=str(step), **files[name])
            set_loops(runner, current, given_loops or loops.get(name, 0))
            result = time_case(runner, by_name[name], current["errors"], task=f"{name} [{step}]")
            plan.record(name, result.benchmark, result.seconds)
            if result.benchmark is not None:
                loops.setdefault(name, result.benchmark.get_runs()[-1].get_loops())
            return result

        for name in plan.order(time.monotonic):
            yield run_process(name)
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
            known = given_loops
            for ab_round, side in plan:
                current.update(case=case.name, round=str(ab_round), **files[side])
                set_loops(runner, current, known)
                runner.args.python = pythons[side]
                result = time_case(runner, case, current["errors"],
                                   task=f"{case.name} [{side}{ab_round}]")
                merged[side] = combine_results(merged.get(side), result)
                if result.benchmark is None:
                    break
                known = known or result.benchmark.get_runs()[-1].get_loops()
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
        return describe_exit(int(code))
    return f"worker failed: {text}"


def describe_exit(code: int) -> str:
    """How a process that did not finish its cases ended, from its exit code.

    >>> describe_exit(-9), describe_exit(1)
    ('worker crashed: killed by SIGKILL', 'worker failed: exit code 1')
    """
    if code < 0:
        try:
            return f"worker crashed: killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"worker crashed: killed by signal {-code}"
    return f"worker failed: exit code {code}"
