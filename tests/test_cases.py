"""The case matrix: names, profiles, selection, plugins."""

from __future__ import annotations

import pytest

from bench.errors import InputError
from bench.run.cases import PROFILES, Case, get_profile, is_supported, parse_case, select_cases
from bench.subjects.serializers import SERIALIZERS


def test_names_round_trip_through_parse():
    for case in get_profile("quick").list_cases():
        assert parse_case(case.name) == case


def test_quick_profile_size_and_coverage():
    cases = get_profile("quick").list_cases()
    assert 300 <= len(cases) <= 500
    ser = {c.subject for c in cases if c.suite == "ser"}
    assert ser == set(SERIALIZERS)
    assert {c.suite for c in cases} == {"ser", "fold", "ref", "ship"}
    assert {c.op for c in cases if c.suite == "ser"} >= {"dumps", "loads", "dumps-bytesio",
                                                         "loads-bytesio", "dumps-file", "loads-file"}


def test_smoke_covers_every_subject_once():
    cases = get_profile("smoke").list_cases()
    assert {c.subject for c in cases if c.suite == "ser"} == set(SERIALIZERS)
    assert len({c.subject for c in cases if c.suite == "fold"}) >= 8


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_have_unique_names_and_only_supported_pairs(profile):
    cases = get_profile(profile).list_cases()
    assert len({c.name for c in cases}) == len(cases)
    assert all(is_supported(c.subject, c.shape) for c in cases if c.suite == "ser")


def test_unsupported_pairs_are_not_cases():
    names = {c.name for c in get_profile("quick").list_cases()}
    assert "ser/marshal/dumps/dataclasses/1000" not in names
    assert "ser/msgpack/dumps/tuples/1000" not in names
    assert "ser/pickle-5/dumps/dataclasses/1000" in names


def test_selection_by_glob_and_suite():
    cases = get_profile("quick").list_cases()
    picked = select_cases(cases, ["ser/pickle-5/*/records/*"])
    assert picked and all(c.subject == "pickle-5" and c.shape == "records" for c in picked)
    assert {c.suite for c in select_cases(cases, suites=["fold"])} == {"fold"}


def test_pattern_matching_nothing_suggests_close_names():
    with pytest.raises(InputError, match="did you mean: ser/pickle-5/dumps/records/1000"):
        select_cases(get_profile("quick").list_cases(), ["ser/pickle-5/dumps/record/1000"])


@pytest.mark.parametrize(("name", "message"), [
    ("ser/pickle-9/dumps/ints/10", "unknown subject 'pickle-9'"),
    ("ser/pickle-5/dumps/ints", "expected suite/subject/op/shape/size"),
    ("fold/toolz/sum/list/10", "has no task 'sum'"),
    ("xyz/a/b/c/1", "unknown suite"),
])
def test_bad_case_names(name, message):
    with pytest.raises(InputError, match=message):
        parse_case(name)


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(InputError) as info:
        get_profile("quik")
    assert str(info.value) == ("unknown profile 'quik' (known: smoke, quick, full, scaling, ship, "
                               "ship-smoke, data)")


@pytest.mark.parametrize(("name", "processes", "capabilities"), [
    ("smoke", "1", False), ("quick", "3", True), ("scaling", "6", True)])
def test_a_profile_carries_its_pyperf_settings_and_capability_run(name, processes, capabilities):
    profile = get_profile(name)
    settings = list(profile.pyperf_settings)
    assert settings[settings.index("--processes") + 1] == processes
    assert profile.processes() == int(processes)
    assert profile.writes_capabilities is capabilities and profile.description


def test_full_profile_keeps_pyperf_default_rigour():
    assert get_profile("full").pyperf_settings == ("--timeout", "600")


def test_sink_cases_follow_the_serializer_entry(monkeypatch):
    import dataclasses

    from bench.subjects import serializers

    names = {c.name for c in get_profile("full").list_cases()}
    assert "ser/pickle-5-oob/dumps-file/ints/1000" not in names
    assert "ser/pickle-5/dumps-file/ints/1000" in names
    entry = dataclasses.replace(SERIALIZERS["pickle-5"], has_file_form=False)
    monkeypatch.setitem(serializers.SERIALIZERS, "pickle-5", entry)
    names = {c.name for c in get_profile("full").list_cases()}
    assert "ser/pickle-5/dumps-file/ints/1000" not in names
    assert "ser/pickle-5/dumps/ints/1000" in names


def test_unknown_plugin_is_input_error():
    from bench.run.plugins import load_plugins

    with pytest.raises(InputError, match="plugin 'no_such_plugin_module': cannot import it"):
        load_plugins(["no_such_plugin_module"])


