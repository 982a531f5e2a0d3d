"""The ship section: "send code, not data" and "scale out or scale up", answered from the ship suite.

Computed from one run's `ship/...` cases (the first run that has them): each transport's
fixed cost (the empty task's round trip), shipped code against shipped data per size with
the ratio's 95% CI and the size from which code wins, and the same stencil work on one
worker against two, coupled and independent, with the speed-up, the share of time not
spent computing, and the grid from which the second worker pays.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.report import plots
from bench.report.blocks import (
    Bullets,
    Heading,
    Section,
    Text,
    make_figure,
    make_table,
    mark_noise,
    missing,
)
from bench.report.findings import ReportData, ratio_between
from bench.subjects.ship import TRANSPORTS
from bench.text import format_factor, format_interval, format_percent, format_quantity, format_ratio

COUPLINGS = {"independent": "independent tiles", "stencil": "coupled stencil (edge rows swapped every step)"}


def ship_rows(data: ReportData) -> pd.DataFrame:
    """The time summaries of the first run's ship cases."""
    return data.cases("ship")


def row_of(rows: pd.DataFrame, subject: str, op: str, size: int) -> Any:
    """The one summary row of a case, or None."""
    found = rows[(rows["subject"] == subject) & (rows["op"] == op) & (rows["size"] == size)]
    return None if found.empty else found.iloc[0]


def code_against_data(data: ReportData, rows: pd.DataFrame) -> pd.DataFrame:
    """Per transport and size: data and code times, bytes sent, and code/data with its CI."""
    out = []
    for (subject, size), _ in rows[rows["op"] == "code"].groupby(["subject", "size"], sort=False):
        code, sent = row_of(rows, subject, "code", size), row_of(rows, subject, "data", size)
        if sent is None:
            continue
        ratio = ratio_between(data, code, sent)
        out.append({"subject": subject, "size": int(size), "data": sent, "code": code,
                    "ratio": ratio.value, "low": ratio.low, "high": ratio.high})
    return pd.DataFrame(out, columns=["subject", "size", "data", "code", "ratio", "low", "high"])


def first_size(pairs: pd.DataFrame, column: str, below: bool) -> dict[str, int]:
    """Per subject, the smallest size whose CI bound in `column` is below (or above) 1."""
    won = pairs[pairs[column] < 1] if below else pairs[pairs[column] > 1]
    return {str(s): int(part["size"].min()) for s, part in won.groupby("subject", sort=False)}


def scale_pairs(data: ReportData, rows: pd.DataFrame) -> pd.DataFrame:
    """Per coupling and grid side: one-worker and two-worker times, speed-up x1/x2, comm share."""
    out = []
    for coupling in COUPLINGS:
        for size in sorted(set(rows.loc[rows["op"] == f"{coupling}-x2", "size"])):
            one, two = (row_of(rows, "pipes", f"{coupling}-x{w}", size) for w in (1, 2))
            if one is None or two is None:
                continue
            speedup = ratio_between(data, one, two)
            out.append({"subject": coupling, "size": int(size), "one": one, "two": two,
                        "ratio": speedup.value, "low": speedup.low, "high": speedup.high,
                        "comm_share": two["comm_share"], "comm_share_one": one["comm_share"]})
    return pd.DataFrame(out, columns=["subject", "size", "one", "two", "ratio", "low", "high",
                                      "comm_share", "comm_share_one"])


def time_cells(row: Any) -> list[Any]:
    """[mean, 95% CI] of a case's summary row, the mean marked when the case is noisy."""
    return [mark_noise(format_quantity(row["mean"], "second"), row.get("noise", "")),
            format_interval(row["ci_low"], row["ci_high"], "second")]


def fixed_cost_table(rows: pd.DataFrame) -> Any:
    """Each transport's empty round trip: the part of every call that no payload explains."""
    empty = rows[rows["op"] == "empty"]
    if empty.empty:
        return missing("No empty-task case in this run: the fixed costs are not measured.")
    lines = ([r.subject, *time_cells(r._asdict()),
              format_quantity(r.payload_bytes, "byte"), TRANSPORTS[r.subject].note
              if r.subject in TRANSPORTS else ""] for r in empty.itertuples())
    return make_table(["transport", "empty round trip", "95% CI", "bytes sent", "what"], lines,
                      "Fixed cost per call (subtract it to read the payload-dependent part)")


