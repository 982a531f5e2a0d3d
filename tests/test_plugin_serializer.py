"""A brand-new serializer is one entry: the test plugin `bench_newcomer` registers `zlib-pickle` with
a name and two functions, and it reaches every place a serializer goes, with no other edit."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import bench_env

NAME = "zlib-pickle"
PLUGIN = ["--plugin", "bench_newcomer"]
REPORT = Path(__file__).parent / "data" / "report" / "py311.json"


def bench_json(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench", *args, *PLUGIN, "--format", "json"],
                          capture_output=True, text=True, env=bench_env(), timeout=240)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def newcomer(monkeypatch):
    """The plugin loaded in this process; the registries and the list of loaded plugins (which
    the processes bench starts are given) restored afterwards."""
    from bench.run import plugins
    from bench.subjects.serializers import SERIALIZERS
    from bench.subjects.ship import TRANSPORTS

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "plugins"))
    monkeypatch.setattr(plugins, "LOADED_PLUGINS", list(plugins.LOADED_PLUGINS))
    monkeypatch.setattr("bench.subjects.serializers.SERIALIZERS", SERIALIZERS)
    before = (dict(SERIALIZERS), dict(TRANSPORTS))
    sys.modules.pop("bench_newcomer", None)
    plugins.load_plugins(["bench_newcomer"])
    yield SERIALIZERS[NAME]
    for registry, saved in zip((SERIALIZERS, TRANSPORTS), before, strict=True):
        registry.clear()
        registry.update(saved)
    sys.modules.pop("bench_newcomer", None)


def test_it_is_listed_and_available():
    doc = bench_json("list")
    entry = next(s for s in doc["serializers"] if s["name"] == NAME)
    assert entry["available"] and entry["note"]


def test_the_quick_and_ship_profiles_time_it():
    from bench.subjects.shapes import SHAPES

    quick = bench_json("list", "--profile", "quick")["cases"]
    assert {c.split("/")[3] for c in quick if c.startswith(f"ser/{NAME}/")} == set(SHAPES)
    ship = bench_json("list", "--profile", "ship")["cases"]
    assert any(c.startswith(f"ship/socket-{NAME}/data/") for c in ship)


def test_the_capability_matrix_probes_it():
    doc = bench_json("capabilities", "--serializer", NAME, "--kind", "int", "--kind", "lambda")
    outcomes = {cell["kind"]: cell["outcome"] for cell in doc["cells"] if cell["serializer"] == NAME}
    assert outcomes == {"int": "ok", "lambda": outcomes["lambda"]} and outcomes["lambda"] != "ok"


def test_its_facts_have_working_defaults(newcomer):
    from bench.run.cases import parse_case
    from bench.run.shards import case_costs
    from bench.run.worker import watched_libraries
    from bench.subjects.ship import TRANSPORTS

    assert not newcomer.has_file_form and newcomer.module == "bench_newcomer"
    socket = TRANSPORTS[f"socket-{NAME}"]
    assert socket.serializer == NAME and socket.marker
    assert "bench_newcomer" in watched_libraries()
    case = parse_case(f"ser/{NAME}/dumps/records/1000")
    assert case_costs([case], [])[case.name] > 0


@pytest.mark.slow
def test_every_report_figure_shows_it(newcomer, tmp_path):
    from bench.report.render import build_report

    def figures(html: str) -> list[str]:
        return re.findall(r"<svg.*?</svg>", html, flags=re.S)

    doc = json.loads(REPORT.read_text())
    for bench in list(doc["benchmarks"]):
        if bench["metadata"]["bench_subject"] == "cloudpickle":  # the newcomer's cases: copies
            copy = json.loads(json.dumps(bench))
            meta = copy["metadata"]
            meta["bench_subject"], meta["name"] = NAME, meta["name"].replace("/cloudpickle/", f"/{NAME}/")
            doc["benchmarks"].append(copy)
    added = tmp_path / "py311.json"
    added.write_text(json.dumps(doc))
    html = build_report([str(added)])
    # Every figure and table that shows cloudpickle among the serializers shows the newcomer too;
    # those of the general picklers (the newcomer ships no code) and of the claims are apart.
    showing = [svg for svg in figures(html) if "cloudpickle" in svg and "General picklers" not in svg]
    assert len(showing) >= 3, "the fixture's figures show cloudpickle"
    assert all(NAME in svg for svg in showing)
    tables = [t for t in re.findall(r"<table.*?</table>", html, flags=re.S)
              if "cloudpickle" in t and ">claim<" not in t and "time / pickle-5" not in t]
    assert all(NAME in t for t in tables)


@pytest.mark.slow
def test_a_run_times_it_in_an_isolated_worker(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "--profile", "smoke", *PLUGIN,
                           "-k", f"ser/{NAME}/*", "-o", str(out), "--no-capabilities"],
                          capture_output=True, text=True, env=bench_env(), timeout=240)
    assert proc.returncode == 0, proc.stderr
    from bench.results import read_results

    [bench] = read_results(out).benchmarks
    assert bench.get_name() == f"ser/{NAME}/dumps/ints/10"
    imported = {run.get_metadata()["bench_imported"] for run in bench.get_runs() if run.values}
    assert imported == {"bench_newcomer"}  # its own library, and no other serializer's
