"""bench.report: findings and sections from known data, escaping, self-containment, the CLI."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pyperf
import pytest

import bench.report.blocks
import bench.report.findings
import bench.report.matrix
import bench.report.pareto
import bench.report.plots
import bench.report.questions
import bench.report.sections
import bench.report.svg
from bench.capability_file import read_capabilities
from bench.cli import main
from bench.errors import InputError
from bench.frame import load_results, summarize
from bench.report.findings import find_all, prepare_data
from bench.report.pareto import pareto_front, pareto_points
from bench.report.questions import CODE_KIND, DATA_KIND, answer_code_claim, fold_answers
from bench.report.render import build_report, render_report
from bench.text import format_interval, format_quantity

DATA = Path(__file__).parent / "data" / "report"
FIXTURES = [DATA / "py311.json", DATA / "py313.json.gz", DATA / "foreign.json"]
HOSTILE = "<script>alert(1)</script>"


def without_own_script(page: str) -> str:
    """The page without the report's own inline script (its one <script> element)."""
    start = page.index("<script>\n// Sort a table")
    return page[:start] + page[page.index("</script>", start) + len("</script>"):]


def write_cases(path: Path, means: dict[str, list[float]], **metadata: object) -> Path:
    """A bench-style pyperf file: case name -> per-process means (3 values each, +-1%)."""
    benchmarks = []
    for name, process_means in means.items():
        suite, subject, op, shape, size = name.split("/")
        meta = {"name": name, "bench_suite": suite, "bench_subject": subject, "bench_op": op,
                "bench_shape": shape, "bench_size": int(size), "loops": 1000, **metadata}
        benchmarks.append(pyperf.Benchmark([
            pyperf.Run([m * 0.99, m, m * 1.01], metadata=meta, collect_metadata=False)
            for m in process_means]))
    pyperf.BenchmarkSuite(benchmarks).dump(str(path), replace=True)
    return path


@pytest.fixture(scope="module")
def fixture_html() -> str:
    return build_report(FIXTURES, DATA / "capabilities.json")


def section_of(page: str, section_id: str) -> str:
    """The HTML of one <section>."""
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', page, re.S)
    assert match, section_id
    return match.group(1)


# ---------------------------------------------------------------- the fold answers

def fold_data(tmp_path: Path) -> pd.DataFrame:
    """sum: builtin 5x faster than reduce(operator.add); reduce-lambda slowest."""
    means = {"fold/loop/sum/list/1000": [4.0, 4.1, 3.9],
             "fold/reduce-operator/sum/list/1000": [5.0, 5.1, 4.9],
             "fold/reduce-lambda/sum/list/1000": [8.0, 8.2, 7.8],
             "fold/builtin/sum/list/1000": [1.0, 1.02, 0.98],
             "fold/reduce-operator/max/list/1000": [1.0, 1.02, 0.98],
             "fold/loop/max/list/1000": [3.0, 3.1, 2.9]}
    return load_results([write_cases(tmp_path / "folds.json",
                                     {k: [v * 1e-6 for v in vs] for k, vs in means.items()})])


def test_answer_says_builtin_is_faster_than_reduce(tmp_path: Path) -> None:
    lines = fold_answers(find_all(prepare_data(fold_data(tmp_path))))
    assert lines[0].startswith("sum (list of 1000): no: builtin sum is faster; "
                               "reduce(operator.add) against builtin sum: 5.00x slower [")
    low, high = map(float, re.search(r"\[([\d.]+)x, ([\d.]+)x\]", lines[0]).groups())
    assert 4.5 < low < 5.0 < high < 5.5
    assert lines[1].startswith("max (list of 1000): yes: reduce(max) is faster; ")


def test_answer_without_reduce_style(tmp_path: Path) -> None:
    frame = load_results([write_cases(tmp_path / "f.json", {
        "fold/loop/sum/list/10": [1e-6, 1.1e-6], "fold/builtin/sum/list/10": [5e-7, 5e-7]})])
    found = find_all(prepare_data(frame))
    assert "not measured in this run" in fold_answers(found)[0]
    assert found.reduce["winner"].isna().all()


def test_answer_with_overlapping_cis_says_no_clear_difference(tmp_path: Path) -> None:
    frame = load_results([write_cases(tmp_path / "f.json", {
        "fold/loop/sum/list/10": [1.0e-6, 1.3e-6, 0.8e-6],
        "fold/reduce-operator/sum/list/10": [1.05e-6, 1.25e-6, 0.85e-6]})])
    line = fold_answers(find_all(prepare_data(frame)))[0]
    assert ": cannot tell: reduce(operator.add) against the plain loop" in line
    assert "1.02x slower [0.616x, 1.701x]" in line and "same" not in line


def test_reduce_wins_are_counted_from_the_findings(tmp_path: Path) -> None:
    data = prepare_data(fold_data(tmp_path))
    found = find_all(data)
    assert list(found.reduce["winner"]) == ["other", "reduce"]
    answer = bench.report.questions.answer_reduce_claim(data, found)
    assert answer.sentence.startswith("a reduce style was clearly the fastest in 1 of 2 tasks")
    assert answer.verdict == "mixed" and answer.key.startswith("reduce fastest in 1 of 2 tasks")


