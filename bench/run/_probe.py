"""The child-process side of `bench capabilities`: dump or load one batch of kinds.

Run as `python -m bench.run._probe SPEC_JSON` by `bench.run.capabilities`, never imported by
the parent for its work. A spec names a mode, one serializer, one kinds module and the
kinds to process. The child appends JSON lines to the spec's `events` file: `ready`
once the serializer is imported, then `start` and `done` around each kind, so the
parent knows which kind was running when a child hung or died.

- `dump` runs the kinds module as `__main__` (before the serializer is imported, so
  dill sees it as the main module), builds each kind, dumps it, writes the payload
  to `<payload_dir>/<kind>.payload`, then loads it back in the same process and checks
  it: the in-process result that tells `same-process-only` apart.
- `load` is a fresh interpreter: it reads each payload and loads it before anything
  else touches `__main__`, then runs the kind's check on the result.
- `dill-extend` measures what `import dill` does to `pickle._Pickler.dispatch` and
  whether `dill.extend(False)` undoes it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import struct
import sys
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from bench.subjects.serializers import SERIALIZERS, Codec, OobPayload, describe_error, payload_nbytes

_PLAIN, _OOB = 0, 1
_REPLACED_MAINS: list[types.ModuleType] = []  # keeps the real __main__ alive once replaced


def write_payload(path: Path, payload: Any) -> None:
    """Write a payload as a kind byte and length-prefixed parts (data, then OOB buffers)."""
    parts = [payload.data, *payload.buffers] if isinstance(payload, OobPayload) else [payload]
    tag = _OOB if isinstance(payload, OobPayload) else _PLAIN
    with open(path, "wb") as out:
        out.write(struct.pack("<BI", tag, len(parts)))
        for part in parts:
            raw = bytes(part)
            out.write(struct.pack("<Q", len(raw)))
            out.write(raw)


def read_payload(path: Path) -> Any:
    """Read back what `write_payload` wrote."""
    raw = memoryview(path.read_bytes())
    tag, count = struct.unpack_from("<BI", raw)
    offset, parts = struct.calcsize("<BI"), []
    for _ in range(count):
        (size,) = struct.unpack_from("<Q", raw, offset)
        offset += 8
        parts.append(bytes(raw[offset:offset + size]))
        offset += size
    if tag == _OOB:
        return OobPayload(parts[0], [memoryview(part) for part in parts[1:]])
    return parts[0]


def emit(out: IO[str], event: str, **fields: Any) -> None:
    """Append one event line and flush it, so a crash right after cannot lose it."""
    out.write(json.dumps({"event": event, **fields}) + "\n")
    out.flush()


def install_main(module_name: str) -> types.ModuleType:
    """Run the kinds module's code as a fresh `__main__` module and keep it there."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.loader is None or not hasattr(spec.loader, "get_code"):
        raise ImportError(f"cannot find the source of kinds module {module_name!r}")
    main = types.ModuleType("__main__")
    main.__file__ = spec.origin
    _REPLACED_MAINS.append(sys.modules["__main__"])
    sys.modules["__main__"] = main
    exec(spec.loader.get_code(module_name), vars(main))
    return main


def index_kinds(module: types.ModuleType) -> dict[str, Any]:
    """The module's KINDS by name."""
    return {kind.name: kind for kind in module.KINDS}


@functools.cache
def import_kinds(module_name: str) -> dict[str, Any]:
    """The KINDS of a module imported under its own name (never as `__main__`)."""
    return index_kinds(importlib.import_module(module_name))


def run_check(check: Callable[[Any], str | None], obj: Any) -> tuple[str, str | None]:
    """('ok', None) when the object works, else ('lossy', why)."""
    try:
        reason = check(obj)
    except Exception as exc:
        return "lossy", f"check raised {describe_error(exc)}"
    return ("ok", None) if reason is None else ("lossy", reason)


