"""The `bench` command line: the only module that prints, writes files and exits.

Every subcommand is a `cmd_<name>(args) -> int` function registered in
COMMANDS with its help text and an example. The core raises `BenchError`
subclasses; `main` turns them into one `ERROR: ...` line on stderr and the
error's exit code (`--debug` shows the traceback instead).

Exit codes: 0 ok, 1 regression found, 2 bad input or usage, 3 a run finished
but some cases failed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from bench import __version__
from bench.errors import BenchError, InputError
from bench.text import formats_of, render_document

if TYPE_CHECKING:
    from bench.cases import Case, Profile
    from bench.results import Results
    from bench.runner import CaseResult

    BySide = dict[str, CaseResult]  # one finished case: its result per side ("" for a run)

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE, EXIT_FAILED_CASES, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass(frozen=True)
class Command:
    """One subcommand: its function, one-line help, an example and its options."""

    func: Callable[[argparse.Namespace], int]
    help: str
    example: str
    add_arguments: Callable[[argparse.ArgumentParser], None]


# ---------------------------------------------------------------- list

def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    add_format_argument(parser, markdown=False)
    parser.add_argument("--profile", help=f"print the cases of this profile and their count. "
                        f"{known_profiles()}")
    add_selection_arguments(parser)
    add_plugin_argument(parser)


def cmd_list(args: argparse.Namespace) -> int:
    from bench import cases

    cases.load_plugins(args.plugin)
    if args.profile:
        profile = cases.get_profile(args.profile)
        selected = cases.select_cases(profile.list_cases(), args.patterns, args.suite)
        doc: dict = {"profile": profile.name, "description": profile.description,
                     "count": len(selected), "cases": [c.name for c in selected],
                     "skipped": cases.unavailable_subjects()}
        text = "\n".join([*doc["cases"], f"{len(selected)} cases in profile {profile.name!r}"])
    else:
        doc = describe_registries()
        text = format_registries(doc)
    sys.stdout.write(render_document(args.format, text=lambda: text + "\n", data=lambda: doc))
    return EXIT_OK


def describe_registries() -> dict:
    """Serializers, shapes, fold styles and tasks with versions and notes, as plain data."""
    from bench.folds import STYLES, TASKS
    from bench.serializers import SERIALIZERS
    from bench.shapes import SHAPES

    return {
        "serializers": [{"name": s.name, "version": s.version(), "available": s.available(),
                         "note": s.note} for s in SERIALIZERS.values()],
        "shapes": [{"name": s.name, "default_size": s.default_size, "max_size": s.max_size,
                    "note": s.note} for s in SHAPES.values()],
        "styles": [{"name": s.name, "tasks": list(s.tasks), "module": s.module, "note": s.note}
                   for s in STYLES.values()],
        "tasks": [{"name": t.name, "note": t.note} for t in TASKS.values()],
    }


def format_registries(doc: dict) -> str:
    """The registries as aligned text, one block per registry."""
    lines = []
    for title, rows, fields in [("Serializers", doc["serializers"], ("name", "version", "note")),
                                ("Shapes", doc["shapes"], ("name", "default_size", "note")),
                                ("Fold styles", doc["styles"], ("name", "tasks", "note")),
                                ("Fold tasks", doc["tasks"], ("name", "note"))]:
        lines.append(f"{title} ({len(rows)}):")
        for row in rows:
            cells = [", ".join(v) if isinstance(v, list) else str(v)
                     for v in (row[f] for f in fields)]
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(cells, (16, 18, 0))).rstrip())
    return "\n".join(lines)


# ---------------------------------------------------------------- run

def add_plugin_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import MODULE first; it may add serializers, shapes, styles or "
                             "profiles to the registries (workers import it too)")


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", dest="patterns", action="append", default=[], metavar="PATTERN",
                        help="glob on case names (repeatable; a case matching any is kept)")
    parser.add_argument("--suite", action="append", choices=["ser", "fold", "ref"], default=[],
                        help="keep only this suite (repeatable)")


def known_profiles(default: str = "") -> str:
    """The built-in profiles for a --profile help text: `smoke: ...; quick (default): ...`."""
    from bench.cases import PROFILES

    return "; ".join(f"{p.name}{' (default)' if p.name == default else ''}: {p.description}"
                     for p in PROFILES.values())


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="quick", help=known_profiles("quick"))
    add_selection_arguments(parser)
    parser.add_argument("-o", "--output", default="results/latest.json", help="pyperf JSON to write")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    parser.add_argument("--append", action="store_true", help="add cases to an existing output file")
    parser.add_argument("--size", type=int, action="append", default=[],
                        help="run the selected cases at this size instead (repeatable)")
    parser.add_argument("--no-capabilities", action="store_true",
                        help="do not write the capability matrix beside the results")
    add_plugin_argument(parser)
    add_pyperf_arguments(parser)
    parser.add_argument("--python", help="interpreter the workers run (pyperf --python)")


def add_pyperf_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pyperf options (passed through to pyperf)")
    group.add_argument("--fast", action="store_true", help="pyperf --fast")
    group.add_argument("--rigorous", action="store_true", help="pyperf --rigorous")
    group.add_argument("-p", "--processes", type=int, help="worker processes per case")
    group.add_argument("-n", "--values", type=int, help="values per process")
    group.add_argument("-w", "--warmups", type=int, help="warmup values per process")
    group.add_argument("-l", "--loops", type=int, help="loops per value (0: calibrate)")
    group.add_argument("--min-time", type=float, help="minimum seconds of one value")


def cmd_run(args: argparse.Namespace) -> int:
    from bench import cases, runner
    from bench.results import Results, read_results

    profile, selected = select_run_cases(args, args.size)
    check_output(args.output, force=args.force, append=args.append)
    output = read_results(args.output) if args.append else Results(path=args.output)
    for subject, reason in cases.unavailable_subjects().items():
        print(f"skipped {subject}: {reason}", file=sys.stderr)
    settings = runner.RunSettings(profile, pyperf_flags(args), args.plugin)
    results = ({"": result} for result in runner.iter_run(selected, settings))
    done = run_with_progress(results, len(selected), {"": output})
    report_failures(output.failures)
    if done < len(selected):
        print(f"interrupted: {done} of {len(selected)} cases saved in {args.output}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"wrote {args.output}: {len(output.benchmarks)} benchmarks, "
          f"{len(output.failures)} failed", file=sys.stderr)
    if profile.writes_capabilities and not args.no_capabilities:
        write_capabilities_beside(args.output)
    return EXIT_FAILED_CASES if output.failures else EXIT_OK


def pyperf_flags(args: argparse.Namespace) -> list[str]:
    """The pyperf options the user gave, as pyperf command-line flags."""
    flags = [f for f, on in (("--fast", args.fast), ("--rigorous", args.rigorous)) if on]
    for option in ("processes", "values", "warmups", "loops", "min_time", "python"):
        value = getattr(args, option, None)
        if value is not None:
            flags += [f"--{option.replace('_', '-')}", str(value)]
    return flags


def select_run_cases(args: argparse.Namespace, sizes: Sequence[int] = ()
                     ) -> tuple[Profile, list[Case]]:
    """The profile and the cases a run or an A/B run times: plugins loaded, -k and --suite
    applied, at `sizes` when given; InputError when none is left."""
    from bench import cases

    cases.load_plugins(args.plugin)
    profile = cases.get_profile(args.profile)
    selected = cases.select_cases(profile.list_cases(), args.patterns, args.suite)
    if sizes:
        selected = cases.resize_cases(selected, sizes)
    if not selected:
        raise InputError(f"profile {profile.name!r} with this selection has no case")
    return profile, selected


def check_output(path: str, *, force: bool = False, append: bool = False) -> None:
    """Refuse to clobber an existing file, or to write where we cannot; create parent dirs."""
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, expected a file name")
    if os.path.exists(path) and not (force or append):
        raise InputError(f"{path}: already exists (use --force to overwrite or --append to add)")
    if append and not os.path.exists(path):
        raise InputError(f"{path}: --append needs an existing results file")
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot create directory {parent} ({exc.strerror})") from None
    if not os.access(parent, os.W_OK):
        raise InputError(f"{path}: directory {parent} is not writable")


def write_output(text: str, path: str | None, option: str = "-o/--output") -> None:
    """Write `text` to `path` atomically (creating its directory), or to stdout without a path."""
    if not path:
        sys.stdout.write(text)
        return
    from bench.results import write_atomic

    check_output(path, force=True)
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise InputError(f"{option}: cannot write {path!r}: {exc.strerror}") from None
    print(f"wrote {path} ({len(text.encode()) / 1e6:.2f} MB)", file=sys.stderr)


def run_with_progress(results: Iterable[BySide], total: int, outputs: dict[str, Results]) -> int:
    """Consume {side: CaseResult} per case, saving every output file after each case; return
    how many cases finished (all of them unless interrupted)."""
    from bench.results import write_results

    done = 0
    with progress_display(total) as show, terminate_as_interrupt():
        try:
            for by_side in results:
                for side, result in by_side.items():
                    if result.benchmark is not None:
                        outputs[side].add_benchmark(result.benchmark)
                    else:
                        outputs[side].add_failure(result.case.name,
                                                  result.error or "unknown failure")
                with deferred_signals():  # saved and shown together, or neither
                    for output in outputs.values():
                        if output.benchmarks:
                            write_results(output)
                    done += 1
                    show(done, by_side)
        except KeyboardInterrupt:
            pass
    return done


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, so it is never cut in half."""
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C for the duration: stop cleanly with what is saved."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def progress_display(total: int) -> Iterator[Callable[[int, BySide], object]]:
    """Yield `show(done, result)`: a rich progress bar on a terminal, else one line per case."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda done, result: console.print(f"[{done}/{total}] {describe_result(result)}",
                                                 highlight=False, markup=False)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
               TextColumn("{task.fields[last]}"))
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("bench run", total=total, last="")
        yield lambda done, result: progress.update(task, completed=done,
                                                   last=describe_result(result))


def describe_result(by_side: BySide) -> str:
    """One line for a finished case: mean +- stdev per side, or FAILED with the reason."""
    parts = []
    for side, result in by_side.items():
        label = f"{side.upper()} " if side else ""
        if result.benchmark is None:
            parts.append(f"{label}FAILED: {result.error}")
        else:
            parts.append(label + result.benchmark.format_value(result.benchmark.mean()))
    return f"{next(iter(by_side.values())).case.name}: {', '.join(parts)}"


def report_failures(failures: dict[str, str]) -> None:
    """List failed cases on stderr."""
    if failures:
        print(f"{len(failures)} case(s) failed:", file=sys.stderr)
        for name, reason in failures.items():
            print(f"  {name}: {reason}", file=sys.stderr)


def write_capabilities_beside(output: str) -> None:
    """Write the capability matrix JSON next to the results (NAME.capabilities.json)."""
    try:
        from bench.capabilities import probe_capabilities
    except ImportError:
        return
    from bench.results import write_atomic

    path = capabilities_path(output)
    write_atomic(path, json.dumps(probe_capabilities(), indent=1))
    print(f"wrote {path}", file=sys.stderr)


def capabilities_path(output: str) -> str:
    """`results/latest.json` -> `results/latest.capabilities.json`."""
    stem = output[:-5] if output.endswith(".json") else output
    return f"{stem}.capabilities.json"


# ---------------------------------------------------------------- capabilities

def add_capabilities_arguments(parser: argparse.ArgumentParser) -> None:
    add_format_argument(parser)
    parser.add_argument("-o", "--output", help="write to this file instead of stdout")
    parser.add_argument("--serializer", dest="serializers", action="append", default=[],
                        metavar="NAME", help="probe only this serializer (repeatable)")
    parser.add_argument("--kind", dest="kinds", action="append", default=[], metavar="NAME",
                        help="probe only this object kind (repeatable)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="a child that finishes no kind for this long is killed "
                             "(default: 10)")
    parser.add_argument("--jobs", type=int, default=2, help="serializers probed at once "
                        "(default: 2)")
    parser.add_argument("--kinds-module", dest="kinds_modules", action="append", default=[],
                        metavar="MODULE", help="also probe the KINDS of this importable module "
                        "(the tests inject crashing kinds this way)")


def cmd_capabilities(args: argparse.Namespace) -> int:
    from bench.capabilities import probe_capabilities
    from bench.capability_render import format_capabilities

    if args.output:
        check_output(args.output, force=True)  # before the probe, not after it
    doc = probe_capabilities(args.serializers or None, args.kinds or None, args.timeout,
                             jobs=args.jobs, extra_kinds_modules=args.kinds_modules)
    write_output(format_capabilities(doc, args.format), args.output)
    return EXIT_OK


# ---------------------------------------------------------------- report / export

def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", help="pyperf JSON files (.json or .json.gz)")
    parser.add_argument("--capabilities", metavar="FILE", help="capability matrix JSON")
    parser.add_argument("--base", metavar="RUN_OR_FILE",
                        help="the run the others are compared with (default: the one that "
                             "started first)")
    add_threshold_argument(parser)
    parser.add_argument("-o", "--output", default="reports/index.html")


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report.render import build_report

    check_output(args.output, force=True)
    html = build_report(args.results, args.capabilities, args.base, gate_threshold(args))
    write_output(html, args.output)
    return EXIT_OK


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", help="pyperf JSON files (.json or .json.gz)")
    parser.add_argument("--csv", required=True, metavar="OUT", help="write the summary here")


def cmd_export(args: argparse.Namespace) -> int:
    from bench.frame import load_results, summarize

    check_output(args.csv, force=True)
    summary = summarize(load_results(args.results))
    write_output(summary.to_csv(index=False), args.csv, "--csv")
    return EXIT_OK


# ---------------------------------------------------------------- compare / ab / sensitivity

def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="BASE HEAD, or only HEAD when --base is given")
    parser.add_argument("--base", action="append", default=[], metavar="FILE_OR_GLOB",
                        help="a run of the base (repeatable, globs allowed)")
    add_gate_arguments(parser)
    parser.add_argument("-o", "--output", help="write the report here instead of stdout")


def cmd_compare(args: argparse.Namespace) -> int:
    import glob

    from bench.frame import load_results
    from bench.gate.render import format_comparison
    from bench.gate.rule import compare_runs, exit_code_for

    base: list[str] = []
    for pattern in args.base:
        matches = sorted(glob.glob(pattern))
        if not matches and any(ch in pattern for ch in "*?["):
            raise InputError(f"--base {pattern}: no file matches")
        base += matches or [pattern]
    head = list(args.files)
    if not base:
        if len(head) != 2:
            raise InputError(f"give BASE HEAD, or --base BASE ... HEAD (got {len(head)} file(s))")
        base, head = head[:1], head[1:]
    elif not head:
        raise InputError("give the HEAD run after the --base runs")
    comparison = compare_runs(load_results(base), load_results(head),
                              threshold=gate_threshold(args))
    write_output(format_comparison(comparison, args.format), args.output)
    return exit_code_for(comparison, args.fail_on)


AB_ROUNDS = 16          # bench ab: rounds per case
AB_PROCESSES = 1        # bench ab: worker processes per side and round, unless -p


def add_ab_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--python", dest="pythons", action="append", default=[], required=True,
                        help="interpreter A, then interpreter B (each needs bench installed)")
    parser.add_argument("--profile", default="smoke", help=known_profiles("smoke"))
    add_selection_arguments(parser)
    parser.add_argument("--rounds", type=int, default=AB_ROUNDS,
                        help=f"A/B alternations per case (default: {AB_ROUNDS})")
    add_gate_arguments(parser)
    parser.add_argument("--outdir", default="results/ab", help="where a.json and b.json go")
    parser.add_argument("--force", action="store_true", help="overwrite existing result files")
    add_plugin_argument(parser)
    add_pyperf_arguments(parser)
    parser.set_defaults(processes=AB_PROCESSES)


def check_interpreters(paths: list[str]) -> dict[str, str]:
    """{"a": A, "b": B} as absolute paths; InputError unless exactly two executables."""
    if len(paths) != 2:
        raise InputError(f"--python: give exactly two interpreters, A then B (got {len(paths)})")
    for python in paths:
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            raise InputError(f"--python {python}: not an executable file")
    return {side: os.path.abspath(python) for side, python in zip("ab", paths)}


def cmd_ab(args: argparse.Namespace) -> int:
    from bench import runner
    from bench.frame import load_results
    from bench.gate.render import format_comparison
    from bench.gate.rule import compare_runs, exit_code_for
    from bench.results import Results

    pythons = check_interpreters(args.pythons)
    runner.plan_ab_rounds(args.rounds)  # refuses a bad --rounds before anything runs
    profile, selected = select_run_cases(args)
    outputs = {side: Results(path=os.path.join(args.outdir, f"{side}.json")) for side in "ab"}
    for output in outputs.values():
        check_output(output.path, force=args.force)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(output.path)
    settings = runner.RunSettings(profile, pyperf_flags(args), args.plugin)
    print(f"bench ab: {len(selected)} cases x {args.rounds} rounds x {args.processes} "
          f"process(es) per side and round; A = {pythons['a']}, B = {pythons['b']}", file=sys.stderr)
    results = runner.iter_ab(selected, settings, pythons, args.rounds)
    done = run_with_progress(results, len(selected), outputs)
    for side, output in outputs.items():
        if output.failures:
            print(f"side {side.upper()}:", end=" ", file=sys.stderr)
            report_failures(output.failures)
    if done < len(selected):
        print(f"interrupted: {done} of {len(selected)} cases saved in "
              f"{outputs['a'].path} and {outputs['b'].path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not (outputs["a"].benchmarks and outputs["b"].benchmarks):
        print("ERROR: no case was measured on both sides", file=sys.stderr)
        return EXIT_FAILED_CASES
    comparison = compare_runs(load_results([outputs["a"].path]), load_results([outputs["b"].path]),
                              threshold=gate_threshold(args), paired=True)
    sys.stdout.write(format_comparison(comparison, args.format))
    failed = any(output.failures for output in outputs.values())
    return exit_code_for(comparison, args.fail_on) or (EXIT_FAILED_CASES if failed else EXIT_OK)


def add_sensitivity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="three or more independent runs of unchanged code")
    add_threshold_argument(parser)
    add_format_argument(parser)
    parser.add_argument("--paired", action="store_true",
                        help="RUNs are interleaved A/A files taken two by two: A B [A B ...]")


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from bench.frame import load_results
    from bench.gate.render import format_sensitivity
    from bench.gate.sensitivity import simulate_sensitivity

    frame = load_results(args.runs)
    frames = [frame[frame["run"] == run] for run in frame["run"].unique()]
    result = simulate_sensitivity(frames, threshold=gate_threshold(args), paired=args.paired)
    sys.stdout.write(format_sensitivity(result, args.format))
    return EXIT_OK


# ---------------------------------------------------------------- options shared by commands

THRESHOLD_HELP = "smallest change that counts, in percent (default: 5, the gate's)"


def add_format_argument(parser: argparse.ArgumentParser, markdown: bool = True) -> None:
    """--format: text (default), md when the command has a markdown rendering, json."""
    parser.add_argument("--format", choices=formats_of(markdown), default="text")


def add_threshold_argument(parser: argparse.ArgumentParser) -> None:
    """--threshold PERCENT, kept as a fraction; unset means the gate's DEFAULT_THRESHOLD."""
    parser.add_argument("--threshold", type=parse_percent, default=None, metavar="PERCENT",
                        help=THRESHOLD_HELP)


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    """--threshold, --format and --fail-on: the options of every command that gives verdicts."""
    add_threshold_argument(parser)
    add_format_argument(parser)
    parser.add_argument("--fail-on", choices=["slower", "never"], default="slower",
                        help="exit 1 when a case is slower (default), or never")


