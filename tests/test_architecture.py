"""The import layers that docs/architecture.md states hold in the code, and every module is placed."""

from __future__ import annotations

import ast
import doctest
import fnmatch
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bench"
LAYER_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|")


def read_layers(text: str) -> list[tuple[int, str]]:
    """(layer, module pattern) pairs from the table under the "## Layers" heading.

    >>> read_layers("## Layers\\n| layer | modules |\\n|---|---|\\n| 0 | `bench.errors`, `bench.text` |\\n")
    [(0, 'bench.errors'), (0, 'bench.text')]
    """
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    pairs = []
    for line in section.splitlines():
        match = LAYER_ROW.match(line)
        if match:
            pairs += [(int(match[1]), name) for name in re.findall(r"`([\w.*]+)`", match[2])]
    return pairs


LAYERS = read_layers((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"))


def module_name(path: Path) -> str:
    """bench/gate/rule.py -> bench.gate.rule; bench/report/__init__.py -> bench.report."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    """The layer the architecture puts a module in (the most specific pattern wins)."""
    matches = [(len(pattern), layer) for layer, pattern in LAYERS
               if module == pattern or fnmatch.fnmatchcase(module, pattern)]
    return max(matches)[1] if matches else None


def imported_modules(path: Path, name: str) -> set[str]:
    """Every bench module a file imports, at the top or inside functions."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m in MODULES and m != name}


def test_the_layer_table_is_found() -> None:
    assert len({layer for layer, _ in LAYERS}) >= 5


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_has_a_layer(name: str) -> None:
    assert layer_of(name) is not None, f"{name} is in no layer of docs/architecture.md"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_one_above_it(name: str) -> None:
    own = layer_of(name)
    above = {m: layer_of(m) for m in imported_modules(MODULES[name], name)
             if (layer_of(m) or 0) > (own or 0)}
    assert not above, f"{name} (layer {own}) imports modules of higher layers: {above}"


def test_a_lower_import_of_a_higher_module_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "text.py"
    path.write_text("from bench.cli import main\n\ndef f():\n    from .report import plots\n")
    found = imported_modules(path, "bench.text")
    assert found == {"bench.cli", "bench.report", "bench.report.plots"}
    assert all(layer_of(m) > layer_of("bench.text") for m in found)


LONG_ALLOWED = {"bench.subjects.capability_kinds"}  # a data catalogue: one theme, many entries


@pytest.mark.parametrize("name", sorted(set(MODULES) - LONG_ALLOWED))
def test_no_module_is_over_500_lines(name: str) -> None:
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= 500, f"{name} has {lines} lines"


@pytest.mark.parametrize("name", sorted(set(MODULES) - {"bench.__main__"}))
def test_the_examples_in_docstrings_hold(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, report=False, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples fail"
