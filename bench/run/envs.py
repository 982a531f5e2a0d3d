"""The environments of `bench ab --with SPEC`: one cached virtual environment per side.

A SPEC is one or more pip requirements (`cbor2==5.7.1`, several joined by commas) or local paths
to a checkout of a Python project. Each side gets a virtual environment under a cache folder,
named after its spec and keyed by the spec (a checkout by its files' sizes and times), bench's
version and where it comes from, the interpreter and the installer. The spec, bench (this
checkout, or the installed distribution's version) and, of bench's core dependencies, only
those its processes there import (`WORKER_NEEDS`: workers, counters, `bench list`; the analysis,
report and figures run in the orchestrator) are installed into it; `uv` does it when it is on
PATH, else `python -m venv` and pip. With `inherit`, the
environment sees the packages of the interpreter bench runs on after its own (a `.pth` file):
bench and its dependencies are not installed again, only the spec is (quicker, and offline when
the spec needs no download).

An environment is built in a temporary folder beside its final one under an flock on
`.NAME.lock` and renamed into place complete with `bench-env.json`, so a second bench process
waits, then reuses it, and a failed or interrupted build leaves nothing cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import bench
from bench.errors import InputError

MARKER = "bench-env.json"   # written last, inside the temporary folder, before the rename
PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
SKIPPED_DIRS = {".git", ".hg", ".svn", "__pycache__", "build", "dist", ".tox", ".nox", ".venv",
                "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
INSTALL_TIMEOUT = 1800  # seconds one installer call may take
# bench's core dependencies that the processes bench starts in an environment import; the
# others (pandas, matplotlib, scipy ...) stay out of it (tests/test_envs.py runs them hidden)
WORKER_NEEDS = ("pyperf", "numpy")


@dataclass(frozen=True)
class Spec:
    """One side's `--with` text: the requirements and absolute project paths it names."""

    text: str
    items: tuple[str, ...]

    def paths(self) -> list[str]:
        """The local project folders among the items."""
        return [item for item in self.items if os.path.isabs(item)]


@dataclass(frozen=True)
class EnvSettings:
    """Where environments are cached, and how they are made."""

    root: Path
    inherit: bool = False          # see the running interpreter's packages after the env's own
    python: str = sys.executable   # the interpreter the environments are made from
    installer: str = field(default_factory=lambda: "uv" if shutil.which("uv") else "pip")


@dataclass(frozen=True)
class Env:
    """A side's ready environment: its interpreter and its `pip freeze`."""

    spec: Spec
    path: Path
    python: str
    created: bool      # made by this call (False: reused from the cache)
    seconds: float     # how long making it took (0 when reused)
    freeze: tuple[str, ...]


