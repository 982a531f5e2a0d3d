"""bench.gate.rule and bench.gate.estimates: verdicts on synthetic values with known answers."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.errors import InputError
from bench.frame import MIN_PROCESSES
from bench.gate import estimates, rule

DATA = Path(__file__).parent / "data" / "compare"
_spec = importlib.util.spec_from_file_location("make_fixtures", DATA / "make_fixtures.py")
assert _spec is not None and _spec.loader is not None
fixtures = sys.modules.setdefault("make_fixtures", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(fixtures)
Spec = fixtures.Spec


def make_frame(run: str, cases: dict[str, float], *, processes: int = 6, values: int = 3,
               noise: float = 0.01, seed: int = 0, shift: float = 0.0,
               rounds: int | None = None, drifts: list[float] | None = None,
               unit: str = "second") -> pd.DataFrame:
    """A tidy frame (bench.frame's columns that compare uses) of one synthetic run."""
    rng = np.random.default_rng(seed)
    rows = []
    for case, mean in cases.items():
        for process in range(processes):
            round_ = process * rounds // processes if rounds else None
            drift = drifts[round_] if drifts and round_ is not None else 0.0
            level = math.log(mean) + shift + drift + rng.normal(0, noise)
            for value in np.exp(level + rng.normal(0, noise / 4, values)):
                rows.append({"run": run, "file": f"{run}.json", "benchmark": case, "unit": unit,
                             "process": process, "value": float(value), "round": round_})
    frame = pd.DataFrame(rows)
    frame["round"] = frame["round"].astype("Int64")
    return frame


def cases_of(n: int, prefix: str = "ser/pickle-5/dumps/ints") -> dict[str, float]:
    """n case names with means from 1 µs to n µs."""
    return {f"{prefix}/{i}": (i + 1) * 1e-6 for i in range(n)}


def verdicts(cmp: rule.Comparison) -> dict[str, str]:
    """Case -> verdict."""
    return dict(zip(cmp.cases["benchmark"], cmp.cases["verdict"], strict=True))


# ---------------------------------------------------------------- known answers

def test_identical_distributions_are_same() -> None:
    base = make_frame("base", cases_of(5), seed=1)
    head = make_frame("head", cases_of(5), seed=2)
    cmp = rule.compare_runs(base, head)
    assert cmp.threshold == rule.DEFAULT_THRESHOLD
    assert set(verdicts(cmp).values()) == {"same"}
    assert cmp.counts()["slower"] == 0
    assert cmp.geomean.ci_low < 1 < cmp.geomean.ci_high


def test_twenty_percent_shift_with_tight_noise_is_slower() -> None:
    cases = cases_of(4)
    slowed = next(iter(cases))
    head_cases = {**cases, slowed: cases[slowed] * 1.2}
    cmp = rule.compare_runs(make_frame("b", cases, seed=1), make_frame("h", head_cases, seed=2))
    found = verdicts(cmp)
    assert found.pop(slowed) == "slower"
    assert set(found.values()) == {"same"}
    row = cmp.cases.iloc[0]
    assert row["benchmark"] == slowed  # slowest first
    assert row["ci_low"] < 1.2 < row["ci_high"] and row["ci_low"] > 1.05
    assert cmp.counts()["slower"] == 1


def test_faster_is_reported_and_does_not_fail() -> None:
    cases = cases_of(3)
    case = next(iter(cases))
    cmp = rule.compare_runs(make_frame("b", cases, seed=1),
                               make_frame("h", {**cases, case: cases[case] / 1.3}, seed=2))
    assert verdicts(cmp)[case] == "faster"
    assert cmp.counts()["slower"] == 0


def test_very_noisy_shift_is_uncertain_not_slower() -> None:
    cases = cases_of(3)
    case = next(iter(cases))
    base = make_frame("b", cases, seed=1, noise=0.4, processes=4)
    head = make_frame("h", {**cases, case: cases[case] * 1.2}, seed=2, noise=0.4, processes=4)
    assert set(verdicts(rule.compare_runs(base, head)).values()) == {"uncertain"}


def test_one_process_inputs_are_uncertain() -> None:
    cases = cases_of(2)
    base = make_frame("b", cases, processes=1)
    head = make_frame("h", {k: v * 1.5 for k, v in cases.items()}, processes=1, seed=3)
    cmp = rule.compare_runs(base, head)
    assert set(verdicts(cmp).values()) == {"uncertain"}
    assert cmp.cases["ratio"].between(1.4, 1.6).all()  # the estimate is still shown
    assert cmp.cases["reason"].str.contains(f"fewer than {MIN_PROCESSES} processes").all()
    assert cmp.counts()["slower"] == 0


def test_change_below_threshold_is_same_even_if_significant() -> None:
    cases = cases_of(3)
    case = next(iter(cases))
    base = make_frame("b", cases, seed=1, noise=0.002)
    head = make_frame("h", {**cases, case: cases[case] * 1.03}, seed=2, noise=0.002)
    cmp = rule.compare_runs(base, head)
    row = cmp.cases.set_index("benchmark").loc[case]
    assert row["p_adjusted"] < 0.001
    assert row["verdict"] == "same"
    assert verdicts(rule.compare_runs(base, head, threshold=0.02))[case] == "slower"


def test_missing_and_new_cases() -> None:
    base = make_frame("b", {"a/x": 1e-6, "a/gone": 2e-6})
    head = make_frame("h", {"a/x": 1e-6, "a/added": 3e-6}, seed=1)
    cmp = rule.compare_runs(base, head)
    assert verdicts(cmp) == {"a/x": "same", "a/gone": "missing", "a/added": "new"}
    rows = cmp.cases.set_index("benchmark")
    assert math.isnan(rows.loc["a/gone", "ratio"]) and rows.loc["a/gone", "n_base"] == 6
    assert rows.loc["a/added", "n_head"] == 6
    assert list(cmp.cases["benchmark"])[-2:] == ["a/added", "a/gone"]  # no ratio: last, by name


def test_no_case_in_common_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no case in common"):
        rule.compare_runs(make_frame("b", {"a/x": 1e-6}), make_frame("h", {"a/y": 1e-6}))


def test_different_units_are_an_input_error() -> None:
    base = make_frame("b", {"a/x": 1e-6})
    head = make_frame("h", {"a/x": 1e-6}, unit="byte")
    with pytest.raises(InputError, match="a/x: unit 'second' in base but 'byte' in head"):
        rule.compare_runs(base, head)


def test_many_identical_cases_raise_no_false_alarm() -> None:
    """Multiple comparisons: 200 A/A cases of seeded noise give no `slower`, in every mode."""
    cases = cases_of(200)
    base = make_frame("b", cases, seed=1, noise=0.02)
    head = make_frame("h", cases, seed=2, noise=0.02)
    within = rule.compare_runs(base, head)
    assert within.mode == "within" and within.counts()["slower"] == 0
    bases = pd.concat([make_frame(f"b{i}", cases, seed=10 + i, noise=0.02,
                                  shift=float(np.random.default_rng(i).normal(0, 0.01)))
                       for i in range(3)])
    runs = rule.compare_runs(bases, head)
    assert runs.mode == "runs" and runs.counts()["slower"] == 0
    # without the correction some of the 200 raw p-values would pass 5%
    assert (within.cases["p_value"] < 0.05).sum() > 0


def test_several_base_runs_learn_run_to_run_variation() -> None:
    """Runs move +-6% while processes agree to 0.5%: one base run sees the whole head run
    shifted and says so, three base runs learn the variation; neither cries wolf."""
    cases = cases_of(12)
    shifts = [0.0, 0.06, -0.05]
    bases = [make_frame(f"b{i}", cases, seed=i, noise=0.005, shift=s)
             for i, s in enumerate(shifts)]
    head = make_frame("h", cases, seed=9, noise=0.005, shift=0.07)
    one = rule.compare_runs(bases[0], head)
    assert one.counts()["slower"] == 0
    assert any("all cases moved together by 1.07x slower" in note for note in one.notes)
    three = rule.compare_runs(pd.concat(bases), head)
    assert three.mode == "runs" and three.counts()["slower"] == 0
    assert three.base_runs == ("b0", "b1", "b2")


def test_machine_wide_run_shift_is_not_read_as_many_regressions() -> None:
    """Every case moves with its run: 3 base runs cannot tell a 4% head shift from drift.

    Shrinking each case's variance toward the others' would count the same 3 run shifts
    60 times; the shared effect keeps the df of the runs.
    """
    cases = cases_of(60)
    bases = pd.concat([make_frame(f"b{i}", cases, seed=i, noise=0.005, shift=s)
                       for i, s in enumerate([0.0, 0.012, -0.01])])
    head = make_frame("h", cases, seed=9, noise=0.005, shift=0.045)
    cmp = rule.compare_runs(bases, head, threshold=0.02)
    assert cmp.counts()["slower"] == 0
    assert cmp.pooling.shared_df == 2
    assert math.sqrt(cmp.pooling.shared_var) == pytest.approx(0.011, abs=0.004)
    assert any("shared by all cases" in note for note in cmp.notes)
    assert cmp.geomean.ci_low < 1.0 < cmp.geomean.ci_high
    one_base = rule.compare_runs(bases[bases["run"] == "b0"], head, threshold=0.02)
    assert one_base.counts()["slower"] == 0
    assert math.exp(one_base.pooling.run_shift) == pytest.approx(1.046, abs=0.005)
    assert one_base.geomean.ratio == pytest.approx(1.046, abs=0.005)


def test_runs_mode_still_catches_a_large_slowdown() -> None:
    cases = cases_of(12)
    case = next(iter(cases))
    bases = pd.concat([make_frame(f"b{i}", cases, seed=i, noise=0.01, shift=s)
                       for i, s in enumerate([0.0, 0.01, -0.01, 0.005])])
    head = make_frame("h", {**cases, case: cases[case] * 1.3}, seed=9, noise=0.01)
    cmp = rule.compare_runs(bases, head)
    assert verdicts(cmp)[case] == "slower"
    assert cmp.counts()["slower"] == 1


def test_interleaved_rounds_are_paired() -> None:
    """Drift per round hits both sides: pairing by round sees a 6% slowdown through 8% drift."""
    cases = cases_of(10)
    case = next(iter(cases))
    drifts = [0.0, 0.08, -0.06, 0.04]
    a = make_frame("a", cases, seed=1, noise=0.004, processes=8, rounds=4, drifts=drifts)
    b = make_frame("b", {**cases, case: cases[case] * 1.06}, seed=2, noise=0.004, processes=8,
                   rounds=4, drifts=drifts)
    paired = rule.compare_runs(a, b)
    assert paired.mode == "paired"
    found = verdicts(paired)
    assert found.pop(case) == "slower"
    assert set(found.values()) == {"same"}
    assert rule.compare_runs(a, b, paired=False).mode == "within"
    with pytest.raises(InputError, match="round"):
        rule.compare_runs(make_frame("x", cases), b, paired=True)


def test_one_process_per_round_is_paired_and_moderated() -> None:
    """bench ab's default: one process per side and round, no process floor. The round
    differences' variances are shrunk toward all cases' (prior df > 0); a 6% slowdown of one
    case among 40 is caught, the 39 unchanged cases stay quiet."""
    cases = cases_of(40)
    case = next(iter(cases))
    drifts = [0.0, 0.05, -0.04, 0.03, -0.02, 0.06, 0.01, -0.05]
    a = make_frame("a", cases, seed=1, noise=0.006, processes=8, rounds=8, drifts=drifts)
    b = make_frame("b", {**cases, case: cases[case] * 1.06}, seed=2, noise=0.006, processes=8,
                   rounds=8, drifts=drifts)
    cmp = rule.compare_runs(a, b)
    assert cmp.mode == "paired" and cmp.pooling.prior_df > 0
    found = verdicts(cmp)
    assert found.pop(case) == "slower"
    assert "slower" not in found.values()
    assert cmp.cases.set_index("benchmark").loc[case, "df"] > 7  # 7 of its own + the prior's


def test_rounds_pair_only_one_run_per_side() -> None:
    cases = cases_of(3)
    runs = [make_frame(name, cases, seed=i, rounds=2) for i, name in enumerate("abc")]
    assert rule.compare_runs(pd.concat(runs[:2]), runs[2]).mode == "runs"
    with pytest.raises(InputError, match="one interleaved A/B run per side"):
        rule.compare_runs(pd.concat(runs[:2]), runs[2], paired=True)


def test_geometric_mean_of_a_uniform_slowdown() -> None:
    cases = cases_of(8)
    cmp = rule.compare_runs(make_frame("b", cases, seed=1),
                               make_frame("h", {k: v * 1.1 for k, v in cases.items()}, seed=2))
    assert cmp.geomean.cases == 8
    assert cmp.geomean.ci_low < 1.1 < cmp.geomean.ci_high
    assert cmp.geomean.ci_high - cmp.geomean.ci_low < 0.02


# ---------------------------------------------------------------- statistical pieces

def test_location_drops_the_slow_half_and_its_variance_is_calibrated() -> None:
    """The fastest half's mean ignores slow processes, and its variance matches the spread of
    the estimate over many samples (normal and skewed noise, 4 to 20 processes)."""
    assert estimates.locate(np.array([1.0, 1.1, 0.9, 5.0, 9.0, 7.0]))[0] == pytest.approx(1.0)
    rng = np.random.default_rng(5)
    for n in (4, 10, 20):
        for draw in (lambda size: rng.normal(0, 1, size), lambda size: rng.gamma(2, 1, size)):
            found = [estimates.locate(draw(n)) for _ in range(4000)]
            locations, variances = np.array([f[0] for f in found]), np.array([f[1] for f in found])
            assert np.mean(variances) == pytest.approx(locations.var(), rel=0.25)


def test_a_spell_over_half_of_a_cases_processes_is_not_a_regression() -> None:
    """Back-to-back processes of a plain pyperf suite: a slow spell of the host takes over
    half of one case's processes in the head run; the case is not slower, while a lone 20%
    slowdown of another case, every process alike, is."""
    cases = cases_of(12)
    base = make_frame("b", cases, processes=10, seed=1)
    head = make_frame("h", cases, processes=10, seed=2)
    spelled, slowed = "ser/pickle-5/dumps/ints/3", "ser/pickle-5/dumps/ints/7"
    spell = (head["benchmark"] == spelled) & (head["process"] >= 4)
    head.loc[spell, "value"] *= 1.45
    head.loc[head["benchmark"] == slowed, "value"] *= 1.2
    found = verdicts(rule.compare_runs(base, head))
    assert found[slowed] == "slower"
    assert found[spelled] != "slower"


def test_variance_prior_recovers_a_common_variance() -> None:
    rng = np.random.default_rng(3)
    df = np.full(400, 3.0)
    s2 = 0.02**2 * rng.chisquare(3, 400) / 3
    s0, d0 = estimates.fit_variance_prior(s2, df)
    assert s0 == pytest.approx(0.02**2, rel=0.15)
    assert d0 == estimates.MAX_PRIOR_DF  # no spread beyond chi-square noise: capped trust
    wild = s2 * np.exp(rng.normal(0, 2, 400))
    assert estimates.fit_variance_prior(wild, df)[1] < 3


def test_variance_prior_discounts_the_noise_of_the_floor() -> None:
    """A ratio over an estimated floor is noisier than chi-square; that is not heterogeneity."""
    rng = np.random.default_rng(4)
    ratio = (rng.chisquare(2, 500) / 2) / (rng.chisquare(6, 500) / 6)
    df, floor_df = np.full(500, 2.0), np.full(500, 6.0)
    assert estimates.fit_variance_prior(ratio, df)[1] < 10
    assert estimates.fit_variance_prior(ratio, df, floor_df)[1] > 20


def test_too_few_cases_are_not_moderated() -> None:
    s2, df, prior = estimates.moderate_variances(np.array([1.0, 2.0]), np.array([2.0, 2.0]))
    assert prior == 0 and s2.tolist() == [1.0, 2.0]


def test_classify_needs_significance_and_the_threshold() -> None:
    ratio = np.array([1.10, 1.10, 0.90, 1.00, 1.00, 1.04, 1.03, 0.96])
    low = np.array([1.05, 0.95, 0.85, 0.99, 0.90, 1.01, 1.01, 0.93])
    high = np.array([1.15, 1.25, 0.95, 1.01, 1.10, 1.07, 1.04, 0.99])
    p_adjusted = np.array([0.001, 0.20, 0.001, 0.60, np.nan, 0.001, 0.001, 0.001])
    assert rule.classify(ratio, low, high, p_adjusted, 0.05).tolist() == [
        "slower", "uncertain", "faster", "same", "uncertain", "slower", "same", "faster"]


def test_a_threshold_sized_slowdown_is_caught_more_than_half_the_time() -> None:
    """The CI, not the point estimate, must reach the threshold: a point-estimate rule
    catches an exactly-5% slowdown in ~50% of seeds however precise the measurement."""
    cases = cases_of(20)
    case = next(iter(cases))
    caught = []
    for seed in range(20):
        base = make_frame("b", cases, seed=100 + seed, noise=0.004)
        head = make_frame("h", {**cases, case: cases[case] * 1.05}, seed=200 + seed,
                          noise=0.004)
        cmp = rule.compare_runs(base, head)
        caught.append(verdicts(cmp)[case] == "slower")
        assert cmp.counts()["slower"] <= 1
    assert sum(caught) >= 17


# ---------------------------------------------------------------- counts (instructions)

def count_frame(run: str, n: int, scale: float = 1.0, jitter: float = 0.0) -> pd.DataFrame:
    """A run of n cases of exact instruction counts (pyperf unit "integer"), 3 values each."""
    frame = make_frame(run, {f"ser/pickle-5/dumps/ints/{i}": 1e5 * (i + 1) for i in range(n)},
                       processes=3, values=1, noise=jitter, unit="integer")
    frame["value"] = frame["value"].round() * scale
    return frame


def test_counts_use_the_count_threshold_and_say_what_one_run_cannot_show() -> None:
    base, head = count_frame("base", 40), count_frame("head", 40)
    cmp = rule.compare_runs(base, head)
    assert cmp.threshold == rule.COUNT_THRESHOLD < rule.DEFAULT_THRESHOLD
    assert set(verdicts(cmp).values()) == {"same"}
    assert any(note.startswith("counts, not times") for note in cmp.notes)
    assert not any("run-to-run variation" in note for note in cmp.notes)


@pytest.mark.parametrize("jitter", [0.0, 1e-4])
def test_counts_scaled_by_two_percent_are_all_slower(jitter: float) -> None:
    base, head = count_frame("base", 40, jitter=jitter), count_frame("head", 40, 1.02, jitter)
    assert set(verdicts(rule.compare_runs(base, head)).values()) == {"slower"}
    assert set(verdicts(rule.compare_runs(base, head, threshold=0.05)).values()) == {"same"}


def test_times_keep_the_time_threshold() -> None:
    assert rule.default_threshold(make_frame("base", cases_of(3))) == rule.DEFAULT_THRESHOLD
    mixed = pd.concat([make_frame("a", cases_of(3)), count_frame("b", 3)])
    assert rule.default_threshold(mixed) == rule.DEFAULT_THRESHOLD
