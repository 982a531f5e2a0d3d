"""Plain-text and markdown tables: the one renderer of each that every command's output uses."""

from __future__ import annotations

from collections.abc import Sequence


def render_text_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Aligned plain-text table: first and last columns left-aligned, the others right.

    >>> render_text_table(["name", "n", "verdict"], [["a", "10", "ok"]])
    ['name   n  verdict', '----  --  -------', 'a     10  ok']
    """
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        parts = [str(c).ljust(w) if i in (0, len(cells) - 1) else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def render_markdown_table(headers: list[str], rows: Sequence[list[str]],
                          align: Sequence[str] | None = None) -> list[str]:
    """GitHub markdown table; `align` is one of ':--', '--:', '---' per column.

    By default the first and last columns are left-aligned and the others right-aligned;
    a `|` inside a cell is escaped.

    >>> render_markdown_table(["a", "b"], [["1", "x|y"]], align=["---", "---"])
    ['| a | b |', '| --- | --- |', '| 1 | x\\\\|y |']
    """
    if align is None:
        align = [":--" if i in (0, len(headers) - 1) else "--:" for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(headers), line(align), *(line(r) for r in rows)]
