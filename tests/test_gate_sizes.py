"""bench.gate.sizes: payload and peak memory verdicts, --fail-on, their outputs and the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyperf
import pytest
from conftest import bench_env

from bench.cli import main
from bench.errors import InputError
from bench.frame import load_results
from bench.gate import sizes
from bench.metric import INSTRUCTIONS, TIME

PICKLE = "ser/pickle-5/dumps/ints/1000"
PADDED = "ser/test-sized/dumps/ints/1000"


def write_run(path: Path, cases: dict[str, dict[str, int]], seconds: float = 1e-5,
              processes: int = 4, unit: str = "second") -> str:
    """A results file: per case, `processes` processes of the same times and the given sizes
    (payload_bytes, peak_alloc_bytes) on every process, as a run's first worker leaves them."""
    benchmarks = []
    for name, metadata in cases.items():
        runs = [pyperf.Run([seconds * (1 + 0.001 * p), seconds * (1 - 0.001 * p)],
                           metadata={"name": name, "unit": unit, "loops": 100, **metadata},
                           collect_metadata=False) for p in range(processes)]
        benchmarks.append(pyperf.Benchmark(runs))
    pyperf.BenchmarkSuite(benchmarks).dump(str(path), replace=True)
    return str(path)


def pair(tmp_path: Path, base: dict[str, dict[str, int]], head: dict[str, dict[str, int]],
         **options: object) -> tuple[str, str]:
    return (write_run(tmp_path / "base.json", base, **options),  # type: ignore[arg-type]
            write_run(tmp_path / "head.json", head, **options))  # type: ignore[arg-type]


def judge(tmp_path: Path, base: dict[str, dict[str, int]],
          head: dict[str, dict[str, int]]) -> sizes.SizeComparison:
    b, h = pair(tmp_path, base, head)
    return sizes.compare_sizes(load_results([b]), load_results([h]))


def verdict(found: sizes.SizeComparison, case: str, size: str) -> str:
    rows = found.cases[(found.cases["benchmark"] == case) & (found.cases["size"] == size)]
    assert len(rows) == 1, found.cases
    return str(rows["verdict"].iloc[0])


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- the rule

def test_a_payload_twice_as_large_is_larger_and_one_byte_is_a_change(tmp_path: Path) -> None:
    found = judge(tmp_path, {PADDED: {"payload_bytes": 5000}, PICKLE: {"payload_bytes": 5000}},
                  {PADDED: {"payload_bytes": 10000}, PICKLE: {"payload_bytes": 4999}})
    assert verdict(found, PADDED, "payload") == "larger"
    assert verdict(found, PICKLE, "payload") == "smaller"  # exact: one byte is a change
    row = found.cases[found.cases["benchmark"] == PADDED].iloc[0]
    assert row["ratio"] == 2.0 and row["base"] == 5000 and row["head"] == 10000
    assert found.counts("payload") == {"larger": 1, "smaller": 1, "same": 0, "uncertain": 0,
                                       "missing": 0, "new": 0}


@pytest.mark.parametrize(("base", "head", "expected"), [
    (1_000_000, 1_150_000, "larger"),     # 15%: past 10% of a megabyte
    (1_000_000, 1_080_000, "same"),       # 8%: inside 10%
    (1_000_000, 850_000, "smaller"),
    (20_000, 23_000, "same"),             # 15%, but 3 kB: inside the absolute floor
    (20_000, 30_000, "larger"),           # 10 kB: past both
])
def test_memory_changes_are_judged_by_share_and_floor(tmp_path: Path, base: int, head: int,
                                                       expected: str) -> None:
    found = judge(tmp_path, {PICKLE: {"peak_alloc_bytes": base}},
                  {PICKLE: {"peak_alloc_bytes": head}})
    assert verdict(found, PICKLE, "memory") == expected


def test_runs_of_a_side_that_disagree_leave_the_verdict_uncertain(tmp_path: Path) -> None:
    b1 = write_run(tmp_path / "b1.json", {PICKLE: {"payload_bytes": 100}})
    b2 = write_run(tmp_path / "b2.json", {PICKLE: {"payload_bytes": 110}})
    h = write_run(tmp_path / "h.json", {PICKLE: {"payload_bytes": 105}})
    found = sizes.compare_sizes(load_results([b1, b2]), load_results([h]))
    row = found.cases.iloc[0]
    assert row["verdict"] == "uncertain" and row["n_base"] == 2 and row["reason"]
    assert row["ratio_low"] < 1 < row["ratio_high"]


