"""bench.gate.render and `bench compare`: the text, markdown and JSON outputs, goldens, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_gate_rule import DATA, Spec, fixtures, make_frame

from bench.cli import main
from bench.errors import InputError
from bench.gate import render, rule


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `bench ARGS` in-process: exit code, stdout, stderr."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- formats and goldens

golden_args = fixtures.golden_args


@pytest.mark.parametrize("fmt", sorted(fixtures.SUFFIXES))
@pytest.mark.parametrize("name", sorted(fixtures.GOLDENS))
def test_output_matches_golden_file(capsys: pytest.CaptureFixture[str], name: str,
                                    fmt: str) -> None:
    """Byte for byte; rewrite with `python tests/data/compare/make_fixtures.py --goldens`."""
    code, out, err = run_cli(capsys, *golden_args(name, fmt))
    assert code == 1 and err == ""
    assert out == (DATA / f"{name}.{fixtures.SUFFIXES[fmt]}").read_text(encoding="utf-8")


def test_json_is_versioned_and_complete(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, *golden_args("within", "json"))
    document = json.loads(out)
    assert document["schema_version"] == render.SCHEMA_VERSION
    assert document["summary"] == {"slower": 1, "faster": 1, "same": 2, "uncertain": 2,
                                   "missing": 1, "new": 1}
    assert document["regression"] is True
    first = document["cases"][0]
    assert first["benchmark"] == "ser/pickle-5/dumps/records/1000"
    assert set(rule.CASE_COLUMNS) == set(first)


def test_text_uses_pyperf_wording(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, *golden_args("within", "text"))
    assert re.search(r"1\.2\dx slower", out) and re.search(r"1\.2\dx faster", out)
    lines = out.splitlines()
    assert lines[0].startswith("bench compare: head head vs base base-1")
    table = [line for line in lines if line.startswith(("ser/", "fold/"))]
    assert table[0].startswith("ser/pickle-5/dumps/records/1000")


def test_table_speaks_bench_text_units_and_refuses_unknown_formats() -> None:
    cmp = rule.compare_runs(make_frame("b", {"a": 1.5e-7}), make_frame("h", {"a": 1.5e-7}, seed=1))
    row = next(line for line in render.format_comparison(cmp, "text").splitlines()
               if line.startswith("a "))
    assert row.split()[2] == "ns" and row.split()[4] == "ns"  # 1.5e-7 s, with noise
    assert render.summarize_counts(cmp.counts()).startswith("0 slower, 0 faster, 1 same")
    with pytest.raises(InputError, match="unknown format 'html'"):
        render.format_comparison(cmp, "html")


# ---------------------------------------------------------------- the CLI

def test_cli_exit_1_on_a_slowdown_and_0_with_fail_on_never(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cases = {"ser/pickle-5/dumps/ints/100": Spec(1e-6, noise=0.005),
             "ser/json/dumps/ints/100": Spec(5e-6, noise=0.005)}
    base = fixtures.write_suite(tmp_path / "base.json", cases, seed=1)
    slow = {**cases, "ser/json/dumps/ints/100": Spec(6e-6, noise=0.005)}
    head = fixtures.write_suite(tmp_path / "head.json", slow, seed=2)
    code, out, _ = run_cli(capsys, "compare", str(base), str(head))
    assert code == 1 and re.search(r"ser/json/dumps/ints/100 .* 1\.(19|20|21)x slower", out)
    code, _, _ = run_cli(capsys, "compare", str(base), str(head), "--fail-on", "never")
    assert code == 0
    code, _, _ = run_cli(capsys, "compare", str(base), str(base))
    assert code == 0


def test_cli_writes_output_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "summary.md"
    code, out, _ = run_cli(capsys, *golden_args("within", "md"), "-o", str(out_file))
    assert code == 1 and out == ""
    assert out_file.read_text(encoding="utf-8").startswith("### bench compare: **1 slower**")


def one_error_line(err: str) -> str:
    """The single `ERROR: ...` line of stderr (and no traceback)."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: ")
    return lines[0]


