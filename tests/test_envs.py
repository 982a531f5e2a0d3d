"""`bench ab --with SPEC`: cached environments per side (bench.run.envs), and subjects that are
optional (the core installs none of them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


# ---------------------------------------------------------------- specs

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


def test_the_default_cache_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert envs.default_env_dir() == Path("/somewhere/bench/envs")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert envs.default_env_dir() == Path.home() / ".cache" / "bench" / "envs"
