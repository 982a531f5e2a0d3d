"""The subjects: the registries of serializers, shapes, fold styles and tasks, ship transports and
tasks, and capability kinds. Every fact about a subject is on its entry."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bench.errors import InputError

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")  # one part of a case name: no '/', no spaces


def check_new_name(kind: str, name: str, registry: Mapping[str, Any]) -> None:
    """Raise InputError unless `name` is new in `registry` and can be one part of a case name.

    >>> check_new_name("shape", "Big/One", {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bench.errors.InputError: register_shape: 'Big/One' must be a lower-case name of letters, ...
    >>> check_new_name("shape", "ints", {"ints": None})
    Traceback (most recent call last):
    ...
    bench.errors.InputError: register_shape: 'ints' is already registered
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InputError(f"register_{kind}: {name!r} must be a lower-case name of letters, digits, "
                         "'.', '_' and '-'")
    if name in registry:
        raise InputError(f"register_{kind}: {name!r} is already registered")
