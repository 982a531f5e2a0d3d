"""Run the project's commands on a machine that has only Python and pip.

    python dev.py bench [BENCH-RUN-OPTIONS]   quick profile -> results/latest.json, then reports/index.html
    python dev.py test [PYTEST-OPTIONS]       the test suite
    python dev.py lint                        ruff and mypy

The first call creates `.venv` with this interpreter (the standard library's venv) and installs
the project into it with its `all` (the measured libraries), `test` and `lint` extras; later
calls reinstall only when pyproject.toml or those extras have changed. Nothing outside the
checkout is touched. tox (tox.ini) runs the same tests on every installed Python where tox is
available.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / "bench-install.sha256"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
RESULTS = "results/latest.json"
CAPABILITIES = "results/latest.capabilities.json"  # written by the run beside RESULTS
REPORT = "reports/index.html"
EXTRAS = "all,test,lint"  # all: the libraries bench measures (the core installs only the harness)


def install_hash() -> str:
    """What the environment was installed from: pyproject.toml, the extras and this interpreter's
    version."""
    text = (ROOT / "pyproject.toml").read_bytes() + EXTRAS.encode() + sys.version.encode()
    return hashlib.sha256(text).hexdigest()


def ensure_environment() -> None:
    """Create .venv and install the project into it, unless it is already up to date."""
    if STAMP.exists() and STAMP.read_text().strip() == install_hash():
        return
    if not (BIN / "python").exists():
        print(f"dev.py: creating {VENV.relative_to(ROOT)} with {sys.executable}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print(f"dev.py: installing serbench (the bench command) with its extras {EXTRAS}", file=sys.stderr)
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                   check=True, cwd=ROOT)
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "-e", f".[{EXTRAS}]"],
                   check=True, cwd=ROOT)
    STAMP.write_text(install_hash() + "\n")


def call(*argv: str) -> int:
    """Run a program of the environment in the checkout; return its exit code."""
    program = BIN / argv[0]
    return subprocess.run([str(program), *argv[1:]], cwd=ROOT).returncode


def run_bench(options: list[str]) -> int:
    """The quick profile, then the report; the run's exit code (3: some cases failed)."""
    started = time.time()
    code = call("bench", "run", "--profile", "quick", "-o", RESULTS, "--force", *options)
    if code not in (0, 3):
        return code
    matrix = ROOT / CAPABILITIES  # only a profile (or options) that wrote it now
    fresh = matrix.exists() and matrix.stat().st_mtime >= started
    report = call("bench", "report", RESULTS, *(["--capabilities", CAPABILITIES] if fresh else []),
                  "-o", REPORT)
    return code or report


def run_tests(options: list[str]) -> int:
    """pytest over tests/ with the project's settings."""
    return call("python", "-m", "pytest", *options)


def run_lint(options: list[str]) -> int:
    """ruff, then mypy; the first failure's exit code."""
    return call("ruff", "check", "bench", "tests", "scripts", "dev.py", *options) or call("mypy")


COMMANDS = {"bench": run_bench, "test": run_tests, "lint": run_lint}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_environment()
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
