"""The capability matrix as text, markdown or JSON: one symbol per cell, a legend, sizes.

Reads the document of bench.run.capabilities (never probes); every table goes through bench.text.
The file itself (its name, writer and reader) is bench.capability_file's.
"""

from __future__ import annotations

from typing import Any

from bench.run.capabilities import OUTCOMES
from bench.text import render_document, render_markdown_table


def index_cells(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The document's cells by (kind, serializer)."""
    return {(cell["kind"], cell["serializer"]): cell for cell in doc["cells"]}


def symbol_of(cell: dict[str, Any] | None) -> str:
    """The one-character symbol of a cell's outcome ('?' when the cell is missing).

    >>> symbol_of({"outcome": "ok"}), symbol_of({"outcome": "dumps-error"}), symbol_of(None)
    ('+', '.', '?')
    """
    return OUTCOMES[cell["outcome"]].symbol if cell else "?"


def format_legend(separator: str = "  ") -> str:
    """Every outcome's symbol and meaning on one line.

    >>> format_legend().startswith("+ ok: ")
    True
    """
    return separator.join(legend_entries())


def legend_entries() -> list[str]:
    """`symbol name: meaning` for every outcome.

    >>> legend_entries()[2]
    '. dumps-error: dumps raised'
    """
    return [f"{o.symbol} {name}: {o.meaning}" for name, o in OUTCOMES.items()]


def wrap_entries(entries: list[str], width: int, prefix: str) -> list[str]:
    """Lines of entries joined by two spaces, broken between entries, the first prefixed.

    >>> wrap_entries(["a b", "c", "d e"], 10, "x: ")
    ['x: a b  c', '   d e']
    """
    rows, current = [], ""
    for entry in entries:
        if current and len(prefix) + len(current) + 2 + len(entry) > width:
            rows.append(current)
            current = ""
        current = f"{current}  {entry}" if current else entry
    rows.append(current)
    return [(prefix if i == 0 else " " * len(prefix)) + row for i, row in enumerate(rows)]


def format_vertical_header(names: list[str], indent: int) -> list[str]:
    """Column names written top to bottom, bottom-aligned, two characters per column.

    >>> format_vertical_header(["ab", "c"], 1)
    [' a', ' b c']
    """
    height = max(map(len, names), default=0)
    padded = [name.rjust(height) for name in names]
    return [(" " * indent + " ".join(name[row] for name in padded)).rstrip()
            for row in range(height)]


def summarize_document(doc: dict[str, Any]) -> str:
    """One line: interpreter, matrix size and how cells were proven."""
    return (f"{doc['implementation']} {doc['python']}: {len(doc['kinds'])} kinds x "
            f"{len(doc['serializers'])} serializers; each cell dumped in one process and "
            f"loaded in a fresh one ({doc['created']})")


def summarize_dill(dill: dict[str, Any]) -> str:
    """What importing dill does to pickle, in one line."""
    if dill.get("import_dill_changes_pickle_dispatch") is None:
        return f"dill and pickle._Pickler.dispatch: not measured ({dill.get('error')})"
    changed = "changes" if dill["import_dill_changes_pickle_dispatch"] else "does not change"
    restores = "restores it" if dill["extend_false_restores"] else "does NOT restore it"
    return (f"import dill {changed} pickle._Pickler.dispatch (+{len(dill['added_types'])} "
            f"types, {len(dill.get('replaced_types', []))} replaced); "
            f"dill.extend(False) {restores}")


def format_matrix_text(doc: dict[str, Any]) -> str:
    """A compact matrix: rows kinds, columns serializers, one symbol per cell, and a legend."""
    serializers = [s["name"] for s in doc["serializers"]]
    kinds = [k["name"] for k in doc["kinds"]]
    width = max(map(len, kinds), default=4) + 2
    cells = index_cells(doc)
    lines = [summarize_document(doc), ""]
    lines += format_vertical_header(serializers, width)
    lines += [kind.ljust(width) + " ".join(symbol_of(cells.get((kind, s))) for s in serializers)
              for kind in kinds]
    lines += ["", *wrap_entries(legend_entries(), 100, "legend: "),
              summarize_dill(doc["dill_extend"])]
    lines += [f"skipped: {s['name']} ({s['reason']})" for s in doc["serializers"]
              if not s["available"]]
    return "\n".join(lines) + "\n"


def format_matrix_markdown(doc: dict[str, Any]) -> str:
    """Markdown: the matrix as a table, a legend, payload sizes and what dill does to pickle."""
    serializers = [s["name"] for s in doc["serializers"]]
    cells = index_cells(doc)
    matrix = [[f"`{k['name']}`", k["group"],
               *(f"`{symbol_of(cells.get((k['name'], s)))}`" for s in serializers)]
              for k in doc["kinds"]]
    sizes = [[f"`{k['name']}`", *(format_size(cells.get((k["name"], s))) for s in serializers)]
             for k in doc["kinds"]]
    plain = ["---"] * (2 + len(serializers))
    lines = ["# Capability matrix", "", summarize_document(doc), "",
             *render_markdown_table(["kind", "group", *serializers], matrix, plain), "",
             "Legend: " + format_legend("; "), "",
             "## Payload bytes (ok and lossy cells)", "",
             *render_markdown_table(["kind", *serializers], sizes, plain[1:]), "",
             "## dill", "", summarize_dill(doc["dill_extend"])]
    return "\n".join(lines) + "\n"


def format_size(cell: dict[str, Any] | None) -> str:
    """Payload bytes of an ok or lossy cell, else empty.

    >>> format_size({"outcome": "ok", "payload_bytes": 12}), format_size({"outcome": "crash"})
    ('12', '')
    """
    if cell and cell["outcome"] in ("ok", "lossy") and cell.get("payload_bytes") is not None:
        return str(cell["payload_bytes"])
    return ""


def format_capabilities(doc: dict[str, Any], fmt: str) -> str:
    """Render the document as text, md or json (bench.text.FORMATS)."""
    return render_document(fmt, text=lambda: format_matrix_text(doc),
                           markdown=lambda: format_matrix_markdown(doc), data=lambda: doc)
