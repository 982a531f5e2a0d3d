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
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench import __version__
from bench.errors import BenchError

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
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--profile", help="print the cases of this profile and their count")
    add_selection_arguments(parser)


def cmd_list(args: argparse.Namespace) -> int:
    raise NotImplementedError


# ---------------------------------------------------------------- run

def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", dest="patterns", action="append", default=[], metavar="PATTERN",
                        help="glob on case names (repeatable; a case matching any is kept)")
    parser.add_argument("--suite", action="append", choices=["ser", "fold", "ref"], default=[],
                        help="keep only this suite (repeatable)")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="quick", help="smoke, quick (default), full or scaling")
    add_selection_arguments(parser)
    parser.add_argument("-o", "--output", default="results/latest.json", help="pyperf JSON to write")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    parser.add_argument("--append", action="store_true", help="add cases to an existing output file")
    pyperf_group = parser.add_argument_group("pyperf options (passed through to pyperf)")
    pyperf_group.add_argument("--fast", action="store_true", help="pyperf --fast")
    pyperf_group.add_argument("--rigorous", action="store_true", help="pyperf --rigorous")
    pyperf_group.add_argument("-p", "--processes", type=int, help="worker processes per case")
    pyperf_group.add_argument("-n", "--values", type=int, help="values per process")
    pyperf_group.add_argument("-w", "--warmups", type=int, help="warmup values per process")
    pyperf_group.add_argument("-l", "--loops", type=int, help="loops per value (0: calibrate)")
    pyperf_group.add_argument("--min-time", type=float, help="minimum seconds of one value")
    pyperf_group.add_argument("--python", help="interpreter the workers run")


def cmd_run(args: argparse.Namespace) -> int:
    raise NotImplementedError


# ---------------------------------------------------------------- capabilities

def add_capabilities_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["text", "md", "json"], default="text")
    parser.add_argument("-o", "--output", help="write to this file instead of stdout")


def cmd_capabilities(args: argparse.Namespace) -> int:
    raise NotImplementedError


# ---------------------------------------------------------------- report / export

def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", help="pyperf JSON files (.json or .json.gz)")
    parser.add_argument("--capabilities", metavar="FILE", help="capability matrix JSON")
    parser.add_argument("-o", "--output", default="reports/index.html")


def cmd_report(args: argparse.Namespace) -> int:
    raise NotImplementedError


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", help="pyperf JSON files (.json or .json.gz)")
    parser.add_argument("--csv", required=True, metavar="OUT", help="write the summary here")


def cmd_export(args: argparse.Namespace) -> int:
    raise NotImplementedError


# ---------------------------------------------------------------- compare / ab / sensitivity

def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="BASE HEAD, or only HEAD when --base is given")
    parser.add_argument("--base", action="append", default=[], metavar="FILE_OR_GLOB",
                        help="a run of the base (repeatable, globs allowed)")
    parser.add_argument("--threshold", type=float, default=5.0,
                        help="smallest change in percent that counts (default: 5)")
    parser.add_argument("--format", choices=["text", "md", "json"], default="text")
    parser.add_argument("--fail-on", choices=["slower", "never"], default="slower")
    parser.add_argument("-o", "--output", help="write the report here instead of stdout")


def cmd_compare(args: argparse.Namespace) -> int:
    raise NotImplementedError


def add_ab_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--python", action="append", default=[], required=True,
                        help="interpreter A, then interpreter B")
    parser.add_argument("--profile", default="smoke")
    add_selection_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3, help="A/B alternations (default: 3)")
    parser.add_argument("--threshold", type=float, default=5.0)
    parser.add_argument("--format", choices=["text", "md", "json"], default="text")
    parser.add_argument("--fail-on", choices=["slower", "never"], default="slower")
    parser.add_argument("--outdir", default="results/ab", help="where a.json and b.json go")
    parser.add_argument("--force", action="store_true", help="overwrite existing result files")


def cmd_ab(args: argparse.Namespace) -> int:
    raise NotImplementedError


def add_sensitivity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="three or more independent runs of unchanged code")
    parser.add_argument("--threshold", type=float, default=5.0)
    parser.add_argument("--format", choices=["text", "md", "json"], default="text")


def cmd_sensitivity(args: argparse.Namespace) -> int:
    raise NotImplementedError


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
                  "--profile smoke", add_ab_arguments),
    "sensitivity": Command(cmd_sensitivity, "false-alarm rate and detectable slowdown of compare "
                           "on this machine", "bench sensitivity results/aa-*.json",
                           add_sensitivity_arguments),
}


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every subcommand, each help ending with its example."""
    parser = argparse.ArgumentParser(
        prog="bench", description="Measure Python serializers and fold styles on pyperf.",
        epilog="Example: bench run --profile quick -o results/latest.json")
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
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
