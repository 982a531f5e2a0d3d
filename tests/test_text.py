"""bench.text: units, numbers, ratios, intervals, tables and the choice of output format."""

from __future__ import annotations

import json

import pytest

import bench.text
from bench.errors import InputError
from bench.text import (
    FORMATS,
    choose_unit,
    format_change,
    format_change_interval,
    format_interval,
    format_percent,
    format_quantity,
    format_ratio,
    render_document,
    render_markdown_table,
    render_text_table,
)


def test_text_table_aligns_columns() -> None:
    lines = render_text_table(["case", "time", "verdict"], [["a/b", "1.5 µs", "same"],
                                                            ["c", "10.25 µs", "slower"]])
    assert lines == ["case      time  verdict", "----  --------  -------",
                     "a/b     1.5 µs  same", "c     10.25 µs  slower"]


def test_markdown_default_alignment_and_escaping() -> None:
    lines = render_markdown_table(["case", "ratio", "verdict"], [["a|b", "1.1", "same"]])
    assert lines == ["| case | ratio | verdict |", "| :-- | --: | :-- |", "| a\\|b | 1.1 | same |"]


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (1.0, "second", "1.00 s"), (0.5, "second", "500 ms"), (2.5e-9, "second", "2.50 ns"),
    (9.9996e-4, "second", "1.00 ms"), (999, "byte", "999 B"), (2.5e6, "byte", "2.50 MB"),
    (3e9, "byte", "3.00 GB"), (0.0, "second", "0.00 ns"), (3, "widget", "3.00 widget"),
    (float("nan"), "second", "-"),
])
def test_quantities_use_one_spelling_per_unit(value: float, unit: str, expected: str) -> None:
    assert format_quantity(value, unit) == expected


def test_axis_unit_follows_the_median_not_the_extremes() -> None:
    assert choose_unit([1e-9, 2e-3, 3e-3, 4e-3, 50.0]) == (1e-3, "ms")
    assert choose_unit([float("nan"), -1.0]) == (1.0, "s")


@pytest.mark.parametrize(("ratio", "expected"), [
    (2.0, "2.00x slower"), (0.5, "2.00x faster"), (0.999, "1.00x"), (1.006, "1.01x slower"),
    (0.0, "-"), (None, "-"),
])
def test_ratio_is_head_over_base(ratio: float | None, expected: str) -> None:
    assert format_ratio(ratio) == expected


@pytest.mark.parametrize(("ratio", "low", "high", "expected"), [
    (0.5, 0.4, 0.625, "2.00x faster [1.600x, 2.500x]"), (2.0, 1.6, 2.5, "2.00x slower [1.600x, 2.500x]"),
    (0.98, 0.95, 1.02, "1.02x faster [0.980x, 1.053x]"), (1.0, 0.99, 1.01, "1.00x [0.990x, 1.010x]"),
    (1.5, None, 2.0, "1.50x slower (CI unknown)"), (1.5, 0.0, 2.0, "1.50x slower (CI unknown)"),
    (None, 1.0, 2.0, "-"),
])
def test_a_change_and_its_interval_speak_the_same_words(ratio: float | None, low: float | None,
                                                         high: float, expected: str) -> None:
    assert format_change(ratio, low, high) == expected
    # the interval holds the point in the words it is printed in
    if expected.endswith("]"):
        point = float(expected.split("x")[0])
        bounds = [float(b.strip(" x")) for b in format_change_interval(ratio, low, high)[1:-1].split(",")]
        assert bounds[0] <= point <= bounds[1]


def test_interval_and_percent_say_missing_the_same_way() -> None:
    assert format_interval(None, 1.0) == format_percent(float("nan")) == bench.text.MISSING
    assert format_interval(1e-6, 2e-6, "second") == "[1.00 µs, 2.00 µs]"


def test_render_document_runs_only_the_chosen_renderer() -> None:
    def fail() -> str:
        raise AssertionError("not chosen")

    assert render_document("md", text=fail, markdown=lambda: "# md\n", data=fail) == "# md\n"
    assert json.loads(render_document("json", text=fail, data=lambda: {"a": 1.5})) == {"a": 1.5}
    assert FORMATS == ("text", "md", "json")


def test_render_document_refuses_a_format_it_cannot_give() -> None:
    with pytest.raises(InputError, match="unknown format 'md' \\(known: text, json\\)"):
        render_document("md", text=lambda: "", data=lambda: {})
    with pytest.raises(InputError, match="unknown format 'html'"):
        render_document("html", text=lambda: "", markdown=lambda: "", data=lambda: {})
