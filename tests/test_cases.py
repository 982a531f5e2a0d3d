"""The case matrix: names, profiles, selection."""

from __future__ import annotations

import pytest

from bench.cases import PROFILES, Case, is_supported, parse_case, profile_cases, select_cases
from bench.errors import InputError
from bench.serializers import SERIALIZERS


def test_names_round_trip_through_parse():
    for case in profile_cases("quick"):
        assert parse_case(case.name) == case


def test_quick_profile_size_and_coverage():
    cases = profile_cases("quick")
    assert 300 <= len(cases) <= 500
    ser = {c.subject for c in cases if c.suite == "ser"}
    assert ser == set(SERIALIZERS)
    assert {c.suite for c in cases} == {"ser", "fold", "ref"}
    assert {c.op for c in cases if c.suite == "ser"} >= {"dumps", "loads", "dumps-bytesio",
                                                         "loads-bytesio", "dumps-file", "loads-file"}


def test_smoke_covers_every_subject_once():
    cases = profile_cases("smoke")
    assert {c.subject for c in cases if c.suite == "ser"} == set(SERIALIZERS)
    assert len({c.subject for c in cases if c.suite == "fold"}) >= 8


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_have_unique_names_and_only_supported_pairs(profile):
    cases = profile_cases(profile)
    assert len({c.name for c in cases}) == len(cases)
    assert all(is_supported(c.subject, c.shape) for c in cases if c.suite == "ser")


def test_unsupported_pairs_are_not_cases():
    names = {c.name for c in profile_cases("quick")}
    assert "ser/marshal/dumps/dataclasses/1000" not in names
    assert "ser/msgpack/dumps/tuples/1000" not in names
    assert "ser/pickle-5/dumps/dataclasses/1000" in names


def test_selection_by_glob_and_suite():
    cases = profile_cases("quick")
    picked = select_cases(cases, ["ser/pickle-5/*/records/*"])
    assert picked and all(c.subject == "pickle-5" and c.shape == "records" for c in picked)
    assert {c.suite for c in select_cases(cases, suites=["fold"])} == {"fold"}


def test_pattern_matching_nothing_suggests_close_names():
    with pytest.raises(InputError, match="did you mean: ser/pickle-5/dumps/records/1000"):
        select_cases(profile_cases("quick"), ["ser/pickle-5/dumps/record/1000"])


@pytest.mark.parametrize(("name", "message"), [
    ("ser/pickle-9/dumps/ints/10", "unknown subject 'pickle-9'"),
    ("ser/pickle-5/dumps/ints", "expected suite/subject/op/shape/size"),
    ("fold/toolz/sum/list/10", "has no task 'sum'"),
    ("xyz/a/b/c/1", "unknown suite"),
])
def test_bad_case_names(name, message):
    with pytest.raises(InputError, match=message):
        parse_case(name)


def test_unknown_profile():
    with pytest.raises(InputError, match="unknown profile 'quik'"):
        profile_cases("quik")


def test_adding_a_shape_adds_its_cases(monkeypatch):
    from bench import shapes

    monkeypatch.setitem(shapes.SHAPES, "pairs", shapes.Shape(
        "pairs", lambda n, r: [(i, i) for i in range(n)], "test shape"))
    is_supported.cache_clear()
    try:
        names = {c.name for c in profile_cases("quick")}
    finally:
        is_supported.cache_clear()
    assert Case("ser", "pickle-5", "dumps", "pairs", 1000).name in names
