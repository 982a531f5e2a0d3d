"""The results file: written and read here only.

A results file is pyperf's own JSON (`.json`, or gzip-compressed `.json.gz`), so
`python -m pyperf stats FILE` reads it, with top-level keys of bench's own that
pyperf ignores:

    bench_format    int   the version of these additions: FORMAT_VERSION (3). A file
                          without it (pyperf's own, or written before the key existed)
                          is read as version 1; a higher version is refused.
                          1: bench_failures, bench_noise. 2: bench_setup. 3: bench_profiles.
    bench_failures  list  one {"name": CASE, "reason": TEXT} object per case that was
                          checked but never timed (a failed check, a crashed worker);
                          each name once. Absent means no failure.
    bench_noise     dict  how noisy the machine was during a timed run and the precision
                          the run reached (see bench.run.schedule: process_cv, pass_factors,
                          median_half_width, target_ci, under_target ...). Optional.
    bench_setup     dict  how the run was made, so that a resumed run or the shards of
                          a merge can be checked against it: profile, metric, pyperf
                          settings, Python, library versions, host, shard, commit (see
                          bench.run.provenance). Absent in files of version 1.
    bench_profiles  dict  case -> where its instructions went, per function (bench.run.profiles).

`read_results` is the one reader, and it is strict: anything it cannot vouch for is an
InputError with a one-line reason that starts with the path: missing, not a regular file
(a FIFO, a device: refused before it is opened), over BENCH_MAX_INPUT_MB megabytes on disk
or un-gzipped (default 512; a gzip bomb is stopped at the limit), empty, not gzip, not
UTF-8, not JSON, not pyperf, a name or a case (suite ... size) twice, no timed value, and
any key bench reads of the wrong type or out of range (METADATA_RULES, NOISE_NUMBER,
bench.run.provenance.check_setup). Ranges hold what a run produces with room to spare: a
value of 1e-12 to 1e6 s (or to 1e15 for counts and bytes), a duration up to 1e6 s, a
bench_size up to 1e12, loops and byte counts up to 1e15, never a bool. `write_results`
is the one writer: it replaces the file atomically, with the user's umask.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyperf

from bench.errors import InputError
from bench.files import describe_kind, write_atomic
from bench.metric import Metric, metric_of_run
from bench.run.profiles import PROFILES_KEY, check_profiles
from bench.run.provenance import check_setup, find_mismatch, is_date

FORMAT_VERSION = 3
FORMAT_KEY = "bench_format"
FAILURES_KEY = "bench_failures"
NOISE_KEY = "bench_noise"
SETUP_KEY = "bench_setup"
GZIP_MAGIC = b"\x1f\x8b"
PYPERF_FORMAT = "1.0"  # the version of pyperf's JSON that pyperf >= 1.0 writes
MAX_INPUT_VARIABLE, DEFAULT_MAX_INPUT_MB = "BENCH_MAX_INPUT_MB", 512
# What a run produces, with room to spare (see the docstring): anything outside is refused.
MIN_VALUE, MAX_SECONDS, MAX_COUNT, MAX_SIZE = 1e-12, 1e6, 1e15, 10**12
CASE_KEYS = ("bench_suite", "bench_subject", "bench_op", "bench_shape", "bench_size")
Rule = tuple[Callable[[Any], bool], str]  # a key's check, and what it expects in words


def number_rule(low: float, high: float, integer: bool = False, null: bool = False) -> Rule:
    """The rule of a number from `low` to `high`, never a bool (or None, when `null`).

    >>> check, words = number_rule(0, 10, integer=True)
    >>> check(3), check(3.0), check(True), check(11), words
    (True, False, False, False, 'an integer from 0 to 10')
    """
    types = (int,) if integer else (int, float)

    def check(value: Any) -> bool:
        return (value is None and null) or (type(value) in types and low <= value <= high)

    kind = "an integer" if integer else "a number"
    return check, f"{kind} from {low:g} to {high:g}{' or null' if null else ''}"


TEXT: Rule = (lambda value: isinstance(value, str), "text")
LOOPS, COUNT = number_rule(1, MAX_COUNT, integer=True), number_rule(0, MAX_COUNT, integer=True)
# pyperf metadata (of the suite, a benchmark or a run) that bench reads
METADATA_RULES: dict[str, Rule] = {
    **dict.fromkeys(("name", *CASE_KEYS[:4], "subject_version", "bench_imported", "bench_profile",
                     "bench_version", "bench_metric", "hostname", "python_version", "platform",
                     "python_implementation", "cpu_model_name", "perf_version", "unit",
                     "bench_roundtrip"), TEXT),
    "date": (lambda value: is_date(value, local=True), "a date and time without a UTC offset"),
    "bench_size": number_rule(0, MAX_SIZE, integer=True), "loops": LOOPS, "inner_loops": LOOPS,
    "bench_round": COUNT, "bench_pass": COUNT, "cpu_count": COUNT, "bench_cpu_share": number_rule(0, 1),
    **dict.fromkeys(("payload_bytes", "peak_alloc_bytes", "shape_nbytes", "reply_bytes", "bench_canary",
                     "bench_canary_min", "minor_faults_per_call"), number_rule(0, MAX_COUNT)),
    "comm_share": number_rule(-MAX_COUNT, MAX_COUNT), "duration": number_rule(0, MAX_SECONDS),
}
# bench_noise (bench.run.schedule): numbers or null, and the list pass_factors
NOISE_NUMBER, NOISE_FACTORS = number_rule(0, MAX_COUNT, null=True), (lambda value: isinstance(
    value, list) and all(number_rule(MIN_VALUE, MAX_COUNT)[0](v) for v in value), "positive numbers")


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
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # counted cases' (bench.run.profiles)
    # add_benchmark's index: case name -> position in `benchmarks`, and id() of that list
    _positions: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    _indexed: int = field(default=0, init=False, repr=False, compare=False)

    def suite(self) -> pyperf.BenchmarkSuite:
        """The benchmarks as one pyperf suite (for its metadata and dates), built in one pass.

        pyperf's constructor scans the suite for each benchmark's name before adding it (a
        minute for 20,000 cases); here the names are checked distinct once, with a set.
        """
        if len({b.get_name() for b in self.benchmarks}) != len(self.benchmarks):
            raise ValueError("two benchmarks of one name")
        suite = pyperf.BenchmarkSuite(self.benchmarks[:1], filename=self.path or None)
        held = getattr(suite, "_benchmarks", None)  # pyperf's own list of the suite's benchmarks
        if not isinstance(held, list):
            return pyperf.BenchmarkSuite(self.benchmarks, filename=self.path or None)
        held.extend(self.benchmarks[1:])
        return suite

    def metric(self) -> Metric | None:
        """The metric this run holds: the one it wrote into its setup, else its units' (bench.metric)."""
        return metric_of_run(self.setup, [b.get_unit() for b in self.benchmarks])

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
        for run in benchmark.get_runs():
            mismatch = find_mismatch(existing.get_metadata(), run.get_metadata())
            if mismatch:
                key, there, here = mismatch
                return f"{name}: not added, its runs have another {key} ({here!r}, the file's {there!r})"
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
    keys.update({PROFILES_KEY: results.profiles} if results.profiles else {})
    ours = json.dumps(keys, separators=(",", ":"), allow_nan=False)
    return f"{text[:-1]},{ours[1:]}\n"


