"""The capability matrix: which serializer can ship which kind of object to a fresh process.

What is measured, for every serializer x object kind (kinds in `bench.subjects.capability_kinds`):
a child process builds the object (with the kinds module running as `__main__`),
dumps it, writes the payload to a temporary directory and loads it back in-process;
then a separate, fresh child that never ran the kinds module as `__main__` loads the
payload and runs the kind's check, which *uses* the object (calls the function, reads
the file, compares fields). This process never unpickles anything: it reads the
children's JSON event lines only.

Outcomes (`OUTCOMES`): ok, lossy (loads but changes type, value or identity),
dumps-error, loads-error, same-process-only (the in-process round trip works, the fresh
one does not), crash and timeout (the child died, or sent no event for `timeout`
seconds), skipped (serializer not installed). `payload_bytes` is the size of the
payload whenever dumps succeeded.

Speed: one dumping child per serializer handles every kind, then one loading child;
the serializers run on a pool of `jobs` threads. When a batch child dies or hangs, the
kind it was on is re-run alone to pin it, and the rest of the batch goes on in a new child.
bench.capability_render writes the matrix as text or markdown.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import importlib
import itertools
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from bench.errors import InputError
from bench.run import plugins
from bench.subjects import user_data
from bench.subjects.capability_kinds import Kind
from bench.subjects.serializers import SERIALIZERS, Serializer, describe_error

# Version of the JSON document, pyperf style: bump on any change readers can see.
# 1: first version: schema_version, python, implementation, created, timeout_seconds,
#    probe_seconds, serializers, kinds (name, group, note, scope, module), cells (kind,
#    serializer, outcome, error, payload_bytes, in_process), dill_extend.
SCHEMA_VERSION = 1

DEFAULT_KINDS_MODULE = "bench.subjects.capability_kinds"
DATA_KINDS_MODULE = "bench.subjects.data_kinds"  # the user's data (--data) as kinds
DEFAULT_TIMEOUT = 10.0
DEFAULT_JOBS = 2
POLL_SECONDS = 0.02



class Outcome(NamedTuple):
    """How a cell of the matrix is shown: in text, in the report, and what it means."""

    symbol: str     # one character of the text and markdown matrix
    label: str      # short text of the report's cell
    css: str        # CSS class of the report's cell
    meaning: str    # what the outcome says about the serializer and the kind


OUTCOMES: dict[str, Outcome] = {
    "ok": Outcome("+", "✓ ok", "cap-ok", "loads in a fresh process and works"),
    "lossy": Outcome("~", "≈ lossy", "cap-lossy", "loads, but type, value or identity changed"),
    "dumps-error": Outcome(".", "✗ dumps", "cap-error", "dumps raised"),
    "loads-error": Outcome("L", "✗ loads", "cap-error", "loads raised in a fresh process"),
    "same-process-only": Outcome("S", "◐ same process", "cap-same",
                                 "works only in the dumping process"),
    "crash": Outcome("!", "✗✗ crash", "cap-crash", "the child process died"),
    "timeout": Outcome("T", "✗ timeout", "cap-crash", "the child process hung"),
    "skipped": Outcome("-", "– skipped", "cap-skip", "serializer not installed"),
}

_KIND_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_CHILD_IDS = itertools.count()


# ---------------------------------------------------------------- selection

@dataclass(frozen=True)
class Entry:
    """A kind and the module that defines it."""

    module: str
    kind: Kind


def load_catalogue(extra_modules: Sequence[str] = ()) -> list[Entry]:
    """The kinds of the catalogue and of any extra kinds modules, names checked unique.

    >>> len(load_catalogue()) >= 40
    True
    """
    entries: list[Entry] = []
    for module_name in (DEFAULT_KINDS_MODULE, *extra_modules):
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InputError(f"--kinds-module: cannot import {module_name!r}: "
                             f"{describe_error(exc)}") from None
        entries.extend(Entry(module_name, kind) for kind in getattr(module, "KINDS", ()))
    check_kind_names([entry.kind.name for entry in entries])
    return entries


def check_kind_names(names: list[str]) -> None:
    """Raise InputError on a duplicate kind name or one that is not lower-case kebab.

    >>> check_kind_names(["int", "big-int"])
    """
    for name in names:
        if not _KIND_NAME.match(name):
            raise InputError(f"kind name {name!r} is not lower-case letters, digits and '-'")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError(f"duplicate kind names: {', '.join(duplicates)}")


def select_names(wanted: Sequence[str] | None, known: Sequence[str], option: str) -> list[str]:
    """The known names, or the wanted ones in known order; InputError naming the option.

    >>> select_names(["b"], ["a", "b"], "--kind")
    ['b']
    >>> select_names(None, ["a", "b"], "--kind")
    ['a', 'b']
    """
    if not wanted:
        return list(known)
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise InputError(f"{option}: unknown name {unknown[0]!r} (known: {', '.join(known)})")
    return [name for name in known if name in wanted]


# ---------------------------------------------------------------- one child process

@dataclass
class ChildResult:
    """What one child reported: finished kinds, and how it failed if it did."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    failure: str | None = None
    culprit: str | None = None
    detail: str | None = None


