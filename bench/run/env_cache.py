"""The cache of `bench ab --with` environments (bench.run.envs makes them): what it holds, which
are in use, and removing them.

An environment's marker (`bench-env.json`) is touched each time bench reuses it
(bench.run.envs.prepare_env), so its modification time is when it was last used. A `bench ab`
holds a shared flock on the environment's `.NAME.lock` while it runs in it (`hold_envs`);
removal takes the exclusive lock without waiting and keeps an environment that is in use. A
removed environment is first renamed to `.tmp-NAME-removed` (the name a killed build leaves,
which the next build of NAME clears), so an interrupted removal never leaves a half
environment that looks complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.run.envs import MARKER, lock_path

DAY = 86_400.0


@dataclass(frozen=True)
class CachedEnv:
    """One environment in the cache, as `bench envs` lists it."""

    name: str
    path: Path
    spec: str
    python: str
    created: str      # ISO 8601, as bench-env.json has it
    last_used: float  # seconds since the epoch (the marker's modification time)
    size: int         # bytes of its files
    in_use: bool      # a running bench holds it

    def as_dict(self) -> dict[str, object]:
        """The environment as `bench envs --format json` writes it."""
        return {"name": self.name, "path": str(self.path), "spec": self.spec, "python": self.python,
                "created": self.created, "last_used": time.strftime(
                    "%Y-%m-%dT%H:%M:%S%z", time.localtime(self.last_used)),
                "size_bytes": self.size, "in_use": self.in_use}


def list_envs(root: Path) -> list[CachedEnv]:
    """The complete environments under `root`, most recently used first ([] for no folder)."""
    found = []
    for path in sorted(root.glob("*")) if root.is_dir() else []:
        marker = path / MARKER
        if path.name.startswith(".") or not marker.is_file():
            continue
        try:
            info = json.loads(marker.read_text())
            used = marker.stat().st_mtime
        except (OSError, ValueError):
            continue
        found.append(CachedEnv(path.name, path, str(info.get("spec", "?")), str(info.get("python", "?")),
                               str(info.get("created", "?")), used, folder_size(path),
                               is_in_use(root, path.name)))
    return sorted(found, key=lambda env: -env.last_used)


def folder_size(path: Path) -> int:
    """Bytes of the files under `path` (links not followed)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


@contextlib.contextmanager
def hold_envs(paths: Iterable[Path]) -> Iterator[None]:
    """Hold a shared lock on each environment while a run uses it, so that removal keeps it."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fds = []
    try:
        for path in paths:
            fd = os.open(lock_path(path.parent, path.name), os.O_RDWR | os.O_CREAT, 0o644)
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        for fd in fds:
            os.close(fd)


def is_in_use(root: Path, name: str) -> bool:
    """True when another process holds the environment's lock (a bench running in it or making it)."""
    with exclusive(root, name) as free:
        return not free


@contextlib.contextmanager
def exclusive(root: Path, name: str) -> Iterator[bool]:
    """The environment's lock held exclusively, without waiting: yields False when it is taken."""
    try:
        import fcntl
    except ImportError:
        yield True
        return
    path = lock_path(root, name)
    if not path.exists():
        yield True
        return
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def remove_env(root: Path, name: str) -> bool:
    """Remove one environment unless it is in use (False then)."""
    with exclusive(root, name) as free:
        if not free:
            return False
        doomed = root / f".tmp-{name}-removed"
        shutil.rmtree(doomed, ignore_errors=True)
        os.rename(root / name, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        return True


def select_stale(found: Iterable[CachedEnv], older_than_days: float, now: float | None = None
                 ) -> list[CachedEnv]:
    """The environments last used more than `older_than_days` ago.

    >>> env = CachedEnv("a", Path("a"), "x==1", "3.11", "", last_used=0.0, size=0, in_use=False)
    >>> [e.name for e in select_stale([env], 1, now=2 * DAY)], select_stale([env], 3, now=2 * DAY)
    (['a'], [])
    """
    now = time.time() if now is None else now
    return [env for env in found if now - env.last_used > older_than_days * DAY]