def parse_percent(text: str) -> float:
    """A percentage on the command line as a fraction: '5' -> 0.05."""
    try:
        return float(text) / 100
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of percent") from None


def gate_threshold(args: argparse.Namespace) -> float:
    """The --threshold given, as a fraction, or the gate's default."""
    from bench.gate.rule import DEFAULT_THRESHOLD

    return DEFAULT_THRESHOLD if args.threshold is None else float(args.threshold)


# ---------------------------------------------------------------- registry and main

COMMANDS: dict[str, Command] = {
    "list": Command(cmd_list, "list serializers, shapes, fold styles and tasks, or a profile's cases",
                    "bench list --profile quick", add_list_arguments),
    "run": Command(cmd_run, "run a benchmark profile on pyperf and write pyperf JSON",
                   "bench run --profile quick -o results/latest.json", add_run_arguments),
    "capabilities": Command(cmd_capabilities, "which serializer round-trips which kind of object, "
                            "proven in a fresh process",
                            "bench capabilities --format md -o results/capabilities.md",
                            add_capabilities_arguments),
    "report": Command(cmd_report, "render result files as one self-contained HTML page",
                      "bench report results/latest.json --capabilities results/latest.capabilities.json"
                      " -o reports/index.html", add_report_arguments),
    "export": Command(cmd_export, "write the per-case summary of result files as CSV",
                      "bench export results/latest.json --csv results/summary.csv",
                      add_export_arguments),
    "compare": Command(cmd_compare, "compare a run against a baseline; exit 1 on a real regression",
                       "bench compare results/baseline.json results/latest.json --format md",
                       add_compare_arguments),
    "ab": Command(cmd_ab, "interleaved A/B run of the same cases on two interpreters",
                  "bench ab --python .tox/py312/bin/python --python .tox/py313/bin/python "
                  "--profile quick -k 'ser/*'", add_ab_arguments),
    "sensitivity": Command(cmd_sensitivity, "false-alarm rate and detectable slowdown of compare "
                           "on this machine", "bench sensitivity results/aa-*.json",
                           add_sensitivity_arguments),
}


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one `ERROR:` line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"ERROR: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every subcommand, each help ending with its example."""
    parser = Parser(
        prog="bench", description="Measure Python serializers and fold styles on pyperf.",
        epilog="Example: bench run --profile quick -o results/latest.json")
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                       parser_class=Parser)
    for name, command in COMMANDS.items():
        sub = subparsers.add_parser(
            name, help=command.help, description=command.help,
            epilog=f"Example:\n  {command.example}",
            formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show tracebacks of errors")
        command.add_arguments(sub)
        sub.set_defaults(func=command.func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run one subcommand, map errors to exit codes."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BenchError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"ERROR: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
