"""`bench envs`: the cache of `bench ab --with` environments (bench.run.env_cache), on caches of
stand-in environments (a folder with bench's marker), so nothing is installed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.run import env_cache, envs


def make_env(root: Path, name: str, spec: str, days_unused: float = 0.0, size: int = 1000) -> Path:
    """A stand-in environment: bench's marker and one file of `size` bytes."""
    path = root / name
    (path / "lib").mkdir(parents=True)
    (path / "lib" / "blob").write_bytes(b"x" * size)
    marker = path / envs.MARKER
    marker.write_text(json.dumps({"spec": spec, "python": "3.11.7", "created": "2026-12-01T10:00:00+0000"}))
    used = time.time() - days_unused * env_cache.DAY
    os.utime(marker, (used, used))
    return path


def names(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))


def test_the_list_gives_each_environment_most_recent_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    make_env(tmp_path, "cbor2-5.7.1-aaa", "cbor2==5.7.1", days_unused=3, size=5000)
    make_env(tmp_path, "cbor2-5.8.0-bbb", "cbor2==5.8.0", days_unused=1)
    (tmp_path / ".tmp-cbor2-9-ccc-x").mkdir()  # a killed build: not an environment
    (tmp_path / "stray").mkdir()               # no marker: not bench's
    assert main(["envs", "--env-dir", str(tmp_path), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in doc["environments"]] == ["cbor2-5.8.0-bbb", "cbor2-5.7.1-aaa"]
    assert doc["environments"][1]["size_bytes"] >= 5000
    assert not any(e["in_use"] for e in doc["environments"])
    assert main(["envs", "--env-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "cbor2==5.7.1" in out and "cbor2==5.8.0" in out
    assert out.splitlines()[-1].startswith("2 environment(s), 6.")  # 6,000 bytes and two markers
    assert out.splitlines()[-1].endswith(f" kB in {tmp_path}")


def test_prune_older_than_removes_only_the_unused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_env(tmp_path, "old-aaa", "x==1", days_unused=40)
    make_env(tmp_path, "new-bbb", "x==2", days_unused=2)
    assert main(["envs", "--env-dir", str(tmp_path), "--prune", "--older-than", "30"]) == 0
    assert "removed 1 environment(s)" in capsys.readouterr().err
    assert names(tmp_path) == ["new-bbb"]
    assert not list(tmp_path.glob(".tmp-*"))


def test_an_environment_in_use_is_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    held = make_env(tmp_path, "held-aaa", "x==1")
    make_env(tmp_path, "free-bbb", "x==2")  # 1,000 bytes and its marker: 1.07 kB
    with env_cache.hold_envs([held]):  # as bench ab --with holds its two sides while it runs
        assert {e.name: e.in_use for e in env_cache.list_envs(tmp_path)} == {"held-aaa": True,
                                                                             "free-bbb": False}
        assert main(["envs", "--env-dir", str(tmp_path), "--prune"]) == 0
        assert "removed 1 environment(s), 1.07 kB; kept 1 in use: held-aaa" in capsys.readouterr().err
        assert names(tmp_path) == ["held-aaa"]
    assert env_cache.remove_env(tmp_path, "held-aaa")
    assert names(tmp_path) == []


def test_remove_names_one_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_env(tmp_path, "a-aaa", "x==1")
    make_env(tmp_path, "b-bbb", "x==2")
    assert main(["envs", "--env-dir", str(tmp_path), "--remove", "a-aaa"]) == 0
    assert names(tmp_path) == ["b-bbb"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--remove", "nope"], "ERROR: --remove nope: no such environment in "),
    (["--older-than", "3"], "ERROR: --older-than needs --prune"),
])
def test_bad_requests_are_one_line_and_remove_nothing(argv: list[str], message: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    make_env(tmp_path, "a-aaa", "x==1")
    assert main(["envs", "--env-dir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert names(tmp_path) == ["a-aaa"]


def test_older_than_must_be_days(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["envs", "--env-dir", str(tmp_path), "--prune", "--older-than", "-1"])
    assert stop.value.code == 2
    assert "'-1': give a finite number, 0 or more" in capsys.readouterr().err


def test_an_empty_or_missing_cache_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["envs", "--env-dir", str(tmp_path / "none")]) == 0
    assert capsys.readouterr().out == f"no environments in {tmp_path / 'none'}\n"
