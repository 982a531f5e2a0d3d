"""Why a case changed: the functions whose instructions moved between two counted runs.

For each case the verdict rule (bench.gate.rule) calls slower or faster, the profiles of the
two sides (bench.run.profiles: per function, per call) are compared function by function,
keyed by object (shared library or executable) and name. A function kept in one side's
profile only counts as 0 on the other side (that side's `other` holds it), so the exclusive
changes, `other` included, add up to the case's change exactly. Rows are ordered by the size
of their exclusive change; `covered` is the share of the case's change the exclusive changes
of the top functions add up to (their sum over the change: above 100% when other functions
moved the other way), `other` shown apart and never counted in it. Python functions
(a profile's `py`, bench.run.pycalls) are compared the same way, by bytecode instructions and
calls, when either side has them (a side without them spent under a tenth of its instructions
in frame evaluation, and counts as none). A stripped library's functions (named by address)
that do not match between the sides are one row per library (`fold_unmatched`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from bench.run.profiles import Function, functions_of
from bench.text import (
    escape_markdown,
    format_percent,
    render_document,
    render_markdown_table,
    render_text_table,
)

TOP = 10
HOLDER_SHARE = 0.8  # the narrowest function whose inclusive change holds this share of the change
CHANGED = ("slower", "faster")
OTHER = "(functions not kept)"
NO_OBJECT = {"", "???"}  # code callgrind places in no shared library or executable
UNNAMED = "(functions without a symbol)"  # one row per stripped object: see fold_unmatched
NO_PROFILE = ("has no profile on the {side} side (counted with BENCH_KEEP_PROFILES=0, by a bench "
              "without profiles, or an op of 100 M instructions or more)")


@dataclass(frozen=True)
class FunctionChange:
    """One function's counts per call on both sides."""

    name: str
    obj: str
    file: str
    base: tuple[float, float, float]  # exclusive, inclusive, calls
    head: tuple[float, float, float]

    @property
    def exclusive(self) -> float:
        """The change of its own instructions (head - base)."""
        return self.head[0] - self.base[0]

    @property
    def inclusive(self) -> float:
        """The change of its instructions with its callees' (head - base)."""
        return self.head[1] - self.base[1]

    @property
    def calls(self) -> float:
        """The change of its calls per call of the op."""
        return self.head[2] - self.base[2]


@dataclass(frozen=True)
class Explanation:
    """One changed case: its totals, the top functions, the change per object, their coverage."""

    case: str
    verdict: str
    base_total: float
    head_total: float
    functions: list[FunctionChange] = field(default_factory=list)
    objects: list[tuple[str, float]] = field(default_factory=list)
    covered: float = math.nan
    note: str = ""
    python: list[FunctionChange] = field(default_factory=list)
    narrowest: FunctionChange | None = None  # see narrowest_holder
    python_sides: tuple[float, float] = (math.nan, math.nan)  # bytecodes a call, base and head
    stripped: tuple[str, ...] = ()  # objects whose unmatched address-named functions are one row

    @property
    def change(self) -> float:
        """Instructions per call, head - base."""
        return self.head_total - self.base_total

    def share(self, amount: float) -> float:
        """`amount` as a share of the case's change (NaN when it did not change)."""
        return amount / self.change if self.change else math.nan


def explain_case(case: str, verdict: str, base: dict[str, Any] | None, head: dict[str, Any] | None,
                 top: int = TOP) -> Explanation:
    """The explanation of one case from its two profiles (either may be None: a note says so)."""
    if base is None or head is None:
        side = "base" if base is None else "head"
        return Explanation(case, verdict, math.nan, math.nan, note=NO_PROFILE.format(side=side))
    base_functions, head_functions, stripped = fold_unmatched(list(functions_of(base)),
                                                               list(functions_of(head)))
    changes = compare_functions(base_functions, head_functions)
    other = FunctionChange(OTHER, "", "", (float(base["other"]), 0.0, 0.0), (float(head["other"]), 0.0, 0.0))
    ranked = sorted(changes, key=lambda c: (-abs(c.exclusive), c.obj, c.name))
    shown = [c for c in ranked[:top] if c.exclusive or c.inclusive]
    objects: dict[str, float] = {}
    for moved in [*ranked, other]:
        objects[moved.obj or OTHER] = objects.get(moved.obj or OTHER, 0.0) + moved.exclusive
    change = float(head["ir"]) - float(base["ir"])
    python, sides = compare_python(base.get("py"), head.get("py"), top)
    return Explanation(case, verdict, float(base["ir"]), float(head["ir"]),
                       shown + ([other] if other.exclusive else []),
                       sorted(objects.items(), key=lambda item: -abs(item[1])),
                       sum(c.exclusive for c in shown) / change if change else math.nan,
                       python=python, python_sides=sides, narrowest=narrowest_holder(changes, change),
                       stripped=tuple(stripped))


