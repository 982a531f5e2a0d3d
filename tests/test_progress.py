"""bench.cli.progress: what a run shows while it goes, and when it saves."""

from __future__ import annotations

import pyperf
import pytest

from bench.cli.progress import progress_display, run_with_progress
from bench.results import Results, read_results
from bench.run.cases import parse_case
from bench.run.runner import CaseResult


def test_a_long_failure_is_shown_on_one_line(capsys) -> None:
    case = parse_case("ship/process-pool/code/ints/100000")
    reason = "check failed: AttributeError: Can't pickle local object " + "'x." * 60 + "'"
    with progress_display(3) as show:
        show(1, {"": CaseResult(case, None, reason)})
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"[1/3] {case.name}: FAILED: {reason}"]


def one_process(name: str, mean: float) -> CaseResult:
    run = pyperf.Run([mean], metadata={"name": name}, collect_metadata=False)
    return CaseResult(parse_case(name), pyperf.Benchmark([run]))


@pytest.mark.parametrize(("period", "saves"), [(3600.0, 1), (0.0, 3)])
def test_a_run_saves_at_most_once_a_period(tmp_path, capsys, period: float, saves: int) -> None:
    names = [f"ser/pickle-5/dumps/ints/{n}" for n in (10, 100, 1000)]
    output = Results(path=str(tmp_path / "run.json"))
    saved: list[int] = []
    results = ({"": one_process(name, 1.0)} for name in names)
    done, stopped = run_with_progress(results, 3, {"": output},
                                      lambda: saved.append(len(output.benchmarks)), period)
    assert (done, stopped) == (3, False)
    assert saved == ([3] if saves == 1 else [1, 2, 3])  # cases in the file at each save
    assert [b.get_name() for b in read_results(output.path).benchmarks] == names
    assert len(capsys.readouterr().err.splitlines()) == 3