def dump_suite(suite: pyperf.BenchmarkSuite) -> str:
    """pyperf's compact JSON of `suite`, the text `suite.dump(file, compact=True)` writes, through
    json.dumps's C encoder (pyperf's json.dump: 4x the time of a save); else pyperf's dump."""
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
    data = parse_json(path, read_text(path))
    noise, setup = read_object(path, data, NOISE_KEY), read_object(path, data, SETUP_KEY)
    check_fields(path, f"{NOISE_KEY}: ", noise, {key: NOISE_FACTORS if key == "pass_factors"
                                                 else NOISE_NUMBER for key in noise})
    check_setup(setup, f"{path}: {SETUP_KEY}")
    return Results(load_benchmarks(path, data), read_failures(path, data), str(path), run, noise,
                   setup, check_profiles(data.get(PROFILES_KEY), str(path)))


def max_input_bytes() -> int:
    """The most bytes an input may hold, on disk or un-gzipped: BENCH_MAX_INPUT_MB megabytes."""
    text = os.environ.get(MAX_INPUT_VARIABLE, "").strip() or str(DEFAULT_MAX_INPUT_MB)
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = math.nan
    if not 0 < megabytes <= 1e9:
        raise InputError(f"{MAX_INPUT_VARIABLE}={text}: not a number of megabytes from 0 to 1e9")
    return max(1, int(megabytes * 1e6))


