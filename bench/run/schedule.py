"""How a timed run spends its worker processes, and how noisy the machine was meanwhile.

A run is a sequence of passes. Every pass gives each case one more worker process, case
after case (round-robin), so a slow spell of the host (seconds to a minute at 1.3-2x here)
lands on many cases a little instead of on one case wholly, and the spread of a case's
processes, taken across the whole run, includes the machine's drift. After the profile's
passes, precision is spent where the noise is: while the run is within its time budget,
the cases whose 95% CI half-width is still over the target get one more process each,
widest first, up to `max_processes`.

Every process is labelled with its pass (`bench_pass`). The day's noise is measured from
the run itself (`measure_noise`): the median over cases of the spread of process means
(coefficient of variation), and one factor per pass (the median over cases of a process
mean against its case's median), which shows the slow spells. A case's half-width is its
location's (bench.location: the mean of the fastest half of its process means), so the
adaptive passes go where that is still wide.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_PROCESSES = 20       # processes a case may get in all, adaptive passes included
MIN_PASSES_FOR_CI = 2    # processes a case needs before its half-width can be judged


@dataclass
class CaseTrack:
    """What the schedule knows of one case: its process means (raw, as timed), their canaries
    (NaN: none; bench.correction corrects the means by them), their cost, its next pass."""

    means: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    failed: bool = False
    canaries: list[float] = field(default_factory=list)
    located: list[float] | None = None  # the means as the run locates them (corrected), if known

    def half_width(self, floor: float = 0.0) -> float:
        """Relative half-width of the 95% CI of the case's location (bench.location: the
        mean of the fastest half of its process means), the spread floored at `floor`."""
        from bench.location import relative_half_width

        means = self.located_means()
        if len(means) < MIN_PASSES_FOR_CI:
            return math.inf
        width = relative_half_width(means, floor)
        return math.inf if math.isnan(width) else width  # not computable: as wide as can be

    def spread(self) -> float:
        """The relative spread behind the case's location (NaN under 2 processes)."""
        from bench.location import spread_of

        return spread_of(self.located_means())

    def located_means(self) -> list[float]:
        """The process means the location uses: corrected by the canary once the schedule
        has corrected them (Scheduler.correct), else as timed."""
        if self.located is not None and len(self.located) == len(self.means):
            return self.located
        return self.means


def process_means(benchmark: Any) -> list[float]:
    """The mean of each run (worker process) of a pyperf Benchmark that has values."""
    from bench.location import average_values

    return [average_values(run.values) for run in benchmark.get_runs() if run.values]


def process_canaries(benchmark: Any) -> list[float]:
    """The canary seconds (`bench_canary`) of each run of a pyperf Benchmark that has values
    (NaN where a run has none)."""
    return [float(run.get_metadata().get("bench_canary", math.nan))
            for run in benchmark.get_runs() if run.values]


def process_shares(benchmark: Any) -> list[float]:
    """The CPU share (`bench_cpu_share`) of each run of a pyperf Benchmark that has values
    (NaN where a run has none); recorded, not corrected by (docs/measurements.md)."""
    return [float(run.get_metadata().get("bench_cpu_share", math.nan))
            for run in benchmark.get_runs() if run.values]