@pytest.mark.parametrize(("low", "high", "verdict"), [
    (1.06, 1.2, "slower"), (1.01, 1.2, "slower"), (0.8, 0.9, "faster"), (0.97, 1.04, "same"),
    (1.01, 1.04, "same"), (0.9, 1.1, "uncertain"), (float("nan"), 1.0, "uncertain")])
def test_ratio_verdict_speaks_the_gate_words(low: float, high: float, verdict: str) -> None:
    assert bench.report.findings.ratio_verdict(low, high, 0.05) == verdict


# ---------------------------------------------------------------- the page from fixtures

@pytest.mark.slow
def test_every_section_is_there(fixture_html: str) -> None:
    for section in ("questions", "environment", "serializers", "scaling", "folds",
                    "capabilities", "runs", "table", "methods"):
        assert f'<section id="{section}">' in fixture_html


def test_hostile_names_are_escaped(fixture_html: str) -> None:
    assert html.escape(HOSTILE, quote=False) in fixture_html
    assert without_own_script(fixture_html).lower().count("<script") == 0
    assert "<img" not in fixture_html.lower()  # capability error text, shown on hover
    assert "&lt;img src=x onerror=alert(1)&gt;" in fixture_html


def test_hostile_labels_in_figures_are_escaped(tmp_path: Path) -> None:
    name = f"ser/{HOSTILE.replace('/', '|')}/dumps/ints/100"
    path = write_cases(tmp_path / "h.json", {name: [1e-6, 1.1e-6],
                                             "ser/pickle-5/dumps/ints/100": [2e-6, 2e-6],
                                             "ser/pickle-5/loads/ints/100": [2e-6, 2e-6]},
                       payload_bytes=10)
    page = build_report([path])
    assert without_own_script(page).lower().count("<script") == 0
    assert "&lt;script&gt;alert(1)&lt;|script&gt;" in page


def test_page_is_self_contained(fixture_html: str) -> None:
    lowered = without_own_script(fixture_html).lower()
    for needle in ("<script", "<link", "<iframe", "<img", "@import", ' src="', "url(http"):
        assert needle not in lowered, needle
    hrefs = re.findall(r'href="([^"]*)"', fixture_html)
    assert hrefs and all(h.startswith("#") for h in hrefs), hrefs  # no CSV link unless named


def test_figures_are_inline_svg_and_bounded(fixture_html: str) -> None:
    figures = re.findall(r"<figure>(.*?)</figure>", fixture_html, re.S)
    # 2 shapes + pareto, fold + dumps + loads scaling, fold ratios, runs side by side,
    # forest plots of marshal and of the general picklers against pickle
    assert len(figures) == 10
    assert all('<svg class="plot"' in f and "<title>" not in f for f in figures)
    ids = re.findall(r'\bid="([^"]+)"', fixture_html)
    assert len(ids) == len(set(ids))


def test_fold_answers_on_fixture(fixture_html: str) -> None:
    questions = section_of(fixture_html, "questions")
    assert "sum (list of 10000): no: builtin sum is faster" in questions
    assert re.search(r"reduce\(lambda\) over concat \(list\) grows as n\^(1\.9|2\.0)\d "
                     r"\(95% CI \[", questions)
    assert section_of(fixture_html, "folds").count("<li>") == 3


def test_quadratic_folds_stand_out(fixture_html: str) -> None:
    scaling = section_of(fixture_html, "scaling")
    flagged = re.findall(r'<tr class="steep"><td>fold</td><td>([^<]+)</td><td>([^<]+)',
                         scaling)
    assert {("reduce-lambda", "concat"), ("reduce-lambda", "merge")} <= set(flagged)
    assert all(style.startswith("reduce") for style, _ in flagged)


def test_memcpy_percent_only_for_bytes_shapes(fixture_html: str) -> None:
    serializers = section_of(fixture_html, "serializers")
    tables = re.split(r"<summary>", serializers)
    bytes_table = next(t for t in tables if t.startswith("bytes "))
    ints_table = next(t for t in tables if t.startswith("ints "))
    assert re.search(r"<td>\d[\d.]*%</td>", bytes_table)
    assert not re.search(r"<td>\d[\d.]*%</td>", ints_table)
    assert '<td title="pickle.dumps(obj, protocol=5)">pickle-5</td>' in ints_table
    assert "Pareto front" in serializers and '">Sinks' in serializers


def test_capabilities_are_colour_coded_with_hover(fixture_html: str) -> None:
    caps = section_of(fixture_html, "capabilities")
    assert ('<td class="cap-ok" title="loads in a fresh process and works (payload 120 B)">✓ ok</td>'
            in caps)
    assert re.search(r'<td class="cap-error" title="PicklingError: [^"]*&lt;img', caps)
    assert '<th class="cap-skip" title="unavailable: No module named &#39;msgpack&#39;">' in caps
    questions = section_of(fixture_html, "questions")
    assert "code 408x smaller" in questions
    assert "dill.extend(False) restores it" in questions


def test_runs_side_by_side(fixture_html: str) -> None:
    runs = section_of(fixture_html, "runs")
    assert "<th>py313 / py311</th>" in runs
    assert "py313: 0 slower, 0 faster, 0 same, 80 uncertain, 0 missing, 0 new; " in runs
    assert "foreign: no case in common between base (py311) and head (foreign)" in runs
    assert len(re.findall(r'data-run="py313" data-verdict="uncertain"', runs)) == 80


