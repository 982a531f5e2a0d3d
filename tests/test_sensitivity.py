"""bench.gate.sensitivity and `bench sensitivity`: the simulation on synthetic runs, known answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_gate_rule import cases_of, make_frame

from bench.cli import main
from bench.errors import InputError
from bench.gate import estimates, render, rule, sensitivity

DATA = Path(__file__).parent / "data" / "compare"


def independent_runs(n_runs: int, n_cases: int = 20, run_sd: float = 0.005,
                     noise: float = 0.01) -> list[pd.DataFrame]:
    """n_runs runs of unchanged code, each shifted by a seeded run effect."""
    rng = np.random.default_rng(42)
    return [make_frame(f"aa-{i}", cases_of(n_cases), seed=100 + i, noise=noise,
                       shift=float(rng.normal(0, run_sd)))
            for i in range(n_runs)]


def overall_row(result: sensitivity.Sensitivity, prefix: str) -> pd.Series:
    """The overall row of the first rule whose label starts with prefix."""
    rows = result.overall[result.overall["rule"].str.startswith(prefix)]
    return rows.iloc[0]


@pytest.mark.slow
def test_quiet_runs_raise_no_false_alarm_and_catch_twenty_percent() -> None:
    result = sensitivity.simulate_sensitivity(independent_runs(4))
    main_rule = overall_row(result, "bench, 3 base runs (leave-one-out)")
    assert main_rule["comparisons"] == 4 * 20
    assert main_rule["aa_false_slower"] == 0
    assert main_rule["caught_20"] >= 0.95
    assert main_rule["median_smallest_reliable"] <= 0.20
    assert set(result.per_case["benchmark"]) == set(cases_of(20))
    assert "met" in result.notes[0] or "NOT met" in result.notes[0]


@pytest.mark.slow
def test_run_to_run_shifts_fool_pyperf_but_not_bench() -> None:
    """Runs move +-5% while processes agree to 0.5%: the t-test on all values cries wolf."""
    result = sensitivity.simulate_sensitivity(independent_runs(5, run_sd=0.05, noise=0.005))
    pyperf = overall_row(result, "pyperf compare_to")
    bench = overall_row(result, "bench, 4 base runs")
    assert pyperf["comparisons"] == 5 * 4 * 20
    assert pyperf["aa_false_slower"] > 0.2
    assert bench["aa_false_slower"] <= 0.02


@pytest.mark.slow
def test_a_comparison_fails_when_any_case_is_slower() -> None:
    """Cases that move run to run each on their own (5%, processes agree to 0.5%): pyperf's
    rule flags some cases in almost every A/A comparison, so far more comparisons fail than
    cases are flagged; bench's fails none."""
    rng = np.random.default_rng(7)
    runs = [make_frame(f"aa-{i}", {case: mean * float(np.exp(rng.normal(0, 0.05)))
                                   for case, mean in cases_of(20).items()},
                       seed=200 + i, noise=0.005) for i in range(4)]
    result = sensitivity.simulate_sensitivity(runs)
    pyperf, single = overall_row(result, "pyperf compare_to"), overall_row(result, "bench, 1 base")
    assert pyperf["aa_failed"] >= 0.9 > 0.6 > pyperf["aa_false_slower"]
    assert single["aa_failed"] == 0 == single["aa_false_slower"]
    assert "A/A runs failed" in render.format_sensitivity(result, "text")


def test_fewer_than_three_runs_are_refused() -> None:
    with pytest.raises(InputError, match="at least 3 independent runs"):
        sensitivity.simulate_sensitivity(independent_runs(2))


def test_runs_without_a_common_case_are_refused() -> None:
    runs = [make_frame(f"r{i}", {f"ser/json/dumps/ints/{i}": 1e-6}, seed=i) for i in range(3)]
    with pytest.raises(InputError, match="no case is present in every run"):
        sensitivity.simulate_sensitivity(runs)


def test_injection_equals_compare_on_scaled_values() -> None:
    """Shifting the A/A test of a case by log(1 + s) is what compare says on scaled values."""
    runs = independent_runs(4, n_cases=12, run_sd=0.01, noise=0.02)
    base, head = pd.concat(runs[1:]), runs[0]
    tests, _ = rule.assess_cases(estimates.log_process_means(base),
                                    estimates.log_process_means(head), "runs")
    levels = sensitivity.SLOWDOWN_GRID
    flags = sensitivity.slower_bench(tests, levels, 0.05)
    case = tests["benchmark"].iloc[3]
    for j, level in enumerate(levels):
        scaled = head.copy()
        scaled.loc[scaled["benchmark"] == case, "value"] *= 1 + level
        cmp = rule.compare_runs(base, scaled)
        verdict = cmp.cases.set_index("benchmark").loc[case, "verdict"]
        assert flags[3, j] == (verdict == "slower"), level
    assert not flags[3, 0] and flags[3, -1]


