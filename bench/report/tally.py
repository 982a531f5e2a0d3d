"""What a claim may say when some of its cells cannot tell: the one rule every claim is judged by.

A claim counts the cells (cases, tasks, fitted exponents) that support it, those that contradict
it, and those that cannot tell (a 95% CI too wide to decide). Its answer is true, false or mixed
only when every way the undecided cells could resolve gives that same answer; otherwise it is
"cannot tell". So a noisy run answers less often than a quiet one, but never the opposite.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bench.text import ANSWERS, is_missing

CANNOT_TELL = "cannot tell"
NOT_MEASURED = "not measured in this run"
assert CANNOT_TELL in ANSWERS and NOT_MEASURED in ANSWERS


def settled_answer(supporting: int, contradicting: int) -> str:
    """The answer of a claim once no cell is undecided.

    >>> settled_answer(3, 0), settled_answer(0, 2), settled_answer(1, 1), settled_answer(0, 0)
    ('true', 'false', 'mixed', 'not measured in this run')
    """
    if supporting and contradicting:
        return "mixed"
    if supporting:
        return "true"
    return "false" if contradicting else NOT_MEASURED


@dataclass(frozen=True)
class Tally:
    """How many cells support a claim, contradict it, and cannot tell."""

    supporting: int
    contradicting: int
    undecided: int = 0

    @property
    def measured(self) -> int:
        """Every cell counted."""
        return self.supporting + self.contradicting + self.undecided

    def allowed(self) -> set[str]:
        """Every answer the claim could have once each undecided cell resolves either way.

        >>> sorted(Tally(0, 2, 4).allowed()), sorted(Tally(4, 2, 0).allowed())
        (['false', 'mixed'], ['mixed'])
        """
        return {settled_answer(self.supporting + k, self.contradicting + self.undecided - k)
                for k in range(self.undecided + 1)}

    @property
    def answer(self) -> str:
        """The one answer the undecided cells allow, else "cannot tell"; none measured: not measured.

        >>> Tally(0, 2, 4).answer, Tally(1, 2, 3).answer, Tally(3, 0, 0).answer, Tally(0, 0, 2).answer
        ('cannot tell', 'mixed', 'true', 'cannot tell')
        >>> Tally(0, 0, 0).answer
        'not measured in this run'
        """
        if self.measured == 0:
            return NOT_MEASURED
        allowed = self.allowed()
        return allowed.pop() if len(allowed) == 1 else CANNOT_TELL

    def words(self, yes: str, no: str, of: str = "") -> str:
        """The counts in words, the undecided cells named: `of` names what is counted.

        >>> Tally(0, 2, 4).words("faster", "slower or the same", " tasks")
        'faster in 0 of 6 tasks, slower or the same in 2, 4 cannot tell'
        >>> Tally(1, 0, 0).words("faster", "slower")
        'faster in 1 of 1, slower in 0'
        """
        said = f"{yes} in {self.supporting} of {self.measured}{of}, {no} in {self.contradicting}"
        return said + (f", {self.undecided} {CANNOT_TELL}" if self.undecided else "")

    def share(self, of: str = "") -> str:
        """The supporting cells out of all, and the undecided ones when there are any.

        >>> Tally(0, 2, 4).share(" tasks"), Tally(3, 1).share()
        ('0 of 6 tasks (4 cannot tell)', '3 of 4')
        """
        unsure = f" ({self.undecided} {CANNOT_TELL})" if self.undecided else ""
        return f"{self.supporting} of {self.measured}{of}{unsure}"

    def said(self, yes: str, no: str, of: str = "") -> str:
        """The counts in words (`words`), then what the undecided cells allow (`doubt`)."""
        return self.words(yes, no, of) + self.doubt()

    def doubt(self) -> str:
        """Why the answer is "cannot tell": the answers the undecided cells still allow ("" else).

        >>> Tally(0, 2, 4).doubt(), Tally(1, 2, 4).doubt()
        (' (the 4 that cannot tell allow false or mixed)', '')
        """
        if self.answer != CANNOT_TELL:
            return ""
        return f" (the {self.undecided} that {CANNOT_TELL} allow {' or '.join(sorted(self.allowed()))})"


def tally_verdicts(verdicts: Iterable[Any], supporting: Iterable[str],
                   contradicting: Iterable[str], undecided: Iterable[str] = ("uncertain",)) -> Tally:
    """Count cells by their verdicts (other values, e.g. None for not measured, are not counted).

    >>> tally_verdicts(["faster", "same", "uncertain", None], ["faster"], ["slower", "same"])
    Tally(supporting=1, contradicting=1, undecided=1)
    """
    words = list(verdicts)
    yes, no, unsure = set(supporting), set(contradicting), set(undecided)
    return Tally(sum(v in yes for v in words), sum(v in no for v in words),
                 sum(v in unsure for v in words))


def side_of_bar(low: Any, high: Any, bar: float) -> str:
    """Where a 95% CI lies against a bar: "above", "below" (at or under it), or "cannot tell"
    when it reaches both sides or is unknown.

    >>> side_of_bar(1.95, 2.01, 1.5), side_of_bar(0.9, 1.1, 1.5), side_of_bar(-0.46, 3.65, 1.5)
    ('above', 'below', 'cannot tell')
    >>> side_of_bar(float("nan"), float("nan"), 1.5)
    'cannot tell'
    """
    if is_missing(low) or is_missing(high):
        return CANNOT_TELL
    if float(low) > bar:
        return "above"
    return "below" if float(high) <= bar else CANNOT_TELL


def tally_sides(sides: Iterable[str]) -> Tally:
    """Cells above a bar support "above it", cells below contradict, the rest cannot tell.

    >>> tally_sides(["above", "cannot tell", "below", "cannot tell"])
    Tally(supporting=1, contradicting=1, undecided=2)
    """
    return tally_verdicts(sides, ["above"], ["below"], [CANNOT_TELL])