def test_environment_lists_runs_and_warnings(fixture_html: str) -> None:
    environment = section_of(fixture_html, "environment")
    assert "<th>py311</th><th>py313</th><th>foreign</th>" in environment
    assert "other-host" in environment and "3.13.1 (64-bit) revision 0123abc" in environment
    assert "too few processes" not in environment  # every fixture case has 3 processes


def test_warnings_for_unstable_and_single_process(tmp_path: Path) -> None:
    path = write_cases(tmp_path / "w.json", {"fold/loop/sum/list/10": [1e-6],
                                             "fold/builtin/sum/list/10": [1e-6, 2e-6, 3e-6]})
    environment = section_of(build_report([path]), "environment")
    assert "too few processes: 1 cases" in environment
    assert "unstable: 1 cases" in environment


@pytest.mark.parametrize("names", [["foreign.json"], ["py311.json"]])
@pytest.mark.slow
def test_sections_cope_with_absent_cases(names: list[str]) -> None:
    page = build_report([DATA / n for n in names])
    assert page.count('class="missing"') >= (7 if names == ["foreign.json"] else 2)
    assert "Not measured in this run: Not measured" not in page
    if names == ["foreign.json"]:
        assert "Not measured in this run: no serializer (ser/...) cases." in page
        assert "One result file given" in page
        # no claim has its cases: one line and one list, each claim once
        assert "These runs have the cases of none of the claims below" in page
        assert ("<li>“Use reduce whenever speed is required.”: no fold cases with a loop "
                "reference.</li>") in page
    else:  # the claims of the capability matrix, which it lacks: their rows link to one list
        assert page.count('id="q-not-measured"') == 1 and page.count('href="#q-not-measured"') == 3


@pytest.mark.slow
def test_render_report_from_frame_only() -> None:
    frame = load_results([DATA / "py311.json"])
    page = render_report(frame)
    assert page.startswith("<!DOCTYPE html>") and "py311" in page


def test_table_lists_every_case(fixture_html: str) -> None:
    frame = load_results(FIXTURES)
    table = section_of(fixture_html, "table")
    assert table.count("<tr") == len(summarize(frame)) + 1


# ---------------------------------------------------------------- capabilities input

@pytest.mark.parametrize(("content", "words"), [
    ("{not json", "not valid JSON"),
    ('{"schema_version": 2, "serializers": [], "kinds": [], "cells": []}', "schema_version 2"),
    ('{"schema_version": 1, "serializers": [], "kinds": []}', "'cells'"),
    ("[]", "expected a JSON object"),
])
def test_bad_capabilities_is_input_error(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "caps.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(words)):
        read_capabilities(path)


def test_pareto_front() -> None:
    assert pareto_front([1, 2, 3, 2, 1], [3, 1, 2, 4, 3]) == [True, True, False, False, True]


def test_compact_svg_keeps_every_text_and_shape() -> None:
    import io

    import matplotlib
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(bench.report.plots.RC):  # text stays text
        fig, ax = plt.subplots(layout="constrained")
        ax.errorbar([1, 2, 3], [0.123456, 2.5, 40.0], yerr=[0.01, 0.2, 3.0], marker="o")
        ax.set(yscale="log", title="ratio 0.123456 <&>", xlabel="n")
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
        plt.close(fig)
    raw = buffer.getvalue()[buffer.getvalue().index("<svg"):]
    small = bench.report.svg.compact_svg(raw)

    def texts(svg: str) -> list[str]:
        return [t.strip() for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)]

    def shapes(svg: str) -> list[str]:
        return re.findall(r"<(path|use|rect|circle|clipPath)\b", svg)

    assert texts(small) == texts(raw) and "ratio 0.123456 &lt;&amp;&gt;" in texts(small)
    assert shapes(small) == shapes(raw)
    assert len(small) < 0.7 * len(raw)
    referenced = re.findall(r'(?:url\(#|href="#)([^")]+)', small)
    assert referenced and all(f'id="{name}"' in small for name in referenced)
    page_ready = bench.report.svg.clean_svg(raw, "f9")
    classes = re.findall(r' class="(f9-s\d+)"', page_ready)
    rules = dict(re.findall(r"\.(f9-s\d+)\{([^}]*)\}", page_ready))
    assert classes and set(classes) == set(rules)  # every class used is defined, in the figure
    assert page_ready.count(' style="') + len(classes) == raw.count(' style="')
    assert not re.search(r'<[a-z]+ [^>]*class="[^"]*"[^>]*class=', page_ready)
    assert texts(page_ready) == texts(raw) and len(page_ready) < 0.5 * len(raw)


# ---------------------------------------------------------------- the CLI end to end

@pytest.mark.slow
def test_cli_report_writes_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "new" / "dir" / "index.html"
    args = ["report", *map(str, FIXTURES), "--capabilities", str(DATA / "capabilities.json"),
            "-o", str(out)]
    assert main(args) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<section id="capabilities">' in page
    assert f"wrote {out}" in capsys.readouterr().err
    assert main(args) == 0  # regenerating overwrites


