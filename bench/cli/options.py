"""Options and output shared by the commands: defined once, converted once.

The threshold is given in percent and kept as a fraction; --format's choices come from
bench.text; -o/--output files are checked before work starts and written atomically.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import TYPE_CHECKING

from bench.errors import InputError
from bench.text import formats_of

if TYPE_CHECKING:
    from bench.metric import Metric
    from bench.run.cases import Case

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE, EXIT_FAILED_CASES, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a bug in bench, not a verdict


# ---------------------------------------------------------------- selection and pyperf

def add_plugin_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import MODULE first (or call MODULE:FUNCTION); it may add serializers, "
                             "shapes, styles or profiles to the registries (workers import it too); "
                             "installed distributions' bench.plugins entry points are loaded "
                             "without it")


def add_installed_plugins(args: argparse.Namespace) -> None:
    """Load the plugins installed distributions declare; a command with `--plugin` passes them
    on to the processes it starts, before the ones named on its command line."""
    from bench.run.plugins import discover_plugins, load_plugins

    installed = discover_plugins()
    if hasattr(args, "plugin"):
        args.plugin = list(dict.fromkeys([*installed, *args.plugin]))
    load_plugins(installed)


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", action="append", default=[], metavar="SPEC",
                        help="time every serializer on your own object (repeatable): "
                             "module:callable (a function returning it), or a .json, .jsonl, "
                             ".csv, .parquet or (with --trust-pickle) .pkl file; each becomes "
                             "a shape data-NAME. Example: --data myapp.fixtures:make_order "
                             "--data orders.json")
    parser.add_argument("--data-size", type=parse_count, metavar="N",
                        help="what a --data callable that takes a parameter is called with "
                             "(default: its parameter's default, else 1000)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="let --data load a pickle file (unpickling runs its code)")


def load_data_arguments(args: argparse.Namespace) -> list[str]:
    """Load the `--data` specs into the shape registry (the children get them too); the names
    of their shapes. InputError for a bad spec, before anything runs."""
    from bench.subjects.user_data import load_specs

    return load_specs(args.data, args.data_size, args.trust_pickle)


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", dest="patterns", action="append", default=[], metavar="PATTERN",
                        help="glob on case names (repeatable; a case matching any is kept)")
    parser.add_argument("--suite", action="append", choices=["ser", "fold", "ref", "ship"], default=[],
                        help="keep only this suite (repeatable)")


def known_profiles(default: str = "") -> str:
    """The built-in profiles for a --profile help text: `smoke: ...; quick (default): ...`."""
    from bench.run.cases import PROFILES

    return "; ".join(f"{p.name}{' (default)' if p.name == default else ''}: {p.description}"
                     for p in PROFILES.values()).replace("%", "%%")  # argparse formats help


def add_pyperf_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pyperf options (passed through to pyperf)")
    group.add_argument("--fast", action="store_true", help="pyperf --fast")
    group.add_argument("--rigorous", action="store_true", help="pyperf --rigorous")
    group.add_argument("-p", "--processes", type=parse_count, help="worker processes per case")
    group.add_argument("-n", "--values", type=parse_count, help="values per process")
    group.add_argument("-w", "--warmups", type=parse_count_or_zero, help="warmup values per process")
    group.add_argument("-l", "--loops", type=parse_count_or_zero, help="loops per value (0: calibrate)")
    group.add_argument("--min-time", type=parse_positive, help="minimum seconds of one value")


def pyperf_flags(args: argparse.Namespace) -> list[str]:
    """The pyperf options the user gave, as pyperf command-line flags."""
    flags = [f for f, on in (("--fast", args.fast), ("--rigorous", args.rigorous)) if on]
    for option in ("processes", "values", "warmups", "loops", "min_time", "python"):
        value = getattr(args, option, None)
        if value is not None:
            flags += [f"--{option.replace('_', '-')}", str(value)]
    return flags


# ---------------------------------------------------------------- verdict options

def threshold_help() -> str:
    """--threshold's help: the default of each metric."""
    from bench.metric import METRICS

    defaults = ", ".join(f"{m.threshold:.0%} for {m.noun}" for m in METRICS.values())
    return f"smallest change that counts, in percent (default: {defaults})".replace("%", "%%")


def add_format_argument(parser: argparse.ArgumentParser, markdown: bool = True) -> None:
    """--format: text (default), md when the command has a markdown rendering, json."""
    parser.add_argument("--format", choices=formats_of(markdown), default="text")