def test_a_size_recorded_on_one_side_only_is_missing_or_new(tmp_path: Path) -> None:
    found = judge(tmp_path, {PICKLE: {"payload_bytes": 100}, PADDED: {}},
                  {PICKLE: {}, PADDED: {"payload_bytes": 100}, "ser/other/dumps/x/1": {"payload_bytes": 1}})
    assert verdict(found, PICKLE, "payload") == "missing"
    assert verdict(found, PADDED, "payload") == "new"
    assert "ser/other/dumps/x/1" not in set(found.cases["benchmark"])  # a new case, not a size


def test_a_payload_grown_from_nothing_is_larger_and_shown_without_a_ratio(tmp_path: Path) -> None:
    from bench.gate.render import format_comparison_text, tabulate_sizes
    from bench.gate.rule import compare_runs

    b, h = pair(tmp_path, {PICKLE: {"payload_bytes": 0}}, {PICKLE: {"payload_bytes": 10}})
    base, head = load_results([b]), load_results([h])
    found = sizes.compare_sizes(base, head)
    assert verdict(found, PICKLE, "payload") == "larger"
    assert tabulate_sizes(found.cases)[1] == [[PICKLE, "payload", "0.00 B", "10.0 B", "-", "+10 B",
                                               "larger"]]
    assert "payload: 1 larger" in format_comparison_text(compare_runs(base, head), found)


def test_classify_sizes_needs_the_whole_span_past_the_tolerance() -> None:
    low, high = np.array([1, -5, -1, 3]), np.array([9, -1, 1, 3])
    assert sizes.classify_sizes(low, high, np.array([0, 0, 1, 3])).tolist() == [
        "larger", "smaller", "same", "same"]


# ---------------------------------------------------------------- --fail-on

@pytest.mark.parametrize(("text", "expected"), [
    ("slower", ("slower",)), ("payload,memory", ("payload", "memory")), ("never", ()),
    (" time , payload,time", ("time", "payload"))])
def test_fail_on_parses_a_list(text: str, expected: tuple[str, ...]) -> None:
    assert sizes.parse_fail_on(text) == expected


@pytest.mark.parametrize("text", ["bogus", "payload,bogus", "never,payload", ""])
def test_fail_on_refuses_unknown_names(text: str) -> None:
    with pytest.raises(ValueError, match="give a comma-separated list|goes alone"):
        sizes.parse_fail_on(text)


def test_fail_on_refuses_another_metric_and_memory_of_counts() -> None:
    sizes.check_fail_on(("time", "payload"), TIME)
    sizes.check_fail_on(("time", "instructions"), INSTRUCTIONS)
    with pytest.raises(InputError, match="--fail-on time: these runs measure instructions"):
        sizes.check_fail_on(("time",), INSTRUCTIONS)
    with pytest.raises(InputError, match="--fail-on memory: instruction counts record no"):
        sizes.check_fail_on(("slower", "memory"), INSTRUCTIONS)


def test_only_payload_changed_exits_0_by_default_and_1_with_fail_on_payload(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, head = pair(tmp_path, {PADDED: {"payload_bytes": 5000, "peak_alloc_bytes": 80_000}},
                      {PADDED: {"payload_bytes": 10000, "peak_alloc_bytes": 80_000}})
    code, out, _ = run_cli(capsys, "compare", base, head)
    assert code == 0 and "payload: 1 larger" in out and "2.00x larger" in out
    assert run_cli(capsys, "compare", base, head, "--fail-on", "payload")[0] == 1
    assert run_cli(capsys, "compare", base, head, "--fail-on", "slower,payload")[0] == 1
    assert run_cli(capsys, "compare", base, head, "--fail-on", "memory")[0] == 0
    assert run_cli(capsys, "compare", base, head, "--fail-on", "never")[0] == 0


def test_a_larger_peak_memory_fails_with_fail_on_memory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, head = pair(tmp_path, {PICKLE: {"payload_bytes": 5000, "peak_alloc_bytes": 80_000}},
                      {PICKLE: {"payload_bytes": 5000, "peak_alloc_bytes": 160_000}})
    code, out, _ = run_cli(capsys, "compare", base, head, "--fail-on", "memory")
    assert code == 1 and "memory: 1 larger" in out and "+80.0 kB" in out
    assert run_cli(capsys, "compare", base, head, "--fail-on", "payload")[0] == 0


@pytest.mark.parametrize("value", ["bogus", "payload,sizes", "never,memory"])
def test_a_bad_fail_on_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               value: str) -> None:
    base, head = pair(tmp_path, {PICKLE: {"payload_bytes": 1}}, {PICKLE: {"payload_bytes": 1}})
    with pytest.raises(SystemExit) as stopped:
        main(["compare", base, head, "--fail-on", value])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1
    assert err.startswith("ERROR: bench compare: argument --fail-on:")