@pytest.mark.slow
def test_cli_report_writes_the_csv_beside_the_page(tmp_path: Path) -> None:
    page_path, exported = tmp_path / "reports" / "my page.html", tmp_path / "export.csv"
    files = [str(DATA / "py311.json"), str(DATA / "foreign.json")]
    assert main(["report", *files, "-o", str(page_path)]) == 0
    assert main(["export", *files, "--csv", str(exported)]) == 0
    beside = tmp_path / "reports" / "my page.csv"
    assert beside.read_bytes() == exported.read_bytes()  # bench export's rows and columns
    page = page_path.read_text(encoding="utf-8")
    table = section_of(page, "table")
    assert '<a href="my%20page.csv" download>Every case as CSV (my page.csv' in table
    rows = re.findall(r"<tr(?: class=\"[^\"]*\")?><td>", table)
    assert len(pd.read_csv(beside)) == len(rows) == 82


def test_cli_export_writes_summary_csv(tmp_path: Path) -> None:
    out = tmp_path / "summary.csv"
    assert main(["export", str(DATA / "py311.json"), str(DATA / "foreign.json"),
                 "--csv", str(out)]) == 0
    csv = pd.read_csv(out)
    expected = summarize(load_results([DATA / "py311.json", DATA / "foreign.json"]))
    assert len(csv) == len(expected) == 82
    for column in ("run", "benchmark", "median", "mean", "stdev", "iqr", "n_processes",
                   "n_values", "ci_low", "ci_high", "rel_half_width", "payload_bytes",
                   "peak_alloc_bytes"):
        assert column in csv.columns, column
    row = csv[csv["benchmark"] == HOSTILE].iloc[0]
    assert row["ci_low"] == pytest.approx(expected.set_index("benchmark").loc[HOSTILE, "ci_low"])
    assert row["n_processes"] == 3 and row["n_values"] == 9


@pytest.mark.parametrize("command", ["report", "export"])
def test_cli_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               command: str) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("", encoding="utf-8")
    out = ["-o", str(tmp_path / "r.html")] if command == "report" else ["--csv",
                                                                        str(tmp_path / "s.csv")]
    assert main([command, str(empty), *out]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ERROR: {empty}: empty file") and "Traceback" not in err


def test_cli_unwritable_output_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    assert main(["report", str(DATA / "py311.json"), "-o", str(blocker / "index.html")]) == 2
    assert capsys.readouterr().err.startswith("ERROR: ")
    assert main(["export", str(DATA / "py311.json"), "--csv", str(tmp_path)]) == 2


def test_cli_bad_capabilities_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    caps = tmp_path / "caps.json"
    caps.write_text(json.dumps({"schema_version": 9}), encoding="utf-8")
    assert main(["report", str(DATA / "py311.json"), "--capabilities", str(caps),
                 "-o", str(tmp_path / "r.html")]) == 2
    assert "schema_version 9" in capsys.readouterr().err


def test_code_sent_by_reference_is_not_counted_as_code() -> None:
    def cells(name: str, code: dict[str, object]) -> list[dict[str, object]]:
        data = {"outcome": "ok", "payload_bytes": 30_000}
        return [{"kind": CODE_KIND, "serializer": name, **code},
                {"kind": DATA_KIND, "serializer": name, **data}]
    caps = {"cells": [*cells("dill", {"outcome": "ok", "payload_bytes": 300}),
                      *cells("pickle-5", {"outcome": "same-process-only", "payload_bytes": 38})]}
    answer = answer_code_claim(caps)
    assert answer.verdict == "true" and answer.key == "dill: code 100x smaller"
    table = answer.evidence[0]
    assert [[c.text for c in row] for row in table.rows] == [
        ["dill", "300 B", "30.0 kB", "100x", "yes"],
        ["pickle-5", "38.0 B", "30.0 kB", "789x", "no (same-process-only)"]]


def test_reference_row_has_ratio_exactly_one(tmp_path: Path) -> None:
    folds = find_all(prepare_data(fold_data(tmp_path))).folds
    loops = folds[folds["subject"] == "loop"]
    assert (loops["ratio"] == 1).all() and (loops["ratio_low"] == 1).all()


@pytest.mark.slow
def test_failed_cases_are_listed(tmp_path: Path) -> None:
    path = write_cases(tmp_path / "f.json", {"fold/loop/sum/list/10": [1e-6, 1e-6, 1e-6]})
    data = json.loads(path.read_text(encoding="utf-8"))
    data["bench_failures"] = [{"name": "ser/json/dumps/bytes/10", "reason": f"{HOSTILE} bad"}]
    path.write_text(json.dumps(data), encoding="utf-8")
    environment = section_of(build_report([path]), "environment")
    assert "1 case(s) failed their correctness check" in environment
    assert f"<td>{html.escape(HOSTILE, quote=False)} bad</td>" in environment
    assert "No case failed" in section_of(build_report(FIXTURES[:1]), "environment")


# ---------------------------------------------------------------- the report and the gate agree

BASE_RUN = DATA / "verdict-base.json"
HEADS = {"slower": DATA / "verdict-slower.json", "drift": DATA / "verdict-drift.json"}


def gate_verdicts(base: Path, head: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """case -> verdict of `bench compare BASE HEAD --format json`."""
    assert main(["compare", str(base), str(head), "--format", "json"]) in (0, 1)
    return {c["benchmark"]: c["verdict"] for c in json.loads(capsys.readouterr().out)["cases"]}


def report_verdicts(tmp_path: Path, *args: str) -> dict[str, str]:
    """case -> verdict of the run comparison of `bench report ARGS` (one other run)."""
    out = tmp_path / "index.html"
    assert main(["report", *args, "-o", str(out)]) == 0
    runs = section_of(out.read_text(encoding="utf-8"), "runs")
    cells = re.findall(r'data-case="([^"]*)" data-run="[^"]*" data-verdict="([^"]*)"', runs)
    assert len(cells) == len(dict(cells)), "one verdict per case"
    return {html.unescape(case): verdict for case, verdict in cells}


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.slow
def test_report_gives_the_gate_verdict_of_every_case(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], head: str) -> None:
    gate = gate_verdicts(BASE_RUN, HEADS[head], capsys)
    if head == "slower":
        assert gate["fold/builtin/sum/list/1000"] == "slower"
        assert list(gate.values()).count("slower") == 1
    else:
        assert gate["fold/numpy/sum/list/1000"] == "new"
    assert report_verdicts(tmp_path, str(BASE_RUN), str(HEADS[head])) == gate


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.slow
def test_the_older_run_is_the_base_whatever_the_order(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], head: str) -> None:
    gate = gate_verdicts(BASE_RUN, HEADS[head], capsys)
    assert report_verdicts(tmp_path, str(HEADS[head]), str(BASE_RUN)) == gate
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Base: verdict-base (the run that started first)" in page
    assert f"<th>verdict-{head} / verdict-base</th>" in page


