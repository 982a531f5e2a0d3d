"""Shared fixtures: run the `bench` CLI in a subprocess with the test plugins importable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
PLUGINS = TESTS / "plugins"
RunBench = Callable[..., "subprocess.CompletedProcess[str]"]  # the run_bench fixture


def bench_env() -> dict[str, str]:
    """The environment for a `bench` subprocess: the test plugins on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def run_bench() -> RunBench:
    """Run `python -m bench ARGS...` and return the CompletedProcess (text)."""

    def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                              text=True, env=bench_env(), timeout=timeout)

    return run


def start_bench(args: list[str], **popen: object) -> subprocess.Popen[str]:
    """Start `python -m bench ARGS` (text, test plugins importable) with SIGINT at its default.

    A command started in the background by a shell (`cmd &`, as CI scripts do) inherits SIGINT
    ignored, and Python then never turns it into KeyboardInterrupt: the Ctrl-C tests would
    see a run finish instead of stop. A terminal's foreground job has the default.
    """
    def default_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    return subprocess.Popen([sys.executable, "-m", "bench", *args], text=True, env=bench_env(),
                            preexec_fn=default_sigint, **popen)  # type: ignore[call-overload]


def shown_cases(stderr: str) -> list[str]:
    """The case names of the progress lines `[i/N] CASE: ...`."""
    return [line.split("] ", 1)[1].split(": ", 1)[0] for line in stderr.splitlines()
            if line.startswith("[")]


def interrupt_after(args: list[str], cases: int) -> tuple[list[str], str, int]:
    """Run `python -m bench ARGS`, press Ctrl-C once `cases` cases are shown as finished;
    return the finished case names (those shown before the interrupt took effect too: a
    run shows its cases a save at a time), the rest of stderr and the exit code."""
    proc = start_bench(args, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stderr is not None
    finished: list[str] = []
    for line in proc.stderr:
        finished += shown_cases(line)
        if len(finished) == cases:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    finished += shown_cases(rest)
    return finished, rest, proc.wait(timeout=60)
