"""Feed a seeded corpus of hostile inputs to every `bench` command that reads a file.

Usage: python scripts/hostile_corpus.py [--seed 27] [--limit N] [--jobs 2] [--format text|json]
                                        [--bench CMD] [--keep DIR]

The corpus (`build_corpus`, 300+ inputs, the same for the same seed): hand-built files (empty,
a directory, a FIFO, symlinks to /dev/zero and /dev/null, a gzip bomb, not UTF-8, not JSON,
JSON arrays, huge numbers, NaN, deep nesting, pyperf JSON with keys missing ...) and
mutations of a valid results file and of a capability matrix (a key deleted, a value of the
wrong type, a boolean, 1e308, negative, a string, a duplicate key ...). Each input goes
through commands that read it (`plan_runs`: every command for the special files, a few in
turn for the other inputs, so that each results command sees about a quarter of them), plus
hostile option values (--threshold nan, -o '', -o onto a symlink to /dev/full, output onto
its own input ...). Every run is a fresh `bench` process in
a folder of its own, with a 10 s timeout, a 4 GB address-space limit, BENCH_MAX_INPUT_MB=5 and,
when this script runs as root, the user nobody (so that no run can replace a node of /dev).

A run fails (`classify_outcome`) on a traceback in stderr, a timeout (a hang), an exit code
outside 0, 1, 2, 3, 130, an exit 2 whose stderr is not one `ERROR:` line, or an input whose
bytes or file type changed (a symlink or FIFO replaced by a regular file included). Prints
"N inputs, M command runs: T tracebacks, H hangs, O overwritten, E bad errors" and the failures
grouped by cause; exit 1 when any run failed, 2 when bench itself could not be started.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import hashlib
import json
import math
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
CAPABILITIES = REPO / "tests" / "data" / "report" / "capabilities.json"
TIMEOUT = 10.0
MEMORY_KB = 4 * 1024 * 1024
DOCUMENTED_EXITS = {0, 1, 2, 3, 130}
NOT_STARTED = {126, 127}  # the shell could not run bench: a broken harness, not a bench bug
TRACEBACK = "Traceback (most recent call last)"
CASE = "ref/memcpy/copy/bytes/1000"
T = TypeVar("T")
JSON = dict[str, Any]
CHILD_ENV = {"BENCH_MAX_INPUT_MB": "5", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}

# Commands over one input X (G, G2: valid runs, C: a valid capability matrix, DIR: a history
# folder holding X and the two valid runs, OUT: a fresh output file).
RESULTS_COMMANDS = {
    "report": ["report", "{X}", "-o", "{OUT}.html"],
    "report --capabilities": ["report", "{X}", "--capabilities", "{C}", "-o", "{OUT}.html"],
    "export": ["export", "{X}", "--csv", "{OUT}.csv"],
    "compare X G": ["compare", "{X}", "{G}"],
    "compare G X md": ["compare", "{G}", "{X}", "--format", "md"],
    "compare G X json": ["compare", "{G}", "{X}", "--format", "json", "-o", "{OUT}.json"],
    "compare --base X G": ["compare", "--base", "{X}", "{G}"],
    "history DIR": ["history", "{DIR}"],
    "sensitivity": ["sensitivity", "{X}", "{G}", "{G2}"],
    "merge": ["merge", "{X}", "{G}", "-o", "{OUT}.json"],
    "report --history": ["report", "{G}", "--history", "{X}", "-o", "{OUT}.html"],
}
HAND_BUILT_COMMANDS = {
    **RESULTS_COMMANDS,
    "history G G2 X": ["history", "{G}", "{G2}", "{X}"],
    "report X -o X": ["report", "{X}", "-o", "{X}"],
    "export X --csv X": ["export", "{X}", "--csv", "{X}"],
    "run --resume": ["run", "--resume", "-o", "{X}", "-k", CASE, "--profile", "smoke",
                     "--no-capabilities"],
    "run --costs": ["run", "--costs", "{X}", "--shard", "1/2", "-k", CASE, "--profile", "smoke",
                    "--no-capabilities", "-o", "{OUT}.json"],
}
CAPABILITY_COMMANDS = {"report --capabilities C": ["report", "{G}", "--capabilities", "{X}",
                                                   "-o", "{OUT}.html"]}
WRITES_INPUT = {"run --resume"}  # resuming into X may rewrite it; only its type must stay

# Hostile option values over valid inputs; GCSV is a valid run named good.csv.
OPTION_RUNS = {
    **{f"{cmd} --threshold {t}": [*args, "--threshold", t]
       for t in ("nan", "-5", "inf", "abc", "0", "1e308", "-inf", "1e-320")
       for cmd, args in (("compare", ["compare", "{G}", "{G2}"]),
                         ("report", ["report", "{G}", "{G2}", "-o", "{OUT}.html"]),
                         ("history", ["history", "{G}", "{G2}"]),
                         ("sensitivity", ["sensitivity", "{G}", "{G2}", "{G}"]))},
    **{f"run --budget {b}": ["run", "--budget", b, "--profile", "smoke", "-k", CASE,
                             "--no-capabilities", "-o", "{OUT}.json"]
       for b in ("nan", "inf", "-1", "0", "abc", "1e308")},
    "run --target-ci nan": ["run", "--target-ci", "nan", "--profile", "smoke", "-k", CASE,
                            "--no-capabilities", "-o", "{OUT}.json"],
    "report -o ''": ["report", "{G}", "-o", ""],
    "export --csv ''": ["export", "{G}", "--csv", ""],
    "compare -o ''": ["compare", "{G}", "{G2}", "-o", ""],
    "merge -o ''": ["merge", "{G}", "{G2}", "-o", ""],
    "run -o ''": ["run", "--profile", "smoke", "-k", CASE, "--no-capabilities", "-o", ""],
    "report -o /dev/full": ["report", "{G}", "-o", "{FULL}"],
    "export --csv /dev/full": ["export", "{G}", "--csv", "{FULL}"],
    "compare -o /dev/full": ["compare", "{G}", "{G2}", "-o", "{FULL}"],
    "merge -o /dev/full": ["merge", "{G}", "{G2}", "-o", "{FULL}", "--force"],
    "report -o /dev/null": ["report", "{G}", "-o", "{NULL}"],
    "report G -o G": ["report", "{G}", "-o", "{G}"],
    "report G.csv (its CSV is G)": ["report", "{GCSV}", "-o", "good.html"],
    "report --capabilities C -o C": ["report", "{G}", "--capabilities", "{C}", "-o", "{C}"],
    "export G --csv G": ["export", "{G}", "--csv", "{G}"],
    "compare A B -o A": ["compare", "{G}", "{G2}", "-o", "{G}"],
    "compare A B -o B": ["compare", "{G}", "{G2}", "-o", "{G2}"],
    "merge A B -o A": ["merge", "{G}", "{G2}", "-o", "{G}"],
    "merge A B -o A --force": ["merge", "{G}", "{G2}", "-o", "{G}", "--force"],
    "run --costs G -o G --force": ["run", "--costs", "{G}", "--shard", "1/2", "-k", CASE,
                                   "--profile", "smoke", "--no-capabilities", "-o", "{G}",
                                   "--force"],
    "report -o a directory": ["report", "{G}", "-o", "{DIR}"],
    "report -o under a file": ["report", "{G}", "-o", "{G2}/out.html"],
    "compare --base glob": ["compare", "--base", "no-such-*.json", "{G}"],
    "report --base a file": ["report", "{G}", "{G2}", "--base", "{C}", "-o", "{OUT}.html"],
}


@dataclass(frozen=True)
class Input:
    """One hostile input: what to make (file, dir, fifo, symlink, missing) and how it is read."""

    name: str
    kind: str = "file"
    data: bytes = b""  # the file's bytes, the link's target, or a dir's one file
    filename: str = "x.json"
    role: str = "results"  # results, capabilities or both
    group: str = "hand-built"
    mode: int = 0o644


@dataclass(frozen=True)
class Job:
    """One command run: an input (or a valid one for an option run) and an argv template."""

    input: Input
    command: str
    argv: tuple[str, ...]


@dataclass
class Outcome:
    """What a run did: exit code (None after a timeout), stderr and the inputs that changed."""

    input: str
    command: str
    argv: list[str]
    returncode: int | None
    stderr: str = ""
    changed: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the valid files

def make_base_results() -> JSON:
    """A valid bench results file (format 2) of four cases, three processes each."""
    names = ["ser/pickle-5/dumps/ints/10", "ser/marshal/dumps/ints/10",
             "fold/loop/sum/list/100", CASE]
    benchmarks = []
    for b, name in enumerate(names):
        suite, subject, op, shape, size = name.split("/")
        meta = {"name": name, "bench_suite": suite, "bench_subject": subject, "bench_op": op,
                "bench_shape": shape, "bench_size": int(size), "subject_version": "stdlib 3.11.7",
                "shape_nbytes": 80, "peak_alloc_bytes": 1105, "bench_imported": "-"}
        if suite == "ser":
            meta["payload_bytes"] = 40 + b
        runs = [{"metadata": {"date": f"2026-01-02 03:0{b}:1{p}.000000", "duration": 0.01,
                              "loops": 1000, "bench_pass": 1},
                 "warmups": [[1000, 1e-6 * (b + 1)]],
                 "values": [1e-6 * (b + 1) * (1 + 0.01 * (p + v)) for v in range(3)]}
                for p in range(3)]
        benchmarks.append({"metadata": meta, "runs": runs})
    return {"version": "1.0", "benchmarks": benchmarks,
            "metadata": {"unit": "second", "hostname": "vm", "python_version": "3.11.7 (64-bit)",
                         "bench_profile": "smoke", "bench_version": "0.1.0", "gc_enabled": 1,
                         "python_implementation": "cpython", "cpu_count": 2},
            "bench_format": 2,
            "bench_failures": [{"name": "ser/dill/dumps/ints/10", "reason": "worker crashed"}],
            "bench_noise": {"process_cv": 0.01, "cases": 4, "pass_factors": [1.0], "passes": 1,
                            "target_ci": 0.03, "budget_seconds": 300.0, "median_half_width": 0.02,
                            "under_target": 4, "missed_budget": 0, "missed_never_settles": 0,
                            "processes": 12, "noise_floor": 0.005},
            "bench_setup": {"profile": "smoke", "metric": "time",
                            "pyperf_settings": ["--processes", "3"], "python": "cpython 3.11.7",
                            "libraries": {"pyperf": "2.11.0"}, "bench_version": "0.1.0",
                            "hostname": "vm", "commit": "0123456789ab",
                            "commit_date": "2026-01-02T03:00:00+00:00"}}


def to_bytes(data: object) -> bytes:
    """JSON bytes, NaN and Infinity written as Python's json writes them."""
    return json.dumps(data, allow_nan=True).encode()


