"""The capability matrix on the page: colour-coded cells, the section, and the JSON details."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bench.report.blocks import Cell, Section, Table, Text, make_table, missing
from bench.run.capabilities import OUTCOMES
from bench.text import format_quantity


def capability_cell(cell: dict[str, Any] | None) -> Cell:
    """A coloured matrix cell: outcome glyph, and its exact error and payload size as its title
    (shown on hover, and under the matrix on a click by the page's script)."""
    if cell is None:
        return Cell("", "cap-skip", "not in the matrix")
    outcome = OUTCOMES.get(cell["outcome"])
    if outcome is None:
        return Cell(str(cell["outcome"]), "cap-skip", str(cell.get("error") or ""))
    title = cell.get("error") or outcome.meaning
    if cell.get("payload_bytes"):
        title += f" (payload {format_quantity(cell['payload_bytes'], 'byte')})"
    return Cell(outcome.label, outcome.css, title)


def serializer_header(entry: dict[str, Any]) -> Cell:
    """A column header: the serializer, its version, why it is unavailable."""
    available = entry.get("available", True)
    title = (f"version {entry.get('version')}" if available
             else f"unavailable: {entry.get('reason')}")
    return Cell(str(entry.get("name")), "" if available else "cap-skip", title)


def capability_table(caps: dict[str, Any], kinds: Sequence[dict[str, Any]] | None = None,
                     serializers: Sequence[str] | None = None) -> Table:
    """The kinds x serializers matrix, optionally restricted to some kinds and serializers."""
    entries = [s for s in caps["serializers"]
               if serializers is None or s.get("name") in serializers]
    cells = {(c["kind"], c["serializer"]): c for c in caps["cells"]}
    body = [[Cell(str(k.get("name")), "", str(k.get("note") or "")), str(k.get("group") or ""),
             *(capability_cell(cells.get((k.get("name"), s.get("name")))) for s in entries)]
            for k in (caps["kinds"] if kinds is None else kinds)]
    columns = [Cell("object kind"), Cell("group"), *(serializer_header(s) for s in entries)]
    totals = [Cell("round-trips (ok)"), Cell(""), *(
        Cell(str(sum(c["outcome"] == "ok" for key, c in cells.items() if key[1] == s.get("name")
                     and (kinds is None or key[0] in {k.get("name") for k in kinds}))))
        for s in entries)]
    return replace(make_table(columns, [*body, totals], collapsible=False), cls="box matrix")


def capabilities_section(caps: dict[str, Any] | None) -> Section:
    """The capability matrix, colour-coded, a cell's exact error on a click or on hover."""
    section = Section("capabilities", "Capabilities")
    if caps is None:
        section.blocks.append(missing("Not given: run `bench capabilities --format json -o FILE`"
                                      " and pass `--capabilities FILE`."))
        return section
    legend = [f"{outcome.label}: {outcome.meaning}" for outcome in OUTCOMES.values()]
    section.blocks += [Text(f"Python {caps.get('python', '?')}. Click a cell (or hover it) for "
                            "its exact error and payload size, shown under the matrix; hover a "
                            "header for the version. "
                            "The last row counts each serializer's round-trips."),
                       Text("Legend: " + "; ".join(legend) + "."),
                       capability_table(caps)]
    return section


def describe_mapping(value: Any) -> list[str]:
    """Lines "key: value" of a JSON mapping (a non-mapping becomes one line).

    >>> describe_mapping({"a": 1, "b": [1, 2]})
    ['a: 1', 'b: [1, 2]']
    """
    if not isinstance(value, dict):
        return [json.dumps(value, ensure_ascii=False)]
    return [f"{key}: {describe_item(item)}" for key, item in value.items()]


def describe_item(item: Any, limit: int = 8) -> str:
    """A JSON value as text, long lists cut to their first `limit` items.

    >>> describe_item(list(range(10)), 3), describe_item("a"), describe_item(True)
    ('0, 1, 2 ... (10 in all)', 'a', 'true')
    """
    if isinstance(item, list) and len(item) > limit:
        return ", ".join(map(str, item[:limit])) + f" ... ({len(item)} in all)"
    return item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