def add_threshold_argument(parser: argparse.ArgumentParser) -> None:
    """--threshold PERCENT, kept as a fraction; unset (None) means the gate's default."""
    parser.add_argument("--threshold", type=parse_percent, default=None, metavar="PERCENT",
                        help=threshold_help())


def add_gate_arguments(parser: argparse.ArgumentParser, sizes: bool = False) -> None:
    """--threshold, --format and --fail-on: the options of every command that gives verdicts;
    with `sizes`, --fail-on also names payload and memory (bench.gate.sizes)."""
    add_threshold_argument(parser)
    add_format_argument(parser)
    if not sizes:
        parser.add_argument("--fail-on", choices=["slower", "never"], default="slower",
                            help="exit 1 when a case is slower (default), or never")
        return
    parser.add_argument("--fail-on", type=parse_fail_on, default=("slower",), metavar="LIST",
                        help="what fails the job (exit 1), comma-separated: slower (default: a "
                             "slower case of the runs' own metric), time, instructions, payload "
                             "(a larger payload), memory (a larger peak memory), or never; "
                             "e.g. --fail-on slower,payload")


def parse_fail_on(text: str) -> tuple[str, ...]:
    """--fail-on's list (bench.gate.sizes.parse_fail_on); argparse's type."""
    from bench.gate.sizes import parse_fail_on as parse

    try:
        return parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_number(text: str) -> float:
    """A finite number >= 0 from the command line (seconds, percent); argparse's type.

    >>> parse_number("2.5")
    2.5
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number, 0 or more")
    return value


def parse_percent(text: str) -> float:
    """A percentage on the command line as a fraction: '5' -> 0.05 (finite, 0 or more)."""
    return parse_number(text) / 100


def parse_positive(text: str) -> float:
    """A finite number > 0 (a timeout, a minimum time)."""
    value = parse_number(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number over 0")
    return value


def parse_whole(text: str, minimum: int) -> int:
    """A whole number of at least `minimum` from the command line."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number, {minimum} or more")
    return value


def parse_count(text: str) -> int:
    """A whole number >= 1 (processes, values, rounds, jobs, a size)."""
    return parse_whole(text, 1)


def parse_count_or_zero(text: str) -> int:
    """A whole number >= 0 (warmups; loops, where 0 calibrates)."""
    return parse_whole(text, 0)


def parse_filename(text: str) -> str:
    """A file name that is not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty file name")
    return text


# ---------------------------------------------------------------- output files

def write_output(text: str, path: str | None, option: str = "-o/--output") -> None:
    """Write `text` to `path` (bench.files: atomic, symlinks followed, devices written
    through), or to stdout without a path."""
    if path is None:
        sys.stdout.write(text)
        return
    write_outputs([(path, text)], option)


def write_outputs(outputs: list[tuple[str, str]], option: str = "-o/--output") -> None:
    """Write several outputs whole or not at all, then say what was written."""
    from bench.files import check_output, write_files

    for path, _ in outputs:
        check_output(path, force=True, option=option)
    write_files(outputs)
    for path, text in outputs:
        size = len(text.encode(errors="backslashreplace"))  # as bench.files writes it
        print(f"wrote {path} ({size / 1e6:.2f} MB)", file=sys.stderr)


# ---------------------------------------------------------------- the ship suite

def drop_unmeasurable(selected: list[Case], metric: Metric) -> list[Case]:
    """The cases `metric` can measure (a count is of one process: ship cases span several)."""
    kept = [case for case in selected if metric.can_measure(case.suite)]
    if len(kept) < len(selected):
        suites = sorted({case.suite for case in selected} - {case.suite for case in kept})
        print(f"skipped {len(selected) - len(kept)} {'/'.join(suites)} cases: --metric "
              f"{metric.name} cannot measure them (a count is of one process; use --metric time)",
              file=sys.stderr)
    if not kept:
        raise InputError(f"--metric {metric.name}: no case left once those it cannot measure "
                         "are dropped")
    return kept


def scheduler_flags(address: str | None) -> list[str]:
    """Hand a dask scheduler's address to the workers (pyperf passes on only named variables)."""
    from bench.subjects.ship import SCHEDULER_ENV

    if not address:
        return []
    if "://" not in address and ":" not in address:
        raise InputError(f"--scheduler {address!r}: expected HOST:PORT or tcp://HOST:PORT")
    os.environ[SCHEDULER_ENV] = address
    return ["--inherit-environ", SCHEDULER_ENV]