def test_cli_no_common_case_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = fixtures.write_suite(tmp_path / "a.json", {"x/1": Spec(1e-6)}, seed=1)
    b = fixtures.write_suite(tmp_path / "b.json", {"y/1": Spec(1e-6)}, seed=2)
    code, out, err = run_cli(capsys, "compare", str(a), str(b))
    assert code == 2 and out == ""
    assert "no case in common" in one_error_line(err)


def test_cli_different_units_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = fixtures.write_suite(tmp_path / "a.json", {"x/1": Spec(1e-6)}, seed=1)
    b = fixtures.write_suite(tmp_path / "b.json", {"x/1": Spec(100.0, unit="byte")}, seed=2)
    code, _, err = run_cli(capsys, "compare", str(a), str(b))
    assert code == 2 and "unit" in one_error_line(err)


def with_python(path: Path, version: str) -> Path:
    """`path` rewritten as measured on Python `version` (pyperf's common metadata)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    document.setdefault("metadata", {})["python_version"] = version
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_compare_says_when_the_runs_ran_on_another_python(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    cases = {"x/1": Spec(1e-6), "y/1": Spec(2e-6)}
    base = with_python(fixtures.write_suite(tmp_path / "base.json", cases, seed=1), "3.11.7 (64-bit)")
    head = with_python(fixtures.write_suite(tmp_path / "head.json", cases, seed=2), "3.11.2 (64-bit)")
    _, out, _ = run_cli(capsys, "compare", str(base), str(head), "--format", "json")
    notes = [n for n in json.loads(out)["notes"] if n.startswith("the runs differ in")]
    assert notes == ["the runs differ in python: 3.11.7 (64-bit) (base, base) vs 3.11.2 (64-bit) "
                     "(head): the comparison measures that difference too"]
    with_python(head, "3.11.7 (64-bit)")
    _, out, _ = run_cli(capsys, "compare", str(base), str(head), "--format", "json")
    assert not [n for n in json.loads(out)["notes"] if n.startswith("the runs differ in")]


@pytest.mark.parametrize("args, message", [
    (["only-one.json"], "give BASE HEAD"),
    (["a.json", "b.json", "c.json"], "give BASE HEAD"),
    (["--base", "base-1.json"], "HEAD run"),
    (["--base", "nothing-*.json", "head.json"], "no file matches"),
    (["missing.json", "head.json"], "missing.json"),
])
def test_cli_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], monkeypatch,
                                  args: list[str], message: str) -> None:
    monkeypatch.chdir(DATA)
    code, _, err = run_cli(capsys, "compare", *args)
    assert code == 2 and message in one_error_line(err)


def test_cli_threshold_is_a_percentage_converted_once(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    """A 3% slowdown is `same` at the default 5% and `slower` with --threshold 2 (percent)."""
    cases = {f"ser/json/dumps/ints/{i}": Spec(5e-6, noise=0.001) for i in range(3)}
    base = fixtures.write_suite(tmp_path / "base.json", cases, seed=1)
    slow = {**cases, "ser/json/dumps/ints/0": Spec(5.15e-6, noise=0.001)}
    head = fixtures.write_suite(tmp_path / "head.json", slow, seed=2)
    code, out, _ = run_cli(capsys, "compare", str(base), str(head), "--format", "json")
    assert code == 0 and json.loads(out)["threshold"] == rule.DEFAULT_THRESHOLD
    code, out, _ = run_cli(capsys, "compare", str(base), str(head), "--format", "json",
                           "--threshold", "2")
    assert code == 1 and json.loads(out)["threshold"] == pytest.approx(0.02)


@pytest.mark.parametrize("command", ["compare", "ab", "sensitivity"])
def test_gate_commands_share_the_threshold_option(capsys: pytest.CaptureFixture[str],
                                                  command: str) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    from bench.metric import INSTRUCTIONS, TIME

    assert f"--threshold PERCENT smallest change that counts, in percent (default: " \
           f"{TIME.threshold:.0%} for wall time, {INSTRUCTIONS.threshold:.0%} for " \
           "instructions)" in out
    assert "--format {text,md,json}" in out


def test_cli_threshold_must_be_a_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "a.json", "b.json", "--threshold", "five"])
    assert exit_info.value.code == 2
    assert "'five' is not a number" in capsys.readouterr().err