@pytest.mark.slow
def test_base_option_names_the_base(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = HEADS["slower"]
    gate = gate_verdicts(head, BASE_RUN, capsys)
    assert gate["fold/builtin/sum/list/1000"] == "faster"
    for named in ("verdict-slower", str(head)):
        assert report_verdicts(tmp_path, str(BASE_RUN), str(head), "--base", named) == gate
        assert "Base: verdict-slower (named with --base)" in (tmp_path / "index.html").read_text(
            encoding="utf-8")


def test_threshold_reaches_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = HEADS["slower"]
    assert main(["compare", str(BASE_RUN), str(head), "--format", "json", "--threshold", "40"]) == 0
    gate = {c["benchmark"]: c["verdict"] for c in json.loads(capsys.readouterr().out)["cases"]}
    assert gate["fold/builtin/sum/list/1000"] != "slower"
    assert report_verdicts(tmp_path, str(BASE_RUN), str(head), "--threshold", "40") == gate


def test_unknown_base_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(BASE_RUN), str(HEADS["slower"]), "--base", "nope",
                 "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ERROR: --base nope: not one of the runs given") and err.count("\n") == 1


def test_slower_is_red_and_faster_green(tmp_path: Path) -> None:
    page = build_report([HEADS["slower"], BASE_RUN])
    runs = section_of(page, "runs")
    assert re.search(r'<td class="verdict-slower" [^>]*data-case="fold/builtin/sum/list/1000"',
                     runs)
    assert "td.verdict-slower { color: #b30000" in page
    assert "1 slower, 0 faster" in runs and "geometric mean of 16 cases" in runs


# ---------------------------------------------------------------- facts read from the registries

def test_capability_kind_facts_come_from_the_catalogue() -> None:
    from bench.subjects.capability_kinds import KINDS

    assert bench.report.questions.CODE_KIND == "builder-function"
    assert bench.report.questions.DATA_KIND == "built-data"
    assert set(bench.report.questions.FUNCTION_KINDS) == {
        "lambda", "closure", "recursive-function", "function-with-global", "main-function",
        "top-level-function"}
    assert all(k.group == "code" for k in KINDS if k.is_function)


def test_plot_styles_are_the_registry_entries() -> None:
    from bench.subjects.folds import STYLES
    from bench.subjects.serializers import SERIALIZERS

    for entry in [*SERIALIZERS.values(), *STYLES.values()]:
        assert bench.report.plots.style_of(entry.name) == (entry.color, entry.marker)
    styles = bench.report.plots.registry_styles()
    assert len(set(styles.values())) == len(styles)  # the memcpy reference included
    assert bench.report.sections.bytes_heavy_shapes() == ["bytes", "ndarray"]


def test_every_subject_has_a_colour_of_its_own() -> None:
    import colorsys

    from bench.subjects.folds import STYLES
    from bench.subjects.serializers import SERIALIZERS

    subjects = {e.name: e.color.lower() for e in [*SERIALIZERS.values(), *STYLES.values()]}
    subjects["memcpy"] = bench.report.plots.style_of("memcpy")[0].lower()
    by_colour: dict[str, list[str]] = {}
    for name, colour in subjects.items():
        by_colour.setdefault(colour, []).append(name)
    assert {c: n for c, n in by_colour.items() if len(n) > 1} == {}
    hls = [colorsys.rgb_to_hls(*(int(SERIALIZERS[f"pickle-{p}"].color[i:i + 2], 16) / 255
                                 for i in (1, 3, 5))) for p in range(6)]
    hues = [h for h, _, _ in hls]
    assert max(hues) - min(hues) < 0.05  # one hue: within 18 degrees (ColorBrewer Blues)
    assert [light for _, light, _ in hls] == sorted((light for _, light, _ in hls), reverse=True)