def code_blocks(pairs: pd.DataFrame, failures: pd.DataFrame | None) -> list[Any]:
    """The send-code-not-data answer: a table, the crossover figure and the failed transports."""
    blocks: list[Any] = [Heading("Send code, not data?")]
    failed = [] if failures is None else [
        f"{r.benchmark}: {r.reason}" for r in failures.itertuples()
        if str(r.benchmark).startswith("ship/") and "/code/" in str(r.benchmark)]
    if pairs.empty:
        return [*blocks, missing("No transport has both data and code cases in this run."),
                *([Bullets(failed)] if failed else [])]
    wins = first_size(pairs, "high", below=True)
    lines = [f"{s}: shipping the builder is faster from n = {wins[s]:,} items" if s in wins else
             f"{s}: shipping the data is never slower at the sizes measured"
             for s in dict.fromkeys(pairs["subject"])]
    blocks += [Text("Code is a lambda that builds n ints on the other side; data is the n ints, "
                    "with a known function. Ratio = time(code) / time(data), 95% CI."),
               Bullets(lines)]
    if failed:
        blocks += [Text("These transports could not ship the code at all:", "warning"), Bullets(failed)]
    table = ([p.subject, f"{p.size:,}", *time_cells(p.data), *time_cells(p.code),
              format_quantity(p.data["payload_bytes"], "byte"),
              format_quantity(p.code["payload_bytes"], "byte"), format_ratio(p.ratio),
              format_interval(p.low, p.high)] for p in pairs.itertuples())
    blocks.append(make_table(["transport", "n", "data", "95% CI", "code", "95% CI", "data sent",
                              "code sent", "code vs data", "95% CI"], table))
    lines_frame = pd.DataFrame([{"panel": p.subject, "subject": p.subject, "dashed": dashed,
                                 "x": p.size, "y": row["mean"], "low": row["ci_low"],
                                 "high": row["ci_high"]}
                                for p in pairs.itertuples()
                                for dashed, row in ((False, p.data), (True, p.code))])
    blocks.append(make_figure(plots.plot_ship_lines(
        lines_frame, "Data (solid) or code (dashed): time per round trip", "n items",
        "seconds per call"), "Where the dashed line drops below the solid one, shipping code wins."))
    return blocks


def scale_blocks(pairs: pd.DataFrame) -> list[Any]:
    """The scale-out-or-up answer: speed-up of a second worker and the communication share."""
    blocks: list[Any] = [Heading("Scale out or scale up?")]
    if pairs.empty:
        return [*blocks, missing("No one-worker and two-worker pair of pipes cases in this run.")]
    pays = first_size(pairs, "low", below=False)
    lines = [f"{COUPLINGS[s]}: a second worker pays from a {pays[s]:,} x {pays[s]:,} grid" if s in pays
             else f"{COUPLINGS[s]}: a second worker never paid at the grids measured"
             for s in dict.fromkeys(pairs["subject"])]
    blocks += [Text("The same Jacobi sweep (two tiles, fixed steps) on one worker process and on "
                    "two; speed-up = time(1 worker) / time(2 workers), 95% CI. Communication "
                    "share: the part of the two-worker time not spent computing on the slowest "
                    "worker (messages, edge-row swaps, waiting)."), Bullets(lines)]
    table = ([COUPLINGS[p.subject], f"{p.size:,}", *time_cells(p.one), *time_cells(p.two),
              format_factor(p.ratio), format_interval(p.low, p.high), format_percent(p.comm_share)]
             for p in pairs.itertuples())
    blocks.append(make_table(["work", "grid side", "1 worker", "95% CI", "2 workers", "95% CI",
                              "speed-up", "95% CI", "communication share"], table))
    lines_frame = pd.DataFrame([{"panel": "speed-up of a second worker", "subject": "pipes",
                                 "dashed": p.subject == "stencil", "x": p.size, "y": p.ratio,
                                 "low": p.low, "high": p.high} for p in pairs.itertuples()])
    blocks.append(make_figure(plots.plot_ship_lines(
        lines_frame, "Independent (solid) or coupled (dashed) tiles: 1 worker / 2 workers",
        "grid side", "speed-up", reference=1.0), "Above the grey line the second worker pays."))
    return blocks


def ship_section(data: ReportData) -> Section:
    """The section answering "send code, not data" and "scale out or scale up"."""
    rows = ship_rows(data)
    title = "Ship code or data; scale out or up"
    if rows.empty:
        return Section("ship", title, [missing("Not measured in this run: no ship cases "
                                               "(bench run --profile ship).")])
    run = rows["run"].iloc[0]
    return Section("ship", title, [
        Text(f"Run {run}. Every answer was checked on the sending side before it was timed; "
             "loopback is not a network: point the dask cases at a real cluster with "
             "bench run --scheduler ADDRESS."),
        fixed_cost_table(rows), *code_blocks(code_against_data(data, rows), data.failures),
        *scale_blocks(scale_pairs(data, rows))])