def gz(data: bytes) -> bytes:
    """gzip bytes with no timestamp: the same input every time."""
    return gzip.compress(data, 9, mtime=0)


# ---------------------------------------------------------------- the corpus

def hand_built_inputs(rng: random.Random, base: JSON) -> list[Input]:
    """Files no results reader should trust, each read as a results file and as a matrix."""
    good = to_bytes(base)
    deep = 100_000
    inputs = [
        Input("empty"), Input("directory", "dir"), Input("directory with a run", "dir", good),
        Input("fifo", "fifo"), Input("symlink to /dev/zero", "symlink", b"/dev/zero"),
        Input("symlink to /dev/null", "symlink", b"/dev/null"),
        Input("symlink to /dev/full", "symlink", b"/dev/full"),
        Input("symlink to a directory", "symlink", b"/"),
        Input("missing file", "missing"), Input("dangling symlink", "symlink", b"no-such-file"),
        Input("symlink loop", "symlink", b"x.json"),
        Input("unreadable file", data=good, mode=0),
        Input("gzip bomb (200 MB of spaces)", data=gz(b" " * 200_000_000),
              filename="x.json.gz"),
        Input("gzip bomb (valid JSON, 50 MB padding)",
              data=gz(good[:-1] + b" " * 50_000_000 + b"}"), filename="x.json.gz"),
        Input("plain 6 MB valid JSON", data=good[:-1] + b" " * 6_000_000 + b"}"),
        Input("truncated gzip", data=gz(good)[:40], filename="x.json.gz"),
        Input("not gzip named .gz", data=good, filename="x.json.gz"),
        Input("gzip of gzip", data=gz(gz(good)), filename="x.json.gz"),
        Input("gzip not named .gz", data=gz(good)),
        Input("gzip of latin-1", data=gz("{\"h\u00e9\": 1}".encode("latin-1")),
              filename="x.json.gz"),
        Input("valid gzip", data=gz(good), filename="x.json.gz"),
        Input("not UTF-8", data=b'{"version": "1.0", "x": "\xff\xfe"}'),
        Input("UTF-16 with BOM", data=json.dumps(base).encode("utf-16")),
        Input("UTF-8 BOM", data=b"\xef\xbb\xbf" + good),
        Input("binary garbage", data=bytes(rng.randrange(256) for _ in range(4096))),
        Input("NUL bytes", data=b"\0" * 1000), Input("not JSON", data=b"hello, world\n"),
        Input("truncated JSON", data=good[: len(good) // 2]),
        Input("JSON array", data=b"[]"), Input("JSON array of a run", data=b"[" + good + b"]"),
        Input("JSON string", data=b'"x"'), Input("JSON number", data=b"1e999"),
        Input("JSON null", data=b"null"), Input("JSON true", data=b"true"),
        Input("empty object", data=b"{}"), Input("whitespace only", data=b" \n\t "),
        Input("5000-digit integer value", data=good.replace(b"1e-06", b"9" * 5000, 1)),
        Input("1e999 value", data=good.replace(b"1e-06", b"1e999", 1)),
        Input("NaN value", data=good.replace(b"1e-06", b"NaN", 1)),
        Input("Infinity value", data=good.replace(b"1e-06", b"-Infinity", 1)),
        Input("deeply nested array", data=b"[" * deep + b"]" * deep),
        Input("deeply nested benchmarks",
              data=b'{"version": "1.0", "benchmarks": ' + b"[" * deep + b"]" * deep + b"}"),
        Input("deeply nested metadata", data=good.replace(
            b'"metadata": {', b'"metadata": {"deep": ' + b"{\"a\": " * 5000 + b"1" + b"}" * 5000
            + b", ", 1)),
        Input("pyperf without version", data=to_bytes({k: v for k, v in base.items()
                                                        if k != "version"})),
        Input("pyperf without benchmarks", data=b'{"version": "1.0", "metadata": {}}'),
        Input("pyperf empty benchmarks", data=b'{"version": "1.0", "benchmarks": []}'),
        Input("benchmark without runs", data=b'{"version": "1.0", "benchmarks": [{}]}'),
        Input("run without values", data=b'{"version": "1.0", "benchmarks": [{"runs": [{}]}]}'),
        Input("pyperf version 2.0", data=good.replace(b'"1.0"', b'"2.0"', 1)),
        Input("duplicate top-level key", data=good[:-1] + b', "benchmarks": []}'),
        Input("lone surrogate in a name", data=good.replace(b'"vm"', b'"\\ud800"')),
        Input("control characters in a name", data=good.replace(b'"vm"', b'"a\\nb\\u0007"')),
        Input("CRLF line endings", data=json.dumps(base, indent=1).encode().replace(b"\n", b"\r\n")),
        Input("valid run (control)", data=good),
        Input("valid run named .csv", data=good, filename="x.csv"),
        Input("file name starting with a dash", data=good, filename="-x.json"),
        Input("file name with a newline", data=good, filename="x\nname.json"),
        Input("file name with spaces and quotes", data=good, filename="x 'y' \"z\".json"),
    ]
    return [Input(i.name, i.kind, i.data, i.filename, "both", "hand-built", i.mode) for i in inputs]


VALUES: dict[str, object] = {
    "null": None, "true": True, "false": False, "0": 0, "-1": -1, "5e-324": 5e-324,
    "1e308": 1e308, "-1e308": -1e308, "10**30": 10 ** 30, "NaN": math.nan, "Infinity": math.inf,
    "empty string": "", "string": "abc", "numeric string": "1.5", "empty list": [],
    "empty object": {}, "list": [1, "a", None], "object": {"a": {"b": [1]}},
}


def json_paths(data: object, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into `data`, lists entered at their first item only.

    >>> list(json_paths({"a": [1, 2], "b": {"c": 3}}))
    [('a',), ('a', 0), ('b',), ('b', 'c')]
    """
    if isinstance(data, dict) or (isinstance(data, list) and data):
        for key, value in (data.items() if isinstance(data, dict) else [(0, data[0])]):
            yield (*prefix, key)
            yield from json_paths(value, (*prefix, key))


def set_path(data: JSON, path: tuple[Any, ...], value: object, delete: bool = False
             ) -> JSON:
    """A deep copy of `data` with the value at `path` replaced (or deleted)."""
    out = copy.deepcopy(data)
    node = out
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = copy.deepcopy(value)
    return out


def describe_path(path: tuple[Any, ...]) -> str:
    return "/".join(str(p) for p in path)


def mutate(base: JSON, rng: random.Random, role: str, group: str, sampled: int,
           filename: str) -> list[Input]:
    """Every key deleted, `sampled` (path, value) replacements drawn by `rng`."""
    paths = list(json_paths(base))
    out = [Input(f"{group}: delete {describe_path(p)}", data=to_bytes(set_path(base, p, None, True)),
                 role=role, group=group, filename=filename) for p in paths]
    pairs = [(p, v) for p in paths for v in VALUES]
    for path, value in sorted(rng.sample(pairs, min(sampled, len(pairs))), key=str):
        out.append(Input(f"{group}: {describe_path(path)} = {value}", filename=filename, role=role,
                         group=group, data=to_bytes(set_path(base, path, VALUES[value]))))
    return out


def special_results(base: JSON) -> list[Input]:
    """Mutations of a valid run that a key-by-key mutation never makes."""
    def each_run(change: Callable[[JSON], object]) -> bytes:
        out = copy.deepcopy(base)
        for bench in out["benchmarks"]:
            for run in bench["runs"]:
                change(run)
        return to_bytes(out)

    def with_(**changes: object) -> bytes:
        return to_bytes({**copy.deepcopy(base), **changes})

    first = base["benchmarks"][0]
    twice = [{"name": "ser/dill/dumps/ints/10", "reason": "x"}] * 2
    specials = {
        "every value negative": each_run(lambda r: r.update(values=[-v for v in r["values"]])),
        "every value 0": each_run(lambda r: r.update(values=[0.0] * len(r["values"]))),
        "every value 1e308": each_run(lambda r: r.update(values=[1e308] * 3)),
        "every value 5e-324": each_run(lambda r: r.update(values=[5e-324] * 3)),
        "every value the same": each_run(lambda r: r.update(values=[1e-6] * 3)),
        "one value per run": each_run(lambda r: r.update(values=r["values"][:1])),
        "values as strings": each_run(lambda r: r.update(values=[str(v) for v in r["values"]])),
        "values as booleans": each_run(lambda r: r.update(values=[True, True, False])),
        "10000 values per run": each_run(lambda r: r.update(values=[1e-6] * 10_000)),
        "no warmups": each_run(lambda r: r.pop("warmups")),
        "every date unparsable": each_run(lambda r: r["metadata"].update(date="yesterday")),
        "every date in year 9999": each_run(lambda r: r["metadata"].update(
            date="9999-12-31 23:59:59.999999")),
        "dates as numbers": each_run(lambda r: r["metadata"].update(date=1.5e9)),
        "negative durations": each_run(lambda r: r["metadata"].update(duration=-1.0)),
        "loops 0": each_run(lambda r: r["metadata"].update(loops=0)),
        "the same benchmark twice": with_(benchmarks=[first, first]),
        "one benchmark only": with_(benchmarks=[first]),
        "1000 copies of a benchmark": with_(benchmarks=[first] * 1000),
        "failures: a case twice": with_(bench_failures=twice),
        "failures: a timed case": with_(bench_failures=[{"name": CASE, "reason": "x"}]),
        "failures: 10000 cases": with_(bench_failures=[{"name": f"ser/x/dumps/ints/{i}",
                                                        "reason": "x"} for i in range(10_000)]),
        "failures: a 1 MB reason": with_(bench_failures=[{"name": "a", "reason": "x" * 1_000_000}]),
        "unit byte": with_(metadata={**base["metadata"], "unit": "byte"}),
        "unit integer, metric time": with_(metadata={**base["metadata"], "unit": "integer"}),
        "metric instructions, unit second": with_(bench_setup={**base["bench_setup"],
                                                               "metric": "instructions"}),
        "metric unknown": with_(bench_setup={**base["bench_setup"], "metric": "joules"}),
        "shard 3/2": with_(bench_setup={**base["bench_setup"], "shard": "3/2"}),
        "shard 0/0": with_(bench_setup={**base["bench_setup"], "shard": "0/0"}),
        "shard 1/2": with_(bench_setup={**base["bench_setup"], "shard": "1/2"}),
        "bench_format 3": with_(bench_format=3), "bench_format 2.0": with_(bench_format=2.0),
        "bench_format '2'": with_(bench_format="2"), "bench_format true": with_(bench_format=True),
        "bench_format 1 with bench_setup": with_(bench_format=1),
        "names with bad case syntax": to_bytes(set_path(base, ("benchmarks", 0, "metadata",
                                                               "name"), "a/b")),
        "name with HTML": to_bytes(set_path(base, ("benchmarks", 0, "metadata", "name"),
                                            "<script>alert(1)</script>/x/y/z/1")),
        "bench_size 0": to_bytes(set_path(base, ("benchmarks", 0, "metadata", "bench_size"), 0)),
        "bench_size negative": to_bytes(set_path(base, ("benchmarks", 0, "metadata",
                                                        "bench_size"), -10)),
    }
    return [Input(f"results: {name}", data=data, group="results") for name, data in
            specials.items()]


def build_corpus(seed: int, base: JSON | None = None, capabilities: JSON | None = None
                 ) -> list[Input]:
    """The hostile inputs for `seed`: hand-built, results mutations, capability mutations."""
    rng = random.Random(seed)
    base = make_base_results() if base is None else base
    if capabilities is None:
        capabilities = json.loads(CAPABILITIES.read_text())
    small_caps = {**capabilities, "cells": capabilities["cells"][:2],
                  "serializers": capabilities["serializers"][:2],
                  "kinds": capabilities["kinds"][:2]}
    return [*hand_built_inputs(rng, base),
            *mutate(base, rng, "results", "results", 110, "x.json"),
            *special_results(base),
            *mutate(small_caps, rng, "capabilities", "capabilities", 40, "x.capabilities.json")]


def plan_runs(corpus: list[Input]) -> list[Job]:
    """The commands each input goes through.

    A hand-built input that is no plain readable file (a FIFO, a symlink, a directory ...) goes
    through every command; another hand-built one through --resume, the matrix reader and
    four results commands in turn; a mutated run through two in turn; a mutated matrix
    through the report's --capabilities.
    """
    jobs: list[Job] = []
    turn = list(RESULTS_COMMANDS.items())
    seen = 0
    for item in corpus:
        chosen: dict[str, list[str]] = dict(CAPABILITY_COMMANDS)
        if item.group == "hand-built" and (item.kind != "file" or item.mode != 0o644):
            chosen.update(HAND_BUILT_COMMANDS)
        elif item.role != "capabilities":
            many = 4 if item.group == "hand-built" else 2
            chosen = {**(chosen if item.group == "hand-built" else {}),
                      **dict(turn[(seen + k) % len(turn)] for k in range(many))}
            if item.group == "hand-built":
                chosen["run --resume"] = HAND_BUILT_COMMANDS["run --resume"]
            seen += many
        jobs += [Job(item, name, tuple(argv)) for name, argv in chosen.items()]
    return jobs


def plan_option_runs() -> list[Job]:
    """The hostile option values, each over valid inputs."""
    valid = Input("valid inputs", "missing", group="options")
    return [Job(valid, name, tuple(argv)) for name, argv in OPTION_RUNS.items()]


# ---------------------------------------------------------------- running one job

def make_entry(item: Input, path: Path) -> None:
    """Create `item` at `path`."""
    if item.kind == "file":
        path.write_bytes(item.data)
        path.chmod(item.mode)
    elif item.kind == "dir":
        path.mkdir()
        if item.data:
            (path / "run.json").write_bytes(item.data)
    elif item.kind == "fifo":
        os.mkfifo(path)
    elif item.kind == "symlink":
        path.symlink_to(item.data.decode())


def describe_entry(path: Path) -> str:
    """A file's type and content in one string: what must not change under a read.

    >>> describe_entry(Path("/no/such/file"))
    'missing'
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return "missing"
    if stat.S_ISLNK(info.st_mode):
        return f"symlink to {os.readlink(path)}"
    if stat.S_ISREG(info.st_mode):
        return f"file sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
    if stat.S_ISDIR(info.st_mode):
        return "directory of " + ", ".join(f"{p.name}: {describe_entry(p)}"
                                           for p in sorted(path.iterdir()))
    return f"special {stat.S_IFMT(info.st_mode):o} {info.st_rdev}"


def prepare_folder(job: Job, folder: Path, good: bytes, capabilities: bytes) -> dict[str, str]:
    """Make the job's files in `folder`; the placeholders' values (paths relative to it)."""
    x = job.input.filename
    make_entry(job.input, folder / x)
    (folder / "good.json").write_bytes(good)
    (folder / "good-2.json").write_bytes(good)
    (folder / "good.csv").write_bytes(good)
    (folder / "caps.json").write_bytes(capabilities)
    (folder / "hist").mkdir()
    (folder / "hist" / "01-good.json").write_bytes(good)
    (folder / "hist" / "02-good-2.json").write_bytes(good)
    if job.input.kind != "missing":
        make_entry(job.input, folder / "hist" / ("03-" + x.lstrip("-").replace("\n", "_")))
    (folder / "full.out").symlink_to("/dev/full")
    (folder / "null.out").symlink_to("/dev/null")
    return {"X": x, "G": "good.json", "G2": "good-2.json", "GCSV": "good.csv", "C": "caps.json",
            "DIR": "hist", "OUT": "out/result", "FULL": "full.out", "NULL": "null.out"}


def fill_argv(argv: tuple[str, ...], values: dict[str, str]) -> list[str]:
    """The template's placeholders replaced.

    >>> fill_argv(("report", "{X}", "-o", "{OUT}.html"), {"X": "x.json", "OUT": "out/r"})
    ['report', 'x.json', '-o', 'out/r.html']
    """
    return [arg.format(**values) if "{" in arg else arg for arg in argv]


def snapshot(folder: Path, names: list[str]) -> dict[str, str]:
    return {name: describe_entry(folder / name) for name in names}


def hand_over(folder: Path, uid: int | None) -> None:
    """Give the run's folder to the user the child runs as (it writes its outputs there)."""
    if uid is None:
        return
    for root, dirs, files in os.walk(folder):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(name, uid, uid)


def run_job(job: Job, bench: list[str], scratch: Path, index: int, good: bytes,
            capabilities: bytes, uid: int | None) -> Outcome:
    """Run one job in a fresh folder; its exit code, stderr and the inputs it changed."""
    folder = scratch / f"run-{index:05d}"
    folder.mkdir()
    values = prepare_folder(job, folder, good, capabilities)
    hand_over(folder, uid)
    argv = fill_argv(job.argv, values)
    inputs = [values[k] for k in ("X", "G", "G2", "GCSV", "C", "DIR", "FULL", "NULL")]
    before = snapshot(folder, inputs)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder),
           "TMPDIR": str(folder), "MPLCONFIGDIR": str(folder / ".mpl"), **CHILD_ENV}
    limited = ["sh", "-c", f'ulimit -v {MEMORY_KB}; exec "$@"', "sh", *bench, *argv]
    proc = subprocess.Popen(limited, cwd=folder, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, user=uid, group=uid,
                            extra_groups=[] if uid is not None else None)
    try:
        _, err = proc.communicate(timeout=TIMEOUT)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this job started, nothing else
        _, err = proc.communicate()
        code = None
    after = snapshot(folder, inputs)
    changed = [f"{name}: {before[name]} -> {after[name]}" for name in inputs
               if before[name] != after[name] and before[name] != "missing"
               and not (job.command in WRITES_INPUT and name == values["X"]
                        and before[name].split()[0] == after[name].split()[0] == "file")]
    outcome = Outcome(job.input.name, job.command, argv, code,
                      err.decode("utf-8", "replace"), changed)
    outcome.causes = classify_outcome(outcome)
    return outcome


# ---------------------------------------------------------------- judging outcomes

def last_traceback_line(stderr: str) -> str:
    """The exception line that ends the last traceback in `stderr`.

    >>> last_traceback_line("Traceback (most recent call last):\\n  File x\\nKeyError: 'a'\\n")
    "KeyError: 'a'"
    """
    tail = stderr[stderr.rfind(TRACEBACK):].splitlines()
    lines = [line for line in tail[1:] if line and not line.startswith(" ")]
    return lines[0][:160] if lines else "(traceback without an exception line)"


def classify_outcome(outcome: Outcome) -> list[str]:
    """The failures of one run: `traceback: LINE`, `hang`, `overwritten: ...`, `bad error: ...`."""
    causes = []
    if outcome.returncode in NOT_STARTED and outcome.stderr.startswith("sh: "):
        return [f"harness: bench did not start (exit {outcome.returncode})"]
    if TRACEBACK in outcome.stderr:
        causes.append("traceback: " + last_traceback_line(outcome.stderr))
    code = outcome.returncode
    if code is None:
        causes.append(f"hang: no exit within {TIMEOUT:g} s")
    elif code not in DOCUMENTED_EXITS and not causes:
        causes.append(f"bad error: exit {code}" + (" (killed by a signal)" if code < 0 else ""))
    elif code == 2 and not causes:
        lines = outcome.stderr.rstrip("\n").split("\n")
        if len(lines) != 1 or not lines[0].startswith("ERROR:"):
            causes.append(f"bad error: exit 2 with {len(lines)} stderr line(s), not one ERROR:")
    causes += [f"overwritten: {change}" for change in outcome.changed]
    return causes


KINDS = {"traceback": "tracebacks", "hang": "hangs", "overwritten": "overwritten",
         "bad error": "bad errors", "harness": "not started"}


def summarize(outcomes: list[Outcome], inputs: int) -> JSON:
    """Counts per kind of failure (a run counted once per kind) and the failures by cause."""
    counts = {kind: sum(any(c.startswith(prefix + ":") for c in o.causes) for o in outcomes)
              for prefix, kind in KINDS.items()}
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        for cause in outcome.causes:
            key = cause.split(" -> ")[0].split(": ", 1)[0] + ": " + group_key(cause)
            groups.setdefault(key, []).append(outcome)
    return {"inputs": inputs, "runs": len(outcomes), **counts,
            "failed_runs": sum(bool(o.causes) for o in outcomes),
            "groups": [{"cause": cause, "runs": len(found),
                        "commands": dict(Counter(o.command for o in found).most_common()),
                        "examples": [{"input": o.input, "argv": o.argv,
                                      "returncode": o.returncode,
                                      "stderr_tail": o.stderr[-600:]} for o in found[:3]]}
                       for cause, found in sorted(groups.items(), key=lambda g: -len(g[1]))]}


def group_key(cause: str) -> str:
    """The part of a cause that names the bug, not the run: no input name, no paths.

    >>> group_key("overwritten: good.json: file sha256 ab -> file sha256 cd")
    'good.json: file -> file'
    """
    kind, _, rest = cause.partition(": ")
    if kind == "overwritten":
        name, _, change = rest.partition(": ")
        old, _, new = change.partition(" -> ")
        label = "X" if name not in ("good.json", "good-2.json", "good.csv", "caps.json", "hist",
                                    "full.out", "null.out") else name
        return f"{label}: {old.split(' ')[0]} -> {new.split(' ')[0]}"
    return rest.replace("x.json", "X").replace("x.capabilities.json", "X")


def format_summary(summary: JSON, examples: int = 1) -> str:
    """The one-line summary, then each cause with its count, commands and an example."""
    lines = [f"{summary['inputs']} inputs, {summary['runs']} command runs: "
             f"{summary['tracebacks']} tracebacks, {summary['hangs']} hangs, "
             f"{summary['overwritten']} overwritten, {summary['bad errors']} bad errors"
             + (f" ({summary['not started']} runs could not start bench: the counts are "
                "incomplete)" if summary["not started"] else "")]
    for group in summary["groups"]:
        commands = ", ".join(f"{c} x{n}" for c, n in list(group["commands"].items())[:4])
        lines.append(f"  {group['runs']:4d}  {group['cause']}  [{commands}]")
        for example in group["examples"][:examples]:
            lines.append(f"        e.g. {example['input']}: bench "
                         + " ".join(repr(a) if not a or " " in a else a for a in example["argv"]))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the command line

def spread(items: list[T], limit: int | None) -> list[T]:
    """`limit` items evenly spaced over `items` (all of them without a limit).

    >>> spread(list(range(10)), 3), spread([1, 2], None)
    ([0, 4, 8], [1, 2])
    """
    if limit is None or limit >= len(items):
        return items
    step = -(-len(items) // max(limit, 1))
    return items[::step][:limit]


def child_user() -> int | None:
    """The uid children run as: nobody when this script is root (they cannot touch /dev)."""
    return 65534 if os.geteuid() == 0 else None


def run_all(jobs: list[Job], bench: list[str], scratch: Path, workers: int) -> list[Outcome]:
    """Run every job, `workers` at a time (2 at most), in job order."""
    good = to_bytes(make_base_results())
    capabilities = CAPABILITIES.read_bytes()
    uid = child_user()
    if uid is not None:
        os.chmod(scratch, 0o755)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, 2))) as pool:
        return list(pool.map(lambda ij: run_job(ij[1], bench, scratch, ij[0], good, capabilities,
                                                uid), enumerate(jobs)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--limit", type=int,
                        help="run only N inputs (and N option runs), spread over the corpus")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (at most 2)")
    parser.add_argument("--bench", help="the bench command (default: .venv/bin/bench, else "
                                        "this Python's -m bench)")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--keep", metavar="DIR", help="leave the run folders here")
    args = parser.parse_args(argv)
    venv = REPO / ".venv" / "bin" / "bench"
    bench = (args.bench.split() if args.bench else
             [str(venv)] if venv.exists() else [sys.executable, "-m", "bench"])
    try:
        subprocess.run([*bench, "--version"], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"ERROR: --bench {' '.join(bench)}: cannot run it ({exc})", file=sys.stderr)
        return 2
    corpus = spread(build_corpus(args.seed), args.limit)
    jobs = plan_runs(corpus) + spread(plan_option_runs(), args.limit)
    scratch = Path(args.keep or tempfile.mkdtemp(prefix="hostile-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        outcomes = run_all(jobs, bench, scratch, args.jobs)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    summary = summarize(outcomes, len(corpus))
    if args.format == "json":
        summary["failures"] = [asdict(o) for o in outcomes if o.causes]
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
    else:
        sys.stdout.write(format_summary(summary))
    return 2 if summary["not started"] else 1 if summary["failed_runs"] else 0


if __name__ == "__main__":
    sys.exit(main())
