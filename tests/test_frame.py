"""bench.frame: the tidy frame of results files, summaries with CIs, ratios, exponents."""

from __future__ import annotations

import json
import math
import random
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyperf
import pytest
from scipy import stats

import bench.frame
import bench.location
from bench.frame import (
    COLUMNS,
    describe_runs,
    environment_differences,
    fit_exponent,
    fit_exponents,
    list_failures,
    load_results,
    process_means,
    ratio_interval,
    summarize,
)
from bench.results import read_runs

DATA = Path(__file__).parent / "data" / "report"
FIXED_COLUMNS = ["run", "file", "host", "python", "benchmark", "suite", "subject", "op", "shape",
                 "size", "unit", "process", "value", "subject_version", "payload_bytes",
                 "peak_alloc_bytes"]
T_975_2 = stats.t.ppf(0.975, 2)  # 4.3027


def bench_metadata(name: str = "ser/pickle-5/dumps/ints/1000", **extra: object) -> dict:
    """The metadata our runner writes on every run of a case."""
    suite, subject, op, shape, size = name.split("/")
    return {"name": name, "bench_suite": suite, "bench_subject": subject, "bench_op": op,
            "bench_shape": shape, "bench_size": int(size), "subject_version": "1.0",
            "payload_bytes": 4000, "peak_alloc_bytes": 9000, "shape_nbytes": 8000,
            "hostname": "host-a", "python_version": "3.11.7 (64-bit) revision abc",
            "loops": 16, **extra}


def write_suite(path: Path, processes: dict[str, list[list[float]]], **extra: object) -> Path:
    """A pyperf file: benchmark name -> one list of values per process."""
    benchmarks = [pyperf.Benchmark([
        pyperf.Run(values, warmups=[(16, values[0])], metadata=bench_metadata(name, **extra),
                   collect_metadata=False) for values in runs])
        for name, runs in processes.items()]
    pyperf.BenchmarkSuite(benchmarks).dump(str(path), replace=True)
    return path


def summary_of(tmp_path: Path, runs: list[list[float]]) -> pd.Series:
    """The summary row of one benchmark made of these per-process values."""
    path = write_suite(tmp_path / "one.json", {"ser/pickle-5/dumps/ints/1000": runs})
    return summarize(load_results([path])).iloc[0]


# ---------------------------------------------------------------- summaries with known answers

def test_a_case_is_the_mean_of_its_fastest_half_with_yuens_interval(tmp_path: Path) -> None:
    """Six processes, two of them in a slow spell: the location is the geometric mean of the
    fastest three, its interval Yuen's (winsorized at the slowest one kept, t on 2 df)."""
    means = [1.0, 1.02, 0.98, 1.01, 1.5, 1.6]
    row = summary_of(tmp_path, [[m] for m in means])
    logs = np.sort(np.log(means))
    assert row["mean"] == pytest.approx(math.exp(logs[:3].mean()))
    variance = 5 * np.minimum(logs, logs[2]).var(ddof=1) / (3 * 2)
    half = T_975_2 * math.sqrt(variance)
    assert row["ci_low"] == pytest.approx(row["mean"] * math.exp(-half))
    assert row["ci_high"] == pytest.approx(row["mean"] * math.exp(half))
    assert row["rel_half_width"] == pytest.approx(math.expm1(half))
    assert row["ci_high"] < 1.1  # the spell is outside the interval
    assert row["process_stdev"] == pytest.approx(np.std(means, ddof=1))
    assert (row["n_processes"], row["n_values"]) == (6, 6)


def test_values_inside_a_process_do_not_shrink_the_ci(tmp_path: Path) -> None:
    few = summary_of(tmp_path, [[1.0], [2.0], [3.0]])
    many = summary_of(tmp_path, [[m - 0.01, m, m + 0.01] * 10 for m in (1.0, 2.0, 3.0)])
    assert many["n_values"] == 90
    assert many["ci_high"] - many["mean"] == pytest.approx(few["ci_high"] - few["mean"])
    naive = stats.t.ppf(0.975, 89) * many["stdev"] / math.sqrt(90)  # what pooling would claim
    assert naive < (many["ci_high"] - many["mean"]) / 4


