"""Kinds that kill or hang the child probing them: for the tests only, never in the catalogue.

Injected with `probe_capabilities(extra_kinds_modules=["faulty_kinds"])` or
`bench capabilities --kinds-module faulty_kinds`, with this directory on sys.path.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from typing import Any

from bench.subjects.capability_kinds import Kind

MARKER = "faulty_kinds ran as __main__"


def segfault() -> Any:
    """Read address 0: SIGSEGV."""
    return ctypes.string_at(0)


def exit_hard() -> Any:
    """Leave without cleanup, as os._exit does."""
    os._exit(3)


def hang() -> Any:
    """Wait forever on an event nobody sets."""
    threading.Event().wait()


def exit_unless_main_is_faulty() -> str:
    """Fine in the dumping child (this module is `__main__` there), fatal in a fresh one."""
    if getattr(sys.modules["__main__"], "MARKER", None) != MARKER:
        os._exit(4)
    return "loaded"


class CrashOnFreshLoad:
    """Unpickling calls exit_unless_main_is_faulty (importable, so pickle stores it by name)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return exit_unless_main_is_faulty, ()


def check_loaded_marker(loaded: Any) -> str | None:
    """The in-process round trip returns the string 'loaded'."""
    return None if loaded == "loaded" else f"got {loaded!r}"


KINDS = (
    Kind("segfault", "faulty", "the builder dereferences NULL", segfault, lambda _: None),
    Kind("exits", "faulty", "the builder calls os._exit(3)", exit_hard, lambda _: None),
    Kind("hangs", "faulty", "the builder waits forever", hang, lambda _: None),
    Kind("crashes-on-fresh-load", "faulty", "loading calls os._exit in a fresh process only",
         CrashOnFreshLoad, check_loaded_marker),
    Kind("after-faults", "faulty", "a plain int after the faulty kinds", lambda: 7,
         lambda loaded: None if loaded == 7 else f"got {loaded!r}"),
)
