"""The benchmark matrix: named cases, the profiles that select and run them, selection by pattern.

A case name is `suite/subject/op/shape/size`, for example
`ser/pickle-5/dumps/records/1000`, `fold/reduce-lambda/sum/list/10000` or
`ref/memcpy/copy/bytes/100000` or `ship/loky/code/ints/1000` (transports and ops in
bench.subjects.ship). The same case has the same name everywhere.
Serializer x shape pairs that do not round-trip equal (unsupported or lossy,
see `serializers.classify_roundtrip`) are not cases.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import importlib.util
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from bench.errors import InputError
from bench.subjects.folds import INPUT_KINDS, STYLES, TASKS, estimate_fold_nbytes
from bench.subjects.serializers import SERIALIZERS, classify_roundtrip
from bench.subjects.shapes import SHAPES, build_shape, estimate_nbytes
from bench.subjects.ship import (
    SCALE_OPS,
    SHIP_OPS,
    SHIP_SHAPES,
    TRANSPORTS,
    estimate_ship_nbytes,
    shape_of,
)

SUITES = ("ser", "fold", "ref", "ship")
SER_OPS = ("dumps", "loads")
SINK_OPS = ("dumps-bytesio", "loads-bytesio", "dumps-file", "loads-file")
FOLD_SIZE = 1000


@dataclass(frozen=True, order=True)
class Case:
    """One benchmark: what is timed (subject, op) on what input (shape, size)."""

    suite: str
    subject: str
    op: str
    shape: str
    size: int

    @property
    def name(self) -> str:
        """The case's stable name, e.g. `ser/pickle-5/dumps/records/1000`."""
        return f"{self.suite}/{self.subject}/{self.op}/{self.shape}/{self.size}"

    def metadata(self) -> dict[str, str | int]:
        """The pyperf metadata that labels this case (`bench_suite` ... `bench_size`)."""
        return {"bench_suite": self.suite, "bench_subject": self.subject, "bench_op": self.op,
                "bench_shape": self.shape, "bench_size": self.size}


def parse_case(name: str) -> Case:
    """Parse a case name back into a Case, checking each part against the registries.

    >>> parse_case("ser/pickle-5/dumps/records/1000").subject
    'pickle-5'
    """
    parts = name.split("/")
    if len(parts) != 5 or not parts[4].isdigit():
        raise InputError(f"bad case name {name!r}: expected suite/subject/op/shape/size")
    case = Case(parts[0], parts[1], parts[2], parts[3], int(parts[4]))
    check_case(case)
    return case


def check_case(case: Case) -> None:
    """Raise InputError when a case names something the registries do not have."""
    known: dict[str, tuple[Iterable[str], Iterable[str], Iterable[str]]] = {
        "ser": (SERIALIZERS, SER_OPS + SINK_OPS, SHAPES),
        "fold": (STYLES, TASKS, INPUT_KINDS),
        "ref": (("memcpy",), ("copy",), ("bytes",)),
        "ship": (TRANSPORTS, SHIP_OPS, SHIP_SHAPES),
    }
    if case.suite not in known:
        raise InputError(f"case {case.name!r}: unknown suite {case.suite!r} "
                         f"(known: {', '.join(SUITES)})")
    for label, value, choices in zip(("subject", "op", "shape"), (case.subject, case.op, case.shape),
                                     known[case.suite]):
        if value not in choices:
            raise InputError(f"case {case.name!r}: unknown {label} {value!r} "
                             f"(known: {', '.join(choices)})")
    if case.suite == "fold" and case.op not in STYLES[case.subject].tasks:
        raise InputError(f"case {case.name!r}: style {case.subject!r} has no task {case.op!r}")
    if case.suite == "ship" and (case.op not in TRANSPORTS[case.subject].ops
                                 or case.shape != shape_of(case.op)):
        raise InputError(f"case {case.name!r}: transport {case.subject!r} has no op {case.op!r} "
                         f"on shape {case.shape!r}")


