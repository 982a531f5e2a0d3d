"""The commands that run things: list, run, ab and capabilities, with progress and saving.

Results are saved after every finished case (bench.results writes atomically, with SIGINT and
SIGTERM held for the moment of the save), so Ctrl-C or SIGTERM keeps every finished case.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING

from bench.cli.explaining import add_explain_option, with_explanation
from bench.cli.options import (
    EXIT_FAILED_CASES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REGRESSION,
    add_data_arguments,
    add_format_argument,
    add_gate_arguments,
    add_plugin_argument,
    add_pyperf_arguments,
    add_selection_arguments,
    drop_unmeasurable,
    known_profiles,
    load_data_arguments,
    parse_count,
    parse_filename,
    parse_number,
    parse_positive,
    pyperf_flags,
    scheduler_flags,
    write_output,
)
from bench.cli.parts import add_plan_arguments
from bench.cli.progress import run_with_progress
from bench.cli.versions import add_with_arguments, prepare_sides
from bench.errors import InputError
from bench.files import check_not_input, check_output, is_special, lock_output, target_of
from bench.metric import get_metric
from bench.text import render_document

if TYPE_CHECKING:
    from bench.results import Results
    from bench.run.cases import Case, Profile
    from bench.run.counter import CountSettings
    from bench.run.runner import CaseResult
    from bench.run.schedule import Scheduler

    BySide = dict[str, CaseResult]  # one finished case: its result per side ("" for a run)
    RunCases = Callable[[list[Case]], Generator[CaseResult, None, None]]  # runs cases, one result each


# ---------------------------------------------------------------- list

def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    add_format_argument(parser, markdown=False)
    parser.add_argument("--profile", help=f"print the cases of this profile and their count. "
                        f"{known_profiles()}")
    add_selection_arguments(parser)
    add_plugin_argument(parser)
    add_data_arguments(parser)


def cmd_list(args: argparse.Namespace) -> int:
    from bench.run import cases
    from bench.run.plugins import load_plugins

    load_plugins(args.plugin)
    load_data_arguments(args)
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
    from bench.subjects.folds import STYLES, TASKS
    from bench.subjects.serializers import SERIALIZERS
    from bench.subjects.shapes import SHAPES

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

def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help=known_profiles("quick") + "; with --data: data")
    add_data_arguments(parser)
    add_selection_arguments(parser)
    parser.add_argument("-o", "--output", default="results/latest.json", type=parse_filename,
                        help="pyperf JSON to write (locked while the run writes it)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    parser.add_argument("--append", action="store_true", help="add cases to an existing output file")
    add_plan_arguments(parser)
    parser.add_argument("--size", type=parse_count, action="append", default=[],
                        help="run the selected cases at this size instead (repeatable)")
    parser.add_argument("--no-capabilities", action="store_true",
                        help="do not write the capability matrix beside the results (a "
                             "--metric instructions run never does: its time run writes it)")
    add_metric_argument(parser)
    parser.add_argument("--target-ci", type=parse_number, metavar="PERCENT",
                        help="after the passes, add processes to cases whose 95%% CI half-width "
                             "is over this (default: the profile's, quick: 3; 0: off)")
    parser.add_argument("--budget", type=parse_number, metavar="SECONDS",
                        help="time the run may take, adaptive processes included (default: "
                             "the profile's, quick: 300)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the ship suite's dask cases on this running dask scheduler "
                             "(e.g. tcp://10.0.0.5:8786) instead of a LocalCluster per worker")
    add_plugin_argument(parser)
    add_pyperf_arguments(parser)
    parser.add_argument("--python", help="interpreter the workers run (pyperf --python)")


def cmd_run(args: argparse.Namespace) -> int:
    started = time.monotonic()  # the budget is the whole command's
    profile, selected = select_run_cases(args, args.size, "quick")
    if args.costs:
        check_not_input(args.output, [args.costs])
    with lock_output(args.output):
        return run_locked(args, profile, selected, started)


def run_locked(args: argparse.Namespace, profile: Profile, selected: list[Case],
               started: float) -> int:
    """`bench run` once its output is locked: plan, run, save, summarize."""
    from bench.cli.parts import build_request
    from bench.run import cases
    from bench.run.plan import plan_run
    from bench.run.schedule import describe_noise, describe_precision

    metric = get_metric(args.metric)
    selected = drop_unmeasurable(selected, metric)
    planned = plan_run(build_request(args, profile), selected,  # --shard, --resume, --append
                       make_plan(args, profile, selected) if metric.scheduled else None)
    for note in planned.notes:
        print(note, file=sys.stderr)
    selected, output, plan = planned.cases, planned.output, planned.schedule
    if profile.writes_capabilities and metric.writes_capabilities and not args.no_capabilities:
        write_capabilities_beside(args.output)  # first: the budget's clock is already running
    if plan is not None:
        plan.started = started
    make_results = run_time(args, profile, plan) if plan else run_instructions(args, profile)
    for subject, reason in cases.unavailable_subjects().items():
        print(f"skipped {subject}: {reason}", file=sys.stderr)
    total: int | Callable[[], int] = len(selected)
    if plan is not None:
        total = plan.planned
        print(f"bench run: {len(selected)} cases x {plan.passes} passes"
              + (f", then more processes where the 95% CI is over {plan.target:.0%}, within "
                 f"{plan.budget:.0f} s" if plan.target else ""), file=sys.stderr)
    with contextlib.closing(make_results(selected)) as results:
        done, stopped = run_with_progress(({"": result} for result in results), total,
                                          {"": output}, on_saved=note_noise(output, plan) if plan else None)
    report_failures(output.failures)
    if stopped:
        saved = len({b.get_name() for b in output.benchmarks} | set(output.failures))
        print(f"interrupted: {saved} of {len(selected)} cases saved in {args.output}"
              + (f" ({done} worker processes run)" if plan else ""), file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"wrote {args.output}: {len(output.benchmarks)} benchmarks, "
          f"{len(output.failures)} failed", file=sys.stderr)
    if plan is not None:
        print(f"{describe_precision(plan.summary())}\n{describe_noise(output.noise)}",
              file=sys.stderr)
    return EXIT_FAILED_CASES if output.failures else EXIT_OK


def make_plan(args: argparse.Namespace, profile: Profile, selected: Sequence[Case]) -> Scheduler:
    """The run's schedule: passes (-p or the profile's processes), the CI target and budget
    (--target-ci, --budget or the profile's)."""
    from bench.run.schedule import Scheduler

    target = profile.target_ci if args.target_ci is None else args.target_ci / 100
    budget = profile.budget_seconds if args.budget is None else args.budget
    if target < 0 or budget < 0:
        raise InputError("--target-ci and --budget: give a positive number (0: off)")
    if target and not budget:
        raise InputError(f"--target-ci {target:.0%} needs a time budget: --budget SECONDS")
    return Scheduler([case.name for case in selected], args.processes or profile.processes(),
                     target, budget)


def note_noise(output: Results, plan: Scheduler) -> Callable[[], None]:
    """Before each save: the run's noise and precision so far, into the results file."""
    from bench.run.schedule import measure_noise

    def update() -> None:
        output.noise = {**measure_noise(output.benchmarks), **plan.summary()}
    return update


def run_time(args: argparse.Namespace, profile: Profile, plan: Scheduler) -> RunCases:
    """The cases' wall times on pyperf, in the passes of `plan`."""
    from bench.run import runner

    flags = pyperf_flags(args) + scheduler_flags(getattr(args, "scheduler", None))
    settings = runner.RunSettings(profile, flags, args.plugin)
    return lambda selected: runner.iter_run(selected, settings, plan)


def run_instructions(args: argparse.Namespace, profile: Profile) -> RunCases:
    """The cases' instruction counts under callgrind; ToolMissing before anything runs."""
    from bench.run import counter
    from bench.run.pycalls import with_python

    settings = count_settings(args, profile, args.python or sys.executable)
    return lambda selected: with_python(counter.iter_count(selected, settings), settings)


def count_settings(args: argparse.Namespace, profile: Profile, python: str) -> CountSettings:
    """The counter's settings for `python`: InputError for pyperf options that do not apply,
    ToolMissing when valgrind or a compiler is missing."""
    from bench.run import callgrind, counter

    extra = [flag for flag in pyperf_flags(args) if flag.startswith("--")
             and flag not in ("--values", "--python", "--processes")]
    if extra:
        raise InputError(f"--metric instructions: pyperf option {extra[0]} does not apply "
                         "(only -n/--values and --python do)")
    if args.values is not None and args.values < 1:
        raise InputError(f"--values {args.values}: need at least one value per case")
    return counter.CountSettings(callgrind.find_tools(), args.values or counter.VALUES, python,
                                 args.plugin, profile.name)


def count_sides(selected: Sequence[Case], settings: dict[str, CountSettings]) -> Iterator[BySide]:
    """Count every case on side A, then on side B: {side: CaseResult} per counted case."""
    from bench.run import counter
    from bench.run.pycalls import with_python

    for side, side_settings in settings.items():
        for result in with_python(counter.iter_count(selected, side_settings), side_settings):
            yield {side: result}


def select_run_cases(args: argparse.Namespace, sizes: Sequence[int] = (), default: str = "smoke"
                     ) -> tuple[Profile, list[Case]]:
    """The profile (without --profile: `data` with --data, else `default`) and the cases a run
    or an A/B run times: plugins and data loaded, -k and --suite applied, at `sizes` when
    given; InputError when none is left."""
    from bench.run import cases
    from bench.run.plugins import load_plugins

    load_plugins(args.plugin)
    load_data_arguments(args)
    profile = cases.get_profile(args.profile or ("data" if args.data else default))
    selected = cases.select_cases(profile.list_cases(), args.patterns, args.suite)
    if sizes:
        selected = cases.resize_cases(selected, sizes)
    if not selected:
        raise InputError(f"profile {profile.name!r} with this selection has no case")
    return profile, selected


def report_failures(failures: dict[str, str]) -> None:
    """List failed cases on stderr."""
    if failures:
        print(f"{len(failures)} case(s) failed:", file=sys.stderr)
        for name, reason in failures.items():
            print(f"  {name}: {reason}", file=sys.stderr)


def write_capabilities_beside(output: str) -> None:
    """Write the capability matrix beside the results (bench.capability_file); not beside what
    is not a regular file (`-o /dev/null`)."""
    try:
        from bench.run.capabilities import probe_capabilities
    except ImportError:
        return
    from bench.capability_file import capabilities_path, write_capabilities

    if is_special(target_of(output)):
        print(f"not writing the capability matrix beside {output} (not a regular file)",
              file=sys.stderr)
        return
    path = capabilities_path(output)
    write_capabilities(probe_capabilities(), path)
    print(f"wrote {path}", file=sys.stderr)


# ---------------------------------------------------------------- ab

AB_ROUNDS = 16          # bench ab: rounds per case
AB_PROCESSES = 1        # bench ab: worker processes per side and round, unless -p


def add_ab_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--python", dest="pythons", action="append", default=[],
                        help="interpreter A, then interpreter B (each needs bench installed); "
                             "or two --with")
    parser.add_argument("--profile", help=known_profiles("smoke") + "; with --data: data")
    add_data_arguments(parser)
    add_selection_arguments(parser)
    parser.add_argument("--rounds", type=parse_count, default=AB_ROUNDS,
                        help=f"A/B alternations per case (default: {AB_ROUNDS})")
    add_gate_arguments(parser, sizes=True)
    add_metric_argument(parser)
    parser.add_argument("--outdir", default="results/ab", type=parse_filename,
                        help="where a.json and b.json go")
    add_explain_option(parser)
    parser.add_argument("--force", action="store_true", help="overwrite existing result files")
    add_plugin_argument(parser)
    add_with_arguments(parser)
    add_pyperf_arguments(parser)
    parser.set_defaults(processes=AB_PROCESSES)


