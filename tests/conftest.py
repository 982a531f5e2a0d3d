"""Shared fixtures: run the `bench` CLI in a subprocess with the test plugins importable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
PLUGINS = TESTS / "plugins"


def bench_env() -> dict[str, str]:
    """The environment for a `bench` subprocess: the test plugins on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def run_bench():
    """Run `python -m bench ARGS...` and return the CompletedProcess (text)."""

    def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                              text=True, env=bench_env(), timeout=timeout)

    return run
