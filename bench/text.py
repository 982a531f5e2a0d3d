"""The one vocabulary of every output: units, numbers, ratios, intervals, verdicts, tables.

Every command and the report format numbers through these functions, so a microsecond is
spelled the same way (`µs`) and a kilobyte means the same thing (`kB` = 1000 bytes)
everywhere. A missing number is shown as MISSING. Ratios are always new / old (head / base):
above 1 means slower. Output documents are chosen by `render_document` from FORMATS.
numpy is imported only by the functions that need it, so the command line starts fast.
"""

from __future__ import annotations

import json
import math
import numbers
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bench.errors import InputError
from bench.metric import INSTRUCTIONS, TIME

if TYPE_CHECKING:
    import pandas as pd

MISSING = "-"
# pyperf's units -> (scale, name), smallest first. Bytes are decimal (1 kB = 1000 B); a count
# is of instructions (`bench run --metric instructions`).
UNITS: dict[str, tuple[tuple[float, str], ...]] = {
    TIME.unit: ((1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms"), (1.0, "s")),
    "byte": ((1.0, "B"), (1e3, "kB"), (1e6, "MB"), (1e9, "GB")),
    INSTRUCTIONS.unit: ((1.0, "instr"), (1e3, "k instr"), (1e6, "M instr"), (1e9, "G instr")),
}
RATE_UNIT = "MB/s"
RATE_SCALE = 1e6
# Verdict of a ratio head/base -> what it means. Order is the order of every summary.
VERDICTS: dict[str, str] = {
    "slower": "significantly slower, and the confidence interval reaches past the threshold",
    "faster": "significantly faster, and the confidence interval reaches past the threshold",
    "same": "the whole confidence interval lies within the threshold",
    "uncertain": "too few processes, or a confidence interval too wide to tell",
    "missing": "measured in the base only",
    "new": "measured in the head only",
}
# Verdict of a size head/base (payload bytes, peak memory; bench.gate.sizes) -> what it means.
SIZE_VERDICTS: dict[str, str] = {
    "larger": "larger than the base by more than the size's tolerance",
    "smaller": "smaller than the base by more than the size's tolerance",
    "same": "within the size's tolerance of the base",
    "uncertain": "the runs of a side differ by more than the tolerance",
    "missing": "recorded in the base only",
    "new": "recorded in the head only",
}
SIZE_WORDS = ("larger", "smaller")  # format_ratio's words for a size
# How a page for readers words a verdict: "uncertain" reads "cannot tell" (the CI is too wide
# to say same, slower or faster); the other verdicts keep their names.
VERDICT_LABELS: dict[str, str] = {"uncertain": "cannot tell"}
# The answer to a claim the report puts to the data -> what it means. Order: the legend's.
ANSWERS: dict[str, str] = {
    "true": "the measurements support the claim",
    "false": "the measurements contradict the claim",
    "mixed": "true for some cases, false for others",
    "cannot tell": "measured, but the cases whose CI is too wide to decide could still change it",
    "not measured in this run": "this run has none of the cases the claim needs",
}
FORMATS = ("text", "md", "json")
# The mark beside a number whose case is noisy (unstable, or a CI wider than the threshold).
NOISE_MARK = "⚠"
NOISE_MEANING = "read with care: the case is unstable or its 95% CI is wider than the threshold"


def verdict_label(verdict: str) -> str:
    """The reader's word for a gate verdict.

    >>> verdict_label("uncertain"), verdict_label("same")
    ('cannot tell', 'same')
    """
    return VERDICT_LABELS.get(verdict, verdict)


# ---------------------------------------------------------------- numbers

def is_missing(value: Any) -> bool:
    """True for None, pandas NA and NaN (and infinities: no number to show).

    >>> import pandas as pd
    >>> is_missing(None), is_missing(float("nan")), is_missing(pd.NA), is_missing(0)
    (True, True, True, False)
    >>> is_missing("nan"), is_missing(float("inf"))
    (False, True)
    """
    pandas = sys.modules.get("pandas")  # a pandas NA exists only once pandas is imported
    if value is None or (pandas is not None and value is pandas.NA):
        return True
    return isinstance(value, numbers.Real) and not math.isfinite(value)


def choose_unit(values: Sequence[float] | pd.Series, unit: str = "second") -> tuple[float, str]:
    """The (scale, name) of UNITS[unit] that suits the median of some values, for an axis.

    >>> choose_unit([2e-6, 5e-6]), choose_unit([2e6, 4e6], "byte"), choose_unit([], "byte")
    ((1e-06, 'µs'), (1000000.0, 'MB'), (1.0, 'B'))
    """
    import numpy as np

    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data) & (data > 0)]
    median = float(np.median(data)) if len(data) else 1.0
    return pick_scale(median, unit)


