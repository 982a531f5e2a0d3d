"""The parts of a run: `bench run`'s --shard, --costs and --resume, and `bench merge`.

`plan_run` takes the selected cases and returns the ones to run now with the results file
they are added to: one shard of them (bench.run.shards), less the cases an interrupted run of the
same setup already finished (--resume: bench.run.provenance checks the file's setup first;
bench.run.resume gives a timed case only the passes it lacks).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from bench.cli.options import EXIT_OK, parse_filename, pyperf_flags, scheduler_flags
from bench.errors import InputError
from bench.files import check_not_input, check_output, lock_output
from bench.metric import get_metric

if TYPE_CHECKING:
    from bench.results import Results
    from bench.run.cases import Case, Profile
    from bench.run.schedule import Scheduler
    from bench.run.shards import Shard


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


def run_settings(args: argparse.Namespace, profile: Profile) -> list[str]:
    """The pyperf flags the workers run with: the profile's, then the user's (instructions:
    the user's only)."""
    if not get_metric(args.metric).scheduled:
        return pyperf_flags(args)
    return [*profile.pyperf_settings, *pyperf_flags(args)]


def plan_run(args: argparse.Namespace, profile: Profile, selected: list[Case],
             plan: Scheduler | None = None) -> tuple[list[Case], Results, Scheduler | None]:
    """The cases to run now, the results they are added to, and the timed run's schedule
    `plan` narrowed to them (see the module docstring)."""
    from bench.results import Results, read_results
    from bench.run import provenance
    from bench.run.resume import narrow_schedule

    settings = run_settings(args, profile)
    shard = choose_shard(args, selected, settings)
    if shard is not None:
        selected = shard[1]
    setup = provenance.describe_setup(profile.name, args.metric, settings, args.python,
                                      str(shard[0]) if shard else "")
    resumed = None
    if args.resume:
        if args.force or args.append:
            raise InputError("--resume: give it alone, not with --force or --append")
        check_output(args.output, force=True)
        if os.path.exists(args.output):
            selected, resumed = resume_cases(read_results(args.output), setup, selected,
                                             args.metric)
            selected = leave_foreign_cases(resumed, selected, args, profile, "--resume")
        else:
            print(f"--resume: {args.output} does not exist yet; starting afresh", file=sys.stderr)
    if resumed is not None:
        output = resumed
    else:
        check_output(args.output, force=args.force, append=args.append)
        output = read_results(args.output) if args.append else Results(path=args.output,
                                                                        setup=setup)
        if args.append:
            selected = leave_foreign_cases(output, selected, args, profile, "--append")
    if plan is not None:
        plan = narrow_schedule(plan, [case.name for case in selected], resumed)
    return selected, output, plan


def choose_shard(args: argparse.Namespace, selected: list[Case], settings: list[str]
                 ) -> tuple[Shard, list[Case]] | None:
    """(shard, its cases) for --shard, or None; --costs without --shard is refused."""
    from bench.results import read_results
    from bench.run import shards

    if not args.shard:
        if args.costs:
            raise InputError("--costs: only with --shard")
        return None
    shard = shards.parse_shard(args.shard)
    recorded = shards.recorded_costs(read_results(args.costs).benchmarks) if args.costs else None
    costs = shards.case_costs(selected, settings, recorded)
    part = shards.select_shard(selected, shard, costs)
    source = f"recorded in {args.costs}" if args.costs else "estimated"
    print(f"shard {shard}: {len(part)} of {len(selected)} cases, "
          f"~{sum(costs[c.name] for c in part) / 60:.1f} of ~{sum(costs.values()) / 60:.1f} min "
          f"({source})", file=sys.stderr)
    return shard, part


def resume_cases(results: Results, setup: dict, selected: list[Case], metric: str
                 ) -> tuple[list[Case], Results]:
    """The selected cases `results` has not finished; InputError unless it was made with the
    same setup. A timed case may be in the file with some of its processes: it stays, and
    the schedule gives it only the passes it lacks (bench.run.resume)."""
    from bench.run.provenance import check_same_setup
    from bench.run.resume import finished_cases

    if not results.setup:
        raise InputError(f"{results.path}: --resume needs a file written by this bench "
                         "(it has no bench_setup to check)")
    check_same_setup(setup, results.setup, results.path, hosts=False)
    if results.setup.get("shard", "") != setup.get("shard", ""):
        raise InputError(f"{results.path}: not the same shard ({results.setup.get('shard', 'none')!r}"
                         f" there, {setup.get('shard', 'none')!r} here)")
    # a count is one process: a case in the file is done; a timed case may lack passes
    done = set(results.failures) if get_metric(metric).scheduled else finished_cases(results)
    remaining = [case for case in selected if case.name not in done]
    print(f"--resume: {len(results.benchmarks)} of {len(selected)} cases in {results.path} "
          f"({len(results.failures)} failed); continuing", file=sys.stderr)
    return remaining, results


def leave_foreign_cases(results: Results, selected: list[Case], args: argparse.Namespace,
                        profile: Profile, option: str) -> list[Case]:
    """The selected cases less those `results` holds from another machine or interpreter,
    which stay as they are (bench.run.resume.foreign_cases), said in one line on stderr; decided
    before anything is timed, from the metadata this run's workers will record."""
    from bench.run.resume import describe_foreign, foreign_cases

    held = {b.get_name() for b in results.benchmarks} & {case.name for case in selected}
    if not held:
        return selected
    foreign = foreign_cases(results, predict_metadata(args, profile), held)
    if foreign:
        print(describe_foreign(foreign, option), file=sys.stderr)
    return [case for case in selected if case.name not in foreign]


def predict_metadata(args: argparse.Namespace, profile: Profile) -> dict:
    """The metadata pyperf checks before runs join a case, as this run's workers will record it."""
    if not get_metric(args.metric).scheduled:
        from bench.run.counter import predict_metadata as predict_count

        return predict_count(args.python or sys.executable)
    from bench.run import runner

    flags = pyperf_flags(args) + scheduler_flags(getattr(args, "scheduler", None))
    return runner.predict_metadata(runner.RunSettings(profile, flags, args.plugin))


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