def test_fail_on_time_of_counted_runs_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, head = pair(tmp_path, {PICKLE: {"payload_bytes": 1}}, {PICKLE: {"payload_bytes": 1}},
                      seconds=1000.0, unit="integer")
    code, out, err = run_cli(capsys, "compare", base, head, "--fail-on", "time")
    assert code == 2 and out == "" and err.startswith("ERROR: --fail-on time: these runs measure")


def test_ab_refuses_memory_for_counts_before_it_runs(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "ab", "--python", sys.executable, "--python", sys.executable,
                           "--metric", "instructions", "--fail-on", "memory",
                           "--outdir", str(tmp_path / "ab"))
    assert code == 2 and "--fail-on memory" in err and not (tmp_path / "ab").exists()


# ---------------------------------------------------------------- outputs

def test_markdown_and_json_show_the_size_verdicts(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    base, head = pair(tmp_path, {PADDED: {"payload_bytes": 5000}, PICKLE: {"payload_bytes": 7}},
                      {PADDED: {"payload_bytes": 10000}, PICKLE: {"payload_bytes": 7}})
    _, md, _ = run_cli(capsys, "compare", base, head, "--format", "md")
    assert "#### Payload and peak memory" in md and "- payload: 1 larger, 0 smaller, 1 same" in md
    assert f"| {PADDED} | payload |" in md and f"| {PICKLE} | payload |" not in md
    _, out, _ = run_cli(capsys, "compare", base, head, "--format", "json")
    document = json.loads(out)["sizes"]
    assert document["summary"]["payload"]["larger"] == 1
    assert document["rules"]["payload"] == {"relative": 0.0, "floor_bytes": 0,
                                            "noun": sizes.PAYLOAD.noun}
    first = document["cases"][0]
    assert set(first) == set(sizes.SIZE_COLUMNS)
    assert (first["benchmark"], first["verdict"], first["ratio"]) == (PADDED, "larger", 2.0)


def test_runs_without_sizes_add_no_text_and_an_empty_json_part(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, head = pair(tmp_path, {PICKLE: {}}, {PICKLE: {}})
    _, text, _ = run_cli(capsys, "compare", base, head)
    assert "Payload" not in text
    _, out, _ = run_cli(capsys, "compare", base, head, "--format", "json")
    assert json.loads(out)["sizes"]["cases"] == []


def test_the_report_shows_size_verdicts_beside_the_runs(tmp_path: Path) -> None:
    from bench.frame import describe_runs
    from bench.report.findings import compare_to_base
    from bench.report.runs import runs_section
    from bench.results import read_runs

    base, head = pair(tmp_path, {PADDED: {"payload_bytes": 5000, "peak_alloc_bytes": 9000}},
                      {PADDED: {"payload_bytes": 10000, "peak_alloc_bytes": 9000}})
    loaded = read_runs([base, head])
    found = compare_to_base(load_results([base, head]), describe_runs(loaded), "base", None)
    section = runs_section(found)
    texts = [getattr(block, "text", "") for block in section.blocks]
    assert "Payload and peak memory" in texts
    table = next(b for b in section.blocks if getattr(b, "heading", "") == "Cases whose size changed")
    cells = [cell for row in table.rows for cell in row]
    marked = [dict(cell.data) for cell in cells if cell.data]
    assert marked == [{"case": PADDED, "run": "head", "size": "payload", "verdict": "larger"}]
    assert any(cell.text == "2.00x larger (+5.00 kB)" for cell in cells)


# ---------------------------------------------------------------- a real run

@pytest.mark.slow
def test_a_real_run_of_the_padded_plugin_is_larger(tmp_path: Path) -> None:
    """bench_sized and bench_sized_padded register one serializer, the second with twice the
    payload: a smoke run of each, then compare."""
    def bench(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                              text=True, env=bench_env(), timeout=240, cwd=tmp_path)

    for side, plugin in (("base", "bench_sized"), ("head", "bench_sized_padded")):
        done = bench("run", "--profile", "smoke", "-k", "ser/test-sized/*", "--plugin", plugin,
                     "-o", f"{side}.json", "--no-capabilities")
        assert done.returncode == 0, done.stderr
    done = bench("compare", "base.json", "head.json", "--format", "json")
    assert done.returncode == 0, done.stderr  # one process a side: time says uncertain
    rows = {(r["benchmark"], r["size"]): r for r in json.loads(done.stdout)["sizes"]["cases"]}
    payload = rows[("ser/test-sized/dumps/ints/10", "payload")]
    assert payload["verdict"] == "larger" and payload["ratio"] == 2.0
    assert bench("compare", "base.json", "head.json", "--fail-on", "payload").returncode == 1
