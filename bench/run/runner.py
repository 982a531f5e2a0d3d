"""The orchestrator: each case timed in its own fresh worker processes, results as pyperf Runs.

For each worker process of a case the parent starts `python -m bench.run.worker` (see
bench.run.worker) with the case's name and pyperf's settings (parsed by pyperf's own Runner, so
`--fast`, `--rigorous`, `--values` ... mean what they mean in pyperf), in pyperf's clean
environment (`worker_environ`), waits for it within pyperf's `--timeout`, and turns the
values it wrote into a `pyperf.Run` with the machine's and the interpreter's metadata,
collected once per interpreter by pyperf itself (`python_metadata`). This is pyperf's
manager without its worker's imports: a quick process costs ~0.1 s, of which pyperf's
import in the worker was 45 ms. Loops are calibrated inside a case's first worker (see
bench.run.worker.calibrate_loops), not in a calibration process: a process costs more than
the timing it holds. The case's workers share a file where the first leaves the metadata
it measured (peak memory, page faults, sizes).

Workers never import from the caller's folder: each starts in the run's scratch folder (so
`python -m` puts that folder, not the caller's, on its path), with the PYTHONPATH entries
made absolute and the folders of the `--plugin` modules passed on (`plugin_folders`). Scratch
folders are named `bench-KIND-PID-...` after the process that owns them; a run first removes
those whose owner is dead (a SIGKILLed run's, `remove_stale_scratch`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.errors import BenchError, InputError
from bench.run.cases import Case, Profile
from bench.run.plugins import module_of
from bench.run.schedule import Scheduler
from bench.run.worker import PROGRAM_ARGS, read_json_file


@dataclass(frozen=True)
class CaseResult:
    """What running one case gave: a pyperf Benchmark, or the reason it failed."""

    case: Case
    benchmark: Any = None
    error: str | None = None
    seconds: float = 0.0
    profile: dict[str, Any] | None = None  # a counted case's (bench.run.profiles)


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


@functools.cache
def settings_parser() -> Any:
    """The process's one pyperf Runner (pyperf allows one), used only for its parser."""
    import pyperf

    try:
        return pyperf.Runner(program_args=PROGRAM_ARGS)
    except RuntimeError:
        raise BenchError("pyperf allows a single Runner per process, and another one made it") from None


def parse_pyperf_args(settings: RunSettings) -> Any:
    """pyperf's settings for the workers, parsed by pyperf's Runner (values, warmups, loops,
    min_time, timeout, python, inherit_environ ...); InputError for flags pyperf refuses."""
    parser = settings_parser()
    parser.args = None  # no benchmark runs through this Runner: parse afresh each time
    try:
        return parser.parse_args(pyperf_argv(settings))
    except SystemExit:
        raise InputError(f"bad pyperf options: {' '.join(settings.pyperf_args)}") from None


def worker_environ(args: Any) -> dict[str, str]:
    """pyperf's clean environment for a worker, made by pyperf's own function as its manager
    makes it: a few variables (PATH, HOME, PYTHONPATH ...), the locale with `--locale`, the
    names given to `--inherit-environ`, or all of it with `--copy-env`."""
    from pyperf._utils import create_environ

    return child_environ(create_environ(args.inherit_environ, getattr(args, "locale", True),
                                        getattr(args, "copy_env", False)))


def child_environ(environ: dict[str, str]) -> dict[str, str]:
    """`environ` with PYTHONPATH's entries made absolute and its empty ones (the current
    folder) dropped: a child starts in its scratch folder and imports nothing from the caller's.

    >>> child_environ({"PYTHONPATH": os.pathsep.join(["/a", "", "/b"])})["PYTHONPATH"] == "/a:/b"
    True
    """
    environ = dict(environ)
    if "PYTHONPATH" in environ:
        environ["PYTHONPATH"] = os.pathsep.join(os.path.abspath(entry) for entry in
                                                environ["PYTHONPATH"].split(os.pathsep) if entry)
    return environ


def absolute_program(program: str) -> str:
    """`program` made absolute when it is a relative path (a child started in another
    folder would look for it there); a bare name is left for PATH.

    >>> absolute_program("python3"), absolute_program("/usr/bin/python3")
    ('python3', '/usr/bin/python3')
    """
    return os.path.abspath(program) if os.sep in program else program