def test_adding_a_shape_adds_its_cases(monkeypatch):
    from bench.subjects import shapes

    monkeypatch.setitem(shapes.SHAPES, "pairs", shapes.Shape(
        "pairs", lambda n, r: [(i, i) for i in range(n)], "test shape"))
    is_supported.cache_clear()
    try:
        names = {c.name for c in get_profile("quick").list_cases()}
    finally:
        is_supported.cache_clear()
    assert Case("ser", "pickle-5", "dumps", "pairs", 1000).name in names


def test_adding_a_serializer_adds_its_cases_to_every_profile(monkeypatch):
    import dataclasses

    from bench.subjects import serializers

    entry = dataclasses.replace(SERIALIZERS["pickle-4"], name="pickle-4-copy")
    monkeypatch.setitem(serializers.SERIALIZERS, "pickle-4-copy", entry)
    for legacy, shapes in ((True, {"ints", "records"}), (False, {"ints", "records", "text"})):
        monkeypatch.setitem(serializers.SERIALIZERS, "pickle-4-copy",
                            dataclasses.replace(entry, legacy=legacy))
        quick = {c.shape for c in get_profile("quick").list_cases() if c.subject == "pickle-4-copy"}
        assert shapes <= quick and (len(quick) == 2) == legacy
        smoke = {c.name for c in get_profile("smoke").list_cases()}
        assert "ser/pickle-4-copy/dumps/ints/10" in smoke
    monkeypatch.setitem(serializers.SERIALIZERS, "pickle-4-copy",
                        dataclasses.replace(entry, legacy=False, quick_shapes=("bytes", "text")))
    quick = {c.shape for c in get_profile("quick").list_cases() if c.subject == "pickle-4-copy"}
    assert quick == {"bytes", "text"}  # a variant: only where it can differ
    full = {c.shape for c in get_profile("full").list_cases() if c.subject == "pickle-4-copy"}
    assert len(full) > 2


def test_resize_keeps_the_cases_at_each_size():
    from bench.run.cases import resize_cases

    picked = select_cases(get_profile("smoke").list_cases(), ["ser/pickle-5/dumps/*", "ref/*"])
    resized = resize_cases(picked, [20, 30])
    assert [c.name for c in resized] == ["ser/pickle-5/dumps/ints/20", "ser/pickle-5/dumps/ints/30",
                                         "ref/memcpy/copy/bytes/20", "ref/memcpy/copy/bytes/30"]


@pytest.mark.parametrize(("size", "budget", "message"), [
    (0, "100", "--size 0: sizes must be at least 1"),
    (10**6, "1000", "over the budget of"),
    (10**6, "1e9", "BENCH_MEMORY_BUDGET='1e9': expected a number of bytes"),
])
def test_resize_refuses_bad_sizes_and_budgets(size, budget, message, monkeypatch):
    from bench.run.cases import resize_cases

    monkeypatch.setenv("BENCH_MEMORY_BUDGET", budget)
    picked = select_cases(get_profile("smoke").list_cases(), ["ser/pickle-5/dumps/*"])
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        resize_cases(picked, [size])


@pytest.mark.parametrize(("profile", "pattern", "size"), [
    ("smoke", "fold/loop/sum/list/*", 10**12),
    ("smoke", "fold/loop/sum/generator/*", 10**12),
    ("smoke", "ref/*", 10**12),
    ("ship-smoke", "ship/process-pool/data/*", 10**11),
    ("ship-smoke", "ship/pipes/stencil-x2/*", 10**5),
])
def test_a_huge_size_on_any_suite_is_refused_before_a_worker_starts(profile, pattern, size,
                                                                    tmp_path, capsys, monkeypatch):
    import bench.run.runner
    from bench.cli import main

    def no_worker(*args, **kwargs):
        raise AssertionError("a worker was started")

    monkeypatch.setattr(bench.run.runner, "spawn_worker", no_worker)
    out = tmp_path / "r.json"
    assert main(["run", "--profile", profile, "-k", pattern, "--size", str(size), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"ERROR: --size {size}: ")
    assert "over the budget of 4.0 GiB (set BENCH_MEMORY_BUDGET in bytes)" in err[0]
    assert not out.exists()


def test_every_suite_has_a_memory_estimate_that_grows_with_the_size():
    from bench.run.cases import SUITE_ESTIMATES, SUITES, memory_budget

    cases = {c.suite: c for c in get_profile("quick").list_cases() if c.op != "empty"}
    assert set(SUITE_ESTIMATES) == set(SUITES)
    for suite, case in cases.items():
        small, big = (SUITE_ESTIMATES[suite](case.op, case.shape, n) for n in (case.size, 10 * case.size))
        assert 0 < small < big < memory_budget(), case.name