def test_median_stdev_iqr_over_all_values(tmp_path: Path) -> None:
    row = summary_of(tmp_path, [[1.0, 2.0], [3.0, 4.0], [5.0, 100.0]])
    assert row["median"] == pytest.approx(3.5)
    assert row["stdev"] == pytest.approx(np.std([1, 2, 3, 4, 5, 100], ddof=1))
    assert row["iqr"] == pytest.approx(np.percentile([1, 2, 3, 4, 5, 100], 75)
                                       - np.percentile([1, 2, 3, 4, 5, 100], 25))
    assert row["mean"] == pytest.approx(math.sqrt(1.5 * 3.5))  # process means 1.5, 3.5, 52.5
    assert row["min_raw"] == pytest.approx(16.0)  # value 1.0 x 16 loops


def test_a_case_whose_processes_agree_by_chance_gets_the_runs_noise_floor(tmp_path: Path) -> None:
    spreads = [0.002 * k for k in range(1, 12)]  # 11 cases, relative process sd 0.2% to 2.2%
    processes = {f"ser/pickle-5/dumps/ints/{1000 + i}": [[1.0 - sd], [1.0], [1.0 + sd]]
                 for i, sd in enumerate(spreads)}
    processes["ser/pickle-5/dumps/ints/1"] = [[1.0], [1.0001], [0.9999]]
    rows = summarize(load_results([write_suite(tmp_path / "run.json", processes)]))
    # three processes: the fastest two kept, winsorized at the second, so a case's spread
    # (the winsorized sd of its logs) is |log(1 - sd)| / sqrt(3), and its interval t(1) x that
    def spread(sd: float) -> float:
        return abs(math.log(1 - sd)) / math.sqrt(3)

    floor = float(np.quantile([*map(spread, spreads), spread(0.0001)],
                              bench.location.FLOOR_QUANTILE))
    t_975_1 = stats.t.ppf(0.975, 1)
    lucky = rows[rows["benchmark"] == "ser/pickle-5/dumps/ints/1"].iloc[0]
    assert lucky["rel_half_width"] == pytest.approx(math.expm1(t_975_1 * floor), rel=1e-3)
    widest = rows[rows["benchmark"] == "ser/pickle-5/dumps/ints/1010"].iloc[0]
    assert widest["rel_half_width"] == pytest.approx(math.expm1(t_975_1 * spread(0.022)),
                                                     rel=1e-3)


def test_one_process_has_no_ci(tmp_path: Path) -> None:
    row = summary_of(tmp_path, [[1.0, 1.1, 0.9]])
    assert row["n_processes"] == 1
    assert math.isnan(row["ci_low"]) and math.isnan(row["ci_high"])
    assert row["mean"] == pytest.approx(1.0)


def test_summary_keeps_labels_and_metadata(tmp_path: Path) -> None:
    row = summary_of(tmp_path, [[1.0], [2.0]])
    assert (row["suite"], row["subject"], row["op"], row["shape"], row["size"]) == \
        ("ser", "pickle-5", "dumps", "ints", 1000)
    assert (row["payload_bytes"], row["peak_alloc_bytes"], row["shape_nbytes"]) == \
        (4000, 9000, 8000)
    assert (row["host"], row["python"], row["subject_version"]) == ("host-a", "3.11.7", "1.0")


def test_mean_interval_of_three_values() -> None:
    mean, low, high = bench.location.locate_case([1.0, 2.0, 3.0], method=bench.location.MEAN)
    assert (mean, high - mean) == (2.0, pytest.approx(2.4841, abs=1e-4))


# ---------------------------------------------------------------- the tidy frame

def test_frame_schema_and_dtypes(tmp_path: Path) -> None:
    path = write_suite(tmp_path / "a.json", {"ser/pickle-5/dumps/ints/1000": [[1.0, 2.0], [3.0]],
                                             "fold/loop/sum/list/100": [[5.0], [6.0]]})
    frame = load_results([path])
    assert list(frame.columns[:len(FIXED_COLUMNS)]) == FIXED_COLUMNS
    assert list(frame.columns) == COLUMNS
    assert str(frame["size"].dtype) == "Int64" and str(frame["payload_bytes"].dtype) == "Int64"
    assert str(frame["round"].dtype) == "Int64" and frame["round"].isna().all()
    assert frame["process"].tolist() == [0, 0, 1, 0, 1]
    assert frame["value"].tolist() == [1.0, 2.0, 3.0, 5.0, 6.0]
    assert set(frame["run"]) == {"a"} and set(frame["loops"]) == {16}
    assert process_means(frame)["mean"].tolist() == [1.5, 3.0, 5.0, 6.0]


def test_round_metadata_becomes_int_column(tmp_path: Path) -> None:
    path = write_suite(tmp_path / "ab.json", {"fold/loop/sum/list/100": [[1.0], [2.0]]},
                       bench_round=2)
    assert load_results([path])["round"].tolist() == [2, 2]


