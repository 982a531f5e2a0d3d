"""`bench ab --with SPEC`: cached environments per side (bench.run.envs), and subjects that are
optional (the core installs none of them)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pyperf
import pytest

from bench.errors import InputError
from bench.run import envs
from tests.conftest import bench_env

ROOT = Path(__file__).resolve().parents[1]


def hiding(tmp_path: Path, *modules: str) -> dict[str, str]:
    """A `bench` subprocess environment in which `modules` cannot be imported (a sitecustomize
    that sets them to None in sys.modules, in every process bench starts)."""
    folder = tmp_path / "hide"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in modules))
    env = bench_env()
    env["PYTHONPATH"] = os.pathsep.join([str(folder), env["PYTHONPATH"]])
    return env


@pytest.mark.slow
def test_a_missing_subject_is_skipped_with_its_reason(tmp_path: Path) -> None:
    env = hiding(tmp_path, "cbor2", "dill")
    listed = subprocess.run([sys.executable, "-m", "bench", "list", "--profile", "smoke",
                             "--format", "json"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    assert doc["skipped"]["cbor2"] == "python package 'cbor2' is not installed"
    assert doc["skipped"]["dill"] == "python package 'dill' is not installed"
    assert not [name for name in doc["cases"] if "/cbor2/" in name or "/dill/" in name]
    out = tmp_path / "r.json"
    run = subprocess.run([sys.executable, "-m", "bench", "run", "--profile", "smoke", "-k", "ser/*",
                          "--no-capabilities", "-o", str(out)], capture_output=True, text=True,
                         env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "skipped cbor2: python package 'cbor2' is not installed" in run.stderr
    names = [b["metadata"]["name"] for b in json.loads(out.read_text())["benchmarks"]]
    assert "ser/pickle-5/dumps/ints/10" in names
    assert not [name for name in names if "cbor2" in name or "dill" in name]


def test_the_core_dependencies_name_no_subject() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    for subject in ("dill", "cloudpickle", "msgpack", "msgspec", "orjson", "cbor2", "dask", "toolz"):
        assert subject not in core
        assert any(item.startswith(subject) for item in project["optional-dependencies"]["all"])
    assert not [item for item in project["optional-dependencies"]["all"] if ">" in item]


def left_out_of_environments() -> list[str]:
    """bench's core dependencies that an environment of `--with` does not install."""
    names = [envs.requirement_name(r) for r in re.findall(r'"([^"]+)"', envs.bench_dependencies(ROOT))]
    return [name for name in names if name not in envs.WORKER_NEEDS]


def test_an_environment_installs_only_what_bench_s_processes_need() -> None:
    assert envs.bench_install_args()[0] == "--no-deps"
    needed = envs.worker_requirements(ROOT)
    core = re.findall(r'"([^"]+)"', envs.bench_dependencies(ROOT))
    assert sorted(envs.requirement_name(r) for r in needed) == sorted(envs.WORKER_NEEDS)
    assert set(needed) <= set(core)  # with the floors pyproject.toml gives them
    assert {"pandas", "matplotlib", "scipy"} <= set(left_out_of_environments())