def test_forest_plot_colours_a_row_by_its_serializer() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    rows = pd.DataFrame({"subject": ["dill ints", "dill text", "json ints"],
                         "identity": ["dill", "dill", "json"], "ratio": [2.0, 3.0, 1.5],
                         "ci_low": [1.9, 2.8, 1.4], "ci_high": [2.1, 3.2, 1.6]})
    fig, ax = plt.subplots()
    bench.report.plots.draw_dots(ax, rows, "ratio", 1.0)
    lines = [to_hex(c) for c in ax.collections[0].get_colors()]
    plt.close(fig)
    style = bench.report.plots.style_of
    assert lines == [style("dill")[0].lower()] * 2 + [style("json")[0].lower()]


def test_a_case_that_faults_on_every_call_is_explained(tmp_path):
    from bench.frame import load_results, summarize
    from bench.report.findings import check_cases

    runs = []
    for faults in (500.0, 0.2):
        name = f"ser/pickle-5/dumps/bytes/{1000000 if faults > 1 else 1000}"
        runs.append(pyperf.Benchmark([pyperf.Run(
            [0.001, 0.00101], warmups=[(16, 0.001)],
            metadata={"name": name, "bench_suite": "ser", "bench_subject": "pickle-5",
                      "bench_op": "dumps", "bench_shape": "bytes", "bench_size": int(name.split("/")[-1]),
                      "minor_faults_per_call": faults, "loops": 16}, collect_metadata=False)
            for _ in range(3)]))
    path = tmp_path / "faults.json"
    pyperf.BenchmarkSuite(runs).dump(str(path))
    problems = check_cases(summarize(load_results([path])))
    faulty = problems[problems["kind"] == "page faults"]
    assert list(faulty["benchmark"]) == ["ser/pickle-5/dumps/bytes/1000000"]
    assert "500 minor page faults per call" in faulty["problem"].iloc[0]


def test_wide_ci_is_never_called_same() -> None:
    from bench.report.findings import ratio_verdict
    from bench.text import verdict_label
    assert ratio_verdict(0.711, 1.92) == "uncertain"
    assert verdict_label(ratio_verdict(0.711, 1.92)) == "cannot tell"
    assert ratio_verdict(0.98, 1.03) == "same"


def test_exponent_whose_ci_reaches_both_sides_of_the_bar_cannot_tell() -> None:
    from bench.report.findings import growth_class
    assert growth_class(1.6, 0.44, 2.79) == "cannot tell"
    assert growth_class(2.5, -0.89, 4.11) == "cannot tell"
    assert growth_class(1.98, 1.95, 2.01) == "steep"


