"""The user's own data (`--data SPEC`): parsing a spec, loading it, naming and registering its shapes.

A spec is `module:callable` (a function returning the object; called with `--data-size N` when
it takes a parameter), or a file: JSON (`.json`), JSON Lines (`.jsonl`, `.ndjson`), CSV
(`.csv`, read with pandas as a list of records and as a DataFrame), Parquet (`.parquet`,
where pyarrow is installed, the same two forms) or a pickle (`.pkl`, `.pickle`), which is
refused unless the user trusts it (unpickling runs code). Each form becomes a shape named
after the spec (`data-orders`, `data-orders-frame`, `data-make_order`) in `SHAPES`, so every
serializer runs on it. The parent loads each spec once (a bad spec is one InputError before
anything runs) and passes `child_options()` to its children; a child registers the same
shapes with `register_options` and loads only the data of the case it builds.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import inspect
import json
import os
import re
import sys
import traceback
from dataclasses import dataclass
from typing import Any

from bench.errors import InputError
from bench.subjects.shapes import SHAPES, Shape, shape_nbytes

FILE_KINDS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
              ".parquet": "parquet", ".pkl": "pickle", ".pickle": "pickle"}
# a table is read with pandas (a list of records and a DataFrame); what reading one needs
TABLE_READERS = {"csv": ("pandas",), "parquet": ("pandas", "pyarrow")}
TABLE_KINDS = tuple(TABLE_READERS)
DEFAULT_DATA_SIZE = 1000  # what a callable that takes a size gets without --data-size
MAX_DATA_SIZE = 10_000_000


@dataclass(frozen=True)
class DataSpec:
    """One `--data` spec, resolved: what it reads, the forms it makes and their sizes.

    kind: "callable" or a file kind (FILE_KINDS); target: `module:callable` or an absolute
    path; folder: where the callable's module is imported from (for children, which start
    elsewhere); size: the size its shapes are built at (the records of a file, or what the
    callable is given); scalable: the callable takes the size, so `--size` may change it;
    item_nbytes: memory of one item (shape_nbytes / size), for the memory budget.
    """

    text: str
    kind: str
    target: str
    folder: str = ""
    size: int = 1
    scalable: bool = False
    trust_pickle: bool = False
    item_nbytes: int = 0

    def forms(self) -> dict[str, str]:
        """{shape name: form} of this spec: "object", or "records" and "frame" for a table.

        >>> DataSpec("o.csv", "csv", "/x/o.csv").forms()
        {'data-o': 'records', 'data-o-frame': 'frame'}
        """
        base = shape_name(self.text, self.kind)
        if self.kind in TABLE_KINDS:
            return {base: "records", f"{base}-frame": "frame"}
        return {base: "object"}


LOADED: list[DataSpec] = []  # the specs this process registered, for the children it starts


def shape_name(text: str, kind: str) -> str:
    """The shape a spec is named as: `data-` and the file's stem or the callable's name, in
    lower case, with anything but letters, digits, `_` and `-` made `-`.

    >>> shape_name("myapp.fixtures:make_order", "callable"), shape_name("in/Orders 2.JSON", "json")
    ('data-make_order', 'data-orders-2')
    """
    stem = text.rsplit(":", 1)[1] if kind == "callable" else os.path.splitext(os.path.basename(text))[0]
    slug = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-")
    return f"data-{slug or 'data'}"


def parse_spec(text: str, trust_pickle: bool = False) -> DataSpec:
    """The spec's kind and target, checked without loading anything (a pickle without trust is
    refused here, before the file is opened).

    >>> parse_spec("json:dumps").kind
    'callable'
    """
    extension = os.path.splitext(text)[1].lower()
    if extension in FILE_KINDS or os.path.isfile(text):
        kind = FILE_KINDS.get(extension)
        if kind is None:
            raise InputError(f"--data {text}: unknown extension {extension or '(none)'!r} "
                             f"(known: {', '.join(FILE_KINDS)}, or module:callable)")
        if kind == "pickle" and not trust_pickle:
            raise InputError(f"--data {text}: a pickle file runs code when it is loaded; "
                             "give --trust-pickle if you trust it (it was not opened)")
        path = os.path.abspath(text)
        if not os.path.isfile(path):
            raise InputError(f"--data {text}: no such file")
        return DataSpec(text, kind, path, trust_pickle=trust_pickle)
    module, _, name = text.rpartition(":")
    if not (module and name.isidentifier() and all(p.isidentifier() for p in module.split("."))):
        raise InputError(f"--data {text}: expected module:callable or a file "
                         f"({', '.join(FILE_KINDS)})")
    return DataSpec(text, "callable", text, folder=module_folder(module))


def readers_needed(texts: list[str], trust_pickle: bool = False) -> list[str]:
    """The packages a child needs to read these specs (a table's readers), each once.

    >>> readers_needed(["json:dumps"])
    []
    """
    needed: dict[str, None] = {}
    for text in texts:
        needed.update(dict.fromkeys(TABLE_READERS.get(parse_spec(text, trust_pickle).kind, ())))
    return list(needed)


def module_folder(module: str) -> str:
    """The folder the callable's top package is imported from (the caller's folder when it is
    not importable yet): children start elsewhere and append it to their sys.path."""
    top = module.split(".")[0]
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # the user's own modules, after every installed library
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return os.getcwd()
    folder = os.path.dirname(os.path.abspath(spec.origin))
    return os.path.dirname(folder) if os.path.basename(spec.origin) == "__init__.py" else folder


def resolve_spec(text: str, data_size: int | None = None, trust_pickle: bool = False) -> DataSpec:
    """Parse and load a spec once: its size and memory per item, or one InputError (a module
    that is missing, a callable that raises, a file that does not parse)."""
    spec = parse_spec(text, trust_pickle)
    if spec.kind == "callable":
        takes = takes_size(import_callable(spec))
        spec = dataclasses.replace(spec, scalable=takes is not None,
                                   size=(data_size or takes or DEFAULT_DATA_SIZE) if takes is not None else 1)
    obj = load_form(spec, "object", spec.size)
    size = spec.size if spec.scalable else count_items(obj)
    return dataclasses.replace(spec, size=size, item_nbytes=max(1, shape_nbytes(obj) // size))


def count_items(obj: Any) -> int:
    """The records of a loaded object: its length when it is a collection, else 1.

    >>> count_items([1, 2, 3]), count_items("abc"), count_items({})
    (3, 1, 1)
    """
    if isinstance(obj, (str, bytes, bytearray)) or not hasattr(obj, "__len__"):
        return 1
    try:
        return max(1, len(obj))
    except TypeError:
        return 1


def import_callable(spec: DataSpec) -> Any:
    """The function a `module:callable` spec names; InputError when it cannot be found."""
    module_name, _, name = spec.target.rpartition(":")
    if spec.folder and spec.folder not in sys.path:
        sys.path.append(spec.folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"--data {spec.text}: cannot import {module_name!r} ({exc})") from None
    except Exception as exc:
        raise InputError(f"--data {spec.text}: importing {module_name!r} raised "
                         f"{last_line(exc)}") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise InputError(f"--data {spec.text}: module {module_name!r} has no callable {name!r}")
    return function


def takes_size(function: Any) -> int | None:
    """None when `function` takes no argument; else the default of its first parameter when
    that is an int, or 0 (it takes a size but names none)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return None
    if not parameters or parameters[0].kind in (inspect.Parameter.VAR_KEYWORD,
                                                inspect.Parameter.KEYWORD_ONLY):
        return None
    default = parameters[0].default
    return default if isinstance(default, int) and not isinstance(default, bool) and default > 0 else 0


