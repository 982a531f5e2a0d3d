"""Tests of bench.run.capabilities, bench.capability_render, bench.subjects.capability_kinds and
bench.run._probe.

The probe tests assert what the real libraries do, each cell proven in fresh child
processes; they select a few kinds and serializers to stay fast. The faulty kinds
(segfault, os._exit, hang) live in tests/data/capabilities/faulty_kinds.py only.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bench import capability_file
from bench.capability_render import format_capabilities
from bench.cli import main
from bench.errors import InputError
from bench.run import _probe, capabilities
from bench.run.capabilities import OUTCOMES, SCHEMA_VERSION, load_catalogue, probe_capabilities
from bench.subjects import capability_kinds
from bench.subjects.capability_kinds import KINDS
from bench.subjects.serializers import SERIALIZERS, OobPayload

DATA = Path(__file__).parent / "data" / "capabilities"
REPO = Path(__file__).parent.parent
DOC_KEYS = {"schema_version", "python", "implementation", "created", "serializers", "kinds",
            "cells", "dill_extend"}
CELL_KEYS = {"kind", "serializer", "outcome", "error", "payload_bytes"}


def cell_of(doc: dict, kind: str, serializer: str) -> dict:
    """The one cell of `doc` for this kind and serializer."""
    (cell,) = [c for c in doc["cells"] if c["kind"] == kind and c["serializer"] == serializer]
    return cell


@pytest.fixture()
def faulty_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make tests/data/capabilities importable here and (through sys.path) in the children."""
    monkeypatch.syspath_prepend(str(DATA))


# ---------------------------------------------------------------- the catalogue

def test_catalogue_has_at_least_40_uniquely_named_kinds() -> None:
    names = [kind.name for kind in KINDS]
    assert len(names) >= 40
    assert len(set(names)) == len(names)
    capabilities.check_kind_names(names)  # lower-case kebab: they become file names


