"""Shards: a deterministic, cost-balanced part K of N of a run's cases (`bench run --shard K/N`).

Every machine of a CI matrix computes the same split from the same case list, so the N
parts are disjoint and cover the selection. Cases are dealt greedily, costliest first, each
to the shard with the least cost so far (longest processing time first; ties by name and by
the lowest shard), which keeps the slowest shard close to the mean.

A case's cost is, in order of preference, what an earlier results file records (the summed
pyperf `duration` of its runs plus a process start per run), or an estimate from the case:
worker processes x (start + build) + values x max(min time, one call), where
one call and the build are guessed from the input's estimated bytes. Estimates for cases the
earlier file lacks are scaled by the file's median recorded / estimated ratio, so a `quick`
run's costs balance a `full` run too.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.errors import InputError
from bench.run.cases import Case
from bench.subjects.serializers import SERIALIZERS
from bench.subjects.shapes import SHAPES, estimate_nbytes

if TYPE_CHECKING:
    import pyperf

PROCESS_START = 0.15          # seconds: a worker process before it times anything, with slack
SECONDS_PER_BYTE = 1e-9       # one call of a C serializer per byte of input, roughly
BUILD_SECONDS_PER_BYTE = 20e-9  # building a seeded input, per byte of it
FOLD_CALL = 0.01              # seconds: the slowest fold call of the profiles (concat of 10,000)
SHIP_CALL = 0.05              # seconds: one ship case's call (a pool, socket or cluster round trip), a guess
PYPERF_DEFAULTS = {"processes": 20, "values": 3, "warmups": 1, "min_time": 0.1}
FLAGS = {"-p": "processes", "--processes": "processes", "-n": "values", "--values": "values",
         "-w": "warmups", "--warmups": "warmups", "--min-time": "min_time"}


@dataclass(frozen=True)
class Shard:
    """Part `index` (1-based) of `count`."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """`K/N` with 1 <= K <= N; InputError otherwise.

    >>> parse_shard("2/8")
    Shard(index=2, count=8)
    """
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise InputError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. 2/8")
    return Shard(int(index), int(count))


def read_settings(pyperf_settings: Sequence[str]) -> dict[str, float]:
    """Processes, values, warmups and min time from pyperf flags (the last one given wins).

    >>> read_settings(["--processes", "4", "--min-time", "0.005", "-p", "6"])["processes"]
    6.0
    """
    settings = {key: float(value) for key, value in PYPERF_DEFAULTS.items()}
    for flag, value in zip(pyperf_settings, pyperf_settings[1:]):
        if flag in FLAGS:
            try:
                settings[FLAGS[flag]] = float(value)
            except ValueError:
                continue
    return settings


def estimate_call(case: Case) -> tuple[float, float]:
    """(seconds of one call, seconds to build the input) guessed from the input's size."""
    if case.suite == "fold":
        return FOLD_CALL * case.size / 10_000, BUILD_SECONDS_PER_BYTE * 100 * case.size
    if case.suite == "ref":
        nbytes = case.size
    else:
        nbytes = estimate_nbytes(case.shape, case.size) if case.shape in SHAPES else 0
    entry = SERIALIZERS.get(case.subject) if case.suite == "ser" else None
    per_byte = entry.seconds_per_byte if entry and case.op.startswith("dumps") else SECONDS_PER_BYTE
    fixed = SHIP_CALL if case.suite == "ship" else 0.0
    return fixed + nbytes * per_byte, nbytes * BUILD_SECONDS_PER_BYTE


def estimate_cost(case: Case, settings: Mapping[str, float]) -> float:
    """Estimated wall seconds of one case under pyperf `settings` (see `read_settings`)."""
    call, build = estimate_call(case)
    processes = settings["processes"]
    timed = processes * (settings["values"] + settings["warmups"]) * max(settings["min_time"], call)
    return processes * (PROCESS_START + build) + timed + 2 * settings["min_time"]  # + calibration


def recorded_costs(benchmarks: Sequence[pyperf.Benchmark]) -> dict[str, float]:
    """Case name -> recorded seconds: the summed pyperf `duration` of its runs plus a start each."""
    costs = {}
    for benchmark in benchmarks:
        runs = benchmark.get_runs()
        seconds = sum(run.get_metadata().get("duration", 0.0) for run in runs)
        costs[benchmark.get_name()] = seconds + PROCESS_START * len(runs)
    return costs


def case_costs(cases: Sequence[Case], pyperf_settings: Sequence[str],
               recorded: Mapping[str, float] | None = None) -> dict[str, float]:
    """Each case's cost: recorded when known, else estimated (scaled to the recorded ones)."""
    settings = read_settings(pyperf_settings)
    estimates = {case.name: estimate_cost(case, settings) for case in cases}
    recorded = recorded or {}
    ratios = [recorded[name] / estimates[name] for name in estimates
              if recorded.get(name, 0) > 0]
    scale = statistics.median(ratios) if ratios else 1.0
    return {name: recorded[name] if recorded.get(name, 0) > 0 else estimate * scale
            for name, estimate in estimates.items()}


def split_cases(cases: Sequence[Case], count: int, costs: Mapping[str, float]) -> list[list[Case]]:
    """The cases dealt into `count` shards of near-equal cost, each in the cases' own order."""
    order = {case.name: i for i, case in enumerate(cases)}
    loads = [(0.0, shard) for shard in range(count)]
    members: list[list[Case]] = [[] for _ in range(count)]
    for case in sorted(cases, key=lambda c: (-costs[c.name], c.name)):
        load, shard = heapq.heappop(loads)
        members[shard].append(case)
        heapq.heappush(loads, (load + costs[case.name], shard))
    return [sorted(part, key=lambda c: order[c.name]) for part in members]


def select_shard(cases: Sequence[Case], shard: Shard, costs: Mapping[str, float]) -> list[Case]:
    """The cases of part `shard`; InputError when it would be empty."""
    if shard.count > len(cases):
        raise InputError(f"--shard {shard}: only {len(cases)} case(s) selected, fewer than "
                         f"{shard.count} shards")
    return split_cases(cases, shard.count, costs)[shard.index - 1]


def shard_imbalance(parts: Sequence[Sequence[Case]], costs: Mapping[str, float]) -> float:
    """The slowest shard's cost over the mean shard cost (1.0 is perfect balance)."""
    totals = [sum(costs[case.name] for case in part) for part in parts]
    return max(totals) / statistics.fmean(totals)
