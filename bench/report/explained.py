"""The Explained section: for a report of two counted runs, which functions moved in each changed case.

The explanations are bench.gate.explain's (as `bench explain` prints them). Each changed case is
one <details> block (closed: the page stays short) holding its top functions; the MAX_FIGURES
cases that moved most also get a differential bar figure of their top functions, base against
head. At most MAX_CASES cases are shown, those that moved most; `bench explain` lists them all.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from bench.gate.explain import (
    PYTHON_HEADERS,
    TABLE_HEADERS,
    Explanation,
    describe_case,
    describe_coverage,
    explain_comparison,
    function_rows,
    python_rows,
)
from bench.report.blocks import Details, Section, Text, make_figure, make_table

if TYPE_CHECKING:
    from bench.report.findings import RunComparisons

MAX_CASES = 20
MAX_FIGURES = 3
FIGURE_FUNCTIONS = 8


def explained_section(found: RunComparisons | None, profiles: dict[str, dict[str, Any]]) -> Section | None:
    """The section, or None unless the report compares two runs that both kept profiles."""
    if found is None or len(found.comparisons) != 1:
        return None
    ((run, cmp),) = found.comparisons.items()
    base, head = profiles.get(found.base) or {}, profiles.get(run) or {}
    if not base or not head:
        return None
    cases = list(zip(cmp.cases["benchmark"], cmp.cases["verdict"], strict=True))
    explained = [e for e in explain_comparison(cases, base, head) if not e.note]
    explained.sort(key=lambda e: -abs(math.log(e.head_total / e.base_total))
                   if e.base_total > 0 and e.head_total > 0 else 0.0)
    section = Section("explained", "Explained", [Text(
        f"Where each changed case's instructions moved, {run} against {found.base}, per call of the op: "
        "the functions whose own (exclusive) instructions changed most, grouped by object; `incl.` "
        "adds their callees, `calls` is the change in how often they run. The same as `bench explain "
        f"{found.base}.json {run}.json`" + (f"; the {MAX_CASES} cases that moved most of "
                                            f"{len(explained)}." if len(explained) > MAX_CASES else "."))])
    if not explained:
        section.blocks.append(Text("No case changed, or no changed case has a profile on both sides."))
    for number, e in enumerate(explained[:MAX_CASES]):
        blocks: list[Any] = [Text(describe_coverage(e)),
                             make_table(TABLE_HEADERS, function_rows(e), collapsible=False)]
        if e.python:
            blocks.append(make_table(["bytecodes change", *PYTHON_HEADERS[1:]], python_rows(e),
                                     collapsible=False))
        if number < MAX_FIGURES:
            blocks.append(make_figure(plot_explanation(e, found.base, run),
                                      "Instructions per call of the functions that moved most, base "
                                      "against head (exclusive: the function's own)."))
        section.blocks.append(Details(describe_case(e), blocks))
    return section


def plot_explanation(explanation: Explanation, base: str, head: str) -> str:
    """Paired horizontal bars: each top function's exclusive instructions per call in base and head."""
    import numpy as np

    from bench.report.plots import OKABE_ITO, figure_svg, make_grid, set_title, styled

    @styled
    def draw() -> str:
        rows = [c for c in explanation.functions if c.obj][:FIGURE_FUNCTIONS]
        fig, (ax,) = make_grid(1, 1, 6.4, 0.6 + 0.38 * len(rows))
        y = np.arange(len(rows))[::-1]
        ax.barh(y + 0.2, [c.base[0] for c in rows], height=0.4, color=OKABE_ITO[5], label=base)
        ax.barh(y - 0.2, [c.head[0] for c in rows], height=0.4, color=OKABE_ITO[0], label=head)
        ax.set_yticks(y, [shorten(c.name) for c in rows])
        ax.set(xlabel="instructions per call (exclusive)")
        ax.legend(loc="lower right")
        set_title(fig, explanation.case)
        return figure_svg(fig)

    return draw()


def shorten(name: str, limit: int = 40) -> str:
    """A function name cut to `limit` characters.

    >>> shorten("a" * 50, 10)
    'aaaaaaaaa…'
    """
    return name if len(name) <= limit else name[:limit - 1] + "…"