def add_metric_argument(parser: argparse.ArgumentParser) -> None:
    from bench.metric import METRICS, TIME

    parser.add_argument("--metric", choices=list(METRICS), default=TIME.name,
                        help="time (default): wall time on pyperf; instructions: instructions "
                             "of one call under valgrind's callgrind (-n: values per case)")


def check_interpreters(paths: list[str]) -> dict[str, str]:
    """{"a": A, "b": B} as absolute paths; InputError unless exactly two executables."""
    if len(paths) != 2:
        raise InputError(f"--python: give exactly two interpreters, A then B (got {len(paths)}), "
                         "or two --with specs")
    for python in paths:
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            raise InputError(f"--python {python}: not an executable file")
    return {side: os.path.abspath(python) for side, python in zip("ab", paths)}


def cmd_ab(args: argparse.Namespace) -> int:
    from bench.gate.sizes import check_fail_on
    from bench.results import Results
    from bench.run import runner

    pythons = {} if args.specs else check_interpreters(args.pythons)
    runner.plan_ab_rounds(args.rounds)  # refuses a bad --rounds before anything runs
    check_fail_on(args.fail_on, get_metric(args.metric))
    if args.explain and get_metric(args.metric).paired_ab:
        raise InputError(f"--explain needs counts: bench ab --metric instructions --explain "
                         f"(not --metric {args.metric})")
    outputs = {side: Results(path=os.path.join(args.outdir, f"{side}.json")) for side in "ab"}
    with contextlib.ExitStack() as locks:
        if args.specs:  # --with: each side's environment, made or reused, and the cases both list
            for output in outputs.values():
                check_output(output.path, force=args.force)  # before minutes of installing
            pythons, profile, selected = prepare_sides(args, locks)
        else:
            profile, selected = select_run_cases(args)
        for output in outputs.values():
            check_output(output.path, force=args.force)
            locks.enter_context(lock_output(output.path, "bench ab"))
            if not is_special(target_of(output.path)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(target_of(output.path))
        return run_ab(args, profile, selected, pythons, outputs)


def run_ab(args: argparse.Namespace, profile: Profile, selected: list[Case],
           pythons: dict[str, str], outputs: dict[str, Results]) -> int:
    """`bench ab` once both outputs are locked: run both sides, save, compare."""
    from bench.frame import load_results
    from bench.gate.render import format_comparison
    from bench.gate.rule import compare_runs
    from bench.gate.sizes import compare_sizes, failing
    from bench.run import runner

    metric = get_metric(args.metric)
    if not metric.paired_ab:
        counting = {side: count_settings(args, profile, python) for side, python in pythons.items()}
        print(f"bench ab: {len(selected)} cases counted on each side (counts do not depend on "
              f"load: no rounds); A = {pythons['a']}, B = {pythons['b']}", file=sys.stderr)
        total = 2 * len(selected)
        done, stopped = run_with_progress(count_sides(selected, counting), total, outputs)
    else:
        settings = runner.RunSettings(profile, pyperf_flags(args), args.plugin)
        print(f"bench ab: {len(selected)} cases x {args.rounds} rounds x {args.processes} "
              f"process(es) per side and round; A = {pythons['a']}, B = {pythons['b']}",
              file=sys.stderr)
        total = len(selected)
        done, stopped = run_with_progress(runner.iter_ab(selected, settings, pythons, args.rounds),
                                          total, outputs)
    for side, output in outputs.items():
        if output.failures:
            print(f"side {side.upper()}:", end=" ", file=sys.stderr)
            report_failures(output.failures)
    if stopped:
        print(f"interrupted: {done} of {total} cases saved in "
              f"{outputs['a'].path} and {outputs['b'].path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not (outputs["a"].benchmarks and outputs["b"].benchmarks):
        print("ERROR: no case was measured on both sides", file=sys.stderr)
        return EXIT_FAILED_CASES
    sides = load_results([outputs["a"].path]), load_results([outputs["b"].path])
    comparison = compare_runs(*sides, threshold=args.threshold, paired=metric.paired_ab)
    sizes = compare_sizes(*sides)
    text = format_comparison(comparison, args.format, sizes)
    if args.explain:
        text = with_explanation(text, comparison, [outputs["a"]], [outputs["b"]], args.format)
    sys.stdout.write(text)
    failed = any(output.failures for output in outputs.values())
    if failing(comparison, sizes, args.fail_on):
        return EXIT_REGRESSION
    return EXIT_FAILED_CASES if failed else EXIT_OK


# ---------------------------------------------------------------- capabilities

def add_capabilities_arguments(parser: argparse.ArgumentParser) -> None:
    add_format_argument(parser)
    parser.add_argument("-o", "--output", type=parse_filename, help="write to this file instead of stdout")
    parser.add_argument("--serializer", dest="serializers", action="append", default=[],
                        metavar="NAME", help="probe only this serializer (repeatable)")
    parser.add_argument("--kind", dest="kinds", action="append", default=[], metavar="NAME",
                        help="probe only this object kind (repeatable)")
    parser.add_argument("--timeout", type=parse_positive, default=10.0, metavar="SECONDS",
                        help="a child that finishes no kind for this long is killed "
                             "(default: 10)")
    parser.add_argument("--jobs", type=parse_count, default=2, help="serializers probed at once "
                        "(default: 2)")
    parser.add_argument("--kinds-module", dest="kinds_modules", action="append", default=[],
                        metavar="MODULE", help="also probe the KINDS of this importable module "
                        "(the tests inject crashing kinds this way)")
    add_plugin_argument(parser)
    add_data_arguments(parser)


def cmd_capabilities(args: argparse.Namespace) -> int:
    from bench.capability_render import format_capabilities
    from bench.run.capabilities import probe_capabilities
    from bench.run.plugins import load_plugins

    load_plugins(args.plugin)
    load_data_arguments(args)
    if args.output:
        check_output(args.output, force=True)  # before the probe, not after it
    doc = probe_capabilities(args.serializers or None, args.kinds or None, args.timeout,
                             jobs=args.jobs, extra_kinds_modules=args.kinds_modules)
    write_output(format_capabilities(doc, args.format), args.output)
    return EXIT_OK
