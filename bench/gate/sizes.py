"""Payload size and peak memory in the gate: per case, whether head's sizes differ from base's.

Every serializer case records `payload_bytes` (the bytes of one dumps) and every timed case
`peak_alloc_bytes` (tracemalloc's peak over one call), measured once per run by the first
worker of the case. They are near-deterministic: there is no distribution of processes to test,
so the rule is a tolerance, not a t-test (bench.gate.rule is for times and counts). Pure: tidy
frames (bench.frame) in, a `SizeComparison` out.

The rule
--------
Per case and size, a side's values are its processes' (one per run in practice); a side's
value is the median over its runs. The change head - base spans [min(head) - max(base),
max(head) - min(base)]; the tolerance is max(`relative` x the base value, `floor` bytes):

* `larger` when the whole span lies above the tolerance, `smaller` when it lies below minus the
  tolerance, `same` when it lies inside [-tolerance, tolerance], otherwise `uncertain` (the
  runs of a side disagree by more than the tolerance); `missing` / `new` when a case of both
  sides recorded the size on one side only (a case of one side only is the time verdicts'
  missing or new, and has no size verdict).
* payload: tolerance 0: a payload is a function of the code and the input, so one byte more is
  a change (a format change, however small, is what a payload gate is for).
* memory: 10% or 4 kB, whichever is more: a fresh process's peak moves by up to ~5% and 8 kB
  in a few cases (caches, freelists), rarely by more (docs/measurements.md); several base runs
  (--base, repeatable) show such a case as uncertain rather than changed.

`--fail-on` chooses which verdicts fail the job (exit 1): `slower` (the default: a slower case
of the runs' own metric, time or instructions), `time`, `instructions`, `payload` and
`memory` (a `larger` case), comma-separated; `never` fails nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.errors import InputError
from bench.gate.rule import Comparison, is_count
from bench.metric import INSTRUCTIONS, METRICS, Metric
from bench.text import SIZE_VERDICTS


@dataclass(frozen=True)
class Size:
    """One size the gate judges: where it is recorded and how much change it tolerates."""

    name: str        # on the command line (--fail-on) and in every output
    column: str      # its column in the tidy frame (bench.frame) and pyperf metadata key
    relative: float  # a change within this share of the base value is `same` ...
    floor: int       # ... and so is one within this many bytes
    noun: str        # what it is, in words

    def tolerance(self, base: float) -> float:
        """Bytes a change may move and still be `same`.

        >>> MEMORY.tolerance(1e6), MEMORY.tolerance(1000), PAYLOAD.tolerance(1e6)
        (100000.0, 4000, 0.0)
        """
        return max(self.relative * base, self.floor)

    def describe(self) -> str:
        """The tolerance in words.

        >>> PAYLOAD.describe(), MEMORY.describe()
        ('exact (any byte)', 'within 10% or 4.00 kB')
        """
        from bench.text import format_quantity

        if not self.relative and not self.floor:
            return "exact (any byte)"
        return f"within {self.relative:.0%} or {format_quantity(self.floor, 'byte')}"


PAYLOAD = Size("payload", "payload_bytes", 0.0, 0, "bytes of one dumps")
MEMORY = Size("memory", "peak_alloc_bytes", 0.10, 4000, "peak bytes allocated by one call")
SIZES: dict[str, Size] = {size.name: size for size in (PAYLOAD, MEMORY)}
OWN_METRIC = "slower"  # --fail-on's default: a slower case of the runs' own metric
NEVER = "never"
FAIL_ON_NAMES = (OWN_METRIC, *METRICS, *SIZES, NEVER)
SIZE_COLUMNS = ["benchmark", "size", "verdict", "ratio", "ratio_low", "ratio_high", "base",
                "head", "change_low", "change_high", "tolerance", "n_base", "n_head", "reason"]


@dataclass(frozen=True)
class SizeComparison:
    """Size verdicts of head against base: one row per case and size, changed first."""

    cases: pd.DataFrame

    def counts(self, size: str) -> dict[str, int]:
        """Number of cases per verdict of one size, every verdict present."""
        found = self.cases.loc[self.cases["size"] == size, "verdict"].value_counts()
        return {v: int(found.get(v, 0)) for v in SIZE_VERDICTS}

    def recorded(self) -> list[str]:
        """The sizes with at least one case, in SIZES order."""
        return [name for name in SIZES if (self.cases["size"] == name).any()]


# ---------------------------------------------------------------- the rule

def classify_sizes(low: np.ndarray, high: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """Verdict per case from the span [low, high] of its change in bytes (see the docstring).

    >>> classify_sizes(np.array([5, 0, -3, -1, -9]), np.array([5, 0, -3, 2, 9]),
    ...                np.array([0, 0, 0, 4, 4])).tolist()
    ['larger', 'same', 'smaller', 'same', 'uncertain']
    """
    return np.select([low > tolerance, high < -tolerance, (low >= -tolerance) & (high <= tolerance)],
                     ["larger", "smaller", "same"], "uncertain")


def side_values(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per case: the lowest and highest value of its processes, the median of its runs' values
    and the number of runs that recorded it (cases without the size left out)."""
    if column not in frame:
        return pd.DataFrame(columns=["low", "high", "value", "runs"])
    per_process = frame.groupby(["benchmark", "run", "process"], sort=False)[column].first()
    per_process = per_process.dropna().astype(float).reset_index()
    per_run = per_process.groupby(["benchmark", "run"], sort=False)[column].median().reset_index()
    out = per_process.groupby("benchmark", sort=False)[column].agg(low="min", high="max")
    runs = per_run.groupby("benchmark", sort=False)[column].agg(value="median", runs="count")
    return out.join(runs)