def last_line(exc: BaseException) -> str:
    """The last line of an exception's traceback: `Type: message`.

    >>> last_line(ValueError("no orders"))
    'ValueError: no orders'
    """
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


@functools.lru_cache(maxsize=4)
def load_form(spec: DataSpec, form: str, size: int) -> Any:
    """The object of one form of `spec` (built once per process); InputError when it fails."""
    if spec.kind == "callable":
        function = import_callable(spec)
        try:
            return function(size) if spec.scalable else function()
        except Exception as exc:
            raise InputError(f"--data {spec.text}: {spec.target} raised {last_line(exc)}") from None
    try:
        return LOADERS[spec.kind](spec.target, form, spec.text)
    except UnicodeDecodeError as exc:
        raise InputError(f"{spec.text}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{spec.text}: cannot read it ({exc.strerror or exc})") from None


def load_json(path: str, form: str, shown: str) -> Any:
    """A JSON file, with the standard library (`shown`: the path as the user gave it)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{shown}:{exc.lineno}: not JSON ({exc.msg}, column {exc.colno})") from None


def load_jsonl(path: str, form: str, shown: str) -> list[Any]:
    """A JSON Lines file: one JSON value per non-blank line, as a list."""
    items = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{shown}:{number}: not JSON ({exc.msg}, column {exc.colno})") from None
    return items


def load_table(path: str, form: str, shown: str) -> Any:
    """A CSV or Parquet file read with pandas: a DataFrame, or its rows as a list of dicts."""
    import pandas

    try:
        reader = pandas.read_parquet if path.lower().endswith(".parquet") else pandas.read_csv
        frame = reader(path)
    except ImportError as exc:
        raise InputError(f"{shown}: reading it needs a library that is missing ({exc})") from None
    except (ValueError, pandas.errors.ParserError, pandas.errors.EmptyDataError) as exc:
        raise InputError(f"{shown}: does not parse ({last_line(exc).split(': ', 1)[-1]})") from None
    return frame if form == "frame" else frame.to_dict("records")


def load_pickle(path: str, form: str, shown: str) -> Any:
    """A pickle file (parse_spec refuses one without --trust-pickle)."""
    import pickle

    with open(path, "rb") as f:
        try:
            return pickle.load(f)
        except Exception as exc:
            raise InputError(f"{shown}: does not unpickle ({last_line(exc)})") from None


LOADERS = {"json": load_json, "jsonl": load_jsonl, "csv": load_table, "parquet": load_table,
           "pickle": load_pickle}


def register_spec(spec: DataSpec) -> list[str]:
    """Add the spec's shapes to SHAPES (a name taken by another spec or shape is refused);
    return their names."""
    names = []
    for name, form in spec.forms().items():
        known = SHAPES.get(name)
        if known is not None and known.note != describe_form(spec, form):
            raise InputError(f"--data {spec.text}: its shape name {name!r} is taken "
                             f"({known.note}); rename the file or the callable")
        SHAPES[name] = Shape(name, functools.partial(build_data, spec, form), describe_form(spec, form),
                             default_size=spec.size, max_size=MAX_DATA_SIZE if spec.scalable else spec.size,
                             min_size=1 if spec.scalable else spec.size,
                             library="pandas" if form == "frame" else None, user_data=True,
                             item_nbytes=spec.item_nbytes)
        names.append(name)
    if spec not in LOADED:
        LOADED.append(spec)
    return names


def describe_form(spec: DataSpec, form: str) -> str:
    """A data shape's note: the spec, and the form of a table."""
    return spec.text if form == "object" else f"{spec.text} as {'a DataFrame' if form == 'frame' else 'rows'}"


