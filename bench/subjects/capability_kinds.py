"""The object kinds of the capability matrix: for each, a builder and a check that it works.

A `Kind` builds one object and checks a loaded copy by *using* it: a function is
called, a file is read from where it was left, a lock is acquired, an instance's
fields and methods are compared. `check(loaded)` returns None when the copy works
like the original and a short reason when it does not (lossy); it may raise.

Where a kind is defined is part of what is measured. The dumping child runs this
module as `__main__` (as a script or a notebook would) and also imports it under
its own name: a kind with `scope="main"` is built from the `__main__` copy, one with
`scope="module"` from the importable copy, so pickle can store it by reference. The
loading child never runs this module as `__main__`; it imports it only for the checks.

This module imports no serializer, and numpy only inside the numpy kind.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import functools
import io
import itertools
import json
import math
import os
import re
import sys
import tempfile
import threading
import types
import weakref
from collections.abc import Callable
from typing import Any, Literal

from bench.equality import same_value

Scope = Literal["module", "main"]
Check = Callable[[Any], "str | None"]
Sends = Literal["code", "data"]


@dataclasses.dataclass(frozen=True)
class Kind:
    """One row of the matrix: a builder, a working check and where the object is defined.

    is_function: the object is a plain function (reports ask which serializers ship those);
    sends: "code" or "data" for the two sides of the send-code-not-data pair (code that
    builds some data, and that data), whose payload sizes reports compare.
    """

    name: str
    group: str
    note: str
    build: Callable[[], Any]
    check: Check
    scope: Scope = "module"
    is_function: bool = False
    sends: Sends | None = None


# ---------------------------------------------------------------- checks

def name_type(obj: Any) -> str:
    """The short type name used in lossy reasons.

    >>> name_type((1, 2)), name_type(io.StringIO())
    ('tuple', 'StringIO')
    """
    return type(obj).__name__


def describe_difference(expected: Any, loaded: Any) -> str | None:
    """None when `loaded` is the same value as `expected`, else why not.

    >>> describe_difference((1, 2), [1, 2])
    'loaded list, expected tuple'
    >>> describe_difference({1: "a"}, {1: "a"}) is None, describe_difference({1: "a"}, {"1": "a"})
    (True, "dict keys differ: ['1']")
    """
    if same_value(expected, loaded):
        return None
    if type(expected) is not type(loaded):
        return f"loaded {name_type(loaded)}, expected {name_type(expected)}"
    if isinstance(expected, dict) and expected.keys() != loaded.keys():
        return f"dict keys differ: {list(loaded)!r}"
    return f"{name_type(loaded)} value differs"


def check_same(build: Callable[[], Any]) -> Check:
    """A check comparing the loaded object with a fresh build, type-strictly.

    >>> check_same(lambda: (1, 2))([1, 2])
    'loaded list, expected tuple'
    """
    return lambda loaded: describe_difference(build(), loaded)


def check_call(expected: Any, *args: Any) -> Check:
    """A check calling the loaded callable with `args`.

    >>> check_call(3, 2)(add_one) is None, check_call(4, 2)(add_one)
    (True, 'call returned 3, expected 4')
    """
    def check(loaded: Any) -> str | None:
        result = loaded(*args)
        if same_value(result, expected):
            return None
        return f"call returned {result!r}, expected {expected!r}"
    return check


def check_type_named(loaded: Any, type_name: str) -> str | None:
    """None when the loaded object's type has this name, else the difference."""
    if name_type(loaded) == type_name:
        return None
    return f"loaded {name_type(loaded)}, expected {type_name}"


def first_reason(*reasons: str | None) -> str | None:
    """The first non-None reason.

    >>> first_reason(None, "b", "c")
    'b'
    """
    return next((r for r in reasons if r is not None), None)


# ---------------------------------------------------------------- module-level definitions

SCALE = 7


class Color(enum.Enum):
    """An importable enum."""

    RED = 1
    GREEN = 2