def pick_scale(value: float, unit: str) -> tuple[float, str]:
    """The largest (scale, name) of UNITS[unit] not above |value| (a unit of its own if unknown).

    A value that rounds to 1.00 of the next unit takes that unit.

    >>> pick_scale(0.0009996, "second"), pick_scale(5.0, "widget")
    ((0.001, 'ms'), (1.0, 'widget'))
    """
    scales = UNITS.get(unit, ((1.0, unit),))
    fitting = [entry for entry in scales if abs(value) >= entry[0] * 0.9995]
    return fitting[-1] if fitting else scales[0]


def format_quantity(value: Any, unit: str) -> str:
    """A value in a pyperf unit (second, byte or any other name), 3 significant digits.

    >>> format_quantity(0.00123, "second"), format_quantity(2048, "byte")
    ('1.23 ms', '2.05 kB')
    >>> format_quantity(1.5e-6, "second"), format_quantity(300, "byte"), format_quantity(None, "s")
    ('1.50 µs', '300 B', '-')
    """
    if is_missing(value):
        return MISSING
    scale, name = pick_scale(float(value), unit)
    return f"{float(value) / scale:#.3g} {name}".replace(". ", " ").rstrip()


def format_byte_change(change: Any) -> str:
    """A signed change in bytes: whole bytes under 1 kB, else 3 significant digits.

    >>> format_byte_change(9), format_byte_change(-54030), format_byte_change(0)
    ('+9 B', '-54.0 kB', '0 B')
    """
    if is_missing(change):
        return MISSING
    if abs(change) < 1000:
        return f"{round(change):+d} B" if round(change) else "0 B"
    return ("+" if change > 0 else "") + format_quantity(change, "byte")


def format_factor(value: Any) -> str:
    """A bare factor with 3 significant digits, whole numbers with separators from 100 on.

    >>> format_factor(5.1234), format_factor(0.01234), format_factor(2760.4), format_factor(None)
    ('5.12', '0.0123', '2,760', '-')
    """
    if is_missing(value):
        return MISSING
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def format_ratio(ratio: Any, words: tuple[str, str] = ("slower", "faster")) -> str:
    """A ratio new/old (head/base) in pyperf's words, or in `words` (up, down): SIZE_WORDS.

    >>> format_ratio(1.234), format_ratio(0.95), format_ratio(1.0001), format_ratio(None)
    ('1.23x slower', '1.05x faster', '1.00x', '-')
    >>> format_ratio(2.0, SIZE_WORDS)
    '2.00x larger'
    """
    if is_missing(ratio) or ratio <= 0:
        return MISSING
    if f"{ratio:.2f}" == "1.00" and f"{1 / ratio:.2f}" == "1.00":
        return "1.00x"
    return f"{ratio:.2f}x {words[0]}" if ratio > 1 else f"{1 / ratio:.2f}x {words[1]}"


def format_change(ratio: Any, low: Any, high: Any) -> str:
    """A ratio head/base in pyperf's words with its interval in the same words.

    >>> format_change(0.613, 0.467, 0.806), format_change(2.0, float("nan"), None)
    ('1.63x faster [1.241x, 2.141x]', '2.00x slower (CI unknown)')
    """
    words, interval = format_ratio(ratio), format_change_interval(ratio, low, high)
    if words == MISSING:
        return MISSING
    return f"{words} {'(CI unknown)' if interval == MISSING else interval}"


def format_change_interval(ratio: Any, low: Any, high: Any) -> str:
    """The interval [low, high] of a ratio head/base in the words format_ratio gives it: a
    speed-up's interval is of the speed-up (1 / the ratio's bounds, swapped).

    >>> format_change_interval(0.613, 0.467, 0.806), format_change_interval(1.08, 1.056, 1.104)
    ('[1.241x, 2.141x]', '[1.056x, 1.104x]')
    """
    if any(is_missing(x) or x <= 0 for x in (ratio, low, high)):
        return MISSING
    if format_ratio(ratio).endswith("faster"):
        low, high = 1 / high, 1 / low
    return f"[{low:.3f}x, {high:.3f}x]"


def format_interval(low: Any, high: Any, unit: str | None = None) -> str:
    """An interval '[low, high]': bare numbers to 3 decimals, or quantities in `unit`.

    >>> format_interval(0.98712, 1.0123), format_interval(1e-3, 2e-3, "second")
    ('[0.987, 1.012]', '[1.00 ms, 2.00 ms]')
    >>> format_interval(float("nan"), 1.0)
    '-'
    """
    if is_missing(low) or is_missing(high):
        return MISSING
    if unit is None:
        return f"[{low:.3f}, {high:.3f}]"
    return f"[{format_quantity(low, unit)}, {format_quantity(high, unit)}]"