def test_pyperf_rule_as_pyperf_does_it() -> None:
    base = np.array([1.0, 1.01, 0.99, 1.0])
    assert sensitivity.slower_pyperf(base, np.array([[1.0, 1.01, 0.99, 1.0]])).tolist() == [False]
    assert sensitivity.slower_pyperf(base, np.array([[1.05, 1.06, 1.04, 1.05]])).tolist() == [True]
    # pyperf's t-test raises on unequal lengths and compare_to then calls it significant
    assert sensitivity.slower_pyperf(base, np.array([[1.0, 1.01, 0.99, 1.0, 1.001]])).tolist() \
        == [True]


def test_asv_rule_needs_p_below_0_002_and_a_factor_of_1_1() -> None:
    rng = np.random.default_rng(1)
    base = 1 + rng.normal(0, 0.001, 30)
    head = 1 + rng.normal(0, 0.001, 30)
    rows = np.stack([head * 1.05, head * 1.2])
    assert sensitivity.slower_asv(base, rows).tolist() == [False, True]
    few = np.array([1.0, 1.01, 0.99])  # p < 0.002 is impossible: the median-CI fallback
    assert sensitivity.slower_asv(few, np.stack([few * 1.005, few * 1.5])).tolist() == [
        False, True]


def test_interleaved_pairs() -> None:
    drifts = [0.0, 0.05, -0.03]
    frames = [make_frame(name, cases_of(12), seed=seed, noise=0.005, processes=6, rounds=3,
                         drifts=drifts)
              for seed, name in enumerate(["a1", "b1", "a2", "b2"])]
    result = sensitivity.simulate_sensitivity(frames, paired=True)
    paired = overall_row(result, "bench, interleaved")
    assert paired["comparisons"] == 4 * 12
    assert paired["aa_false_slower"] == 0
    assert paired["caught_10"] >= 0.9
    with pytest.raises(InputError, match="two by two"):
        sensitivity.simulate_sensitivity(frames[:3], paired=True)
    with pytest.raises(InputError, match="bench_round"):
        sensitivity.simulate_sensitivity(independent_runs(4), paired=True)


# ---------------------------------------------------------------- the CLI

@pytest.mark.slow
def test_cli_sensitivity_text_md_json(capsys: pytest.CaptureFixture[str]) -> None:
    runs = [str(DATA / f"base-{i}.json") for i in (1, 2, 3)]
    assert main(["sensitivity", *runs]) == 0
    out = capsys.readouterr().out
    assert out.startswith("bench sensitivity: 3 independent runs (base-1, base-2, base-3)")
    for label in ("bench, 2 base runs (leave-one-out)", "bench, 1 base run", "pyperf compare_to",
                  "asv compare"):
        assert label in out
    assert main(["sensitivity", *runs, "--format", "md"]) == 0
    assert "| Rule |" in capsys.readouterr().out
    assert main(["sensitivity", *runs, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == render.SCHEMA_VERSION
    assert document["kind"] == "bench-sensitivity"
    assert {row["rule"] for row in document["overall"]} >= {"pyperf compare_to", "asv compare"}


def test_cli_sensitivity_paired(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(DATA / "ab-a.json"), str(DATA / "ab-b.json")]
    assert main(["sensitivity", "--paired", *files]) == 0
    out = capsys.readouterr().out
    assert out.startswith("bench sensitivity: 1 interleaved A/A pair(s) (ab-a, ab-b)")
    assert "bench, interleaved (paired by round)" in out


@pytest.mark.parametrize("args, message", [
    (["base-1.json", "base-2.json"], "at least 3 independent runs"),
    (["--paired", "ab-a.json"], "two by two"),
    (["base-1.json", "base-2.json", "nope.json"], "nope.json"),
])
def test_cli_sensitivity_bad_input_exits_2(capsys: pytest.CaptureFixture[str], monkeypatch,
                                           args: list[str], message: str) -> None:
    monkeypatch.chdir(DATA)
    assert main(["sensitivity", *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: ") and message in lines[0]


def test_targets_are_checked_for_a_lone_case_and_for_the_whole_side() -> None:
    overall = pd.DataFrame({"rule": ["bench, lone", "bench, lone, every case slowed", "asv"],
                            "aa_false_slower": [0.0, 0.03, 0.0], "caught_5": [0.95, 0.99, 0.0],
                            "caught_10": [0.5, 0.9, 0.0]})
    separate = sensitivity.check_targets(overall, paired=False)
    assert len(separate) == 2
    assert separate[0].endswith("bench, lone: 0.0% and 50%: NOT met")
    assert separate[1].endswith("every case slowed: 3.0% and 90%: NOT met")  # false > 2%
    paired = sensitivity.check_targets(overall.assign(aa_false_slower=0.0), paired=True)
    assert [note.rsplit(": ", 1)[1] for note in paired] == ["met", "met"]
