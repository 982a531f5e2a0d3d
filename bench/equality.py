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
    return bool(x == y)


def _same_array(x: Any, y: Any) -> bool:
    """Same dtype, shape and elements (numpy arrays and scalars)."""
    import numpy

    return bool(x.dtype == y.dtype and numpy.shape(x) == numpy.shape(y) and numpy.array_equal(x, y))
