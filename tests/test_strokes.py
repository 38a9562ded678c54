"""The seeded pen-trajectory modality (minivae.data.strokes)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.data.strokes import TEMPLATES, make_strokes, stroke_template


def test_shapes_dtype_and_seed_determinism():
    labels = np.array([0, 3, 7, 7, 9])
    a = make_strokes(labels, 20, rng=1)
    b = make_strokes(labels, 20, rng=np.random.default_rng(1))
    c = make_strokes(labels, 20, rng=2)
    assert a.shape == (5, 20, 2) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert not np.allclose(a[2], a[3])  # same class, different handwriting
    assert make_strokes(labels, 20, rng=1, dtype=np.float32).dtype == np.float32


def test_no_jitter_no_noise_gives_the_template():
    for digit in range(10):
        out = make_strokes([digit], 16, rng=0, noise=0.0, jitter=0.0)[0]
        np.testing.assert_allclose(out, stroke_template(digit, 16), atol=1e-12)


def test_template_points_are_equally_spaced_along_the_polyline():
    p = stroke_template(7, 50)
    np.testing.assert_allclose(p[0], TEMPLATES[7][0])
    np.testing.assert_allclose(p[-1], TEMPLATES[7][-1])
    steps = np.linalg.norm(np.diff(p, axis=0), axis=1)
    # on straight pieces the steps are equal; a corner only shortens the chord
    assert np.median(steps) == pytest.approx(steps.max(), rel=1e-6)


def test_class_is_recoverable_by_the_nearest_template():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 300)
    X = make_strokes(labels, 32, rng=rng)
    T = np.stack([stroke_template(d, 32) for d in range(10)])
    dist = ((X[:, None] - T[None]) ** 2).sum(axis=(2, 3))
    acc = np.mean(dist.argmin(axis=1) == labels)
    assert acc > 0.8, acc


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=6), st.integers(2, 40),
       st.floats(0, 0.1), st.floats(0, 5))
def test_finite_and_bounded(labels, length, noise, jitter):
    X = make_strokes(labels, length, rng=3, noise=noise, jitter=jitter)
    assert X.shape == (len(labels), length, 2) and np.all(np.isfinite(X))
    assert np.abs(X).max() < 3.0 + 10 * noise * np.sqrt(length)


@pytest.mark.parametrize("kwargs, err, word", [
    ({"labels": [10]}, ValueError, "labels"),
    ({"labels": [-1]}, ValueError, "labels"),
    ({"labels": [True, False]}, TypeError, "labels"),
    ({"labels": [1.5]}, ValueError, "labels"),
    ({"labels": [[1, 2]]}, ValueError, "labels"),
    ({"labels": [1], "length": 1}, ValueError, "length"),
    ({"labels": [1], "noise": -0.1}, ValueError, "noise"),
    ({"labels": [1], "jitter": float("nan")}, ValueError, "jitter"),
    ({"labels": [1], "dtype": np.int64}, TypeError, "dtype"),
])
def test_bad_input_names_the_argument(kwargs, err, word):
    with pytest.raises(err, match=word):
        make_strokes(rng=0, **kwargs)


def test_template_bad_digit():
    with pytest.raises(ValueError, match="digit"):
        stroke_template(10)
    with pytest.raises(TypeError, match="digit"):
        stroke_template(2.0)