def plugin_options(plugins: Sequence[str]) -> list[str]:
    """A child's options for the `--plugin` modules: each name, then the folders they are
    imported from (`--plugin-path`, os.pathsep between them); then the `--data` specs this
    process loaded (bench.subjects.user_data.child_options)."""
    from bench.subjects.user_data import child_options

    options = [arg for plugin in plugins for arg in ("--plugin", plugin)]
    folders = plugin_folders(plugins)
    paths = ["--plugin-path", os.pathsep.join(folders)] if folders else []
    return [*options, *paths, *child_options()]


def plugin_folders(plugins: Sequence[str]) -> list[str]:
    """The folders the `--plugin` modules are imported from (the folder holding a dotted
    module's top package), for workers that do not import from the caller's folder."""
    folders = []
    for name in map(module_of, plugins):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin or not os.path.isfile(spec.origin):
            continue
        folder = os.path.dirname(os.path.abspath(spec.origin))
        for _ in range(name.count(".") + (os.path.basename(spec.origin) == "__init__.py")):
            folder = os.path.dirname(folder)
        folders.append(folder)
    return list(dict.fromkeys(folders))


SCRATCH_NAME = re.compile(r"bench-(?:run|ab|callgrind|probe)-(\d+)-")


def make_scratch(kind: str) -> str:
    """A new scratch folder `bench-KIND-PID-...` in the temporary directory, PID this process's."""
    return tempfile.mkdtemp(prefix=f"bench-{kind}-{os.getpid()}-")


def remove_stale_scratch(directory: str | None = None) -> list[str]:
    """Remove the scratch folders (`make_scratch`) of this user in `directory` (default: the
    temporary directory) whose owner process is dead; return their paths."""
    directory = directory or tempfile.gettempdir()
    removed: list[str] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = SCRATCH_NAME.match(entry.name)
        try:
            mine = entry.is_dir(follow_symlinks=False) and entry.stat().st_uid == os.getuid()
        except OSError:
            mine = False
        if match and mine and not process_alive(int(match.group(1))):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed


