"""The page model of the report: sections made of blocks (text, bullets, tables, figures).

One template (templates/report.html.j2) renders every block kind; there is one table
renderer (its `table` macro), used by every section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from markupsafe import Markup

from bench.text import (
    MISSING,
    NOISE_MARK,
    format_change,
    is_missing,
    verdict_label,
)


@dataclass(frozen=True)
class Cell:
    """One table cell: text, an optional CSS class, hover title, data-* attributes, a link."""

    text: str
    cls: str = ""
    title: str = ""
    data: tuple[tuple[str, str], ...] = ()
    href: str = ""


@dataclass(frozen=True)
class Table:
    """A table block: column names, rows of cells, optional heading and per-row classes."""

    columns: Sequence[Cell]
    rows: Sequence[Sequence[Cell]]
    heading: str = ""
    row_classes: Sequence[str] = ()
    collapsible: bool = True
    sortable: bool = False  # a header click sorts, a box above filters rows (inline script)
    cls: str = ""  # CSS classes of its scroll box: "box" caps its height (the header sticks)
    kind: str = "table"


@dataclass(frozen=True)
class Text:
    """A paragraph block; cls "missing" marks a "not measured" notice."""

    text: str
    cls: str = ""
    kind: str = "text"


@dataclass(frozen=True)
class Link:
    """A paragraph that is one link to a file beside the page (e.g. its CSV)."""

    text: str
    href: str
    kind: str = "link"


@dataclass(frozen=True)
class Heading:
    """A sub-heading block (h3) with an anchor id (default: made from its text)."""

    text: str
    id: str = ""
    kind: str = "heading"

    @property
    def anchor(self) -> str:
        """The id of the heading: the given one, else a slug of its text."""
        return self.id or slugify(self.text)


@dataclass(frozen=True)
class Details:
    """Blocks folded under a one-line summary (<details>), for evidence a reader may skip."""

    summary: str
    blocks: Sequence[Any]
    kind: str = "details"


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


def slugify(text: str) -> str:
    """An HTML id from a text: lower-case words joined by hyphens.

    >>> slugify("“Use reduce whenever speed is required.”")
    'use-reduce-whenever-speed-is-required'
    """
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())) or "section"


def make_cell(value: Any) -> Cell:
    """A Cell from a Cell, a string, a number or a missing value.

    >>> make_cell(3).text, make_cell(None).text
    ('3', '-')
    """
    if isinstance(value, Cell):
        return value
    return Cell(MISSING) if is_missing(value) else Cell(str(value))


def make_table(columns: Sequence[Any], rows: Iterable[Sequence[Any]], heading: str = "",
               row_classes: Sequence[str] = (), collapsible: bool = True,
               sortable: bool = False) -> Table:
    """A Table block from plain values (strings, numbers, None or Cells).

    A collapsible table of more than 40 rows renders folded (<details>).
    """
    return Table([make_cell(c) for c in columns], [[make_cell(v) for v in row] for row in rows],
                 heading, list(row_classes), collapsible, sortable)


def drop_empty_columns(table: Table) -> Table:
    """The table without the columns whose every cell is empty or a dash.

    >>> t = drop_empty_columns(make_table(["a", "b"], [[1, None], [2, None]]))
    >>> [c.text for c in t.columns], [[c.text for c in row] for row in t.rows]
    (['a'], [['1'], ['2']])
    """
    keep = [i for i in range(len(table.columns))
            if not table.rows or any(row[i].text not in ("", MISSING) for row in table.rows)]
    return replace(table, columns=[table.columns[i] for i in keep],
                   rows=[[row[i] for i in keep] for row in table.rows])


def make_figure(svg: str, caption: str) -> Figure:
    """A Figure block from matplotlib's SVG text (trusted: matplotlib escapes its text)."""
    return Figure(Markup(svg), caption)  # noqa: S704 - SVG written by matplotlib, text escaped


def missing(text: str) -> Text:
    """A "not measured" notice."""
    return Text(text, "missing")


def mark_noise(value: Any, reason: Any) -> Cell:
    """The cell of a value with the noise mark after it and the reason on hover (none: as is).

    >>> mark_noise("1.20 µs", "wide CI: ±12% of the mean")
    Cell(text='1.20 µs ⚠', cls='noisy', title='wide CI: ±12% of the mean', data=(), href='')
    >>> mark_noise("1.20 µs", "").text
    '1.20 µs'
    """
    cell = make_cell(value)
    if not reason or is_missing(reason) or cell.text == MISSING:
        return cell
    title = f"{cell.title}; {reason}" if cell.title else str(reason)
    return replace(cell, text=f"{cell.text} {NOISE_MARK}", cls=f"{cell.cls} noisy".strip(),
                   title=title)


def row_noise(row: Any) -> str:
    """The noise reasons of a ratio row: its own case's, then its reference's.

    >>> row_noise({"noise": "unstable: x", "reference_noise": "wide CI: y"})
    'unstable: x; reference wide CI: y'
    """
    own, reference = row.get("noise"), row.get("reference_noise")
    parts = [str(own) if isinstance(own, str) and own else "",
             f"reference {reference}" if isinstance(reference, str) and reference else ""]
    return "; ".join(p for p in parts if p)


def ratio_cell(row: Any) -> Cell:
    """A table cell of a ratio row (ratio, ratio_low, ratio_high, verdict), coloured by verdict,
    marked when either case is noisy."""
    return mark_noise(Cell(format_change(row["ratio"], row["ratio_low"], row["ratio_high"]),
                           f"verdict-{row['verdict']}", verdict_label(row["verdict"])),
                      row_noise(row))