@dataclasses.dataclass
class Point:
    """An importable dataclass with a method, a property and a classmethod."""

    x: float
    y: float

    def norm2(self) -> float:
        return self.x * self.x + self.y * self.y

    @property
    def norm(self) -> float:
        return math.sqrt(self.norm2())

    @classmethod
    def origin(cls) -> Point:
        return cls(0, 0)


class Record:
    """A plain class; built from the `__main__` copy it is a script's class."""

    def __init__(self, label: str, count: int) -> None:
        self.label = label
        self.count = count

    def describe(self) -> str:
        return f"{self.label} x{self.count}"


Pair = collections.namedtuple("Pair", ["x", "y"])


def add_one(x: int) -> int:
    """A plain top-level function."""
    return x + 1


def scale(x: int) -> int:
    """A function that reads the module global SCALE."""
    return x * SCALE


def factorial(n: int) -> int:
    """A recursive function: it finds itself through its module's globals."""
    return 1 if n <= 1 else n * factorial(n - 1)


def squares(n: int) -> Any:
    """A generator function."""
    for i in range(n):
        yield i * i


def power(base: int, exponent: int) -> int:
    """A two-argument function for functools.partial."""
    return base**exponent


def build_data() -> list[int]:
    """Code that builds data: compare its payload with the data's."""
    return list(range(10_000))


double = lambda x: x * 2  # noqa: E731  (a lambda at the top of a script is the point)


def make_adder(n: int) -> Callable[[int], int]:
    """Return a closure over `n`."""
    def adder(x: int) -> int:
        return x + n
    return adder


def make_local_instance() -> Any:
    """An instance of a class defined inside this function."""
    class Local:
        def __init__(self, value: int) -> None:
            self.value = value

        def twice(self) -> int:
            return 2 * self.value

    return Local(21)


# ---------------------------------------------------------------- builders and checks

def build_self_ref_list() -> list[Any]:
    """A list that contains itself."""
    items: list[Any] = [1, 2]
    items.append(items)
    return items


def check_self_ref_list(loaded: Any) -> str | None:
    """The last element is the list itself."""
    if not isinstance(loaded, list) or len(loaded) != 3:
        return f"loaded {name_type(loaded)} of wrong shape"
    return None if loaded[2] is loaded else "self reference lost"


def build_shared_refs() -> list[list[int]]:
    """Two slots holding the same list."""
    shared = [1, 2, 3]
    return [shared, shared]


def check_shared_refs(loaded: Any) -> str | None:
    """Equal values and one object in both slots."""
    reason = describe_difference(build_shared_refs(), loaded)
    return reason or (None if loaded[0] is loaded[1] else "shared identity lost")


def check_record(loaded: Any) -> str | None:
    """A Record with its fields and its method."""
    return first_reason(check_type_named(loaded, "Record"),
                        None if loaded.describe() == "widget x3" else "describe() differs")


def check_record_class(loaded: Any) -> str | None:
    """A class that builds working Records."""
    if not isinstance(loaded, type):
        return f"loaded {name_type(loaded)}, expected a class"
    return check_record(loaded("widget", 3))


def check_local_instance(loaded: Any) -> str | None:
    """An instance of the local class, fields and method intact."""
    return first_reason(check_type_named(loaded, "Local"),
                        None if loaded.twice() == 42 else "twice() differs")


def check_point_class(loaded: Any) -> str | None:
    """The Point class: construct one and call its method."""
    return first_reason(None if isinstance(loaded, type) else f"loaded {name_type(loaded)}",
                        None if loaded(3, 4).norm2() == 25 else "norm2() differs")


def check_dataclass(loaded: Any) -> str | None:
    """Equal fields and a working method (the method is not called on a copy of another type)."""
    return describe_difference(Point(3, 4), loaded) or (
        None if loaded.norm2() == 25 else "norm2() differs")


def check_enum(loaded: Any) -> str | None:
    """The same member of the same enum."""
    return first_reason(describe_difference(Color.GREEN, loaded),
                        None if loaded is Color.GREEN else "not the canonical member")


def check_namedtuple(loaded: Any) -> str | None:
    """Equal, and the field names still work."""
    return first_reason(describe_difference(Pair(1, "b"), loaded),
                        None if loaded.y == "b" else "field y differs")