def process_alive(pid: int) -> bool:
    """True while a process `pid` exists (one of another user counts).

    >>> process_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


# pyperf's metadata that belongs to one process, not to the machine or the interpreter
PROCESS_METADATA = ("name", "unit", "loops", "date", "duration", "load_avg_1min", "mem_max_rss",
                    "uptime")
METADATA_PROBE = ("import json, pyperf; "
                  "print(json.dumps(pyperf.Run([1.0], collect_metadata=True).get_metadata()))")


@functools.cache
def python_metadata(python: str, environ: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """pyperf's metadata of the machine and of `python` (version, build, executable, CPU,
    ASLR, timer ...), collected once per interpreter by pyperf in that interpreter.

    BenchError when `python` cannot run pyperf (the workers would fail alike). It runs in a
    scratch folder of its own: `-c` puts the current folder on its path.
    """
    scratch = make_scratch("probe")
    try:
        proc = subprocess.run([absolute_program(python), "-c", METADATA_PROBE],
                              capture_output=True, text=True, env=dict(environ) or None,
                              timeout=120, cwd=scratch)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"cannot run {python}: {exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"{python} cannot collect pyperf's metadata: {last}")
    metadata = json.loads(proc.stdout)
    return {key: value for key, value in metadata.items() if key not in PROCESS_METADATA}


def predict_metadata(settings: RunSettings) -> dict[str, Any]:
    """The machine's and interpreter's metadata (and unit) a worker's run of `settings` will
    carry: what pyperf checks before runs join a case, known before anything is timed."""
    args = parse_pyperf_args(settings)
    environ = worker_environ(args)
    return {**python_metadata(args.python, tuple(sorted(environ.items()))), "unit": "second"}


def worker_command(args: Any, python: str, options: dict[str, str],
                   plugins: Sequence[str]) -> list[str]:
    """The command line of one worker process: pyperf's settings, then the case's options."""
    command = [absolute_program(python), *PROGRAM_ARGS, "--values", str(args.values),
               "--warmups", str(args.warmups if args.warmups is not None else 1),
               "--min-time", str(args.min_time)]
    for key, value in options.items():
        if value:
            command += [f"--{key}", value]
    return [*command, *plugin_options(plugins)]


def spawn_worker(case: Case, args: Any, python: str, options: dict[str, str],
                 plugins: Sequence[str] = ()) -> CaseResult:
    """Run one worker process of `case` and turn what it wrote into a CaseResult whose
    benchmark holds one pyperf Run (or the reason the case could not be timed).

    `options` are the worker's own (loops, meta, result, profile, round, pass, canary); the result
    file is read and removed. The worker starts in the result file's folder (the run's
    scratch folder), never in the caller's. Ctrl-C stops the worker and is raised again.
    """
    import pyperf

    environ = worker_environ(args)
    command = worker_command(args, python, options, plugins)
    start = time.monotonic()
    try:
        proc = subprocess.run(command, env=environ, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, errors="replace",
                              timeout=args.timeout or None,
                              cwd=os.path.dirname(os.path.abspath(options["result"])))
    except subprocess.TimeoutExpired:
        return CaseResult(case, None, f"worker timed out: no result within {args.timeout:g} s",
                          time.monotonic() - start)
    seconds = time.monotonic() - start
    line = read_result(options["result"])
    if "error" in line:
        return CaseResult(case, None, str(line["error"]), seconds)
    if proc.returncode or "values" not in line:
        return CaseResult(case, None, describe_worker_end(proc.returncode, proc.stderr), seconds)
    metadata = {**python_metadata(python, tuple(sorted(environ.items()))), **line["metadata"],
                "name": case.name, "loops": int(line["loops"]), "unit": "second"}
    run = pyperf.Run(line["values"], warmups=[tuple(w) for w in line["warmups"]] or None,
                     metadata=metadata, collect_metadata=False)
    return CaseResult(case, pyperf.Benchmark([run]), None, seconds)


def read_result(path: str) -> dict[str, Any]:
    """What a worker wrote to `path` (then removed), or {} when it wrote nothing whole."""
    try:
        return read_json_file(path)
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)


def reset_scratch(scratch: str, side: str = "") -> dict[str, str]:
    """The files the workers of one case (on one side) share: the metadata the first measured
    and where each leaves its result."""
    files = {"meta": os.path.join(scratch, f"meta{side}.json"),
             "result": os.path.join(scratch, f"result{side}.json")}
    open(files["meta"], "w").close()
    return files


def iter_run(cases: Sequence[Case], settings: RunSettings, plan: Scheduler
             ) -> Generator[CaseResult, None, None]:
    """Time the cases in passes (see bench.run.schedule): one worker process of every case per
    pass, then adaptive passes while `plan` finds cases over its target within its budget.

    Yields one CaseResult per process (its benchmark holds that process's run; the caller
    merges them). Loops are calibrated in a case's first process and kept. A case that
    fails leaves the schedule.
    """
    remove_stale_scratch()
    scratch = make_scratch("run")
    try:
        args = parse_pyperf_args(settings)
        by_name = {case.name: case for case in cases}
        files = {case.name: reset_scratch(scratch, f"-{i}") for i, case in enumerate(cases)}
        loops: dict[str, int] = {}

        def run_process(name: str) -> CaseResult:
            step = len(plan.tracks[name].means) + 1  # after the processes a resumed file holds
            options = {**files[name], "case": name, "pass": str(step),
                       "loops": str(args.loops or loops.get(name, 0)),
                       "profile": settings.profile.name, "canary": "1"}
            result = spawn_worker(by_name[name], args, args.python, options, settings.plugins)
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
    remove_stale_scratch()
    scratch = make_scratch("ab")
    try:
        args = parse_pyperf_args(settings)
        for case in cases:
            files = {side: reset_scratch(scratch, side) for side in pythons}
            merged: dict[str, CaseResult] = {}
            known = args.loops
            for ab_round, side in plan:
                options = {**files[side], "case": case.name, "round": str(ab_round),
                           "loops": str(known), "profile": settings.profile.name}
                result = spawn_worker(case, args, pythons[side], options, settings.plugins)
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


def describe_worker_end(code: int, stderr: str) -> str:
    """One line saying how a worker ended without a result, from its exit code and the last
    line it wrote to stderr.

    >>> describe_worker_end(-11, "")
    'worker crashed: killed by SIGSEGV'
    >>> describe_worker_end(1, "Traceback ...\\nImportError: no module named x")
    'worker failed: exit code 1: ImportError: no module named x'
    """
    last = (stderr.strip().splitlines() or [""])[-1].strip()
    return describe_exit(code) + (f": {last}" if last and code >= 0 else "")


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
