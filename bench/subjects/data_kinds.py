"""The user's data (`--data`) as capability kinds: `bench capabilities --data SPEC` probes whether
each serializer carries the user's object to a fresh process, exactly or with the first difference.

A kinds module for bench.run.capabilities: its KINDS are made, when asked for, from the specs registered in
bench.subjects.user_data (the probe children register them before they import this module,
also when it runs as `__main__`). A kind's name is its shape's, `_` made `-`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.equality import first_difference
from bench.subjects.capability_kinds import Kind
from bench.subjects.user_data import LOADED, DataSpec, load_form

GROUP = "your data"


def check_against(spec: DataSpec, form: str) -> Callable[[Any], str | None]:
    """A kind's check: None when the loaded object equals a fresh load of the spec, else the
    first difference."""
    return lambda obj: first_difference(load_form(spec, form, spec.size), obj)


def builder(spec: DataSpec, form: str) -> Callable[[], Any]:
    """A kind's builder: the spec's object in this form."""
    return lambda: load_form(spec, form, spec.size)


def data_kinds() -> list[Kind]:
    """One kind per form of each registered spec, in the order given.

    >>> data_kinds() if not LOADED else []
    []
    """
    return [Kind(name.replace("_", "-"), GROUP, f"your data: {spec.text} ({form})",
                 builder(spec, form), check_against(spec, form))
            for spec in LOADED for name, form in spec.forms().items()]


def __getattr__(name: str) -> Any:
    """`KINDS`, made afresh from the specs registered when it is asked for."""
    if name == "KINDS":
        return data_kinds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