def build_deque() -> collections.deque[int]:
    """A bounded deque."""
    return collections.deque([1, 2, 3], maxlen=5)


def check_deque(loaded: Any) -> str | None:
    """Equal items and the same maxlen."""
    return first_reason(describe_difference(build_deque(), loaded),
                        None if loaded.maxlen == 5 else "maxlen lost")


def build_defaultdict() -> collections.defaultdict[str, list[int]]:
    """A defaultdict whose factory is list."""
    return collections.defaultdict(list, {"a": [1]})


def check_defaultdict(loaded: Any) -> str | None:
    """Equal items and a factory that still makes lists."""
    return first_reason(describe_difference(build_defaultdict(), loaded),
                        None if loaded["missing"] == [] else "default factory lost")


def check_staticmethod(loaded: Any) -> str | None:
    """A staticmethod wrapping a working function."""
    return first_reason(check_type_named(loaded, "staticmethod"),
                        None if loaded.__func__(41) == 42 else "wrapped function differs")


def check_classmethod(loaded: Any) -> str | None:
    """A classmethod whose function builds the origin."""
    return first_reason(check_type_named(loaded, "classmethod"),
                        None if loaded.__func__(Point) == Point(0, 0) else "function differs")


def check_property(loaded: Any) -> str | None:
    """A property whose getter computes the norm."""
    return first_reason(check_type_named(loaded, "property"),
                        None if loaded.fget(Point(3, 4)) == 5.0 else "getter differs")


def build_generator() -> Any:
    """A generator advanced by one item."""
    gen = squares(4)
    next(gen)
    return gen


def check_generator(loaded: Any) -> str | None:
    """A generator that resumes where it was."""
    return first_reason(check_type_named(loaded, "generator"),
                        None if list(loaded) == [1, 4, 9] else "resumed at the wrong place")


def check_generator_function(loaded: Any) -> str | None:
    """A function returning a working generator."""
    return None if list(loaded(4)) == [0, 1, 4, 9] else "yields differ"


def build_list_iterator() -> Any:
    """An iterator over a list, advanced by one item."""
    it = iter([1, 2, 3])
    next(it)
    return it


def check_iterator_rest(type_name: str, rest: list[Any]) -> Check:
    """A check that the loaded iterator has this type and yields `rest`."""
    def check(loaded: Any) -> str | None:
        reason = check_type_named(loaded, type_name)
        return reason or (None if list(loaded) == rest else "yields differ")
    return check


def build_count() -> itertools.count[int]:
    """itertools.count(5, 2), advanced by one."""
    counter = itertools.count(5, 2)
    next(counter)
    return counter


def check_count(loaded: Any) -> str | None:
    """A counter that goes on from 7 in steps of 2."""
    return first_reason(check_type_named(loaded, "count"),
                        None if [next(loaded), next(loaded)] == [7, 9] else "counts differ")


def check_slice(loaded: Any) -> str | None:
    """A slice that still picks every other item."""
    return first_reason(describe_difference(slice(1, 10, 2), loaded),
                        None if list(range(12))[loaded] == [1, 3, 5, 7, 9] else "picks differ")


def check_code(loaded: Any) -> str | None:
    """A code object that still runs as a function."""
    if not isinstance(loaded, types.CodeType):
        return f"loaded {name_type(loaded)}, expected code"
    return None if types.FunctionType(loaded, {})(41) == 42 else "function differs"


def check_module(loaded: Any) -> str | None:
    """The json module, usable."""
    if not isinstance(loaded, types.ModuleType):
        return f"loaded {name_type(loaded)}, expected module"
    return None if loaded.dumps([1]) == "[1]" else "module differs"


def build_stringio() -> io.StringIO:
    """A StringIO read up to its second line."""
    buffer = io.StringIO("first\nsecond\n")
    buffer.readline()
    return buffer


def build_bytesio() -> io.BytesIO:
    """A BytesIO read up to its second line."""
    buffer = io.BytesIO(b"first\nsecond\n")
    buffer.readline()
    return buffer


