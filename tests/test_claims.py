"""The report's claims say only what their undecided cells allow (bench.report.tally).

A quiet run and a noisy copy of it (process noise from a seeded rng) may differ in how much they
can tell, never in what they answer; a claim that cells which cannot tell could flip says
"cannot tell"; an exponent whose CI reaches both sides of n^1.5 is not counted as steeper.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyperf
import pytest

from bench.frame import load_results
from bench.report.blocks import Table, Text
from bench.report.findings import SUPERLINEAR, Findings, ReportData, find_all, prepare_data
from bench.report.questions import answer_reduce_claim, answer_toolz_claim, find_answers
from bench.report.sections import scaling_section
from bench.report.tally import CANNOT_TELL, Tally, settled_answer, tally_verdicts

BASELINE = Path(__file__).parents[1] / "results" / "baseline.json"
DEFINITE = {"true", "false", "mixed"}
TOOLZ = "toolz and cytoolz make functional code fast"


def write_cases(path: Path, means: dict[str, list[float]]) -> Path:
    """A bench-style pyperf file: case name -> per-process means in µs (3 values each, +-1%)."""
    benchmarks = []
    for name, process_means in means.items():
        suite, subject, op, shape, size = name.split("/")
        meta = {"name": name, "bench_suite": suite, "bench_subject": subject, "bench_op": op,
                "bench_shape": shape, "bench_size": int(size), "loops": 1000}
        benchmarks.append(pyperf.Benchmark([
            pyperf.Run([m * 0.99e-6, m * 1e-6, m * 1.01e-6], metadata=meta, collect_metadata=False)
            for m in process_means]))
    pyperf.BenchmarkSuite(benchmarks).dump(str(path), replace=True)
    return path


def noisy_copy(source: Path, target: Path, sigma: float, seed: int) -> Path:
    """The results file with each worker process slowed by its own factor exp(sigma |z|):
    load only adds time, and a process's values share its speed state."""
    doc = json.loads(source.read_text())
    rng = np.random.default_rng(seed)
    for benchmark in doc["benchmarks"]:
        for run in benchmark["runs"]:
            if run.get("values"):
                factor = float(np.exp(sigma * abs(rng.standard_normal())))
                run["values"] = [value * factor for value in run["values"]]
    target.write_text(json.dumps(doc))
    return target


def findings_of(path: Path) -> tuple[ReportData, Findings]:
    data = prepare_data(load_results([path]))
    return data, find_all(data)


def toolz_tally(found: Findings) -> Tally:
    """The toolz claim's cells counted as the claim counts them."""
    rows = found.headline[found.headline["subject"].isin(["toolz", "cytoolz"])]
    return tally_verdicts(rows["verdict"], ["faster"], ["slower", "same"])


# ---------------------------------------------------------------- the rule itself

@pytest.mark.parametrize(("supporting", "contradicting", "undecided"),
                         list(itertools.product(range(3), range(3), range(4))))
def test_an_answer_is_definite_only_when_every_resolution_gives_it(
        supporting: int, contradicting: int, undecided: int) -> None:
    """Resolve each undecided cell either way, one by one (2^u ways): a definite answer is the
    answer of all of them, "cannot tell" means two of them differ."""
    answers = {settled_answer(supporting + sum(way), contradicting + undecided - sum(way))
               for way in itertools.product((0, 1), repeat=undecided)}
    answer = Tally(supporting, contradicting, undecided).answer
    if supporting + contradicting + undecided == 0:
        assert answer == "not measured in this run"
    elif len(answers) == 1:
        assert answer == answers.pop() and answer in DEFINITE
    else:
        assert answer == CANNOT_TELL


# ---------------------------------------------------------------- claims on known data

def test_a_claim_the_undecided_tasks_could_flip_cannot_tell(tmp_path: Path) -> None:
    """toolz faster in one task, two tasks too noisy to tell: true and mixed both stay open."""
    path = write_cases(tmp_path / "folds.json", {
        "fold/loop/merge/list/1000": [4.0, 4.1, 3.9], "fold/toolz/merge/list/1000": [2.0, 2.02, 1.98],
        "fold/loop/flatten/list/1000": [4.0, 4.1, 3.9], "fold/cytoolz/flatten/list/1000": [1.0, 8.0, 3.0],
        "fold/loop/count-words/list/1000": [4.0, 4.1, 3.9],
        "fold/toolz/count-words/list/1000": [1.5, 9.0, 4.0]})
    _, found = findings_of(path)
    assert list(found.headline.set_index("subject").loc[["toolz", "cytoolz"], "verdict"]) == [
        "faster", "uncertain", "uncertain"]
    answer = answer_toolz_claim(found)
    assert answer.verdict == CANNOT_TELL
    assert "faster than the plain loop in 1 of 3 task(s), slower or the same in 0, 2 cannot tell" \
        in answer.sentence
    assert "(the 2 that cannot tell allow mixed or true)" in answer.sentence
    assert answer.key.startswith("faster than the loop in 1 of 3 (2 cannot tell); ")


