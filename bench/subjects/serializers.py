"""The serializer registry: one frozen entry per serializer, imported lazily.

Importing this module imports none of the optional libraries (dill, cloudpickle, msgpack,
msgspec, orjson, ormsgpack, cbor2): an entry's
codec is built by calling `Serializer.codec()`, which imports the library then.
That keeps workers isolated (a pyperf worker that times pickle must never import
dill, which patches pickle's pure-Python dispatch table).

Each codec has `dumps(obj) -> payload`, `loads(payload) -> obj`, and file-like
`dump(obj, file)` / `load(file)` used by the sink cases (`None` where the
serializer has no file form, e.g. out-of-band pickle).
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, NamedTuple

from bench.equality import first_difference, same_value
from bench.subjects import check_new_name


class SerializerError(LookupError):
    """An unknown or unavailable serializer was asked for."""


@dataclass(frozen=True)
class Codec:
    """The four calls a benchmark times."""

    dumps: Callable[[Any], Any]
    loads: Callable[[Any], Any]
    dump: Callable[[Any, BinaryIO], Any] | None = None
    load: Callable[[BinaryIO], Any] | None = None


@dataclass(frozen=True)
class Serializer:
    """One registry entry: how to build the codec, what it is and how reports show it.

    call: the dumps call as reports show it; general: ships code (functions, classes) by
    value; has_file_form: has dump/load on a file object, so it gets the sink cases;
    color and marker: its plot style (a colour no other serializer or fold style has, the
    pickle protocols a ramp of one hue from light to dark; a matplotlib marker); legacy: an
    older format kept as a reference (the quick profile times it on two shapes only, every
    other serializer on every shape); quick_shapes: a variant of another entry is timed by
    the quick profile only on the shapes where it can differ from that entry; zero_copy:
    large buffers travel out of band and are not copied, so a share of memcpy means nothing;
    socket: the ship suite frames a loopback socket's messages with it (False for a variant
    whose frames are another entry's); seconds_per_byte: a dumps call's rough cost per byte of
    input, for balancing shards. Every fact has a default that works: `register_serializer`
    needs only a name and two functions.
    """

    name: str
    module: str
    note: str
    make_codec: Callable[[], Codec]
    distribution: str | None = None
    call: str = ""
    general: bool = False
    has_file_form: bool = True
    color: str = ""
    marker: str = ""
    legacy: bool = False
    quick_shapes: tuple[str, ...] = ()
    zero_copy: bool = False
    socket: bool = True
    seconds_per_byte: float = 1e-9  # a C serializer's dumps, roughly

    def codec(self) -> Codec:
        """Import the library and return its codec."""
        return self.make_codec()

    def available(self) -> bool:
        """True when the library can be imported (checked without importing it)."""
        return importlib.util.find_spec(self.module) is not None

    def version(self) -> str:
        """Library version, read from package metadata (no import)."""
        return library_version(self.distribution)


def library_version(distribution: str | None) -> str:
    """A distribution's version from its metadata (no import); `stdlib X.Y.Z` for None."""
    if distribution is None:
        return f"stdlib {sys.version.split()[0]}"  # platform.python_version(), unimported
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "missing"


class OobPayload(NamedTuple):
    """A protocol-5 pickle whose large buffers travel out of band."""

    data: bytes
    buffers: list[memoryview]


def payload_nbytes(payload: Any) -> int:
    """Bytes a payload occupies on the wire.

    >>> payload_nbytes(b"abc"), payload_nbytes(OobPayload(b"ab", [memoryview(b"xyz")]))
    (3, 5)
    """
    if isinstance(payload, OobPayload):
        return len(payload.data) + sum(memoryview(b).nbytes for b in payload.buffers)
    return len(payload)


def _pickle_codec(protocol: int) -> Codec:
    import pickle

    return Codec(
        dumps=functools.partial(pickle.dumps, protocol=protocol),
        loads=pickle.loads,
        dump=functools.partial(pickle.dump, protocol=protocol),
        load=pickle.load,
    )


def _pickle_oob_codec() -> Codec:
    import pickle

    def dumps(obj: Any) -> OobPayload:
        buffers: list[pickle.PickleBuffer] = []
        data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
        return OobPayload(data, [b.raw() for b in buffers])

    def loads(payload: OobPayload) -> Any:
        return pickle.loads(payload.data, buffers=payload.buffers)

    return Codec(dumps=dumps, loads=loads)


def _marshal_codec() -> Codec:
    import marshal

    return Codec(dumps=marshal.dumps, loads=marshal.loads, dump=marshal.dump, load=marshal.load)


def _dill_codec(recurse: bool) -> Codec:
    import dill

    return Codec(
        dumps=functools.partial(dill.dumps, protocol=5, recurse=recurse),
        loads=dill.loads,
        dump=functools.partial(dill.dump, protocol=5, recurse=recurse),
        load=dill.load,
    )


