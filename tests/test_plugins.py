"""The registration API (`bench.register_serializer`, `register_shape`, `register_style`) and plugin
discovery: `--plugin MODULE[:FUNCTION]` and the `bench.plugins` entry points of installed
distributions."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import bench_env

import bench
from bench.errors import InputError
from bench.run import plugins
from bench.subjects.folds import STYLES, get_fold
from bench.subjects.serializers import SERIALIZERS, classify_roundtrip
from bench.subjects.shapes import SHAPES, build_shape
from bench.subjects.ship import TRANSPORTS

PLUGIN_SOURCE = '''
"""A plugin as a distribution ships it: registration in a function its entry point names."""
import json

import bench


def encode(obj):
    return json.dumps(obj, sort_keys=True).encode()


def decode(payload):
    return json.loads(payload)


def register():
    bench.register_serializer("epdemo-json", dumps=encode, loads=decode)
    bench.register_style("epdemo-sum", {"sum": lambda xs: sum(xs)})
'''


@pytest.fixture
def registries():
    """The registries as they were, restored after the test."""
    saved = [(registry, dict(registry)) for registry in (SERIALIZERS, SHAPES, STYLES, TRANSPORTS)]
    yield
    for registry, before in saved:
        registry.clear()
        registry.update(before)


def test_the_package_exports_the_api_without_importing_it():
    code = ("import sys, bench; before = set(sys.modules); f = bench.register_shape; "
            "print(sorted(m for m in before if m.startswith('bench')), f.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["['bench']", "bench.subjects.shapes"]
    with pytest.raises(AttributeError, match="no attribute 'register_nothing'"):
        bench.register_nothing  # noqa: B018


def test_a_serializer_is_a_name_and_two_functions(registries):
    entry = bench.register_serializer("rev-json", dumps=lambda o: json.dumps(o)[::-1],
                                      loads=lambda p: json.loads(p[::-1]))
    assert SERIALIZERS["rev-json"] is entry and not entry.has_file_form and entry.socket
    assert classify_roundtrip(entry.codec(), {"a": [1, 2]}).status == "ok"


def test_a_shape_and_a_style_register_and_build(registries):
    bench.register_shape("pairs", lambda n, rng: [(i, rng.random()) for i in range(n)], "n pairs")
    assert build_shape("pairs", 4) == build_shape("pairs", 4) and len(build_shape("pairs", 4)) == 4
    bench.register_style("builtin-sum", {"sum": sum, "max": max}, color="#123456", marker="x")
    assert STYLES["builtin-sum"].tasks == ("sum", "max") and STYLES["builtin-sum"].module is None
    assert get_fold("builtin-sum", "max")([3, 9, 2]) == 9


@pytest.mark.parametrize("call, message", [
    (lambda: bench.register_serializer("Pickle/2", repr, eval), "lower-case name"),
    (lambda: bench.register_serializer("pickle-5", repr, eval), "already registered"),
    (lambda: bench.register_shape("ints", lambda n, r: []), "already registered"),
    (lambda: bench.register_style("s p", {"sum": sum}), "lower-case name"),
    (lambda: bench.register_style("odd", {"median": sum}), "unknown: median"),
    (lambda: bench.register_style("none", {}), "none given"),
])
def test_a_bad_registration_is_one_clear_error(registries, call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_a_module_function_plugin_is_called_once(registries, tmp_path, monkeypatch):
    (tmp_path / "bench_fnplugin.py").write_text(PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins, "LOADED_PLUGINS", [])
    plugins.load_plugins(["bench_fnplugin:register", "bench_fnplugin:register"])
    assert "epdemo-json" in SERIALIZERS and "epdemo-sum" in STYLES
    assert plugins.LOADED_PLUGINS == ["bench_fnplugin:register"]
    with pytest.raises(InputError, match="has no function 'nope'"):
        plugins.load_plugins(["bench_fnplugin:nope"])
    sys.modules.pop("bench_fnplugin", None)


def build_wheel(folder: Path, name: str, source: str, entry: str) -> Path:
    """A wheel of one module whose `bench.plugins` entry point is `entry`, as a build backend makes it."""
    dist = f"{name}-1.0.dist-info"
    wheel = folder / f"{name}-1.0-py3-none-any.whl"
    files = {f"{name}.py": source,
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
             f"{dist}/WHEEL": ("Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                               "Tag: py3-none-any\n"),
             f"{dist}/entry_points.txt": f"[bench.plugins]\ndemo = {entry}\n"}
    files[f"{dist}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{dist}/RECORD"])
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def install_wheel(wheel: Path, target: Path) -> dict[str, str]:
    """pip-install a wheel into `target` (offline) and return a bench environment that sees it."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                    "--disable-pip-version-check", "--target", str(target), str(wheel)], check=True)
    env = bench_env()
    env["PYTHONPATH"] = f"{target}{':' + env['PYTHONPATH'] if env.get('PYTHONPATH') else ''}"
    return env


@pytest.mark.slow
def test_an_installed_distribution_adds_itself(tmp_path):
    env = install_wheel(build_wheel(tmp_path, "bench_epdemo", PLUGIN_SOURCE, "bench_epdemo:register"),
                        tmp_path / "site")

    def bench_cmd(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                              env={**env, **extra}, timeout=240)

    listed = json.loads(bench_cmd("list", "--format", "json").stdout)
    assert "epdemo-json" in {s["name"] for s in listed["serializers"]}
    quick = json.loads(bench_cmd("list", "--profile", "quick", "--format", "json").stdout)["cases"]
    assert "ser/epdemo-json/dumps/records/1000" in quick and "fold/epdemo-sum/sum/list/1000" in quick
    hidden = json.loads(bench_cmd("list", "--format", "json", BENCH_DISABLE_PLUGIN_AUTOLOAD="1").stdout)
    assert "epdemo-json" not in {s["name"] for s in hidden["serializers"]}

    out = tmp_path / "r.json"
    proc = bench_cmd("run", "--profile", "smoke", "-k", "ser/epdemo-json/*", "-k", "fold/epdemo-sum/*",
                     "-o", str(out), "--no-capabilities")
    assert proc.returncode == 0, proc.stderr
    from bench.results import read_results

    benchmarks = read_results(out).benchmarks
    assert {b.get_name().split("/")[1] for b in benchmarks} == {"epdemo-json", "epdemo-sum"}
    imported = {run.get_metadata()["bench_imported"] for b in benchmarks for run in b.get_runs()
                if run.values}
    assert imported == {"bench_epdemo"}  # the plugin's own module, loaded in the isolated worker


@pytest.mark.slow
def test_a_broken_installed_plugin_names_its_distribution(tmp_path):
    wheel = build_wheel(tmp_path, "bench_broken", "raise ImportError('needs zstandard')\n", "bench_broken")
    env = install_wheel(wheel, tmp_path / "site")
    proc = subprocess.run([sys.executable, "-m", "bench", "list"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith("ERROR: plugin 'bench_broken': cannot import it (needs zstandard)")
    assert "bench_broken's bench.plugins entry point" in line and "BENCH_DISABLE_PLUGIN_AUTOLOAD=1" in line
    assert subprocess.run([sys.executable, "-m", "bench", "list"], capture_output=True,
                          env={**env, "BENCH_DISABLE_PLUGIN_AUTOLOAD": "1"}, timeout=120).returncode == 0


def test_the_readme_shows_the_least_a_user_writes():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert 'bench.register_serializer("zlib-pickle", dumps=' in readme
    assert "[project.entry-points.\"bench.plugins\"]" in readme
