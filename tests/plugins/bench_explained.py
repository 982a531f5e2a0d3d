"""A test-only plugin for `bench explain`: pickle 5, plus one extra named function per call.

BENCH_TEST_EXTRA chooses the extra work of each `dumps` call: "c" adds zlib's adler32 over
EXTRA_BYTES bytes (a C function callgrind names), "py" adds `extra_python_work` (Python code),
unset adds nothing. Two counted runs, one without and one with it, differ by that function.
"""

from __future__ import annotations

import os
import pickle
import zlib

from bench.subjects.serializers import register_serializer

EXTRA_BYTES = 200_000
_BUFFER = bytes(range(256)) * (EXTRA_BYTES // 256)
_EXTRA = os.environ.get("BENCH_TEST_EXTRA", "")


def extra_python_work() -> int:
    """Python work of a few thousand bytecodes."""
    total = 0
    for number in range(500):
        total += number * number
    return total


def dumps(obj: object) -> bytes:
    """pickle protocol 5, and the extra work BENCH_TEST_EXTRA asks for."""
    if _EXTRA == "c":
        zlib.adler32(_BUFFER)
    elif _EXTRA == "py":
        extra_python_work()
    return pickle.dumps(obj, protocol=5)


register_serializer("test-explained", dumps, pickle.loads)
