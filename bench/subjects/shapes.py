"""The shape registry: seeded, pure builders of the objects the serializer suite times.

`build_shape(name, n, seed)` returns the same object for the same arguments on
every machine and Python, and a bigger one for a bigger `n`. numpy is imported
only by the `ndarray` builder, so a worker timing another shape never loads it.
"""

from __future__ import annotations

import dataclasses
import math
import random
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.errors import InputError
from bench.subjects import check_new_name

WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
         "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi",
         "chi", "psi", "omega", "café", "naïve", "straße", "東京")
MAX_DEPTH = 200  # `deep` nests this far at most: dill's pure-Python pickler uses ~4 frames a level


@dataclass
class Record:
    """The element of the `dataclasses` shape (module level, so pickle finds it by reference)."""

    id: int
    name: str
    score: float
    tags: list[str]
    active: bool


@dataclass(frozen=True)
class Shape:
    """One registry entry: a seeded builder and the size a profile uses by default.

    bytes_heavy: the object is mostly one buffer of raw bytes, so reports compare its
    throughput with copying the same number of bytes (the memcpy reference).
    library: the optional library the builder imports (None: none), so a process that
    counts several cases keeps a shape that loads one apart from those that do not.
    user_data: the user's own objects (`--data`, bench.subjects.user_data): every serializer
    gets a case and its worker checks the round trip (a lossy one is timed and labelled).
    item_nbytes: memory of one item, known without a build (0: estimated from a small build).
    min_size: the smallest size it builds (a file's data has one size: min_size = max_size).
    """

    name: str
    build: Callable[[int, random.Random], Any]
    note: str
    default_size: int = 1000
    max_size: int = 10_000_000
    bytes_heavy: bool = False
    library: str | None = None
    user_data: bool = False
    item_nbytes: int = 0
    min_size: int = 1


def _short_str(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_letters, k=rng.randint(4, 12)))


def _record_row(i: int, rng: random.Random) -> dict[str, Any]:
    return {"id": i, "name": _short_str(rng), "email": f"{_short_str(rng)}@example.org",
            "score": rng.random() * 100, "active": rng.random() < 0.5,
            "tags": rng.sample(WORDS[:24], 3), "parent": None}


def build_nested(n: int, rng: random.Random) -> dict[str, Any]:
    """A dict tree with about n leaves, fan-out 4: depth grows with log4(n)."""
    depth = max(1, math.ceil(math.log(max(n, 2), 4)))
    leaves = [0]

    def node(level: int) -> Any:
        if level == depth or leaves[0] >= n:
            leaves[0] += 1
            return rng.random()
        return {f"k{i}": node(level + 1) for i in range(4)}

    return node(0)


def build_deep(n: int, rng: random.Random) -> list[Any]:
    """Lists nested n deep around one int (build_shape caps n at MAX_DEPTH)."""
    value: list[Any] = [rng.randrange(100)]
    for _ in range(n - 1):
        value = [value]
    return value


def build_profile(i: int, rng: random.Random) -> dict[str, Any]:
    """A user profile like pyperformance's DICT benchmark, with a date in it."""
    import datetime  # only this shape has dates: a worker of another case skips the import

    return {"id": i, "username": _short_str(rng), "age": rng.randint(18, 90),
            "joined": datetime.date(2000, 1, 1) + datetime.timedelta(days=rng.randrange(9000)),
            "address": {"street": f"{rng.randint(1, 999)} {rng.choice(WORDS)} road",
                        "city": rng.choice(WORDS), "zip": f"{rng.randrange(10**5):05d}"},
            "scores": [rng.random() for _ in range(3)], "verified": rng.random() < 0.5}


def build_ndarray(n: int, rng: random.Random) -> Any:
    """A float64 numpy array of n values."""
    import numpy

    return numpy.random.default_rng(rng.randrange(2**32)).random(n)