def check_reader(type_name: str, rest: str | bytes) -> Check:
    """A check that reads on from where the original stopped."""
    def check(loaded: Any) -> str | None:
        got = loaded.read()
        if got != rest:
            return f"read {got!r}, expected {rest!r}"
        return check_type_named(loaded, type_name)
    return check


def build_text_file() -> io.TextIOWrapper:
    """A text file on disk (in TMPDIR), opened and read up to its second line."""
    fd, path = tempfile.mkstemp(prefix="kind-", suffix=".txt")
    with os.fdopen(fd, "w") as out:
        out.write("first\nsecond\n")
    handle = open(path)  # noqa: SIM115  (an open file is the kind)
    handle.readline()
    return handle


def check_lock(type_name: str) -> Check:
    """A check that the loaded lock has this type and can be acquired."""
    def check(loaded: Any) -> str | None:
        reason = check_type_named(loaded, type_name)
        return reason or (None if loaded.acquire(blocking=False) else "cannot acquire")
    return check


def build_weakref() -> list[Any]:
    """A target and a weak reference to it, in one list so the target travels too."""
    target = Point(1, 2)
    return [target, weakref.ref(target)]


def check_weakref(loaded: Any) -> str | None:
    """The weak reference still points at the target beside it."""
    ref = loaded[1]
    if not isinstance(ref, weakref.ref):
        return f"loaded {name_type(ref)}, expected weakref"
    return None if ref() is loaded[0] else "weak reference no longer points at the target"


def check_exception(loaded: Any) -> str | None:
    """A ValueError with its arguments."""
    return first_reason(check_type_named(loaded, "ValueError"),
                        None if loaded.args == ("bad value", 42) else "args differ")


def check_regex(loaded: Any) -> str | None:
    """A compiled pattern that still matches case-insensitively."""
    if not isinstance(loaded, re.Pattern):
        return f"loaded {name_type(loaded)}, expected Pattern"
    match = loaded.match("12-AB")
    return None if match and match.groups() == ("12", "AB") else "matches differ"


def build_dict_keys() -> Any:
    """A keys view."""
    return {"a": 1, "b": 2}.keys()


def build_dict_items() -> Any:
    """An items view."""
    return {"a": 1, "b": 2}.items()


def check_view(type_name: str, items: list[Any]) -> Check:
    """A check that the loaded view has this type and these items."""
    def check(loaded: Any) -> str | None:
        return first_reason(None if list(loaded) == items else "items differ",
                            check_type_named(loaded, type_name))
    return check


def check_memoryview(loaded: Any) -> str | None:
    """A memoryview over the same bytes."""
    got = bytes(loaded)
    return first_reason(None if got == b"view me" else f"bytes {got!r} differ",
                        check_type_named(loaded, "memoryview"))


def build_numpy_array() -> Any:
    """A 3x4 float64 array."""
    import numpy

    return numpy.arange(12.0).reshape(3, 4)


def check_numpy_array(loaded: Any) -> str | None:
    """Same dtype, shape and values."""
    return describe_difference(build_numpy_array(), loaded)


def build_frame() -> types.FrameType:
    """The builder's own frame."""
    return sys._getframe()


def check_frame(loaded: Any) -> str | None:
    """A frame of the builder."""
    if not isinstance(loaded, types.FrameType):
        return f"loaded {name_type(loaded)}, expected frame"
    return None if loaded.f_code.co_name == "build_frame" else "frame differs"


def build_traceback() -> types.TracebackType | None:
    """The traceback of a caught exception."""
    try:
        raise ValueError("for the traceback")
    except ValueError as exc:
        return exc.__traceback__


def check_traceback(loaded: Any) -> str | None:
    """A traceback through the builder."""
    if not isinstance(loaded, types.TracebackType):
        return f"loaded {name_type(loaded)}, expected traceback"
    return None if loaded.tb_frame.f_code.co_name == "build_traceback" else "traceback differs"


