"""bench.run.shards: a deterministic, cost-balanced split of a run's cases."""

from __future__ import annotations

import random

import pyperf
import pytest

import bench.run.shards
from bench.errors import InputError
from bench.run.cases import get_profile
from bench.run.shards import (
    Shard,
    case_costs,
    estimate_cost,
    parse_shard,
    read_settings,
    recorded_costs,
    select_shard,
    shard_imbalance,
    split_cases,
)


@pytest.fixture(scope="module")
def full_cases():
    return get_profile("full").list_cases()


@pytest.mark.parametrize("text", ["0/8", "9/8", "1/0", "a/b", "3", "1/2/3", "-1/2", ""])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(InputError, match="--shard"):
        parse_shard(text)


@pytest.mark.slow
def test_shards_are_disjoint_cover_everything_and_keep_the_run_order(full_cases) -> None:
    costs = case_costs(full_cases, get_profile("full").pyperf_settings)
    parts = split_cases(full_cases, 8, costs)
    names = [case.name for part in parts for case in part]
    assert sorted(names) == sorted(case.name for case in full_cases)
    assert len(set(names)) == len(names)
    order = {case: i for i, case in enumerate(full_cases)}
    for part in parts:
        assert [order[c] for c in part] == sorted(order[c] for c in part)


@pytest.mark.slow
def test_the_split_is_the_same_whatever_order_the_cases_come_in(full_cases) -> None:
    costs = case_costs(full_cases, get_profile("full").pyperf_settings)
    shuffled = list(full_cases)
    random.Random(1).shuffle(shuffled)
    one = [{c.name for c in part} for part in split_cases(full_cases, 8, costs)]
    two = [{c.name for c in part} for part in split_cases(shuffled, 8, costs)]
    assert one == two
    assert select_shard(full_cases, Shard(3, 8), costs) == split_cases(full_cases, 8, costs)[2]


@pytest.mark.slow
def test_full_over_8_shards_is_balanced_within_15_percent(full_cases) -> None:
    """The target: the slowest of 8 shards of `full` within 15% of the mean, by the costs the
    split was made with, and when the real costs are the estimates x lognormal noise (CV ~50%)
    that the split did not know."""
    costs = case_costs(full_cases, get_profile("full").pyperf_settings)
    parts = split_cases(full_cases, 8, costs)
    assert shard_imbalance(parts, costs) < 1.01
    for seed in range(5):
        rng = random.Random(seed)
        actual = {name: cost * rng.lognormvariate(0, 0.5) for name, cost in costs.items()}
        assert shard_imbalance(parts, actual) < 1.15


def test_recorded_costs_win_and_scale_the_estimates_of_cases_they_lack(full_cases) -> None:
    settings = get_profile("full").pyperf_settings
    estimated = case_costs(full_cases[:10], settings)
    recorded = {full_cases[0].name: 3 * estimated[full_cases[0].name],
                full_cases[1].name: 3 * estimated[full_cases[1].name]}
    costs = case_costs(full_cases[:10], settings, recorded)
    assert costs[full_cases[0].name] == recorded[full_cases[0].name]
    for case in full_cases[2:10]:
        assert costs[case.name] == pytest.approx(3 * estimated[case.name])


def test_one_costly_case_gets_a_shard_to_itself() -> None:
    cases = get_profile("smoke").list_cases()[:9]
    costs = {case.name: 1.0 for case in cases}
    costs[cases[4].name] = 8.0
    parts = split_cases(cases, 2, costs)
    assert [cases[4]] in parts
    assert shard_imbalance(parts, costs) == pytest.approx(1.0)


def test_recorded_costs_sum_durations_and_a_start_per_process() -> None:
    runs = [pyperf.Run([1.0], metadata={"name": "a/b", "loops": 1, "duration": d},
                       collect_metadata=False) for d in (2.0, 3.0)]
    costs = recorded_costs([pyperf.Benchmark(runs)])
    assert costs == {"a/b": pytest.approx(5.0 + 2 * bench.run.shards.PROCESS_START)}


def test_settings_drive_the_estimate(full_cases) -> None:
    case = full_cases[0]
    few = estimate_cost(case, read_settings(["--processes", "2"]))
    many = estimate_cost(case, read_settings(["--processes", "20"]))
    assert many > 5 * few
    assert read_settings([])["processes"] == 20


def test_more_shards_than_cases_is_refused() -> None:
    cases = get_profile("smoke").list_cases()[:3]
    with pytest.raises(InputError, match="fewer than 4 shards"):
        select_shard(cases, Shard(1, 4), {c.name: 1.0 for c in cases})
