"""bench.run.runner and `bench run` end to end: real worker processes, checked cases, isolation,
faults, interrupts."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from typing import Any

import pyperf
import pytest
from conftest import bench_env, interrupt_after

from bench.errors import InputError
from bench.run.cases import get_profile, parse_case, select_cases
from bench.run.runner import (
    RunSettings,
    describe_worker_end,
    parse_pyperf_args,
    pyperf_argv,
    reset_scratch,
    spawn_worker,
    worker_environ,
)


def load_metadata(path):
    """name -> benchmark-level metadata of a results file."""
    suite = pyperf.BenchmarkSuite.load(str(path))
    return {b.get_name(): b.get_metadata() for b in suite.get_benchmarks()}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("smoke") / "smoke.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "--profile", "smoke", "-o",
                           str(path)], capture_output=True, text=True, env=bench_env(), timeout=300)
    return proc, path


@pytest.mark.slow
def test_smoke_run_writes_every_case_with_metadata(smoke_run):
    proc, path = smoke_run
    assert proc.returncode == 0, proc.stderr
    metadata = load_metadata(path)
    assert sorted(metadata) == sorted(c.name for c in get_profile("smoke").list_cases())
    for name, meta in metadata.items():
        suite, subject, op, shape, size = name.split("/")
        assert (meta["bench_suite"], meta["bench_subject"], meta["bench_op"],
                meta["bench_shape"], meta["bench_size"]) == (suite, subject, op, shape, int(size))
        assert meta["bench_profile"] == "smoke" and meta["peak_alloc_bytes"] > 0
        assert meta["subject_version"]
        assert ("payload_bytes" in meta) is (suite == "ser")
    import pickle

    from bench.subjects.shapes import build_shape

    expected = len(pickle.dumps(build_shape("ints", 10), protocol=5))
    assert metadata["ser/pickle-5/dumps/ints/10"]["payload_bytes"] == expected


@pytest.mark.slow
def test_pyperf_reads_our_files(smoke_run):
    _, path = smoke_run
    stats = subprocess.run([sys.executable, "-m", "pyperf", "stats", str(path)],
                           capture_output=True, text=True)
    count = len(get_profile("smoke").list_cases())
    assert stats.returncode == 0 and f"Number of benchmarks: {count}" in stats.stdout
    compare = subprocess.run([sys.executable, "-m", "pyperf", "compare_to", str(path), str(path)],
                             capture_output=True, text=True)
    assert compare.returncode == 0, compare.stderr


@pytest.mark.slow
def test_worker_timing_pickle_never_imports_dill(smoke_run):
    _, path = smoke_run
    metadata = load_metadata(path)
    for name, meta in metadata.items():
        if meta["bench_subject"].startswith("pickle"):
            assert "dill" not in meta["bench_imported"].split(","), name
    assert "dill" in metadata["ser/dill/dumps/ints/10"]["bench_imported"].split(",")
    assert metadata["ser/msgpack/dumps/ints/10"]["bench_imported"] == "msgpack"


@pytest.mark.slow
def test_run_refuses_to_overwrite_without_force(smoke_run, run_bench):
    _, path = smoke_run
    proc = run_bench("run", "--profile", "smoke", "-o", str(path))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"ERROR: {path}: already exists (use --force to overwrite or --append to add)"]


@pytest.mark.slow
def test_append_adds_runs_and_cases(tmp_path, run_bench):
    path = tmp_path / "a.json"
    first = run_bench("run", "--profile", "smoke", "-k", "ref/*", "-o", str(path))
    assert first.returncode == 0, first.stderr
    second = run_bench("run", "--profile", "smoke", "-k", "ref/*", "-k", "fold/loop/*",
                       "-o", str(path), "--append")
    assert second.returncode == 0, second.stderr
    suite = pyperf.BenchmarkSuite.load(str(path))
    runs = suite.get_benchmark("ref/memcpy/copy/bytes/1000").get_runs()
    assert [bool(run.values) for run in runs] == [True, True]  # loops calibrated in each worker
    assert "fold/loop/sum/list/100" in suite.get_benchmark_names()


@pytest.mark.slow
def test_crashing_cases_fail_alone(tmp_path, run_bench):
    path = tmp_path / "crash.json"
    proc = run_bench("run", "--plugin", "bench_crashers", "--profile", "crash-test",
                     "-o", str(path))
    assert proc.returncode == 3, proc.stderr
    data = json.loads(path.read_text())
    failures = {f["name"]: f["reason"] for f in data["bench_failures"]}
    assert failures == {
        "ser/test-segfault/dumps/ints/10": "worker crashed: killed by SIGSEGV",
        "ser/test-recursion/dumps/ints/10": "check failed: unsupported: RecursionError: "
                                            "maximum recursion depth exceeded (test)",
        "ser/test-memory/dumps/ints/10": "check failed: unsupported: MemoryError: "
                                         "test allocation failure",
        "ser/test-killed/dumps/ints/10": "worker crashed: killed by SIGKILL",
    }
    names = set(load_metadata(path))
    assert names == {"ser/pickle-5/dumps/ints/10", "ser/pickle-5/loads/ints/21",
                     "ser/pickle-5/loads/ints/23", "ser/pickle-5/loads/ints/24"}
    assert "4 case(s) failed" in proc.stderr


@pytest.mark.slow
def test_ctrl_c_leaves_a_valid_file_with_the_finished_cases(tmp_path):
    path = tmp_path / "interrupted.json"
    finished, rest, code = interrupt_after(["run", "--profile", "smoke", "-o", str(path)], 5)
    assert code == 130
    assert f"interrupted: {len(finished)} of {len(get_profile('smoke').list_cases())} cases saved" in rest
    assert sorted(load_metadata(path)) == sorted(finished)


def test_pyperf_flags_are_the_profile_then_the_user():
    settings = RunSettings(get_profile("smoke"), ["--values", "7"])
    argv = pyperf_argv(settings)
    assert argv[:len(get_profile("smoke").pyperf_settings)] == list(get_profile("smoke")
                                                                   .pyperf_settings)
    assert argv[-3:] == ["--values", "7", "--quiet"]


@pytest.mark.parametrize(("code", "stderr", "expected"), [
    (-9, "", "worker crashed: killed by SIGKILL"),
    (-9, "half a line", "worker crashed: killed by SIGKILL"),
    (1, "", "worker failed: exit code 1"),
    (1, "Traceback (most recent call last):\n  ...\nMemoryError\n",
     "worker failed: exit code 1: MemoryError"),
])
def test_describe_worker_end(code, stderr, expected):
    assert describe_worker_end(code, stderr) == expected


def test_selection_used_by_the_tests_exists():
    assert select_cases(get_profile("smoke").list_cases(), ["ref/*"])


@pytest.mark.slow
def test_every_worker_of_a_case_carries_the_same_measured_metadata(tmp_path, run_bench):
    path = tmp_path / "three.json"
    proc = run_bench("run", "--profile", "smoke", "-k", "ser/dill/*", "-k", "fold/numpy/*",
                     "-p", "3", "-o", str(path))
    assert proc.returncode == 0, proc.stderr
    for bench in pyperf.BenchmarkSuite.load(str(path)).get_benchmarks():
        runs = [run for run in bench.get_runs() if run.values]
        assert len(runs) == 3
        common = bench.get_metadata()  # pyperf keeps only what every run agrees on
        assert common["peak_alloc_bytes"] > 0 and common["shape_nbytes"] > 0
        assert {run.get_metadata()["bench_imported"] for run in runs} == {common["bench_imported"]}


def smoke_args(*flags: str) -> Any:
    return parse_pyperf_args(RunSettings(get_profile("smoke"), list(flags)))


def test_pyperf_parses_the_settings_and_may_do_so_twice_in_a_process():
    assert smoke_args("--values", "7").values == 7
    assert smoke_args("--values", "3").values == 3
    assert smoke_args("--rigorous").processes == 40  # pyperf's: twice its default 20
    with pytest.raises(InputError, match="bad pyperf options: --values x"):
        smoke_args("--values", "x")


def test_a_worker_gets_pyperf_s_clean_environment(monkeypatch):
    monkeypatch.setenv("BENCH_TEST_SECRET", "1")
    monkeypatch.setenv("PATH", "/usr/bin")
    environ = worker_environ(smoke_args())
    assert environ["PATH"] == "/usr/bin" and "BENCH_TEST_SECRET" not in environ
    assert worker_environ(smoke_args("--inherit-environ", "BENCH_TEST_SECRET"))["BENCH_TEST_SECRET"] == "1"


def test_spawn_worker_makes_a_pyperf_run_with_the_interpreter_s_metadata(tmp_path):
    case = parse_case("ser/pickle-5/dumps/ints/10")
    options = {**reset_scratch(str(tmp_path)), "case": case.name, "loops": "4", "pass": "2"}
    result = spawn_worker(case, smoke_args(), sys.executable, options)
    assert result.error is None and result.seconds > 0
    run = result.benchmark.get_runs()[0]
    metadata = run.get_metadata()
    assert run.get_loops() == 4 and len(run.values) == 2 and len(run.warmups) == 1
    assert metadata["python_executable"] == sys.executable and metadata["bench_pass"] == 2
    assert metadata["python_version"].startswith(platform.python_version())
    assert {"date", "duration", "hostname", "cpu_count", "peak_alloc_bytes"} <= set(metadata)
    assert not os.path.exists(options["result"])  # read, then removed


def test_a_worker_past_pyperf_s_timeout_is_stopped_and_named(tmp_path):
    case = parse_case("ser/pickle-5/dumps/ints/10")
    options = {**reset_scratch(str(tmp_path)), "case": case.name}
    args = smoke_args()
    args.timeout = 0.01  # no interpreter starts that fast
    result = spawn_worker(case, args, sys.executable, options)
    assert result.benchmark is None and result.error == "worker timed out: no result within 0.01 s"


SHADOW = """import pathlib
pathlib.Path({marker!r}).write_text("imported from the caller's folder")
raise ImportError("the caller's {name}.py was imported")
"""


@pytest.mark.slow
def test_workers_never_import_from_the_caller_s_folder(tmp_path):
    folder, marker = tmp_path / "work", tmp_path / "marker.txt"
    folder.mkdir()
    for name in ("dill", "json", "pyperf"):
        (folder / f"{name}.py").write_text(SHADOW.format(marker=str(marker), name=name))
    out = tmp_path / "r.json"
    # the parent without its own folder on its path (as the `bench` script runs), in `folder`
    launcher = "import sys; del sys.path[0]; from bench.cli import main; raise SystemExit(main())"
    proc = subprocess.run([sys.executable, "-c", launcher, "run", "--profile", "smoke",
                           "-k", "ser/dill/*", "-o", str(out)], cwd=folder, capture_output=True,
                          text=True, env=bench_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    metadata = load_metadata(out)["ser/dill/dumps/ints/10"]
    import dill

    assert metadata["subject_version"] == dill.__version__ and "dill" in metadata["bench_imported"]


@pytest.mark.slow
def test_a_plugin_from_the_caller_s_folder_still_reaches_the_workers(tmp_path):
    plugin = (os.path.join(os.path.dirname(__file__), "plugins", "bench_doubles.py"))
    with open(plugin, encoding="utf-8") as f:
        text = f.read().replace('"test-pickle-twice"', '"test-cwd-plugin"')
    (tmp_path / "cwd_plugin.py").write_text(text)
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "--plugin", "cwd_plugin",
                           "--profile", "smoke", "-k", "ser/test-cwd-plugin/*", "-o", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert proc.returncode == 0, proc.stderr
    assert list(load_metadata(out)) == ["ser/test-cwd-plugin/dumps/ints/10"]


def test_stale_scratch_folders_of_dead_runs_are_removed(tmp_path):
    from bench.run.runner import make_scratch, remove_stale_scratch

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [tmp_path / f"bench-{kind}-{dead.pid}-x1" for kind in ("run", "ab", "callgrind")]
    alive = tmp_path / f"bench-run-{os.getpid()}-x2"
    other = tmp_path / f"bench-report-{dead.pid}-x3"  # not a scratch folder of a run
    for folder in [*stale, alive, other]:
        folder.mkdir()
        (folder / "meta-0.json").write_text("{}")
    assert sorted(remove_stale_scratch(str(tmp_path))) == sorted(map(str, stale))
    assert alive.exists() and other.exists() and not any(f.exists() for f in stale)
    mine = make_scratch("run")
    try:
        assert os.path.basename(mine).startswith(f"bench-run-{os.getpid()}-")
        assert mine not in remove_stale_scratch(os.path.dirname(mine))
    finally:
        os.rmdir(mine)
