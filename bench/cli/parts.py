"""The parts of a run: `bench run`'s --shard, --costs and --resume options (planned by
bench.run.plan), and `bench merge`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bench.cli.options import EXIT_OK, parse_filename, pyperf_flags, scheduler_flags
from bench.files import check_not_input, check_output, lock_output
from bench.metric import get_metric

if TYPE_CHECKING:
    from bench.run.cases import Profile
    from bench.run.plan import RunRequest


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run into -o: check that its profile, "
                             "settings, Python and library versions match, run only the cases "
                             "it lacks (a missing file starts afresh)")
    parser.add_argument("--shard", metavar="K/N",
                        help="run only part K of N of the selection, balanced by cost "
                             "(the same split on every machine); join the parts with bench merge")
    parser.add_argument("--costs", metavar="FILE",
                        help="with --shard: balance by the durations an earlier results file "
                             "records (default: estimated from each case)")


def build_request(args: argparse.Namespace, profile: Profile) -> RunRequest:
    """The run's options as planning needs them (bench.run.plan)."""
    from bench.run.plan import RunRequest

    return RunRequest(profile, args.output, get_metric(args.metric), tuple(pyperf_flags(args)),
                      tuple(pyperf_flags(args) + scheduler_flags(getattr(args, "scheduler", None))),
                      tuple(args.plugin), args.python, args.shard, args.costs, args.resume,
                      args.force, args.append)


# ---------------------------------------------------------------- merge

def add_merge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("parts", nargs="+", metavar="SHARD", help="results files of bench run --shard")
    parser.add_argument("-o", "--output", required=True, type=parse_filename,
                        help="the merged results file to write")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    parser.add_argument("--allow-mixed-machines", action="store_true",
                        help="accept parts run on different hosts (their times are then less "
                             "comparable with each other)")


def cmd_merge(args: argparse.Namespace) -> int:
    from bench.results import read_results, write_results
    from bench.run.merge import merge_results, missing_shards

    check_output(args.output, force=args.force)
    check_not_input(args.output, args.parts)
    parts = [read_results(path) for path in args.parts]
    merged = merge_results(parts, args.output, args.allow_mixed_machines)
    missing = missing_shards(parts)
    if missing:
        print(f"warning: shard(s) {', '.join(missing)} not given; the merged run is partial",
              file=sys.stderr)
    with lock_output(args.output, "bench merge"):
        write_results(merged)
    print(f"wrote {args.output}: {len(merged.benchmarks)} benchmarks, {len(merged.failures)} "
          f"failed, from {len(parts)} part(s)", file=sys.stderr)
    return EXIT_OK
