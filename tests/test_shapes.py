"""The shape registry: deterministic, seeded, growing with n; size estimates."""

from __future__ import annotations

import pytest

from bench.equality import same_value
from bench.errors import InputError
from bench.subjects.shapes import MAX_DEPTH, SHAPES, build_shape, estimate_nbytes, shape_nbytes


def test_at_least_twelve_shapes():
    assert len(SHAPES) >= 12


@pytest.mark.parametrize("shape", SHAPES)
def test_same_seed_same_object_other_seed_other_object(shape):
    assert same_value(build_shape(shape, 30, seed=1), build_shape(shape, 30, seed=1))
    assert not same_value(build_shape(shape, 30, seed=1), build_shape(shape, 30, seed=2))


@pytest.mark.parametrize("shape", SHAPES)
def test_size_grows_with_n(shape):
    small, big = shape_nbytes(build_shape(shape, 10)), shape_nbytes(build_shape(shape, 100))
    assert big > 2 * small


@pytest.mark.parametrize("shape", SHAPES)
def test_estimate_is_close_to_the_real_size(shape):
    n = min(2000, SHAPES[shape].max_size)
    real = shape_nbytes(build_shape(shape, n))
    assert 0.5 * real < estimate_nbytes(shape, n) < 2 * real


def test_deep_refuses_depths_over_the_cap():
    assert len(str(build_shape("deep", MAX_DEPTH))) > MAX_DEPTH
    with pytest.raises(InputError, match="out of range 1..200 .*recursive picklers"):
        build_shape("deep", MAX_DEPTH + 1)


@pytest.mark.parametrize(("name", "n", "message"), [
    ("nope", 10, "unknown shape 'nope'"),
    ("ints", 0, "out of range"),
    ("ints", -5, "out of range"),
])
def test_bad_arguments(name, n, message):
    with pytest.raises(InputError, match=message):
        build_shape(name, n)


def test_bytes_heavy_shapes_are_the_buffers():
    assert [s.name for s in SHAPES.values() if s.bytes_heavy] == ["bytes", "ndarray"]