@dataclass
class Scheduler:
    """The plan of a run's processes: `passes` round-robin passes, then adaptive ones while
    `elapsed` < `budget` seconds for the cases over `target` (a relative half-width)."""

    cases: list[str]
    passes: int
    target: float = 0.0
    budget: float = 0.0
    max_processes: int = MAX_PROCESSES
    tracks: dict[str, CaseTrack] = field(default_factory=dict)
    started: float | None = None  # when the budget's clock started (default: the first step)

    def __post_init__(self) -> None:
        self.tracks = {name: CaseTrack() for name in self.cases}

    def record(self, name: str, benchmark: Any, seconds: float) -> None:
        """A process of `name` finished: its means (None benchmark: the case failed)."""
        track = self.tracks[name]
        if benchmark is None:
            track.failed = True
            return
        track.means.extend(process_means(benchmark))
        track.canaries.extend(process_canaries(benchmark))
        track.seconds.append(seconds)

    def order(self, clock: Callable[[], float]) -> Iterator[str]:
        """The case of each next process: every pass over every case still standing, then
        adaptive ones (widest CI first, one per case per sweep) while a process fits in the
        budget by `clock` (counted from `started`); `record` must be called between steps."""
        start = clock() if self.started is None else self.started
        for _ in range(self.passes):
            for name in self.cases:
                if not self.tracks[name].failed:
                    yield name
        while self.target and (due := self.due()):
            ran = 0
            for name in due:
                if clock() - start + self.cost(name) <= self.budget:
                    ran += 1
                    yield name
            if not ran:
                return

    def planned(self) -> int:
        """Processes planned so far: the round-robin passes of every case."""
        return self.passes * len(self.cases)

    def floor(self) -> float:
        """The run's noise floor so far (bench.location.noise_floor over the cases' spreads)."""
        from bench.location import noise_floor

        self.correct()
        return noise_floor(t.spread() for t in self.tracks.values() if not t.failed)

    def correct(self) -> Any:
        """Correct every case's process means by their canaries (bench.correction.
        correct_processes over the run so far) into their tracks; returns the Correction."""
        from bench.correction import correct_processes

        alive = [t for t in self.tracks.values() if not t.failed and t.means]
        fixed, how = correct_processes(
            [n for n, t in self.tracks.items() if not t.failed for _ in t.means],
            [m for t in alive for m in t.means],
            [c for t in alive for c in pad(t.canaries, len(t.means))])
        start = 0
        for track in alive:
            track.located = fixed[start:start + len(track.means)].tolist()
            start += len(track.means)
        return how

    def due(self) -> list[str]:
        """Cases that may get one more adaptive process, widest CI first (ties by name)."""
        floor = self.floor()
        widths = {name: t.half_width(floor) for name, t in self.tracks.items()
                  if not t.failed and len(t.means) < self.max_processes}
        open_cases = [name for name, width in widths.items() if width > self.target]
        return sorted(open_cases, key=lambda name: (-widths[name], name))

    def cost(self, name: str) -> float:
        """Seconds one more process of `name` is expected to take (its median so far)."""
        seconds = self.tracks[name].seconds
        return statistics.median(seconds) if seconds else 0.0

    def summary(self) -> dict[str, Any]:
        """How precise the run got: half-widths and why cases missed the target."""
        alive = {n: t for n, t in self.tracks.items() if not t.failed and t.means}
        floor = self.floor()
        widths = {n: t.half_width(floor) for n, t in alive.items()}
        finite = [w for w in widths.values() if math.isfinite(w)]
        over = {n: t for n, t in alive.items() if widths[n] > self.target} if self.target else {}
        never = [n for n, t in over.items() if len(t.means) >= self.max_processes]
        return {"passes": self.passes, "target_ci": self.target, "budget_seconds": self.budget,
                "median_half_width": statistics.median(finite) if finite else math.nan,
                "cases": len(alive),
                "under_target": len(alive) - len(over) if self.target else None,
                "missed_budget": len(over) - len(never), "missed_never_settles": len(never),
                "processes": sum(len(t.means) for t in alive.values()), "noise_floor": floor}


def pad(values: list[float], n: int) -> list[float]:
    """`values` cut or padded with NaN to `n` items.

    >>> pad([1.0], 2)
    [1.0, nan]
    """
    return (values + [math.nan] * n)[:n]


def measure_noise(benchmarks: Iterable[Any]) -> dict[str, Any]:
    """How noisy the machine was during a run, from its own processes.

    `process_cv`: the median over cases (with 3+ processes) of the coefficient of variation
    of their process means after the correction (bench.correction.correct_processes),
    `process_cv_raw` the same before it, `canary_corrected` the share of processes corrected
    (`process_cv_cpu_share` and `cpu_share_corrected`: the CPU share's step, which bench does
    not take: docs/measurements.md), `canary` what the correction did and
    `canary_typical` the run's typical canary (seconds); `pass_factors`: per pass, the median
    over cases of a raw process mean against its case's geometric mean of process means (1.0:
    a normal pass; 1.3: the machine was 30% slower for that whole pass).
    """
    from bench.correction import correct_processes
    from bench.location import NOISE_MIN_PROCESSES

    names: list[str] = []
    means: list[float] = []
    canaries: list[float] = []
    by_pass: dict[int, list[float]] = {}
    cases = 0
    for bench in benchmarks:
        raw = process_means(bench)
        names += [bench.get_name()] * len(raw)
        means += raw
        canaries += process_canaries(bench)
        if len(raw) < NOISE_MIN_PROCESSES:
            continue
        cases += 1
        centre = statistics.fmean(math.log(m) for m in raw)
        for run, mean in zip((run for run in bench.get_runs() if run.values), raw):
            number = run.get_metadata().get("bench_pass")
            if number is not None:
                by_pass.setdefault(int(number), []).append(math.log(mean) - centre)
    _, how = correct_processes(names, means, canaries)
    return {"process_cv": how.noise_after, "cases": cases, **how.noise(),
            "pass_factors": [round(math.exp(statistics.median(by_pass[k])), 4)
                             for k in sorted(by_pass)]}


