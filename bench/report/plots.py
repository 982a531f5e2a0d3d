"""matplotlib figures of the report, each returned as an inline SVG string.

Every function takes a small prepared DataFrame and returns SVG text; nothing
is written to disk. Colour is identity: every serializer and fold style has a
colour of its own in every figure (the pickle protocols a ramp of one hue), and a
marker per family, so series stay apart in grey-scale too. Text stays text in the SVG
(`svg.fonttype = none`), mathtext is off (names are data, not formulas), and
figures are closed after saving. A subject's colour and marker are facts of its registry
entry (bench.subjects.serializers, bench.subjects.folds); the memcpy reference, the one subject outside the
registries, has its own here.
"""

from __future__ import annotations

import functools
import io
import math
import textwrap
import zlib
from collections.abc import Callable, Sequence
from itertools import count
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator  # noqa: E402

from bench.report.svg import clean_svg  # noqa: E402
from bench.subjects.folds import STYLES, Style  # noqa: E402
from bench.subjects.serializers import SERIALIZERS, Serializer  # noqa: E402
from bench.subjects.ship import TRANSPORTS, Transport  # noqa: E402
from bench.text import choose_unit  # noqa: E402

# Okabe & Ito (2008), "Color Universal Design", without yellow #F0E442.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
REFERENCE_STYLES = {"memcpy": ("#7f7f7f", "D")}  # reference cases: in no registry
RC: dict[Any, Any] = {
    "svg.fonttype": "none", "svg.hashsalt": "bench-report", "text.parse_math": False,
    "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"], "font.size": 9, "axes.titlesize": 10,
    "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
    "axes.spines.right": False, "path.simplify": True, "legend.fontsize": 8,
    "axes.formatter.useoffset": False, "axes.formatter.limits": (-5, 6)}  # no offset, no 1e-5
MIN_WIDTH = 5.0  # inches: room for a suptitle above a single panel
MIN_PANEL_HEIGHT = 2.0  # inches: room for titles and labels around a one-row dot plot
SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_figure_ids = count(1)


def registry_styles() -> dict[str, tuple[str, str]]:
    """Subject -> (colour, marker) of every registry entry that has one, in registry order."""
    entries: list[Serializer | Style | Transport] = [*SERIALIZERS.values(), *STYLES.values(),
                                                     *TRANSPORTS.values()]
    styles = {e.name: (e.color, e.marker) for e in entries if e.color and e.marker}
    return {**styles, **REFERENCE_STYLES}


def style_of(subject: str) -> tuple[str, str]:
    """The (colour, marker) of a serializer, fold style or reference; a stable one for others.

    >>> style_of("pickle-5"), style_of("loop")
    (('#08306b', 'o'), ('#000000', 's'))
    """
    known = registry_styles().get(subject)
    if known:
        return known
    index = zlib.crc32(subject.encode()) % (len(OKABE_ITO) * len(MARKERS))
    return OKABE_ITO[index % len(OKABE_ITO)], MARKERS[(index // len(OKABE_ITO)) % len(MARKERS)]


def in_registry_order(subjects: Sequence[str]) -> list[str]:
    """Distinct subjects, registry entries first in registry order, then the rest as given.

    >>> in_registry_order(["zz", "json", "pickle-0", "json"])
    ['pickle-0', 'json', 'zz']
    """
    rank = {name: index for index, name in enumerate(registry_styles())}
    distinct = list(dict.fromkeys(subjects))
    return sorted(distinct, key=lambda s: rank.get(s, len(rank)))


def spans_decades(values: Sequence[float] | pd.Series, limit: float = 20.0) -> bool:
    """True when positive values span more than `limit` times (then use a log axis)."""
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data) & (data > 0)]
    return len(data) > 1 and float(data.max() / data.min()) > limit