def test_two_runs_read_older_as_base_and_name_a_regression(tmp_path: Path) -> None:
    cases = {f"ser/json/dumps/ints/{n}": [1e-6, 1.01e-6, 0.99e-6, 1e-6, 1.005e-6]
             for n in (10, 20, 30)}
    old = write_cases(tmp_path / "old.json", cases)
    slow = {name: [v * (1.2 if name.endswith("/10") else 1.0) for v in values]
            for name, values in cases.items()}
    new = write_cases(tmp_path / "new.json", slow)
    for path, day in ((old, "2026-01-01"), (new, "2026-01-02")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for entry in data["benchmarks"]:
            for run in entry["runs"]:
                run.setdefault("metadata", {})["date"] = f"{day}T10:00:00"
        path.write_text(json.dumps(data), encoding="utf-8")
    page = build_report([new, old])  # the newer file first: the base is still the older run
    runs = section_of(page, "runs")
    assert "Base: old (the run that started first)" in runs
    assert "new against old (new / old)" in runs
    top = runs[runs.index("new: top regressions"):runs.index("new: top improvements")]
    assert "ser/json/dumps/ints/10: 1.20x slower" in top
    assert "ser/json/dumps/ints/20" not in top
    summary = summarize(load_results([old, new])).set_index(["run", "benchmark"])
    row = re.search(r"<tr><td>ser/json/dumps/ints/10</td>(.*?)</tr>", runs).group(1)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    for run, (mean, ci) in (("old", cells[0:2]), ("new", cells[2:4])):
        case = summary.loc[(run, "ser/json/dumps/ints/10")]
        assert mean == format_quantity(case["mean"], "second")
        assert ci == format_interval(case["ci_low"], case["ci_high"], "second")
    assert cells[4].startswith("1.20x slower [")


# ---------------------------------------------------------------- noise where numbers are read

def test_noisy_numbers_carry_the_mark(tmp_path: Path) -> None:
    steady = [1.0, 1.01, 0.99, 1.0, 1.005]
    means = {"ser/pickle-5/dumps/ints/100": steady, "ser/pickle-5/loads/ints/100": steady,
             "ser/marshal/dumps/ints/100": [0.5, 0.9, 0.3, 0.7, 0.4],  # CI about +-45%
             "ser/marshal/loads/ints/100": [0.5 * v for v in steady],
             "fold/loop/sum/list/100": steady, "fold/builtin/sum/list/100": [0.5 * v for v in steady],
             "fold/reduce-operator/sum/list/100": [2.0, 3.5, 1.2, 2.8, 1.6]}
    path = write_cases(tmp_path / "noisy.json", {k: [v * 1e-6 for v in vs] for k, vs in means.items()},
                       payload_bytes=100)
    page = build_report([path])
    serializers = section_of(page, "serializers")
    marked = re.findall(r'<td class="noisy" title="([^"]*)">([^<]*)</td>', serializers)
    assert len(marked) == 1 and marked[0][1].endswith(" ⚠"), marked  # marshal dumps only
    assert marked[0][0].startswith("unstable: the stdev is") and "wide CI: ±" in marked[0][0]
    questions = section_of(page, "questions")
    key = re.search(r'<td class="noisy" title="([^"]*)">(reduce fastest[^<]*)</td>', questions)
    assert key and "reduce-operator: unstable" in key.group(1) and key.group(2).endswith("⚠")
    assert "sum (list of 100): no: builtin sum is faster" in questions
    ratios = re.findall(r'<td class="verdict-\w+ noisy" title="([^"]*)">', page)
    assert ratios and all("unstable" in t or "wide CI" in t for t in ratios)
    steady_rows = re.findall(r"<tr><td>sum</td>.*?</tr>", section_of(page, "folds"))
    assert [("⚠" in row) for row in steady_rows] == [False, False, True]  # loop, builtin, reduce


# ---------------------------------------------------------------- no ranking of ties

def test_serializers_the_gate_cannot_tell_apart_share_a_rank(tmp_path: Path) -> None:
    steady = [1.0, 1.01, 0.99, 1.0, 1.005]
    means = {"ser/json/dumps/ints/100": steady, "ser/json/loads/ints/100": steady,
             "ser/orjson/dumps/ints/100": [0.95, 1.3, 1.05, 1.2, 1.1],  # fastest half 1.03, CI wide
             "ser/orjson/loads/ints/100": [1.0, 1.02, 0.98, 1.01, 0.99],
             "ser/cbor2/dumps/ints/100": [2.0 * v for v in steady],  # clearly slower
             "ser/cbor2/loads/ints/100": [2.0 * v for v in steady]}
    path = write_cases(tmp_path / "ties.json", {k: [v * 1e-6 for v in vs] for k, vs in means.items()},
                       payload_bytes=100)
    data = prepare_data(load_results([path]))
    ranks = find_all(data).ranks
    assert list(zip(ranks["subject"], ranks["rank"], ranks["tied"], strict=True)) == [
        ("json", 1, ""), ("orjson", 1, "json"), ("cbor2", 3, "")]
    page = build_report([path])
    serializers = section_of(page, "serializers")
    assert "fastest round trip: json, tied with orjson" in serializers
    assert re.findall(r"<tr><td[^>]*>(=?\d)</td><td[^>]*>(\w+)</td>", serializers) == [
        ("1", "json"), ("=1", "orjson"), ("3", "cbor2")]
    labels = re.findall(r"<text[^>]*>(=?\d \w+)</text>", serializers)
    assert labels[:3] == ["1 json", "=1 orjson", "3 cbor2"]  # the dumps panel's axis


# ---------------------------------------------------------------- figures

def test_pareto_points_carry_the_ci_of_the_round_trip() -> None:
    rows = pd.DataFrame({"shape": "ints", "size": 10, "subject": ["a", "a", "b", "b"],
                         "op": ["dumps", "loads"] * 2, "mean": [10.0, 20.0, 5.0, 5.0],
                         "ci_low": [9.0, 17.0, 4.0, 4.0], "ci_high": [11.0, 23.0, 6.0, 6.0],
                         "payload_bytes": [100.0, 100.0, 300.0, 300.0]})
    points = pareto_points(rows).set_index("subject")
    half = 10 ** 0.5  # sqrt(1 + 9)
    assert points.loc["a", "time"] == 30.0
    assert points.loc["a", ["time_low", "time_high"]].tolist() == pytest.approx([30 - half, 30 + half])
    assert points["front"].tolist() == [True, True]


def test_figures_have_no_offset_ticks_and_show_pareto_cis() -> None:
    points = pd.DataFrame({"shape": "bytes", "size": 100000, "subject": ["pickle-5", "json", "dill"],
                           "payload_bytes": [100005.0, 100007.0, 100009.0],
                           "time": [4e-6, 6e-6, 13e-6], "time_low": [3.5e-6, 5e-6, 12e-6],
                           "time_high": [4.5e-6, 7e-6, 14e-6], "front": [True, False, False]})
    svg = bench.report.plots.plot_pareto(points)
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert texts and not any(t.startswith(("+", "−", "-")) or "e+" in t or "1e" in t
                             for t in texts), texts
    json_colour = bench.report.plots.style_of("json")[0].lower()
    assert f"stroke: {json_colour}; stroke-width: 1.2" in svg.lower()  # its CI bar


def test_legend_fits_the_figure() -> None:
    import matplotlib
    import matplotlib.pyplot as plt

    from bench.subjects.folds import STYLES

    with matplotlib.rc_context(bench.report.plots.RC):
        fig, _ = bench.report.plots.make_grid(1, 3, 3.2, 2.6)
        bench.report.plots.add_legend(fig, list(STYLES), "fold style")
        fig.canvas.draw()
        box = fig.legends[0].get_window_extent()
        width = fig.get_figwidth() * fig.dpi
        plt.close(fig)
    assert box.x0 >= 0 and box.x1 <= width, (box, width)


def test_a_round_trip_clearly_slower_ranks_below_even_with_one_op_faster() -> None:
    from bench.report.findings import is_clearly_slower

    def op(mean: float, half: float) -> dict[str, float]:
        return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half}

    ops = {("marshal", "dumps"): op(1.2, 0.02), ("marshal", "loads"): op(3.5, 0.05),
           ("msgpack", "dumps"): op(5.0, 0.05), ("msgpack", "loads"): op(3.3, 0.05),
           ("json", "dumps"): op(1.3, 0.4), ("json", "loads"): op(3.5, 0.4)}
    assert is_clearly_slower(ops, "msgpack", "marshal")  # 8.3 against 4.7, loads faster
    assert not is_clearly_slower(ops, "json", "marshal")  # 4.8 +- 0.57: cannot tell
    assert not is_clearly_slower(ops, "marshal", "msgpack")


