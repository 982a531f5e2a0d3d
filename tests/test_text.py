"""The shared table renderers."""

from __future__ import annotations

import doctest

import bench.tables
from bench.tables import render_markdown_table, render_text_table


def test_doctests_of_tables() -> None:
    assert doctest.testmod(bench.tables).failed == 0


def test_text_table_aligns_columns() -> None:
    lines = render_text_table(["case", "time", "verdict"], [["a/b", "1.5 us", "same"],
                                                            ["c", "10.25 us", "slower"]])
    assert lines == ["case      time  verdict", "----  --------  -------",
                     "a/b     1.5 us  same", "c     10.25 us  slower"]


def test_markdown_default_alignment_and_escaping() -> None:
    lines = render_markdown_table(["case", "ratio", "verdict"], [["a|b", "1.1", "same"]])
    assert lines == ["| case | ratio | verdict |", "| :-- | --: | :-- |", "| a\\|b | 1.1 | same |"]
