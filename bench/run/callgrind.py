"""Valgrind's callgrind: finding it, the client-request shim, its command line and its dump files.

A process under callgrind controls the counting through client requests, which are C macros
of `valgrind/callgrind.h`. SHIM_SOURCE wraps the few it needs in plain C functions; it is
compiled with the system C compiler on first use into a cache directory (named by a hash of
the source, so a changed shim is rebuilt) and loaded with ctypes. Outside valgrind the
requests are a few no-op instructions.

Every `dump_stats_at(label)` makes callgrind write one file with the costs since the last
zeroing: a header (`desc: Trigger: Client Request: LABEL`, `events: Ir`, `summary:` with the
counts), cost lines per function and a `totals:` line. `read_dump` parses the label and the
counts of one file; `read_dump_head` reads a file only as far as its summary.

BENCH_VALGRIND names the valgrind executable (default: `valgrind` on PATH), CC the compiler
(default: `cc`, then `gcc`).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from bench.errors import BenchError

SHIM_SOURCE = """\
#include <valgrind/callgrind.h>

void bench_zero_stats(void) { CALLGRIND_ZERO_STATS; }
void bench_dump_stats_at(const char *label) { CALLGRIND_DUMP_STATS_AT(label); }
void bench_start_instrumentation(void) { CALLGRIND_START_INSTRUMENTATION; }
void bench_stop_instrumentation(void) { CALLGRIND_STOP_INSTRUMENTATION; }
int bench_running_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
"""
# Instrumentation starts off: interpreter start-up and imports run at valgrind's plain speed.
CALLGRIND_OPTIONS = ("--tool=callgrind", "--instr-atstart=no", "-q")
TRIGGER = "desc: Trigger: Client Request: "


class ToolMissing(BenchError):
    """Valgrind or a C compiler that builds the shim is missing (exit code 2)."""


@dataclass(frozen=True)
class Tools:
    """What counting needs: valgrind, its version, the compiled shim and an address-fixing prefix."""

    valgrind: str
    version: str
    shim: str
    setarch: tuple[str, ...] = ()

    def command(self, out_file: str, program: list[str]) -> list[str]:
        """The command that runs `program` under callgrind, dumps going to `out_file`.N."""
        return [*self.setarch, self.valgrind, *CALLGRIND_OPTIONS,
                f"--callgrind-out-file={out_file}", *program]


def find_tools(cache_dir: str = "") -> Tools:
    """Valgrind and the shim (compiled on first use); ToolMissing when either cannot be had."""
    valgrind = os.environ.get("BENCH_VALGRIND") or shutil.which("valgrind") or ""
    if not (os.path.isfile(valgrind) and os.access(valgrind, os.X_OK)):
        where = f"BENCH_VALGRIND={valgrind}" if os.environ.get("BENCH_VALGRIND") else "PATH"
        raise ToolMissing(f"--metric instructions needs valgrind, not found on {where} "
                          "(Debian: apt-get install valgrind)")
    version = run_tool([valgrind, "--version"], "valgrind --version")
    shim = build_shim(cache_dir or default_cache_dir())
    return Tools(valgrind, version, shim, address_fixing_prefix())


def run_tool(command: list[str], what: str) -> str:
    """The first line of a tool's output; ToolMissing when it cannot run or fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolMissing(f"{what}: cannot run it ({exc})") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise ToolMissing(f"{what} failed: {lines[0] if lines else f'exit code {done.returncode}'}")
    return (done.stdout.strip().splitlines() or [""])[0]


def default_cache_dir() -> str:
    """Where the compiled shim is kept: $XDG_CACHE_HOME/bench, or ~/.cache/bench."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "bench")


def build_shim(cache_dir: str) -> str:
    """The shim's shared library in `cache_dir`, compiled (atomically) unless already there."""
    digest = hashlib.sha256(SHIM_SOURCE.encode()).hexdigest()[:16]
    target = os.path.join(cache_dir, f"callgrind-shim-{digest}.so")
    if os.path.exists(target):
        return target
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise ToolMissing("--metric instructions needs a C compiler (cc or gcc, or set CC) "
                          "to build its callgrind shim")
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError as exc:
        raise ToolMissing(f"cannot create the cache directory {cache_dir} ({exc.strerror})") from None
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        source = os.path.join(tmp, "shim.c")
        with open(source, "w", encoding="utf-8") as f:
            f.write(SHIM_SOURCE)
        built = os.path.join(tmp, "shim.so")
        run_tool([compiler, "-shared", "-fPIC", "-O1", "-o", built, source],
                 f"compiling the callgrind shim with {compiler}")
        os.replace(built, target)
    return target


def address_fixing_prefix() -> tuple[str, ...]:
    """`setarch ARCH -R` (address randomization off) when setarch exists and works, else ()."""
    setarch = shutil.which("setarch")
    if not setarch:
        return ()
    prefix = (setarch, platform.machine(), "-R")
    try:
        ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return prefix if ok else ()


class Shim:
    """The client requests, as Python calls (no-ops outside valgrind)."""

    def __init__(self, path: str) -> None:
        self._lib = ctypes.CDLL(path)
        self._lib.bench_dump_stats_at.argtypes = [ctypes.c_char_p]
        self.zero_stats = self._lib.bench_zero_stats
        self.start_instrumentation = self._lib.bench_start_instrumentation
        self.stop_instrumentation = self._lib.bench_stop_instrumentation

    def dump_stats_at(self, label: str) -> None:
        """Make callgrind write the costs since the last zeroing, labelled `label`."""
        self._lib.bench_dump_stats_at(label.encode())

    def on_valgrind(self) -> bool:
        """True when this process runs under valgrind."""
        return bool(self._lib.bench_running_on_valgrind())


def read_dump(text: str) -> tuple[str, dict[str, int]]:
    """The trigger label of one callgrind dump and its event counts.

    The header's `summary:` line is used (so the head of a file suffices), else the
    `totals:` line at its end; both list the counts in the order of the `events:` line.

    >>> read_dump("desc: Trigger: Client Request: a b\\nevents: Ir\\nsummary: 12\\n")
    ('a b', {'Ir': 12})
    """
    label, events = "", []
    found: dict[str, list[int]] = {}
    for line in text.splitlines():
        if line.startswith(TRIGGER):
            label = line[len(TRIGGER):]
        elif line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith(("summary:", "totals:")):
            key, _, numbers = line.partition(":")
            found[key] = [int(n) for n in numbers.split()]
            if key == "summary":
                break  # the header is all it takes
    counts = found.get("summary", found.get("totals"))
    if not events or counts is None:
        raise ValueError("not a callgrind dump: no events or summary line")
    return label, dict(zip(events, counts + [0] * (len(events) - len(counts))))


def read_dump_head(path: str, block: int = 2048) -> str:
    """The text of a dump file up to its `summary:` line (all of it when there is none)."""
    text = ""
    with open(path, encoding="utf-8", errors="replace") as f:
        while chunk := f.read(block):
            text += chunk
            at = text.find("\nsummary:")
            if at >= 0 and "\n" in text[at + 1:]:
                return text
    return text
