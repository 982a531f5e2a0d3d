"""Every command answers bad input with exit code 2 and one `ERROR:` line, never a traceback."""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
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
        "explain-base": ["explain", path, str(GOOD)],
        "explain-head": ["explain", str(GOOD), path],
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
    (["run", "-k", "ser/pickle-5/dumps/ints/1000", "--size", "-5"], ["--size", "'-5'"]),
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
    assert lines == ["ERROR: unknown profile 'nope' (known: smoke, quick, full, scaling, ship, ship-smoke, "
                     "data)"]


@pytest.mark.parametrize("command", ["list", "run", "ab"])
def test_profile_help_lists_the_registry(command, capsys, monkeypatch):
    from bench.run import cases

    extra = cases.Profile("extra", cases.smoke_cases, (), False, "a profile added by a test")
    monkeypatch.setitem(cases.PROFILES, "extra", extra)
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for profile in cases.PROFILES.values():
        assert f"{profile.name}" in text and profile.description in text


def test_every_command_is_covered():
    commands = {argv[0] for argv in file_commands("x", Path(".")).values()}
    commands |= {"list", "capabilities", "ab", "envs"}  # envs: tests/test_env_cache.py
    assert commands == set(COMMANDS)


def test_debug_shows_the_traceback(capsys):
    code = main(["--debug", "export", bad_path("truncated.json"), "--csv", "/tmp/x.csv"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" in err and err.strip().splitlines()[-1].startswith("ERROR:")


# ---------------------------------------------------------------- files that parse but are malformed

def labelled(data: dict) -> dict:
    """GOOD with bench's case labels on each benchmark, as `bench run` writes them."""
    for benchmark in data["benchmarks"]:
        suite, subject, op, shape, size = benchmark["metadata"]["name"].split("/")
        benchmark["metadata"].update(bench_suite=suite, bench_subject=subject, bench_op=op,
                                     bench_shape=shape, bench_size=int(size))
    return data


def twin_case(data: dict) -> None:
    twin = json.loads(json.dumps(data["benchmarks"][0]))
    twin["metadata"]["name"] = "ser/pickle-5/dumps/ints/ten"
    data["benchmarks"].append(twin)


def first_run(data: dict) -> dict:
    """The first run of the first benchmark, with a metadata object."""
    run = data["benchmarks"][0]["runs"][0]
    run.setdefault("metadata", {})
    return run


# cause of a traceback the hostile pass found (finding 9) -> its change to GOOD
MALFORMED = {
    "run-date": lambda d: first_run(d)["metadata"].update(date="not a date"),
    "suite-date": lambda d: d.setdefault("metadata", {}).update(date="yesterday"),
    "date-overflow": lambda d: first_run(d)["metadata"].update(date="9999-12-31 23:59:59",
                                                                duration=3600.0),
    "date-offset": lambda d: first_run(d)["metadata"].update(date="2025-01-01 12:00:00+02:00"),
    "noise-text": lambda d: d.update(bench_noise={"process_cv": "x", "pass_factors": ["a"]}),
    "noise-factors-number": lambda d: d.update(bench_noise={"process_cv": 0.1, "pass_factors": 3}),
    "setup-shard": lambda d: d.update(bench_setup={"profile": "smoke", "shard": "x"}),
    "setup-libraries": lambda d: d.update(bench_setup={"profile": "smoke", "libraries": ["a"]}),
    "setup-commit": lambda d: d.update(bench_setup={"profile": "smoke", "commit": {"a": 1}}),
    "size-1e308": lambda d: d["benchmarks"][0]["metadata"].update(bench_size=1e308),
    "duration-1e308": lambda d: first_run(d)["metadata"].update(duration=1e308),
    "values-1e308": lambda d: first_run(d).update(values=[1e308, 1e308]),
    "values-true": lambda d: first_run(d).update(values=[True, True]),
    "loops-true": lambda d: d["benchmarks"][0]["metadata"].update(loops=True),
    "one-case-two-names": twin_case,
}


def malformed_path(cause: str, tmp: Path) -> str:
    data = labelled(json.loads(GOOD.read_text(encoding="utf-8")))
    MALFORMED[cause](data)
    path = tmp / f"{cause}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("cause", list(MALFORMED))
@pytest.mark.parametrize("command", [c for c in file_commands("x", Path(".")) if "capab" not in c])
def test_a_malformed_file_is_one_error_line(command, cause, tmp_path, capsys):
    path = malformed_path(cause, tmp_path)
    code, lines = run_cli(file_commands(path, tmp_path)[command], capsys)
    assert_one_line_error(code, lines, f"{cause}.json")


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


CAPABILITIES = Path(__file__).parent / "data" / "report" / "capabilities.json"
# a capability file of the wrong types -> its change to a valid one
BAD_CAPABILITIES = {
    "cell-kind-list": lambda d: d["cells"][0].update(kind=[1]),
    "cell-outcome-number": lambda d: d["cells"][0].update(outcome=3),
    "cell-payload-text": lambda d: d["cells"][0].update(outcome="ok", payload_bytes="x"),
    "serializers-text": lambda d: d.update(serializers=["pickle-5"]),
    "kinds-numbers": lambda d: d.update(kinds=[1, 2]),
    "dill-added-number": lambda d: d["dill_extend"].update(added_types=3),
    "schema-true": lambda d: d.update(schema_version=True),
}


@pytest.mark.parametrize("cause", [*BAD_CAPABILITIES, "nested"])
def test_a_malformed_capability_file_is_one_error_line(cause, tmp_path, capsys):
    path = tmp_path / f"{cause}.json"
    if cause == "nested":
        path.write_text(deep(100_000))
    else:
        data = json.loads(CAPABILITIES.read_text(encoding="utf-8"))
        BAD_CAPABILITIES[cause](data)
        path.write_text(json.dumps(data), encoding="utf-8")
    code, lines = run_cli(file_commands(str(path), tmp_path)["report-capabilities"], capsys)
    assert_one_line_error(code, lines, f"{cause}.json")


# ---------------------------------------------------------------- what is not a regular file

SPECIAL_COMMANDS = {
    "report": ["report", "{}", "-o", "{tmp}/r.html"],
    "compare": ["compare", "{}", str(GOOD)],
    "report-capabilities": ["report", str(GOOD), "--capabilities", "{}", "-o", "{tmp}/r.html"],
    "run-resume": ["run", "--profile", "smoke", "-k", "ref/memcpy/copy/bytes/1000", "--resume",
                   "-o", "{}"],
}


def limit_memory() -> None:
    """A child that would read /dev/zero to its end fails at 4 GB instead of filling memory."""
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "gzip-bomb"])
@pytest.mark.parametrize("command", list(SPECIAL_COMMANDS))
@pytest.mark.slow
def test_special_inputs_are_refused_without_blocking(command, special, tmp_path):
    """A FIFO would block the open forever; /dev/zero and a gzip bomb would fill memory."""
    if special == "fifo":
        path = tmp_path / "results.json"
        os.mkfifo(path)
        words = f"{path}: not a regular file (a FIFO)"
    elif special == "gzip-bomb":
        path = tmp_path / "results.json.gz"
        path.write_bytes(gzip.compress(b" " * 30_000_000))  # 30 MB from 30 kB
        words = f"{path}: over 1 MB un-gzipped, the most bench reads"
    else:
        path, words = Path(special), f"{special}: not a regular file (a character device)"
    argv = [arg.format(str(path), tmp=tmp_path) for arg in SPECIAL_COMMANDS[command]]
    done = subprocess.run([sys.executable, "-m", "bench", *argv], capture_output=True, text=True,
                          timeout=30, env={**os.environ, "BENCH_MAX_INPUT_MB": "1"},
                          preexec_fn=limit_memory)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"ERROR: {words}")
