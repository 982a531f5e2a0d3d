"""How a run was made (a results file's `bench_setup`), and the checks that two runs match.

A resumed run must continue with what the file was started with, and the shards of a merge
must be parts of one run: the same profile, metric, pyperf settings, Python and library
versions, and (unless mixed machines are allowed) the same host. `describe_setup` says it
for the run about to start; `check_same_setup` names the first difference in one line;
`check_setup` refuses a setup read from a file whose keys are not of these types.

    profile          the profile's name
    metric           time or instructions
    pyperf_settings  the pyperf flags the workers run with: the profile's, then the user's
    python           the workers' interpreter: implementation and version, `cpython 3.11.7`
    libraries        {distribution: version} of pyperf, bench and every library a case may time
    bench_version    bench's own version
    hostname         the machine
    shard            `K/N` for one shard of a run (absent for a whole run)
    data             the `--data` specs as given and the size each is built at
                     (bench.subjects.user_data.describe_loaded; absent without --data)
    commit, commit_date  the checked-out commit and its date, when the run starts in a git
                     work tree (or from GITHUB_SHA), for `bench history`
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bench import __version__
from bench.errors import InputError

# The keys that must be equal for two files to be parts of one run (hostname is separate).
RUN_KEYS = ("profile", "metric", "pyperf_settings", "python", "libraries", "bench_version", "data")
# Distributions whose version is recorded besides the serializers' and fold styles'.
CORE_DISTRIBUTIONS = ("pyperf", "numpy")
MAX_SHARDS = 100_000



def known_distributions() -> list[str]:
    """Every distribution a case may time, plus pyperf and numpy, sorted."""
    from bench.subjects.folds import STYLES
    from bench.subjects.serializers import SERIALIZERS

    names = {s.distribution for s in SERIALIZERS.values() if s.distribution}
    names |= {style.module for style in STYLES.values() if style.module}
    return sorted(names | set(CORE_DISTRIBUTIONS))


def describe_interpreter() -> dict[str, Any]:
    """{"python": "cpython 3.11.7", "libraries": {distribution: version or "-"}} of this process."""
    from importlib import metadata

    versions = {}
    for name in known_distributions():
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return {"python": f"{sys.implementation.name} {platform.python_version()}",
            "libraries": versions}


def probe_interpreter(python: str | None = None) -> dict[str, Any]:
    """`describe_interpreter` of `python` (which has bench installed, as its workers need), or
    of this process when None or the same interpreter."""
    if python is None or os.path.realpath(python) == os.path.realpath(sys.executable):
        return describe_interpreter()
    try:
        done = subprocess.run([python, "-m", "bench.run.provenance"], capture_output=True, text=True,
                              timeout=60, check=True)
        return dict(json.loads(done.stdout))
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise InputError(f"--python {python}: cannot ask it for its versions ({exc})") from None


def describe_setup(profile: str, metric: str, pyperf_settings: Sequence[str],
                   python: str | None = None, shard: str = "") -> dict[str, Any]:
    """The `bench_setup` of a run about to start."""
    from bench.subjects.user_data import describe_loaded

    setup: dict[str, Any] = {"profile": profile, "metric": metric,
                             "pyperf_settings": list(pyperf_settings),
                             **probe_interpreter(python), "bench_version": __version__,
                             "hostname": platform.node()}
    if shard:
        setup["shard"] = shard
    data = describe_loaded()
    if data:
        setup["data"] = data
    setup.update(find_commit())
    return setup


def find_commit() -> dict[str, str]:
    """{"commit": ..., "commit_date": ...} of the current directory's git checkout, or {}.

    GITHUB_SHA wins over git when set (a CI checkout may be detached or shallow).
    """
    commit = os.environ.get("GITHUB_SHA", "")
    try:
        done = subprocess.run(["git", "log", "-1", "--format=%H %cI", *([commit] if commit else [])],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        done = None
    if done is not None and done.returncode == 0 and done.stdout.strip():
        sha, date = done.stdout.split()
        return {"commit": sha, "commit_date": date}
    return {"commit": commit} if commit else {}


def is_shard(value: Any) -> bool:
    """True for `K/N` with 1 <= K <= N <= MAX_SHARDS.

    >>> is_shard("2/8"), is_shard("9/8"), is_shard("x"), is_shard(["1/2"])
    (True, False, False, False)
    """
    found = re.fullmatch(r"(\d{1,6})/(\d{1,6})", value) if isinstance(value, str) else None
    return found is not None and 1 <= int(found[1]) <= int(found[2]) <= MAX_SHARDS


def is_date(value: Any, local: bool = False) -> bool:
    """True for an ISO 8601 date and time, as `git log --format=%cI` writes it (with `local`,
    one without a UTC offset, as pyperf writes a run's `date`).

    >>> is_date("2026-12-07T09:28:27+00:00"), is_date("2026-12-07T09:28:27+00:00", local=True)
    (True, False)
    >>> is_date("2026-11-24 15:19:11.920581", local=True), is_date("2026-13-01"), is_date(None)
    (True, False, False)
    """
    try:
        date = datetime.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return False
    return date is not None and not (local and date.tzinfo is not None)


# key of a setup -> (its check, what it must be in words): what describe_setup writes
SETUP_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    **dict.fromkeys(("profile", "metric", "python", "bench_version", "hostname", "commit"),
                    (lambda value: isinstance(value, str), "text")),
    "pyperf_settings": (lambda value: isinstance(value, list)
                        and all(isinstance(item, str) for item in value), "a list of text"),
    "libraries": (lambda value: isinstance(value, dict)
                  and all(isinstance(item, str) for item in value.values()),
                  "an object of versions (text)"),
    "shard": (is_shard, f"K/N with 1 <= K <= N <= {MAX_SHARDS}"),
    "data": (lambda value: isinstance(value, list) and all(
        isinstance(item, dict) and isinstance(item.get("spec"), str) and isinstance(item.get("size"), int)
        for item in value), "a list of {spec, size}"),
    "commit_date": (is_date, "an ISO 8601 date"),
}


def check_setup(setup: dict[str, Any], where: str) -> None:
    """InputError naming the first key of a setup read from a file that is not as SETUP_RULES
    says (keys it does not know are left as they are).

    >>> check_setup({"profile": "quick", "shard": "2/8", "libraries": {"dill": "0.4.1"}}, "x")
    >>> check_setup({"shard": "9/8"}, "x.json: bench_setup")
    Traceback (most recent call last):
    ...
    bench.errors.InputError: x.json: bench_setup: shard '9/8' is not K/N with 1 <= K <= N <= 100000
    """
    for key, value in setup.items():
        check, words = SETUP_RULES.get(key, (None, ""))
        if check is not None and not check(value):
            raise InputError(f"{where}: {key} {value!r:.40} is not {words}")


def check_same_setup(expected: dict[str, Any], found: dict[str, Any], what: str,
                     hosts: bool = True) -> None:
    """InputError naming the first key of RUN_KEYS (and hostname, if `hosts`) that differs.

    >>> check_same_setup({"profile": "quick"}, {"profile": "quick"}, "x.json")
    >>> check_same_setup({"profile": "quick"}, {"profile": "full"}, "x.json")
    Traceback (most recent call last):
    ...
    bench.errors.InputError: x.json: not the same profile ('full' there, 'quick' here)
    """
    keys = RUN_KEYS + (("hostname",) if hosts else ())
    for key in keys:
        if key == "libraries":
            check_same_libraries(expected.get(key) or {}, found.get(key) or {}, what)
        elif key == "data" and expected.get(key) != found.get(key):
            raise InputError(f"{what}: not the same --data ({describe_data(found.get(key))} there, "
                             f"{describe_data(expected.get(key))} here)")
        elif expected.get(key) != found.get(key):
            extra = " (--allow-mixed-machines accepts it)" if key == "hostname" else ""
            raise InputError(f"{what}: not the same {key.replace('_', ' ')} ({found.get(key)!r} "
                             f"there, {expected.get(key)!r} here){extra}")


def describe_data(data: list[dict[str, Any]] | None) -> str:
    """A setup's `data` in words.

    >>> describe_data([{"spec": "orders.json", "size": 1000}]), describe_data(None)
    ('orders.json (1000 items)', 'none')
    """
    return ", ".join(f"{item['spec']} ({item['size']} items)" for item in data or []) or "none"


def check_same_libraries(expected: dict[str, str], found: dict[str, str], what: str) -> None:
    """InputError naming the first library whose version differs (or is known on one side only)."""
    for name in sorted(set(expected) | set(found)):
        if expected.get(name) != found.get(name):
            raise InputError(f"{what}: not the same {name} version ({found.get(name, 'absent')} "
                             f"there, {expected.get(name, 'absent')} here)")


def run_part(setup: dict[str, Any]) -> dict[str, Any]:
    """The setup without what differs between the parts of one run (shard, host, commit)."""
    return {key: value for key, value in setup.items() if key in RUN_KEYS}


if __name__ == "__main__":
    print(json.dumps(describe_interpreter()))


# The metadata pyperf checks before a run joins a case (pyperf._bench._CHECKED_METADATA, less
# the case's own `name` and `inner_loops`), the machine's first.
CHECKED_METADATA = ("hostname", "python_executable", "cpu_model_name", "cpu_count", "platform",
                    "aslr", "python_implementation", "python_version", "python_unicode", "unit")


def find_mismatch(held: dict[str, Any], here: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """(key, value there, value here) of the first CHECKED_METADATA key on which a case's
    runs (`held`) differ from this machine's (`here`), or None when runs from here may join.

    >>> find_mismatch({"hostname": "a", "unit": "second"}, {"hostname": "a", "unit": "second"})
    >>> find_mismatch({"hostname": "ci-1"}, {"hostname": "ci-2"})
    ('hostname', 'ci-1', 'ci-2')
    """
    for key in CHECKED_METADATA:
        if held.get(key) != here.get(key):
            return key, held.get(key), here.get(key)
    return None
