"""Strict structural equality: the one rule every correctness check uses.

`==` is not enough to check a round trip: `(1, 2) == [1, 2]` is False but
`1 == 1.0 == True` is True, numpy arrays compare element-wise, and a deep
structure overflows the C stack of a recursive compare. `same_value` is
iterative and type-strict.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

_ATOMS = (type(None), bool, int, str, bytes, complex)


def same_value(a: Any, b: Any, *, rel_tol: float = 0.0) -> bool:
    """True when `a` and `b` have the same types and values, all the way down.

    >>> same_value((1, 2), (1, 2)), same_value((1, 2), [1, 2]), same_value(1, 1.0)
    (True, False, False)
    >>> same_value(1.0, 1.0 + 1e-12, rel_tol=1e-9)
    True
    """
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y:
            continue
        if type(x) is not type(y):
            return False
        if not _same_node(x, y, stack, rel_tol):
            return False
    return True


def first_difference(a: Any, b: Any, *, rel_tol: float = 0.0) -> str | None:
    """Where `b` first differs from `a` under `same_value`'s rule, with its path, or None.

    >>> first_difference([{"tags": ("x",)}], [{"tags": ["x"]}])
    "[0]['tags']: tuple became list"
    >>> first_difference({"n": 1}, {"n": 2}), first_difference((1,), (1,))
    ("['n']: 1 became 2", None)
    """
    stack: list[tuple[str, Any, Any]] = [("", a, b)]
    while stack:
        path, x, y = stack.pop()
        if x is y:
            continue
        where = path or "the object"
        if type(x) is not type(y):
            return f"{where}: {type(x).__name__} became {type(y).__name__}"
        children: list[tuple[Any, Any]] = []
        if not _same_node(x, y, children, rel_tol):
            return f"{where}: {_differ(x, y)}"
        keys = list(x) if isinstance(x, dict) else range(len(children))
        if dataclasses.is_dataclass(x) and not isinstance(x, dict):
            keys = [f.name for f in dataclasses.fields(x)]
        steps = [f".{k}" if dataclasses.is_dataclass(x) else f"[{k!r}]" for k in keys]
        stack.extend((path + step, cx, cy) for step, (cx, cy) in reversed(list(zip(steps, children))))
    return None


def _differ(x: Any, y: Any) -> str:
    """How two nodes of one type differ: length, keys or value."""
    if isinstance(x, (list, tuple)) and len(x) != len(y):
        return f"length {len(x)} became {len(y)}"
    if isinstance(x, dict):
        lost, added = [k for k in x if k not in y], [k for k in y if k not in x]
        return f"key {lost[0]!r} lost" if lost else f"key {added[0]!r} added"
    text = f"{x!r} became {y!r}"
    short = len(text) <= 80 and "\n" not in text
    return text if short else f"the {type(x).__name__} is not equal to the one given"


def _same_node(x: Any, y: Any, stack: list[tuple[Any, Any]], rel_tol: float) -> bool:
    """Compare one node; push its children onto `stack`."""
    if isinstance(x, _ATOMS):
        return bool(x == y)
    if isinstance(x, float):
        return x == y or math.isclose(x, y, rel_tol=rel_tol) or (x != x and y != y)
    if isinstance(x, (list, tuple)):
        if len(x) != len(y):
            return False
        stack.extend(zip(x, y))
        return True
    if isinstance(x, dict):
        if x.keys() != y.keys():
            return False
        stack.extend((x[k], y[k]) for k in x)
        return True
    if isinstance(x, (set, frozenset)):
        return bool(x == y)
    if dataclasses.is_dataclass(x):
        stack.extend((getattr(x, f.name), getattr(y, f.name)) for f in dataclasses.fields(x))
        return True
    if type(x).__module__ == "numpy" and hasattr(x, "dtype"):
        return _same_array(x, y)
    if type(x).__module__.partition(".")[0] == "pandas" and hasattr(x, "equals"):
        return bool(x.equals(y))  # DataFrame, Series, Index: same values and dtypes
    return bool(x == y)


def _same_array(x: Any, y: Any) -> bool:
    """Same dtype, shape and elements (numpy arrays and scalars)."""
    import numpy

    return bool(x.dtype == y.dtype and numpy.shape(x) == numpy.shape(y) and numpy.array_equal(x, y))
