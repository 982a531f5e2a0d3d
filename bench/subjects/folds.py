"""The fold registry: fold tasks x fold styles, the folklore "use reduce for speed" put to a test.

A task (`sum`, `merge`, ...) is a seeded list of items and a question about it;
a style (`loop`, `reduce-lambda`, `toolz`, ...) is one way to fold the items
into the answer. What is timed is one call of the style's function on the
items, fed as a list or as a fresh generator over the list.

Note: `toolz.reduce is functools.reduce` (cytoolz's too), so the `toolz` and
`cytoolz` styles use each library's idiomatic call for the task (`merge`,
`concat`, `frequencies`) and support only the tasks that have one.
Libraries (toolz, cytoolz, numpy) are imported only by `Style.functions()`.
"""

from __future__ import annotations

import collections
import functools
import itertools
import math
import operator
import random
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bench.equality import same_value
from bench.errors import InputError
from bench.subjects import check_new_name
from bench.subjects.shapes import WORDS, shape_nbytes

Fold = Callable[[Iterable[Any]], Any]
InputKind = Literal["list", "generator"]
INPUT_KINDS: tuple[InputKind, ...] = ("list", "generator")


@dataclass(frozen=True)
class Task:
    """A fold task: seeded items to fold, and what the answer is."""

    name: str
    build: Callable[[int, random.Random], list[Any]]
    note: str


@dataclass(frozen=True)
class Style:
    """A fold style: the tasks it supports, a lazy factory of its fold functions, and its facts.

    call: what the style calls, as reports say it; calls: the same per task where it differs;
    is_reduce: a functools.reduce style; color and marker: its plot style (a colour no other
    fold style or serializer has, a matplotlib marker).
    """

    name: str
    note: str
    tasks: tuple[str, ...]
    make_functions: Callable[[], dict[str, Fold]]
    module: str | None = None
    call: str = ""
    calls: Mapping[str, str] = field(default_factory=dict)
    is_reduce: bool = False
    color: str = ""
    marker: str = ""

    def functions(self) -> dict[str, Fold]:
        """Import the style's library and return task -> fold function."""
        return self.make_functions()

    def call_for(self, task: str) -> str:
        """What the style calls for `task`.

        >>> STYLES["reduce-operator"].call_for("merge"), STYLES["loop"].call_for("sum")
        ('reduce(operator.or_)', 'the plain loop')
        """
        return self.calls.get(task, self.call or self.name)


TASKS: dict[str, Task] = {t.name: t for t in [
    Task("sum", lambda n, r: [r.randrange(1000) for _ in range(n)], "sum of n small ints"),
    Task("product", lambda n, r: [1 + r.uniform(-1e-3, 1e-3) for _ in range(n)],
         "product of n floats near 1"),
    Task("max", lambda n, r: [r.randrange(10**9) for _ in range(n)], "largest of n ints"),
    Task("concat", lambda n, r: [r.choice(WORDS) for _ in range(n)], "join n short strings"),
    Task("merge", lambda n, r: [{f"k{r.randrange(n)}": i for i in range(4)} for _ in range(n)],
         "merge n dicts of 4 keys, later wins"),
    Task("flatten", lambda n, r: [[r.randrange(100) for _ in range(4)] for _ in range(n)],
         "flatten n lists of 4 ints"),
    Task("count-words", lambda n, r: [r.choice(WORDS) for _ in range(n)],
         "count occurrences of n words"),
]}


def _last(iterator: Iterable[Any]) -> Any:
    return collections.deque(iterator, maxlen=1)[0]