def format_percent(share: Any, digits: int = 0) -> str:
    """A share as a percentage.

    >>> format_percent(0.125, 1), format_percent(0.07), format_percent(None)
    ('12.5%', '7%', '-')
    """
    if is_missing(share):
        return MISSING
    return f"{share * 100:.{digits}f}%"


def format_rate(bytes_per_second: Any) -> str:
    """A throughput as a number of RATE_UNIT (MB/s), without exponents; the header names the unit.

    >>> format_rate(1.2346e9), format_rate(5.5e6), format_rate(1.5e3), format_rate(None)
    ('1235', '5.5', '0.0015', '-')
    """
    if is_missing(bytes_per_second):
        return MISSING
    value = bytes_per_second / RATE_SCALE
    return f"{value:.0f}" if value >= 100 else f"{value:.2g}"


# ---------------------------------------------------------------- tables

def render_text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned plain-text table: first and last columns left-aligned, the others right.

    >>> render_text_table(["name", "n", "verdict"], [["a", "10", "ok"]])
    ['name   n  verdict', '----  --  -------', 'a     10  ok']
    """
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).ljust(w) if i in (0, len(cells) - 1) else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def escape_markdown(text: str) -> str:
    """Text from a file or the command line made inert in markdown: HTML escaped, one line.

    >>> escape_markdown("<img src=x onerror=alert(1)> a & b")
    '&lt;img src=x onerror=alert(1)&gt; a &amp; b'
    """
    return " ".join(str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split())


def render_markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                          align: Sequence[str] | None = None) -> list[str]:
    """GitHub markdown table; `align` is one of ':--', '--:', '---' per column.

    By default the first and last columns are left-aligned and the others right-aligned;
    a `|` inside a cell is escaped, and so is HTML (`escape_markdown`).

    >>> render_markdown_table(["a", "b"], [["1", "x|y"]], align=["---", "---"])
    ['| a | b |', '| --- | --- |', '| 1 | x\\\\|y |']
    """
    if align is None:
        align = [":--" if i in (0, len(headers) - 1) else "--:" for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(escape_markdown(c).replace("|", "\\|") for c in cells) + " |"

    return [line(headers), line(align), *(line(r) for r in rows)]


# ---------------------------------------------------------------- documents

def round_float(value: Any, digits: int = 6) -> Any:
    """A float rounded to `digits` significant digits (None for NaN), for stable JSON.

    >>> round_float(1.23456789), round_float(float("nan")), round_float(3)
    (1.23457, None, 3)
    """
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if is_missing(value):
        return None
    if isinstance(value, (float, np.floating)):
        return float(f"{float(value):.{digits}g}")
    return value


def records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready records of a frame: floats rounded, NaN as null.

    >>> import pandas as pd
    >>> records_of(pd.DataFrame({"a": [1.23456789, float("nan")]}))
    [{'a': 1.23457}, {'a': None}]
    """
    return [{k: round_float(v) for k, v in row.items()} for row in frame.to_dict("records")]


def format_json(document: Any) -> str:
    """Stable JSON text of a document (indent 2, no NaN), ending with a newline.

    >>> format_json({"a": [1, None]})
    '{\\n  "a": [\\n    1,\\n    null\\n  ]\\n}\\n'
    """
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def render_document(fmt: str, *, text: Callable[[], str], data: Callable[[], Any],
                    markdown: Callable[[], str] | None = None) -> str:
    """The output in format `fmt` (one of FORMATS); only the chosen renderer runs.

    `data` returns the JSON-ready document; a command without a markdown rendering passes
    none, and asking it for `md` is an InputError.

    >>> render_document("json", text=lambda: "hi\\n", data=lambda: [1])
    '[\\n  1\\n]\\n'
    >>> render_document("text", text=lambda: "hi\\n", data=lambda: [1])
    'hi\\n'
    """
    renderers: dict[str, Callable[[], str] | None] = {
        "text": text, "md": markdown, "json": lambda: format_json(data())}
    render = renderers.get(fmt)
    if render is None:
        known = ", ".join(name for name, r in renderers.items() if r is not None)
        raise InputError(f"--format: unknown format {fmt!r} (known: {known})")
    return render()


def formats_of(markdown: bool = True) -> tuple[str, ...]:
    """The `--format` choices of a command, with or without a markdown rendering.

    >>> formats_of(), formats_of(markdown=False)
    (('text', 'md', 'json'), ('text', 'json'))
    """
    return FORMATS if markdown else tuple(f for f in FORMATS if f != "md")
