"""What an interrupted run still has to do (`bench run --resume`).

A timed run gives every case one worker process per pass (bench.run.schedule), so an
interrupted file holds each case with some of its processes. Resuming gives each case only
the passes it lacks, with the means it already has counted by the adaptive phase; a count
run (`--metric instructions`) has one result per case, so a case in the file is done. A case
recorded as failed is done either way.

pyperf keeps one machine's processes in a case (`Benchmark.add_run` refuses a run whose host,
interpreter, CPU, platform or unit differ: bench.run.provenance.CHECKED_METADATA). A case that
a file holds from another machine or interpreter (a CI job resumed on a new runner) is
therefore kept as it is, never topped up here (`foreign_cases`): mixing machines within a
case would mix their speeds.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.results import Results
from bench.run.provenance import find_mismatch
from bench.run.schedule import Scheduler, process_canaries, process_means


def foreign_cases(results: Results, here: dict[str, Any], names: Collection[str]
                  ) -> dict[str, tuple[str, Any, Any]]:
    """Case name -> `find_mismatch` for the cases among `names` whose runs in `results` come
    from another machine or interpreter than `here` (pyperf would refuse to join them)."""
    found = {}
    for benchmark in results.benchmarks:
        if benchmark.get_name() in names:
            mismatch = find_mismatch(benchmark.get_metadata(), here)
            if mismatch is not None:
                found[benchmark.get_name()] = mismatch
    return found


def describe_foreign(foreign: dict[str, tuple[str, Any, Any]], option: str) -> str:
    """One line: how many cases were run elsewhere, where, and that they stay as they are.

    >>> print(describe_foreign({"a": ("hostname", "ci-1", "ci-2")}, "--resume"))
    --resume: 1 cases were run on host 'ci-1' (this is 'ci-2'); kept as they are, not topped up here
    """
    groups: dict[str, int] = {}
    for key, there, here in foreign.values():
        where = (f"on host {there!r} (this is {here!r})" if key == "hostname" else
                 f"with another {key.replace('_', ' ')} ({there!r} there, {here!r} here)")
        groups[where] = groups.get(where, 0) + 1
    where = (next(iter(groups)) if len(groups) == 1 else
             "elsewhere: " + ", ".join(f"{count} {where}" for where, count in groups.items()))
    return f"{option}: {len(foreign)} cases were run {where}; kept as they are, not topped up here"


def count_processes(results: Results) -> dict[str, int]:
    """Case name -> worker processes with values in `results`."""
    return {b.get_name(): sum(1 for run in b.get_runs() if run.values) for b in results.benchmarks}


def finished_cases(results: Results) -> set[str]:
    """The cases a count run need not run again: counted or failed."""
    return {b.get_name() for b in results.benchmarks} | set(results.failures)


@dataclass
class ResumedScheduler(Scheduler):
    """A Scheduler whose passes skip the processes each case already has (`done`)."""

    done: dict[str, int] = field(default_factory=dict)

    def order(self, clock: Callable[[], float]) -> Iterator[str]:
        skip = dict(self.done)
        for name in super().order(clock):
            if skip.get(name, 0) > 0:
                skip[name] -= 1
                continue
            yield name

    def planned(self) -> int:
        """Processes the passes still plan: each case's passes less those it has."""
        return sum(max(0, self.passes - self.done.get(name, 0))
                   for name, track in self.tracks.items() if not track.failed)


def narrow_schedule(plan: Scheduler, cases: list[str], results: Results | None = None
                    ) -> Scheduler:
    """`plan` for `cases` only (one shard, or what a resumed run has left), continued from
    `results` when given: their processes counted as done, their means and durations known
    to the adaptive phase, their failed cases left out."""
    if cases == plan.cases and results is None:
        return plan
    if results is None:
        return Scheduler(cases, plan.passes, plan.target, plan.budget, plan.max_processes)
    resumed = ResumedScheduler(cases, plan.passes, plan.target, plan.budget, plan.max_processes,
                               done=count_processes(results))
    for benchmark in results.benchmarks:
        track = resumed.tracks.get(benchmark.get_name())
        if track is not None:
            track.means.extend(process_means(benchmark))
            track.canaries.extend(process_canaries(benchmark))
            track.seconds.extend(run.get_metadata().get("duration", 0.0)
                                 for run in benchmark.get_runs() if run.values)
    for name in results.failures:
        if name in resumed.tracks:
            resumed.tracks[name].failed = True
    return resumed
