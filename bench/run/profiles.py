"""The profile of a counted case: which functions its instructions went to (`--metric instructions`).

A profile is one call's instructions per function, from callgrind's dump of the k calls of a
value less the dump of the empty loop, divided by k (the counting of bench.run.counter, so a
profile's total is the case's value). Each function is keyed by its object (the shared library
or executable, by file name) and its name, and carries its source file, its exclusive and
inclusive instructions and its calls, all per call. Only the TOP functions by exclusive and
by inclusive count are kept; `other` holds the exclusive instructions of the rest, so the
exclusive counts still add up to the total. As stored under `bench_profiles` in a results
file (case name -> profile; bench.results writes and reads it, `check_profiles` checks it):

    {"ir": 12345.0, "objs": ["libpython3.11.so.1.0", ...], "other": 12.0,
     "fns": [[NAME, FILE, OBJECT_INDEX, EXCLUSIVE, INCLUSIVE, CALLS], ...],
     "py": {"ops": 900, "other": 0, "fns": [[QUALNAME, "FILE:LINE", EXCLUSIVE, INCLUSIVE, CALLS], ...]}}

`py` (optional) is the Python-level attribution of bench.run.pycalls: bytecode instructions
per Python function of one traced call, for the cases whose work is Python code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bench.errors import InputError

PROFILES_KEY = "bench_profiles"
TOP = 60            # functions kept per case by exclusive count, and as many by inclusive count
MAX_FUNCTIONS = 1000
MAX_TEXT = 1000     # characters of a name, a file or an object
MAX_NUMBER = 1e15


@dataclass(frozen=True)
class Function:
    """One function of a profile: per call of the case's op."""

    name: str
    file: str
    obj: str
    exclusive: float
    inclusive: float
    calls: float


def short_file(path: str, parts: int = 2) -> str:
    """The last `parts` components of a path (build folders differ between machines).

    >>> short_file("/tmp/python-build.1/Python-3.11.7/Objects/dictobject.c")
    'Objects/dictobject.c'
    """
    return "/".join(path.replace("\\", "/").split("/")[-parts:])


def make_profile(functions: list[Function], top: int = TOP) -> dict[str, Any]:
    """The stored form: the `top` functions by exclusive and by inclusive count, the rest in `other`."""
    total = sum(f.exclusive for f in functions)
    kept = {id(f): f for f in sorted(functions, key=lambda f: -abs(f.exclusive))[:top]}
    kept.update({id(f): f for f in sorted(functions, key=lambda f: -abs(f.inclusive))[:top]})
    chosen = sorted(kept.values(), key=lambda f: -f.exclusive)
    objects = list(dict.fromkeys(f.obj for f in chosen))
    at = {obj: number for number, obj in enumerate(objects)}
    return {"ir": round(total, 2), "objs": objects,
            "other": round(total - sum(f.exclusive for f in chosen), 2),
            "fns": [[f.name[:MAX_TEXT], f.file[:MAX_TEXT], at[f.obj], f.exclusive, f.inclusive, f.calls]
                    for f in chosen]}


def functions_of(profile: dict[str, Any]) -> Iterator[Function]:
    """The functions of a stored profile.

    >>> profile = make_profile([Function("f", "a.c", "a.so", 10, 12, 1)])
    >>> list(functions_of(profile))
    [Function(name='f', file='a.c', obj='a.so', exclusive=10, inclusive=12, calls=1)]
    """
    objects = profile["objs"]
    for name, file, obj, exclusive, inclusive, calls in profile["fns"]:
        yield Function(name, file, objects[obj], exclusive, inclusive, calls)


# ---------------------------------------------------------------- reading

def is_number(value: Any) -> bool:
    """A JSON number a profile may hold (never a bool)."""
    return type(value) in (int, float) and -MAX_NUMBER <= value <= MAX_NUMBER


def is_text(value: Any) -> bool:
    """A JSON string a profile may hold."""
    return isinstance(value, str) and len(value) <= MAX_TEXT


def check_profile(profile: Any) -> str:
    """What is wrong with one stored profile ('' when nothing is)."""
    if not isinstance(profile, dict) or not {"ir", "objs", "other", "fns"} <= set(profile):
        return "not an object with ir, objs, other and fns"
    if not (is_number(profile["ir"]) and is_number(profile["other"])):
        return "ir and other must be numbers"
    objects, functions = profile["objs"], profile["fns"]
    if not (isinstance(objects, list) and len(objects) <= MAX_FUNCTIONS and all(map(is_text, objects))):
        return "objs must be a list of names"
    if not isinstance(functions, list) or len(functions) > MAX_FUNCTIONS:
        return f"fns must be a list of at most {MAX_FUNCTIONS} functions"
    for row in functions:
        if not (isinstance(row, list) and len(row) == 6 and is_text(row[0]) and is_text(row[1])
                and type(row[2]) is int and 0 <= row[2] < len(objects) and all(map(is_number, row[3:]))):
            return f"function {str(row)[:60]} is not [NAME, FILE, OBJECT_INDEX, EXCLUSIVE, INCLUSIVE, CALLS]"
    return check_python(profile["py"]) if "py" in profile else ""


def check_python(python: Any) -> str:
    """What is wrong with a profile's `py` part (bench.run.pycalls; '' when nothing is)."""
    if not (isinstance(python, dict) and is_number(python.get("ops")) and is_number(python.get("other"))
            and isinstance(python.get("fns"), list) and len(python["fns"]) <= MAX_FUNCTIONS):
        return "py must be an object with the numbers ops and other and a list fns"
    for row in python["fns"]:
        if not (isinstance(row, list) and len(row) == 5 and is_text(row[0]) and is_text(row[1])
                and all(map(is_number, row[2:]))):
            return f"py function {str(row)[:60]} is not [NAME, FILE:LINE, EXCLUSIVE, INCLUSIVE, CALLS]"
    return ""


def check_profiles(data: Any, source: str) -> dict[str, dict[str, Any]]:
    """The `bench_profiles` object of a results file, checked ({} when absent); InputError
    naming the first problem."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{source}: bad {PROFILES_KEY} (a {type(data).__name__}, not an object)")
    for name, profile in data.items():
        problem = check_profile(profile)
        if problem:
            raise InputError(f"{source}: {PROFILES_KEY}: {name[:80]!r}: {problem}")
    return data

