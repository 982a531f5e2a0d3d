"""Options and output shared by the commands: defined once, converted once.

The threshold is given in percent and kept as a fraction; --format's choices come from
bench.text; -o/--output files are checked before work starts and written atomically.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from bench.errors import InputError
from bench.text import formats_of

if TYPE_CHECKING:
    from bench.cases import Case

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE, EXIT_FAILED_CASES, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


# ---------------------------------------------------------------- selection and pyperf

def add_plugin_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import MODULE first; it may add serializers, shapes, styles or "
                             "profiles to the registries (workers import it too)")


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", dest="patterns", action="append", default=[], metavar="PATTERN",
                        help="glob on case names (repeatable; a case matching any is kept)")
    parser.add_argument("--suite", action="append", choices=["ser", "fold", "ref", "ship"], default=[],
                        help="keep only this suite (repeatable)")


def known_profiles(default: str = "") -> str:
    """The built-in profiles for a --profile help text: `smoke: ...; quick (default): ...`."""
    from bench.cases import PROFILES

    return "; ".join(f"{p.name}{' (default)' if p.name == default else ''}: {p.description}"
                     for p in PROFILES.values()).replace("%", "%%")  # argparse formats help


def add_pyperf_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pyperf options (passed through to pyperf)")
    group.add_argument("--fast", action="store_true", help="pyperf --fast")
    group.add_argument("--rigorous", action="store_true", help="pyperf --rigorous")
    group.add_argument("-p", "--processes", type=int, help="worker processes per case")
    group.add_argument("-n", "--values", type=int, help="values per process")
    group.add_argument("-w", "--warmups", type=int, help="warmup values per process")
    group.add_argument("-l", "--loops", type=int, help="loops per value (0: calibrate)")
    group.add_argument("--min-time", type=float, help="minimum seconds of one value")


def pyperf_flags(args: argparse.Namespace) -> list[str]:
    """The pyperf options the user gave, as pyperf command-line flags."""
    flags = [f for f, on in (("--fast", args.fast), ("--rigorous", args.rigorous)) if on]
    for option in ("processes", "values", "warmups", "loops", "min_time", "python"):
        value = getattr(args, option, None)
        if value is not None:
            flags += [f"--{option.replace('_', '-')}", str(value)]
    return flags


# ---------------------------------------------------------------- verdict options

# The gate's DEFAULT_THRESHOLD and COUNT_THRESHOLD (a test checks them; importing the gate here
# would load pandas and scipy for every command).
THRESHOLD_HELP = "smallest change that counts, in percent (default: 5 for times, 1 for counts)"


def add_format_argument(parser: argparse.ArgumentParser, markdown: bool = True) -> None:
    """--format: text (default), md when the command has a markdown rendering, json."""
    parser.add_argument("--format", choices=formats_of(markdown), default="text")


def add_threshold_argument(parser: argparse.ArgumentParser) -> None:
    """--threshold PERCENT, kept as a fraction; unset (None) means the gate's default."""
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



# ---------------------------------------------------------------- output files

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


# ---------------------------------------------------------------- the ship suite

def drop_ship_cases(selected: list[Case]) -> list[Case]:
    """The cases an instruction count can measure: ship cases span processes, so they go."""
    kept = [case for case in selected if case.suite != "ship"]
    if len(kept) < len(selected):
        print(f"skipped {len(selected) - len(kept)} ship cases: --metric instructions counts one "
              "process, a ship case spans several (use --metric time)", file=sys.stderr)
    if not kept:
        raise InputError("--metric instructions: no case left once the ship cases are dropped")
    return kept


def scheduler_flags(address: str | None) -> list[str]:
    """Hand a dask scheduler's address to the workers (pyperf passes on only named variables)."""
    from bench.ship import SCHEDULER_ENV

    if not address:
        return []
    if "://" not in address and ":" not in address:
        raise InputError(f"--scheduler {address!r}: expected HOST:PORT or tcp://HOST:PORT")
    os.environ[SCHEDULER_ENV] = address
    return ["--inherit-environ", SCHEDULER_ENV]