def default_env_dir() -> Path:
    """The cache folder of environments: $XDG_CACHE_HOME/bench/envs, else ~/.cache/bench/envs."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bench" / "envs"


def split_requirements(text: str) -> list[str]:
    """The items of a comma-joined spec; a piece that starts with a version operator belongs to
    the requirement before it.

    >>> split_requirements("cbor2>=5,<6, msgpack==1.0.8")
    ['cbor2>=5,<6', 'msgpack==1.0.8']
    """
    items: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        if items and re.match(r"[<>=!~]", piece):
            items[-1] += "," + piece
        else:
            items.append(piece)
    return items


def looks_like_path(item: str) -> bool:
    """True for an item that names a folder rather than a requirement.

    >>> [looks_like_path(s) for s in ("./lib", "/src/lib", "cbor2==5.7.1", "x @ https://h/x.whl")]
    [True, True, False, False]
    """
    if "://" in item or "@" in item:
        return False
    return item.startswith((".", "~", "/")) or os.sep in item or item == "."


def parse_spec(text: str, option: str = "--with") -> Spec:
    """A side's spec, its paths made absolute; InputError for an empty spec, a missing folder or
    a folder that is not a Python project."""
    items = split_requirements(text)
    if not items:
        raise InputError(f"{option} {text!r}: give a pip requirement or a project folder")
    resolved = []
    for item in items:
        if looks_like_path(item):
            path = Path(item).expanduser().resolve()
            if not path.is_dir():
                raise InputError(f"{option} {item}: no such folder")
            if not any((path / name).is_file() for name in PROJECT_FILES):
                raise InputError(f"{option} {item}: not a Python project (no "
                                 f"{', '.join(PROJECT_FILES)})")
            item = str(path)
        resolved.append(item)
    return Spec(text, tuple(resolved))


def with_packages(spec: Spec, packages: list[str]) -> Spec:
    """The spec with the packages it does not name already added to its items (its text, which
    messages show, kept).

    >>> spec = Spec("cbor2==5.7.1,Pandas>=2", ("cbor2==5.7.1", "Pandas>=2"))
    >>> with_packages(spec, ["pandas", "pyarrow"]).items
    ('cbor2==5.7.1', 'Pandas>=2', 'pyarrow')
    """
    named = {requirement_name(item) for item in spec.items if not os.path.isabs(item)}
    return Spec(spec.text, spec.items + tuple(p for p in packages if requirement_name(p) not in named))


def fingerprint_folder(path: str) -> str:
    """A hash of a project folder's file names, sizes and modification times (version-control
    and build folders left out): a changed checkout gets a new environment."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            with contextlib.suppress(OSError):
                stat = os.stat(os.path.join(folder, name))
                digest.update(f"{os.path.relpath(os.path.join(folder, name), path)}\0"
                              f"{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def bench_checkout() -> Path | None:
    """The checkout bench is imported from (a folder whose pyproject.toml names serbench)."""
    root = Path(bench.__file__).resolve().parents[1]
    project = root / "pyproject.toml"
    with contextlib.suppress(OSError):
        if re.search(r'^name\s*=\s*"serbench"', project.read_text(), re.MULTILINE):
            return root
    return None


def bench_dependencies(checkout: Path | None) -> str:
    """The `dependencies = [...]` of the checkout's pyproject.toml (what an environment installs
    with bench from it), as text; "" for an installed bench, whose version pins them."""
    if checkout is None:
        return ""
    try:
        text = (checkout / "pyproject.toml").read_text()
    except OSError:
        return ""
    match = re.search(r"^dependencies\s*=\s*\[(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    return match.group(1) if match else text


def bench_install_args() -> list[str]:
    """What installs bench into an environment, without its dependencies: this checkout
    (editable, so the environment runs the code the orchestrator runs), else the installed
    version from the index."""
    checkout = bench_checkout()
    return ["--no-deps", *(["-e", str(checkout)] if checkout else [f"serbench=={bench.__version__}"])]


def worker_requirements(checkout: Path | None) -> list[str]:
    """The requirements among bench's core dependencies (with their floors) that its processes
    in an environment need (`WORKER_NEEDS`): from the checkout's pyproject.toml, else from the
    installed distribution's metadata, else the bare names."""
    if checkout is not None:
        listed = re.findall(r'"([^"]+)"', bench_dependencies(checkout))
    else:
        from importlib import metadata
        try:
            listed = [r for r in metadata.requires("serbench") or [] if "extra ==" not in r]
        except metadata.PackageNotFoundError:
            listed = []
    wanted = [r for r in listed if requirement_name(r) in WORKER_NEEDS]
    named = {requirement_name(r) for r in wanted}
    return wanted + [name for name in WORKER_NEEDS if name not in named]


def requirement_name(requirement: str) -> str:
    """The project a requirement names, in lower case.

    >>> requirement_name("PyPerf>=2.8; python_version > '3'")
    'pyperf'
    """
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower()


def env_name(spec: Spec, settings: EnvSettings) -> str:
    """The environment's folder name: a readable slug of the spec and a hash of what makes it."""
    checkout = bench_checkout()
    key = {"items": [[item, fingerprint_folder(item)] if os.path.isabs(item) else item
                     for item in spec.items],
           "bench": [bench.__version__, str(checkout or ""), bench_dependencies(checkout),
                     list(WORKER_NEEDS)],
           "python": [sys.version, os.path.realpath(getattr(sys, "_base_executable", settings.python)),
                      settings.python],
           "inherit": settings.inherit, "installer": settings.installer}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    names = [os.path.basename(item) if os.path.isabs(item) else item for item in spec.items]
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", "+".join(names)).strip("-.")[:48] or "env"
    return f"{slug}-{digest}"


def env_python(path: Path) -> Path:
    """The interpreter of the virtual environment at `path`."""
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def lock_path(root: Path, name: str) -> Path:
    """The lock file of one environment's name: held exclusively while it is made or removed,
    shared while a run uses it (bench.run.env_cache)."""
    return root / f".{name}.lock"


@contextlib.contextmanager
def env_lock(root: Path, name: str, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold the flock of one environment's name (on_wait is called first when another process
    holds it); no lock where flock does not exist."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(lock_path(root, name), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def prepare_env(spec: Spec, settings: EnvSettings,
                on_create: Callable[[Path], None] = lambda path: None,
                on_wait: Callable[[Path], None] = lambda path: None) -> Env:
    """The side's environment: reused from the cache, else made (on_create is called first).

    InputError (one line: the spec and the installer's last line) when the spec cannot be
    installed; nothing is left in the cache then.
    """
    try:
        settings.root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--env-dir {settings.root}: cannot create it ({error.strerror})") from None
    name = env_name(spec, settings)
    final = settings.root / name
    with env_lock(settings.root, name, lambda: on_wait(final)):
        if (final / MARKER).is_file():
            info = json.loads((final / MARKER).read_text())
            with contextlib.suppress(OSError):  # its time is when it was last used (bench envs)
                os.utime(final / MARKER)
            return Env(spec, final, str(env_python(final)), False, 0.0, tuple(info["freeze"]))
        for stale in settings.root.glob(f".tmp-{name}-*"):  # a build that was killed
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():  # no marker: never renamed complete, so not bench's
            raise InputError(f"--env-dir: {final} exists but is not an environment bench made; "
                             "remove it")
        on_create(final)
        started = time.monotonic()
        temporary = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=settings.root))
        try:
            freeze = build_env(spec, settings, temporary)
            seconds = time.monotonic() - started
            info = {"spec": spec.text, "items": list(spec.items), "bench": bench.__version__,
                    "python": sys.version.split()[0], "installer": settings.installer,
                    "inherit": settings.inherit, "seconds": round(seconds, 1),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "freeze": freeze}
            (temporary / MARKER).write_text(json.dumps(info, indent=1) + "\n")
            os.rename(temporary, final)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
    return Env(spec, final, str(env_python(final)), True, seconds, tuple(freeze))