def test_calibration_runs_are_not_processes(tmp_path: Path) -> None:
    calibration = pyperf.Run([], warmups=[(1, 0.5), (2, 0.25)], collect_metadata=False,
                             metadata={**bench_metadata(), "calibrate_loops": 2})
    timed = [pyperf.Run([v], metadata=bench_metadata(), collect_metadata=False)
             for v in (1.0, 2.0)]
    path = tmp_path / "calibrated.json"
    pyperf.BenchmarkSuite([pyperf.Benchmark([calibration, *timed])]).dump(str(path))
    frame = load_results([path])
    assert frame["process"].tolist() == [0, 1] and frame["value"].tolist() == [1.0, 2.0]


def test_load_gzip_fixture() -> None:
    frame = load_results([DATA / "py313.json.gz"])
    assert set(frame["run"]) == {"py313"} and set(frame["python"]) == {"3.13.1"}
    assert {"ser", "fold", "ref"} == set(frame["suite"])
    row = frame[frame["benchmark"] == "fold/reduce-lambda/concat/list/1000"].iloc[0]
    assert (row["subject"], row["op"], row["shape"], row["size"]) == \
        ("reduce-lambda", "concat", "list", 1000)


def test_foreign_pyperf_file_gets_name_as_only_label() -> None:
    frame = load_results([DATA / "foreign.json"])
    assert list(dict.fromkeys(frame["benchmark"])) == ["telco", "<script>alert(1)</script>"]
    for column in ("suite", "subject", "op", "shape", "size", "payload_bytes"):
        assert frame[column].isna().all(), column
    assert set(frame["host"]) == {"other-host"} and set(frame["python"]) == {"3.12.1"}
    assert set(frame["unit"]) == {"second"}


