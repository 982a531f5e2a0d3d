"""`bench explain BASE HEAD`, and the `--explain` of `compare` and `ab`: which functions moved."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bench.cli.options import EXIT_OK, add_format_argument, add_threshold_argument, parse_count
from bench.errors import InputError

if TYPE_CHECKING:
    from bench.gate.rule import Comparison
    from bench.results import Results

EXPLAIN_TOP = 10


def add_explain_option(parser: argparse.ArgumentParser) -> None:
    """`--explain`: after the verdicts, the functions that moved in each changed case."""
    parser.add_argument("--explain", action="store_true",
                        help="after the verdicts, the functions whose instructions moved most in each "
                             "slower or faster case (counted runs only; see bench explain)")


def add_explain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", metavar="BASE",
                        help="the base run (counted: bench run --metric instructions)")
    parser.add_argument("head", metavar="HEAD", help="the head run, counted like the base")
    parser.add_argument("-k", dest="patterns", action="append", default=[], metavar="GLOB",
                        help="only cases matching GLOB (repeatable), e.g. -k 'ser/cbor2/*'")
    parser.add_argument("--top", type=parse_count, default=EXPLAIN_TOP, metavar="N",
                        help=f"functions shown per case (default: {EXPLAIN_TOP})")
    add_threshold_argument(parser)
    add_format_argument(parser)


def require_counts(runs: Sequence[Results]) -> None:
    """InputError (one line, with the command to run) unless every run counted instructions."""
    for loaded in runs:
        metric = loaded.metric()
        if metric is None or metric.name != "instructions":
            profile = str(loaded.setup.get("profile") or "quick")
            raise InputError(f"{loaded.path}: holds {metric.name if metric else 'no'} measurements; an "
                             "explanation needs counted runs: bench run --profile "
                             f"{profile} --metric instructions -o FILE (or bench ab --metric instructions)")


def format_explained(comparison: Comparison, base: Sequence[Results], head: Sequence[Results],
                     fmt: str, patterns: Sequence[str] = (), top: int = EXPLAIN_TOP) -> str:
    """The explanations of the changed cases of `comparison`, in `fmt`."""
    from bench.gate.explain import explain_comparison, format_explanations

    def profiles(runs: Sequence[Results]) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for loaded in runs:
            merged.update(loaded.profiles)
        return merged

    cases = list(zip(comparison.cases["benchmark"], comparison.cases["verdict"], strict=True))
    return format_explanations(explain_comparison(cases, profiles(base), profiles(head), patterns, top), fmt)


def cmd_explain(args: argparse.Namespace) -> int:
    from bench.frame import tidy_frame
    from bench.gate.rule import compare_runs
    from bench.results import read_runs

    base, head = read_runs([args.base]), read_runs([args.head])
    require_counts([*base, *head])
    comparison = compare_runs(tidy_frame(base), tidy_frame(head), threshold=args.threshold)
    sys.stdout.write(format_explained(comparison, base, head, args.format, args.patterns, args.top))
    return EXIT_OK


def with_explanation(text: str, comparison: Comparison, base: Sequence[Results], head: Sequence[Results],
                     fmt: str) -> str:
    """A comparison's output (`text`, in `fmt`) followed by the explanations of its changed cases
    (`--explain`; in JSON, under the key `explain`)."""
    import json

    from bench.text import format_json

    require_counts([*base, *head])
    explained = format_explained(comparison, base, head, fmt)
    if fmt != "json":
        return f"{text.rstrip()}\n\n{explained}"
    return format_json({**json.loads(text), "explain": json.loads(explained)["cases"]})