def test_catalogue_covers_the_required_kinds() -> None:
    """The matrix must answer for these kinds of object (scalars to frames and tracebacks)."""
    required = {"int", "float", "complex", "str", "bytes", "none", "tuple", "namedtuple", "set",
                "frozenset", "dict-int-keys", "datetime", "decimal", "enum-member", "dataclass",
                "local-class-instance", "main-class-instance", "class", "self-ref-list",
                "shared-refs", "top-level-function", "lambda", "closure", "recursive-function",
                "function-with-global", "partial", "bound-method", "staticmethod",
                "classmethod", "property", "generator", "generator-function", "list-iterator",
                "range", "slice", "code", "module", "stringio", "bytesio", "text-file", "lock",
                "rlock", "weakref", "exception", "regex", "itertools-count", "dict-keys",
                "memoryview", "numpy-array", "frame", "traceback"}
    assert required <= {kind.name for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_each_check_accepts_a_fresh_build(kind: capability_kinds.Kind,
                                          monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the text-file kind writes here
    assert kind.check(kind.build()) is None


@pytest.mark.parametrize("kind", [k for k in KINDS if k.name != "none"], ids=lambda k: k.name)
def test_each_check_rejects_none(kind: capability_kinds.Kind) -> None:
    """A check that passes anything proves nothing: None must fail every check but one."""
    try:
        reason = kind.check(None)
    except Exception:
        return
    assert reason is not None


def test_check_reports_how_a_copy_is_lossy() -> None:
    check = {kind.name: kind.check for kind in KINDS}
    assert check["tuple"]([1, "two", 3.0]) == "loaded list, expected tuple"
    assert check["shared-refs"]([[1, 2, 3], [1, 2, 3]]) == "shared identity lost"
    assert check["text-file"](io.StringIO("second\n")) == \
        "loaded StringIO, expected TextIOWrapper"


# ---------------------------------------------------------------- child-side helpers

def test_payload_files_round_trip_plain_and_out_of_band(tmp_path: Path) -> None:
    _probe.write_payload(tmp_path / "plain", b"abc")
    assert _probe.read_payload(tmp_path / "plain") == b"abc"
    _probe.write_payload(tmp_path / "oob", OobPayload(b"head", [memoryview(b"xy"), b"z"]))
    back = _probe.read_payload(tmp_path / "oob")
    assert isinstance(back, OobPayload)
    assert back.data == b"head" and [bytes(b) for b in back.buffers] == [b"xy", b"z"]


# ---------------------------------------------------------------- real library behaviour

@pytest.fixture(scope="module")
def probed() -> dict:
    kinds = ["tuple", "dataclass", "main-class-instance", "lambda", "function-with-global",
             "recursive-function", "generator", "text-file"]
    return probe_capabilities(None, kinds, timeout=30)


@pytest.mark.slow
def test_pickle_cannot_dump_a_lambda(probed: dict) -> None:
    cell = cell_of(probed, "lambda", "pickle-5")
    assert cell["outcome"] == "dumps-error"
    assert cell["error"].startswith("PicklingError: Can't pickle <function <lambda>")
    assert cell["payload_bytes"] is None


@pytest.mark.parametrize("serializer", ["cloudpickle", "dill", "dill-recurse"])
def test_code_shipping_libraries_ship_a_lambda(probed: dict, serializer: str) -> None:
    cell = cell_of(probed, "lambda", serializer)
    assert (cell["outcome"], cell["error"]) == ("ok", None)
    assert cell["payload_bytes"] > 100


def test_msgpack_turns_a_tuple_into_a_list(probed: dict) -> None:
    cell = cell_of(probed, "tuple", "msgpack")
    assert (cell["outcome"], cell["error"]) == ("lossy", "loaded list, expected tuple")
    assert cell["payload_bytes"] > 0


def test_marshal_cannot_dump_a_dataclass(probed: dict) -> None:
    cell = cell_of(probed, "dataclass", "marshal")
    assert (cell["outcome"], cell["error"]) == ("dumps-error", "ValueError: unmarshallable object")


@pytest.mark.parametrize("serializer", [f"pickle-{p}" for p in range(6)] + ["pickle-5-oob"])
def test_pickle_of_a_main_class_instance_works_only_in_process(probed: dict,
                                                                serializer: str) -> None:
    cell = cell_of(probed, "main-class-instance", serializer)
    assert cell["outcome"] == "same-process-only"
    assert cell["in_process"] == "ok"
    assert cell["error"].startswith("AttributeError: Can't get attribute 'Record'")


def test_pickle_ships_an_importable_dataclass(probed: dict) -> None:
    assert cell_of(probed, "dataclass", "pickle-5")["outcome"] == "ok"


@pytest.mark.parametrize("serializer", list(SERIALIZERS))
def test_nobody_can_dump_a_generator(probed: dict, serializer: str) -> None:
    assert cell_of(probed, "generator", serializer)["outcome"] == "dumps-error"


def test_recurse_true_is_what_makes_dill_ship_a_function_using_a_global(probed: dict) -> None:
    plain = cell_of(probed, "function-with-global", "dill")
    assert plain["outcome"] == "same-process-only"
    assert plain["error"] == "check raised NameError: name 'SCALE' is not defined"
    assert cell_of(probed, "function-with-global", "dill-recurse")["outcome"] == "ok"
    assert cell_of(probed, "recursive-function", "dill")["outcome"] == "same-process-only"
    assert cell_of(probed, "recursive-function", "dill-recurse")["outcome"] == "ok"


def test_cloudpickle_ships_an_open_file_as_a_stringio(probed: dict) -> None:
    cell = cell_of(probed, "text-file", "cloudpickle")
    assert (cell["outcome"], cell["error"]) == ("lossy", "loaded StringIO, expected TextIOWrapper")


def test_import_dill_changes_pickle_dispatch_and_extend_false_undoes_it(probed: dict) -> None:
    dill = probed["dill_extend"]
    assert dill["import_dill_changes_pickle_dispatch"] is True
    assert "builtins.code" in dill["added_types"]
    assert dill["extend_false_restores"] is True


def test_document_has_the_schema_the_report_reads(probed: dict) -> None:
    assert probed.keys() >= DOC_KEYS
    assert probed["schema_version"] == SCHEMA_VERSION == 1
    assert len(probed["cells"]) == len(probed["kinds"]) * len(probed["serializers"])
    for cell in probed["cells"]:
        assert cell.keys() >= CELL_KEYS and cell["outcome"] in OUTCOMES
        if cell["outcome"] in ("ok", "lossy"):
            assert cell["payload_bytes"] > 0
    json.loads(format_capabilities(probed, "json"))
    assert capability_file.check_capabilities(probed, "probed") is probed  # what it writes, it reads


def test_a_serializer_that_is_not_installed_is_skipped_with_a_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("msgpack", "dill"):
        missing = dataclasses.replace(SERIALIZERS[name], module="bench_no_such_module")
        monkeypatch.setitem(SERIALIZERS, name, missing)
    doc = probe_capabilities(["msgpack", "pickle-5"], ["int"])
    assert cell_of(doc, "int", "pickle-5")["outcome"] == "ok"
    skipped = cell_of(doc, "int", "msgpack")
    assert (skipped["outcome"], skipped["error"]) == ("skipped",
                                                      "bench_no_such_module is not installed")
    entries = {entry["name"]: entry for entry in doc["serializers"]}
    assert entries["msgpack"]["available"] is False and entries["pickle-5"]["available"]
    assert doc["dill_extend"]["import_dill_changes_pickle_dispatch"] is None
    assert doc["dill_extend"]["error"] == "dill is not installed"


# ---------------------------------------------------------------- the fast serializers' limits

FAST_SERIALIZERS = ["msgspec-msgpack", "msgspec-json", "orjson", "ormsgpack", "cbor2"]
LIMIT_KINDS = ["tuple", "set", "dataclass", "numpy-array", "datetime", "bytes"]
# What each library does with each kind at its default settings (checked by hand against the
# libraries' documentation; test_limits_agree_with_the_library_called_directly re-derives them).
FAST_LIMITS = {
    "msgspec-msgpack": ("lossy", "lossy", "lossy", "dumps-error", "ok", "ok"),
    "msgspec-json": ("lossy", "lossy", "lossy", "dumps-error", "lossy", "lossy"),
    "orjson": ("lossy", "dumps-error", "lossy", "dumps-error", "lossy", "dumps-error"),
    "ormsgpack": ("lossy", "dumps-error", "lossy", "dumps-error", "lossy", "ok"),
    "cbor2": ("lossy", "ok", "dumps-error", "dumps-error", "ok", "ok"),
}


@pytest.fixture(scope="module")
def fast_probed() -> dict:
    available = [s for s in FAST_SERIALIZERS if SERIALIZERS[s].available()]
    return probe_capabilities(available, LIMIT_KINDS, timeout=30)


def direct_outcome(serializer: str, kind: capability_kinds.Kind) -> str:
    """The outcome from calling the library in this process, without bench's probe."""
    codec = SERIALIZERS[serializer].codec()
    try:
        payload = codec.dumps(kind.build())
    except Exception:
        return "dumps-error"
    return "ok" if kind.check(codec.loads(payload)) is None else "lossy"


@pytest.mark.parametrize("serializer", FAST_SERIALIZERS)
@pytest.mark.slow
def test_fast_serializers_limits_show_in_the_matrix(fast_probed: dict, serializer: str) -> None:
    if not SERIALIZERS[serializer].available():
        pytest.skip(f"{SERIALIZERS[serializer].module} is not installed")
    cells = {kind: cell_of(fast_probed, kind, serializer) for kind in LIMIT_KINDS}
    assert tuple(cells[kind]["outcome"] for kind in LIMIT_KINDS) == FAST_LIMITS[serializer]
    assert cells["tuple"]["error"] == "loaded list, expected tuple"
    if FAST_LIMITS[serializer][2] == "lossy":
        assert cells["dataclass"]["error"] == "loaded dict, expected Point"


@pytest.mark.parametrize("serializer", FAST_SERIALIZERS)
def test_limits_agree_with_the_library_called_directly(serializer: str) -> None:
    if not SERIALIZERS[serializer].available():
        pytest.skip(f"{SERIALIZERS[serializer].module} is not installed")
    kinds = {kind.name: kind for kind in KINDS}
    got = tuple(direct_outcome(serializer, kinds[name]) for name in LIMIT_KINDS)
    assert got == FAST_LIMITS[serializer]


# ---------------------------------------------------------------- crashes and hangs

def test_crashing_kinds_are_reported_and_the_rest_of_the_batch_goes_on(faulty_path: None) -> None:
    doc = probe_capabilities(["pickle-5"], ["int", "segfault", "exits", "crashes-on-fresh-load",
                                            "after-faults"],
                             timeout=30, extra_kinds_modules=["faulty_kinds"])
    outcomes = {c["kind"]: (c["outcome"], c["error"]) for c in doc["cells"]}
    assert outcomes == {"int": ("ok", None), "segfault": ("crash", "killed by SIGSEGV"),
                        "exits": ("crash", "exit code 3"),
                        "crashes-on-fresh-load": ("crash", "exit code 4"),
                        "after-faults": ("ok", None)}


@pytest.mark.slow
def test_a_hanging_kind_times_out(faulty_path: None) -> None:
    doc = probe_capabilities(["pickle-5"], ["hangs", "after-faults"], timeout=5.0,
                             extra_kinds_modules=["faulty_kinds"])
    assert cell_of(doc, "hangs", "pickle-5")["outcome"] == "timeout"
    assert cell_of(doc, "after-faults", "pickle-5")["outcome"] == "ok"


@pytest.mark.slow
def test_cli_exits_0_when_kinds_crash_and_hang(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(DATA), os.environ.get("PYTHONPATH",
                                                                                  "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "capabilities", "--format", "json", "--timeout", "5",
         "--kinds-module", "faulty_kinds", "--serializer", "cloudpickle", "--kind", "segfault",
         "--kind", "hangs", "--kind", "after-faults"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    outcomes = {c["kind"]: c["outcome"] for c in json.loads(proc.stdout)["cells"]}
    assert outcomes == {"segfault": "crash", "hangs": "timeout", "after-faults": "ok"}


# ---------------------------------------------------------------- the command end to end

@pytest.mark.slow
def test_bench_capabilities_json_end_to_end(tmp_path: Path) -> None:
    """The whole catalogue x every serializer, as a user runs it."""
    proc = subprocess.run([sys.executable, "-m", "bench", "capabilities", "--format", "json"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert [s["name"] for s in doc["serializers"]] == list(SERIALIZERS)
    assert len(doc["kinds"]) >= 40
    assert len(doc["cells"]) == len(doc["kinds"]) * len(SERIALIZERS)
    outcomes = {c["outcome"] for c in doc["cells"]}
    assert {"ok", "lossy", "dumps-error", "same-process-only"} <= outcomes
    assert not outcomes & {"crash", "timeout", "skipped"}
    assert cell_of(doc, "lambda", "pickle-5")["outcome"] == "dumps-error"
    assert cell_of(doc, "lambda", "cloudpickle")["outcome"] == "ok"
    (tmp_path / "caps.json").write_text(proc.stdout)
    assert capability_file.read_capabilities(tmp_path / "caps.json") == doc


def test_output_file_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "caps.md"
    code = main(["capabilities", "--format", "md", "--serializer", "json", "--kind", "tuple",
                 "-o", str(out)])
    assert code == 0
    text = out.read_text()
    assert text.startswith("# Capability matrix")
    assert "| `tuple` | container | `~` |" in text


# ---------------------------------------------------------------- formatting (golden files)

@pytest.mark.parametrize("fmt, suffix", [("text", "txt"), ("md", "md")])
def test_formats_match_the_golden_files(fmt: str, suffix: str) -> None:
    doc = json.loads((DATA / "formatted.json").read_text())
    assert format_capabilities(doc, fmt) == (DATA / f"formatted.{suffix}").read_text()


def test_text_format_has_a_legend_for_every_outcome() -> None:
    text = format_capabilities(json.loads((DATA / "formatted.json").read_text()), "text")
    assert "legend: + ok: loads in a fresh process and works" in text
    for name, outcome in OUTCOMES.items():
        assert f"{outcome.symbol} {name}: {outcome.meaning}" in text


def test_every_outcome_has_its_own_symbol_and_label() -> None:
    """One home for an outcome's symbol (text), label and CSS class (report), and meaning."""
    assert len({o.symbol for o in OUTCOMES.values()}) == len(OUTCOMES)
    assert len({o.label for o in OUTCOMES.values()}) == len(OUTCOMES)
    assert all(o.css.startswith("cap-") and o.meaning for o in OUTCOMES.values())


def test_json_format_is_the_document() -> None:
    doc = json.loads((DATA / "formatted.json").read_text())
    assert json.loads(format_capabilities(doc, "json")) == doc


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("argv, message", [
    (["--serializer", "nope"], "ERROR: --serializer: unknown name 'nope'"),
    (["--kind", "nope"], "ERROR: --kind: unknown name 'nope'"),
    (["--kinds-module", "no_such_module_here"], "ERROR: --kinds-module: cannot import"),
    (["-o", "/proc/bench/caps.txt"], "ERROR: /proc/bench/caps.txt: cannot create directory"),
])
def test_bad_input_exits_2_with_one_error_line(argv: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capabilities", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message)


def test_unknown_format_and_duplicate_kind_names_raise_input_error() -> None:
    with pytest.raises(InputError, match="--format"):
        format_capabilities({}, "xml")
    with pytest.raises(InputError, match="duplicate kind names: int"):
        capabilities.check_kind_names(["int", "int"])
    assert len(load_catalogue()) == len(KINDS)


# ---------------------------------------------------------------- reading a capability file

def changed_document(change) -> dict:
    """The committed probe output with one change."""
    doc = json.loads((DATA / "formatted.json").read_text())
    change(doc)
    return doc


@pytest.mark.parametrize("change, words", [
    (lambda d: d["cells"][0].update(kind=["int"]), "cells: kind ['int'] is not text"),
    (lambda d: d["cells"][0].update(outcome=3), "cells: outcome 3 is not one of ok, lossy"),
    (lambda d: d["cells"][0].update(outcome="fine"), "cells: outcome 'fine' is not one of"),
    (lambda d: d["cells"][0].update(payload_bytes="12"), "payload_bytes '12' is not an integer"),
    (lambda d: d["cells"][0].update(payload_bytes=True), "payload_bytes True is not an integer"),
    (lambda d: d["cells"][0].update(error=["x"]), "cells: error ['x'] is not text or null"),
    (lambda d: d.update(serializers=["pickle-5"]), "serializers: 'pickle-5' is not an object"),
    (lambda d: d["serializers"][0].update(available="yes"), "available 'yes' is not true, false"),
    (lambda d: d.update(kinds=[1]), "kinds: 1 is not an object with name"),
    (lambda d: d["kinds"][0].update(group=2), "kinds: group 2 is not text or null"),
    (lambda d: d.update(dill_extend=[1]), "dill_extend [1] is not an object"),
    (lambda d: d["dill_extend"].update(added_types=3), "dill_extend: added_types 3 is not a list"),
    (lambda d: d.update(python=3.11), "python 3.11 is not text"),
    (lambda d: d.update(schema_version=True), "schema_version True is not supported"),
])
def test_a_capability_file_of_the_wrong_types_is_refused(change, words) -> None:
    assert capability_file.check_capabilities(changed_document(lambda d: None), "c.json")
    with pytest.raises(InputError) as info:
        capability_file.check_capabilities(changed_document(change), "c.json")
    assert str(info.value).startswith("c.json: ") and words in str(info.value)


def test_a_deeply_nested_capability_file_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    with pytest.raises(InputError, match=r"deep.json: capability matrix is not valid JSON"):
        capability_file.read_capabilities(path)