def is_unnamed(name: str) -> bool:
    """A function callgrind names by its address only: one of a stripped build (no symbols)."""
    return name.startswith("0x")


def fold_unmatched(base: list[Function], head: list[Function]
                   ) -> tuple[list[Function], list[Function], list[str]]:
    """Both sides with the address-named functions that the other side lacks folded into one
    row per object (UNNAMED, its own instructions summed), and the libraries so folded.

    A stripped build's functions are named by address, and two builds of a library place
    them differently, so they cannot be matched one by one: unfolded, one function would show
    as a large fall at its old address and a large rise at its new one.

    >>> old = [Function("0x10", "", "o.so", 50, 60, 1), Function("f", "f.c", "o.so", 5, 5, 1)]
    >>> new = [Function("0x20", "", "o.so", 30, 40, 1), Function("f", "f.c", "o.so", 5, 5, 1)]
    >>> a, b, objects = fold_unmatched(old, new)
    >>> [(f.name, f.exclusive) for f in a], [f.exclusive for f in b], objects
    ([('f', 5), ('(functions without a symbol)', 50.0)], [5, 30.0], ['o.so'])
    """
    names = [{(f.obj, f.name) for f in side} for side in (base, head)]
    folded: set[str] = set()
    sides = []
    for side, other in ((base, names[1]), (head, names[0])):
        kept: list[Function] = []
        sums: dict[str, float] = {}
        for function in side:
            if is_unnamed(function.name) and (function.obj, function.name) not in other:
                sums[function.obj] = sums.get(function.obj, 0.0) + function.exclusive
            else:
                kept.append(function)
        folded |= sums.keys()
        sides.append(kept + [Function(UNNAMED, "", obj, total, total, 0.0) for obj, total in sums.items()])
    return sides[0], sides[1], sorted(folded - NO_OBJECT)


def narrowest_holder(changes: Sequence[FunctionChange], change: float, share: float = HOLDER_SHARE
                     ) -> FunctionChange | None:
    """The function whose inclusive change holds at least `share` of the case's change with the
    smallest such inclusive change: the deepest call that still holds most of it (None when none).

    >>> a = FunctionChange("root", "x", "", (0, 100, 1), (0, 200, 1))
    >>> b = FunctionChange("read", "x", "", (0, 10, 1), (0, 95, 1))
    >>> narrowest_holder([a, b], 100).name
    'read'
    """
    holders = [c for c in changes if change and c.obj not in NO_OBJECT and not is_unnamed(c.name)
               and c.name != UNNAMED and c.inclusive / change >= share]
    return min(holders, key=lambda c: (abs(c.inclusive), c.name), default=None)


def compare_python(base: dict[str, Any] | None, head: dict[str, Any] | None, top: int = TOP
                   ) -> tuple[list[FunctionChange], tuple[float, float]]:
    """The top Python functions by the change of their own bytecode instructions, and each
    side's total ([] and NaNs when neither side was traced)."""
    if base is None and head is None:
        return [], (math.nan, math.nan)
    empty: dict[str, Any] = {"ops": 0, "other": 0, "fns": []}
    base, head = base or empty, head or empty
    changes = compare_functions(*(  # the same differential, "python" as every function's object
        [Function(row[0], row[1], "python", *row[2:]) for row in side["fns"]] for side in (base, head)))
    ranked = sorted(changes, key=lambda c: (-abs(c.exclusive), c.name, c.file))
    return [c for c in ranked[:top] if c.exclusive or c.inclusive], (float(base["ops"]), float(head["ops"]))


