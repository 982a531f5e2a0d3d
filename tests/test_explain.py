"""bench.gate.explain and `bench explain`: which functions moved in each changed case.

The pure differential runs on made-up profiles; the slow tests count the test plugin
bench_explained without and with one extra named function per call (a C function, adler32,
or a Python one, extra_python_work) and hold the explanation to it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from test_counter import need_valgrind

from bench.cli import main
from bench.gate.explain import OTHER, explain_case, explain_comparison, format_explanations
from bench.run.profiles import Function, make_profile
from bench.run.pycalls import python_share, trace_case

DATA = Path(__file__).parent / "data"


def profile(*functions: tuple[str, str, float], top: int = 60) -> dict:
    return make_profile([Function(name, "x.c", obj, excl, excl, 1.0) for name, obj, excl in functions], top)


def test_the_function_that_moved_comes_first_with_its_share():
    base = profile(("loop", "a.so", 1000), ("copy", "libc.so.6", 200))
    head = profile(("loop", "a.so", 1010), ("copy", "libc.so.6", 200), ("extra", "b.so", 490))
    explained = explain_case("c", "slower", base, head)
    first = explained.functions[0]
    assert (first.name, first.obj, first.exclusive) == ("extra", "b.so", 490)
    assert explained.change == 500 and explained.share(first.exclusive) == pytest.approx(0.98)
    assert explained.covered == pytest.approx(1.0)
    assert explained.objects[0] == ("b.so", 490)


def test_exclusive_changes_with_other_add_up_to_the_change():
    base = profile(*((f"f{n}", "a.so", float(n)) for n in range(1, 30)), top=5)
    head = profile(*((f"f{n}", "a.so", float(n) * (2 if n % 2 else 1)) for n in range(1, 30)), top=5)
    explained = explain_case("c", "slower", base, head, top=100)
    assert sum(c.exclusive for c in explained.functions) == pytest.approx(explained.change)
    assert any(c.name == OTHER for c in explained.functions)
    assert explained.covered < 1


def test_a_case_without_a_profile_says_so_and_unchanged_cases_are_left_out():
    cases = [("a", "slower"), ("b", "same"), ("c", "faster")]
    found = explain_comparison(cases, {"a": profile(("f", "x", 1))}, {}, patterns=["a", "b"])
    assert [e.case for e in found] == ["a"] and "no profile on the head side" in found[0].note
    assert math.isnan(found[0].covered)
    document = json.loads(format_explanations(found, "json"))
    assert document["cases"][0]["note"].startswith("has no profile")


def test_python_functions_are_traced_by_bytecodes_and_calls():
    def helper() -> int:
        return sum(range(3))

    def op() -> int:
        return helper() + helper()

    traced = trace_case(op)
    rows = {row[0].rsplit(".", 1)[-1]: row for row in traced["fns"]}
    assert rows["helper"][4] == 2 and rows["op"][4] == 1
    assert rows["op"][3] == traced["ops"] == rows["op"][2] + rows["helper"][2]
    assert python_share({"ir": 10, "fns": [["f", "Python/ceval.c", 0, 4, 9, 1]]}) == 0.4


def test_explain_on_time_results_says_to_count_and_exits_2(capsys):
    assert main(["explain", str(DATA / "compare" / "base-1.json"), str(DATA / "compare" / "head.json")]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ERROR: {DATA / 'compare' / 'base-1.json'}: "), err
    assert "--metric instructions" in lines[0] and "bench run" in lines[0] and out == ""


def count(tmp_path: Path, run_bench, name: str, extra: str, monkeypatch) -> Path:
    need_valgrind()
    monkeypatch.setenv("BENCH_TEST_EXTRA", extra)
    path = tmp_path / name
    proc = run_bench("run", "--plugin", "bench_explained", "--profile", "smoke", "--size", "1000",
                     "-k", "ser/test-explained/dumps/ints/*", "--metric", "instructions", "-o", str(path),
                     timeout=600)
    assert proc.returncode == 0, proc.stderr
    return path


@pytest.mark.slow
def test_one_extra_c_function_per_call_explains_the_change(tmp_path, run_bench, monkeypatch):
    base = count(tmp_path, run_bench, "base.json", "", monkeypatch)
    head = count(tmp_path, run_bench, "head.json", "c", monkeypatch)
    proc = run_bench("explain", str(base), str(head), "--format", "json", "--top", "5")
    assert proc.returncode == 0, proc.stderr
    (case,) = json.loads(proc.stdout)["cases"]
    first = case["functions"][0]
    assert case["verdict"] == "slower" and first["function"].startswith("adler32")
    assert first["object"].startswith("libz")
    assert abs(first["exclusive_change"] - case["change"]) <= 0.05 * case["change"]  # exclusively
    assert abs(first["exclusive_change"] - first["head"][0]) <= 0.05 * first["head"][0]
    text = run_bench("compare", str(base), str(head), "--explain").stdout
    assert "adler32" in text and "add up to" in text
    page = tmp_path / "report.html"
    proc = run_bench("report", str(base), str(head), "-o", str(page))
    assert proc.returncode == 0, proc.stderr
    html = page.read_text()
    explained = html[html.index('id="explained"'):]
    assert "<details" in explained and "adler32_z" in explained and "<svg" in explained
    assert 'id="explained"' not in run_bench("report", str(base), "-o", str(page)).stdout + page.read_text()


@pytest.mark.slow
def test_one_extra_python_function_per_call_is_named_first(tmp_path, run_bench, monkeypatch):
    base = count(tmp_path, run_bench, "base.json", "", monkeypatch)
    head = count(tmp_path, run_bench, "head.json", "py", monkeypatch)
    proc = run_bench("explain", str(base), str(head), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (case,) = json.loads(proc.stdout)["cases"]
    first = case["python_functions"][0]
    assert first["function"] == "extra_python_work" and first["calls_change"] == 1
    assert first["bytecodes_change"] > 1000


def test_a_stripped_library_whose_addresses_moved_is_one_row():
    # two builds of a library without symbols: callgrind names its functions by address, and
    # the new build places them elsewhere (as orjson 3.11.6 and 3.11.7's wheels)
    base = profile(("0x0000000000015650", "o.so", 634_684), ("0x0000000000027b40", "o.so", 540_000),
                   ("dumps", "o.so", 100), ("memcpy", "libc.so.6", 1_000))
    head = profile(("0x0000000000015c50", "o.so", 634_684), ("0x0000000000027650", "o.so", 443_000),
                   ("dumps", "o.so", 100), ("memcpy", "libc.so.6", 1_500))
    explained = explain_case("c", "faster", base, head)
    first = explained.functions[0]
    assert (first.name, first.obj, first.exclusive) == ("(functions without a symbol)", "o.so", -97_000)
    assert not any(c.name.startswith("0x") for c in explained.functions)  # no +-634,684 pair
    assert explained.stripped == ("o.so",)
    assert explained.covered == pytest.approx(1.0)  # -97,000 and +500 of -96,500
    text = format_explanations([explained])
    assert "o.so without symbols, a stripped build" in text
    assert json.loads(format_explanations([explained], "json"))["cases"][0]["stripped"] == ["o.so"]


def test_address_named_functions_of_one_build_are_still_matched():
    base = profile(("0x0000000000015650", "o.so", 1_000), ("0x0000000000027b40", "o.so", 500))
    head = profile(("0x0000000000015650", "o.so", 1_400), ("0x0000000000027b40", "o.so", 500))
    explained = explain_case("c", "slower", base, head)
    assert (explained.functions[0].name, explained.functions[0].exclusive) == ("0x0000000000015650", 400)
    assert explained.stripped == ()
