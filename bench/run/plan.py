"""What a run does now: the cases of this shard, less those an interrupted run finished, and
the results file they are added to.

`plan_run` takes the selected cases of a `RunRequest` and returns a `RunPlan`: one shard of
them (bench.run.shards), less the cases an interrupted run of the same setup already finished
(--resume: bench.run.provenance checks the file's setup first; bench.run.resume gives a timed
case only the passes it lacks), less the cases the file holds from another machine or
interpreter (kept as they are, never topped up here). What a person should hear is in its
`notes`, one line each; the CLI prints them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.errors import InputError
from bench.files import check_output
from bench.metric import Metric

if TYPE_CHECKING:
    from bench.results import Results
    from bench.run.cases import Case, Profile
    from bench.run.schedule import Scheduler
    from bench.run.shards import Shard


@dataclass(frozen=True)
class RunRequest:
    """What a run was asked for, as planning needs it (the CLI builds it once from its options)."""

    profile: Profile
    output: str
    metric: Metric
    user_flags: tuple[str, ...] = ()    # the user's pyperf flags
    worker_flags: tuple[str, ...] = ()  # the flags workers get (the user's, a dask scheduler's)
    plugins: tuple[str, ...] = ()
    python: str | None = None
    shard: str | None = None
    costs: str | None = None
    resume: bool = False
    force: bool = False
    append: bool = False

    def settings(self) -> list[str]:
        """The pyperf flags the workers run with: the profile's, then the user's (a metric
        that is not scheduled on pyperf: the user's only)."""
        if not self.metric.scheduled:
            return list(self.user_flags)
        return [*self.profile.pyperf_settings, *self.user_flags]


@dataclass
class RunPlan:
    """The cases to run now, the results they join, the schedule narrowed to them, and notes."""

    cases: list[Case]
    output: Results
    schedule: Scheduler | None
    notes: list[str] = field(default_factory=list)


def plan_run(request: RunRequest, selected: list[Case], schedule: Scheduler | None = None) -> RunPlan:
    """The plan of a run (see the module docstring); InputError before anything is timed."""
    from bench.results import Results, read_results
    from bench.run import provenance
    from bench.run.resume import narrow_schedule

    notes: list[str] = []
    settings = request.settings()
    shard = choose_shard(request, selected, settings, notes)
    if shard is not None:
        selected = shard[1]
    setup = provenance.describe_setup(request.profile.name, request.metric.name, settings,
                                      request.python, str(shard[0]) if shard else "")
    resumed = None
    if request.resume:
        if request.force or request.append:
            raise InputError("--resume: give it alone, not with --force or --append")
        check_output(request.output, force=True)
        if os.path.exists(request.output):
            selected, resumed = resume_cases(read_results(request.output), setup, selected,
                                             request.metric, notes)
            selected = leave_foreign_cases(resumed, selected, request, "--resume", notes)
        else:
            notes.append(f"--resume: {request.output} does not exist yet; starting afresh")
    if resumed is not None:
        output = resumed
    else:
        check_output(request.output, force=request.force, append=request.append)
        output = (read_results(request.output) if request.append
                  else Results(path=request.output, setup=setup))
        if request.append:
            selected = leave_foreign_cases(output, selected, request, "--append", notes)
    if schedule is not None:
        schedule = narrow_schedule(schedule, [case.name for case in selected], resumed)
    return RunPlan(selected, output, schedule, notes)


def choose_shard(request: RunRequest, selected: list[Case], settings: list[str], notes: list[str]
                 ) -> tuple[Shard, list[Case]] | None:
    """(shard, its cases) for --shard, or None; --costs without --shard is refused."""
    from bench.results import read_results
    from bench.run import shards

    if not request.shard:
        if request.costs:
            raise InputError("--costs: only with --shard")
        return None
    shard = shards.parse_shard(request.shard)
    recorded = (shards.recorded_costs(read_results(request.costs).benchmarks)
                if request.costs else None)
    costs = shards.case_costs(selected, settings, recorded)
    part = shards.select_shard(selected, shard, costs)
    source = f"recorded in {request.costs}" if request.costs else "estimated"
    notes.append(f"shard {shard}: {len(part)} of {len(selected)} cases, "
                 f"~{sum(costs[c.name] for c in part) / 60:.1f} of "
                 f"~{sum(costs.values()) / 60:.1f} min ({source})")
    return shard, part


def resume_cases(results: Results, setup: dict[str, Any], selected: list[Case], metric: Metric,
                 notes: list[str]) -> tuple[list[Case], Results]:
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
    done = set(results.failures) if metric.scheduled else finished_cases(results)
    remaining = [case for case in selected if case.name not in done]
    notes.append(f"--resume: {len(results.benchmarks)} of {len(selected)} cases in {results.path} "
                 f"({len(results.failures)} failed); continuing")
    return remaining, results


def leave_foreign_cases(results: Results, selected: list[Case], request: RunRequest, option: str,
                        notes: list[str]) -> list[Case]:
    """The selected cases less those `results` holds from another machine or interpreter,
    which stay as they are (bench.run.resume.foreign_cases), said in one note; decided before
    anything is timed, from the metadata this run's workers will record."""
    from bench.run.resume import describe_foreign, foreign_cases

    held = {b.get_name() for b in results.benchmarks} & {case.name for case in selected}
    if not held:
        return selected
    foreign = foreign_cases(results, predict_metadata(request), held)
    if foreign:
        notes.append(describe_foreign(foreign, option))
    return [case for case in selected if case.name not in foreign]


def predict_metadata(request: RunRequest) -> dict[str, Any]:
    """The metadata pyperf checks before runs join a case, as this run's workers will record it."""
    if not request.metric.scheduled:
        from bench.run.counter import predict_metadata as predict_count

        return predict_count(request.python or sys.executable)
    from bench.run import runner

    return runner.predict_metadata(runner.RunSettings(request.profile, list(request.worker_flags),
                                                      list(request.plugins)))
