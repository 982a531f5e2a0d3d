"""Every command answers bad input with exit code 2 and one `ERROR:` line, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.cli import COMMANDS, main

BAD = Path(__file__).parent / "data" / "bad"
GOOD = BAD / "good.json"
VALID_BUT_INCOMPATIBLE = {"good.json", "bytes-unit.json", "disjoint-cases.json"}
BAD_FILES = sorted(p.name for p in BAD.iterdir() if p.name not in VALID_BUT_INCOMPATIBLE)
MISSING = "no-such-file.json"


def bad_path(name: str) -> str:
    return str(BAD / name)


def file_commands(path: str, tmp: Path) -> dict[str, list[str]]:
    """Each command that reads result files, given one bad file."""
    return {
        "report": ["report", path, "-o", str(tmp / "r.html")],
        "report-capabilities": ["report", str(GOOD), "--capabilities", path,
                                "-o", str(tmp / "r.html")],
        "export": ["export", path, "--csv", str(tmp / "s.csv")],
        "compare-base": ["compare", path, str(GOOD)],
        "compare-head": ["compare", str(GOOD), path],
        "compare-glob": ["compare", "--base", path, str(GOOD)],
        "sensitivity": ["sensitivity", str(GOOD), str(GOOD), path],
        "run-append": ["run", "--profile", "smoke", "-k", "ref/*", "-o", path, "--append"],
        "run-costs": ["run", "--profile", "smoke", "-k", "ref/*", "--shard", "1/1", "--costs", path,
                      "-o", str(tmp / "r.json")],
        "merge": ["merge", str(GOOD), path, "-o", str(tmp / "m.json")],
        "history": ["history", str(GOOD), path],
    }


def run_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err
    return code, err.strip().splitlines()


def assert_one_line_error(code, lines, *needles):
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), lines
    assert "Traceback" not in lines[0]
    for needle in needles:
        assert needle in lines[0], lines


def test_corpus_has_at_least_fifteen_bad_inputs():
    assert len(BAD_FILES) + 1 + len(VALID_BUT_INCOMPATIBLE) - 1 >= 15


@pytest.mark.parametrize("name", [*BAD_FILES, MISSING])
@pytest.mark.parametrize("command", list(file_commands("x", Path("."))))
def test_bad_file(command, name, tmp_path, capsys):
    path = bad_path(name)
    if command == "run-append" and (BAD / name).is_file():
        path = str(tmp_path / name)  # a run must never write into the corpus
        Path(path).write_bytes((BAD / name).read_bytes())
    argv = file_commands(path, tmp_path)[command]
    code, lines = run_cli(argv, capsys)
    assert_one_line_error(code, lines, name)


@pytest.mark.parametrize(("argv", "needles"), [
    (["compare", str(GOOD), bad_path("disjoint-cases.json")], ["no case in common"]),
    (["compare", str(GOOD), bad_path("bytes-unit.json")], ["unit"]),
    (["compare", str(GOOD)], ["BASE HEAD"]),
    (["sensitivity", str(GOOD), str(GOOD)], ["3"]),
    (["run", "-k", "ser/pikle-5/dumps/ints/1000"], ["matches no case", "did you mean"]),
    (["run", "-k", "ser/nope/*"], ["'ser/nope/*' matches no case"]),
    (["run", "-k", "ser/pickle-5/dumps/ints/1000", "--size", "-5"], ["--size -5"]),
    (["run", "-k", "ser/pickle-5/dumps/ints/1000", "--size", "1000000000"],
     ["--size 1000000000", "GiB"]),
    (["run", "--size", "abc"], ["--size", "abc"]),
    (["run", "-k", "ref/*", "-o", "/proc/bench/x.json"], ["/proc/bench/x.json"]),
    (["run", "-k", "ref/*", "-o", str(GOOD)], ["already exists", "--force"]),
    (["run", "-k", "ref/*", "-o", str(BAD / "a-directory")], ["is a directory"]),
    (["capabilities", "--serializer", "nope"], ["nope"]),
    (["capabilities", "--kind", "nope"], ["nope"]),
    (["capabilities", "--kind", "int", "-o", "/proc/bench/c.json"], ["/proc/bench/c.json"]),
    (["report", str(GOOD), "-o", "/proc/bench/r.html"], ["/proc/bench/r.html"]),
    (["export", str(GOOD), "--csv", "/proc/bench/s.csv"], ["/proc/bench/s.csv"]),
    (["compare", str(GOOD), str(GOOD), "-o", "/proc/bench/c.md"], ["/proc/bench/c.md"]),
    (["ab", "--python", "/no/python", "--python", "/no/python"], ["/no/python"]),
    (["ab", "--python", "/no/python"], ["--python"]),
    (["frobnicate"], ["frobnicate"]),
])
def test_bad_arguments(argv, needles, capsys):
    code, lines = run_cli(argv, capsys)
    assert_one_line_error(code, lines, *needles)


@pytest.mark.parametrize("argv", [
    ["list", "--profile", "nope"],
    ["run", "--profile", "nope"],
    ["ab", "--python", sys.executable, "--python", sys.executable, "--profile", "nope"],
])
def test_unknown_profile_is_one_error_line(argv, capsys):
    code, lines = run_cli(argv, capsys)
    assert_one_line_error(code, lines)
    assert lines == ["ERROR: unknown profile 'nope' (known: smoke, quick, full, scaling, ship, ship-smoke)"]


@pytest.mark.parametrize("command", ["list", "run", "ab"])
def test_profile_help_lists_the_registry(command, capsys, monkeypatch):
    from bench import cases

    extra = cases.Profile("extra", cases.smoke_cases, (), False, "a profile added by a test")
    monkeypatch.setitem(cases.PROFILES, "extra", extra)
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for profile in cases.PROFILES.values():
        assert f"{profile.name}" in text and profile.description in text


def test_every_command_is_covered():
    commands = {argv[0] for argv in file_commands("x", Path(".")).values()}
    commands |= {"list", "capabilities", "ab"}
    assert commands == set(COMMANDS)


def test_debug_shows_the_traceback(capsys):
    code = main(["--debug", "export", bad_path("truncated.json"), "--csv", "/tmp/x.csv"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" in err and err.strip().splitlines()[-1].startswith("ERROR:")