def _cloudpickle_codec() -> Codec:
    import pickle

    import cloudpickle

    return Codec(
        dumps=functools.partial(cloudpickle.dumps, protocol=5),
        loads=pickle.loads,
        dump=functools.partial(cloudpickle.dump, protocol=5),
        load=pickle.load,
    )


def _msgpack_codec() -> Codec:
    import msgpack

    unpack_options = {"raw": False, "strict_map_key": False}
    return Codec(
        dumps=functools.partial(msgpack.packb, use_bin_type=True),
        loads=functools.partial(msgpack.unpackb, **unpack_options),
        dump=functools.partial(msgpack.pack, use_bin_type=True),
        load=functools.partial(msgpack.unpack, **unpack_options),
    )


def _json_codec() -> Codec:
    import json

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj).encode()

    def dump(obj: Any, file: BinaryIO) -> None:
        file.write(dumps(obj))

    return Codec(dumps=dumps, loads=json.loads, dump=dump, load=json.load)


def _msgspec_codec(format_name: str) -> Codec:
    import importlib

    module = importlib.import_module(f"msgspec.{format_name}")
    return Codec(dumps=module.Encoder().encode, loads=module.Decoder().decode)


def _orjson_codec() -> Codec:
    import orjson

    return Codec(dumps=orjson.dumps, loads=orjson.loads)


def _ormsgpack_codec() -> Codec:
    import ormsgpack

    return Codec(dumps=ormsgpack.packb, loads=ormsgpack.unpackb)


def _cbor2_codec() -> Codec:
    import cbor2

    return Codec(dumps=cbor2.dumps, loads=cbor2.loads, dump=cbor2.dump, load=cbor2.load)


PICKLE_COLORS = ("#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")  # light to dark


def _pickle_entry(protocol: int) -> Serializer:
    note = f"stdlib pickle, protocol={protocol} passed explicitly"
    return Serializer(f"pickle-{protocol}", "pickle", note, functools.partial(_pickle_codec, protocol),
                      call=f"pickle.dumps(obj, protocol={protocol})",
                      color=PICKLE_COLORS[protocol], marker="o", legacy=protocol < 5,
                      seconds_per_byte=3e-9 if protocol == 0 else 1e-9)


SERIALIZERS: dict[str, Serializer] = {
    s.name: s
    for s in [
        *(_pickle_entry(p) for p in range(6)),
        Serializer("pickle-5-oob", "pickle", "protocol 5 with buffer_callback: large buffers "
                   "travel out of band, zero-copy on load", _pickle_oob_codec,
                   call="pickle.dumps(obj, protocol=5, buffer_callback=...)",
                   has_file_form=False, color="#6a51a3", marker="s", zero_copy=True,
                   quick_shapes=("bytes", "ndarray")),
        Serializer("marshal", "marshal", "CPython-only; its format changes between Python "
                   "versions; core types only", _marshal_codec, call="marshal.dumps(obj)",
                   color="#525252", marker="o"),
        Serializer("dill", "dill", "pure-Python pickler subclass that ships code; protocol=5, "
                   "default settings", functools.partial(_dill_codec, False), "dill",
                   call="dill.dumps(obj, protocol=5)", general=True, color="#f28e2b",
                   marker="s", seconds_per_byte=40e-9),
        Serializer("dill-recurse", "dill", "dill with recurse=True: pickles only the globals "
                   "a function uses", functools.partial(_dill_codec, True), "dill",
                   call="dill.dumps(obj, protocol=5, recurse=True)", general=True,
                   color="#ffbe7d", marker="s", quick_shapes=("ints", "records"), socket=False,
                   seconds_per_byte=40e-9),
        Serializer("cloudpickle", "cloudpickle", "pickles functions and classes by value; "
                   "protocol=5; loads with plain pickle", _cloudpickle_codec, "cloudpickle",
                   call="cloudpickle.dumps(obj, protocol=5)", general=True, color="#e15759",
                   marker="s"),
        Serializer("msgpack", "msgpack", "binary JSON-like; use_bin_type=True, raw=False, "
                   "strict_map_key=False; tuples come back as lists", _msgpack_codec, "msgpack",
                   call="msgpack.packb(obj, use_bin_type=True)", color="#ff9da7", marker="s"),
        Serializer("json", "json", "stdlib json, a text-format reference", _json_codec,
                   call="json.dumps(obj).encode()", color="#59a14f", marker="s",
                   seconds_per_byte=3e-9),
        Serializer("msgspec-msgpack", "msgspec", "msgspec's MessagePack Encoder/Decoder, no "
                   "type given: tuples, sets and dataclasses come back as lists and dicts; "
                   "no numpy, no ints beyond 64 bits", functools.partial(_msgspec_codec, "msgpack"),
                   "msgspec", call="msgspec.msgpack.Encoder().encode(obj)", has_file_form=False,
                   color="#b07aa1", marker="D"),
        Serializer("msgspec-json", "msgspec", "msgspec's JSON Encoder/Decoder, no type given: "
                   "also bytes (base64) and datetimes come back as str, int keys as str keys",
                   functools.partial(_msgspec_codec, "json"), "msgspec",
                   call="msgspec.json.Encoder().encode(obj)", has_file_form=False,
                   color="#8cd17d", marker="D"),
        Serializer("orjson", "orjson", "Rust JSON, default options: no bytes, sets, numpy or "
                   "non-str keys; tuples, dataclasses and datetimes come back as lists, dicts, str",
                   _orjson_codec, "orjson", call="orjson.dumps(obj)", has_file_form=False,
                   color="#1b7837", marker="D"),
        Serializer("ormsgpack", "ormsgpack", "Rust MessagePack, default options: no sets, numpy "
                   "or non-str keys; tuples, dataclasses and datetimes come back as lists, "
                   "dicts, str", _ormsgpack_codec, "ormsgpack", call="ormsgpack.packb(obj)",
                   has_file_form=False, color="#9c755f", marker="D"),
        Serializer("cbor2", "cbor2", "CBOR (RFC 8949) with its standard tags: sets, datetimes, "
                   "Decimal and big ints survive; tuples come back as lists; no dataclasses "
                   "or numpy", _cbor2_codec, "cbor2", call="cbor2.dumps(obj)", color="#bcbd22",
                   marker="D"),
    ]
}


