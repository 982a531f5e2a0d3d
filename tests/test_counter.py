"""bench.run.counter and bench.run.callgrind: instruction counts under callgrind (`--metric instructions`).

The pure parts (a dump file, the loop arithmetic, the grouping) run everywhere; the counting
tests need valgrind and are skipped with a reason when it is absent, unless CI=true.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyperf
import pytest
from conftest import bench_env, interrupt_after

from bench.results import Results, read_results, write_results
from bench.run.callgrind import ToolMissing, build_shim, find_tools, read_dump
from bench.run.cases import Case, get_profile
from bench.run.counter import (
    MIN_CHUNK,
    VALUE_BUDGET,
    case_libraries,
    choose_loops,
    group_cases,
    make_benchmark,
    per_call,
    read_case_line,
    read_values,
    take_count,
)

DUMP = Path(__file__).parent / "data" / "callgrind" / "callgrind.out.1"
A_A_SELECTION = ["-k", "ser/pickle-5/dumps/*", "-k", "ser/json/dumps/*", "-k", "ser/pickle-5/loads/*",
                 "-k", "fold/loop/*", "-k", "fold/reduce-lambda/*", "-k", "fold/builtin/*"]


def need_valgrind() -> None:
    """Skip when valgrind is absent, unless CI=true (where it must be there)."""
    if shutil.which("valgrind") is None:
        if os.environ.get("CI"):
            pytest.fail("valgrind is required under CI=true (.ci/run installs it)")
        pytest.skip("valgrind is not installed (Debian: apt-get install valgrind)")


def counts(path: Path) -> dict[str, list[float]]:
    """case -> its values, from an instruction results file."""
    return {b.get_name(): list(b.get_values()) for b in read_results(path).benchmarks}


# ---------------------------------------------------------------- the dump files

def test_a_real_dump_gives_its_label_and_ir_total():
    label, events = read_dump(DUMP.read_text())
    assert label == "fixture 2000 calls"
    assert set(events) == {"Ir"} and events["Ir"] > 2000


@pytest.mark.parametrize("text", ["", "events: Ir\n", "totals: 5\n", "garbage\x00"])
def test_a_file_without_events_or_totals_is_refused(text):
    with pytest.raises(ValueError, match="not a callgrind dump"):
        read_dump(text)


def test_a_count_is_read_once_and_its_label_checked(tmp_path):
    total = read_dump(DUMP.read_text())[1]["Ir"]
    (tmp_path / "callgrind.out.1").write_text(DUMP.read_text())
    assert take_count(str(tmp_path / "callgrind.out.1"), "fixture 2000 calls") == total
    assert os.listdir(tmp_path) == []
    (tmp_path / "callgrind.out.2").write_text(DUMP.read_text())
    with pytest.raises(RuntimeError, match="labelled 'fixture 2000 calls', not 'other'"):
        take_count(str(tmp_path / "callgrind.out.2"), "other")
    with pytest.raises(RuntimeError, match="callgrind.out.3 for 'x' unreadable"):
        take_count(str(tmp_path / "callgrind.out.3"), "x")


def test_the_parent_makes_values_from_the_dumps_a_counting_process_names(tmp_path):
    total = read_dump(DUMP.read_text())[1]["Ir"]
    for n in (1, 2):
        (tmp_path / f"callgrind.out.{n}").write_text(DUMP.read_text())
    dump = [str(tmp_path / "callgrind.out.2"), "fixture 2000 calls"]
    empty = [str(tmp_path / "callgrind.out.1"), "fixture 2000 calls"]
    line = {"case": "c", "loops": 4, "metadata": {}, "empty": empty,
            "counted": [total + 400], "dumps": [dump]}
    assert read_values(line)["values"] == [100.0, 0.0]  # (total + 400 - total) / 4; total - total
    assert os.listdir(tmp_path) == []
    assert "unreadable" in read_values(line)["error"]  # the dumps were taken
    assert read_values({"case": "c", "error": "check failed"}) == {"case": "c", "error": "check failed"}


def test_the_first_count_of_a_case_is_its_warm_up_value(tmp_path):
    total = read_dump(DUMP.read_text())[1]["Ir"]
    for n in (1, 2, 3):
        (tmp_path / f"callgrind.out.{n}").write_text(DUMP.read_text())
    empty, *dumps = ([str(tmp_path / f"callgrind.out.{n}"), "fixture 2000 calls"] for n in (1, 2, 3))
    line = read_values({"case": "c", "loops": 2, "metadata": {}, "empty": empty,
                        "counted": [total + 50], "dumps": dumps, "warmup_counts": 1})
    assert line["warmups"] == [25.0] and line["values"] == [0.0, 0.0]
    line = {**line, "values": [100.0, 101.0]}
    bench = make_benchmark(Case("ser", "pickle-5", "dumps", "ints", 10), line, {})
    assert bench.get_values() == (100.0, 101.0)  # the warm-up value is not a value
    assert [run.warmups for run in bench.get_runs()] == [((2, 25.0),), ()]


# ---------------------------------------------------------------- arithmetic and grouping

def test_one_call_is_the_difference_of_two_loop_counts():
    fixed, call = 12_345, 678
    assert per_call(fixed, fixed + 10 * call, 10) == call
    assert per_call(fixed, fixed + 3 * call, 3) == call
    assert per_call(fixed, fixed + 3 * call + 1, 3) == pytest.approx(call + 1 / 3)


def test_loops_reach_the_target_within_bounds():
    assert choose_loops(100, target=1000) == 10
    assert choose_loops(101, target=1000) == 10  # ceil(9.9)
    assert choose_loops(10**9, target=1000) == 1
    assert choose_loops(1, target=10**9) == 10_000


def test_groups_share_their_libraries_so_pickle_never_meets_dill():
    cases = get_profile("quick").list_cases()
    groups = group_cases(cases, jobs=2, per_job=3)
    assert sorted(c for g in groups for c in g) == sorted(cases)
    for group in groups:
        assert len({case_libraries(c) for c in group}) == 1
        subjects = {c.subject for c in group}
        assert not ({"pickle-5", "json"} & subjects and {"dill", "cloudpickle", "msgpack"} & subjects)
        assert len({c.shape == "ndarray" for c in group if c.suite == "ser"}) <= 1
        assert len(group) <= max(MIN_CHUNK, -(-len(cases) // 6))
    sizes = [len(g) for g in groups]
    assert sizes == sorted(sizes, reverse=True)
    assert case_libraries(Case("ser", "dill-recurse", "dumps", "ndarray", 10)) == ("dill", "numpy")
    assert case_libraries(Case("fold", "cytoolz", "merge", "list", 10)) == ("cytoolz",)
    assert case_libraries(Case("ref", "memcpy", "copy", "bytes", 10)) == ()


def test_a_small_selection_is_not_cut_into_many_processes():
    cases = get_profile("smoke").list_cases()
    stdlib = [c for c in cases if not case_libraries(c)]
    groups = group_cases(stdlib, jobs=2, per_job=3)
    assert [len(g) for g in groups] == [MIN_CHUNK] * (len(stdlib) // MIN_CHUNK) + (
        [len(stdlib) % MIN_CHUNK] if len(stdlib) % MIN_CHUNK else [])


def test_a_counted_case_is_a_pyperf_benchmark_in_integers(tmp_path):
    case = Case("ser", "pickle-5", "dumps", "ints", 10)
    line = {"case": case.name, "values": [1000.0, 1000.5, 1000.0], "loops": 40,
            "metadata": {"payload_bytes": 60, "bench_imported": "-"}}
    result = read_case_line(case, line, {"bench_metric": "instructions"})
    bench = result.benchmark
    assert bench.get_unit() == "integer" and bench.get_nrun() == 3
    assert bench.get_metadata()["payload_bytes"] == 60
    assert bench.get_metadata()["bench_subject"] == "pickle-5"
    path = tmp_path / "i.json"
    write_results(Results([bench], {"fold/loop/sum/list/10": "check failed: x"}, str(path)))
    again = read_results(path)
    assert again.benchmarks[0].get_values() == (1000.0, 1000.5, 1000.0)
    assert again.failures == {"fold/loop/sum/list/10": "check failed: x"}
    stats = subprocess.run([sys.executable, "-m", "pyperf", "stats", str(path)],
                           capture_output=True, text=True)
    assert stats.returncode == 0, stats.stderr


def test_a_failed_or_empty_count_is_a_failure():
    case = Case("ser", "pickle-5", "dumps", "ints", 10)
    assert read_case_line(case, {"error": "check failed: x"}, {}).error == "check failed: x"
    bad = read_case_line(case, {"values": [5.0, -1.0], "loops": 1, "metadata": {}}, {})
    assert bad.benchmark is None and "not positive" in (bad.error or "")


# ---------------------------------------------------------------- the readers on counts

def write_counts(path: Path, scale: float) -> None:
    """An instruction results file of two cases, identical values in each (as counts are)."""
    cases = [Case("ser", "pickle-5", "dumps", "ints", 1000), Case("fold", "loop", "sum", "list", 100)]
    benchmarks = [make_benchmark(c, {"values": [v * scale] * 3, "loops": 2,
                                     "metadata": {"bench_imported": "-"}}, {"bench_metric": "instructions"})
                  for c, v in zip(cases, [250_000.0, 9_000.0])]
    write_results(Results(benchmarks, {}, str(path)))


@pytest.mark.slow
def test_compare_report_export_and_sensitivity_read_counts(tmp_path, run_bench):
    base, head = tmp_path / "base.json", tmp_path / "head.json"
    write_counts(base, 1.0)
    write_counts(head, 1.5)
    compare = run_bench("compare", str(base), str(head), "--format", "json")
    assert compare.returncode in (0, 1), compare.stderr
    verdicts = {row["benchmark"]: row["verdict"] for row in json.loads(compare.stdout)["cases"]}
    assert set(verdicts) == {"ser/pickle-5/dumps/ints/1000", "fold/loop/sum/list/100"}
    same = run_bench("compare", str(base), str(base), "--format", "text")
    assert same.returncode == 0, same.stderr
    report = run_bench("report", str(base), str(head), "-o", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    export = run_bench("export", str(base), "--csv", str(tmp_path / "s.csv"))
    assert export.returncode == 0, export.stderr
    assert set(pd.read_csv(tmp_path / "s.csv")["unit"]) == {"integer"}
    sensitivity = run_bench("sensitivity", str(base), str(head), str(base))
    assert sensitivity.returncode in (0, 2), sensitivity.stderr
    assert sensitivity.returncode == 0 or sensitivity.stderr.startswith("ERROR: ")


def count_frame(values_by_case: dict[str, list[float]], run: str) -> pd.DataFrame:
    """A tidy frame of one count run: each value its own process, as the counter writes them."""
    from bench.frame import load_results

    path = Path(run)
    benchmarks = [make_benchmark(Case(*name.split("/")[:4], int(name.split("/")[4])),
                                 {"values": values, "loops": 1, "metadata": {}},
                                 {"bench_metric": "instructions"})
                  for name, values in values_by_case.items()]
    write_results(Results(benchmarks, {}, str(path)))
    return load_results([str(path)])


def test_the_count_gate_decides_on_the_ratio_and_the_measured_spread(tmp_path):
    from bench.gate.rule import compare_runs

    exact, spread = "ser/pickle-5/dumps/ints/1000", "fold/loop/sum/list/100"
    base = {exact: [1000.0] * 3, spread: [1000.0, 1050.0, 1000.0]}  # one value 5% off
    same = compare_runs(count_frame(base, tmp_path / "a.json"), count_frame(base, tmp_path / "b.json"))
    assert same.mode == "counts" and same.threshold == pytest.approx(0.01)
    assert dict(zip(same.cases["benchmark"], same.cases["verdict"])) == {exact: "same", spread: "uncertain"}
    scaled = {name: [v * 1.02 for v in values] for name, values in base.items()}
    slower = compare_runs(count_frame(base, tmp_path / "a.json"), count_frame(scaled, tmp_path / "c.json"))
    verdicts = dict(zip(slower.cases["benchmark"], slower.cases["verdict"]))
    assert verdicts == {exact: "slower", spread: "uncertain"}  # a 2.5% half-range hides 2%
    row = slower.cases.set_index("benchmark").loc[spread]
    assert row["ratio"] == pytest.approx(1.02)
    assert row["ci_high"] / row["ci_low"] == pytest.approx(1.05, rel=1e-3)
    faster = compare_runs(count_frame(scaled, tmp_path / "c.json"), count_frame(base, tmp_path / "a.json"))
    assert dict(zip(faster.cases["benchmark"], faster.cases["verdict"]))[exact] == "faster"
    assert any("no test" in note for note in slower.notes)


@pytest.mark.slow
def test_compare_refuses_counts_against_times(tmp_path, run_bench):
    counted, timed = tmp_path / "counted.json", tmp_path / "timed.json"
    write_counts(counted, 1.0)
    bench = pyperf.Benchmark([pyperf.Run([0.001, 0.0011], metadata={
        "name": "ser/pickle-5/dumps/ints/1000", "loops": 1}, collect_metadata=False)])
    write_results(Results([bench], {}, str(timed)))
    proc = run_bench("compare", str(timed), str(counted))
    assert proc.returncode == 2
    assert proc.stderr.startswith("ERROR: ") and proc.stderr.count("\n") == 1
    assert "unit" in proc.stderr


# ---------------------------------------------------------------- missing tools

def test_no_valgrind_is_one_error_line_before_anything_runs(tmp_path, run_bench, monkeypatch):
    monkeypatch.setenv("BENCH_VALGRIND", "/nonexistent/valgrind")
    path = tmp_path / "i.json"
    proc = run_bench("run", "--profile", "smoke", "--metric", "instructions", "-o", str(path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("ERROR: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "valgrind" in proc.stderr and not path.exists()


def test_no_valgrind_on_path_is_a_tool_error(monkeypatch, tmp_path):
    monkeypatch.delenv("BENCH_VALGRIND", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing, match="not found on PATH"):
        find_tools(str(tmp_path))


def test_no_compiler_is_a_tool_error(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-cc"))
    with pytest.raises(ToolMissing, match="compiling the callgrind shim"):
        build_shim(str(tmp_path / "cache"))
    assert not list((tmp_path / "cache").glob("*.so"))


def test_pyperf_options_that_do_not_apply_are_refused(run_bench, tmp_path):
    proc = run_bench("run", "--profile", "smoke", "--metric", "instructions", "--rigorous",
                     "-o", str(tmp_path / "i.json"))
    assert proc.returncode == 2 and "--rigorous" in proc.stderr


# ---------------------------------------------------------------- counting (valgrind)

@pytest.fixture(scope="module")
def counted_twice(tmp_path_factory):
    """The same small selection counted in two runs."""
    need_valgrind()
    paths = []
    for run in (1, 2):
        path = tmp_path_factory.mktemp("counts") / f"i{run}.json"
        proc = subprocess.run([sys.executable, "-m", "bench", "run", "--profile", "smoke",
                               *A_A_SELECTION, "--metric", "instructions", "-o", str(path)],
                              capture_output=True, text=True, env=bench_env(), timeout=600)
        assert proc.returncode == 0, proc.stderr
        paths.append(path)
    return paths


@pytest.mark.slow
def test_two_runs_count_the_same_within_one_percent(counted_twice):
    first, second = (counts(p) for p in counted_twice)
    assert sorted(first) == sorted(second) and len(first) >= 6
    for name, values in first.items():
        a, b = sum(values) / len(values), sum(second[name]) / len(second[name])
        assert abs(b / a - 1) < 0.01, (name, values, second[name])


@pytest.mark.slow
def test_the_gate_calls_every_case_of_two_count_runs_the_same(counted_twice, run_bench):
    proc = run_bench("compare", *map(str, counted_twice), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    verdicts = {case["benchmark"]: case["verdict"] for case in json.loads(proc.stdout)["cases"]}
    assert len(verdicts) >= 6 and set(verdicts.values()) == {"same"}, verdicts


@pytest.mark.slow
def test_counted_cases_carry_the_time_runs_metadata_and_the_metric(counted_twice):
    results = read_results(counted_twice[0])
    assert not results.failures
    for bench in results.benchmarks:
        meta = bench.get_metadata()
        loop = bench.median() * meta["loops"]  # the instructions of one value's count
        assert bench.get_unit() == "integer"
        assert bench.get_nrun() == min(3, -(-VALUE_BUDGET // loop))  # values stop at the budget
        assert meta["bench_metric"] == "instructions" and meta["hash_seed"] == "0"
        assert meta["malloc_settings"] == "MALLOC_MMAP_THRESHOLD_=131072"
        assert meta["valgrind_version"].startswith("valgrind-")
        assert meta["bench_profile"] == "smoke" and "peak_alloc_bytes" not in meta
        assert ("payload_bytes" in meta) is (meta["bench_suite"] == "ser")
        assert "dill" not in meta["bench_imported"]
        assert meta["python_version"].startswith(platform.python_version() + " ")


@pytest.mark.slow
def test_a_serializer_doing_twice_the_work_counts_about_twice(tmp_path, run_bench):
    need_valgrind()
    path = tmp_path / "twice.json"
    proc = run_bench("run", "--plugin", "bench_doubles", "--profile", "smoke", "--size", "1000",
                     "-k", "ser/pickle-5/dumps/*", "-k", "ser/test-pickle-twice/dumps/*",
                     "--metric", "instructions", "-o", str(path), timeout=600)
    assert proc.returncode == 0, proc.stderr
    found = {name: sum(v) / len(v) for name, v in counts(path).items()}
    ratio = found["ser/test-pickle-twice/dumps/ints/1000"] / found["ser/pickle-5/dumps/ints/1000"]
    assert 1.8 < ratio < 2.2, found


@pytest.mark.slow
def test_a_crashing_case_fails_alone_under_callgrind(tmp_path, run_bench):
    need_valgrind()
    path = tmp_path / "crash.json"
    proc = run_bench("run", "--plugin", "bench_crashers", "--profile", "crash-test",
                     "-k", "ser/pickle-5/*", "-k", "ser/test-segfault/*", "-k", "ser/test-memory/*",
                     "--metric", "instructions", "-o", str(path), timeout=600)
    assert proc.returncode == 3, proc.stderr
    results = read_results(path)
    assert set(results.failures) == {"ser/test-segfault/dumps/ints/10", "ser/test-memory/dumps/ints/10"}
    assert results.failures["ser/test-segfault/dumps/ints/10"].startswith(
        "worker crashed: killed by SIGSEGV")
    assert {b.get_name() for b in results.benchmarks} == {
        "ser/pickle-5/dumps/ints/10", "ser/pickle-5/loads/ints/21", "ser/pickle-5/loads/ints/23",
        "ser/pickle-5/loads/ints/24"}


@pytest.mark.slow
def test_ctrl_c_keeps_the_counted_cases_and_stops_the_counting_processes(tmp_path, monkeypatch):
    need_valgrind()
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the counting processes' dump directories
    path = tmp_path / "interrupted.json"
    finished, rest, code = interrupt_after(["run", "--profile", "smoke", "--metric", "instructions",
                                            "-o", str(path)], 2)
    assert code == 130
    assert f"interrupted: {len(finished)} of {len(get_profile('smoke').list_cases())} cases saved" in rest
    assert sorted(b.get_name() for b in read_results(path).benchmarks) == sorted(finished)
    left = subprocess.run(["pgrep", "-f", "--", f"--dumps {tmp_path}"], capture_output=True)
    assert left.returncode == 1  # no counting process of this run is left


@pytest.mark.slow
def test_a_count_run_of_a_profile_with_capabilities_writes_none(tmp_path, run_bench):
    need_valgrind()
    path = tmp_path / "q.json"
    proc = run_bench("run", "--profile", "quick", "-k", "ser/pickle-5/dumps/ints/*",
                     "--metric", "instructions", "-o", str(path), timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert {b.get_name() for b in read_results(path).benchmarks} == {
        c.name for c in get_profile("quick").list_cases() if c.name.startswith("ser/pickle-5/dumps/ints/")}
    assert not (tmp_path / "q.capabilities.json").exists()


@pytest.mark.slow
def test_ab_counts_each_side_once_and_finds_no_change_between_one_python_and_itself(tmp_path,
                                                                                    run_bench):
    need_valgrind()
    proc = run_bench("ab", "--python", sys.executable, "--python", sys.executable,
                     "--profile", "smoke", "-k", "ser/pickle-5/dumps/*", "-k", "fold/loop/sum/*",
                     "--metric", "instructions", "--outdir", str(tmp_path), "--format", "json",
                     timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "no rounds" in proc.stderr
    doc = json.loads(proc.stdout)
    sides = [read_results(tmp_path / f"{side}.json") for side in "ab"]
    assert [len(s.benchmarks) for s in sides] == [len(doc["cases"])] * 2 and len(doc["cases"]) >= 3
    assert {b.get_unit() for s in sides for b in s.benchmarks} == {"integer"}
    assert {c["verdict"] for c in doc["cases"]} == {"same"}
    assert doc["threshold"] == pytest.approx(0.01)