@functools.cache
def is_supported(serializer: str, shape: str) -> bool:
    """True when `serializer` round-trips `shape` equal (checked on a small build); for the
    user's data, when it is installed (its worker checks the round trip: exact or lossy)."""
    entry = SERIALIZERS[serializer]
    if not entry.available() or SHAPES[shape].user_data:
        return entry.available()
    obj = build_shape(shape, min(20, SHAPES[shape].max_size))
    return classify_roundtrip(entry.codec(), obj).status == "ok"


def style_available(style: str) -> bool:
    """True when the fold style's library is importable (checked without importing it)."""
    module = STYLES[style].module
    return module is None or importlib.util.find_spec(module) is not None


def unavailable_subjects() -> dict[str, str]:
    """Subjects skipped because their library is missing, with the reason."""
    missing = {name: f"python package {entry.module!r} is not installed"
               for name, entry in SERIALIZERS.items() if not entry.available()}
    missing.update({name: f"python package {STYLES[name].module!r} is not installed"
                    for name in STYLES if not style_available(name)})
    missing.update({name: f"python package {entry.module!r} is not installed"
                    for name, entry in TRANSPORTS.items() if not entry.available()})
    return missing


def ser_cases(serializers: Iterable[str], shapes: Iterable[str], sizes: Callable[[str], Iterable[int]],
              ops: Sequence[str] = SER_OPS) -> Iterator[Case]:
    """Serializer cases for every supported serializer x shape x size x op."""
    for serializer in serializers:
        for shape in shapes:
            if not is_supported(serializer, shape):
                continue
            for size in sizes(shape):
                for op in ops:
                    if op in SER_OPS or SERIALIZERS[serializer].has_file_form:
                        yield Case("ser", serializer, op, shape, size)


def fold_cases(sizes: Iterable[int], kinds: Iterable[str] = INPUT_KINDS,
               tasks: Iterable[str] | None = None, styles: Iterable[str] | None = None
               ) -> Iterator[Case]:
    """Fold cases for every available style x supported task x size x input kind."""
    for style in styles or STYLES:
        if not style_available(style):
            continue
        for task in STYLES[style].tasks:
            if tasks is None or task in tasks:
                yield from (Case("fold", style, task, kind, size)
                            for size in sizes for kind in kinds)


def ship_cases(transports: Iterable[str], ops: Iterable[str], sizes: Iterable[int]) -> Iterator[Case]:
    """Ship cases for every available transport x op it has x size (`empty` at size 0 only)."""
    for transport in transports:
        entry = TRANSPORTS[transport]
        if not entry.available():
            continue
        for op in ops:
            if op in entry.ops:
                yield from (Case("ship", transport, op, shape_of(op), 0 if op == "empty" else size)
                            for size in sizes)


SHIP_POOLS = ("process-pool", "loky", "dask")
SHIP_DECADES = [10**k for k in range(1, 7)]
GRID_SIDES = [32, 64, 128, 256, 512, 1024, 2048]


def ship_suite_cases(sockets: Sequence[str], sizes: Sequence[int], sides: Sequence[int],
                     code_sockets: Sequence[str] | None = None) -> Iterator[Case]:
    """Empty, data and code round trips over the pools and `sockets`, then scale out or up."""
    socket_names = [f"socket-{s}" for s in sockets]
    yield from ship_cases([*SHIP_POOLS, *socket_names], ["empty"], [0])
    yield from ship_cases([*SHIP_POOLS, *socket_names], ["data"], sizes)
    code_names = socket_names if code_sockets is None else [f"socket-{s}" for s in code_sockets]
    yield from ship_cases([*SHIP_POOLS, *code_names], ["code"], sizes)
    yield from ship_cases(["pipes"], SCALE_OPS, sides)


def ref_cases(sizes: Iterable[int]) -> Iterator[Case]:
    """The memcpy reference: copying a bytes buffer of each size."""
    return (Case("ref", "memcpy", "copy", "bytes", size) for size in sizes)


def estimate_ref_nbytes(size: int) -> int:
    """Bytes the memcpy reference holds: its buffer and the copy.

    >>> estimate_ref_nbytes(1000)
    2000
    """
    return 2 * size