def describe_precision(summary: dict[str, Any]) -> str:
    """What a run reached: median CI half-width, cases under target, why others missed."""
    width = summary["median_half_width"]
    line = (f"median 95% CI half-width {width:.1%}" if width == width else "no CI (one process "
            "per case)") + f" over {summary['cases']} cases, {summary['processes']} processes"
    if summary.get("noise_floor"):
        line += f" (no case's process spread taken as under {summary['noise_floor']:.1%})"
    if summary["target_ci"]:
        line += (f"; {summary['under_target']} under the {summary['target_ci']:.0%} target, "
                 f"{summary['missed_budget']} missed it for lack of budget, "
                 f"{summary['missed_never_settles']} never settled (at {MAX_PROCESSES} processes)")
    return line


def describe_noise(noise: dict[str, Any]) -> str:
    """One line for a reader: how noisy the run was, before and after its correction
    (bench.correction.correct_processes), and what differences it can resolve.

    >>> describe_noise({"process_cv": 0.09, "pass_factors": [1.0, 1.31, 0.99]})[:66]
    'per-process noise 9.0% in this run (passes 0.99-1.31x of normal): '
    >>> describe_noise({"process_cv": 0.04, "process_cv_raw": 0.2, "canary_corrected": 1.0})[:74]
    'per-process noise 4.0% after the canary correction (20.0% before) in this '
    >>> describe_noise({"process_cv": 0.2, "process_cv_raw": 0.2, "canary_typical": 1e-3,
    ...                 "canary_corrected": 0.0})[:88]
    'per-process noise 20.0% (not corrected by the canary: too few processes to learn its slo'
    >>> describe_noise({"process_cv": 0.05, "process_cv_raw": 0.2, "process_cv_cpu_share": 0.1,
    ...                 "cpu_share_corrected": 1.0, "canary_corrected": 1.0})[:100]
    'per-process noise 5.0% after taking out preempted time (20.0% before, 10.0% after that) and the cana'
    """
    cv = noise.get("process_cv")
    if cv is None:
        return "noise not measured in this run (fewer than 3 processes per case)"
    factors = noise.get("pass_factors") or []
    spread = f" (passes {min(factors):.2f}-{max(factors):.2f}x of normal)" if factors else ""
    raw, share = noise.get("process_cv_raw"), noise.get("canary_corrected") or 0.0
    by_cpu, cpu_cv = noise.get("cpu_share_corrected") or 0.0, noise.get("process_cv_cpu_share")
    if by_cpu and raw is not None and cpu_cv is not None:
        how = (f" after taking out preempted time ({raw:.1%} before, {cpu_cv:.1%} after that)"
               + (" and the canary correction" if share else ""))
        how += f", {max(share, by_cpu):.0%} of processes corrected" if max(share, by_cpu) < 0.995 else ""
    elif share and raw is not None:
        how = f" after the canary correction ({raw:.1%} before)"
        how += f", {share:.0%} of processes corrected" if share < 0.995 else ""
    elif noise.get("canary_typical"):
        how = " (not corrected by the canary: too few processes to learn its slope)"
    else:
        how = ""
    # two single runs differ by sqrt(2) x the run-to-run spread; 2 sd of that is ~2.8 cv
    return (f"per-process noise {cv:.1%}{how} in this run{spread}: differences under "
            f"~{2 * math.sqrt(2) * cv:.0%} between single runs are not reliable")
