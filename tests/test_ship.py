"""The ship suite: transports, cases, the other side's tasks, checks before timing, smoke and dask runs."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli.running import drop_unmeasurable, scheduler_flags
from bench.errors import InputError
from bench.metric import INSTRUCTIONS, TIME
from bench.run import cases
from bench.run.cases import Case, get_profile, parse_case
from bench.subjects import ship_tasks
from bench.subjects.serializers import SERIALIZERS
from bench.subjects.ship import SCALE_OPS, SCHEDULER_ENV, TRANSPORTS

REPO = Path(__file__).parent.parent


def ship_of(profile: str) -> list[Case]:
    return [c for c in get_profile(profile).list_cases() if c.suite == "ship"]


# ---------------------------------------------------------------- registry and cases

def test_quick_has_at_most_60_ship_cases_over_every_kind_of_transport() -> None:
    found = ship_of("quick")
    assert 12 <= len(found) <= 60
    assert not [c for c in found if c.subject == "process-pool" and c.op == "code"]  # fails by design
    subjects = {c.subject for c in found}
    assert {"process-pool", "loky", "dask", "pipes"} <= subjects
    assert any(s.startswith("socket-") for s in subjects)
    assert {c.op for c in found} == {"empty", "data", "code", *SCALE_OPS}


def test_ship_profile_covers_the_full_ladder_and_every_transport() -> None:
    found = ship_of("ship")
    assert {c.subject for c in found} == set(TRANSPORTS)
    assert {c.size for c in found if c.op == "data"} == {10**k for k in range(1, 7)}
    assert {c.size for c in found if c.op.startswith("stencil")} == set(cases.GRID_SIDES)
    assert all(parse_case(c.name) == c for c in found)


def test_code_goes_only_over_sockets_whose_serializer_ships_code() -> None:
    code = {c.subject for c in ship_of("ship") if c.op == "code"}
    general = {f"socket-{s.name}" for s in SERIALIZERS.values() if s.general} - {"socket-dill-recurse"}
    assert {s for s in code if s.startswith("socket-")} == general
    with pytest.raises(InputError, match="transport 'socket-msgpack' has no op 'code'"):
        parse_case("ship/socket-msgpack/code/ints/10")
    with pytest.raises(InputError, match="has no op 'data' on shape 'grid'"):
        parse_case("ship/loky/data/grid/10")


def test_plot_styles_are_distinct_over_every_registry() -> None:
    from bench.subjects.folds import STYLES

    entries = [*SERIALIZERS.values(), *STYLES.values(), *TRANSPORTS.values()]
    pairs = [(e.color, e.marker) for e in entries]
    assert all(color.startswith("#") and marker for color, marker in pairs)
    assert len(set(pairs)) == len(pairs)


def test_a_missing_transport_library_skips_its_cases_with_the_reason(monkeypatch) -> None:
    missing = dataclasses.replace(TRANSPORTS["dask"], module="bench_no_such_module")
    monkeypatch.setitem(TRANSPORTS, "dask", missing)
    assert not any(c.subject == "dask" for c in ship_of("quick"))
    assert cases.unavailable_subjects()["dask"] == "python package 'bench_no_such_module' is not installed"
    from bench.run.ship_run import ShipFailed, prepare_ship

    with pytest.raises(ShipFailed, match="skipped: python package 'bench_no_such_module'"):
        prepare_ship(parse_case("ship/dask/empty/none/0"))


def test_instruction_counts_drop_ship_cases_and_scheduler_needs_an_address(monkeypatch) -> None:
    mixed = [parse_case("ser/pickle-5/dumps/ints/10"), parse_case("ship/loky/empty/none/0")]
    assert drop_unmeasurable(mixed, INSTRUCTIONS) == mixed[:1]
    assert drop_unmeasurable(mixed, TIME) == mixed
    with pytest.raises(InputError, match="no case left"):
        drop_unmeasurable(mixed[1:], INSTRUCTIONS)
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert scheduler_flags(None) == []
    with pytest.raises(InputError, match="expected HOST:PORT"):
        scheduler_flags("nowhere")
    assert scheduler_flags("tcp://127.0.0.1:8786") == ["--inherit-environ", SCHEDULER_ENV]


# ---------------------------------------------------------------- the other side's tasks

def test_shipped_code_builds_the_shipped_data() -> None:
    assert ship_tasks.make_builder(50)() == ship_tasks.make_items(50)
    assert ship_tasks.run_builder(ship_tasks.make_builder(50)) == ship_tasks.expected_sum(50)
    assert ship_tasks.sum_items(ship_tasks.make_items(3)) == 0 + 7919 + 5831


@pytest.mark.parametrize("serializer", ["pickle-5", "pickle-5-oob", "orjson"])
def test_frames_carry_payloads_exactly(serializer: str) -> None:
    codec = SERIALIZERS[serializer].codec()
    items = ship_tasks.make_items(1000)
    left, right = socket.socketpair()
    with left, right:
        payload = codec.dumps(items)
        sent = ship_tasks.send_parts(left, ship_tasks.payload_parts(payload))
        parts = ship_tasks.recv_parts(right)
        back = codec.loads(ship_tasks.join_parts(parts, serializer.endswith("oob")))
    assert back == items
    assert sent == 4 + 8 * len(parts) + sum(len(p) for p in parts)


def test_coupling_changes_the_answer_and_tiling_does_not() -> None:
    coupled = ship_tasks.reference_sums(16, True, steps=5)
    independent = ship_tasks.reference_sums(16, False, steps=5)
    assert coupled != independent  # the swapped edge rows reach the other tile
    whole = ship_tasks.initial_grid(16)
    for _ in range(5):
        ship_tasks.sweep(whole)
    assert sum(coupled) == pytest.approx(float(whole.sum()), rel=1e-12)
    assert ship_tasks.reference_sums(16, True, steps=0) == ship_tasks.reference_sums(16, False, steps=0)


def test_first_size_finds_where_the_ci_clears_one() -> None:
    import pandas as pd

    from bench.report.ship import first_size

    pairs = pd.DataFrame({"subject": ["a", "a", "a", "b"], "size": [10, 100, 1000, 10],
                          "high": [1.5, 0.9, 0.5, 1.2], "low": [1.2, 1.1, 0.4, 1.01]})
    assert first_size(pairs, "high", below=True) == {"a": 100}
    assert first_size(pairs, "low", below=False) == {"a": 10, "b": 10}


# ---------------------------------------------------------------- checked before timed

@pytest.mark.slow
def test_the_pickle_pool_cannot_ship_the_lambda_and_says_why() -> None:
    from bench.run.ship_run import ShipFailed, prepare_ship

    with pytest.raises(ShipFailed, match="check failed: AttributeError: Can't pickle local object"):
        prepare_ship(parse_case("ship/process-pool/code/ints/10"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ship/loky/code/ints/100", "ship/socket-cloudpickle/code/ints/100",
                                  "ship/socket-msgpack/data/ints/100",
                                  "ship/pipes/stencil-x2/grid/16"])
def test_a_ship_case_is_checked_then_describes_what_crossed(name: str) -> None:
    from bench.run.ship_run import prepare_ship

    op, describe = prepare_ship(parse_case(name))
    op()
    meta = describe()
    if "grid" in name:
        assert meta["ship_workers"] == 2 and 0 <= meta["comm_share"] <= 1
    else:
        assert meta["payload_bytes"] > 0 and meta["reply_bytes"] > 0


@pytest.mark.slow
def test_a_wrong_answer_fails_the_check(monkeypatch) -> None:
    from bench.run import ship_run

    monkeypatch.setattr(ship_run, "expected_sum", lambda n: -1)
    with pytest.raises(ship_run.ShipFailed, match="returned .*, expected -1"):
        ship_run.prepare_ship(parse_case("ship/socket-pickle-5/data/ints/10"))


# ---------------------------------------------------------------- end to end

def run_bench(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *argv], capture_output=True, text=True,
                          cwd=REPO, timeout=900)


@pytest.mark.slow
def test_ship_smoke_run_covers_every_transport_and_records_the_bytes(tmp_path: Path) -> None:
    out = tmp_path / "ship.json"
    proc = run_bench("run", "--profile", "ship-smoke", "-o", str(out))
    assert proc.returncode == 3, proc.stderr  # the pickle pool's code case fails by design
    doc = json.loads(out.read_text())
    failures = {f["name"]: f["reason"] for f in doc["bench_failures"]}
    assert list(failures) == ["ship/process-pool/code/ints/10"]
    assert "Can't pickle local object" in failures["ship/process-pool/code/ints/10"]
    report = tmp_path / "ship.html"
    assert run_bench("report", str(out), "-o", str(report)).returncode == 0
    html = report.read_text()
    assert "Send code, not data?" in html and "Scale out or scale up?" in html
    assert "Can&#39;t pickle local object" in html or "Can't pickle local object" in html
    metas = {b["metadata"]["name"]: b["metadata"] for b in doc["benchmarks"]}
    assert {m["bench_subject"] for m in metas.values()} == set(TRANSPORTS)
    for name, meta in metas.items():
        if "/grid/" in name:
            assert 0 <= meta["comm_share"] <= 1 and meta["ship_workers"] in (1, 2)
        else:
            assert meta["payload_bytes"] > 0 and meta["reply_bytes"] > 0, name


@pytest.mark.slow
def test_dask_cases_run_on_a_scheduler_the_test_starts(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "dask.json"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", scheduler_port=0,
                                  dashboard_address=None) as cluster:
        proc = run_bench("run", "--profile", "ship-smoke", "-k", "ship/dask/*", "-o", str(out),
                         "--scheduler", cluster.scheduler_address)
        prefixes = set(cluster.scheduler.task_prefixes)
    assert proc.returncode == 0, proc.stderr
    assert {"empty_task", "sum_items", "run_builder"} <= prefixes
    names = {b["metadata"]["name"] for b in json.loads(out.read_text())["benchmarks"]}
    assert names == {"ship/dask/empty/none/0", "ship/dask/data/ints/10", "ship/dask/code/ints/10"}