def test_undecided_cells_that_cannot_flip_a_claim_leave_it_answered(tmp_path: Path) -> None:
    """One task faster, one slower: every resolution of the third is still mixed."""
    path = write_cases(tmp_path / "folds.json", {
        "fold/loop/merge/list/1000": [4.0, 4.1, 3.9], "fold/toolz/merge/list/1000": [2.0, 2.02, 1.98],
        "fold/loop/flatten/list/1000": [4.0, 4.1, 3.9], "fold/toolz/flatten/list/1000": [8.0, 8.1, 7.9],
        "fold/loop/count-words/list/1000": [4.0, 4.1, 3.9],
        "fold/cytoolz/count-words/list/1000": [1.5, 9.0, 4.0]})
    answer = answer_toolz_claim(findings_of(path)[1])
    assert answer.verdict == "mixed" and "1 cannot tell" in answer.sentence
    assert "allow" not in answer.sentence


def scaling_folds(tmp_path: Path) -> Path:
    """Three sizes: reduce-operator quadratic (k's CI far above 1.5), reduce-lambda a k near
    1.55 whose CI (one degree of freedom) reaches both sides of 1.5, the loop linear."""
    sizes = (10, 100, 1000)
    times = {"loop": (2.0, 20.0, 200.0), "reduce-operator": (1.0, 101.0, 10000.0),
             "reduce-lambda": (1.0, 10 ** 2.2, 10 ** 3.1)}
    return write_cases(tmp_path / "scaling.json", {
        f"fold/{style}/concat/list/{size}": [t, t * 1.01, t * 0.99]
        for style, series in times.items() for size, t in zip(sizes, series, strict=True)})


def test_the_exponent_headline_says_what_the_interval_allows(tmp_path: Path) -> None:
    data, found = findings_of(scaling_folds(tmp_path))
    exps = found.exponents.set_index("subject")
    lam = exps.loc["reduce-lambda"]
    assert lam["k"] > SUPERLINEAR and lam["low"] < SUPERLINEAR < lam["high"]
    assert exps.loc["reduce-operator", "low"] > SUPERLINEAR

    sentence = answer_reduce_claim(data, found).sentence
    assert "(grows faster than n^1.5) in 1 of 2 reduce folds fitted, at or below in 0, " \
           "1 cannot tell" in sentence
    assert "2 reduce fold(s) grow faster" not in sentence

    blocks = scaling_section(data, found).blocks
    headline = next(b.text for b in blocks if isinstance(b, Text) and b.cls == "answer")
    assert headline.startswith("Grows faster than n^1.5 (k's 95% CI above 1.5) in 1 of 3 cases, "
                               "no faster (CI at or below it) in 1, 1 cannot tell")
    steep = next(b for b in blocks if isinstance(b, Table) and "reaches above" in b.heading)
    flags = {row[1].text: row[-1].text for row in steep.rows}
    assert flags == {"reduce-operator": "grows faster than n^1.5: k's 95% CI lies above 1.5",
                     "reduce-lambda": "cannot tell: k's 95% CI reaches both sides of 1.5"}


# ---------------------------------------------------------------- a quiet run and its noisy copies

@pytest.fixture(scope="module")
def quiet() -> dict[str, str]:
    data, found = findings_of(BASELINE)
    return {a.claim: a.verdict for a in find_answers(data, found)}


@pytest.mark.slow
@pytest.mark.parametrize(("sigma", "seed"), [(0.2, 0), (0.45, 0), (0.45, 1), (0.45, 2)])
def test_a_noisy_copy_never_answers_the_opposite_of_its_quiet_run(
        quiet: dict[str, str], sigma: float, seed: int, tmp_path: Path) -> None:
    data, found = findings_of(noisy_copy(BASELINE, tmp_path / "noisy.json", sigma, seed))
    noisy = {a.claim: a.verdict for a in find_answers(data, found)}
    assert noisy.keys() == quiet.keys()
    for claim, answer in noisy.items():
        if answer in DEFINITE and quiet[claim] in DEFINITE:
            assert answer == quiet[claim], claim


@pytest.mark.slow
def test_the_noisy_copy_that_would_flip_the_toolz_claim_cannot_tell(
        quiet: dict[str, str], tmp_path: Path) -> None:
    """Among the noisy copies, one leaves the toolz claim with no task faster, some slower and
    the rest undecided: counting only decided tasks would answer "false" against the quiet run's
    "mixed"; the claim says "cannot tell" instead."""
    assert quiet[TOOLZ] == "mixed"
    flipped: list[Any] = []
    for seed in range(3):
        _, found = findings_of(noisy_copy(BASELINE, tmp_path / f"noisy-{seed}.json", 0.45, seed))
        cells = toolz_tally(found)
        decided_only = Tally(cells.supporting, cells.contradicting).answer
        if decided_only in DEFINITE and decided_only != quiet[TOOLZ]:
            flipped.append((cells, answer_toolz_claim(found)))
    assert flipped, "no noisy copy reached the toolz claim: the test would prove nothing"
    for cells, answer in flipped:
        assert cells.undecided and answer.verdict == CANNOT_TELL
        assert f"{cells.undecided} cannot tell (the {cells.undecided} that cannot tell allow" \
            in answer.sentence
