"""The claims the report puts to the data, each with the answer the findings give.

Every answer is computed from findings data (frames and the capability matrix), never
from the text of another answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from bench.capability_kinds import KINDS
from bench.report.blocks import Bullets, Heading, Section, Text, describe_ratio, missing
from bench.report.findings import SUPERLINEAR, Findings, ReportData, is_reduce_style, pickle_baseline
from bench.report.matrix import capability_table, describe_mapping
from bench.report.sections import NOT_MEASURED, call_of
from bench.serializers import SERIALIZERS
from bench.text import format_factor, format_interval, format_quantity

CODE_KIND = next(k.name for k in KINDS if k.sends == "code")
DATA_KIND = next(k.name for k in KINDS if k.sends == "data")
FUNCTION_KINDS = tuple(k.name for k in KINDS if k.is_function)


def general_picklers() -> list[str]:
    """The serializers that ship code by value (the registry's `general` entries)."""
    return [name for name, entry in SERIALIZERS.items() if entry.general]


def ratio_of(row: Any) -> str:
    """The time ratio of a ratios row with its CI, in the shared words."""
    return describe_ratio(row["ratio"], row["ratio_low"], row["ratio_high"])


# ---------------------------------------------------------------- folds

def reduce_line(answer: Any) -> str:
    """One line answering "is reduce faster here?" for one task (a Findings.reduce row)."""
    where = f"{answer['task']} ({answer['shape']} of {answer['size']})"
    if answer["verdict"] is None:
        return f"{where}: not measured in this run (needs a reduce style and another style)."
    reduce_call = call_of(answer["reduce"], answer["task"])
    other_call = call_of(answer["other"], answer["task"])
    versus = f"{reduce_call} against {other_call}: {ratio_of(answer)}"
    words = {"reduce": f"yes: {reduce_call} is faster; {versus}",
             "other": f"no: {other_call} is faster; {versus}"}
    if answer["winner"] in words:
        return f"{where}: {words[answer['winner']]}."
    if answer["verdict"] == "same":
        return f"{where}: the same (within the threshold): {versus}."
    return f"{where}: no clear difference: {versus} (uncertain)."


def fold_answers(found: Findings) -> list[str]:
    """The "is reduce faster here?" line of every task."""
    return [reduce_line(answer) for _, answer in found.reduce.iterrows()]


def growth_line(row: Any) -> str:
    """'reduce(lambda) over concat (list) grows as n^1.98 (95% CI [1.95, 2.01])'."""
    ci = "" if pd.isna(row["low"]) else f" (95% CI {format_interval(row['low'], row['high'])})"
    return f"{call_of(row['subject'], row['op'])} over {row['op']} ({row['shape']}) grows as " \
           f"n^{row['k']:.2f}{ci}"


def answer_reduce_claim(data: ReportData, found: Findings) -> list[Any]:
    """"Use reduce whenever speed is required": per task answers and steep reduce folds."""
    if found.reduce.empty:
        return [missing(f"{NOT_MEASURED}: no fold cases with a loop reference.")]
    wins = int((found.reduce["winner"] == "reduce").sum())
    exps = found.exponents
    steep = exps[(exps["run"] == data.run_of("fold")) & exps["subject"].map(is_reduce_style)
                 & (exps["k"] > SUPERLINEAR)]
    growth = [growth_line(r) for _, r in steep.iterrows()]
    lead = (f"A reduce style was clearly the fastest in {wins} of {len(found.reduce)} tasks "
            "measured." + (f" {len(growth)} reduce folds are superlinear (quadratic):"
                           if growth else ""))
    return [Text(lead), Bullets(growth), Bullets(fold_answers(found))]


def answer_toolz_claim(found: Findings) -> list[Any]:
    """toolz/cytoolz idiomatic calls against the loop and the builtin, per task."""
    rows = found.headline
    libs = rows[rows["subject"].isin(["toolz", "cytoolz"])] if not rows.empty else rows
    if libs.empty:
        return [missing(f"{NOT_MEASURED}: no toolz or cytoolz fold case with a plain-loop "
                        "reference at the same task, input and size.")]
    lines = []
    for task, group in rows[rows["op"].isin(libs["op"])].groupby("op", sort=False):
        parts = [f"{call_of(r['subject'], task)} {ratio_of(r)}" for _, r in group.iterrows()
                 if r["subject"] in ("toolz", "cytoolz", "builtin")]
        lines.append(f"{task} (n={group['size'].iloc[0]}), time / loop: " + "; ".join(parts))
    faster = {lib: f"{(g['verdict'] == 'faster').sum()} of {len(g)}"
              for lib, g in libs.groupby("subject", sort=False)}
    lead = ("Faster than the plain loop in: "
            + ", ".join(f"{lib} {count} tasks" for lib, count in faster.items())
            + ". Note toolz.reduce is functools.reduce, so the reduce answer covers "
              "toolz-style reduce code.")
    return [Text(lead), Bullets(lines)]


# ---------------------------------------------------------------- serializers

def answer_sinks_claim(found: Findings) -> list[Any]:
    """BytesIO and real files run the same code: what each costs relative to bytes."""
    if found.sinks.empty:
        return [missing(f"{NOT_MEASURED}: no dumps-bytesio / dumps-file sink cases.")]
    first = found.sinks.drop_duplicates(["subject", "op"])
    lines = [f"{r['subject']} {r['op']} ({r['shape']}, n={r['size']}) against {r['direction']} "
             + ("to bytes" if r["direction"] == "dumps" else "from bytes") + f": {ratio_of(r)}"
             for _, r in first.iterrows()]
    lead = (f"Yes for {first['subject'].nunique()} serializer(s): the same dump/load calls ran "
            "on io.BytesIO and on a real file opened with `with`, each checked to round-trip "
            "before it was timed. What the file-like sink costs relative to bytes:")
    return [Text(lead), Bullets(lines)]


def pickle_lines(found: Findings, subjects: Sequence[str]) -> list[str]:
    """"shape (n) op: subject against the baseline: ratio (verdict)" lines."""
    rows = found.versus_pickle
    rows = rows[rows["subject"].isin(subjects)] if not rows.empty else rows
    return [f"{r['shape']} (n={r['size']}) {r['op']}: {r['subject']} against {found.baseline}: "
            f"{ratio_of(r)} ({r['verdict']})" for _, r in rows.iterrows()]


def ok_counts(caps: dict[str, Any] | None, serializers: Sequence[str],
              kinds: set[str] | None = None) -> str:
    """"name: ok of total kinds" for some serializers of the capability matrix."""
    if caps is None:
        return ""
    cells = [c for c in caps["cells"] if kinds is None or c["kind"] in kinds]
    parts = [f"{name} {sum(c['outcome'] == 'ok' for c in cells if c['serializer'] == name)} of "
             f"{sum(c['serializer'] == name for c in cells)}" for name in serializers]
    return "Round-trips (ok) in the capability matrix: " + ", ".join(parts) + "."


def answer_marshal_claim(data: ReportData, found: Findings) -> list[Any]:
    """marshal vs pickle speed, its capability gaps and its version-specific format."""
    pythons = ", ".join(sorted({str(p) for p in data.runs["python"].dropna()}))
    note = Text("marshal's format is CPython-specific and may change between Python versions "
                f"(the marshal docs say so): do not store it. Pythons in these results: "
                f"{pythons or 'unknown'}.")
    lines = pickle_lines(found, ["marshal"])
    if not lines:
        return [missing(f"{NOT_MEASURED}: no marshal and pickle cases."), note]
    caps = ok_counts(data.capabilities, ["marshal", found.baseline or "pickle-5"])
    return [Text(f"marshal against {found.baseline}. {caps}"), Bullets(lines), note]


def answer_generality_claim(found: Findings) -> list[Any]:
    """dill and cloudpickle against pickle on plain data, per shape, with CIs."""
    general = general_picklers()
    lines = pickle_lines(found, general)
    if not lines:
        return [missing(f"{NOT_MEASURED}: no {'/'.join(general)} and pickle cases.")]
    rows = found.versus_pickle[found.versus_pickle["subject"].isin(general)]
    spans = [f"{name} {format_factor(g['ratio'].min())}x-{format_factor(g['ratio'].max())}x"
             for name, g in rows.groupby("subject", sort=False)]
    return [Text(f"Time relative to {found.baseline} on plain data, across shapes and dumps/"
                 f"loads: {', '.join(spans)}. Per case, with 95% CI:"), Bullets(lines)]


# ---------------------------------------------------------------- capabilities

def answer_functions_claim(caps: dict[str, Any] | None) -> list[Any]:
    """Which of pickle and the general picklers round-trip functions."""
    kinds = [k for k in caps["kinds"] if k.get("name") in FUNCTION_KINDS] if caps else []
    if not caps or not kinds:
        return [missing(f"{NOT_MEASURED}: no capability matrix with function kinds "
                        "(pass --capabilities).")]
    present = [s["name"] for s in caps["serializers"]]
    names = [name for name in present
             if name == pickle_baseline(present) or name in general_picklers()]
    counts = ok_counts(caps, names, {k["name"] for k in kinds})
    return [Text(f"{counts} Each outcome was proven by loading in a fresh process."),
            capability_table(caps, kinds, names)]


def answer_extend_claim(caps: dict[str, Any] | None) -> list[Any]:
    """What importing dill changes in pickle and what dill.extend(False) undoes."""
    extend = caps.get("dill_extend") if caps else None
    if not isinstance(extend, dict) or extend.get("import_dill_changes_pickle_dispatch") is None:
        reason = extend.get("error") if isinstance(extend, dict) else None
        return [missing(f"{NOT_MEASURED}: the capability matrix has no dill_extend "
                        f"measurement{f' ({reason})' if reason else ''}.")]
    changed = "changes" if extend["import_dill_changes_pickle_dispatch"] else "does not change"
    restores = "restores it" if extend.get("extend_false_restores") else "does NOT restore it"
    added = extend.get("added_types") or []
    return [Text(f"import dill {changed} pickle._Pickler.dispatch ({len(added)} types added, "
                 f"{len(extend.get('replaced_types') or [])} replaced); dill.extend(False) "
                 f"{restores}. Measured in a fresh process by the capability run."),
            Bullets(describe_mapping(extend))]


def answer_code_claim(caps: dict[str, Any] | None) -> list[Any]:
    """Payload of code that builds data against the data itself (the kinds marked `sends`)."""
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for cell in (caps or {}).get("cells", []):
        if cell["kind"] in (CODE_KIND, DATA_KIND):
            cells.setdefault(cell["serializer"], {})[cell["kind"]] = cell
    pairs = {name: c for name, c in cells.items() if len(c) == 2
             and c[DATA_KIND].get("payload_bytes") and c[CODE_KIND].get("payload_bytes")}
    if not pairs:
        return [missing(f"{NOT_MEASURED}: no {CODE_KIND} and {DATA_KIND} payload sizes in the "
                        "capability matrix (a later suite measures the round trip across "
                        "processes).")]
    return [Text(f"Payload of {CODE_KIND} (code that builds the data) against {DATA_KIND} "
                 "(the data itself), from the capability matrix; exact byte counts, so no CI. "
                 "Code only counts as sent when it loads and works in a fresh process (ok):"),
            Bullets([code_line(name, c[CODE_KIND], c[DATA_KIND]) for name, c in pairs.items()])]


def code_line(serializer: str, code: dict[str, Any], data: dict[str, Any]) -> str:
    """One serializer's code-vs-data payload sentence."""
    sizes = (f"code {format_quantity(code['payload_bytes'], 'byte')}, data "
             f"{format_quantity(data['payload_bytes'], 'byte')}")
    if code["outcome"] != "ok":
        return (f"{serializer}: {sizes}, but the code does not work in a fresh process "
                f"({code['outcome']}): it was sent by reference, not as code")
    factor = format_factor(data["payload_bytes"] / code["payload_bytes"])
    return f"{serializer}: {sizes}: the code is {factor}x smaller"


# ---------------------------------------------------------------- the section

def questions_section(data: ReportData, found: Findings) -> Section:
    """Each claim with the answer the data gives."""
    caps = data.capabilities
    claims = [
        ("“Use reduce whenever speed is required.”", answer_reduce_claim(data, found)),
        ("toolz and cytoolz make functional code fast", answer_toolz_claim(found)),
        ("io.BytesIO acts like a file, so code for files runs without a filesystem",
         answer_sinks_claim(found)),
        ("pickle is the default; marshal is faster but CPython-only and version-specific",
         answer_marshal_claim(data, found)),
        ("Functions are tricky to pickle; use dill", answer_functions_claim(caps)),
        ("`dill.extend(False)` restores normal pickling", answer_extend_claim(caps)),
        ("Send code, not data: code is much smaller", answer_code_claim(caps)),
        ("What does generality cost?", answer_generality_claim(found))]
    blocks: list[Any] = []
    for claim, answer in claims:
        blocks += [Heading(claim), *answer]
    return Section("questions", "Questions", blocks)