def estimate_ser_nbytes(shape: str, size: int) -> int:
    """Bytes a serializer case's input takes: one item of the shape, times the size (the
    shape's own cap is checked by `check_resized`)."""
    probe = SHAPES[shape].min_size  # 1, or the one size of a file's data
    return estimate_nbytes(shape, probe) * size // probe


# Each suite's estimate of the bytes a case holds, from (op, shape, size): what
# `check_resized` holds to the memory budget before any worker starts.
SUITE_ESTIMATES: dict[str, Callable[[str, str, int], int]] = {
    "ser": lambda op, shape, size: estimate_ser_nbytes(shape, size),
    "fold": lambda op, shape, size: estimate_fold_nbytes(op, size),
    "ref": lambda op, shape, size: estimate_ref_nbytes(size),
    "ship": lambda op, shape, size: estimate_ship_nbytes(op, size),
}


def around(shape: str) -> list[int]:
    """A shape's default size with a tenth and ten times it, within its cap.

    >>> around("ints")
    [100, 1000, 10000]
    """
    entry = SHAPES[shape]
    size = entry.default_size
    return [s for s in (size // 10, size, size * 10) if entry.min_size <= s <= entry.max_size]


def default_size(shape: str) -> list[int]:
    return [SHAPES[shape].default_size]


def decades(shape: str) -> list[int]:
    entry = SHAPES[shape]
    return [10**k for k in range(1, 7) if entry.min_size <= 10**k <= entry.max_size]


def smoke_cases() -> Iterator[Case]:
    """Every subject at least once, at tiny sizes (the user's `--data` at its own): for tests."""
    yield from ser_cases(SERIALIZERS, ["ints"], lambda _: [10], ["dumps"])
    yield from ser_cases(["pickle-5"], [s.name for s in SHAPES.values() if s.user_data], default_size)
    yield from ser_cases(["pickle-5"], ["ints"], lambda _: [10], ["loads", "dumps-bytesio",
                                                                "loads-file"])
    for style in STYLES:
        yield from fold_cases([100], ["list"], [STYLES[style].tasks[0]], [style])
    yield from fold_cases([100], ["generator"], ["sum"], ["loop"])
    yield from ref_cases([1000])


def quick_cases() -> Iterator[Case]:
    """The default profile: broad coverage at one size, plus glimpses of scaling and sinks."""
    for entry in SERIALIZERS.values():
        if not entry.legacy:
            yield from ser_cases([entry.name], entry.quick_shapes or SHAPES, default_size)
    yield from ser_cases([s.name for s in SERIALIZERS.values() if s.legacy], ["ints", "records"],
                         default_size)
    glimpse = ["ints", "records", "bytes"]
    yield from ser_cases(("pickle-5", "dill", "msgpack"), glimpse,
                         lambda s: [n for n in around(s) if n != SHAPES[s].default_size], ["dumps"])
    yield from ser_cases(("pickle-5", "msgpack"), glimpse, default_size, SINK_OPS)
    yield from fold_cases([FOLD_SIZE])
    yield from fold_cases([FOLD_SIZE // 10, FOLD_SIZE * 10], ["list"], ["concat"])
    yield from ref_cases(around("bytes"))
    yield from quick_ship_cases()


def quick_ship_cases() -> Iterator[Case]:
    """A glimpse of the ship suite that fits the quick profile's minutes: each kind of
    transport's fixed cost, data against code at two sizes, one grid on one and two workers.

    dask starts a LocalCluster in every worker process (~2 s), so quick times only its empty
    round trip; the pickle pool's code case, which fails by design (the capability matrix
    shows why), is left to the `ship` profile.
    """
    yield from ship_cases(["process-pool", "loky", "dask", "socket-pickle-5"], ["empty"], [0])
    yield from ship_cases(["process-pool", "loky", "socket-pickle-5"], ["data"], [100, 100_000])
    yield from ship_cases(["loky", "socket-cloudpickle"], ["code"], [100, 100_000])
    yield from ship_cases(["pipes"], SCALE_OPS, [512])


def ship_smoke_cases() -> Iterator[Case]:
    """Every transport once at tiny sizes (the pickle pool's code case fails by design)."""
    yield from ship_cases(TRANSPORTS, ["empty", "data", "code"], [10])
    yield from ship_cases(["pipes"], SCALE_OPS, [16])


def ship_profile_cases() -> Iterator[Case]:
    """The ship suite on the full ladder: every transport, sizes 10 to 1e6, grids 32 to 2048."""
    sockets = [t.serializer for t in TRANSPORTS.values() if t.serializer]
    yield from ship_suite_cases(sockets, SHIP_DECADES, GRID_SIDES)


def full_cases() -> Iterator[Case]:
    """Every serializer x shape x three sizes x every op; folds at three sizes."""
    yield from ser_cases(SERIALIZERS, SHAPES, around, SER_OPS + SINK_OPS)
    yield from fold_cases([FOLD_SIZE // 10, FOLD_SIZE, FOLD_SIZE * 10])
    yield from ref_cases(around("bytes"))
    yield from ship_profile_cases()


def scaling_cases() -> Iterator[Case]:
    """Sizes by decades, for scaling curves and fitted exponents."""
    yield from ser_cases(("pickle-5", "dill", "cloudpickle", "msgpack", "json", "marshal"),
                         ["ints", "records", "text", "bytes"], decades, ["dumps", "loads"])
    yield from fold_cases([10, 100, 1000, 10_000], ["list"])
    yield from ref_cases(decades("bytes"))


def data_cases() -> Iterator[Case]:
    """The user's data alone (`--data`; none without it): every serializer on each data shape,
    dumps and loads, and the sinks of those with a file form."""
    user_shapes = [shape.name for shape in SHAPES.values() if shape.user_data]
    yield from ser_cases(SERIALIZERS, user_shapes, default_size, SER_OPS + SINK_OPS)


PYPERF_PROCESSES = 20  # pyperf's default --processes


@dataclass(frozen=True)
class Profile:
    """A named run: which cases, the pyperf settings they run with, and what else a run writes.

    `pyperf_settings` are pyperf command-line flags; flags the user gives come after them
    and win (`--processes` is the number of round-robin passes, see bench.run.schedule).
    `writes_capabilities`: a run also writes the capability matrix beside its results file.
    `target_ci` and `budget_seconds`: after its passes, a run adds processes to the cases
    whose relative 95% CI half-width is over `target_ci` while the run is within its budget
    (0: no adaptive part).
    """

    name: str
    make_cases: Callable[[], Iterable[Case]]
    pyperf_settings: tuple[str, ...]
    writes_capabilities: bool
    description: str
    target_ci: float = 0.0
    budget_seconds: float = 0.0

    def processes(self) -> int:
        """Worker processes per case its settings ask for (pyperf's default: 20).

        >>> get_profile("quick").processes(), get_profile("full").processes()
        (3, 20)
        """
        flags = list(self.pyperf_settings)
        at = len(flags) - 1 - flags[::-1].index("--processes") if "--processes" in flags else -1
        return int(flags[at + 1]) if at >= 0 else PYPERF_PROCESSES

    def list_cases(self) -> list[Case]:
        """The profile's cases, in run order, without duplicates."""
        return list(dict.fromkeys(self.make_cases()))


QUICK_FLAGS = ("--processes", "3", "--values", "4", "--warmups", "1", "--min-time", "0.005",
               "--timeout", "120")  # the quick and data profiles: 3 processes, then the budget
PROFILES: dict[str, Profile] = {p.name: p for p in [
    Profile("smoke", smoke_cases, ("--processes", "1", "--values", "2", "--warmups", "1",
                                   "--min-time", "0.002", "--timeout", "60"), False,
            "every subject once at tiny sizes, 1 process: proves the pipeline, measures nothing"),
    Profile("quick", quick_cases, QUICK_FLAGS, True,
            "every serializer x shape at one size, sinks, folds, memcpy, a glimpse of ship; "
            "3 processes per case, then more where the CI is over 3% within a 300 s budget",
            target_ci=0.03, budget_seconds=300),
    Profile("full", full_cases, ("--timeout", "600"), True,
            "every serializer x shape x 3 sizes x every op at pyperf's default rigour: hours"),
    Profile("scaling", scaling_cases, ("--processes", "6", "--values", "3", "--warmups", "1",
                                       "--min-time", "0.02", "--timeout", "600"), True,
            "sizes 10 to 1e6 by decades, for scaling exponents; 6 processes per case"),
    Profile("ship", ship_profile_cases, ("--processes", "4", "--values", "3", "--warmups", "1",
                                         "--min-time", "0.01", "--timeout", "600"), False,
            "data or code shipped over every transport, sizes 10 to 1e6, and scale out or up "
            "on grids 32 to 2048; 4 processes per case"),
    Profile("ship-smoke", ship_smoke_cases, ("--processes", "1", "--values", "2", "--warmups",
                                             "1", "--min-time", "0.002", "--timeout", "120"),
            False, "every ship transport once at tiny sizes, 1 process: proves the pipeline"),
    Profile("data", data_cases, QUICK_FLAGS, False,
            "your data (needs --data; the default with it): every serializer, dumps, loads and sinks; "
            "3 processes per case, then more where the CI is over 3% within a 75 s budget",
            target_ci=0.03, budget_seconds=75),
]}


def get_profile(name: str) -> Profile:
    """The profile called `name`; InputError naming the known ones otherwise.

    >>> get_profile("smoke").writes_capabilities
    False
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise InputError(f"unknown profile {name!r} (known: {', '.join(PROFILES)})") from None


def resize_cases(cases: Sequence[Case], sizes: Sequence[int]) -> list[Case]:
    """The same cases at each of `sizes` (`bench run --size`), each size checked by `check_resized`."""
    budget = memory_budget()
    out = {dataclasses.replace(case, size=size): None for case in cases for size in sizes}
    for case in out:
        check_resized(case, budget)
    return list(out)


def memory_budget() -> int:
    """Bytes a case's data may take (SUITE_ESTIMATES): BENCH_MEMORY_BUDGET, or 4 GiB."""
    text = os.environ.get("BENCH_MEMORY_BUDGET", str(4 * 2**30))
    if not text.isdigit():
        raise InputError(f"BENCH_MEMORY_BUDGET={text!r}: expected a number of bytes")
    return int(text)


def check_resized(case: Case, budget: int) -> None:
    """Refuse a size below 1, outside the shape's range, or whose data would exceed `budget`
    (each suite's estimate, SUITE_ESTIMATES)."""
    if case.size < 1:
        raise InputError(f"--size {case.size}: sizes must be at least 1")
    check_case(case)
    estimate = SUITE_ESTIMATES[case.suite](case.op, case.shape, case.size)
    if estimate > budget:
        what = f"shape {case.shape!r}" if case.suite == "ser" else case.name
        raise InputError(f"--size {case.size}: {what} would need about "
                         f"{estimate / 2**30:.1f} GiB, over the budget of "
                         f"{budget / 2**30:.1f} GiB (set BENCH_MEMORY_BUDGET in bytes)")
    if case.suite != "ser":
        return
    try:
        estimate_nbytes(case.shape, case.size)
    except InputError as exc:
        raise InputError(f"--size {case.size}: {exc}") from None


def select_cases(cases: Sequence[Case], patterns: Sequence[str] = (),
                 suites: Sequence[str] = ()) -> list[Case]:
    """Keep cases of the given suites whose name matches any glob; refuse a pattern matching none."""
    kept = [c for c in cases if not suites or c.suite in suites]
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(c.name, pattern) for c in kept):
            raise InputError(f"-k {pattern!r} matches no case{suggest_names(pattern, kept)}")
    if patterns:
        kept = [c for c in kept if any(fnmatch.fnmatchcase(c.name, p) for p in patterns)]
    return kept


def suggest_names(pattern: str, cases: Sequence[Case]) -> str:
    """`; did you mean ...` with up to three close case names, or an empty string."""
    import difflib  # only for a name that matched nothing

    close = difflib.get_close_matches(pattern, [c.name for c in cases], n=3, cutoff=0.5)
    return f"; did you mean: {', '.join(close)}" if close else ""