class EventReader:
    """Reads the complete JSON lines a child has appended to its events file so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.events: list[dict[str, Any]] = []

    def poll(self) -> bool:
        """Read new complete lines; True when there were any."""
        try:
            with open(self.path, "rb") as stream:
                stream.seek(self.offset)
                chunk = stream.read()
        except FileNotFoundError:
            return False
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        self.events.extend(json.loads(line) for line in complete.splitlines())
        return bool(complete)


def describe_exit(returncode: int, stderr_path: Path) -> str:
    """How a child ended, with the last line it wrote to stderr."""
    if returncode < 0:
        try:
            how = f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"killed by signal {-returncode}"
    else:
        how = f"exit code {returncode}"
    lines = stderr_path.read_text(errors="replace").strip().splitlines()
    return f"{how}: {lines[-1]}" if lines else how


def build_child_env(tmp_dir: Path) -> dict[str, str]:
    """The parent's environment, with TMPDIR private to the run and bench importable."""
    env = dict(os.environ, TMPDIR=str(tmp_dir), PYTHONWARNINGS="ignore")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
    return env


def wait_child(proc: subprocess.Popen[bytes], reader: EventReader, timeout: float) -> bool:
    """Wait for the child to exit; kill it after `timeout` s without an event. True if killed."""
    last_event = time.monotonic()
    while True:
        try:
            proc.wait(timeout=POLL_SECONDS)
            return False
        except subprocess.TimeoutExpired:
            if reader.poll():
                last_event = time.monotonic()
            elif time.monotonic() - last_event > timeout:
                proc.kill()
                proc.wait()
                return True


def run_child(spec: dict[str, Any], run_dir: Path, timeout: float) -> ChildResult:
    """Run `python -m bench.run._probe` on one spec and collect what it reported."""
    child_dir = run_dir / "children" / str(next(_CHILD_IDS))
    child_dir.mkdir(parents=True)
    spec = {**spec, "events": str(child_dir / "events.jsonl"), "sys_path": child_sys_path(),
            "plugins": list(plugins.LOADED_PLUGINS), "data": user_data.child_options()[1:]}
    (child_dir / "spec.json").write_text(json.dumps(spec))
    reader = EventReader(child_dir / "events.jsonl")
    stderr_path = child_dir / "stderr.txt"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.run._probe", str(child_dir / "spec.json")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            env=build_child_env(run_dir / "tmp"), cwd=run_dir)
        killed = wait_child(proc, reader, timeout)
    reader.poll()
    if killed:
        return summarize_events(reader.events, "timeout", f"no progress for {timeout:g} s")
    if proc.returncode != 0 or not has_every_kind(reader.events, spec.get("kinds", [])):
        return summarize_events(reader.events, "crash", describe_exit(proc.returncode,
                                                                       stderr_path))
    return summarize_events(reader.events)


def child_sys_path() -> list[str]:
    """The parent's sys.path made absolute for a child that runs elsewhere, the caller's folder
    (on sys.path under `python -m bench`) moved to the end: it never shadows a library."""
    caller = os.getcwd()
    paths = [os.path.abspath(entry) for entry in sys.path]
    return [p for p in paths if p != caller] + [p for p in paths if p == caller][:1]


def has_every_kind(events: list[dict[str, Any]], kinds: list[str]) -> bool:
    """True when every kind has a `done` event.

    >>> has_every_kind([{"event": "done", "kind": "a"}], ["a", "b"])
    False
    """
    done = {e["kind"] for e in events if e["event"] == "done"}
    return all(name in done for name in kinds)


