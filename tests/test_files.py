"""Outputs (bench/files.py and the commands that write): never onto an input, never replacing a
device or a link, whole or not at all, one writer per results file; the shared options refuse
what is not a number; an internal error has its own exit code."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bench import files
from bench.cli import main
from bench.cli.options import EXIT_INTERNAL
from bench.errors import OutputError

DATA = Path(__file__).parent / "data"
GOOD = DATA / "bad" / "good.json"
BASE, HEAD = DATA / "compare" / "base-1.json", DATA / "compare" / "head.json"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    return code, capsys.readouterr().err.strip().splitlines()


def assert_refused(code: int, lines: list[str], *needles: str) -> None:
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), lines
    for needle in needles:
        assert needle in lines[0], lines


# ---------------------------------------------------------------- onto an input (finding 2)

@pytest.mark.parametrize("make_argv", [
    lambda x: ["report", str(x), "-o", str(x)],
    lambda x: ["report", str(x), "-o", str(x.with_suffix(".html"))],  # its CSV lands on x.csv: fine
    lambda x: ["export", str(x), "--csv", str(x)],
    lambda x: ["compare", str(x), str(HEAD), "-o", str(x)],
    lambda x: ["compare", str(BASE), str(x), "-o", str(x), "--format", "md"],
    lambda x: ["merge", str(x), "-o", str(x), "--force"],
], ids=["report", "report-elsewhere", "export", "compare-base", "compare-head", "merge"])
def test_a_command_never_writes_onto_what_it_reads(make_argv, tmp_path, capsys):
    x = tmp_path / "x.json"
    shutil.copy(BASE, x)
    before = digest(x)
    argv = make_argv(x)
    code, lines = run_cli(argv, capsys)
    assert digest(x) == before
    if ".html" in " ".join(argv):
        assert code == 0, lines
    else:
        assert_refused(code, lines, "input of this command")


def test_the_report_csv_beside_the_html_is_not_an_input_either(tmp_path, capsys):
    x = tmp_path / "x.csv"  # a results file named .csv: the report's CSV would land on it
    shutil.copy(BASE, x)
    before = digest(x)
    code, lines = run_cli(["report", str(x), "-o", str(tmp_path / "x.html")], capsys)
    assert_refused(code, lines, "input of this command")
    assert digest(x) == before and not (tmp_path / "x.html").exists()


def test_a_hard_link_or_symlink_to_an_input_is_the_input(tmp_path, capsys):
    x = tmp_path / "x.json"
    shutil.copy(BASE, x)
    os.link(x, tmp_path / "hard.json")
    (tmp_path / "soft.json").symlink_to(x)
    before = digest(x)
    for alias in ("hard.json", "soft.json"):
        code, lines = run_cli(["export", str(x), "--csv", str(tmp_path / alias)], capsys)
        assert_refused(code, lines, "input of this command")
    assert digest(x) == before


# ---------------------------------------------------------------- special files and links (finding 3)

def test_a_device_is_written_through_not_replaced(tmp_path, capsys):
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    code, lines = run_cli(["export", str(BASE), "--csv", "/dev/null"], capsys)
    assert code == 0, lines
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_full_device_is_one_error_line():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with pytest.raises(OutputError, match="/dev/full: cannot write"):
        files.write_atomic("/dev/full", "x" * 100)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_symlink_is_followed_and_stays_a_link(tmp_path, capsys):
    target = tmp_path / "real" / "summary.csv"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    code, lines = run_cli(["export", str(BASE), "--csv", str(link)], capsys)
    assert code == 0, lines
    assert link.is_symlink() and target.read_text().startswith("run,") or "case" in target.read_text()
    assert target.read_text() != "old"


def test_a_fifo_without_a_reader_is_refused_not_waited_for(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="no reader"):
        files.write_atomic(str(fifo), "text")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_capabilities_are_not_written_beside_a_device(tmp_path, capsys, monkeypatch):
    from bench.cli import running

    written = []
    monkeypatch.setattr(files, "write_atomic", lambda path, text: written.append(path))
    running.write_capabilities_beside("/dev/null")
    assert written == [] and "not a regular file" in capsys.readouterr().err


# ---------------------------------------------------------------- whole or not at all (finding 8)

def test_a_full_disk_replaces_nothing(tmp_path, monkeypatch):
    first, second = tmp_path / "a.csv", tmp_path / "b.html"
    first.write_text("old a")
    real_fsync = os.fsync
    calls = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    with pytest.raises(OutputError, match="No space left on device"):
        files.write_files([(str(first), "new a"), (str(second), "new b")])
    assert first.read_text() == "old a" and not second.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]  # no temporary copy left


def test_report_leaves_no_csv_when_its_html_cannot_be_written(tmp_path, capsys, monkeypatch):
    real = files.stage_copy

    def stage(path: str, target: str, data: bytes) -> str:
        if target.endswith(".html"):
            raise OutputError(f"{path}: cannot write (No space left on device)")
        return real(path, target, data)

    monkeypatch.setattr(files, "stage_copy", stage)
    code, lines = run_cli(["report", str(BASE), "-o", str(tmp_path / "r.html")], capsys)
    assert_refused(code, lines, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_a_save_that_fails_during_a_run_is_one_line(tmp_path, monkeypatch):
    from bench.cli import progress
    from bench.results import Results, read_results

    results = read_results(BASE)
    results.path = str(tmp_path / "out.json")
    monkeypatch.setattr(files, "stage_copy", lambda *a: (_ for _ in ()).throw(
        OutputError(f"{a[0]}: cannot write (No space left on device)")))
    finished = [{"": type("R", (), {"benchmark": b, "case": None, "error": None, "profile": None})()}
                for b in results.benchmarks[:1]]
    with pytest.raises(OutputError, match="keeps the cases saved before"):
        progress.run_with_progress(iter(finished), 1, {"": Results(path=results.path)})
    assert not (tmp_path / "out.json").exists()


# ---------------------------------------------------------------- one writer (finding 4)

def test_a_second_writer_is_refused_with_the_holder(tmp_path):
    out = str(tmp_path / "r.json")
    with files.lock_output(out, "bench run"):
        child = subprocess.run(
            [sys.executable, "-c", "import sys; from bench import files\n"
             "with files.lock_output(sys.argv[1]): pass", out],
            capture_output=True, text=True, timeout=60)
        assert child.returncode != 0
        assert f"pid {os.getpid()}" in child.stderr and "bench run" in child.stderr
    with files.lock_output(out):  # released: taken again
        pass
    assert not os.path.exists(files.lock_path(out))


def test_a_second_run_on_the_same_output_is_refused(tmp_path, capsys):
    out = str(tmp_path / "r.json")
    with files.lock_output(out, "bench run"):
        code, lines = run_cli(["run", "--profile", "smoke", "-k", "ref/*", "-o", out], capsys)
    assert_refused(code, lines, "in use by another run", f"pid {os.getpid()}")
    assert not os.path.exists(out)


def test_a_killed_save_leaves_nothing_a_history_counts(tmp_path, capsys):
    from bench.cli.history import find_history_files

    out = tmp_path / "r.json"
    shutil.copy(BASE, out)
    stale = tmp_path / (files.temporary_prefix(str(out)) + "abcd1234")
    stale.write_text("{")  # what a SIGKILL during a save leaves
    assert find_history_files([str(tmp_path)]) == [str(out)]
    with files.lock_output(str(out)):
        assert not stale.exists()  # the next writer of r.json removes it


# ---------------------------------------------------------------- options (findings 11, 12)

@pytest.mark.parametrize("argv", [
    ["history", str(BASE), str(HEAD), "--threshold", "nan"],
    ["compare", str(BASE), str(HEAD), "--threshold", "inf"],
    ["report", str(BASE), "--threshold", "-5"],
    ["run", "--budget", "nan"],
    ["run", "--budget", "inf"],
    ["run", "--budget", "-1"],
    ["run", "--target-ci", "nan"],
    ["run", "-p", "0"],
    ["run", "--size", "-3"],
    ["ab", "--python", "x", "--python", "y", "--rounds", "0"],
    ["capabilities", "--timeout", "0"],
    ["run", "-o", ""],
    ["export", str(BASE), "--csv", ""],
    ["compare", str(BASE), str(HEAD), "-o", " "],
])
def test_a_shared_option_that_is_not_a_number_or_a_name_is_refused(argv, capsys):
    code, lines = run_cli(argv, capsys)
    assert_refused(code, lines)


def test_threshold_zero_is_accepted(capsys):
    code, lines = run_cli(["compare", str(BASE), str(HEAD), "--threshold", "0"], capsys)
    assert code in (0, 1), lines


def test_markdown_output_escapes_html_from_names_and_labels(tmp_path, capsys):
    label = "<img src=x onerror=alert(1)>"
    code = main(["history", str(BASE), str(HEAD), "--format", "md", "--label", label,
                 "--label", "b", "--fail-on", "never"])
    out = capsys.readouterr().out
    assert code == 0 and "<img" not in out


# ---------------------------------------------------------------- internal errors (finding 10)

def test_an_internal_error_has_its_own_exit_code(capsys, monkeypatch):
    from bench.cli import reading

    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(reading, "export_summary", broken)
    code, lines = run_cli(["export", str(BASE), "--csv", "/dev/null"], capsys)
    assert code == EXIT_INTERNAL != 1
    assert len(lines) == 1 and lines[0].startswith("ERROR: internal error: ZeroDivisionError")
    assert "--debug" in lines[0]


# ---------------------------------------------------------------- what the hostile corpus found

def test_a_lone_surrogate_from_a_file_is_written_escaped(tmp_path):
    out = tmp_path / "out.csv"
    files.write_atomic(str(out), "host,\ud800\n")
    assert out.read_bytes() == b"host,\\ud800\n"


def test_a_symlink_loop_is_refused_and_stays_a_link(tmp_path, capsys):
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    for argv in (["export", str(BASE), "--csv", str(loop)],
                 ["run", "--profile", "smoke", "-k", "ref/*", "--resume", "-o", str(loop)]):
        code, lines = run_cli(argv, capsys)
        assert_refused(code, lines, "symlink loop")
        assert loop.is_symlink()


def test_a_file_name_with_a_line_break_is_still_one_error_line(tmp_path, capsys):
    code, lines = run_cli(["export", str(tmp_path / "a\nb.json"), "--csv", str(tmp_path / "s.csv")],
                          capsys)
    assert_refused(code, lines, "a\\nb.json")


def test_a_dot_plot_without_rows_warns_nothing():
    import warnings

    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.report.plots import draw_dots

    fig, ax = plt.subplots()
    rows = pd.DataFrame({"subject": [], "mean": [], "ci_low": [], "ci_high": []})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draw_dots(ax, rows, "mean", 1.0)
    plt.close(fig)


def test_an_export_of_a_name_with_a_lone_surrogate_is_written(tmp_path, capsys):
    x = tmp_path / "x.json"  # a serializer's name, wherever it is, ends in an escaped lone surrogate
    x.write_text(BASE.read_text().replace("pickle-5", "pickle-5\\ud800"))
    code, lines = run_cli(["export", str(x), "--csv", str(tmp_path / "s.csv")], capsys)
    assert code in (0, 2), lines
    assert not any("internal error" in line for line in lines)