def register_serializer(name: str, dumps: Callable[[Any], Any], loads: Callable[[Any], Any], *,
                        dump: Callable[[Any, BinaryIO], Any] | None = None,
                        load: Callable[[BinaryIO], Any] | None = None, module: str = "",
                        note: str = "", **facts: Any) -> Serializer:
    """Add a serializer to the registry from its functions; every other fact is a keyword of
    `Serializer` with a default that works (the library: the module `dumps` comes from).

    >>> import zlib, pickle
    >>> entry = register_serializer("zlib-pickle-doc", lambda o: zlib.compress(pickle.dumps(o)),
    ...                             lambda b: pickle.loads(zlib.decompress(b)))
    >>> entry.has_file_form, classify_roundtrip(entry.codec(), [1, 2]).status
    (False, 'ok')
    >>> del SERIALIZERS["zlib-pickle-doc"]
    """
    check_new_name("serializer", name, SERIALIZERS)
    codec = Codec(dumps, loads, dump, load)
    library = module or getattr(dumps, "__module__", "") or "builtins"
    facts.setdefault("has_file_form", dump is not None and load is not None)
    facts.setdefault("call", f"{getattr(dumps, '__qualname__', 'dumps')}(obj)")
    entry = Serializer(name, library, note or f"registered by {library}", lambda: codec, **facts)
    SERIALIZERS[name] = entry
    return entry


def get_serializer(name: str) -> Serializer:
    """Look a serializer up by name; raise SerializerError naming the choices."""
    try:
        return SERIALIZERS[name]
    except KeyError:
        known = ", ".join(SERIALIZERS)
        raise SerializerError(f"unknown serializer {name!r} (known: {known})") from None


Status = Literal["ok", "lossy", "unsupported"]


class RoundTrip(NamedTuple):
    """How one object fares through one codec."""

    status: Status
    payload_bytes: int | None
    error: str | None
    payload: Any = None


def describe_error(exc: BaseException) -> str:
    """`Type: first line of the message`, the form every failure is reported in.

    >>> describe_error(ValueError("unmarshallable object\\nmore"))
    'ValueError: unmarshallable object'
    """
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def classify_roundtrip(codec: Codec, obj: Any) -> RoundTrip:
    """Round-trip `obj`: ok (equal), lossy (loads but differs) or unsupported (raises).

    >>> classify_roundtrip(SERIALIZERS["pickle-5"].codec(), [1, (2, 3)]).status
    'ok'
    >>> classify_roundtrip(SERIALIZERS["json"].codec(), (1, 2)).status
    'lossy'
    """
    try:
        payload = codec.dumps(obj)
        size = payload_nbytes(payload)
        back = codec.loads(payload)
    except (Exception, RecursionError) as exc:  # any failure is a finding, not a crash
        return RoundTrip("unsupported", None, describe_error(exc))
    if same_value(obj, back):
        return RoundTrip("ok", size, None, payload)
    return RoundTrip("lossy", size, first_difference(obj, back) or "loads returned a different object",
                     payload)