def compare_functions(base: Iterable[Function], head: Iterable[Function]) -> list[FunctionChange]:
    """Every function of either side with its counts on both (0 where a side lacks it)."""
    sides: dict[tuple[str, str], dict[str, Function]] = {}
    for side, functions in (("base", base), ("head", head)):
        for function in functions:
            sides.setdefault((function.obj, function.name), {})[side] = function
    zero = (0.0, 0.0, 0.0)
    return [FunctionChange(name, obj, (found.get("head") or found["base"]).file,
                           counts_of(found.get("base")) or zero, counts_of(found.get("head")) or zero)
            for (obj, name), found in sides.items()]


def counts_of(function: Function | None) -> tuple[float, float, float] | None:
    """A function's exclusive, inclusive and calls (None for no function)."""
    return None if function is None else (function.exclusive, function.inclusive, function.calls)


def explain_comparison(cases: Sequence[tuple[str, str]], base: dict[str, dict[str, Any]],
                       head: dict[str, dict[str, Any]], patterns: Sequence[str] = (),
                       top: int = TOP) -> list[Explanation]:
    """The explanations of the changed cases among (case, verdict) pairs whose name matches
    one of `patterns` (all when none is given)."""
    return [explain_case(case, verdict, base.get(case), head.get(case), top)
            for case, verdict in cases
            if verdict in CHANGED and (not patterns or any(fnmatchcase(case, p) for p in patterns))]


# ---------------------------------------------------------------- rendering

def format_count(value: float, sign: bool = True) -> str:
    """Instructions per call, grouped by thousands, signed.

    >>> format_count(12345.6), format_count(-3), format_count(7, sign=False), format_count(math.nan)
    ('+12,346', '-3', '7', '-')
    """
    if not math.isfinite(value):
        return "-"
    return f"{value:+,.0f}" if sign else f"{value:,.0f}"


def describe_case(explanation: Explanation) -> str:
    """The headline of a case: its verdict, totals and change."""
    e = explanation
    if e.note:
        return f"{e.case}: {e.verdict}; {e.note}"
    ratio = e.head_total / e.base_total if e.base_total else math.nan
    return (f"{e.case}: {e.verdict}, {ratio:.3f}x ({format_count(e.base_total, False)} → "
            f"{format_count(e.head_total, False)} instructions a call, {format_count(e.change)})")


def describe_coverage(explanation: Explanation) -> str:
    """Which share of the case's change the top functions' exclusive changes add up to."""
    named = sum(1 for c in explanation.functions if c.obj)
    line = f"the top {named} functions add up to {format_percent(explanation.covered)} of the change"
    if explanation.stripped:
        line += (f" ({', '.join(explanation.stripped)} without symbols, a stripped build: its functions "
                 f"whose addresses differ between the two sides are one row, {UNNAMED})")
    holder = explanation.narrowest
    if holder is None:
        return line
    return (f"{line}; the narrowest call holding {format_percent(HOLDER_SHARE)}+ of it: {holder.name} "
            f"({holder.obj}), inclusive {format_count(holder.inclusive)} "
            f"({format_percent(explanation.share(holder.inclusive))})")


TABLE_HEADERS = ["excl. change", "share", "incl. change", "calls", "object", "function (file)"]
PYTHON_HEADERS = ["bytecodes change", "incl. change", "calls", "Python function (file:line)"]


def describe_python(explanation: Explanation) -> str:
    """The headline of the Python functions' table."""
    base, head = explanation.python_sides
    return (f"Python functions (bytecode instructions of one traced call, outside the count: "
            f"{format_count(base, False)} → {format_count(head, False)}):")


def python_rows(explanation: Explanation) -> list[list[str]]:
    """One row per Python function shown."""
    return [[format_count(c.exclusive), format_count(c.inclusive), format_count(c.calls),
             f"{c.name} ({c.file})"]
            for c in explanation.python]