def styled(plot: Callable[..., str]) -> Callable[..., str]:
    """Run a plot function inside the report's matplotlib style (RC), leaving global rcParams."""

    @functools.wraps(plot)
    def wrapper(*args: object, **kwargs: object) -> str:
        with matplotlib.rc_context(RC):
            return plot(*args, **kwargs)

    return wrapper


def figure_svg(fig: Figure) -> str:
    """Render a figure as inline SVG text and close it."""
    try:
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
        return clean_svg(buffer.getvalue(), f"f{next(_figure_ids)}")
    finally:
        plt.close(fig)


def make_grid(n_panels: int, ncols: int, width: float, height: float) -> tuple[Figure, list[Axes]]:
    """A figure of n panels on a grid, unused cells hidden."""
    ncols = max(1, min(ncols, n_panels))
    nrows = math.ceil(n_panels / ncols)
    size = (max(width * ncols, MIN_WIDTH), max(height, MIN_PANEL_HEIGHT) * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=size,
                             layout="constrained", squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


def set_title(fig: Figure, text: str) -> None:
    """A figure title, wrapped to the figure's width so it is never cut off."""
    fig.suptitle(textwrap.fill(text, max(30, int(fig.get_figwidth() * 11))))


def add_legend(fig: Figure, subjects: Sequence[str], title: str) -> None:
    """One legend for the whole figure: each subject's colour and marker."""
    handles = [Line2D([], [], color=style_of(s)[0], marker=style_of(s)[1], linestyle="-",
                      label=s) for s in in_registry_order(subjects)]
    if handles:
        fig.legend(handles=handles, title=title, loc="outside lower center",
                   ncols=legend_columns(fig.get_figwidth(), [str(h.get_label()) for h in handles]),
                   frameon=False)


def legend_columns(width: float, labels: Sequence[str]) -> int:
    """How many legend columns fit a figure `width` inches wide (8 pt labels), at most 7.

    >>> legend_columns(5.0, ["reduce-operator"] * 8), legend_columns(10.0, ["a", "b"])
    (3, 2)
    """
    column = 0.55 + 0.065 * max((len(label) for label in labels), default=1)  # inches
    return max(1, min(len(labels), 7, int(width * 0.95 // column)))


def error_columns(rows: pd.DataFrame, value: str = "mean", scale: float = 1.0) -> np.ndarray:
    """[lower, upper] error-bar lengths from ci_low/ci_high (0 where unknown)."""
    centre = rows[value].to_numpy(float)
    low = np.nan_to_num(centre - rows["ci_low"].to_numpy(float), nan=0.0).clip(min=0)
    high = np.nan_to_num(rows["ci_high"].to_numpy(float) - centre, nan=0.0).clip(min=0)
    return np.vstack([low, high]) / scale


def draw_dots(ax: Axes, rows: pd.DataFrame, value: str, scale: float) -> None:
    """Horizontal dot plot with CI lines: one row per subject, in the order given.

    A row labelled other than its subject (e.g. "dill ints") names the subject whose colour
    it takes in an `identity` column.
    """
    y = np.arange(len(rows))
    subjects = [str(s) for s in rows["subject"]]
    identities = rows["identity"] if "identity" in rows else rows["subject"]
    styles = [style_of(str(s)) for s in identities]
    centre = rows[value].to_numpy(float) / scale
    errors = error_columns(rows, value, scale)
    ax.hlines(y, centre - errors[0], centre + errors[1], colors=[c for c, _ in styles],
              linewidth=1.5)
    for marker in dict.fromkeys(m for _, m in styles):
        index = [i for i, (_, m) in enumerate(styles) if m == marker]
        ax.scatter(centre[index], y[index], marker=marker, c=[styles[i][0] for i in index],
                   s=28, zorder=3)
    ax.set_yticks(y, subjects)
    ax.set_ylim(max(len(rows), 1) - 0.5, -0.5)  # a panel with no row: no identical limits
    set_scales(ax, rows[value], None, limit=20.0)


def format_tick(value: float, _position: object = None) -> str:
    """A log-axis tick without mathtext: a plain number from 0.001 to 99999, else a power of ten.

    >>> format_tick(1000.0), format_tick(0.01), format_tick(5.0), format_tick(20000.0)
    ('1000', '0.01', '5', '20000')
    >>> format_tick(1e6), format_tick(2e5), format_tick(1e-4)
    ('10⁶', '2×10⁵', '10⁻⁴')
    """
    if value <= 0 or not math.isfinite(value):
        return ""
    if 1e-3 <= value < 1e5:
        return f"{value:g}"
    exponent = math.floor(math.log10(value) + 1e-9)
    mantissa = f"{value / 10.0**exponent:.3g}"
    power = "10" + str(exponent).translate(SUPERSCRIPTS)
    return power if mantissa == "1" else f"{mantissa}×{power}"


def set_scales(ax: Axes, x: Sequence[float] | None = None, y: Sequence[float] | None = None,
               limit: float = 8.0) -> None:
    """Log scale on each axis whose data span more than `limit` times, linear otherwise."""
    if x is not None and spans_decades(x, limit):
        ax.set_xscale("log")
    if y is not None and spans_decades(y, limit):
        ax.set_yscale("log")
    quiet_minor_labels(ax)


def quiet_minor_labels(ax: Axes) -> None:
    """Log axes: plain tick labels (mathtext is off) and no minor ticks (clutter, SVG size)."""
    for axis, scale, limits in ((ax.xaxis, ax.get_xscale(), ax.get_xlim()),
                                (ax.yaxis, ax.get_yscale(), ax.get_ylim())):
        if scale == "log":
            low, high = sorted(limits)
            if low > 0 and high / low < 100:  # under two decades: 1-2-5 steps
                axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(format_tick))
    ax.minorticks_off()


@styled
def plot_serializer_shape(rows: pd.DataFrame, title: str,
                          ranks: dict[str, str] | None = None) -> str:
    """dumps time, loads time and payload size per serializer for one shape and size.

    rows: subject, op ("dumps"/"loads"), mean, ci_low, ci_high, payload_bytes; ranks: subject
    -> its rank as the tables write it ("1", "=1"), put before its name on the axes.
    """
    order = rows.groupby("subject", sort=False)["mean"].sum().sort_values().index.tolist()
    names = {s: f"{ranks[s]} {s}" if ranks and s in ranks else str(s) for s in order}
    scale, unit = choose_unit(rows["mean"])
    fig, axes = make_grid(3, 3, 3.3, 0.6 + 0.24 * len(order))
    for ax, op in zip(axes[:2], ["dumps", "loads"], strict=True):
        part = rows[rows["op"] == op].set_index("subject").reindex(order).reset_index()
        part = part.dropna(subset=["mean"])
        draw_dots(ax, part, "mean", scale)
        ax.set_yticks(np.arange(len(part)), [names[s] for s in part["subject"]])
        ax.set(title=f"{op} (mean, 95% CI)", xlabel=f"time per call ({unit})")
    sizes = rows.dropna(subset=["payload_bytes"]).drop_duplicates("subject")
    sizes = sizes.set_index("subject").reindex(order).dropna(subset=["payload_bytes"])
    byte_scale, byte_name = choose_unit(sizes["payload_bytes"].astype(float), "byte")
    axes[2].barh(np.arange(len(sizes)), sizes["payload_bytes"].astype(float) / byte_scale,
                 color=[style_of(str(s))[0] for s in sizes.index])
    axes[2].set_yticks(np.arange(len(sizes)), [names[s] for s in sizes.index])
    axes[2].set_ylim(max(len(sizes), 1) - 0.5, -0.5)
    axes[2].set(title="payload size", xlabel=f"payload ({byte_name})")
    set_title(fig, title)
    return figure_svg(fig)


def draw_front(ax: Axes, points: pd.DataFrame, scale: float) -> str:
    """Scatter payload vs round-trip time with its 95% CI, the Pareto front joined by a step line.

    Returns the payload unit used on the x axis.
    """
    byte_scale, byte_name = choose_unit(points["payload_bytes"], "byte")
    styles = [style_of(str(s)) for s in points["subject"]]
    x = points["payload_bytes"].to_numpy(float) / byte_scale
    y = points["time"].to_numpy(float) / scale
    edges = ["black" if front else "none" for front in points["front"]]
    low = np.nan_to_num(y - points["time_low"].to_numpy(float) / scale, nan=0.0).clip(min=0)
    high = np.nan_to_num(points["time_high"].to_numpy(float) / scale - y, nan=0.0).clip(min=0)
    ax.vlines(x, y - low, y + high, colors=[c for c, _ in styles], linewidth=1.2, zorder=2)
    for marker in dict.fromkeys(m for _, m in styles):
        index = [i for i, (_, m) in enumerate(styles) if m == marker]
        ax.scatter(x[index], y[index], marker=marker, c=[styles[i][0] for i in index],
                   edgecolors=[edges[i] for i in index], linewidths=1.2, s=36, zorder=3)
    front = np.flatnonzero(points["front"].to_numpy(bool))
    front = front[np.argsort(x[front])]
    ax.step(x[front], y[front], where="post", color="grey", linewidth=1, linestyle="--")
    for rank, i in enumerate(front):
        ax.annotate(str(points["subject"].iloc[i]), (x[i], y[i]), textcoords="offset points",
                    xytext=(5, 4 if rank % 2 == 0 else -10), fontsize=7)
    set_scales(ax, x, y)
    if ax.get_xscale() == "linear":
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # long payload ticks stay apart
    ax.margins(x=0.12, y=0.1)  # room for the labels of points at the edges
    return byte_name


@styled
def plot_pareto(points: pd.DataFrame) -> str:
    """Size-vs-speed scatter per shape with the Pareto front (smaller and faster is better).

    points: shape, size, subject, payload_bytes, time (dumps + loads), time_low, time_high
    (its 95% CI), front (bool).
    """
    shapes = list(dict.fromkeys(points["shape"]))
    scale, unit = choose_unit(points["time"])
    fig, axes = make_grid(len(shapes), 3, 3.2, 2.6)
    for ax, shape in zip(axes, shapes, strict=True):
        part = points[points["shape"] == shape]
        byte_name = draw_front(ax, part, scale)
        ax.set(title=f"{shape} (n={part['size'].iloc[0]})", xlabel=f"payload ({byte_name})",
               ylabel=f"dumps + loads ({unit})")
    add_legend(fig, list(dict.fromkeys(points["subject"])), "serializer")
    set_title(fig, "Size vs speed: black-edged points form the Pareto front (dashed); "
                   "bars: 95% CI of dumps + loads")
    return figure_svg(fig)


def draw_lines(ax: Axes, part: pd.DataFrame, scale: float) -> None:
    """One log-log line per subject (dashed for generator input); bold where k's 95% CI lies
    above the bar of bench.report.findings.growth_class (the `growth` column is "steep")."""
    bold_count = 0
    for (subject, kind), line in part.groupby(["subject", "kind"], sort=False):
        colour, marker = style_of(str(subject))
        line = line.sort_values("size")
        x, y = line["size"].to_numpy(float), line["mean"].to_numpy(float) / scale
        k = line["k"].iloc[0]
        bold = bool(line["growth"].iloc[0] == "steep")
        ax.plot(x, y, color=colour, marker=marker, markersize=4, linewidth=2.5 if bold else 1,
                linestyle="--" if kind == "generator" else "-")
        errors = error_columns(line, "mean", scale)
        ax.vlines(x, y - errors[0], y + errors[1], colors=colour, linewidth=1)
        if bold:  # one label under the other, so two steep lines' labels never overlap
            ax.annotate(f"{subject}: k={k:.2f}", (x[-1], y[-1]), fontsize=7, color=colour,
                        fontweight="bold", textcoords="offset points",
                        xytext=(-6, -2 - 9 * bold_count), ha="right", va="top")
            bold_count += 1
    ax.set_xscale("log")
    ax.set_yscale("log")
    quiet_minor_labels(ax)


@styled
def plot_scaling(lines: pd.DataFrame, title: str, legend_title: str) -> str:
    """Time vs size on log-log axes, one panel per `panel`, one line per subject.

    lines: panel, subject, kind, size, mean, ci_low, ci_high, k (fitted exponent), growth.
    """
    panels = list(dict.fromkeys(lines["panel"]))
    scale, unit = choose_unit(lines["mean"])
    fig, axes = make_grid(len(panels), 3, 3.2, 2.6)
    for ax, panel in zip(axes, panels, strict=True):
        draw_lines(ax, lines[lines["panel"] == panel], scale)
        ax.set(title=str(panel), xlabel="size n (items)", ylabel=f"time per call ({unit})")
    add_legend(fig, list(dict.fromkeys(lines["subject"])), legend_title)
    set_title(fig, title)
    return figure_svg(fig)


@styled
def plot_ratios(rows: pd.DataFrame, title: str, xlabel: str) -> str:
    """Ratio dot plots with CI bars, one panel per `panel`, a reference line at 1.

    rows: panel, subject, ratio, ci_low, ci_high (and identity: the subject whose colour a
    row takes, when its label is not a subject).
    """
    panels = list(dict.fromkeys(rows["panel"]))
    longest = int(rows["subject"].astype(str).str.len().max())  # long labels keep the axes wide
    fig, axes = make_grid(len(panels), 3, 3.2 + 0.07 * max(0, longest - 14),
                          0.8 + 0.22 * rows.groupby("panel").size().max())
    for ax, panel in zip(axes, panels, strict=True):
        part = rows[rows["panel"] == panel].sort_values("ratio")
        draw_dots(ax, part, "ratio", 1.0)
        set_scales(ax, [*part["ratio"], *part["ci_low"], *part["ci_high"], 1.0])
        ax.axvline(1.0, color="grey", linewidth=1)
        ax.set(title=str(panel), xlabel=xlabel)
    set_title(fig, title)
    return figure_svg(fig)


@styled
def plot_run_ratios(rows: pd.DataFrame, base: str) -> str:
    """Per other run: every common case's time ratio to the base run, sorted, with its CI band.

    rows: run, ratio, ci_low, ci_high.
    """
    runs = list(dict.fromkeys(rows["run"]))
    fig, axes = make_grid(len(runs), 2, 4.6, 2.8)
    for ax, run in zip(axes, runs, strict=True):
        part = rows[rows["run"] == run].sort_values("ratio")
        x = np.arange(1, len(part) + 1)
        ax.fill_between(x, part["ci_low"].fillna(part["ratio"]),
                        part["ci_high"].fillna(part["ratio"]), color=OKABE_ITO[5], alpha=0.5,
                        label="95% CI", linewidth=0)
        ax.plot(x, part["ratio"], color=OKABE_ITO[0], label="ratio")
        ax.axhline(1.0, color="grey", linewidth=1)
        set_scales(ax, None, [*part["ci_low"], *part["ci_high"], 1.0], limit=4.0)
        ax.set(title=f"{run} / {base}", xlabel="cases, sorted by ratio",
               ylabel=f"time ratio ({run} / {base})")
        ax.legend(loc="upper left")
    set_title(fig, "Runs side by side: below 1 means faster than the base run")
    return figure_svg(fig)


@styled
def plot_time_against_count(pairs: pd.DataFrame) -> str:
    """Per suite: each case's mean time against its instructions per call, log-log.

    pairs: suite, subject, time (seconds), count (instructions).
    """
    suites = list(dict.fromkeys(pairs["suite"]))
    fig, axes = make_grid(len(suites), 2, 5.0, 3.2)  # wide enough for a 7-column legend
    for ax, suite in zip(axes, suites, strict=True):
        part = pairs[pairs["suite"] == suite]
        scale, unit = choose_unit(part["time"])
        for subject, group in part.groupby("subject", sort=False):
            color, marker = style_of(str(subject))
            ax.scatter(group["count"], group["time"] / scale, color=color, marker=marker, s=14)
        ax.set_xscale("log")
        ax.set_yscale("log")
        quiet_minor_labels(ax)
        ax.set(title=str(suite), xlabel="instructions per call", ylabel=f"time ({unit})")
    add_legend(fig, list(dict.fromkeys(pairs["subject"])), "subject")
    set_title(fig, "Time against instructions: cases off the diagonal band spend time that "
                   "instructions do not show")
    return figure_svg(fig)


@styled
def plot_ship_lines(lines: pd.DataFrame, title: str, xlabel: str, ylabel: str,
                    reference: float | None = None) -> str:
    """One panel per `panel`, one line per subject x dashed; log x (log y unless a reference).

    lines: panel, subject, dashed (bool), x, y, low, high. `reference` draws a horizontal line
    (e.g. 1.0 for a speed-up) and keeps y linear.
    """
    panels = list(dict.fromkeys(lines["panel"]))
    fig, axes = make_grid(len(panels), 3, 3.2, 2.6)
    for ax, panel in zip(axes, panels, strict=True):
        part = lines[lines["panel"] == panel]
        for (subject, dashed), line in part.groupby(["subject", "dashed"], sort=False):
            colour, marker = style_of(str(subject))
            line = line.sort_values("x")
            x, y = line["x"].to_numpy(float), line["y"].to_numpy(float)
            ax.plot(x, y, color=colour, marker=marker, markersize=4, linewidth=1,
                    linestyle="--" if dashed else "-")
            ax.vlines(x, line["low"].to_numpy(float), line["high"].to_numpy(float), colors=colour,
                      linewidth=1)
        ax.set_xscale("log")
        if reference is None:
            ax.set_yscale("log")
        else:
            ax.axhline(reference, color="grey", linewidth=1)
        quiet_minor_labels(ax)
        ax.set(title=str(panel), xlabel=xlabel, ylabel=ylabel)
    add_legend(fig, list(dict.fromkeys(lines["subject"])), "transport")
    set_title(fig, title)
    return figure_svg(fig)


@styled
def plot_history(panels: Sequence[dict[str, Any]], title: str) -> str:
    """Small trend lines, one panel per changed case: its per-run medians, each step marked.

    panels: {"case", "values" (None where a run lacks the case), "unit", "steps": [(index,
    label, ratio)]}.
    """
    fig, axes = make_grid(len(panels), 3, 2.6, 1.7)
    for ax, panel in zip(axes, panels, strict=True):
        runs = [i for i, v in enumerate(panel["values"]) if v is not None]
        values = [float(panel["values"][i]) for i in runs]
        scale, unit = choose_unit(values, panel["unit"])
        ax.plot(runs, [v / scale for v in values], color=OKABE_ITO[0], marker="o", markersize=2.5,
                linewidth=1)
        for index, label, ratio in panel["steps"]:
            ax.axvline(index - 0.5, color=OKABE_ITO[3] if ratio > 1 else OKABE_ITO[2],
                       linestyle="--", linewidth=1)
            ax.annotate(f"{label} {ratio:.2f}x", (index - 0.5, 1.0), xycoords=("data", "axes fraction"),
                        fontsize=7, ha="right", va="top", rotation=90)
        ax.set(title=textwrap.shorten(panel["case"], 40), xlabel="run", ylabel=unit)
    set_title(fig, title)
    return figure_svg(fig)