def summarize_events(events: list[dict[str, Any]], failure: str | None = None,
                     detail: str | None = None) -> ChildResult:
    """Finished records, and for a failed child the kind it was on.

    >>> events = [{"event": "start", "kind": "a"}, {"event": "done", "kind": "a", "status": "x"},
    ...           {"event": "start", "kind": "b"}]
    >>> summarize_events(events, "crash", "killed by SIGSEGV").culprit
    'b'
    """
    records = {e["kind"]: e for e in events if e["event"] == "done"}
    if failure is None:
        return ChildResult(records)
    started = [e["kind"] for e in events if e["event"] == "start"]
    culprit = started[-1] if started and started[-1] not in records else None
    return ChildResult(records, failure, culprit, detail)


def record_failure(result: ChildResult) -> dict[str, Any]:
    """The record a kind gets when its child crashed or hung on it."""
    return {"status": result.failure, "error": result.detail}


def run_batch(make_spec: Callable[[list[str]], dict[str, Any]], kinds: list[str],
              run_dir: Path, timeout: float) -> dict[str, dict[str, Any]]:
    """Run kinds in one child; when it dies, pin the kind it was on alone and go on."""
    records: dict[str, dict[str, Any]] = {}
    pending = list(kinds)
    while pending:
        result = run_child(make_spec(pending), run_dir, timeout)
        records.update(result.records)
        if result.failure is None:
            break
        if result.culprit is None:  # died before reaching a kind: all pending share the fate
            records.update({name: record_failure(result) for name in pending
                            if name not in records})
            break
        culprit = result.culprit
        if len(pending) > 1:
            alone = run_child(make_spec([culprit]), run_dir, timeout)
            records[culprit] = alone.records.get(culprit) or record_failure(alone)
        else:
            records[culprit] = record_failure(result)
        pending = [name for name in pending if name not in records]
    return records


# ---------------------------------------------------------------- one serializer

def classify_cell(dumped: dict[str, Any], loaded: dict[str, Any] | None) -> tuple[str, str | None]:
    """(outcome, error) of one cell from its dumping and its fresh loading record.

    >>> classify_cell({"status": "dumps-error", "error": "TypeError: no"}, None)
    ('dumps-error', 'TypeError: no')
    >>> classify_cell({"status": "dumped", "in_process": "ok"},
    ...               {"status": "loads-error", "error": "AttributeError: Can't get attribute"})
    ('same-process-only', "AttributeError: Can't get attribute")
    >>> classify_cell({"status": "dumped", "in_process": "lossy"},
    ...               {"status": "lossy", "error": "x"})
    ('lossy', 'x')
    """
    status = dumped["status"]
    if status == "build-error":
        return "crash", f"the builder raised {dumped['error']}"
    if status != "dumped":
        return status, dumped.get("error")
    if loaded is None:
        return "crash", "no load was attempted"
    fresh = loaded["status"]
    if fresh in ("ok", "crash", "timeout"):
        return fresh, loaded.get("error")
    if dumped.get("in_process") == "ok":
        return "same-process-only", loaded.get("error")
    return fresh, loaded.get("error")


def make_cell(kind: str, serializer: str, dumped: dict[str, Any],
              loaded: dict[str, Any] | None) -> dict[str, Any]:
    """One cell of the document."""
    outcome, error = classify_cell(dumped, loaded)
    return {"kind": kind, "serializer": serializer, "outcome": outcome, "error": error,
            "payload_bytes": dumped.get("payload_bytes"), "in_process": dumped.get("in_process")}


def probe_serializer(serializer: str, module: str, kinds: list[str], run_dir: Path,
                     timeout: float) -> list[dict[str, Any]]:
    """Dump every kind in one child, then load the payloads in a fresh one."""
    payload_dir = run_dir / "payloads" / serializer / module
    payload_dir.mkdir(parents=True)

    def spec_for(mode: str) -> Callable[[list[str]], dict[str, Any]]:
        return lambda names: {"mode": mode, "serializer": serializer, "kinds_module": module,
                              "kinds": names, "payload_dir": str(payload_dir)}

    dumped = run_batch(spec_for("dump"), kinds, run_dir, timeout)
    loadable = [name for name in kinds if dumped[name]["status"] == "dumped"]
    loaded = run_batch(spec_for("load"), loadable, run_dir, timeout) if loadable else {}
    return [make_cell(name, serializer, dumped[name], loaded.get(name)) for name in kinds]


def skip_serializer(serializer: Serializer, kinds: list[str]) -> list[dict[str, Any]]:
    """The cells of a serializer that is not installed."""
    reason = describe_serializer(serializer)["reason"]
    return [{"kind": name, "serializer": serializer.name, "outcome": "skipped", "error": reason,
             "payload_bytes": None, "in_process": None} for name in kinds]


