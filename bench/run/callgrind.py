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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError
from bench.run.profiles import TOP, Function, make_profile, short_file

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


# ---------------------------------------------------------------- per-function costs

@dataclass
class FunctionCost:
    """One function's cost in a dump: exclusive (its own lines), inclusive (with its callees),
    and how many times it was called."""

    name: str
    file: str
    obj: str
    exclusive: int = 0
    inclusive: int = 0
    calls: int = 0


NAME_SPACES = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl",
               "fn": "fn", "cfn": "fn"}


def base_name(name: str) -> str:
    """A function's name without callgrind's recursion suffix ('2, '3 ... of deeper levels).

    >>> base_name("_PyEval_EvalFrameDefault'2"), base_name("main")
    ('_PyEval_EvalFrameDefault', 'main')
    """
    head, quote, depth = name.rpartition("'")
    return head if quote and depth.isdigit() else name


def read_functions(lines: Iterable[str], event: str = "Ir") -> dict[tuple[str, str, str], FunctionCost]:
    """Per-function costs of one callgrind dump, keyed by (object, source file, function name).

    Follows the Callgrind format specification: name compression (`fn=(12) name` defines
    id 12, `fn=(12)` refers to it; ob/cob, fl/fi/fe/cfi/cfl and fn/cfn share a table each),
    position columns (`positions:`) before the event columns (`events:`), and `calls=`
    lines whose next cost line is the inclusive cost of that call. A function's recursion
    levels (`f'2`) join `f`: exclusive costs add up; the inclusive cost is that of the
    outermost level (its calls into deeper levels included).

    >>> dump = ["events: Ir", "ob=(1) /lib/a.so", "fl=(1) a.c", "fn=(1) f", "3 5",
    ...         "cfn=(2) g", "calls=2 7", "3 40", "fn=(2)", "7 40"]
    >>> costs = read_functions(dump)
    >>> [(c.name, c.exclusive, c.inclusive, c.calls) for c in costs.values()]
    [('f', 5, 45, 0), ('g', 40, 40, 2)]
    """
    names: dict[str, dict[str, str]] = {"ob": {}, "fl": {}, "fn": {}}
    levels: dict[tuple[str, str, str], FunctionCost] = {}  # (object, file, name with its level)
    column, skip = 0, 1
    ob = fl = ""
    current: FunctionCost | None = None
    callee: dict[str, str] = {}
    call_to: FunctionCost | None = None

    def resolve(kind: str, value: str) -> str:
        table = names[NAME_SPACES[kind]]
        if value.startswith("("):
            number, _, name = value[1:].partition(")")
            name = name.strip()
            if name:
                table[number] = name
            return table.get(number, f"({number})")
        return value.strip()

    def function(obj: str, name: str, file: str) -> FunctionCost:
        found = levels.get((obj, file, name))
        if found is None:
            found = levels[(obj, file, name)] = FunctionCost(name, file, obj)
        return found

    for line in lines:
        if not line or line[0] in "0123456789+-*":
            if current is None or not line:
                continue
            parts = line.split()
            cost = int(parts[skip + column]) if len(parts) > skip + column else 0
            if call_to is not None:
                if call_to is not current:  # a call into a deeper level of itself is its own cost
                    current.inclusive += cost
                call_to = None
            else:
                current.exclusive += cost
                current.inclusive += cost
            continue
        key, equals, value = line.partition("=")
        if equals and key in NAME_SPACES:
            name = resolve(key, value)
            if key == "ob":
                ob = name
            elif key == "fl":
                fl = name
            elif key == "fn":
                current = function(ob, name, fl)
                callee = {}
            elif key[0] == "c":
                callee[key] = name
        elif key == "calls" and current is not None:
            target = function(callee.get("cob", ob), callee.get("cfn", "???"),
                              callee.get("cfi", callee.get("cfl", fl)))
            target.calls += int(value.split()[0])
            call_to, callee = target, {}
        elif line.startswith("events:"):
            found = line.split()[1:]
            column = found.index(event) if event in found else len(found)
        elif line.startswith("positions:"):
            skip = len(line.split()) - 1
    return join_levels(levels.values())


def join_levels(levels: Iterable[FunctionCost]) -> dict[tuple[str, str, str], FunctionCost]:
    """Recursion levels joined: exclusive costs and calls summed, the outermost level's inclusive."""
    joined: dict[tuple[str, str, str], FunctionCost] = {}
    for level in levels:
        name = base_name(level.name)
        into = joined.get((level.obj, level.file, name))
        if into is None:
            joined[(level.obj, level.file, name)] = FunctionCost(name, level.file, level.obj, level.exclusive,
                                                     level.inclusive, level.calls)
            continue
        into.exclusive += level.exclusive
        into.inclusive = max(into.inclusive, level.inclusive)
        if name == level.name:  # the outermost level: only its callers call in from outside
            into.calls = level.calls
    return joined


# ---------------------------------------------------------------- a case's profile

PROFILES_VARIABLE = "BENCH_KEEP_PROFILES"  # "0": counted cases keep no profile


def keep_profile(line: dict[str, Any]) -> dict[str, Any]:
    """A counting process's line with the `profile` of its last value (bench.run.profiles),
    read before its dumps are deleted; the line as it is when it has no value dump, when
    BENCH_KEEP_PROFILES is 0, or when a dump cannot be read (the count still stands)."""
    if "error" in line or not line.get("dumps") or os.environ.get(PROFILES_VARIABLE, "1") == "0":
        return line
    try:
        profile = profile_from_dumps(line["dumps"][-1][0], line["empty"][0], int(line["loops"]))
    except (OSError, ValueError, KeyError, IndexError):
        return line
    return {**line, "profile": profile}


def profile_from_dumps(value_dump: str, empty_dump: str, loops: int, top: int = TOP) -> dict[str, Any]:
    """The profile of one call: the value dump's costs (k = `loops` calls) less the empty
    loop's, per call, the top functions kept."""
    with open(value_dump, encoding="utf-8", errors="replace") as f:
        counted = read_functions(f)
    with open(empty_dump, encoding="utf-8", errors="replace") as f:
        empty = read_functions(f)
    return make_profile(subtract(counted, empty, loops), top)


def subtract(counted: dict[tuple[str, str, str], FunctionCost],
             empty: dict[tuple[str, str, str], FunctionCost], loops: int) -> list[Function]:
    """Per-call costs of each function, (counted - empty) / loops, keyed by object file name,
    short source file and function; functions of no cost left out."""
    rows: dict[tuple[str, str, str], list[float]] = {}
    for sign, costs in ((1, counted), (-1, empty)):
        for cost in costs.values():
            key = (os.path.basename(cost.obj), short_file(cost.file), cost.name)
            row = rows.setdefault(key, [0.0, 0.0, 0.0])
            row[0] += sign * cost.exclusive
            row[1] += sign * cost.inclusive
            row[2] += sign * cost.calls
    return [Function(key[2], key[1], key[0], *(round(v / loops, 2) for v in row))
            for key, row in rows.items() if any(row)]
