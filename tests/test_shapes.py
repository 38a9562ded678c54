"""The shapes factor dataset (minivae.data.shapes): a full grid, deterministic sampling, images
in [0, 1] and factors that can be read back from the images."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.data.shapes import FACTOR_NAMES, Shapes

SMALL = dict(size=16, n_scales=2, n_rotations=3, n_positions=3)


def test_grid_covers_every_combination_once():
    shapes = Shapes(**SMALL)
    X, f = shapes.grid()
    assert X.shape == (3 * 2 * 3 * 3 * 3, 16 * 16) and f.shape == (X.shape[0], 5)
    assert len({tuple(row) for row in f}) == X.shape[0]
    assert X.min() >= 0.0 and X.max() <= 1.0 and X.dtype == np.float64
    # every image shows a shape (and not the whole canvas), and distinct factors differ
    assert np.all(X.sum(axis=1) > 3.0) and np.all(X.mean(axis=1) < 0.5)
    assert len({row.tobytes() for row in X}) == X.shape[0]


def test_sample_is_deterministic_by_seed():
    shapes = Shapes(**SMALL)
    X1, f1 = shapes.sample(20, rng=3)
    X2, f2 = shapes.sample(20, np.random.default_rng(3))
    X3, f3 = shapes.sample(20, rng=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(f1, f2)
    assert not np.array_equal(f1, f3)
    np.testing.assert_array_equal(shapes.render(f1), X1)  # the images are the factors' images


def _centroid(X: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    img = X.reshape(-1, size, size)
    c = (np.arange(size) + 0.5) / size
    mass = img.sum(axis=(1, 2))
    return (img.sum(axis=1) @ c) / mass, (img.sum(axis=2) @ c) / mass


def test_factors_are_recoverable_from_the_images():
    """Position = the pixel centroid, scale orders the area within a shape, and the shape and
    rotation change the image at fixed position and scale."""
    shapes = Shapes(size=32, n_scales=3, n_rotations=4, n_positions=4)
    X, f = shapes.grid()
    cx, cy = _centroid(X, 32)
    xs, ys = shapes.factor_values("x"), shapes.factor_values("y")
    sym = f[:, 0] < 2  # square and ellipse: centroid = centre (the heart's is off-centre)
    assert np.max(np.abs(cx - xs[f[:, 3]])[sym]) < 0.01
    assert np.max(np.abs(cy - ys[f[:, 4]])[sym]) < 0.01
    # nearest-centroid decoding recovers the position index of every image exactly
    np.testing.assert_array_equal(np.abs(cx[:, None] - xs).argmin(axis=1), f[:, 3])
    np.testing.assert_array_equal(np.abs(cy[:, None] - ys).argmin(axis=1), f[:, 4])
    area = X.sum(axis=1)
    for s in range(3):
        for r in range(4):
            same = (f[:, 0] == s) & (f[:, 2] == r)
            by_scale = [area[same & (f[:, 1] == k)].mean() for k in range(3)]
            assert by_scale[0] < by_scale[1] < by_scale[2]
    at = (f[:, 1] == 2) & (f[:, 3] == 1) & (f[:, 4] == 2)
    assert len({X[i].tobytes() for i in np.flatnonzero(at)}) == 3 * 4


@settings(max_examples=15, deadline=None)
@given(size=st.integers(8, 20), n=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_shapes_of_outputs(size, n, seed):
    shapes = Shapes(size=size, n_scales=2, n_rotations=2, n_positions=2, dtype=np.float32)
    X, f = shapes.sample(n, seed)
    assert X.shape == (n, size * size) and X.dtype == np.float32
    assert f.shape == (n, len(FACTOR_NAMES)) and np.all(f < shapes.factor_sizes)


def test_bad_inputs_name_the_argument():
    shapes = Shapes(**SMALL)
    with pytest.raises(ValueError, match="size"):
        Shapes(size=4)
    with pytest.raises(ValueError, match="n_scales"):
        Shapes(n_scales=0)
    with pytest.raises(ValueError, match="factors column 1"):
        shapes.render(np.array([[0, 5, 0, 0, 0]]))
    with pytest.raises(ValueError, match="factors"):
        shapes.render(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="factors"):
        shapes.render(np.full((1, 5), 0.5))
    with pytest.raises(TypeError, match="rng"):
        shapes.sample(3, rng="x")
    with pytest.raises(ValueError, match="name"):
        shapes.factor_values("colour")
