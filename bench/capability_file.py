"""The capability file: its name beside a results file, its one writer and its one strict reader.

`bench run` writes NAME.capabilities.json beside NAME.json (`capabilities_path`); `bench capabilities
--format json` prints the same text; `bench report --capabilities FILE` reads it back through
`read_capabilities`, which checks every key the report reads (schema_version 1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.files import write_atomic
from bench.results import TEXT, Rule, check_fields, number_rule, one_line, read_input
from bench.run.capabilities import OUTCOMES, SCHEMA_VERSION
from bench.text import format_json

SUFFIX = ".capabilities.json"


def capabilities_path(results: str) -> str:
    """The capability file beside a results file.

    >>> capabilities_path("results/latest.json"), capabilities_path("r/x.json.gz")
    ('results/latest.capabilities.json', 'r/x.capabilities.json')
    """
    stem = results.removesuffix(".gz").removesuffix(".json")
    return f"{stem}{SUFFIX}"


def is_capability_file(name: str) -> bool:
    """True for a capability file's name (a folder of runs holds them beside the results)."""
    return name.endswith(SUFFIX)


def write_capabilities(doc: dict[str, Any], path: str) -> None:
    """Write the matrix document to `path` (atomically), as `bench capabilities --format json` prints it."""
    write_atomic(path, format_json(doc))


# ---------------------------------------------------------------- reading


def check_capabilities(data: Any, source: str) -> dict[str, Any]:
    """Validate a capability matrix (schema_version 1): every key the report reads, with its
    type (DOCUMENT_RULES, LIST_RULES); InputError naming the first problem."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: not a capability matrix (expected a JSON object)")
    check_fields(source, "capability matrix ", {"schema_version": None, **data}, DOCUMENT_RULES)
    check_fields(source, "dill_extend: ", data.get("dill_extend") or {}, DILL_RULES)
    for key, (required, rules) in LIST_RULES.items():
        if not isinstance(data.get(key), list):
            raise InputError(f"{source}: capability matrix has no {key!r} list")
        for entry in data[key]:
            if not isinstance(entry, dict) or not set(required) <= set(entry):
                raise InputError(f"{source}: {key}: {entry!r:.60} is not an object with "
                                 f"{'/'.join(required)}")
            check_fields(source, f"{key}: ", entry, rules)
    return data


def read_capabilities(path: str | Path) -> dict[str, Any]:
    """Read and validate a capability matrix JSON file (as `bench capabilities` writes it)."""
    path = Path(path)
    try:
        data = json.loads(read_input(path).decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep
        raise InputError(f"{path}: capability matrix is not valid JSON "
                         f"({one_line(exc)})") from None
    return check_capabilities(data, str(path))


_TEXT_OR_NULL: Rule = (lambda value: value is None or isinstance(value, str), "text or null")
_FLAG: Rule = (lambda value: value is None or isinstance(value, bool), "true, false or null")
_TEXTS: Rule = (lambda value: isinstance(value, list) and all(isinstance(v, str) for v in value),
                "a list of text")
DOCUMENT_RULES: dict[str, Rule] = {
    "schema_version": (lambda value: type(value) is int and value == SCHEMA_VERSION,
                       f"supported (this bench reads {SCHEMA_VERSION})"),
    **dict.fromkeys(("python", "implementation", "created"), TEXT),
    **dict.fromkeys(("timeout_seconds", "probe_seconds"), number_rule(0, 1e9)),
    "dill_extend": (lambda value: isinstance(value, dict), "an object")}
DILL_RULES = {"import_dill_changes_pickle_dispatch": _FLAG, "extend_false_restores": _FLAG,
              "added_types": _TEXTS, "replaced_types": _TEXTS, "error": _TEXT_OR_NULL}
# list -> (the keys each entry must have, the rules of its keys)
LIST_RULES = {"serializers": (("name",), {"name": TEXT, "available": _FLAG, **dict.fromkeys(
                  ("version", "reason", "note"), _TEXT_OR_NULL)}),
              "kinds": (("name",), {"name": TEXT, **dict.fromkeys(
                  ("group", "note", "scope", "module"), _TEXT_OR_NULL)}),
              "cells": (("kind", "serializer", "outcome"), {
                  "kind": TEXT, "serializer": TEXT, "error": _TEXT_OR_NULL,
                  "in_process": _TEXT_OR_NULL, "payload_bytes": number_rule(0, 10**15, True, True),
                  "outcome": (lambda value: isinstance(value, str) and value in OUTCOMES,
                              f"one of {', '.join(OUTCOMES)}")})}