def read_input(path: str | Path) -> bytes:
    """A regular file's bytes, un-gzipped when they start with gzip's magic; InputError past
    `max_input_bytes()`, on disk or un-gzipped.

    The path is stat'ed before it is opened, so a FIFO, a device or a socket is refused
    without being opened, and the open cannot block (O_NONBLOCK). The file and its gzip
    content are read in chunks, so a gzip bomb is refused once it passes the limit.
    """
    path = Path(path)
    limit = max_input_bytes()
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"{path}: is a directory" if stat.S_ISDIR(mode) else
                             f"{path}: not a regular file ({describe_kind(str(path))})")
        with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):  # replaced since the stat
                raise InputError(f"{path}: not a regular file ({describe_kind(str(path))})")
            raw = read_bounded(stream, path, limit, "")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.name.endswith(".gz") and not raw.startswith(GZIP_MAGIC):
        raise InputError(f"{path}: named .gz but is not gzip data")
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            return read_bounded(stream, path, limit, " un-gzipped")
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError(f"{path}: truncated or corrupt gzip data ({one_line(exc)})") from None


def read_bounded(stream: Any, path: Path, limit: int, what: str) -> bytes:
    """`stream` read to its end in 1 MiB chunks; InputError once it passes `limit` bytes."""
    chunks, size = [], 0
    while chunk := stream.read(1 << 20):
        size += len(chunk)
        if size > limit:
            raise InputError(f"{path}: over {limit / 1e6:g} MB{what}, the most bench reads "
                             f"(set {MAX_INPUT_VARIABLE} to raise it)")
        chunks.append(chunk)
    return b"".join(chunks)


def read_text(path: Path) -> str:
    """The file's text (see `read_input`): not empty, UTF-8."""
    raw = read_input(path)
    if not raw:
        raise InputError(f"{path}: empty file, not a pyperf JSON file")
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


def not_pyperf(path: Path, reason: str) -> InputError:
    """The error of a file that is not pyperf's JSON."""
    return InputError(f"{path}: not a pyperf result file ({reason})")


def load_benchmarks(path: Path, data: dict[str, Any]) -> list[pyperf.Benchmark]:
    """pyperf's benchmarks of the file, every value and key bench reads checked, each case once;
    built in one pass (pyperf's BenchmarkSuite.load rescans the suite for each benchmark)."""
    if data.get("version") != PYPERF_FORMAT:
        raise not_pyperf(path, f"pyperf format version {data.get('version')!r}; bench reads "
                               f"{PYPERF_FORMAT!r}")
    common = {} if data.get("metadata") is None else data["metadata"]
    entries = data.get("benchmarks")
    if not isinstance(common, dict) or not isinstance(entries, list) or not entries:
        raise not_pyperf(path, "it needs a metadata object and a non-empty benchmarks list")
    check_fields(path, "metadata: ", common, METADATA_RULES)
    benchmarks = [load_benchmark(path, index, entry, common) for index, entry in enumerate(entries)]
    check_cases(path, benchmarks)
    return benchmarks