def function_rows(explanation: Explanation) -> list[list[str]]:
    """One row per function shown, grouped by object in the order of the objects' changes."""
    order = {obj: at for at, (obj, _) in enumerate(explanation.objects)}
    rows = sorted(explanation.functions, key=lambda c: (order.get(c.obj or OTHER, 0), -abs(c.exclusive)))
    return [[format_count(c.exclusive), format_percent(explanation.share(c.exclusive)),
             format_count(c.inclusive) if c.obj else "", format_count(c.calls) if c.obj else "",
             c.obj, f"{c.name} ({c.file})" if c.file and c.file != "???" else c.name] for c in rows]


def object_line(explanation: Explanation, limit: int = 5) -> str:
    """The change per object, largest first."""
    share = explanation.share
    return "by object: " + ", ".join(f"{obj} {format_count(amount)} ({format_percent(share(amount))})"
                                     for obj, amount in explanation.objects[:limit])


def format_explanations_text(explanations: Sequence[Explanation]) -> str:
    """The explanations as plain text."""
    if not explanations:
        return "no case changed: nothing to explain\n"
    lines: list[str] = []
    for e in explanations:
        lines.append(describe_case(e))
        if not e.note:
            lines += [f"  {describe_coverage(e)}; {object_line(e)}",
                      *("  " + row for row in render_text_table(TABLE_HEADERS, function_rows(e)))]
        if e.python:
            lines += [f"  {describe_python(e)}",
                      *("  " + row for row in render_text_table(PYTHON_HEADERS, python_rows(e)))]
        lines.append("")
    return "\n".join(lines)


def format_explanations_markdown(explanations: Sequence[Explanation]) -> str:
    """The explanations as markdown: a heading and a table per case."""
    if not explanations:
        return "No case changed: nothing to explain.\n"
    lines: list[str] = []
    for e in explanations:
        lines += [f"#### {escape_markdown(describe_case(e))}", ""]
        if not e.note:
            lines += [escape_markdown(f"{describe_coverage(e)}; {object_line(e)}"), "",
                      *render_markdown_table(TABLE_HEADERS, function_rows(e)), ""]
        if e.python:
            lines += [escape_markdown(describe_python(e)), "",
                      *render_markdown_table(PYTHON_HEADERS, python_rows(e)), ""]
    return "\n".join(lines) + "\n"


def explanation_document(explanations: Sequence[Explanation]) -> dict[str, Any]:
    """The explanations as a JSON-ready document."""
    def number(value: float) -> float | None:
        return round(value, 2) if math.isfinite(value) else None

    return {"cases": [{
        "case": e.case, "verdict": e.verdict, "note": e.note or None,
        "base_instructions": number(e.base_total), "head_instructions": number(e.head_total),
        "change": number(e.change), "covered": number(e.covered), "stripped": list(e.stripped),
        "narrowest": None if e.narrowest is None else {
            "function": e.narrowest.name, "object": e.narrowest.obj,
            "inclusive_change": number(e.narrowest.inclusive),
            "share": number(e.share(e.narrowest.inclusive))},
        "objects": [{"object": obj, "exclusive_change": number(amount), "share": number(e.share(amount))}
                    for obj, amount in e.objects],
        "functions": [{"function": c.name, "object": c.obj, "file": c.file,
                       "exclusive_change": number(c.exclusive), "inclusive_change": number(c.inclusive),
                       "calls_change": number(c.calls), "share": number(e.share(c.exclusive)),
                       "base": [number(v) for v in c.base], "head": [number(v) for v in c.head]}
                      for c in e.functions],
        "python_bytecodes": [number(v) for v in e.python_sides] if e.python else None,
        "python_functions": [{"function": c.name, "file": c.file, "bytecodes_change": number(c.exclusive),
                              "inclusive_change": number(c.inclusive), "calls_change": number(c.calls)}
                             for c in e.python]} for e in explanations]}


def format_explanations(explanations: Sequence[Explanation], fmt: str = "text") -> str:
    """The explanations in `fmt` (text, md or json)."""
    return render_document(fmt, text=lambda: format_explanations_text(explanations),
                           markdown=lambda: format_explanations_markdown(explanations),
                           data=lambda: explanation_document(explanations))
