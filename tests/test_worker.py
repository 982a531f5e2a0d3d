"""bench.run.worker: the program the parent spawns to build, check and time one case."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pytest

import bench.run.worker
from bench.errors import BenchError
from bench.run.cases import parse_case
from bench.run.worker import (
    CaseFailed,
    build_time_func,
    make_time_func,
    parse_worker_args,
    run_metadata,
    time_values,
)
from bench.subjects import serializers
from bench.subjects.shapes import build_shape

HEAVY = {"pandas", "scipy", "matplotlib", "jinja2", "rich", "dill", "cloudpickle", "numpy",
         "msgpack", "bench.frame", "bench.results", "bench.run.runner", "bench.run.capabilities"}


def test_worker_imports_little():
    code = "import sys, bench.run.worker; print(' '.join(sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    loaded = set(proc.stdout.split())
    assert "bench.run.cases" in loaded  # the check can see what the worker imports
    assert HEAVY & loaded == set()


def test_a_worker_process_times_its_case_without_importing_pyperf():
    code = ("import sys, bench.run.worker; bench.run.worker.main(['--case', 'ser/pickle-5/dumps/ints/10', "
            "'--loops', '2', '--values', '1', '--warmups', '0', '--result', sys.argv[1]]); "
            "print(' '.join(sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, os.devnull], capture_output=True,
                          text=True, check=True)
    loaded = set(proc.stdout.split())
    assert "pickle" in loaded  # the case ran
    assert not {"pyperf", "psutil", "argparse"} & loaded
    # what only some cases or an error need: dates (the profiles shape), suggestions, platform
    assert not {"datetime", "difflib", "platform"} & loaded


def test_parse_worker_args_joins_repeated_options_and_refuses_strays():
    assert parse_worker_args(["--case", "x", "--values", "3", "--plugin", "a", "--plugin", "b"]
                             ) == {"case": "x", "values": "3", "plugin": "a,b"}
    with pytest.raises(BenchError, match="unexpected argument 'x'"):
        parse_worker_args(["x"])
    with pytest.raises(BenchError, match="--case needs a value"):
        parse_worker_args(["--case"])


def test_time_values_divides_by_loops_and_keeps_warmups_apart():
    calls: list[int] = []

    def time_func(loops: int) -> float:
        calls.append(loops)
        return loops * (2.0 if len(calls) == 1 else 1.0)  # the first (warmup) call is slow

    result = time_values(time_func, 8, 1, 3)
    assert calls == [8, 8, 8, 8]
    assert result["warmups"] == [[8, 2.0]] and result["values"] == [1.0, 1.0, 1.0]
    assert result["metadata"]["duration"] >= 0 and result["metadata"]["mem_max_rss"] > 0
    with pytest.raises(CaseFailed, match="timer read zero"):
        time_values(lambda loops: 0.0, 8, 0, 2)


def test_serializer_case_is_checked_timed_and_described(tmp_path):
    case = parse_case("ser/pickle-5/dumps/ints/10")
    time_func, metadata = build_time_func(case, str(tmp_path))
    assert time_func(3) > 0
    assert metadata["payload_bytes"] == len(pickle.dumps(build_shape("ints", 10), protocol=5))
    assert metadata["peak_alloc_bytes"] > 0 and metadata["shape_nbytes"] > 0
    assert metadata["subject_version"]


def test_a_case_that_maps_a_big_buffer_each_call_records_its_page_faults(tmp_path):
    # In a fresh process with glibc's mmap threshold fixed (left dynamic, it rises after the
    # first big free, and whether a later 4 MB block is mapped afresh depends on the process's
    # past, e.g. the tests before this one), 4 MB is mapped and touched page by page each call.
    program = ("import json, sys; from bench.run.cases import parse_case; "
               "from bench.run.worker import build_time_func; "
               "print(json.dumps([build_time_func(parse_case(n), sys.argv[1])[1]"
               "['minor_faults_per_call'] for n in sys.argv[2:]]))")
    done = subprocess.run([sys.executable, "-c", program, str(tmp_path),
                           "ser/pickle-5/dumps/bytes/4000000", "ser/pickle-5/dumps/ints/10"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"})
    assert done.returncode == 0, done.stderr
    big, small = json.loads(done.stdout)
    assert big > 4_000_000 / 4096 / 2
    assert small < 1


def test_metadata_measured_once_per_case(tmp_path):
    cache = tmp_path / "meta.json"
    case = parse_case("fold/loop/sum/list/100")
    _, first = build_time_func(case, str(tmp_path), str(cache))
    cached = json.loads(cache.read_text())
    assert cached["peak_alloc_bytes"] == first["peak_alloc_bytes"]
    cache.write_text(json.dumps({**cached, "peak_alloc_bytes": 12345}))
    _, second = build_time_func(case, str(tmp_path), str(cache))
    assert second["peak_alloc_bytes"] == 12345  # read from the first worker, not measured again


def test_a_round_trip_that_differs_fails_the_check(tmp_path, monkeypatch):
    codec = serializers.Codec(dumps=pickle.dumps, loads=lambda payload: [0])
    entry = serializers.Serializer("test-lossy", "pickle", "test only", lambda: codec)
    monkeypatch.setitem(serializers.SERIALIZERS, "test-lossy", entry)
    with pytest.raises(CaseFailed, match="check failed"):
        build_time_func(parse_case("ser/test-lossy/dumps/ints/10"), str(tmp_path))


def test_time_func_calls_the_op_loops_times():
    calls = []
    make_time_func(lambda: calls.append(1))(7)
    assert len(calls) == 7


def test_run_metadata_carries_profile_and_round():
    assert run_metadata("smoke")["bench_profile"] == "smoke"
    assert "bench_round" not in run_metadata("smoke")
    assert run_metadata("smoke", "3")["bench_round"] == 3


def test_main_writes_the_reason_a_case_cannot_be_timed(tmp_path):
    result = tmp_path / "result.json"
    code = bench.run.worker.main(["--case", "ser/pickle-9/dumps/ints/10", "--result", str(result)])
    assert code == 1
    assert "unknown subject 'pickle-9'" in json.loads(result.read_text())["error"]


@pytest.mark.parametrize("case, code", [("ser/pickle-5/dumps/ints/10", 0), ("ser/pickle-9/dumps/ints/10", 1)])
def test_the_worker_program_exits_with_its_code_and_its_output_whole(tmp_path, case, code):
    proc = subprocess.run([sys.executable, "-m", "bench.run.worker", "--loops", "2", "--values", "2",
                           "--warmups", "0", "--case", case, "--profile", "smoke"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, proc.stderr
    result = json.loads(proc.stdout)  # printed whole though the teardown is skipped
    if code == 0:
        assert len(result["values"]) == 2 and result["loops"] == 2
        assert result["metadata"]["bench_subject"] == "pickle-5"
    else:
        assert "unknown subject 'pickle-9'" in result["error"]
        assert "unknown subject 'pickle-9'" in proc.stderr


def test_calibrate_loops_doubles_then_keeps_the_fewest_loops_over_min_time() -> None:
    calls: list[int] = []

    def time_func(loops: int) -> float:
        calls.append(loops)
        return loops * 3e-7

    # 16384 x 0.3 us = 4.9 ms < 5 ms, 32768 loops 9.8 ms; 18334 loops last 5.5 ms
    assert bench.run.worker.calibrate_loops(time_func, 0.005) == 18334
    assert calls == [2 ** k for k in range(16)]
    # a value measured slow at the last doubling never cuts back to the loops that fell short
    assert bench.run.worker.calibrate_loops(lambda loops: 1.0 if loops == 32 else loops * 1e-4,
                                        0.005) == 17
    assert bench.run.worker.calibrate_loops(lambda loops: 0.0, 0.005) == bench.run.worker.MAX_LOOPS
    assert bench.run.worker.calibrate_loops(lambda loops: 0.1, 0.005) == 1