def build_env(spec: Spec, settings: EnvSettings, path: Path) -> list[str]:
    """Make the virtual environment at `path`, install the spec and what bench's processes need
    (`worker_requirements`), then bench without its dependencies; its `pip freeze`."""
    own_pip = not (settings.inherit and importlib.util.find_spec("pip"))
    if settings.installer == "uv":
        run_installer(["uv", "venv", "--quiet", "--python", settings.python, str(path)], spec)
    else:
        run_installer([settings.python, "-m", "venv", *([] if own_pip else ["--without-pip"]),
                       str(path)], spec)
    python = str(env_python(path))
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    steps = [list(spec.items)]
    if settings.inherit:
        Path(site, "_bench_inherit.pth").write_text("\n".join(inherited_paths(settings.python)) + "\n")
    else:
        steps = [worker_requirements(bench_checkout()) + steps[0], bench_install_args()]
    for install in steps:
        if settings.installer == "uv":
            run_installer(["uv", "pip", "install", "--quiet", "--python", python, *install], spec)
        else:
            run_installer([python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                           "--quiet", *install], spec)
    if settings.installer == "uv":
        freeze = ["uv", "pip", "freeze", "--python", python]
    else:
        freeze = [python, "-m", "pip", "freeze", "--disable-pip-version-check",
                  *(["--path", site] if settings.inherit else [])]
    return run_installer(freeze, spec).splitlines()


def inherited_paths(python: str) -> list[str]:
    """The import folders `python`'s site adds (site-packages and what their .pth files add)."""
    probe = "import sys, json; print(json.dumps(sys.path))"
    with_site, without_site = (json.loads(subprocess.run(
        [python, *flags, "-c", probe], capture_output=True, text=True, check=True).stdout)
        for flags in (["-I"], ["-I", "-S"]))
    return [entry for entry in with_site if entry and entry not in without_site]


