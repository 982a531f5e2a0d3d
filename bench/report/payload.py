"""The answer for the user's payload (`bench run --data`): the page's first section when a run has
the user's data.

Per data shape: each serializer's round trip (dumps + loads, fastest first) with its 95% CI,
its payload size and peak memory, whether it gives the object back exactly (or the first
difference), the serializers that could not encode it (and why), and the size-vs-speed
figure with its Pareto front (bench.report.pareto).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.report import plots
from bench.report.blocks import Bullets, Heading, Section, Text, make_figure, make_table
from bench.report.findings import Findings, ReportData
from bench.report.pareto import pareto_points
from bench.text import MISSING, format_interval, format_quantity


def round_trip_labels(frame: pd.DataFrame) -> pd.Series:
    """(shape, subject) -> "exact" or "lossy: FIRST DIFFERENCE", for the user's data shapes
    (the cases whose workers recorded `bench_roundtrip`)."""
    if "roundtrip" not in frame.columns:
        return pd.Series(dtype=object)
    labelled = frame.dropna(subset=["roundtrip"])
    return labelled.groupby(["shape", "subject"], sort=False)["roundtrip"].first()


def failed_serializers(data: ReportData, shape: str) -> dict[str, str]:
    """{serializer: reason} of the cases on `shape` that could not be measured, once each."""
    failures = data.failures
    if failures is None or failures.empty:
        return {}
    out: dict[str, str] = {}
    for name, reason in zip(failures["benchmark"], failures["reason"], strict=True):
        parts = str(name).split("/")
        if len(parts) == 5 and parts[0] == "ser" and parts[3] == shape:
            out.setdefault(parts[1], str(reason).removeprefix("check failed: "))
    return out


def answer_points(rows: pd.DataFrame, labels: pd.Series, shape: str) -> pd.DataFrame:
    """Per serializer of one shape and size, fastest round trip first: its round trip and CI,
    payload bytes, Pareto-front membership (bench.report.pareto), peak memory and label."""
    points = pareto_points(rows)
    if points.empty:
        return points
    points = points.sort_values("time", kind="stable").reset_index(drop=True)
    peaks = (rows.groupby("subject")["peak_alloc_bytes"].max() if "peak_alloc_bytes" in rows.columns
             else pd.Series(dtype=float))
    points["peak"] = [peaks.get(subject) for subject in points["subject"]]
    points["label"] = [labels.get((shape, subject), MISSING) for subject in points["subject"]]
    return points


def shape_answer(data: ReportData, rows: pd.DataFrame, labels: pd.Series, shape: str,
                 size: Any) -> list[Any]:
    """The blocks of one data shape: the answer in words, the table, the figure, and who
    could not encode it."""
    points = answer_points(rows, labels, shape)
    blocks: list[Any] = [Heading(f"{shape} (n={size})")]
    if not points.empty:
        first, smallest = points.iloc[0], points.loc[points["payload_bytes"].idxmin()]
        least = format_quantity(smallest["payload_bytes"], "byte")
        lossy = [str(p["subject"]) for _, p in points.iterrows() if str(p["label"]).startswith("lossy")]
        blocks.append(Text(
            f"Fastest round trip: {first['subject']} ({format_quantity(first['time'], 'second')}); "
            f"smallest payload: {smallest['subject']} ({least}). "
            f"On the Pareto front (nothing both smaller and faster): "
            f"{', '.join(points.loc[points['front'], 'subject'])}."
            + (f" Lossy (the object comes back different): {', '.join(lossy)}." if lossy
               else " Every timed serializer gives the object back exactly.")))
        body = [[p["subject"], format_quantity(p["time"], "second"),
                 format_interval(max(p["time_low"], 0.0), p["time_high"], "second"),  # a time is > 0
                 format_quantity(p["payload_bytes"], "byte"), format_quantity(p["peak"], "byte"),
                 p["label"], "yes" if p["front"] else ""] for _, p in points.iterrows()]
        blocks.append(make_table(["serializer", "round trip (dumps + loads)", "95% CI", "payload",
                                  "peak memory", "round trip gives back", "Pareto front"], body,
                                 collapsible=False))
        blocks.append(make_figure(plots.plot_pareto(points),
                                  f"{shape}: payload size against round-trip time (dumps + loads "
                                  "means); no serializer is both smaller and faster than a point "
                                  "on the front."))
    failed = failed_serializers(data, shape)
    if failed:
        blocks += [Text(f"Could not be measured on {shape} ({len(failed)}):"),
                   Bullets([f"{name}: {reason}" for name, reason in failed.items()])]
    return blocks


def payload_sections(data: ReportData, found: Findings) -> list[Section]:
    """The answer for the user's payload, or nothing when the run has no `--data` shape."""
    labels = round_trip_labels(data.frame)
    shapes = list(dict.fromkeys(shape for shape, _ in labels.index))
    failed_only = [] if data.failures is None or data.failures.empty else [
        str(n).split("/")[3] for n in data.failures["benchmark"]
        if str(n).startswith("ser/") and str(n).count("/") == 4 and str(n).split("/")[3].startswith("data-")]
    shapes += [s for s in dict.fromkeys(failed_only) if s not in shapes]
    if not shapes:
        return []
    section = Section("payload", "Your payload")  # a short title: the page's navigation bar is full
    section.blocks.append(Text("The answer for your payload: each serializer on your data (--data), "
                               "fastest round trip first: "
                               "the mean of dumps plus loads with its 95% CI, the payload's bytes, "
                               "the peak memory of one call, and whether loads gives back exactly "
                               "the object dumps was given (else the first difference)."))
    rows = found.ser_ops
    for shape in shapes:
        mine = rows[rows["shape"] == shape]
        sizes = list(dict.fromkeys(mine["size"])) or [MISSING]
        for size in sizes:
            section.blocks += shape_answer(data, mine[mine["size"] == size] if len(mine) else mine,
                                           labels, shape, size)
    return [section]
