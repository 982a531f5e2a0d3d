"""An answer to a claim: its verdict, key number and evidence, and the table that lists them.

The verdict words are bench.text.ANSWERS; bench.report.tally turns counts of cases that
support a claim, contradict it and cannot tell into one of them, so every claim is judged by
the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.report.blocks import (
    Bullets,
    Cell,
    Details,
    Heading,
    Table,
    Text,
    make_table,
    mark_noise,
    slugify,
)
from bench.report.tally import NOT_MEASURED
from bench.text import ANSWERS

LONG = 6  # lists and tables longer than this fold under <details>


@dataclass
class Answer:
    """A claim and what the data says: verdict (a key of ANSWERS), key number, one sentence."""

    claim: str
    verdict: str
    key: str
    sentence: str
    evidence: list[Any] = field(default_factory=list)
    key_noise: str = ""  # why the key number is to be read with care ("" when steady)

    @property
    def anchor(self) -> str:
        """The id of the claim's heading."""
        return "q-" + slugify(self.claim)


NOT_MEASURED_ANCHOR = "q-not-measured"  # where the claims a run has no cases for are listed


def not_measured(claim: str, why: str) -> Answer:
    """The answer to a claim this run has no cases for (`why`: what it lacks)."""
    return Answer(claim, NOT_MEASURED, "-", why)


def fold_long(blocks: Sequence[Any], summary: str) -> list[Any]:
    """The blocks, under one <details> when a table or list in them is longer than LONG."""
    size = max((len(getattr(b, "rows", getattr(b, "items", ()))) for b in blocks), default=0)
    return [Details(summary, list(blocks))] if size > LONG else list(blocks)


def answers_table(answers: Sequence[Answer]) -> Table:
    """One row per claim: the claim (a link to its evidence), the verdict, the key number."""
    rows = [[Cell(a.claim, href=f"#{NOT_MEASURED_ANCHOR if a.verdict == NOT_MEASURED else a.anchor}"),
             Cell(a.verdict, "answer-" + slugify(a.verdict), ANSWERS.get(a.verdict, "")),
             mark_noise(a.key, a.key_noise)] for a in answers]
    return make_table(["claim", "answer", "key number (95% CI)"], rows, collapsible=False)


def not_measured_list(answers: Sequence[Answer]) -> Bullets:
    """The claims a run has no cases for, one item each: the claim and what it lacks."""
    return Bullets([f"{a.claim}: {a.sentence}" for a in answers])


def answer_blocks(answer: Answer) -> list[Any]:
    """The claim's heading, its one-sentence answer, then its evidence."""
    return [Heading(answer.claim, answer.anchor),
            Text(f"{answer.verdict.capitalize()}: {answer.sentence}", "answer"),
            *answer.evidence]