def run_installer(command: list[str], spec: Spec) -> str:
    """Run one step of making an environment; its stdout, or InputError naming the spec and
    the installer's last line."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=INSTALL_TIMEOUT)
    except FileNotFoundError:
        raise InputError(f"--with {spec.text}: {command[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"--with {spec.text}: {' '.join(command[:3])} took over "
                         f"{INSTALL_TIMEOUT} s") from None
    if done.returncode != 0:
        raise InputError(f"--with {spec.text}: {installer_name(command)} could not install it: "
                         f"{last_line(done.stderr or done.stdout)}")
    return done.stdout


def installer_name(command: list[str]) -> str:
    """What a command of making an environment is called in a message: pip, uv or venv.

    >>> installer_name(["/env/bin/python", "-m", "pip", "install", "x"])
    'pip'
    """
    if len(command) > 2 and command[1] == "-m":
        return command[2]
    return os.path.basename(command[0])


def last_line(output: str) -> str:
    """An installer's last meaningful line: its last `ERROR:` line (pip) or the last cause given
    after it (uv), else its last line that is not a notice or a hint.

    >>> last_line("Collecting x\\nERROR: No matching distribution found for x==9\\n"
    ...           "[notice] A new release of pip is available\\n")
    'No matching distribution found for x==9'
    >>> last_line("error: No solution found\\n  cause: Because x==9 was not found, no.\\n\\nhint: offline")
    'Because x==9 was not found, no.'
    """
    lines = [line.strip() for line in output.splitlines()
             if line.strip() and not line.lstrip().startswith(("[notice]", "hint:"))]
    errors = [i for i, line in enumerate(lines) if line.startswith(("ERROR:", "error:"))]
    if errors:
        causes = [line for line in lines[errors[-1]:] if line.startswith(("cause:", "Caused by:"))]
        line = causes[-1] if causes else lines[errors[-1]]
    else:
        line = (lines or ["(no output)"])[-1]
    return re.sub(r"^(ERROR|error|cause|Caused by):\s*", "", line)


def freeze_entries(freeze: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`pip freeze` lines by lower-case project name (comments left out).

    >>> freeze_entries(["cbor2==5.7.1", "mylib @ file:///src/mylib", "# editable", "-e /src/b"])
    {'cbor2': '5.7.1', 'mylib': '@ file:///src/mylib', '-e /src/b': '-e /src/b'}
    """
    entries = {}
    for line in freeze:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(==|@)\s*(.*)", line)
        if match:
            name, how, rest = match.groups()
            entries[re.sub(r"[-_.]+", "-", name).lower()] = rest if how == "==" else f"@ {rest}"
        else:
            entries[line] = line
    return entries


def diff_freeze(a: tuple[str, ...] | list[str], b: tuple[str, ...] | list[str]
                ) -> list[tuple[str, str, str]]:
    """(project, A's, B's) for each project whose freeze line differs; "-" where one side has
    none.

    >>> diff_freeze(["cbor2==5.6.5", "six==1.0"], ["cbor2==5.7.1", "six==1.0", "new==2"])
    [('cbor2', '5.6.5', '5.7.1'), ('new', '-', '2')]
    """
    left, right = freeze_entries(a), freeze_entries(b)
    return [(name, left.get(name, "-"), right.get(name, "-"))
            for name in sorted(left.keys() | right.keys()) if left.get(name) != right.get(name)]


def list_cases_in(env: Env, options: list[str]) -> tuple[list[str], dict[str, str]]:
    """The cases `bench list --format json OPTIONS` gives in the environment (its own libraries
    decide which serializer supports which shape) and the subjects it skips with their reason;
    InputError with its error line when it fails."""
    done = subprocess.run([env.python, "-m", "bench", "list", "--format", "json", *options],
                          capture_output=True, text=True, cwd=env.path, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise InputError(f"--with {env.spec.text}: bench list in its environment failed: "
                         f"{last_line(done.stderr)}")
    doc = json.loads(done.stdout)
    return list(doc["cases"]), dict(doc.get("skipped", {}))