def _loop_functions() -> dict[str, Fold]:
    def loop_sum(xs: Iterable[int]) -> int:
        acc = 0
        for x in xs:
            acc += x
        return acc

    def loop_product(xs: Iterable[float]) -> float:
        acc = 1.0
        for x in xs:
            acc *= x
        return acc

    def loop_max(xs: Iterable[int]) -> int:
        it = iter(xs)
        acc = next(it)
        for x in it:
            if x > acc:
                acc = x
        return acc

    def loop_concat(xs: Iterable[str]) -> str:
        acc = ""
        for x in xs:
            acc += x
        return acc

    def loop_merge(xs: Iterable[dict[str, int]]) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in xs:
            out.update(d)
        return out

    def loop_flatten(xs: Iterable[list[int]]) -> list[int]:
        out: list[int] = []
        for chunk in xs:
            out.extend(chunk)
        return out

    def loop_count_words(xs: Iterable[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for w in xs:
            counts[w] = counts.get(w, 0) + 1
        return counts

    return {"sum": loop_sum, "product": loop_product, "max": loop_max, "concat": loop_concat,
            "merge": loop_merge, "flatten": loop_flatten, "count-words": loop_count_words}


def _reduce_lambda_functions() -> dict[str, Fold]:
    reduce = functools.reduce
    counts: dict[str, int] = {}  # never mutated: each step builds a new dict
    return {
        "sum": lambda xs: reduce(lambda a, b: a + b, xs, 0),
        "product": lambda xs: reduce(lambda a, b: a * b, xs, 1.0),
        "max": lambda xs: reduce(lambda a, b: a if a >= b else b, xs),
        "concat": lambda xs: reduce(lambda a, b: a + b, xs, ""),
        "merge": lambda xs: reduce(lambda a, b: {**a, **b}, xs, {}),
        "flatten": lambda xs: reduce(lambda a, b: a + b, xs, []),
        "count-words": lambda xs: reduce(lambda acc, w: {**acc, w: acc.get(w, 0) + 1}, xs, counts),
    }


def _reduce_operator_functions() -> dict[str, Fold]:
    reduce = functools.reduce
    return {
        "sum": lambda xs: reduce(operator.add, xs, 0),
        "product": lambda xs: reduce(operator.mul, xs, 1.0),
        "max": lambda xs: reduce(max, xs),
        "concat": lambda xs: reduce(operator.add, xs, ""),
        "merge": lambda xs: reduce(operator.or_, xs, {}),
        "flatten": lambda xs: reduce(operator.add, xs, []),
    }


def _toolz_functions(module_name: str) -> dict[str, Fold]:
    module = __import__(module_name)
    return {
        "merge": module.merge,
        "flatten": lambda xs: list(module.concat(xs)),
        "count-words": module.frequencies,
    }


def _builtin_functions() -> dict[str, Fold]:
    chain = itertools.chain.from_iterable
    return {
        "sum": sum,
        "product": math.prod,
        "max": max,
        "concat": "".join,
        "merge": lambda xs: dict(chain(map(dict.items, xs))),
        "flatten": lambda xs: list(chain(xs)),
        "count-words": collections.Counter,
    }


def _accumulate_functions() -> dict[str, Fold]:
    accumulate = itertools.accumulate
    return {
        "sum": lambda xs: _last(accumulate(xs, operator.add, initial=0)),
        "product": lambda xs: _last(accumulate(xs, operator.mul, initial=1.0)),
        "max": lambda xs: _last(accumulate(xs, max)),
        "concat": lambda xs: _last(accumulate(xs, operator.add, initial="")),
        "merge": lambda xs: _last(accumulate(xs, operator.or_, initial={})),
        "flatten": lambda xs: _last(accumulate(xs, operator.add, initial=[])),
    }


def _numpy_functions() -> dict[str, Fold]:
    import numpy

    return {
        "sum": lambda xs: numpy.fromiter(xs, dtype=numpy.int64).sum().item(),
        "product": lambda xs: numpy.fromiter(xs, dtype=numpy.float64).prod().item(),
        "max": lambda xs: numpy.fromiter(xs, dtype=numpy.int64).max().item(),
    }


ALL_TASKS = tuple(TASKS)
TOOLZ_CALLS = {"merge": "merge", "flatten": "concat", "count-words": "frequencies"}
STYLES: dict[str, Style] = {s.name: s for s in [
    Style("loop", "plain for loop with an accumulator: the reference", ALL_TASKS,
          _loop_functions, call="the plain loop", color="#000000", marker="s"),
    Style("reduce-lambda", "functools.reduce with a lambda", ALL_TASKS, _reduce_lambda_functions,
          call="reduce(lambda)", is_reduce=True, color="#0072B2", marker="^"),
    Style("reduce-operator", "functools.reduce with operator.add/mul/or_ (max: builtin max)",
          ("sum", "product", "max", "concat", "merge", "flatten"), _reduce_operator_functions,
          calls={"sum": "reduce(operator.add)", "product": "reduce(operator.mul)",
                 "max": "reduce(max)", "concat": "reduce(operator.add)",
                 "merge": "reduce(operator.or_)", "flatten": "reduce(operator.add)"},
          is_reduce=True, color="#E69F00", marker="^"),
    Style("toolz", "toolz's idiomatic call: merge, concat, frequencies (toolz.reduce is "
          "functools.reduce)", ("merge", "flatten", "count-words"),
          functools.partial(_toolz_functions, "toolz"), "toolz",
          calls={task: f"toolz.{call}" for task, call in TOOLZ_CALLS.items()},
          color="#009E73", marker="^"),
    Style("cytoolz", "cytoolz's idiomatic call: merge, concat, frequencies",
          ("merge", "flatten", "count-words"), functools.partial(_toolz_functions, "cytoolz"),
          "cytoolz", calls={task: f"cytoolz.{call}" for task, call in TOOLZ_CALLS.items()},
          color="#D55E00", marker="^"),
    Style("builtin", "sum, math.prod, max, str.join, dict(chain), list(chain), Counter",
          ALL_TASKS, _builtin_functions,
          calls={"sum": "builtin sum", "product": "math.prod", "max": "builtin max",
                 "concat": "str.join", "merge": "dict(chain(...))",
                 "flatten": "list(chain(...))", "count-words": "collections.Counter"},
          color="#CC79A7", marker="^"),
    Style("accumulate", "last item of itertools.accumulate",
          ("sum", "product", "max", "concat", "merge", "flatten"), _accumulate_functions,
          call="itertools.accumulate", color="#56B4E9", marker="^"),
    Style("numpy", "numpy.fromiter then sum/prod/max (numeric tasks only)",
          ("sum", "product", "max"), _numpy_functions, "numpy",
          call="numpy.fromiter + reduction", color="#8c564b", marker="^"),
]}


def register_style(name: str, functions: Mapping[str, Fold], note: str = "", **facts: Any) -> Style:
    """Add a fold style to the registry from its fold function per task (each takes the items,
    a list or a generator, and returns the answer the plain loop gives); every other fact is a
    keyword of `Style` with a default that works (the library: the module of the functions).

    >>> entry = register_style("sum-doc", {"sum": sum})
    >>> entry.tasks, get_fold("sum-doc", "sum")([1, 2, 3])
    (('sum',), 6)
    >>> del STYLES["sum-doc"]
    """
    check_new_name("style", name, STYLES)
    unknown = sorted(set(functions) - set(TASKS))
    if not functions or unknown:
        raise InputError(f"register_style: {name!r} needs functions for known tasks "
                         f"(unknown: {', '.join(unknown) or 'none given'}; known: {', '.join(TASKS)})")
    folds = dict(functions)
    library = getattr(next(iter(folds.values())), "__module__", None) or "builtins"
    facts.setdefault("module", None if library.split(".")[0] in sys.stdlib_module_names else library)
    return STYLES.setdefault(name, Style(name, note or f"registered by {library}", tuple(folds),
                                         lambda: folds, **facts))


def get_task(name: str) -> Task:
    """Look a fold task up by name; raise InputError naming the choices."""
    try:
        return TASKS[name]
    except KeyError:
        raise InputError(f"unknown fold task {name!r} (known: {', '.join(TASKS)})") from None


def get_style(name: str) -> Style:
    """Look a fold style up by name; raise InputError naming the choices."""
    try:
        return STYLES[name]
    except KeyError:
        raise InputError(f"unknown fold style {name!r} (known: {', '.join(STYLES)})") from None


def build_items(task: str, n: int, seed: int = 0) -> list[Any]:
    """The seeded items of `task` at size n.

    >>> build_items("sum", 3) == build_items("sum", 3)
    True
    """
    if n < 1:
        raise InputError(f"fold task {task!r}: size {n} must be at least 1")
    return get_task(task).build(n, random.Random(f"{task}:{n}:{seed}"))


def estimate_fold_nbytes(task: str, n: int) -> int:
    """Bytes a fold case of `task` at size n holds: its items (the list a generator runs
    over too), extrapolated from a small build, and an answer no larger than them (a
    flattened list, a joined string, numpy's array of them).

    >>> 2_000_000 < estimate_fold_nbytes("sum", 30_000) < 3_000_000
    True
    """
    probe = min(max(n, 1), 64)
    return 2 * shape_nbytes(build_items(task, probe)) * n // probe


def get_fold(style: str, task: str) -> Fold:
    """The fold function of `style` for `task` (imports the style's library)."""
    entry = get_style(style)
    if task not in entry.tasks:
        raise InputError(f"fold style {style!r} does not support task {task!r}")
    return entry.functions()[task]


def feed_items(items: list[Any], kind: InputKind) -> Callable[[], Iterable[Any]]:
    """A zero-argument callable giving the items as a list, or as a fresh generator.

    >>> list(feed_items([1, 2], "generator")())
    [1, 2]
    """
    if kind == "list":
        return lambda: items
    if kind == "generator":
        return lambda: (x for x in items)
    raise InputError(f"unknown input kind {kind!r} (known: {', '.join(INPUT_KINDS)})")


def same_answer(a: Any, b: Any) -> bool:
    """Fold results agree: dict subclasses count as dicts, floats to 1e-9 relative.

    >>> same_answer(collections.Counter("aab"), {"a": 2, "b": 1}), same_answer(1.0, 1.0 + 1e-12)
    (True, True)
    """
    return same_value(_plain(a), _plain(b), rel_tol=1e-9)


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value
