"""The results file: written and read here only.

A results file is pyperf's own JSON (`.json`, or gzip-compressed `.json.gz`), so
`python -m pyperf stats FILE` reads it, with top-level keys of bench's own that
pyperf ignores:

    bench_format    int   the version of these additions: FORMAT_VERSION (2). A file
                          without it (pyperf's own, or written before the key existed)
                          is read as version 1; a higher version is refused.
                          1: bench_failures, bench_noise. 2: bench_setup added.
    bench_failures  list  one {"name": CASE, "reason": TEXT} object per case that was
                          checked but never timed (a failed check, a crashed worker);
                          each name once. Absent means no failure.
    bench_noise     dict  how noisy the machine was during a timed run and the precision
                          the run reached (see bench.schedule: process_cv, pass_factors,
                          median_half_width, target_ci, under_target ...). Optional.
    bench_setup     dict  how the run was made, so that a resumed run or the shards of
                          a merge can be checked against it: profile, metric, pyperf
                          settings, Python, library versions, host, shard, commit (see
                          bench.provenance). Absent in files of version 1.

`read_results` is the one reader, and it is strict: anything it cannot vouch for
(missing, a directory, empty, not gzip, not UTF-8, not JSON, not pyperf, a value that
is not a finite positive number, a bad `bench_failures` list, no timed value at all)
is an InputError with a one-line reason that starts with the path. `write_results`
is the one writer: it replaces the file atomically, with the user's umask.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyperf

from bench.errors import InputError
from bench.files import write_atomic

FORMAT_VERSION = 2
FORMAT_KEY = "bench_format"
FAILURES_KEY = "bench_failures"
NOISE_KEY = "bench_noise"
SETUP_KEY = "bench_setup"
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Results:
    """One results file's contents: pyperf benchmarks and the cases that failed.

    `path` is where it is read from or written to; `run` is the id a frame gives it;
    `setup` says how the run was made (empty when the file does not say).
    """

    benchmarks: list[pyperf.Benchmark] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    path: str = ""
    run: str = ""
    noise: dict[str, Any] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict)
    # add_benchmark's index: case name -> position in `benchmarks`, and id() of that list
    _positions: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    _indexed: int = field(default=0, init=False, repr=False, compare=False)

    def suite(self) -> pyperf.BenchmarkSuite:
        """The benchmarks as one pyperf suite (for its metadata and dates)."""
        return pyperf.BenchmarkSuite(self.benchmarks, filename=self.path or None)

    def add_benchmark(self, benchmark: pyperf.Benchmark) -> str | None:
        """Add a timed case: its runs join a benchmark of the same name (pyperf --append).

        Runs pyperf would refuse to join (another host, interpreter, unit ...: the metadata
        pyperf's `add_run` checks) are not added; the case keeps its runs, and the reason is
        returned (None when added). Cases are found by name through an index of positions,
        rebuilt when the list was replaced or changed length behind it.
        """
        name = benchmark.get_name()
        if self._indexed != id(self.benchmarks) or len(self._positions) != len(self.benchmarks):
            self._positions = {b.get_name(): i for i, b in enumerate(self.benchmarks)}
            self._indexed = id(self.benchmarks)
        at = self._positions.get(name)
        if at is None or self.benchmarks[at].get_name() != name:
            self._positions[name] = len(self.benchmarks)
            self.benchmarks.append(benchmark)
            self.failures.pop(name, None)
            return None
        existing = self.benchmarks[at]
        try:
            from pyperf._bench import _CHECKED_METADATA as checked
        except ImportError:
            checked = ("hostname", "python_executable", "unit")
        held = existing.get_metadata()
        for run in benchmark.get_runs():
            for key in checked:
                if held.get(key) != run.get_metadata().get(key):
                    return (f"{name}: not added, its runs have another {key} "
                            f"({run.get_metadata().get(key)!r}, the file's {held.get(key)!r})")
        existing.add_runs(benchmark)
        self.failures.pop(name, None)
        return None

    def add_failure(self, name: str, reason: str) -> None:
        """Record a case that could not be timed, with the reason."""
        self.failures[name] = reason


# ---------------------------------------------------------------- writing

def format_results(results: Results) -> str:
    """The text of a results file: pyperf's compact JSON object with bench's keys added.

    The keys are appended to pyperf's text rather than parsed and dumped again: a results
    file is saved after every case and is large by the end of a run.
    """
    text = dump_suite(results.suite()).rstrip()
    if not text.endswith("}"):
        raise ValueError("pyperf's JSON does not end with an object")
    failures = [{"name": name, "reason": reason} for name, reason in results.failures.items()]
    keys: dict[str, Any] = {FORMAT_KEY: FORMAT_VERSION, FAILURES_KEY: failures}
    if results.noise:
        keys[NOISE_KEY] = {k: v if not isinstance(v, float) or math.isfinite(v) else None
                           for k, v in results.noise.items()}
    if results.setup:
        keys[SETUP_KEY] = results.setup
    ours = json.dumps(keys, separators=(",", ":"), allow_nan=False)
    return f"{text[:-1]},{ours[1:]}\n"


def dump_suite(suite: pyperf.BenchmarkSuite) -> str:
    """pyperf's compact JSON of `suite`, the text `suite.dump(file, compact=True)` writes.

    pyperf's dump goes through `json.dump`, which never uses the C encoder; a run saves its
    file after every case, and by the end of a `quick` run that took 60 ms a save. The same
    document through `json.dumps` takes a quarter of it. Where pyperf lacks the document
    builder, its own dump is used.
    """
    as_json = getattr(suite, "_as_json", None)
    if as_json is None:
        buffer = io.StringIO()
        suite.dump(buffer, compact=True)
        return buffer.getvalue()
    return json.dumps(as_json(), sort_keys=True, separators=(",", ":")) + "\n"


def write_results(results: Results) -> None:
    """Replace `results.path` with the results, atomically; gzip when it ends in .gz."""
    data = format_results(results).encode("utf-8")
    write_atomic(results.path, gzip.compress(data) if results.path.endswith(".gz") else data)


# ---------------------------------------------------------------- reading

def read_results(path: str | Path, run: str = "") -> Results:
    """Read and check one results file; InputError with a one-line reason on anything invalid."""
    path = Path(path)
    text = read_text(path)
    data = parse_json(path, text)
    try:
        suite = pyperf.BenchmarkSuite.load(io.StringIO(text))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise InputError(f"{path}: not a pyperf result file ({type(exc).__name__}: "
                         f"{one_line(exc)})") from None
    benchmarks = suite.get_benchmarks()
    check_values(path, benchmarks)
    noise = data.get(NOISE_KEY, {})
    if not isinstance(noise, dict):
        raise InputError(f"{path}: bad {NOISE_KEY} (a {type(noise).__name__}, not an object)")
    return Results(benchmarks, read_failures(path, data), str(path), run, noise,
                   read_setup(path, data))


def read_text(path: Path) -> str:
    """The file's text, un-gzipped when it starts with gzip's magic bytes."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a pyperf JSON file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not raw:
        raise InputError(f"{path}: empty file, not a pyperf JSON file")
    if path.name.endswith(".gz") and not raw.startswith(GZIP_MAGIC):
        raise InputError(f"{path}: named .gz but is not gzip data")
    if raw.startswith(GZIP_MAGIC):
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise InputError(f"{path}: truncated or corrupt gzip data ({one_line(exc)})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None


def parse_json(path: Path, text: str) -> dict[str, Any]:
    """The top-level JSON object, refusing NaN and Infinity and checking bench's format version."""
    try:
        data = json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON, truncated or corrupt ({exc})") from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not valid JSON ({one_line(exc)})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a pyperf result file (a JSON {type(data).__name__}, "
                         "not an object)")
    version = data.get(FORMAT_KEY, FORMAT_VERSION)
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        raise InputError(f"{path}: {FORMAT_KEY} {version!r} is not supported "
                         f"(this bench reads 1 to {FORMAT_VERSION})")
    return data


def refuse_constant(name: str) -> Any:
    """json's hook for NaN and Infinity: a results file holds finite numbers only."""
    raise ValueError(f"{name} is not a finite number")


def check_values(path: Path, benchmarks: Sequence[pyperf.Benchmark]) -> None:
    """Refuse values that are not finite numbers, and a file with no timed value."""
    timed = False
    for benchmark in benchmarks:
        for run in benchmark.get_runs():
            numbers = [*run.values, *(value for _, value in run.warmups or ())]
            numbers += [v for v in run.get_metadata().values() if isinstance(v, (int, float))]
            if not all(is_finite(v) for v in numbers):
                raise InputError(f"{path}: benchmark {benchmark.get_name()!r} has a value "
                                 "that is not a finite number")
            timed = timed or bool(run.values)
    if not timed:
        raise InputError(f"{path}: no timed values (only calibration runs?)")


def is_finite(value: float) -> bool:
    """True for a number a float can hold that is neither NaN nor infinite.

    >>> is_finite(1e300), is_finite(10**400), is_finite(float("nan"))
    (True, False, False)
    """
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def read_failures(path: Path, data: dict[str, Any]) -> dict[str, str]:
    """The `bench_failures` list as case -> reason; InputError when it is malformed."""
    entries = data.get(FAILURES_KEY, [])
    if not isinstance(entries, list):
        raise InputError(f"{path}: bad {FAILURES_KEY} list (a {type(entries).__name__})")
    failures: dict[str, str] = {}
    for entry in entries:
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str)
                and isinstance(entry.get("reason"), str)):
            raise InputError(f"{path}: bad {FAILURES_KEY} list (each entry needs a string "
                             "name and a string reason)")
        if entry["name"] in failures:
            raise InputError(f"{path}: bad {FAILURES_KEY} list ({entry['name']!r} twice)")
        failures[entry["name"]] = entry["reason"]
    return failures


