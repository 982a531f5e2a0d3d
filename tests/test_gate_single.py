"""bench.gate.shift: one base run against one head run, on synthetic runs with known answers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from test_gate_rule import cases_of, make_frame, verdicts

from bench.gate import rule, sensitivity, shift
from bench.text import format_ratio


def noisy_run(run: str, rng: np.random.Generator, *, n_cases: int = 30, case_cv: float = 0.05,
              within: float = 0.03, run_shift: float = 0.0,
              slowed: dict[str, float] | None = None) -> pd.DataFrame:
    """One run: every case moved by its own run-to-run effect (sd case_cv), all cases by
    run_shift (log), processes spread by `within`; `slowed` multiplies chosen cases."""
    cases = {case: mean * math.exp(rng.normal(0, case_cv)) * (slowed or {}).get(case, 1.0)
             for case, mean in cases_of(n_cases).items()}
    return make_frame(run, cases, processes=10, values=2, noise=within, shift=run_shift,
                      seed=int(rng.integers(1 << 31)))


def test_a_whole_run_shift_is_not_thirty_regressions() -> None:
    """Head 10% slower in every case (the machine): no `slower`, and the notes say so."""
    rng = np.random.default_rng(1)
    base = noisy_run("base", rng, case_cv=0.02)
    head = noisy_run("head", rng, case_cv=0.02, run_shift=math.log(1.10))
    cmp = rule.compare_runs(base, head)
    assert cmp.mode == "within"
    assert cmp.counts()["slower"] == 0
    assert math.exp(cmp.pooling.run_shift) == pytest.approx(1.10, abs=0.015)
    assert cmp.geomean.ratio == pytest.approx(1.10, abs=0.015)
    moved = f"all cases moved together by {format_ratio(math.exp(cmp.pooling.run_shift))}"
    assert any(moved in note and "the machine or a global change" in note for note in cmp.notes)
    # the floor is the per-case run-to-run spread of d, 2% per run on each side (over a few
    # seeds: one comparison of 30 cases learns it with ~10 df)
    floors = [math.sqrt(rule.compare_runs(noisy_run("b", r, case_cv=0.02),
                                          noisy_run("h", r, case_cv=0.02)).pooling.run_floor_var)
              for r in map(np.random.default_rng, range(10, 20))]
    assert float(np.median(floors)) == pytest.approx(0.02 * math.sqrt(2), rel=0.3)


@pytest.mark.parametrize("run_shift", [0.0, math.log(1.08)])
def test_a_lone_twenty_percent_slowdown_is_still_slower(run_shift: float) -> None:
    rng = np.random.default_rng(2)
    lone = next(iter(cases_of(30)))
    base = noisy_run("base", rng, case_cv=0.01, within=0.01)
    head = noisy_run("head", rng, case_cv=0.01, within=0.01, run_shift=run_shift,
                     slowed={lone: 1.2})
    cmp = rule.compare_runs(base, head)
    found = verdicts(cmp)
    assert found.pop(lone) == "slower"
    assert "slower" not in found.values()
    assert cmp.cases.iloc[0]["ratio"] == pytest.approx(1.2, abs=0.04)  # net of the shift


def test_single_runs_of_unchanged_code_rarely_cry_wolf() -> None:
    """A/A: 6 runs (per-case run-to-run CV 5%, within-run CV 3%), all 15 pairs, 30 cases:
    at most 2% of the case comparisons `slower`, and the floor learned is the spread of d."""
    rng = np.random.default_rng(3)
    runs = [noisy_run(f"aa-{i}", rng, run_shift=float(rng.normal(0, 0.03))) for i in range(6)]
    slower = tested = 0
    floors = []
    for base, head in itertools.combinations(runs, 2):
        cmp = rule.compare_runs(base, head)
        slower += cmp.counts()["slower"]
        tested += len(cmp.cases)
        floors.append(math.sqrt(cmp.pooling.run_floor_var))
    assert tested == 15 * 30
    assert slower / tested <= 0.02
    assert float(np.median(floors)) == pytest.approx(0.05 * math.sqrt(2), rel=0.3)


def test_too_few_cases_keep_the_within_run_note() -> None:
    rng = np.random.default_rng(4)
    base, head = (noisy_run(name, rng, n_cases=shift.MIN_SHIFT_CASES - 1) for name in "bh")
    cmp = rule.compare_runs(base, head)
    assert cmp.pooling.run_shift == 0.0 and math.isinf(cmp.pooling.run_floor_df)
    assert any("not accounted for" in note for note in cmp.notes)


def test_the_shift_ignores_the_cases_that_changed() -> None:
    """12 of 40 cases 30% slower, the rest moved 5% together: the shift is the 5%."""
    rng = np.random.default_rng(5)
    d = math.log(1.05) + rng.normal(0, 0.01, 40)
    d[:12] += math.log(1.3)
    found = shift.estimate_shift(d, np.full(40, 0.01**2))
    assert found is not None and found.cases == 40
    assert math.exp(found.shift) == pytest.approx(1.05, abs=0.01)
    assert math.sqrt(found.floor_var) < 0.02
    assert found.df == pytest.approx(shift.MAD_EFFICIENCY * 39)


def test_the_floor_is_zero_when_processes_explain_the_spread() -> None:
    rng = np.random.default_rng(6)
    found = shift.estimate_shift(rng.normal(0, 0.02, 50), np.full(50, 0.03**2))
    assert found is not None and found.floor_var == 0.0


def test_sensitivity_checks_the_single_run_target() -> None:
    """Runs that move 5% as a whole but only 1% per case: one base run against one head run
    keeps A/A quiet and catches 10% slowdowns that asv's 1.1 factor halves."""
    rng = np.random.default_rng(7)
    runs = [noisy_run(f"aa-{i}", rng, n_cases=20, case_cv=0.01,
                      run_shift=float(rng.normal(0, 0.05))) for i in range(4)]
    result = sensitivity.simulate_sensitivity(runs)
    rows = result.overall.set_index("rule")
    single = rows.loc["bench, 1 base run"]
    assert single["comparisons"] == 4 * 3 * 20
    assert single["aa_false_slower"] <= 0.02
    assert single["caught_10"] > rows.loc["asv compare", "caught_10"]
    note = next(n for n in result.notes if n.startswith("target (single runs)"))
    assert note.endswith(": met")