def dump_one(codec: Codec, kind: Any, build: Callable[[], Any], path: Path) -> dict[str, Any]:
    """Build, dump and write one kind, then round-trip it in this process."""
    try:
        obj = build()
    except Exception as exc:
        return {"status": "build-error", "error": describe_error(exc)}
    try:
        payload = codec.dumps(obj)
        size = payload_nbytes(payload)
    except Exception as exc:
        return {"status": "dumps-error", "error": describe_error(exc)}
    write_payload(path, payload)
    record: dict[str, Any] = {"status": "dumped", "payload_bytes": size}
    try:
        back = codec.loads(payload)
    except Exception as exc:
        return {**record, "in_process": "loads-error", "in_process_error": describe_error(exc)}
    verdict, reason = run_check(kind.check, back)
    return {**record, "in_process": verdict, "in_process_error": reason}


def load_one(codec: Codec, kinds_module: str, name: str, path: Path) -> dict[str, Any]:
    """Load one payload, then (only then) import the kind's check and run it."""
    payload = read_payload(path)
    try:
        obj = codec.loads(payload)
    except Exception as exc:
        return {"status": "loads-error", "error": describe_error(exc)}
    verdict, reason = run_check(import_kinds(kinds_module)[name].check, obj)
    return {"status": verdict, "error": reason}


def run_dump(spec: dict[str, Any], out: IO[str]) -> None:
    """Dump every kind of the spec, each under its own guard."""
    main_kinds = index_kinds(install_main(spec["kinds_module"]))
    module_kinds = import_kinds(spec["kinds_module"])
    codec = SERIALIZERS[spec["serializer"]].codec()
    emit(out, "ready")
    for name in spec["kinds"]:
        emit(out, "start", kind=name)
        kind = module_kinds[name]
        build = (main_kinds if kind.scope == "main" else module_kinds)[name].build
        path = Path(spec["payload_dir"], f"{name}.payload")
        emit(out, "done", kind=name, **dump_one(codec, kind, build, path))


def run_load(spec: dict[str, Any], out: IO[str]) -> None:
    """Load every payload of the spec, each under its own guard."""
    codec = SERIALIZERS[spec["serializer"]].codec()
    emit(out, "ready")
    for name in spec["kinds"]:
        emit(out, "start", kind=name)
        path = Path(spec["payload_dir"], f"{name}.payload")
        emit(out, "done", kind=name, **load_one(codec, spec["kinds_module"], name, path))


def dispatch_snapshot(pickle_module: types.ModuleType) -> dict[str, Any]:
    """`pickle._Pickler.dispatch` as {qualified type name: reducer}."""
    table = pickle_module._Pickler.dispatch
    return {f"{t.__module__}.{t.__qualname__}": func for t, func in table.items()}


def changed_names(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Names whose entry was added or replaced between two snapshots.

    >>> changed_names({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4})
    ['b', 'c']
    """
    return sorted(name for name, func in after.items() if before.get(name) is not func)


def run_dill_extend(spec: dict[str, Any], out: IO[str]) -> None:
    """Measure what importing dill and dill.extend(False/True) do to pickle's dispatch."""
    import pickle

    before = dispatch_snapshot(pickle)
    import dill

    imported = dispatch_snapshot(pickle)
    dill.extend(False)
    reverted = dispatch_snapshot(pickle)
    dill.extend(True)
    extended = dispatch_snapshot(pickle)
    added = sorted(set(imported) - set(before))
    emit(out, "done", kind="dill-extend",
         import_dill_changes_pickle_dispatch=imported != before,
         added_types=added,
         replaced_types=sorted(set(changed_names(before, imported)) - set(added)),
         extend_false_restores=reverted == before,
         extend_true_reapplies=extended == imported,
         dill_version=getattr(dill, "__version__", "unknown"))


MODES: dict[str, Callable[[dict[str, Any], IO[str]], None]] = {
    "dump": run_dump, "load": run_load, "dill-extend": run_dill_extend,
}


def main(argv: list[str]) -> int:
    """Read the spec, adopt the parent's sys.path, run the mode."""
    spec = json.loads(Path(argv[0]).read_text())
    sys.path[:] = spec["sys_path"]
    if spec.get("plugins"):  # a plugin's serializers, as in the parent
        from bench.run.plugins import load_plugins

        load_plugins(spec["plugins"])
    if spec.get("data"):  # the user's data specs (--data), as in the parent
        from bench.subjects.user_data import register_options

        register_options(spec["data"][0])
    warnings.simplefilter("ignore")
    with open(spec["events"], "a", encoding="utf-8") as out:
        MODES[spec["mode"]](spec, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