def test_many_files_and_repeated_names(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    first = write_suite(tmp_path / "latest.json", {"fold/loop/sum/list/100": [[1.0]]})
    second = write_suite(tmp_path / "x" / "latest.json", {"fold/loop/sum/list/100": [[2.0]]})
    frame = load_results([first, second, DATA / "foreign.json"])
    assert list(dict.fromkeys(frame["run"])) == ["latest", "latest~2", "foreign"]
    assert len(summarize(frame)) == 4


# ---------------------------------------------------------------- ratios and exponents

def test_ratio_interval_is_welch_on_logs() -> None:
    slow, fast = [2.0, 2.2, 1.8], [1.0, 1.1, 0.9]
    ratio, low, high = ratio_interval(slow, fast)
    assert ratio == pytest.approx(2.0)
    la, lb = np.log(slow), np.log(fast)
    se = math.sqrt(la.var(ddof=1) / 3 + lb.var(ddof=1) / 3)  # equal variances: dof = 4
    assert high == pytest.approx(2.0 * math.exp(stats.t.ppf(0.975, 4) * se))
    assert low == pytest.approx(2.0 / math.exp(stats.t.ppf(0.975, 4) * se))
    assert math.isnan(ratio_interval([2.0], [1.0, 1.1]).low)


def noisy_power(k: float, seed: int) -> tuple[list[int], list[float]]:
    rng = random.Random(seed)
    sizes = [10, 30, 100, 300, 1000, 3000, 10000]
    return sizes, [1e-8 * n**k * rng.lognormvariate(0, 0.03) for n in sizes]


@pytest.mark.parametrize("k", [1.0, 2.0])
def test_fit_exponent_on_synthetic_power_laws(k: float) -> None:
    fit = fit_exponent(*noisy_power(k, seed=int(k)))
    assert fit.k == pytest.approx(k, abs=0.05)
    assert fit.low < k < fit.high and fit.high - fit.low < 0.1 and fit.n == 7


def test_fit_exponent_with_few_sizes() -> None:
    two = fit_exponent([100, 1000], [1.0, 10.0])
    assert two.k == pytest.approx(1.0) and math.isnan(two.low) and two.n == 2
    assert math.isnan(fit_exponent([100, 100], [1.0, 1.1]).k)


def test_fit_exponents_finds_quadratic_folds() -> None:
    exponents = fit_exponents(summarize(load_results([DATA / "py311.json"])))
    by_case = exponents.set_index(["suite", "subject", "op", "shape"])  # unique per run
    assert by_case.loc[("fold", "reduce-lambda", "concat", "list"), "k"] == pytest.approx(2.0, abs=0.05)
    assert by_case.loc[("fold", "loop", "concat", "list"), "k"] == pytest.approx(1.0, abs=0.05)
    assert by_case.loc[("fold", "reduce-lambda", "concat", "list"), "n"] == 3
    assert (exponents["suite"] == "ser").any()


def test_fit_exponents_leave_out_size_zero_quietly(tmp_path: Path) -> None:
    path = write_suite(tmp_path / "r.json", {"ship/loky/empty/none/0": [[1.0, 1.1], [1.2, 1.0]],
                                             "ship/loky/data/ints/100": [[2.0, 2.1], [2.2, 2.0]],
                                             "ship/loky/data/ints/10000": [[20.0, 21.0], [22.0, 20.0]]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log(0) warned on every report of a run with ship cases
        exponents = fit_exponents(summarize(load_results([path])))
    assert list(exponents["op"]) == ["data"] and exponents["k"].iloc[0] == pytest.approx(0.5, abs=0.01)


def test_failures_and_run_descriptions(tmp_path: Path) -> None:
    path = write_suite(tmp_path / "r.json", {"fold/loop/sum/list/100": [[1.0], [2.0]]})
    data = json.loads(path.read_text(encoding="utf-8"))
    data["bench_failures"] = [{"name": "ser/json/dumps/bytes/10", "reason": "check failed"}]
    failed = tmp_path / "x" / "r.json"
    failed.parent.mkdir()
    failed.write_text(json.dumps(data), encoding="utf-8")
    loaded = read_runs([failed, path])
    assert list_failures(loaded).to_dict("records") == [
        {"run": "r", "benchmark": "ser/json/dumps/bytes/10", "reason": "check failed"}]
    assert describe_runs(loaded)["failed cases"].tolist() == [1, 0]
    assert describe_runs(loaded)["run"].tolist() == ["r", "r~2"]


def test_runs_with_other_library_versions_say_which(tmp_path: Path) -> None:
    cases = {"ser/msgspec-json/dumps/ints/1000": [[1.0], [1.1]],
             "ser/msgspec-msgpack/dumps/ints/1000": [[1.0], [1.1]], "ser/pickle-5/dumps/ints/1000": [[1.0]]}
    base = write_suite(tmp_path / "a.json", cases, subject_version="0.18.6")
    head = write_suite(tmp_path / "b.json", cases, subject_version="0.19.0")
    lines = environment_differences(describe_runs(read_runs([base, head])), ["a"])
    assert "msgspec-json, msgspec-msgpack, pickle-5: 0.18.6 (a, base) vs 0.19.0 (b)" in lines
    same = write_suite(tmp_path / "c.json", cases, subject_version="0.18.6")
    python = write_suite(tmp_path / "d.json", cases, subject_version="stdlib 3.12.1")
    assert environment_differences(describe_runs(read_runs([base, same])), ["a"]) == []
    assert not [line for line in environment_differences(describe_runs(read_runs([same, python])))
                if "stdlib" in line]  # the Python, not a library: the python field says it


def test_ratios_pair_the_processes_of_one_pass_so_a_slow_spell_cancels(tmp_path: Path) -> None:
    spell = [1.0, 1.6, 1.0, 0.9]  # the machine 60% slower during pass 2, a little fast in pass 4
    names = {"ser/dill/dumps/ints/1000": 2.0, "ser/pickle-5/dumps/ints/1000": 1.0}
    benchmarks = [pyperf.Benchmark([
        pyperf.Run([cost * slow * 1.001, cost * slow * 0.999], warmups=[(16, cost)],
                   metadata=bench_metadata(name, bench_pass=step), collect_metadata=False)
        for step, slow in enumerate(spell, start=1)]) for name, cost in names.items()]
    path = tmp_path / "passes.json"
    pyperf.BenchmarkSuite(benchmarks).dump(str(path), replace=True)
    frame = load_results([path])
    arrays = bench.frame.process_mean_arrays(frame)
    dill, pickle5 = (arrays[("passes", name)] for name in names)
    assert dill.index.name == "pass" and list(dill.index) == [1, 2, 3, 4]
    paired = bench.frame.ratio_interval(dill, pickle5)
    unpaired = bench.frame.ratio_interval(dill.to_numpy(), pickle5.to_numpy())
    assert paired.value == pytest.approx(2.0) and unpaired.value == pytest.approx(2.0)
    assert paired.high - paired.low < 1e-6 < unpaired.high - unpaired.low  # the spell cancelled
    assert unpaired.high / unpaired.low > 1.3