def judge_size(base: pd.DataFrame, head: pd.DataFrame, size: Size) -> pd.DataFrame:
    """The rows of one size: every case of both sides that recorded it on either side."""
    b, h = side_values(base, size.column), side_values(head, size.column)
    both = b.merge(h, how="inner", left_index=True, right_index=True, suffixes=("_b", "_h"))
    low = (both["low_h"] - both["high_b"]).to_numpy(float)
    high = (both["high_h"] - both["low_b"]).to_numpy(float)
    tolerance = np.array([size.tolerance(v) for v in both["value_b"]], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rows = pd.DataFrame({
            "benchmark": both.index, "size": size.name,
            "verdict": classify_sizes(low, high, tolerance),
            "ratio": (both["value_h"] / both["value_b"]).to_numpy(float),
            "ratio_low": (both["low_h"] / both["high_b"]).to_numpy(float),
            "ratio_high": (both["high_h"] / both["low_b"]).to_numpy(float),
            "base": both["value_b"].to_numpy(float), "head": both["value_h"].to_numpy(float),
            "change_low": low, "change_high": high, "tolerance": tolerance,
            "n_base": both["runs_b"].to_numpy(int), "n_head": both["runs_h"].to_numpy(int)})
    rows["reason"] = np.where(rows["verdict"] == "uncertain",
                              "the runs of a side differ by more than the tolerance", "")
    common = pd.Index(base["benchmark"].unique()).intersection(head["benchmark"].unique())
    one_sided = [pd.DataFrame({"benchmark": only.index, "size": size.name, "verdict": verdict,
                               column: only["value"].to_numpy(float),
                               count: only["runs"].to_numpy(int), "reason": reason})
                 for only, verdict, column, count, reason in (
                     (b.loc[b.index.difference(h.index).intersection(common)], "missing", "base",
                      "n_base", "recorded in base only"),
                     (h.loc[h.index.difference(b.index).intersection(common)], "new", "head",
                      "n_head", "recorded in head only"))
                 if len(only)]
    return pd.concat([rows, *one_sided], ignore_index=True) if one_sided else rows


def compare_sizes(base: pd.DataFrame, head: pd.DataFrame) -> SizeComparison:
    """Payload and memory verdicts of head against base (tidy frames of one or more runs each).

    Rows: changed first (larger, smaller, uncertain, missing, new, then same), the largest
    change first within a verdict, then by name.
    """
    parts = [judge_size(base, head, size) for size in SIZES.values()]
    parts = [part for part in parts if len(part)]
    if not parts:
        return SizeComparison(pd.DataFrame(columns=SIZE_COLUMNS))
    cases = pd.concat(parts, ignore_index=True)[SIZE_COLUMNS]
    order = {v: i for i, v in enumerate(["larger", "smaller", "uncertain", "missing", "new",
                                         "same"])}
    keyed = cases.assign(_verdict=cases["verdict"].map(order),
                         _move=-(cases["ratio"].fillna(1.0).map(lambda r: abs(math.log(r))
                                                                if r > 0 else math.inf)))
    keyed = keyed.sort_values(["_verdict", "_move", "benchmark", "size"], kind="mergesort")
    out = keyed.drop(columns=["_verdict", "_move"]).reset_index(drop=True)
    for column in ("n_base", "n_head"):
        out[column] = pd.to_numeric(out[column]).fillna(0).astype(int)
    return SizeComparison(out)


# ---------------------------------------------------------------- --fail-on

def parse_fail_on(text: str) -> tuple[str, ...]:
    """--fail-on's names, comma-separated, each once; () for `never`. ValueError names a bad one.

    >>> parse_fail_on("slower"), parse_fail_on("time, payload"), parse_fail_on("never")
    (('slower',), ('time', 'payload'), ())
    """
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",")))
    unknown = [name for name in names if name not in FAIL_ON_NAMES]
    if unknown or not names:
        raise ValueError(f"{unknown[0] if unknown else text!r}: give a comma-separated list of "
                         f"{', '.join(FAIL_ON_NAMES)}")
    if NEVER in names and len(names) > 1:
        raise ValueError(f"{text!r}: {NEVER} goes alone")
    return () if names == (NEVER,) else names


def check_fail_on(fail_on: Iterable[str], metric: Metric) -> None:
    """InputError when --fail-on names only another metric than the runs', or memory for
    instruction counts (which record no peak memory)."""
    names = set(fail_on)
    speeds = sorted(names & set(METRICS))
    if speeds and metric.name not in speeds:
        raise InputError(f"--fail-on {','.join(speeds)}: these runs measure {metric.noun}; "
                         f"name {metric.name} (or {OWN_METRIC}) to fail on them")
    if MEMORY.name in names and metric is INSTRUCTIONS:
        raise InputError(f"--fail-on {MEMORY.name}: instruction counts record no peak memory; "
                         "run with --metric time to gate it")


def failing(cmp: Comparison, sizes: SizeComparison, fail_on: Iterable[str]) -> list[str]:
    """What fails the job: 'time: 2 slower', 'payload: 1 larger', ... (empty: nothing).

    The runs' own metric counts when fail_on names it or `slower`; a size when fail_on names it.
    """
    names = set(fail_on)
    found = []
    metric = INSTRUCTIONS if is_count(cmp) else METRICS["time"]
    slower = cmp.counts()["slower"]
    if slower and names & {OWN_METRIC, metric.name}:
        found.append(f"{metric.name}: {slower} slower")
    for size in SIZES.values():
        larger = sizes.counts(size.name)["larger"]
        if larger and size.name in names:
            found.append(f"{size.name}: {larger} larger")
    return found
