"""The claims the report puts to the data, each with the answer the findings give.

Every answer is computed from findings data (frames and the capability matrix), never
from the text of another answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from bench.report import plots
from bench.report.answers import (
    NOT_MEASURED_ANCHOR,
    Answer,
    answer_blocks,
    answers_table,
    fold_long,
    not_measured,
    not_measured_list,
)
from bench.report.blocks import (
    Bullets,
    Details,
    Heading,
    Section,
    Text,
    make_figure,
    make_table,
    ratio_cell,
    row_noise,
)
from bench.report.findings import SUPERLINEAR, Findings, ReportData, is_reduce_style, pickle_baseline
from bench.report.matrix import capability_table, describe_mapping
from bench.report.sections import call_of
from bench.report.tally import CANNOT_TELL, NOT_MEASURED, Tally, tally_sides, tally_verdicts
from bench.subjects.capability_kinds import KINDS
from bench.subjects.serializers import SERIALIZERS
from bench.text import (
    NOISE_MARK,
    NOISE_MEANING,
    format_change,
    format_factor,
    format_interval,
    format_quantity,
    verdict_label,
)

CODE_KIND = next(k.name for k in KINDS if k.sends == "code")
DATA_KIND = next(k.name for k in KINDS if k.sends == "data")
FUNCTION_KINDS = tuple(k.name for k in KINDS if k.is_function)


def general_picklers() -> list[str]:
    """The serializers that ship code by value (the registry's `general` entries)."""
    return [name for name, entry in SERIALIZERS.items() if entry.general]


def ratio_of(row: Any) -> str:
    """The time ratio of a ratios row with its CI, in the shared words."""
    return format_change(row["ratio"], row["ratio_low"], row["ratio_high"])


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
    care = f" {NOISE_MARK} ({answer['noise']})" if answer["noise"] else ""
    if answer["winner"] in words:
        return f"{where}: {words[answer['winner']]}.{care}"
    if answer["verdict"] == "same":
        return f"{where}: the same (within the threshold): {versus}.{care}"
    return f"{where}: {verdict_label('uncertain')}: {versus}.{care}"


def fold_answers(found: Findings) -> list[str]:
    """The "is reduce faster here?" line of every task."""
    return [reduce_line(answer) for _, answer in found.reduce.iterrows()]


def growth_line(row: Any) -> str:
    """'reduce(lambda) over concat (list) grows as n^1.98 (95% CI [1.95, 2.01])'."""
    ci = "" if pd.isna(row["low"]) else f" (95% CI {format_interval(row['low'], row['high'])})"
    return f"{call_of(row['subject'], row['op'])} over {row['op']} ({row['shape']}) grows as " \
           f"n^{row['k']:.2f}{ci}"


def worst_row(rows: pd.DataFrame) -> Any:
    """The row with the highest ratio (the case least in favour of the faster side; the
    first row when no ratio is computable)."""
    ratios = rows["ratio"]
    return rows.loc[ratios.idxmax()] if ratios.notna().any() else rows.iloc[0]


def steep_reduce_folds(data: ReportData, found: Findings) -> pd.DataFrame:
    """The fitted exponents of the reduce folds of the fold run, each with its growth class."""
    exps = found.exponents
    return exps[(exps["run"] == data.run_of("fold")) & exps["subject"].map(is_reduce_style)]


def growth_words(exponents: pd.DataFrame) -> str:
    """What the exponents' 95% CIs allow against n^SUPERLINEAR, in words ("" when none).

    >>> growth_words(pd.DataFrame({"growth": ["steep", CANNOT_TELL, ""]}))
    'by its 95% CI, k is above 1.5 (grows faster than n^1.5) in 1 of 3 reduce folds fitted, at or \
below in 1, 1 cannot tell'
    """
    if exponents.empty:
        return ""
    growth = tally_sides({"steep": "above", "": "below"}.get(g, CANNOT_TELL)
                         for g in exponents["growth"])
    return (f"by its 95% CI, k is above {SUPERLINEAR} (grows faster than n^{SUPERLINEAR}) "
            + growth.words("", "at or below", " reduce folds fitted").lstrip())


def answer_reduce_claim(data: ReportData, found: Findings) -> Answer:
    """"Use reduce whenever speed is required": per task answers and steep reduce folds."""
    claim = "“Use reduce whenever speed is required.”"
    if found.reduce.empty:
        return not_measured(claim, "no fold cases with a loop reference.")
    measured = found.reduce.dropna(subset=["verdict"])
    wins = tally_verdicts(measured["verdict"], ["faster"], ["slower", "same"])
    folds = steep_reduce_folds(data, found)
    steep = folds[folds["growth"] != ""]
    growth = [f"{growth_line(r)}: {r['growth']}" for _, r in steep.iterrows()]
    key, noise = "-", ""
    if not measured.empty:
        worst = worst_row(measured)
        key = f"reduce fastest in {wins.share(' tasks')}; worst: {worst['task']} {ratio_of(worst)}"
        noise = str(worst["noise"])
    grows = growth_words(folds)
    won = wins.said("clearly the fastest", "slower or the same", " tasks measured")
    sentence = f"a reduce style was {won}" + (f"; {grows}" if grows else "") + "."
    return Answer(claim, wins.answer, key, sentence,
                  [*fold_long([Bullets(fold_answers(found))], "Per task"),
                   *fold_long([Bullets(growth)], "Steep reduce folds")], noise)


def answer_toolz_claim(found: Findings) -> Answer:
    """toolz/cytoolz idiomatic calls against the loop and the builtin, per task."""
    claim = "toolz and cytoolz make functional code fast"
    rows = found.headline
    libs = rows[rows["subject"].isin(["toolz", "cytoolz"])] if not rows.empty else rows
    if libs.empty:
        return not_measured(claim, "no toolz or cytoolz fold case with a plain-loop reference "
                            "at the same task, input and size.")
    body = [[task, g["size"].iloc[0], *(
        ratio_cell(g[g["subject"] == lib].iloc[0]) if (g["subject"] == lib).any() else None
        for lib in ("toolz", "cytoolz", "builtin"))]
        for task, g in rows[rows["op"].isin(libs["op"])].groupby("op", sort=False)]
    table = make_table(["task", "n", "toolz / loop", "cytoolz / loop", "builtin / loop"], body)
    faster = tally_verdicts(libs["verdict"], ["faster"], ["slower", "same"])
    worst = worst_row(libs)
    key = (f"faster than the loop in {faster.share()}; worst: "
           f"{worst['subject']} {worst['op']} {ratio_of(worst)}")
    sentence = (f"toolz/cytoolz calls were "
                f"{faster.said('faster than the plain loop', 'slower or the same', ' task(s)')}. "
                "toolz.reduce is functools.reduce, so the reduce answer covers toolz-style "
                "reduce code.")
    return Answer(claim, faster.answer, key, sentence,
                  fold_long([table], "Time / loop per task"), row_noise(worst))


# ---------------------------------------------------------------- serializers

def answer_sinks_claim(found: Findings) -> Answer:
    """BytesIO and real files run the same code: what each costs relative to bytes."""
    claim = "io.BytesIO acts like a file, so code for files runs without a filesystem"
    if found.sinks.empty:
        return not_measured(claim, "no dumps-bytesio / dumps-file sink cases.")
    first = found.sinks.drop_duplicates(["subject", "op"])
    body = [[r["subject"], r["op"], r["shape"], r["size"], ratio_cell(r)]
            for _, r in first.iterrows()]
    table = make_table(["serializer", "sink op", "shape", "n", "sink / bytes"], body)
    bytesio = first[first["op"].str.endswith("bytesio")]
    key = (f"BytesIO / bytes {format_factor(bytesio['ratio'].min())}x - "
           f"{format_factor(bytesio['ratio'].max())}x" if not bytesio.empty else "-")
    sentence = (f"the same dump/load calls ran on io.BytesIO and on a real file for "
                f"{first['subject'].nunique()} serializer(s), each checked to round-trip "
                "before it was timed.")
    return Answer(claim, "true", key, sentence, fold_long([table], "What each sink costs"))


def versus_rows(found: Findings, subjects: Sequence[str]) -> pd.DataFrame:
    """The rows of versus_pickle of some serializers (empty when there are none)."""
    rows = found.versus_pickle
    return rows[rows["subject"].isin(subjects)] if not rows.empty else rows


def forest_blocks(found: Findings, rows: pd.DataFrame, title: str) -> list[Any]:
    """A forest plot (one panel per op, a dot and CI per shape and serializer) and a table."""
    panels = rows.assign(panel=rows["op"], ci_low=rows["ratio_low"], ci_high=rows["ratio_high"],
                         identity=rows["subject"], subject=rows["subject"] + " " + rows["shape"])
    svg = plots.plot_ratios(panels, title, f"time / {found.baseline} time (log)")
    body = [[r["shape"], r["size"], r["op"], r["subject"], ratio_cell(r)]
            for _, r in rows.iterrows()]
    table = make_table(["shape", "n", "op", "serializer", f"time / {found.baseline}"], body)
    return [make_figure(svg, f"Time relative to {found.baseline}: dots are ratios, bars their "
                             "95% CI, the line at 1 is no difference; grey words in the table "
                             "are cases we cannot tell."),
            Details(f"Every case ({len(rows)})", [table])]


def answer_marshal_claim(data: ReportData, found: Findings) -> Answer:
    """marshal vs pickle speed, its capability gaps and its version-specific format."""
    claim = "pickle is the default; marshal is faster but CPython-only and version-specific"
    pythons = ", ".join(sorted({str(p) for p in data.runs["python"].dropna()}))
    note = Text("marshal's format is CPython-specific and may change between Python versions "
                f"(the marshal docs say so): do not store it. Pythons in these results: "
                f"{pythons or 'unknown'}.")
    rows = versus_rows(found, ["marshal"])
    if rows.empty:
        return not_measured(claim, "no marshal and pickle cases.")
    faster = tally_verdicts(rows["verdict"], ["faster"], ["slower", "same"])
    median = rows.iloc[(rows["ratio"] - rows["ratio"].median()).abs().argsort().iloc[0]]
    key = (f"faster in {faster.share(' cases')}; median case "
           f"{median['shape']} {median['op']}: {ratio_of(median)}")
    caps = ok_counts(data.capabilities, ["marshal", found.baseline or "pickle-5"])
    was = faster.said(f"faster than {found.baseline}", "slower or the same", " cases")
    sentence = f"marshal was {was}. {caps}"
    return Answer(claim, faster.answer, key, sentence,
                  [*forest_blocks(found, rows, f"marshal against {found.baseline}"), note],
                  row_noise(median))


def answer_generality_claim(found: Findings) -> Answer:
    """dill and cloudpickle against pickle on plain data, per shape, with CIs."""
    claim = "What does generality cost? (dill and cloudpickle are slower on plain data)"
    general = general_picklers()
    rows = versus_rows(found, general)
    if rows.empty:
        return not_measured(claim, f"no {'/'.join(general)} and pickle cases.")
    slower = tally_verdicts(rows["verdict"], ["slower"], ["faster", "same"])
    spans = [f"{name} {format_factor(g['ratio'].min())}x-{format_factor(g['ratio'].max())}x"
             for name, g in rows.groupby("subject", sort=False)]
    sentence = (f"{slower.said(f'slower than {found.baseline}', 'faster or the same', ' cases')}; "
                f"time relative to {found.baseline}: {', '.join(spans)}.")
    worst = worst_row(rows)
    key = (f"slower in {slower.share()}; worst: {worst['subject']} "
           f"{worst['shape']} {worst['op']} {ratio_of(worst)}")
    return Answer(claim, slower.answer, key, sentence,
                  forest_blocks(found, rows, f"General picklers against {found.baseline}"),
                  row_noise(worst))


# ---------------------------------------------------------------- capabilities

def ok_counts(caps: dict[str, Any] | None, serializers: Sequence[str]) -> str:
    """"Round-trips (ok) in the capability matrix: name ok of total, ..." (empty without one)."""
    if caps is None:
        return ""
    every = {c["kind"] for c in caps["cells"]}
    parts = [f"{name} {ok_count(caps, name, every)} of "
             f"{sum(c['serializer'] == name for c in caps['cells'])}" for name in serializers]
    return "Round-trips (ok) in the capability matrix: " + ", ".join(parts) + "."


def ok_count(caps: dict[str, Any], serializer: str, kinds: set[str]) -> int:
    """How many of some kinds a serializer round-trips (ok) in the capability matrix."""
    return sum(c["outcome"] == "ok" for c in caps["cells"]
               if c["serializer"] == serializer and c["kind"] in kinds)


def answer_functions_claim(caps: dict[str, Any] | None) -> Answer:
    """Which of pickle and the general picklers round-trip functions."""
    claim = "Functions are tricky to pickle; use dill"
    kinds = [k for k in caps["kinds"] if k.get("name") in FUNCTION_KINDS] if caps else []
    if not caps or not kinds:
        return not_measured(claim, "no capability matrix with function kinds (pass "
                            "--capabilities).")
    present = [s["name"] for s in caps["serializers"]]
    base = pickle_baseline(present)
    names = [name for name in present if name == base or name in general_picklers()]
    kind_names = {k["name"] for k in kinds}
    counts = {name: ok_count(caps, name, kind_names) for name in names}
    dill, pickled = counts.get("dill"), counts.get(base or "", 0)
    verdict = NOT_MEASURED if dill is None else ("true" if dill > pickled else "false")
    key = ", ".join(f"{name} {n} of {len(kinds)}" for name, n in counts.items())
    sentence = (f"round-trips of {len(kinds)} function kinds, each proven by loading in a "
                f"fresh process: {key}.")
    return Answer(claim, verdict, key, sentence,
                  fold_long([capability_table(caps, kinds, names)], "Function kinds"))


def answer_extend_claim(caps: dict[str, Any] | None) -> Answer:
    """What importing dill changes in pickle and what dill.extend(False) undoes."""
    claim = "`dill.extend(False)` restores normal pickling"
    extend = caps.get("dill_extend") if caps else None
    if not isinstance(extend, dict) or extend.get("import_dill_changes_pickle_dispatch") is None:
        reason = extend.get("error") if isinstance(extend, dict) else None
        return not_measured(claim, "the capability matrix has no dill_extend measurement"
                            f"{f' ({reason})' if reason else ''}.")
    changed = "changes" if extend["import_dill_changes_pickle_dispatch"] else "does not change"
    restored = bool(extend.get("extend_false_restores"))
    added = extend.get("added_types") or []
    replaced = extend.get("replaced_types") or []
    key = f"{len(added)} types added, {len(replaced)} replaced; " + (
        "restored" if restored else "not restored")
    sentence = (f"import dill {changed} pickle._Pickler.dispatch; dill.extend(False) "
                f"{'restores' if restored else 'does NOT restore'} it (measured in a fresh "
                "process by the capability run).")
    return Answer(claim, "true" if restored else "false", key, sentence,
                  fold_long([Bullets(describe_mapping(extend))], "What the run recorded"))


def answer_code_claim(caps: dict[str, Any] | None) -> Answer:
    """Payload of code that builds data against the data itself (the kinds marked `sends`)."""
    claim = "Send code, not data: code is much smaller"
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for cell in (caps or {}).get("cells", []):
        if cell["kind"] in (CODE_KIND, DATA_KIND):
            cells.setdefault(cell["serializer"], {})[cell["kind"]] = cell
    pairs = {name: c for name, c in cells.items() if len(c) == 2
             and c[DATA_KIND].get("payload_bytes") and c[CODE_KIND].get("payload_bytes")}
    if not pairs:
        return not_measured(claim, f"no {CODE_KIND} and {DATA_KIND} payload sizes in the "
                            "capability matrix.")
    body = [[name, format_quantity(c[CODE_KIND]["payload_bytes"], "byte"),
             format_quantity(c[DATA_KIND]["payload_bytes"], "byte"),
             format_factor(c[DATA_KIND]["payload_bytes"] / c[CODE_KIND]["payload_bytes"]) + "x",
             "yes" if c[CODE_KIND]["outcome"] == "ok" else f"no ({c[CODE_KIND]['outcome']})"]
            for name, c in pairs.items()]
    works = {name: c for name, c in pairs.items() if c[CODE_KIND]["outcome"] == "ok"}
    smaller = [n for n, c in works.items()
               if c[CODE_KIND]["payload_bytes"] < c[DATA_KIND]["payload_bytes"]]
    factors = {name: c[DATA_KIND]["payload_bytes"] / c[CODE_KIND]["payload_bytes"]
               for name, c in works.items()}
    best = max(factors, key=factors.__getitem__, default=None)
    key = "-" if best is None else f"{best}: code {format_factor(factors[best])}x smaller"
    sentence = (f"code that builds the data ({CODE_KIND}) was smaller than the data "
                f"({DATA_KIND}) and worked in a fresh process for {len(smaller)} of "
                f"{len(pairs)} serializers; exact byte counts, so no CI. Code that does not "
                "load in a fresh process was sent by reference, not as code.")
    table = make_table(["serializer", "code", "data", "data / code", "works in a fresh process"],
                       body)
    verdict = Tally(len(smaller), len(works) - len(smaller)).answer if works else CANNOT_TELL
    return Answer(claim, verdict, key, sentence, fold_long([table], "Code and data payloads"))


# ---------------------------------------------------------------- the section

def find_answers(data: ReportData, found: Findings) -> list[Answer]:
    """Every claim the report puts to the data, with its answer, in page order."""
    caps = data.capabilities
    return [answer_reduce_claim(data, found), answer_toolz_claim(found),
            answer_sinks_claim(found), answer_marshal_claim(data, found),
            answer_functions_claim(caps), answer_extend_claim(caps), answer_code_claim(caps),
            answer_generality_claim(found)]


def questions_section(data: ReportData, found: Findings) -> Section:
    """The answers first (one row per claim), then each measured claim's one-sentence answer and
    evidence, then the claims not measured in one list (alone when no claim was measured)."""
    answers = find_answers(data, found)
    missing = [answer for answer in answers if answer.verdict == NOT_MEASURED]
    if len(missing) == len(answers):  # no table of dashes
        return Section("questions", "Answers", [
            Text("These runs have the cases of none of the claims below; what each one needs:"),
            not_measured_list(missing)])
    blocks: list[Any] = [answers_table(answers)]
    if any(answer.key_noise for answer in answers):
        blocks.append(Text(f"{NOISE_MARK}: {NOISE_MEANING}; hover it for the reason."))
    for answer in answers:
        if answer.verdict != NOT_MEASURED:
            blocks += answer_blocks(answer)
    if missing:
        blocks += [Heading(NOT_MEASURED.capitalize(), NOT_MEASURED_ANCHOR), not_measured_list(missing)]
    return Section("questions", "Answers", blocks)
