"""The page model of the report: sections made of blocks (text, bullets, tables, figures).

One template (templates/report.html.j2) renders every block kind; there is one table
renderer (its `table` macro), used by every section.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from bench.text import MISSING, format_interval, format_ratio, is_missing


@dataclass(frozen=True)
class Cell:
    """One table cell: text, an optional CSS class, hover title and data-* attributes."""

    text: str
    cls: str = ""
    title: str = ""
    data: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Table:
    """A table block: column names, rows of cells, optional heading and per-row classes."""

    columns: Sequence[Cell]
    rows: Sequence[Sequence[Cell]]
    heading: str = ""
    row_classes: Sequence[str] = ()
    collapsible: bool = True
    kind: str = "table"


@dataclass(frozen=True)
class Text:
    """A paragraph block; cls "missing" marks a "not measured" notice."""

    text: str
    cls: str = ""
    kind: str = "text"


@dataclass(frozen=True)
class Heading:
    """A sub-heading block (h3)."""

    text: str
    kind: str = "heading"


@dataclass(frozen=True)
class Bullets:
    """A bulleted list block."""

    items: Sequence[str]
    kind: str = "bullets"


@dataclass(frozen=True)
class Figure:
    """An inline SVG figure with its caption."""

    svg: Markup
    caption: str
    kind: str = "figure"


@dataclass
class Section:
    """One report section: an anchor id, a title and its blocks."""

    id: str
    title: str
    blocks: list[Any] = field(default_factory=list)


def make_cell(value: Any) -> Cell:
    """A Cell from a Cell, a string, a number or a missing value.

    >>> make_cell(3).text, make_cell(None).text
    ('3', '-')
    """
    if isinstance(value, Cell):
        return value
    return Cell(MISSING) if is_missing(value) else Cell(str(value))


def make_table(columns: Sequence[Any], rows: Iterable[Sequence[Any]], heading: str = "",
               row_classes: Sequence[str] = (), collapsible: bool = True) -> Table:
    """A Table block from plain values (strings, numbers, None or Cells).

    A collapsible table of more than 40 rows renders folded (<details>).
    """
    return Table([make_cell(c) for c in columns], [[make_cell(v) for v in row] for row in rows],
                 heading, list(row_classes), collapsible)


def make_figure(svg: str, caption: str) -> Figure:
    """A Figure block from matplotlib's SVG text (trusted: matplotlib escapes its text)."""
    return Figure(Markup(svg), caption)  # noqa: S704 - SVG written by matplotlib, text escaped


def missing(text: str) -> Text:
    """A "not measured" notice."""
    return Text(text, "missing")


def describe_ratio(value: Any, low: Any, high: Any) -> str:
    """A time ratio (numerator / reference) in the shared words, with its 95% CI.

    >>> describe_ratio(0.2, 0.19, 0.21), describe_ratio(2.0, float("nan"), None)
    ('5.00x faster [0.190, 0.210]', '2.00x slower (CI unknown)')
    """
    interval = "(CI unknown)" if is_missing(low) or is_missing(high) else format_interval(low, high)
    return f"{format_ratio(value)} {interval}"


def ratio_cell(row: Any) -> Cell:
    """A table cell of a ratio row (ratio, ratio_low, ratio_high, verdict), coloured by verdict."""
    return Cell(describe_ratio(row["ratio"], row["ratio_low"], row["ratio_high"]),
                f"verdict-{row['verdict']}", row["verdict"])
