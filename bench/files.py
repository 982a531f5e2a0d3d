"""Output files: where a command's output goes, written whole or not at all.

- A regular file (or a new name) is replaced atomically: a temporary file `.tmp-*` beside
  it, fsync, rename. Several outputs of one command (`write_files`) are all staged before
  any is renamed, so a full disk leaves every old file as it was.
- A symlink is followed: its target is written and the link stays a link.
- What is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO with a reader) is written
  through, never replaced.
- An output is never one of the command's own inputs (`check_not_input`), `--force` or not.
- A results file that a run is writing is locked (`lock_output`): a second run on it is
  refused with the holder's pid, host and start time. The lock is an `flock` on a hidden
  `.NAME.lock` beside the file, so a killed run never leaves a stale lock.

Every failure is an OutputError (exit 2) with one line that starts with the path.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from bench.errors import OutputError

TMP_PREFIX = ".tmp-"  # temporary files of an atomic write; hidden, so folder listings skip them


# ---------------------------------------------------------------- checks before work starts

def target_of(path: str) -> str:
    """The file a write to `path` lands in: symlinks followed, made absolute.

    >>> target_of("/tmp/../tmp/x.json")
    '/tmp/x.json'
    """
    return os.path.realpath(path)


def is_special(path: str) -> bool:
    """True when `path` (after symlinks) exists and is not a regular file or a directory."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def describe_kind(path: str) -> str:
    """What a path is, in words: 'a FIFO', 'a character device', 'a directory' ..."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "missing"
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")]
    return next((words for test, words in kinds if test(mode)), "a special file")


def check_output(path: str, *, force: bool = False, append: bool = False,
                 option: str = "-o/--output") -> None:
    """Refuse an output that cannot or must not be written; create its parent folders.

    A missing name is fine; an existing regular file needs `force` (or `append`); what is
    not a regular file is written through and needs neither.
    """
    if not path or not path.strip():
        raise OutputError(f"{option}: empty file name")
    check_resolvable(path)
    target = target_of(path)
    if os.path.isdir(target):
        raise OutputError(f"{path}: is a directory, expected a file name")
    special = is_special(target)
    if append and (special or not os.path.exists(target)):
        raise OutputError(f"{path}: --append needs an existing results file")
    if os.path.exists(target) and not (force or append or special):
        raise OutputError(f"{path}: already exists (use --force to overwrite or --append to add)")
    if special:
        return
    parent = os.path.dirname(target)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create directory {parent} ({exc.strerror})") from None
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{path}: directory {parent} is not writable")


def check_resolvable(path: str) -> None:
    """Refuse a path whose symlinks loop (a write would replace the link, not follow it)."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"{path}: a symlink loop, not a file to write") from None


def same_file(a: str, b: str) -> bool:
    """True when two paths name one file (hard links and symlinks included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return target_of(a) == target_of(b)


def check_not_input(output: str, inputs: Iterable[str], option: str = "-o/--output") -> None:
    """Refuse to write onto a file the command reads (a special file is written through,
    so only regular files and new names are checked)."""
    if is_special(target_of(output)):
        return
    for source in inputs:
        if os.path.isdir(source):
            clash = [p for p in Path(source).iterdir() if same_file(output, str(p))]
            if clash:
                raise OutputError(f"{option} {output}: is {clash[0]}, an input of this command; "
                                  "choose another output")
        elif same_file(output, source):
            raise OutputError(f"{option} {output}: is an input of this command ({source}); "
                              "choose another output")


# ---------------------------------------------------------------- writing

def write_atomic(path: str, content: str | bytes) -> None:
    """Write one output (see the module docstring); OutputError on failure."""
    write_files([(path, content)])


def write_files(outputs: Sequence[tuple[str, str | bytes]]) -> None:
    """Write several outputs whole or not at all: stage every regular file's temporary copy,
    then write the special files through and rename the staged copies."""
    staged: list[tuple[str, str, str]] = []  # (temporary, target, path as given)
    try:
        specials = []
        for path, content in outputs:
            # text from a file may hold a lone surrogate ("\ud800" in its JSON): kept, escaped
            data = content.encode("utf-8", "backslashreplace") if isinstance(content, str) else content
            check_resolvable(path)
            target = target_of(path)
            if is_special(target):
                specials.append((path, target, data))
            else:
                staged.append((stage_copy(path, target, data), target, path))
        for path, target, data in specials:
            write_through(path, target, data)
        for tmp, target, path in staged:
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
        staged.clear()
    finally:
        for tmp, _, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def temporary_prefix(target: str) -> str:
    """The name a temporary copy of `target` starts with (no `.json` suffix: never read as a run).

    >>> temporary_prefix("/r/latest.json")
    '.tmp-latest.json.'
    """
    return f"{TMP_PREFIX}{os.path.basename(target)}."


def stage_copy(path: str, target: str, data: bytes) -> str:
    """A temporary file beside `target` holding `data`, synced, with a new file's permissions."""
    directory = os.path.dirname(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(target), dir=directory)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write in {directory} ({exc.strerror})") from None
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
        raise
    return tmp


def write_through(path: str, target: str, data: bytes) -> None:
    """Write into a file that is not regular (a device, a FIFO) without replacing it."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK)  # a FIFO without a reader: ENXIO, no hang
    except OSError as exc:
        reason = "a FIFO with no reader" if exc.errno == errno.ENXIO else exc.strerror
        raise OutputError(f"{path}: cannot write ({reason})") from None
    try:
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
    finally:
        os.close(fd)


# ---------------------------------------------------------------- the lock of a run's output

def lock_path(path: str) -> str:
    """`results/latest.json` -> `results/.latest.json.lock` (beside the file it guards)."""
    target = target_of(path)
    return os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.lock")


@contextlib.contextmanager
def lock_output(path: str, command: str = "bench run") -> Iterator[None]:
    """Hold `path` for one writer: OutputError naming the holder when another process has it.

    Stale temporary copies of `path` (a writer killed during a save) are removed once the
    lock is held. Special files are not locked.
    """
    try:
        import fcntl
    except ImportError:  # no flock on this platform: no lock
        yield
        return
    if is_special(target_of(path)):
        yield
        return
    lock = lock_path(path)
    try:
        os.makedirs(os.path.dirname(lock), exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create directory {os.path.dirname(lock)} "
                          f"({exc.strerror})") from None
    fd = acquire_lock(path, lock, fcntl)
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": command}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        remove_stale_copies(path)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def acquire_lock(path: str, lock: str, fcntl: object) -> int:
    """An open descriptor of `lock` holding its flock; the file is re-opened when another
    process unlinked it between our open and our lock."""
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"{path}: cannot create its lock {lock} ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # type: ignore[attr-defined]
        except OSError:
            holder = describe_holder(fd)
            os.close(fd)
            raise OutputError(f"{path}: in use by another run ({holder}; lock {lock}); wait for "
                              "it to finish or write elsewhere") from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def describe_holder(fd: int) -> str:
    """Who holds a lock, from what it wrote into the lock file."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info['pid']} on {info['host']} since {info['since']}, {info['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


def remove_stale_copies(path: str) -> None:
    """Delete temporary copies of `path` left by a writer that was killed during a save."""
    target = target_of(path)
    folder, prefix = os.path.dirname(target), temporary_prefix(target)
    with contextlib.suppress(OSError):
        for entry in os.listdir(folder):
            if entry.startswith(prefix) and len(entry) == len(prefix) + 8:  # mkstemp's 8 letters
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(folder, entry))
