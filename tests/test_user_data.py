"""`--data SPEC`: the user's own objects become shapes every serializer runs on (bench.subjects.user_data)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import bench_env

from bench.cli import main
from bench.equality import first_difference

TESTS = Path(__file__).parent
USER = TESTS / "data" / "user"
QUICK_FLAGS = ["-p", "1", "-n", "2", "-w", "1", "--min-time", "0.002", "--target-ci", "0"]


@pytest.fixture
def registry(monkeypatch):
    """The shape registry and the loaded specs, restored after the test."""
    from bench.subjects import shapes, user_data

    monkeypatch.setattr(shapes, "SHAPES", shapes.SHAPES)
    saved, loaded = dict(shapes.SHAPES), list(user_data.LOADED)
    monkeypatch.chdir(TESTS)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield user_data
    shapes.SHAPES.clear()
    shapes.SHAPES.update(saved)
    user_data.LOADED[:] = loaded
    user_data.load_form.cache_clear()


def run_bench(*args: str, cwd: Path = TESTS) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          env=bench_env(), cwd=cwd, timeout=600)


def test_each_spec_is_a_shape_named_after_it(registry):
    names = registry.load_specs(["user_fixtures:make_order", "data/user/orders.json",
                                 "data/user/events.jsonl", "data/user/prices.csv"])
    assert names == ["data-make_order", "data-orders", "data-events", "data-prices", "data-prices-frame"]
    from bench.subjects.shapes import SHAPES, build_shape

    assert [SHAPES[n].default_size for n in names] == [3, 3, 3, 3, 3]  # the callable's default, the records
    assert build_shape("data-events", 3)[1] == {"at": 2, "kind": "view", "x": None}  # blank line skipped
    assert type(build_shape("data-prices-frame", 3)).__name__ == "DataFrame"
    assert build_shape("data-prices", 3)[0] == {"sku": "A-1", "price": 9.5, "qty": 2}


def test_data_size_scales_a_callable_and_the_data_profile_times_every_serializer(registry):
    from bench.run.cases import get_profile, is_supported
    from bench.subjects.serializers import SERIALIZERS

    registry.load_specs(["user_fixtures:make_order"], data_size=7)
    names = {c.name for c in get_profile("data").list_cases()}
    available = [s for s in SERIALIZERS.values() if s.available()]
    assert {n.split("/")[1] for n in names} == {s.name for s in available}
    assert {"ser/pickle-5/dumps/data-make_order/7", "ser/pickle-5/loads-file/data-make_order/7"} <= names
    assert is_supported("json", "data-make_order")  # the worker checks it, not the parent


def test_children_register_the_same_shapes_from_the_options(registry):
    registry.load_specs(["data/user/orders.json"])
    options = registry.child_options()
    assert options[0] == "--data"
    spec = registry.LOADED[0]
    registry.LOADED.clear()
    from bench.subjects.shapes import SHAPES

    del SHAPES["data-orders"]
    registry.register_options(options[1])
    assert [spec] == registry.LOADED and SHAPES["data-orders"].user_data
    assert os.path.isabs(spec.target)  # a child starts in another folder


def test_first_difference_names_the_path():
    assert first_difference([{"tags": ("a",)}], [{"tags": ["a"]}]) == "[0]['tags']: tuple became list"
    assert first_difference({"a": [1, 2]}, {"a": [1]}) == "['a']: length 2 became 1"
    assert first_difference({"a": 1}, {"b": 1}) == "the object: key 'a' lost"


@pytest.mark.slow
def test_a_run_times_every_spec_and_its_page_opens_with_the_answer(tmp_path, registry, capsys):
    out, page = tmp_path / "data.json", tmp_path / "data.html"
    proc = run_bench("run", "--data", "user_fixtures:make_order", "--data", "data/user/orders.json",
                     "--data", "data/user/events.jsonl", "--data", "data/user/prices.csv",
                     "--data", "user_fixtures:make_tagged", "--data", "user_fixtures:make_lock",
                     "-k", "ser/json/*s/*", "-k", "ser/pickle-5/*s/*", *QUICK_FLAGS, "-o", str(out))
    assert proc.returncode == 3, proc.stderr  # the lock and the DataFrame fail for json: the run goes on
    doc = json.loads(out.read_text())
    timed = {b["metadata"]["name"]: b["metadata"] for b in doc["benchmarks"]}
    for shape in ("data-make_order", "data-orders", "data-events", "data-prices"):
        for case in (f"ser/json/dumps/{shape}/3", f"ser/pickle-5/loads/{shape}/3"):
            assert timed[case]["bench_roundtrip"] == "exact" and timed[case]["payload_bytes"] > 0
    assert timed["ser/pickle-5/loads/data-prices-frame/3"]["bench_roundtrip"] == "exact"
    assert timed["ser/json/dumps/data-make_tagged/3"]["bench_roundtrip"] == \
        "lossy: [0]['tags']: tuple became list"
    failed = {f["name"]: f["reason"] for f in doc["bench_failures"]}
    assert {name.split("/")[3] for name in failed} == {"data-make_lock", "data-prices-frame"}
    assert "TypeError" in failed["ser/pickle-5/loads/data-make_lock/1"]
    assert main(["report", str(out), "-o", str(page)]) == 0
    html = page.read_text()
    assert html.index('id="payload"') < html.index('id="questions"')
    assert "The answer for your payload" in html and "[0][&#39;tags&#39;]: tuple became list" in html
    assert "Could not be measured on data-make_lock (2)" in html


def write_evil_pickle(path: Path, marker: Path) -> None:
    """A pickle whose loading creates `marker`."""

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path.write_bytes(pickle.dumps(Evil()))


def test_a_pickle_is_refused_and_never_loaded_without_trust(tmp_path, registry, capsys):
    evil, marker = tmp_path / "evil.pkl", tmp_path / "marker"
    write_evil_pickle(evil, marker)
    assert main(["run", "--data", str(evil), "-o", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"ERROR: --data {evil}") and "--trust-pickle" in err[0]
    assert not marker.exists() and not (tmp_path / "r.json").exists()
    registry.load_specs([str(evil)], trust_pickle=True)  # the test can fail: trusted, it runs
    assert marker.exists()


BAD = {
    "no module": (["--data", "no_such_module_x:make"], "ERROR: --data no_such_module_x:make: cannot import"),
    "raises": (["--data", "user_fixtures:broken"],
               "ERROR: --data user_fixtures:broken: user_fixtures:broken raised ValueError: no orders today"),
    "no callable": (["--data", "user_fixtures:nothing"], "ERROR: --data user_fixtures:nothing: module"),
    "json": (["--data", "data/user/broken.json"], "ERROR: data/user/broken.json:2: not JSON"),
    "jsonl": (["--data", "data/user/broken.jsonl"], "ERROR: data/user/broken.jsonl:2: not JSON"),
    "csv": (["--data", "data/user/broken.csv"], "ERROR: data/user/broken.csv: does not parse"),
    "extension": (["--data", "data/user/orders.txt"], "ERROR: --data data/user/orders.txt: unknown"),
    "missing": (["--data", "data/user/none.json"], "ERROR: --data data/user/none.json: no such file"),
    "not a spec": (["--data", "orders"], "ERROR: --data orders: expected module:callable"),
    "size without": (["--data-size", "5"], "ERROR: --data-size needs --data"),
    "size unused": (["--data", "data/user/orders.json", "--data-size", "5"], "ERROR: --data-size 5"),
    "resized file": (["--data", "data/user/orders.json", "--size", "2"],
                     "ERROR: --size 2: shape 'data-orders': size 2 is out of range 3..3"),
    "same name": (["--data", "data/user/orders.json", "--data", "data/user/again/orders.json"],
                  "ERROR: --data data/user/again/orders.json: its shape name 'data-orders' is taken"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_input_is_one_line_and_exit_2(name, tmp_path, registry, capsys):
    argv, start = BAD[name]
    out = tmp_path / "r.json"
    assert main(["run", *argv, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(start), err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_capabilities_probe_the_data_in_a_fresh_process(registry, capsys):
    argv = ["capabilities", "--data", "user_fixtures:make_tagged", "--kind", "data-make-tagged",
            "--serializer", "json", "--serializer", "pickle-5", "--format", "json"]
    assert main(argv) == 0
    cells = {c["serializer"]: c for c in json.loads(capsys.readouterr().out)["cells"]}
    assert (cells["json"]["outcome"], cells["json"]["error"]) == ("lossy", "[0]['tags']: tuple became list")
    assert cells["pickle-5"]["outcome"] == "ok"


def test_parquet_without_a_parquet_reader_is_one_line(tmp_path, registry, capsys):
    pytest.importorskip("pandas")
    try:
        import pyarrow  # noqa: F401
        pytest.skip("pyarrow is installed: bench reads Parquet")
    except ImportError:
        pass
    assert main(["run", "--data", "data/user/table.parquet", "-o", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ERROR: data/user/table.parquet: reading it needs"), err


@pytest.mark.slow
def test_ab_passes_the_data_to_both_sides(tmp_path):
    proc = run_bench("ab", "--python", sys.executable, "--python", sys.executable,
                     "--data", "user_fixtures:make_order", "-k", "ser/pickle-5/dumps/*", "--rounds", "1",
                     *QUICK_FLAGS[:-2], "--outdir", str(tmp_path))
    assert proc.returncode in (0, 1), proc.stderr
    import pyperf

    for side in "ab":
        suite = pyperf.BenchmarkSuite.load(str(tmp_path / f"{side}.json"))
        assert suite.get_benchmark_names() == ["ser/pickle-5/dumps/data-make_order/3"]


def test_the_answer_sorts_by_round_trip_and_keeps_the_label():
    import pandas as pd

    from bench.report.payload import answer_points

    rows = pd.DataFrame([
        {"subject": s, "op": op, "shape": "data-x", "size": 3, "mean": m, "ci_low": m * 0.9,
         "ci_high": m * 1.1, "payload_bytes": b, "peak_alloc_bytes": 100}
        for s, m, b in (("slow", 2e-6, 10), ("fast", 1e-6, 50), ("big-slow", 3e-6, 60))
        for op in ("dumps", "loads")])
    labels = pd.Series({("data-x", "fast"): "lossy: [0]: tuple became list", ("data-x", "slow"): "exact"})
    points = answer_points(rows, labels, "data-x")
    assert list(points["subject"]) == ["fast", "slow", "big-slow"]
    assert list(points["front"]) == [True, True, False]
    assert list(points["label"]) == ["lossy: [0]: tuple became list", "exact", "-"]


def test_a_files_data_has_one_size_in_every_profile(registry):
    from bench.run.cases import get_profile

    registry.load_specs(["data/user/orders.json", "user_fixtures:make_order"])
    full = [c for c in get_profile("full").list_cases() if c.shape.startswith("data-")]
    assert {c.size for c in full if c.shape == "data-orders"} == {3}
    assert {c.size for c in full if c.shape == "data-make_order"} == {3, 30}  # a callable scales (not to 0)


def test_the_smoke_profile_times_each_spec_once(registry):
    from bench.run.cases import get_profile

    assert not [c for c in get_profile("smoke").list_cases() if c.shape.startswith("data-")]
    registry.load_specs(["data/user/orders.json"])
    smoke = [c.name for c in get_profile("smoke").list_cases() if c.shape.startswith("data-")]
    assert smoke == ["ser/pickle-5/dumps/data-orders/3", "ser/pickle-5/loads/data-orders/3"]


def test_the_setup_records_the_data_and_resume_refuses_other_data(tmp_path, registry, capsys):
    out = str(tmp_path / "mine.json")
    common = ["run", "--profile", "smoke", "-k", "ser/pickle-5/*", "-o", out]
    assert main([*common, "--data", "data/user/orders.json"]) == 0
    setup = json.loads(Path(out).read_text())["bench_setup"]
    assert setup["data"] == [{"spec": "data/user/orders.json", "size": 3}]
    capsys.readouterr()
    registry.LOADED.clear()  # a new command line, as a second `bench` would start
    assert main([*common, "--data", "data/user/events.jsonl", "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"ERROR: {out}: not the same --data (data/user/orders.json (3 items) there, "
                          "data/user/events.jsonl (3 items) here)")