def read_setup(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """The `bench_setup` object ({} when absent); InputError when it is not an object."""
    setup = data.get(SETUP_KEY, {})
    if not isinstance(setup, dict):
        raise InputError(f"{path}: bad {SETUP_KEY} (a {type(setup).__name__}, not an object)")
    return setup


def one_line(exc: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split())


# ---------------------------------------------------------------- several files

def read_runs(paths: Sequence[str | Path]) -> list[Results]:
    """Read every results file, giving each a unique run id (see `run_id`, `unique_ids`)."""
    if not paths:
        raise InputError("no result files given")
    ids = unique_ids(run_id(Path(p)) for p in paths)
    return [read_results(p, rid) for rid, p in zip(ids, paths, strict=True)]


def run_id(path: Path) -> str:
    """The run id of a results file: its name without .json / .json.gz.

    >>> run_id(Path("results/py311.json.gz")), run_id(Path("a/b.json"))
    ('py311', 'b')
    """
    name = path.name
    for suffix in (".gz", ".json"):
        name = name.removesuffix(suffix)
    return name or path.name


def unique_ids(ids: Iterable[str]) -> list[str]:
    """Make run ids unique by appending ~2, ~3 ... to repeats.

    >>> unique_ids(["a", "b", "a", "a"])
    ['a', 'b', 'a~2', 'a~3']
    """
    seen: dict[str, int] = {}
    out = []
    for name in ids:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}~{seen[name]}")
    return out
