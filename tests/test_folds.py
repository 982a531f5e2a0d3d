"""The fold registry: every style agrees with the plain loop, on lists and generators."""

from __future__ import annotations

import functools

import pytest

from bench.errors import InputError
from bench.subjects.folds import INPUT_KINDS, STYLES, TASKS, build_items, feed_items, get_fold, same_answer

CELLS = [(style, task, kind) for style in STYLES for task in STYLES[style].tasks
         for kind in INPUT_KINDS]


def test_registry_sizes():
    assert len(STYLES) >= 8 and len(TASKS) >= 6


@pytest.mark.parametrize("style", STYLES)
def test_style_implements_exactly_the_tasks_it_claims(style):
    assert set(STYLES[style].functions()) == set(STYLES[style].tasks) <= set(TASKS)


@pytest.mark.parametrize(("style", "task", "kind"), CELLS, ids=["-".join(c) for c in CELLS])
def test_style_agrees_with_loop(style, task, kind):
    items = build_items(task, 300, seed=7)
    expected = get_fold("loop", task)(items)
    assert same_answer(get_fold(style, task)(feed_items(items, kind)()), expected)


def test_generator_feed_is_fresh_each_call():
    feed = feed_items([1, 2, 3], "generator")
    assert sum(feed()) == sum(feed()) == 6


def test_toolz_reduce_is_functools_reduce():
    import toolz

    assert toolz.reduce is functools.reduce
    assert "toolz.reduce is functools.reduce" in STYLES["toolz"].note


def test_same_answer_is_strict_enough_to_fail():
    assert not same_answer([1, 2], (1, 2))
    assert not same_answer(1.0, 1.001)


def test_unsupported_task_is_refused():
    with pytest.raises(InputError, match="does not support task 'sum'"):
        get_fold("toolz", "sum")


@pytest.mark.parametrize("style", STYLES)
def test_calls_name_only_supported_tasks(style):
    entry = STYLES[style]
    assert set(entry.calls) <= set(entry.tasks)
    assert all(entry.call_for(task) for task in entry.tasks)


def test_reduce_styles_are_flagged():
    assert [s.name for s in STYLES.values() if s.is_reduce] == ["reduce-lambda", "reduce-operator"]
    assert STYLES["builtin"].call_for("count-words") == "collections.Counter"