@pytest.mark.slow
def test_bench_s_processes_in_an_environment_run_without_the_rest(tmp_path: Path) -> None:
    """Workers, counters and `bench list` on an interpreter where the core dependencies an
    environment leaves out cannot be imported (a `.pth` sets them to None at start)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "env")], check=True)
    python = str(envs.env_python(tmp_path / "env"))
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    hidden = left_out_of_environments()
    Path(site, "_hide.pth").write_text(f"import sys; sys.modules.update(dict.fromkeys({hidden!r}))\n")
    Path(site, "_inherit.pth").write_text("\n".join(envs.inherited_paths(sys.executable)) + "\n")
    assert subprocess.run([python, "-c", "import pandas"], capture_output=True).returncode != 0
    listed = subprocess.run([python, "-m", "bench", "list", "--profile", "smoke", "--format", "json"],
                            capture_output=True, text=True, env=bench_env(), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    chosen = ["ser/pickle-5/dumps/ints/10", "ser/msgpack/dumps/ints/10", "ser/pickle-5/loads/ints/10",
              "fold/numpy/sum/list/100",
              "fold/reduce-lambda/sum/list/100", "ref/memcpy/copy/bytes/1000"]
    assert set(chosen) <= set(json.loads(listed.stdout)["cases"])
    metrics = ["time"] + (["instructions"] if shutil.which("valgrind") else [])
    for metric in metrics:
        out = tmp_path / f"{metric}.json"
        run = subprocess.run([sys.executable, "-m", "bench", "run", "--profile", "smoke", "--python", python,
                              *[f"-k={name}" for name in chosen], "--metric", metric,
                              "--no-capabilities", "-o", str(out)],
                             capture_output=True, text=True, env=bench_env(), cwd=tmp_path, timeout=600)
        assert run.returncode == 0, run.stderr
        names = {b["metadata"]["name"] for b in json.loads(out.read_text())["benchmarks"]}
        assert names == set(chosen), (metric, run.stderr)


# ---------------------------------------------------------------- specs

def test_a_table_given_with_data_adds_its_readers_to_each_side(tmp_path: Path) -> None:
    from bench.subjects import user_data

    (tmp_path / "o.csv").write_text("a\n1\n")
    (tmp_path / "o.parquet").write_bytes(b"")
    assert user_data.readers_needed([str(tmp_path / "o.csv"), "json:dumps"]) == ["pandas"]
    assert user_data.readers_needed([str(tmp_path / "o.parquet")]) == ["pandas", "pyarrow"]
    spec = envs.with_packages(envs.parse_spec("cbor2==5.7.1"), ["pandas"])
    assert spec.text == "cbor2==5.7.1" and spec.items == ("cbor2==5.7.1", "pandas")
    settings = envs.EnvSettings(tmp_path / "envs", installer="pip")
    assert envs.env_name(spec, settings).startswith("cbor2-5.7.1-pandas-")
    assert envs.env_name(spec, settings) != envs.env_name(envs.parse_spec("cbor2==5.7.1"), settings)


def test_a_spec_splits_on_commas_but_keeps_a_version_range() -> None:
    spec = envs.parse_spec("cbor2>=5,<6, msgpack==1.0.8")
    assert spec.items == ("cbor2>=5,<6", "msgpack==1.0.8")
    assert spec.paths() == []


def test_a_path_spec_is_made_absolute(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "pyproject.toml").write_text("[project]\nname = 'lib'\nversion = '1'\n")
    spec = envs.parse_spec(f"{tmp_path}/lib,six==1.16.0")
    assert spec.items == (str(tmp_path / "lib"), "six==1.16.0")
    assert spec.paths() == [str(tmp_path / "lib")]


def test_a_folder_that_is_not_a_python_project_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^--with .*: not a Python project \(no pyproject.toml"):
        envs.parse_spec(str(tmp_path))
    with pytest.raises(InputError, match=r"^--with ./no-such-folder: no such folder"):
        envs.parse_spec("./no-such-folder")
    with pytest.raises(InputError, match="give a pip requirement"):
        envs.parse_spec(" , ")


def test_the_environment_name_follows_the_spec_and_a_checkout_s_files(tmp_path: Path) -> None:
    project = tmp_path / "lib"
    project.mkdir()
    (project / "setup.py").write_text("")
    settings = envs.EnvSettings(tmp_path / "envs", installer="pip")
    first = envs.env_name(envs.parse_spec(str(project)), settings)
    assert first.startswith("lib-") and first == envs.env_name(envs.parse_spec(str(project)), settings)
    (project / "lib.py").write_text("X = 1\n")
    assert envs.env_name(envs.parse_spec(str(project)), settings) != first
    one = envs.env_name(envs.parse_spec("cbor2==5.6.5"), settings)
    assert one.startswith("cbor2-5.6.5-")
    assert one != envs.env_name(envs.parse_spec("cbor2==5.7.1"), settings)
    inherit = envs.EnvSettings(tmp_path / "envs", inherit=True, installer="pip")
    assert one != envs.env_name(envs.parse_spec("cbor2==5.6.5"), inherit)


def test_a_change_to_bench_s_dependencies_makes_new_environments(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "pyproject.toml"
    project.write_text('[project]\nname = "serbench"\ndependencies = [\n    "pyperf>=2.8",\n]\n'
                       '[tool.x]\ny = 1\n')
    monkeypatch.setattr(envs, "bench_checkout", lambda: tmp_path)
    settings = envs.EnvSettings(tmp_path / "envs", installer="pip")
    spec = envs.parse_spec("cbor2==5.7.1")
    first = envs.env_name(spec, settings)
    project.write_text(project.read_text().replace("y = 1", "y = 2"))  # not a dependency
    assert envs.env_name(spec, settings) == first
    project.write_text(project.read_text().replace("pyperf>=2.8", "pyperf>=2.9"))
    assert envs.env_name(spec, settings) != first


def test_the_default_cache_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert envs.default_env_dir() == Path("/somewhere/bench/envs")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert envs.default_env_dir() == Path.home() / ".cache" / "bench" / "envs"



# ---------------------------------------------------------------- environments

STAND_IN = ("import pickle\n\n"
            "dumps, loads, dump, load = pickle.dumps, pickle.loads, pickle.dump, pickle.load\n")


def make_project(folder: Path, name: str, version: str, code: str) -> Path:
    """A tiny project (its own build backend, so nothing is downloaded) of one package."""
    (folder / name).mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "tiny_backend"\nbackend-path = ["."]\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n')
    (folder / "tiny_backend.py").write_text((TESTS_DATA / "tiny_backend.py").read_text())
    (folder / name / "__init__.py").write_text(code)
    return folder


TESTS_DATA = Path(__file__).parent / "data" / "envs"


def offline() -> dict[str, str]:
    """A `bench` subprocess environment in which pip downloads nothing."""
    return {**bench_env(), "PIP_NO_INDEX": "1"}


def ab_with(tmp_path: Path, a: str, b: str, *more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", "ab", "--with", a, "--with", b,
                           "--env-dir", str(tmp_path / "envs"), "--env-inherit",
                           "--outdir", str(tmp_path / "ab"), *more], capture_output=True,
                          text=True, env=offline(), cwd=tmp_path, timeout=240)


@pytest.mark.slow
def test_ab_with_two_checkouts_makes_two_environments_once(tmp_path: Path) -> None:
    # two versions of a stand-in for cbor2 (pickle under its name), as checkouts of a library
    make_project(tmp_path / "cbor2-old", "cbor2", "1.0", STAND_IN)
    make_project(tmp_path / "cbor2-new", "cbor2", "2.0", STAND_IN)
    options = ["-k", "ser/cbor2/*", "--rounds", "2", "--fail-on", "never"]
    first = ab_with(tmp_path, "./cbor2-old", "./cbor2-new", *options)
    assert first.returncode == 0, first.stderr
    assert "creating the environment of A (./cbor2-old)" in first.stderr
    assert "creating the environment of B (./cbor2-new)" in first.stderr
    assert "created 2 environment(s) in" in first.stderr
    assert f"cbor2  @ file://{tmp_path}/cbor2-old | @ file://{tmp_path}/cbor2-new" in first.stderr
    assert "ser/cbor2/dumps/ints/10" in first.stdout
    for side, version in (("a", "1.0"), ("b", "2.0")):  # each side timed its own version
        suite = pyperf.BenchmarkSuite.load(str(tmp_path / "ab" / f"{side}.json"))
        assert {b.get_metadata()["subject_version"] for b in suite} == {version}
    made = sorted(p.name for p in (tmp_path / "envs").iterdir() if not p.name.startswith("."))
    assert len(made) == 2 and made[0].startswith("cbor2-new-") and made[1].startswith("cbor2-old-")
    assert not list((tmp_path / "envs").glob(".tmp-*"))

    markers = [tmp_path / "envs" / name / envs.MARKER for name in made]
    for marker in markers:  # made long ago: the reuse below records its use
        os.utime(marker, (1e9, 1e9))
    second = ab_with(tmp_path, "./cbor2-old", "./cbor2-new", *options, "--force")
    assert second.returncode == 0, second.stderr
    assert "creating" not in second.stderr
    assert "reusing the environment of A (./cbor2-old)" in second.stderr
    assert "reusing the environment of B (./cbor2-new)" in second.stderr
    assert sorted(p.name for p in (tmp_path / "envs").iterdir() if not p.name.startswith(".")) == made
    assert all(marker.stat().st_mtime > 1e9 for marker in markers)

    listed = subprocess.run([sys.executable, "-m", "bench", "envs", "--env-dir", str(tmp_path / "envs"),
                             "--format", "json"], capture_output=True, text=True, env=offline())
    assert listed.returncode == 0, listed.stderr
    assert sorted(e["name"] for e in json.loads(listed.stdout)["environments"]) == made
    pruned = subprocess.run([sys.executable, "-m", "bench", "envs", "--env-dir", str(tmp_path / "envs"),
                             "--prune"], capture_output=True, text=True, env=offline())
    assert pruned.returncode == 0, pruned.stderr
    assert "removed 2 environment(s)" in pruned.stderr
    assert not [p for p in (tmp_path / "envs").iterdir() if not p.name.endswith(".lock")]


@pytest.mark.slow
def test_a_spec_pip_cannot_install_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    done = ab_with(tmp_path, "cbor2==99.0.0", "cbor2==98.0.0", "-k", "ser/cbor2/*")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == ("ERROR: --with cbor2==99.0.0: pip could not install "
                                            "it: No matching distribution found for cbor2==99.0.0")
    assert [line for line in done.stderr.splitlines() if line.startswith("ERROR")] == \
        [done.stderr.splitlines()[-1]]
    assert not [p for p in (tmp_path / "envs").iterdir() if not p.name.endswith(".lock")]
    assert not list(tmp_path.glob("ab/*.json"))


def test_a_with_path_that_is_not_a_project_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    from bench.cli import main

    (tmp_path / "empty").mkdir()
    code = main(["ab", "--with", str(tmp_path / "empty"), "--with", "cbor2==5.7.1",
                 "--env-dir", str(tmp_path / "envs"), "--outdir", str(tmp_path / "ab")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == (f"ERROR: --with {tmp_path / 'empty'}: not a Python project (no pyproject.toml, "
                   "setup.py, setup.cfg)")
    assert not (tmp_path / "envs").exists()


@pytest.mark.parametrize("argv, message", [
    (["--with", "cbor2==5.7.1"], "--with: give exactly two specs, A then B (got 1)"),
    (["--with", "a", "--with", "b", "--python", sys.executable, "--python", sys.executable],
     "--with and --python: give one or the other"),
    ([], "--python: give exactly two interpreters, A then B (got 0), or two --with specs"),
])
def test_ab_needs_two_specs_or_two_interpreters(argv: list[str], message: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    assert main(["ab", *argv, "--outdir", str(tmp_path / "ab")]) == 2
    assert capsys.readouterr().err.strip() == f"ERROR: {message}"


@pytest.mark.slow
def test_two_processes_making_one_environment_make_it_once(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    make_project(tmp_path / "lib", "tinylib", "1.0", "X = 1\n")
    spec = envs.parse_spec(str(tmp_path / "lib"))
    settings = envs.EnvSettings(tmp_path / "envs", inherit=True, installer="pip")
    made: list[envs.Env] = []
    waited: list[Path] = []
    threads = [threading.Thread(target=lambda: made.append(envs.prepare_env(spec, settings,
                                                                            on_wait=waited.append)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(env.created for env in made) == [False, True]  # one made it, one reused it
    assert len(waited) == 1 and made[0].path == made[1].path == waited[0]
    assert made[0].freeze == made[1].freeze and any("tinylib" in line for line in made[0].freeze)
    check = subprocess.run([made[0].python, "-c", "import tinylib, bench; print(tinylib.X)"],
                           capture_output=True, text=True)
    assert check.stdout.strip() == "1", check.stderr