def load_benchmark(path: Path, index: int, entry: Any, common: dict[str, Any]) -> pyperf.Benchmark:
    """One benchmark of the file: its runs, its metadata and its dates checked."""
    metadata = entry.get("metadata", {}) if isinstance(entry, dict) else None
    runs = entry.get("runs") if isinstance(entry, dict) else None
    if not isinstance(metadata, dict) or not isinstance(runs, list) or not runs:
        raise not_pyperf(path, f"benchmark {index + 1} needs a metadata object and a runs list")
    name = metadata.get("name", common.get("name"))
    where = f"benchmark {name!r:.60}: " if isinstance(name, str) else f"benchmark {index + 1}: "
    check_fields(path, where, metadata, METADATA_RULES)
    metadata = {**common, **metadata}
    try:
        benchmark = pyperf.Benchmark([load_run(path, where, run, metadata) for run in runs])
    except (ValueError, TypeError) as exc:
        raise not_pyperf(path, f"{where}{one_line(exc)}") from None
    try:
        benchmark.get_dates()  # what the report and history compute: start + duration
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"{path}: {where}bad date or duration ({one_line(exc)})") from None
    return benchmark


def load_run(path: Path, where: str, run: Any, common: dict[str, Any]) -> pyperf.Run:
    """One worker process's run: values and warmups in range for its unit, metadata checked."""
    metadata = run.get("metadata", {}) if isinstance(run, dict) else None
    values = run.get("values", []) if isinstance(run, dict) else None
    warmups = (run.get("warmups") or []) if isinstance(run, dict) else None
    if not (isinstance(metadata, dict) and isinstance(values, list) and isinstance(warmups, list)):
        raise not_pyperf(path, f"{where}a run needs a metadata object, values and warmups lists")
    if metadata:
        check_fields(path, where, metadata, METADATA_RULES)
        metadata = {**common, **metadata}
    else:
        metadata = common
    unit = metadata.get("unit", "second")
    high = MAX_SECONDS if unit == "second" else MAX_COUNT
    for value in values:
        if type(value) not in (int, float) or not MIN_VALUE <= value <= high:
            raise InputError(f"{path}: {where}value {value!r:.40} is not a finite number from "
                             f"{MIN_VALUE:g} to {high:g} ({unit})")
    for warmup in warmups:
        if not (isinstance(warmup, list) and len(warmup) == 2 and LOOPS[0](warmup[0])
                and type(warmup[1]) in (int, float) and 0 <= warmup[1] <= high):
            raise InputError(f"{path}: {where}warmup {warmup!r:.40} is not [loops from 1 to "
                             f"{MAX_COUNT:g}, a value from 0 to {high:g}]")
    return pyperf.Run(values, warmups=[tuple(w) for w in warmups] or None, metadata=metadata,
                      collect_metadata=False)


def check_cases(path: Path, benchmarks: Sequence[pyperf.Benchmark]) -> None:
    """Refuse a name twice, two names for one case (suite ... size alike), a benchmark whose
    runs disagree on its case, and a file with no timed value."""
    names: set[str] = set()
    cases: dict[tuple[Any, ...], str] = {}
    for benchmark in benchmarks:
        name = benchmark.get_name()
        if name in names:
            raise InputError(f"{path}: benchmark {name!r} twice")
        names.add(name)
        labels = {tuple(run.get_metadata().get(key) for key in CASE_KEYS)
                  for run in benchmark.get_runs()}
        if len(labels) > 1:
            raise InputError(f"{path}: benchmark {name!r}: its runs disagree on "
                             f"{'/'.join(CASE_KEYS)}")
        case = labels.pop()
        if None not in case and cases.setdefault(case, name) != name:
            raise InputError(f"{path}: benchmarks {cases[case]!r} and {name!r} are one case "
                             f"({'/'.join(map(str, case))})")
    if not any(run.values for benchmark in benchmarks for run in benchmark.get_runs()):
        raise InputError(f"{path}: no timed values (only calibration runs?)")


def check_fields(path: str | Path, where: str, mapping: dict[str, Any], rules: dict[str, Rule]
                 ) -> None:
    """InputError naming the first key of `mapping` its rule refuses, or a number not finite."""
    for key, value in mapping.items():
        check, words = rules.get(key) or (is_finite, "a finite number")
        if (key in rules or type(value) in (int, float)) and not check(value):
            raise InputError(f"{path}: {where}{key} {value!r:.40} is not {words}")


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


def read_object(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    """The object under `key` (`bench_noise`, `bench_setup`); {} when absent."""
    found = data.get(key, {})
    if not isinstance(found, dict):
        raise InputError(f"{path}: bad {key} (a {type(found).__name__}, not an object)")
    return found


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
