"""The parts of a run: bench run --resume and --shard, bench merge, and the setup they check."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pyperf
import pytest

import bench.run.merge
import bench.run.provenance
from bench.cli import main
from bench.errors import InputError
from bench.results import FORMAT_VERSION, Results, read_results, write_results
from bench.run.cases import get_profile
from bench.run.merge import merge_results
from bench.run.provenance import check_same_setup, describe_setup

SMOKE = get_profile("smoke")
SER = [case.name for case in SMOKE.list_cases() if case.suite == "ser"]


def make_benchmark(name: str, *values: float) -> pyperf.Benchmark:
    return pyperf.Benchmark([pyperf.Run([v], metadata={"name": name, "loops": 4, "duration": 0.5},
                                        collect_metadata=False) for v in values])


def smoke_setup(**changes: object) -> dict:
    setup = describe_setup("smoke", "time", SMOKE.pyperf_settings)
    setup.update(changes)
    return setup


def write_part(path: Path, names: list[str], setup: dict, failures: dict | None = None) -> Path:
    write_results(Results([make_benchmark(n, 1.0, 1.1) for n in names], failures or {}, str(path),
                          setup=setup))
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 or err[-1].startswith("ERROR:")
    assert err[-1].startswith("ERROR: ")
    return err[-1]


# ---------------------------------------------------------------- setup

def test_the_setup_says_how_the_run_was_made() -> None:
    setup = smoke_setup()
    assert setup["profile"] == "smoke" and setup["metric"] == "time"
    assert setup["pyperf_settings"] == list(SMOKE.pyperf_settings)
    assert setup["python"].split() == [sys.implementation.name,
                                       ".".join(map(str, sys.version_info[:3]))]
    assert setup["libraries"]["pyperf"] == pyperf.__version__
    assert {"dill", "msgpack", "numpy", "toolz"} <= set(setup["libraries"])


def test_another_interpreter_is_asked_for_its_versions() -> None:
    here = bench.run.provenance.describe_interpreter()
    done = subprocess.run([sys.executable, "-m", "bench.run.provenance"], capture_output=True,
                          text=True, check=True)
    assert json.loads(done.stdout) == here


@pytest.mark.parametrize(("key", "value", "words"), [
    ("profile", "quick", "not the same profile"),
    ("metric", "instructions", "not the same metric"),
    ("pyperf_settings", ["--processes", "2"], "not the same pyperf settings"),
    ("python", "cpython 3.9.0", "not the same python"),
    ("bench_version", "0.0.1", "not the same bench version"),
    ("hostname", "elsewhere", "not the same hostname"),
])
def test_a_setup_that_differs_is_named(key: str, value: object, words: str) -> None:
    with pytest.raises(InputError, match=words):
        check_same_setup(smoke_setup(), smoke_setup(**{key: value}), "x.json")


def test_a_library_version_that_differs_is_named() -> None:
    other = smoke_setup()
    other["libraries"] = {**other["libraries"], "dill": "0.0.1"}
    with pytest.raises(InputError, match="x.json: not the same dill version \\(0.0.1 there"):
        check_same_setup(smoke_setup(), other, "x.json")


def test_the_setup_is_written_and_read_back(tmp_path: Path) -> None:
    path = write_part(tmp_path / "r.json", SER[:2], smoke_setup())
    assert read_results(path).setup == smoke_setup()
    assert json.loads(path.read_text())["bench_format"] == FORMAT_VERSION


# ---------------------------------------------------------------- resume

@pytest.mark.parametrize("change", ["profile", "pyperf_settings", "python", "libraries",
                                    "bench_version", "none"])
def test_resume_refuses_a_file_of_another_setup(tmp_path: Path, capsys, change: str) -> None:
    setup = smoke_setup()
    if change == "none":
        setup = {}
    elif change == "libraries":
        setup["libraries"] = {**setup["libraries"], "msgpack": "0.1"}
    else:
        setup[change] = {"profile": "quick", "pyperf_settings": ["-p", "9"],
                         "python": "cpython 3.9.1", "bench_version": "9"}[change]
    path = write_part(tmp_path / "r.json", SER[:2], setup)
    before = path.read_bytes()
    code = main(["run", "--profile", "smoke", "-k", "ser/*", "--resume", "-o", str(path)])
    assert code == 2
    line = one_error_line(capsys)
    assert str(path) in line
    assert ("no bench_setup" in line) if change == "none" else ("not the same" in line)
    assert path.read_bytes() == before


def test_resume_refuses_other_pyperf_options_and_force(tmp_path: Path, capsys) -> None:
    path = write_part(tmp_path / "r.json", SER[:2], smoke_setup())
    assert main(["run", "--profile", "smoke", "--resume", "-o", str(path), "-p", "3"]) == 2
    assert "not the same pyperf settings" in one_error_line(capsys)
    assert main(["run", "--profile", "smoke", "--resume", "--force", "-o", str(path)]) == 2
    assert "--resume: give it alone" in one_error_line(capsys)


def test_resume_of_a_complete_file_runs_nothing(tmp_path: Path, capsys) -> None:
    names = [case.name for case in SMOKE.list_cases()]
    path = write_part(tmp_path / "r.json", names[:-1], smoke_setup(), {names[-1]: "check failed"})
    before = path.read_bytes()
    assert main(["run", "--profile", "smoke", "--resume", "-o", str(path)]) == 3
    err = capsys.readouterr().err
    assert f"{len(names) - 1} of {len(names)} cases in {path} (1 failed)" in err
    assert not [line for line in err.splitlines() if line.startswith("[")]  # nothing ran
    assert path.read_bytes() == before


# ---------------------------------------------------------------- merge

def test_merge_joins_parts_in_the_profiles_order(tmp_path: Path, capsys) -> None:
    a = write_part(tmp_path / "a.json", SER[1::2], smoke_setup(shard="1/2"), {"x/y/z/w/1": "bad"})
    b = write_part(tmp_path / "b.json", SER[0::2], smoke_setup(shard="2/2"))
    out = tmp_path / "m.json"
    assert main(["merge", str(a), str(b), "-o", str(out)]) == 0
    merged = read_results(out)
    assert [bm.get_name() for bm in merged.benchmarks] == SER
    assert merged.failures == {"x/y/z/w/1": "bad"}
    assert "shard" not in merged.setup and merged.setup["profile"] == "smoke"
    done = subprocess.run([sys.executable, "-m", "pyperf", "stats", str(out)], capture_output=True,
                          text=True)
    assert done.returncode == 0 and f"Number of benchmarks: {len(SER)}" in done.stdout


def test_merge_warns_about_a_missing_shard(tmp_path: Path, capsys) -> None:
    a = write_part(tmp_path / "a.json", SER[:2], smoke_setup(shard="1/3"))
    b = write_part(tmp_path / "b.json", SER[2:4], smoke_setup(shard="3/3"))
    assert main(["merge", str(a), str(b), "-o", str(tmp_path / "m.json")]) == 0
    assert "shard(s) 2/3 not given" in capsys.readouterr().err


@pytest.mark.parametrize(("change", "words"), [
    ({"profile": "quick"}, "not the same profile"),
    ({"pyperf_settings": ["-p", "3"]}, "not the same pyperf settings"),
    ({"python": "cpython 3.12.1"}, "not the same python"),
    ({"libraries": {"dill": "0.1"}}, "not the same [a-z0-9_.-]+ version"),
    ({"hostname": "other-host"}, "not the same hostname .*--allow-mixed-machines"),
    ({"shard": "1/4"}, "shards of different splits"),
    ({"shard": "1/2"}, "shard 1/2 is also"),
])
def test_merge_refuses_parts_of_different_runs(tmp_path: Path, capsys, change: dict,
                                               words: str) -> None:
    a = write_part(tmp_path / "a.json", SER[:2], smoke_setup(shard="1/2"))
    b = write_part(tmp_path / "b.json", SER[2:4], smoke_setup(**{"shard": "2/2", **change}))
    out = tmp_path / "m.json"
    assert main(["merge", str(a), str(b), "-o", str(out)]) == 2
    line = one_error_line(capsys)
    assert re.search(words, line), line
    assert not out.exists()


def test_merge_refuses_a_case_in_two_parts_and_a_file_without_setup(tmp_path: Path) -> None:
    a = write_part(tmp_path / "a.json", SER[:2], smoke_setup())
    b = write_part(tmp_path / "b.json", SER[1:3], smoke_setup())
    with pytest.raises(InputError, match=f"case '{SER[1]}' is also in"):
        merge_results([read_results(a), read_results(b)], "m.json")
    c = write_part(tmp_path / "c.json", SER[5:6], {})
    with pytest.raises(InputError, match="has no bench_setup"):
        merge_results([read_results(a), read_results(c)], "m.json")


def test_merge_accepts_mixed_machines_when_asked(tmp_path: Path) -> None:
    a = write_part(tmp_path / "a.json", SER[:2], smoke_setup(hostname="h1"))
    b = write_part(tmp_path / "b.json", SER[2:4], smoke_setup(hostname="h2"))
    merged = merge_results([read_results(a), read_results(b)], "m.json", allow_mixed_machines=True)
    assert merged.setup["hostname"] == "h1,h2"
    assert len(merged.benchmarks) == 4


def test_shard_and_costs_options_are_checked(tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "r.json")
    assert main(["run", "--profile", "smoke", "--shard", "3/2", "-o", out]) == 2
    assert "--shard '3/2'" in one_error_line(capsys)
    assert main(["run", "--profile", "smoke", "--costs", str(tmp_path / "c.json"), "-o", out]) == 2
    assert "--costs: only with --shard" in one_error_line(capsys)


def test_resume_of_a_corrupt_file_is_one_error_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "r.json"
    path.write_text('{"benchmarks": [', encoding="utf-8")
    assert main(["run", "--profile", "smoke", "-k", "ref/*", "--resume", "-o", str(path)]) == 2
    assert "not valid JSON" in one_error_line(capsys)


def test_a_resumed_schedule_runs_only_the_passes_each_case_lacks() -> None:
    from bench.run.resume import ResumedScheduler, narrow_schedule
    from bench.run.schedule import Scheduler

    plan = Scheduler(["a", "b", "c", "d"], passes=3)
    done = Results([make_benchmark("a", 1.0, 1.1), make_benchmark("b", 1.0, 1.1, 1.2)],
                   {"d": "check failed"})
    resumed = narrow_schedule(plan, ["a", "b", "c", "d"], done)
    assert isinstance(resumed, ResumedScheduler)
    assert resumed.planned() == 1 + 0 + 3
    assert list(resumed.order(lambda: 0.0)) == ["c", "c", "a", "c"]  # a: its third pass
    assert resumed.tracks["b"].means == [1.0, 1.1, 1.2]  # the adaptive phase sees them
    shard = narrow_schedule(plan, ["b", "c"])
    assert shard.cases == ["b", "c"] and shard.planned() == 6


# ---------------------------------------------------------------- another machine's cases

def host_benchmark(name: str, host: str, *values: float, python: str = "/usr/bin/python3"
                   ) -> pyperf.Benchmark:
    metadata = {"name": name, "loops": 4, "hostname": host, "python_executable": python,
                "unit": "second"}
    return pyperf.Benchmark([pyperf.Run([v], metadata=metadata, collect_metadata=False)
                             for v in values])


def test_runs_of_another_host_never_make_add_benchmark_raise() -> None:
    results = Results([host_benchmark("a", "ci-1", 1.0), host_benchmark("b", "ci-2", 2.0)])
    reason = results.add_benchmark(host_benchmark("a", "ci-2", 1.5))
    assert reason is not None and "hostname" in reason and "'ci-1'" in reason
    assert [run.values for run in results.benchmarks[0].get_runs()] == [(1.0,)]  # kept as it was
    assert results.add_benchmark(host_benchmark("b", "ci-2", 2.5)) is None
    assert [run.values for run in results.benchmarks[1].get_runs()] == [(2.0,), (2.5,)]
    assert results.add_benchmark(host_benchmark("c", "ci-2", 3.0)) is None
    assert [b.get_name() for b in results.benchmarks] == ["a", "b", "c"]


def test_add_benchmark_finds_cases_by_name_after_the_list_changes() -> None:
    results = Results([host_benchmark(f"c{i}", "h", 1.0) for i in range(50)])
    assert results.add_benchmark(host_benchmark("c49", "h", 2.0)) is None
    results.benchmarks = [host_benchmark("c49", "h", 3.0)]  # replaced behind the index
    assert results.add_benchmark(host_benchmark("c49", "h", 4.0)) is None
    assert len(results.benchmarks) == 1 and len(results.benchmarks[0].get_runs()) == 2


def test_cases_of_another_machine_are_found_before_timing_and_said_in_one_line() -> None:
    from bench.run.resume import describe_foreign, foreign_cases

    here = {"hostname": "ci-2", "python_executable": "/usr/bin/python3", "unit": "second"}
    results = Results([host_benchmark("a", "ci-1", 1.0), host_benchmark("b", "ci-2", 1.0),
                       host_benchmark("c", "ci-2", 1.0, python="/opt/venv/bin/python"),
                       host_benchmark("d", "ci-1", 1.0)])
    foreign = foreign_cases(results, here, {"a", "b", "c"})
    assert foreign == {"a": ("hostname", "ci-1", "ci-2"),
                       "c": ("python_executable", "/opt/venv/bin/python", "/usr/bin/python3")}
    line = describe_foreign(foreign, "--resume")
    assert "\n" not in line and line.startswith("--resume: 2 cases were run elsewhere: ")
    assert "1 on host 'ci-1' (this is 'ci-2')" in line and line.endswith("not topped up here")


def test_resume_and_append_leave_another_host_s_cases_before_timing(tmp_path: Path, capsys,
                                                                    monkeypatch) -> None:
    import bench.run.plan as plan
    from bench.metric import TIME

    names = [case.name for case in SMOKE.list_cases()]
    here = {"hostname": "ci-2", "python_executable": "/usr/bin/python3", "unit": "second"}
    monkeypatch.setattr(plan, "predict_metadata", lambda request: here)
    results = Results([host_benchmark(n, "ci-1", 1.0) for n in names[:3]]
                      + [host_benchmark(names[3], "ci-2", 1.0)], path=str(tmp_path / "r.json"))
    request = plan.RunRequest(SMOKE, str(tmp_path / "r.json"), TIME)
    selected = [case for case in SMOKE.list_cases() if case.name in names[:5]]
    for option in ("--resume", "--append"):
        notes: list[str] = []
        kept = plan.leave_foreign_cases(results, selected, request, option, notes)
        assert [case.name for case in kept] == names[3:5]
        assert notes == [f"{option}: 3 cases were run on host 'ci-1' (this is 'ci-2'); kept as "
                         "they are, not topped up here"]
