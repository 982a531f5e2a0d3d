"""The `bench` command line: the only package that prints, writes files and exits.

`options` holds the options and output files every command shares, `running` the commands
that run things (list, run, ab, capabilities), `parts` the parts of a run (run's --shard and
--resume, merge), `versions` ab's --with environments and `bench envs`, `reading` those that
read results files (report, export, compare, sensitivity), `history` the change points over
many runs. Every
subcommand is a `cmd_<name>(args) -> int` function registered in
COMMANDS with its help text and an example. The core raises `BenchError`
subclasses; `main` turns them into one `ERROR: ...` line on stderr and the
error's exit code (`--debug` shows the traceback instead).

Exit codes: 0 ok, 1 regression found, 2 bad input or usage, 3 a run finished
but some cases failed, 70 internal error (a bug in bench: one line, `--debug` for the
traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from bench import __version__
from bench.cli.explaining import add_explain_arguments, cmd_explain
from bench.cli.history import add_history_arguments, cmd_history
from bench.cli.options import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, add_installed_plugins
from bench.cli.parts import add_merge_arguments, cmd_merge
from bench.cli.progress import terminate_as_interrupt
from bench.cli.reading import (
    add_compare_arguments,
    add_export_arguments,
    add_report_arguments,
    add_sensitivity_arguments,
    cmd_compare,
    cmd_export,
    cmd_report,
    cmd_sensitivity,
)
from bench.cli.running import (
    add_ab_arguments,
    add_capabilities_arguments,
    add_list_arguments,
    add_run_arguments,
    cmd_ab,
    cmd_capabilities,
    cmd_list,
    cmd_run,
)
from bench.cli.versions import add_envs_arguments, cmd_envs
from bench.errors import BenchError


@dataclass(frozen=True)
class Command:
    """One subcommand: its function, one-line help, an example and its options."""

    func: Callable[[argparse.Namespace], int]
    help: str
    example: str
    add_arguments: Callable[[argparse.ArgumentParser], None]


COMMANDS: dict[str, Command] = {
    "list": Command(cmd_list, "list serializers, shapes, fold styles and tasks, or a profile's cases",
                    "bench list --profile quick", add_list_arguments),
    "run": Command(cmd_run, "run a benchmark profile on pyperf and write pyperf JSON",
                   "bench run --profile quick -o results/latest.json", add_run_arguments),
    "merge": Command(cmd_merge, "join the shards of one run (bench run --shard K/N) into one "
                     "results file", "bench merge results/shard-*.json -o results/latest.json",
                     add_merge_arguments),
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
    "explain": Command(cmd_explain, "which functions' instructions moved in each changed case of two "
                       "counted runs", "bench explain results/base.json results/head.json -k 'ser/cbor2/*' "
                       "--top 5", add_explain_arguments),
    "history": Command(cmd_history, "change points over a history of runs (one file per commit); "
                       "exit 1 when the newest run starts a regression",
                       "bench history results/history/ --format md", add_history_arguments),
    "ab": Command(cmd_ab, "interleaved A/B run of the same cases on two interpreters, or on two "
                  "versions of your libraries (--with, each in a cached environment)",
                  "bench ab --with cbor2==5.7.1 --with cbor2==5.8.0 -k 'ser/cbor2/*' "
                  "--profile quick --metric instructions", add_ab_arguments),
    "envs": Command(cmd_envs, "list the cached environments of bench ab --with, or remove them",
                    "bench envs --prune --older-than 30", add_envs_arguments),
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


def one_line(message: str) -> str:
    """A message as one printable line: line breaks in it (a file name's) shown as escapes.

    >>> one_line("a\\nb.json: no such file")
    'a\\\\nb.json: no such file'
    """
    return message.replace("\r", "\\r").replace("\n", "\\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run one subcommand, map errors to exit codes."""
    for stream in (sys.stdout, sys.stderr):  # text from a file may hold a lone surrogate
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with terminate_as_interrupt():  # SIGTERM at any point stops like Ctrl-C: exit 130
            add_installed_plugins(args)
            return int(args.func(args))
    except BenchError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"ERROR: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of stdout went away (`bench ... | head`)
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a bug: its own exit code, so CI tells it from a regression
        if args.debug:
            traceback.print_exc()
        where = "" if args.debug else "; run with --debug for the traceback"
        message = " ".join(str(exc).split())
        print(f"ERROR: internal error: {type(exc).__name__}: {message}{where} (please report it)",
              file=sys.stderr)
        return EXIT_INTERNAL