def test_a_round_trip_whose_ci_passes_a_floats_range_is_not_clearly_slower() -> None:
    from bench.report.findings import is_clearly_slower

    # two processes 100x apart: a fastest half of 2 has 1 df (t = 12.7), so the CI of a
    # 1 µs loads reaches 4 ms and the round trip's relative half-width is ~1000 > log(1.8e308)
    ops = {("a", "dumps"): {"mean": 1e-6, "ci_low": 1e-7, "ci_high": 1e-5},
           ("a", "loads"): {"mean": 1e-6, "ci_low": 5e-10, "ci_high": 4e-3},
           ("b", "dumps"): {"mean": 1e-7, "ci_low": 0.99e-7, "ci_high": 1.01e-7},
           ("b", "loads"): {"mean": 1e-7, "ci_low": 0.99e-7, "ci_high": 1.01e-7}}
    assert not is_clearly_slower(ops, "a", "b")  # was OverflowError: math range error
    assert not is_clearly_slower(ops, "b", "a")


def test_a_busy_runs_round_trips_past_a_floats_range_share_a_rank(tmp_path: Path) -> None:
    """Issue 27: `bench report` of a run whose process means spread ~50% raised OverflowError."""
    import math
    import sys

    import numpy as np

    from bench.report.findings import at_representative_size, round_trip

    data = json.loads((Path(__file__).parents[1] / "results" / "baseline.json").read_text())
    rng = np.random.default_rng(27)
    for benchmark in data["benchmarks"]:
        for run in benchmark["runs"]:
            if run.get("values"):
                factor = float(rng.lognormal(0.0, 0.5))  # the process's share of a busy machine
                run["values"] = [value * factor for value in run["values"]]
    path = tmp_path / "busy.json"
    path.write_text(json.dumps(data))
    found = find_all(prepare_data(load_results([path])))
    shown = at_representative_size(found.ser_ops)
    wide = []
    for (shape, size), rows in shown.groupby(["shape", "size"]):
        ops = {(str(r["subject"]), str(r["op"])): r for _, r in rows.iterrows()}
        for subject in rows["subject"].unique():
            total, half = round_trip(ops, str(subject), ["dumps", "loads"])
            if half / total > math.log(sys.float_info.max):
                wide.append((shape, size, subject))
    assert len(wide) >= 3  # the round trips whose interval overflowed math.exp
    ranks = found.ranks.set_index(["shape", "size", "subject"])
    assert len(ranks) == len(shown) // 2  # every subject of every shape shown is ranked
    for key in wide:  # never ranked apart from the subject above it
        assert ranks.loc[key, "rank"] == 1 or ranks.loc[key, "tied"] != "", key


def test_ship_tables_give_every_time_its_ci(tmp_path: Path) -> None:
    steady = [1.0, 1.01, 0.99, 1.0, 1.005]
    means = {"ship/process-pool/empty/none/1": steady,
             "ship/process-pool/data/ints/1000": [3.0 * v for v in steady],
             "ship/process-pool/code/ints/1000": [2.0, 2.6, 1.5, 2.2, 1.7],  # noisy
             "ship/pipes/stencil-x1/grid/64": [4.0 * v for v in steady],
             "ship/pipes/stencil-x2/grid/64": [2.5 * v for v in steady]}
    path = write_cases(tmp_path / "ship.json", {k: [v * 1e-3 for v in vs] for k, vs in means.items()},
                       payload_bytes=100, comm_share=0.2)
    summary = summarize(load_results([path])).set_index("benchmark")
    ship = section_of(build_report([path]), "ship")
    for case in means:
        row = summary.loc[case]
        assert format_interval(row["ci_low"], row["ci_high"], "second") in ship, case
    code = format_quantity(summary.loc["ship/process-pool/code/ints/1000", "mean"], "second")
    assert re.search(rf'<td class="noisy" title="unstable[^"]*">{code} ⚠</td>', ship)
    assert ship.count("⚠") == 1