def describe_serializer(serializer: Serializer) -> dict[str, Any]:
    """The document's entry for one serializer."""
    available = serializer.available()
    return {"name": serializer.name, "version": serializer.version() if available else None,
            "available": available,
            "reason": None if available else f"{serializer.module} is not installed",
            "note": serializer.note}


# ---------------------------------------------------------------- dill and pickle's dispatch

DILL_UNMEASURED: dict[str, Any] = {
    "import_dill_changes_pickle_dispatch": None, "added_types": [], "extend_false_restores": None,
}


def measure_dill_extend(run_dir: Path, timeout: float) -> dict[str, Any]:
    """In a fresh child: does `import dill` change `pickle._Pickler.dispatch`, and undo it?"""
    if not SERIALIZERS["dill"].available():
        return {**DILL_UNMEASURED, "error": "dill is not installed"}
    result = run_child({"mode": "dill-extend", "kinds": ["dill-extend"]}, run_dir, timeout)
    record = result.records.get("dill-extend")
    if record is None:
        return {**DILL_UNMEASURED, "error": f"{result.failure}: {result.detail}"}
    return {key: value for key, value in record.items() if key not in ("event", "kind")}


# ---------------------------------------------------------------- the document

def probe_capabilities(serializers: list[str] | None = None, kinds: list[str] | None = None,
                       timeout: float = DEFAULT_TIMEOUT, *, jobs: int = DEFAULT_JOBS,
                       extra_kinds_modules: Sequence[str] = ()) -> dict[str, Any]:
    """Probe every selected serializer x kind in fresh processes; return the JSON document.

    `timeout` is the longest a child may go without finishing a kind; `jobs` how many
    serializers are probed at once; `extra_kinds_modules` add the KINDS of more modules.
    """
    if timeout <= 0 or jobs < 1:
        raise InputError(f"--timeout must be > 0 and --jobs >= 1 (got {timeout:g}, {jobs})")
    if user_data.LOADED:  # the user's data (--data) is a kind of its own too
        extra_kinds_modules = [*extra_kinds_modules, DATA_KINDS_MODULE]
    catalogue = load_catalogue(extra_kinds_modules)
    kind_names = select_names(kinds, [entry.kind.name for entry in catalogue], "--kind")
    entries = [entry for entry in catalogue if entry.kind.name in kind_names]
    chosen = [SERIALIZERS[name] for name in select_names(serializers, list(SERIALIZERS),
                                                         "--serializer")]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-capabilities-") as tmp:
        run_dir = Path(tmp)
        (run_dir / "tmp").mkdir()
        cells, dill_extend = run_probes(chosen, entries, run_dir, timeout, jobs)
    return {
        "schema_version": SCHEMA_VERSION,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timeout_seconds": timeout,
        "probe_seconds": round(time.monotonic() - started, 3),
        "serializers": [describe_serializer(serializer) for serializer in chosen],
        "kinds": [{"name": e.kind.name, "group": e.kind.group, "note": e.kind.note,
                   "scope": e.kind.scope, "module": e.module} for e in entries],
        "cells": order_cells(cells, kind_names, [serializer.name for serializer in chosen]),
        "dill_extend": dill_extend,
    }


def run_probes(chosen: list[Serializer], entries: list[Entry], run_dir: Path, timeout: float,
               jobs: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Probe each (serializer, kinds module) pair on a pool of `jobs` threads."""
    modules = list(dict.fromkeys(entry.module for entry in entries))
    by_module = {m: [e.kind.name for e in entries if e.module == m] for m in modules}
    cells: list[dict[str, Any]] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(probe_serializer, serializer.name, module, names, run_dir,
                               timeout)
                   for serializer in chosen if serializer.available()
                   for module, names in by_module.items()]
        dill_future = pool.submit(measure_dill_extend, run_dir, timeout)
        for future in futures:
            cells.extend(future.result())
    for serializer in chosen:
        if not serializer.available():
            cells.extend(skip_serializer(serializer, [e.kind.name for e in entries]))
    return cells, dill_future.result()


def order_cells(cells: list[dict[str, Any]], kinds: list[str],
                serializers: list[str]) -> list[dict[str, Any]]:
    """Cells ordered row by row: kinds in catalogue order, serializers in registry order."""
    rank = {(k, s): i for i, (k, s) in enumerate(itertools.product(kinds, serializers))}
    return sorted(cells, key=lambda cell: rank[cell["kind"], cell["serializer"]])
