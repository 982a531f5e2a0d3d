"""Joining the shards of one run (`bench run --shard K/N`) into one results file.

The parts must be of one run: every part has a `bench_setup` and all agree on profile,
metric, pyperf settings, Python and library versions (bench.run.provenance), and on the host
unless mixed machines are allowed; no case may be in two parts, and shards must be of the
same N, each K once. The merged file lists the cases in the profile's order, as one run
of the whole selection would, and is an ordinary results file (`pyperf stats` reads it).
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.errors import InputError
from bench.results import Results
from bench.run.provenance import check_same_setup, run_part


def merge_results(parts: Sequence[Results], path: str, allow_mixed_machines: bool = False
                  ) -> Results:
    """One Results of every part's cases and failures; InputError when they are not one run."""
    if not parts:
        raise InputError("bench merge: no results files given")
    first = parts[0]
    for part in parts:
        if not part.setup:
            raise InputError(f"{part.path}: has no bench_setup (not written by bench run), "
                             "so it cannot be checked against the other parts")
        check_same_setup(first.setup, part.setup, part.path, hosts=not allow_mixed_machines)
    check_shards(parts)
    merged = Results(path=path, setup=merged_setup(parts))
    owner: dict[str, str] = {}
    for part in parts:
        for name in [b.get_name() for b in part.benchmarks] + list(part.failures):
            if name in owner:
                raise InputError(f"{part.path}: case {name!r} is also in {owner[name]} "
                                 "(parts of one run never share a case)")
            owner[name] = part.path
        merged.benchmarks.extend(part.benchmarks)
        merged.failures.update(part.failures)
        merged.profiles.update(part.profiles)
    order_cases(merged)
    return merged


def check_shards(parts: Sequence[Results]) -> None:
    """InputError when shards of different N, or one shard twice, are given."""
    seen: dict[str, str] = {}
    counts = set()
    for part in parts:
        shard = str(part.setup.get("shard", ""))
        if not shard:
            continue
        counts.add(shard.split("/")[-1])
        if shard in seen:
            raise InputError(f"{part.path}: shard {shard} is also {seen[shard]}")
        seen[shard] = part.path
    if len(counts) > 1:
        raise InputError(f"bench merge: shards of different splits ({', '.join(sorted(seen))})")


def missing_shards(parts: Sequence[Results]) -> list[str]:
    """The shards K/N of the parts' split that were not given (empty when none is missing).

    >>> missing_shards([Results(setup={"shard": "1/3"}), Results(setup={"shard": "3/3"})])
    ['2/3']
    """
    shards = {str(p.setup["shard"]) for p in parts if p.setup.get("shard")}
    if not shards:
        return []
    count = int(next(iter(shards)).split("/")[1])
    return [f"{k}/{count}" for k in range(1, count + 1) if f"{k}/{count}" not in shards]


def merged_setup(parts: Sequence[Results]) -> dict:
    """The parts' common setup, with the hosts and the commit when all parts agree on it."""
    setup = run_part(parts[0].setup)
    hosts = sorted({str(p.setup.get("hostname", "")) for p in parts})
    setup["hostname"] = ",".join(hosts)
    for key in ("commit", "commit_date"):
        values = {p.setup.get(key) for p in parts}
        if len(values) == 1 and None not in values:
            setup[key] = values.pop()
    return setup


def order_cases(results: Results) -> None:
    """Put the benchmarks in their profile's run order (names the profile lacks go last)."""
    from bench.run.cases import PROFILES

    profile = PROFILES.get(str(results.setup.get("profile", "")))
    if profile is None:
        return
    rank = {case.name: i for i, case in enumerate(profile.list_cases())}
    results.benchmarks.sort(key=lambda b: rank.get(b.get_name(), len(rank)))