def build_data(spec: DataSpec, form: str, n: int, rng: Any) -> Any:
    """A data shape's builder: the loaded object (`n` is what a scalable callable gets)."""
    return load_form(spec, form, n if spec.scalable else spec.size)


def load_specs(texts: list[str], data_size: int | None = None, trust_pickle: bool = False) -> list[str]:
    """Resolve and register every `--data` spec (the parent's side); the shapes' names."""
    if data_size is not None and not texts:
        raise InputError("--data-size needs --data")
    specs = [resolve_spec(text, data_size, trust_pickle) for text in texts]
    if data_size is not None and not any(spec.scalable for spec in specs):
        raise InputError(f"--data-size {data_size}: no --data callable takes a size parameter")
    return [name for spec in specs for name in register_spec(spec)]


def child_options() -> list[str]:
    """The options that give a child process this process's data specs (`--data JSON`)."""
    if not LOADED:
        return []
    return ["--data", json.dumps([dataclasses.asdict(spec) for spec in LOADED])]


def register_options(text: str) -> None:
    """A child's side of `child_options`: register the parent's specs without loading them."""
    for fields in json.loads(text) if text else []:
        spec = DataSpec(**fields)
        if spec.folder and spec.folder not in sys.path:
            sys.path.append(spec.folder)
        register_spec(spec)


def describe_loaded() -> list[dict[str, Any]]:
    """The loaded specs as a run's `bench_setup` records them: the text given and the size.

    >>> describe_loaded()
    []
    """
    return [{"spec": spec.text, "size": spec.size} for spec in LOADED]


def data_shapes() -> list[str]:
    """The names of the shapes the loaded specs made, in the order given."""
    return [name for spec in LOADED for name in spec.forms()]
