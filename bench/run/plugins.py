"""Plugins: the modules that add subjects to the registries, named with `--plugin MODULE` or
declared by an installed distribution in the `bench.plugins` entry-point group.

A plugin is a module path, or `module:function` for a module whose `function()` registers
its subjects. The `bench` process discovers and loads them; the processes it starts (workers,
counting processes, capability probes) are given the same names and never scan the installed
distributions themselves (importing importlib.metadata costs ~50 ms a process: see
docs/measurements.md). Set BENCH_DISABLE_PLUGIN_AUTOLOAD to skip discovery, as pytest's
PYTEST_DISABLE_PLUGIN_AUTOLOAD does.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable

from bench.errors import InputError
from bench.subjects.ship import add_socket_transports

GROUP = "bench.plugins"
LOADED_PLUGINS: list[str] = []  # the plugins this process loaded, for the children it starts


def discover_plugins() -> list[str]:
    """The plugins installed distributions declare in the `bench.plugins` group, by name.

    >>> os.environ["BENCH_DISABLE_PLUGIN_AUTOLOAD"] = "1"; discover_plugins()
    []
    >>> del os.environ["BENCH_DISABLE_PLUGIN_AUTOLOAD"]
    """
    if os.environ.get("BENCH_DISABLE_PLUGIN_AUTOLOAD"):
        return []
    from importlib.metadata import entry_points

    found = {point.value.replace(" ", ""): None for point in entry_points(group=GROUP)}
    return sorted(found)


def load_plugins(names: Iterable[str], folders: str = "") -> None:
    """Import each plugin (calling `function()` for `module:function`), found on the path or in
    `folders` (os.pathsep between them, searched last so nothing in them shadows an installed
    library); the registries' entries they add are then everywhere, and a new serializer gets
    its ship-suite socket transport."""
    for folder in filter(None, folders.split(os.pathsep)):
        if folder not in sys.path:
            sys.path.append(folder)
    for name in names:
        module_name, _, function = name.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InputError(f"plugin {name!r}: cannot import it ({exc}){source_hint(name)}") from None
        if function and name not in LOADED_PLUGINS:
            register = getattr(module, function, None)
            if not callable(register):
                raise InputError(f"plugin {name!r}: {module_name} has no function {function!r}")
            register()
        if name not in LOADED_PLUGINS:
            LOADED_PLUGINS.append(name)
    add_socket_transports()


def source_hint(name: str) -> str:
    """Where a plugin that fails to load came from, when it is an installed distribution's."""
    if os.environ.get("BENCH_DISABLE_PLUGIN_AUTOLOAD"):
        return ""
    from importlib.metadata import entry_points

    for point in entry_points(group=GROUP):
        if point.value.replace(" ", "") == name:
            owner = point.dist.name if point.dist else "an installed distribution"
            return (f"; declared by {owner}'s {GROUP} entry point: uninstall it or set "
                    "BENCH_DISABLE_PLUGIN_AUTOLOAD=1")
    return ""


def module_of(name: str) -> str:
    """The module part of a plugin name.

    >>> module_of("bench_zstd:register"), module_of("bench_zstd")
    ('bench_zstd', 'bench_zstd')
    """
    return name.partition(":")[0]