SHAPES: dict[str, Shape] = {s.name: s for s in [
    Shape("ints", lambda n, r: [r.randrange(-10**9, 10**9) for _ in range(n)], "list of n ints"),
    Shape("floats", lambda n, r: [r.random() * 1e6 for _ in range(n)], "list of n floats"),
    Shape("short-strs", lambda n, r: [_short_str(r) for _ in range(n)], "list of n ASCII strs"),
    Shape("text", lambda n, r: " ".join(r.choices(WORDS, k=n)), "one str of n words, some non-ASCII"),
    Shape("bytes", lambda n, r: r.randbytes(n), "one bytes object of n random bytes", 100_000,
          100_000_000, bytes_heavy=True),
    Shape("flat-dict", lambda n, r: {f"key{i}": r.random() for i in range(n)}, "str -> float, n keys"),
    Shape("nested-dict", build_nested, "dict tree, fan-out 4, about n float leaves"),
    Shape("records", lambda n, r: [_record_row(i, r) for i in range(n)], "n JSON-like row dicts"),
    Shape("tuples", lambda n, r: [(i, r.random(), _short_str(r)) for i in range(n)],
          "n (int, float, str) tuples"),
    Shape("dataclasses", lambda n, r: [Record(**{k: v for k, v in _record_row(i, r).items()
                                                 if k in Record.__dataclass_fields__})
                                       for i in range(n)], "n dataclass instances"),
    Shape("deep", build_deep, f"lists nested n deep (n <= {MAX_DEPTH}: recursive picklers need the stack)",
          100, MAX_DEPTH),
    Shape("ndarray", build_ndarray, "float64 numpy array of n values", 100_000, 100_000_000,
          bytes_heavy=True, library="numpy"),
    Shape("mixed", lambda n, r: [build_profile(i, r) for i in range(n)],
          "n user-profile dicts with a date"),
]}


def register_shape(name: str, build: Callable[[int, random.Random], Any], note: str = "", *,
                   default_size: int = 1000, **facts: Any) -> Shape:
    """Add a shape to the registry from its seeded builder `build(n, rng)`; every other fact
    is a keyword of `Shape` with a default that works.

    >>> entry = register_shape("pairs-doc", lambda n, rng: [(i, rng.random()) for i in range(n)])
    >>> len(build_shape("pairs-doc", 3)), entry.note
    (3, 'registered: pairs-doc')
    >>> del SHAPES["pairs-doc"]
    """
    check_new_name("shape", name, SHAPES)
    entry = Shape(name, build, note or f"registered: {name}", default_size, **facts)
    SHAPES[name] = entry
    return entry


def get_shape(name: str) -> Shape:
    """Look a shape up by name; raise InputError naming the choices."""
    try:
        return SHAPES[name]
    except KeyError:
        raise InputError(f"unknown shape {name!r} (known: {', '.join(SHAPES)})") from None


def build_shape(name: str, n: int, seed: int = 0) -> Any:
    """Build shape `name` at size n, deterministically from `seed`.

    >>> build_shape("ints", 3) == build_shape("ints", 3), len(build_shape("ints", 3))
    (True, 3)
    """
    shape = check_size(name, n)
    return shape.build(n, random.Random(f"{name}:{n}:{seed}"))


def check_size(name: str, n: int) -> Shape:
    """Return shape `name`, or raise InputError when n is outside its range."""
    shape = get_shape(name)
    if not shape.min_size <= n <= shape.max_size:
        raise InputError(f"shape {name!r}: size {n} is out of range {shape.min_size}..{shape.max_size} "
                         f"({shape.note})")
    return shape


def shape_nbytes(obj: Any) -> int:
    """Approximate in-memory size: sys.getsizeof over every reachable object, once each.

    >>> shape_nbytes([b"x" * 100]) > 100
    True
    """
    seen: set[int] = set()
    stack = [obj]
    total = 0
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        stack.extend(_children(item))
    return total


def _children(item: Any) -> list[Any]:
    """The objects `item` holds, for `shape_nbytes`."""
    if isinstance(item, dict):
        return [*item.keys(), *item.values()]
    if isinstance(item, (list, tuple, set, frozenset)):
        return list(item)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return [getattr(item, f.name) for f in dataclasses.fields(item)]
    return []


def estimate_nbytes(name: str, n: int) -> int:
    """Estimated memory of shape `name` at size n, extrapolated from a small build (no big build).

    >>> 6_000_000 < estimate_nbytes("floats", 200_000) < 8_000_000
    True
    """
    shape = check_size(name, n)
    if shape.item_nbytes:
        return shape.item_nbytes * n
    probe = min(n, 64)
    return shape_nbytes(build_shape(name, probe)) * n // probe