def check_builder_function(loaded: Any) -> str | None:
    """Code that still builds the data."""
    return None if loaded() == build_data() else "built data differs"


# ---------------------------------------------------------------- the catalogue

def value_kind(name: str, group: str, note: str, build: Callable[[], Any]) -> Kind:
    """A kind whose check is type-strict equality with a fresh build."""
    return Kind(name, group, note, build, check_same(build))


KINDS: tuple[Kind, ...] = (
    value_kind("none", "data", "None", lambda: None),
    value_kind("bool", "data", "True", lambda: True),
    value_kind("int", "data", "a small negative int", lambda: -1234567),
    value_kind("big-int", "data", "2**100 + 1, beyond 64 bits", lambda: 2**100 + 1),
    value_kind("float", "data", "0.1, must come back bit-exact", lambda: 0.1),
    value_kind("complex", "data", "1.5-2j", lambda: complex(1.5, -2)),
    value_kind("str", "data", "non-ASCII text", lambda: "héllo, wörld ✓"),
    value_kind("bytes", "data", "binary bytes with NUL and 0xff", lambda: b"\x00\x01bin\xff"),
    value_kind("bytearray", "data", "a mutable bytearray", lambda: bytearray(b"mutable")),
    value_kind("decimal", "data", "Decimal with 21 digits",
               lambda: decimal.Decimal("3.14159265358979323846")),
    value_kind("datetime", "data", "timezone-aware datetime with microseconds",
               lambda: datetime.datetime(2024, 2, 29, 12, 30, 45, 123456,
                                         tzinfo=datetime.timezone.utc)),
    value_kind("tuple", "container", "(1, 'two', 3.0)", lambda: (1, "two", 3.0)),
    value_kind("list", "container", "[1, 'two', 3.0]", lambda: [1, "two", 3.0]),
    value_kind("dict-str-keys", "container", "str keys, nested list",
               lambda: {"a": 1, "b": [2, 3]}),
    value_kind("dict-int-keys", "container", "int keys (JSON turns them into str)",
               lambda: {1: "one", 2: "two"}),
    value_kind("set", "container", "{1, 2, 3}", lambda: {1, 2, 3}),
    value_kind("frozenset", "container", "frozenset({1, 2, 3})", lambda: frozenset({1, 2, 3})),
    Kind("namedtuple", "container", "collections.namedtuple instance, importable class",
         lambda: Pair(1, "b"), check_namedtuple),
    Kind("deque", "container", "collections.deque with maxlen=5", build_deque, check_deque),
    Kind("defaultdict", "container", "defaultdict(list): the factory must survive",
         build_defaultdict, check_defaultdict),
    Kind("self-ref-list", "container", "a list that contains itself", build_self_ref_list,
         check_self_ref_list),
    Kind("shared-refs", "container", "[x, x]: is identity kept?", build_shared_refs,
         check_shared_refs),
    dataclasses.replace(value_kind("built-data", "container",
                                   "list(range(10_000)): compare with builder-function",
                                   build_data), sends="data"),
    Kind("enum-member", "instance", "a member of an importable Enum", lambda: Color.GREEN,
         check_enum),
    Kind("dataclass", "instance", "instance of an importable dataclass", lambda: Point(3, 4),
         check_dataclass),
    Kind("main-class-instance", "instance", "instance of a class defined in __main__",
         lambda: Record("widget", 3), check_record, "main"),
    Kind("local-class-instance", "instance", "instance of a class defined inside a function",
         make_local_instance, check_local_instance),
    Kind("exception", "instance", "ValueError('bad value', 42)",
         lambda: ValueError("bad value", 42), check_exception),
    Kind("class", "class", "an importable class object", lambda: Point, check_point_class),
    Kind("main-class", "class", "a class object defined in __main__", lambda: Record,
         check_record_class, "main"),
    Kind("top-level-function", "code", "a function of an importable module", lambda: add_one,
         check_call(42, 41), is_function=True),
    Kind("main-function", "code", "a function defined in __main__", lambda: add_one,
         check_call(42, 41), "main", is_function=True),
    Kind("function-with-global", "code", "a __main__ function reading a __main__ global",
         lambda: scale, check_call(42, 6), "main", is_function=True),
    Kind("lambda", "code", "a lambda at the top of __main__", lambda: double,
         check_call(42, 21), "main", is_function=True),
    Kind("closure", "code", "a closure over a local variable, made in __main__",
         lambda: make_adder(40), check_call(42, 2), "main", is_function=True),
    Kind("recursive-function", "code", "a __main__ function that calls itself by name",
         lambda: factorial, check_call(120, 5), "main", is_function=True),
    Kind("partial", "code", "functools.partial of an importable function",
         lambda: functools.partial(power, exponent=3), check_call(8, 2)),
    Kind("bound-method", "code", "a method bound to an importable instance",
         lambda: Point(3, 4).norm2, check_call(25)),
    Kind("staticmethod", "code", "a staticmethod object", lambda: staticmethod(add_one),
         check_staticmethod),
    Kind("classmethod", "code", "a classmethod object", lambda: vars(Point)["origin"],
         check_classmethod),
    Kind("property", "code", "a property object", lambda: vars(Point)["norm"], check_property),
    Kind("generator-function", "code", "a generator function defined in __main__",
         lambda: squares, check_generator_function, "main"),
    Kind("code", "code", "a function's code object", lambda: add_one.__code__, check_code),
    Kind("module", "code", "the json module object", lambda: json, check_module),
    Kind("builder-function", "code", "__main__ code that builds built-data: send code, not data",
         lambda: build_data, check_builder_function, "main", sends="code"),
    Kind("generator", "iterator", "a generator, advanced by one", build_generator,
         check_generator),
    Kind("list-iterator", "iterator", "iter([1, 2, 3]), advanced by one", build_list_iterator,
         check_iterator_rest("list_iterator", [2, 3])),
    Kind("map-iterator", "iterator", "map(add_one, [1, 2, 3])",
         lambda: map(add_one, [1, 2, 3]), check_iterator_rest("map", [2, 3, 4])),
    Kind("range", "iterator", "range(2, 20, 3)", lambda: range(2, 20, 3),
         check_same(lambda: range(2, 20, 3))),
    Kind("slice", "iterator", "slice(1, 10, 2)", lambda: slice(1, 10, 2), check_slice),
    Kind("itertools-count", "iterator", "itertools.count(5, 2), advanced by one", build_count,
         check_count),
    Kind("dict-keys", "iterator", "a dict keys view", build_dict_keys,
         check_view("dict_keys", ["a", "b"])),
    Kind("dict-items", "iterator", "a dict items view", build_dict_items,
         check_view("dict_items", [("a", 1), ("b", 2)])),
    Kind("stringio", "io", "io.StringIO read up to its second line", build_stringio,
         check_reader("StringIO", "second\n")),
    Kind("bytesio", "io", "io.BytesIO read up to its second line", build_bytesio,
         check_reader("BytesIO", b"second\n")),
    Kind("text-file", "io", "an open text file on disk, read up to its second line",
         build_text_file, check_reader("TextIOWrapper", "second\n")),
    Kind("memoryview", "io", "memoryview(b'view me')", lambda: memoryview(b"view me"),
         check_memoryview),
    Kind("numpy-array", "io", "a 3x4 float64 numpy array", build_numpy_array,
         check_numpy_array),
    Kind("lock", "runtime", "threading.Lock", threading.Lock, check_lock("lock")),
    Kind("rlock", "runtime", "threading.RLock", threading.RLock, check_lock("RLock")),
    Kind("weakref", "runtime", "[target, weakref.ref(target)]", build_weakref, check_weakref),
    Kind("regex", "runtime", "re.compile(r'(\\d+)-([a-z]+)', re.IGNORECASE)",
         lambda: re.compile(r"(\d+)-([a-z]+)", re.IGNORECASE), check_regex),
    Kind("frame", "runtime", "a frame object (sys._getframe())", build_frame, check_frame),
    Kind("traceback", "runtime", "the traceback of a caught exception", build_traceback,
         check_traceback),
)
