"""A test-only plugin: serializers that crash their worker, and a profile that mixes them in.

Loaded with `bench run --plugin bench_crashers --profile crash-test`; it exists only
under tests/ and is never part of the real catalogue.
"""

from __future__ import annotations

import ctypes
import os
import signal

from bench.run import cases
from bench.run.cases import Case
from bench.subjects import serializers


def _segfault(obj: object) -> bytes:
    ctypes.string_at(0)
    return b""


def _recursion(obj: object) -> bytes:
    raise RecursionError("maximum recursion depth exceeded (test)")


def _memory(obj: object) -> bytes:
    raise MemoryError("test allocation failure")


def _killed(obj: object) -> bytes:
    os.kill(os.getpid(), signal.SIGKILL)
    return b""


def _entry(name: str, dumps) -> serializers.Serializer:
    codec = serializers.Codec(dumps=dumps, loads=lambda payload: payload)
    return serializers.Serializer(name, "ctypes", "test-only crasher", lambda: codec)


for _name, _dumps in [("test-segfault", _segfault), ("test-recursion", _recursion),
                      ("test-memory", _memory), ("test-killed", _killed)]:
    serializers.SERIALIZERS[_name] = _entry(_name, _dumps)


def crash_cases():
    """Good cases around each crasher: the crash must fail alone."""
    yield Case("ser", "pickle-5", "dumps", "ints", 10)
    for name in ("test-segfault", "test-recursion", "test-memory", "test-killed"):
        yield Case("ser", name, "dumps", "ints", 10)
        yield Case("ser", "pickle-5", "loads", "ints", 10 + len(name))


cases.PROFILES["crash-test"] = cases.Profile(
    "crash-test", crash_cases, cases.PROFILES["smoke"].pyperf_settings, False,
    "good cases around each crasher (tests only)")
