"""The serializer registry: lazy imports, and the round-trip classification the runner reuses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.equality import same_value
from bench.subjects.serializers import (
    SERIALIZERS,
    OobPayload,
    SerializerError,
    classify_roundtrip,
    get_serializer,
    payload_nbytes,
)
from bench.subjects.shapes import SHAPES, build_shape

PAIRS = [(s, shape) for s in SERIALIZERS for shape in SHAPES]


def test_import_loads_no_optional_library():
    code = ("import sys, bench.subjects.serializers, bench.subjects.shapes, bench.subjects.folds, "
            "bench.run.cases, bench.run.worker;"
            "print(','.join(m for m in bench.run.worker.watched_libraries() if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_registry_has_the_required_entries():
    required = {f"pickle-{p}" for p in range(6)} | {"pickle-5-oob", "marshal", "dill",
                                                    "dill-recurse", "cloudpickle", "msgpack", "json",
                                                    "msgspec-msgpack", "msgspec-json", "orjson",
                                                    "ormsgpack", "cbor2"}
    assert required <= set(SERIALIZERS)
    assert all(entry.note and entry.version() for entry in SERIALIZERS.values())


@pytest.mark.parametrize(("serializer", "shape"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_classification_is_consistent(serializer, shape):
    codec = SERIALIZERS[serializer].codec()
    obj = build_shape(shape, 50)
    result = classify_roundtrip(codec, obj)
    if result.status == "unsupported":
        exc_type = result.error.split(":")[0]
        assert exc_type.isidentifier() and result.payload_bytes is None
        return
    back = codec.loads(codec.dumps(obj))
    assert same_value(obj, back) is (result.status == "ok")
    assert result.payload_bytes == payload_nbytes(codec.dumps(obj)) > 0


@pytest.mark.parametrize(("serializer", "shape", "status", "error_prefix"), [
    ("pickle-5", "records", "ok", None),
    ("pickle-0", "dataclasses", "ok", None),
    ("dill", "mixed", "ok", None),
    ("cloudpickle", "ndarray", "ok", None),
    ("marshal", "dataclasses", "unsupported", "ValueError: unmarshallable object"),
    ("marshal", "ndarray", "lossy", None),
    ("msgpack", "tuples", "lossy", None),
    ("msgpack", "dataclasses", "unsupported", "TypeError"),
    ("json", "bytes", "unsupported", "TypeError"),
    ("json", "tuples", "lossy", None),
    ("msgspec-msgpack", "tuples", "lossy", None),
    ("msgspec-msgpack", "dataclasses", "lossy", None),
    ("msgspec-msgpack", "ndarray", "unsupported", "TypeError: Encoding objects of type numpy"),
    ("msgspec-msgpack", "bytes", "ok", None),
    ("msgspec-json", "bytes", "lossy", None),
    ("msgspec-json", "mixed", "lossy", None),
    ("orjson", "bytes", "unsupported", "TypeError"),
    ("orjson", "dataclasses", "lossy", None),
    ("orjson", "records", "ok", None),
    ("ormsgpack", "bytes", "ok", None),
    ("ormsgpack", "ndarray", "unsupported", "TypeError"),
    ("cbor2", "mixed", "ok", None),
    ("cbor2", "dataclasses", "unsupported", "CBOREncodeError"),
    ("cbor2", "tuples", "lossy", None),
])
def test_known_cells(serializer, shape, status, error_prefix):
    result = classify_roundtrip(SERIALIZERS[serializer].codec(), build_shape(shape, 20))
    assert result.status == status
    if error_prefix:
        assert result.error.startswith(error_prefix)


def test_out_of_band_buffers_travel_apart():
    arr = build_shape("ndarray", 1000)
    payload = SERIALIZERS["pickle-5-oob"].codec().dumps(arr)
    assert isinstance(payload, OobPayload) and len(payload.buffers) == 1
    assert len(payload.data) < 200 and payload_nbytes(payload) > arr.nbytes


def test_unknown_serializer_names_the_choices():
    with pytest.raises(SerializerError, match="unknown serializer 'pikle'.*pickle-5"):
        get_serializer("pikle")


def test_plot_styles_are_distinct_across_serializers_and_fold_styles():
    from bench.subjects.folds import STYLES

    entries = [*SERIALIZERS.values(), *STYLES.values()]
    pairs = [(e.color, e.marker) for e in entries]
    assert all(color.startswith("#") and marker for color, marker in pairs)
    assert len(set(pairs)) == len(pairs)


@pytest.mark.parametrize("name", SERIALIZERS)
def test_has_file_form_says_whether_the_codec_has_dump_and_load(name):
    entry = SERIALIZERS[name]
    if not entry.available():
        pytest.skip(f"{entry.module} is not installed")
    codec = entry.codec()
    assert entry.has_file_form == (codec.dump is not None and codec.load is not None)
    assert entry.call.startswith(entry.module)


def test_general_picklers_are_the_ones_that_ship_code():
    assert [s.name for s in SERIALIZERS.values() if s.general] == ["dill", "dill-recurse",
                                                                    "cloudpickle"]
