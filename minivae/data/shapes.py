"""A small dSprites-like dataset: images of one white shape on black with known factors.

Five factors of variation, each on a finite grid of values (every combination is one image):

* ``shape``    -- 0 square, 1 ellipse (axes 1 : 0.6), 2 heart (no symmetry);
* ``scale``    -- half-size of the shape as a fraction of the image width, ``n_scales`` values
  evenly spaced in [0.12, 0.2];
* ``rotation`` -- ``n_rotations`` angles evenly spaced in [0, pi/2) (a quarter turn, so the
  square's rotation stays identifiable: it looks the same every 90 degrees);
* ``x``, ``y`` -- the centre, ``n_positions`` values each evenly spaced in [0.27, 0.73], far
  enough from the border that the largest shape stays inside.

Rendering is a point-in-shape test at ``supersample`` x ``supersample`` points inside every
pixel, averaged: the image is the covered fraction of each pixel, in [0, 1] (anti-aliased
edges).  A pixel point p = (px, py) in [0, 1]^2 is mapped into the shape's own frame,
u = R(-rotation) (p - centre) / scale, and tested there: square max(|u1|, |u2|) <= 1, ellipse
u1^2 + (u2 / 0.6)^2 <= 1, heart (a^2 + b^2 - 1)^3 - a^2 b^3 <= 0 with (a, b) = 1.2 (u1, -u2)
(image rows grow downwards: the flip puts the heart's tip at the bottom when unrotated).

Everything is deterministic: the grid is fixed by the constructor and :meth:`Shapes.sample`
draws factor combinations with the generator it is given.  Images come flattened,
(N, size * size), the layout the MLP VAEs take; reshape to (N, size, size) to view them.

Usage::

    shapes = Shapes(size=32)
    X, factors = shapes.sample(2000, rng=0)      # X: (2000, 1024) in [0, 1]; factors: (2000, 5)
    X_all, f_all = shapes.grid()                 # every combination, in factor order
"""

from __future__ import annotations

import numpy as np

from minivae._validation import as_dtype, check_array, check_positive_int, check_rng

__all__ = ["FACTOR_NAMES", "SHAPE_NAMES", "Shapes"]

FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y")
SHAPE_NAMES = ("square", "ellipse", "heart")
SCALE_RANGE = (0.12, 0.2)
POSITION_RANGE = (0.27, 0.73)
ELLIPSE_RATIO = 0.6
HEART_ZOOM = 1.2  # the heart curve spans about [-1.14, 1.14] x [-1, 1.25]: shrink it to ~1


class Shapes:
    """The factor grid and its renderer.

    Args:
        size: image side in pixels (images are size x size), >= 8.
        n_scales, n_rotations, n_positions: number of values of the scale, rotation and each
            position factor (>= 1; the shape factor always has 3 values).
        supersample: points per pixel side for the anti-aliasing (>= 1).
        dtype: float64 (default) or float32, the images' dtype.

    Attributes:
        factor_sizes: (5,) number of values of each factor, in :data:`FACTOR_NAMES` order.
    """

    def __init__(self, size: int = 32, *, n_scales: int = 4, n_rotations: int = 6,
                 n_positions: int = 8, supersample: int = 2, dtype: object = np.float64) -> None:
        self.size = check_positive_int(size, "size", minimum=8)
        self.n_scales = check_positive_int(n_scales, "n_scales")
        self.n_rotations = check_positive_int(n_rotations, "n_rotations")
        self.n_positions = check_positive_int(n_positions, "n_positions")
        self.supersample = check_positive_int(supersample, "supersample")
        self.dtype = as_dtype(dtype)
        self.factor_sizes = np.array([len(SHAPE_NAMES), self.n_scales, self.n_rotations,
                                      self.n_positions, self.n_positions])

    def __repr__(self) -> str:
        return (f"Shapes(size={self.size}, n_scales={self.n_scales}, n_rotations="
                f"{self.n_rotations}, n_positions={self.n_positions})")

    @property
    def n_images(self) -> int:
        """Number of factor combinations (the grid's length)."""
        return int(np.prod(self.factor_sizes))

    def factor_values(self, name: str) -> np.ndarray:
        """The physical values of one factor (indices 0, 1, ... of ``factors`` map to them):
        shape -> [0, 1, 2], scale -> fractions of the width, rotation -> radians, x / y ->
        centre coordinates in [0, 1]."""
        if name not in FACTOR_NAMES:
            raise ValueError(f"name must be one of {FACTOR_NAMES}, got {name!r}")
        if name == "shape":
            return np.arange(len(SHAPE_NAMES), dtype=np.float64)
        if name == "scale":
            return _spaced(*SCALE_RANGE, self.n_scales)
        if name == "rotation":
            return np.arange(self.n_rotations) * (0.5 * np.pi / self.n_rotations)
        return _spaced(*POSITION_RANGE, self.n_positions)

    def check_factors(self, factors: object) -> np.ndarray:
        """``factors`` as an int array (N, 5) of valid indices (one row per image)."""
        f = check_array(factors, "factors", shape=(None, len(FACTOR_NAMES)))
        if f.dtype.kind == "f" and not np.all(f == np.round(f)):
            raise ValueError("factors must hold integer indices, got fractional values")
        f = f.astype(np.int64)
        bad = (f < 0) | (f >= self.factor_sizes)
        if np.any(bad):
            col = int(np.argwhere(bad)[0, 1])
            raise ValueError(
                f"factors column {col} ({FACTOR_NAMES[col]}) must be in [0, "
                f"{self.factor_sizes[col] - 1}], got values in [{f[:, col].min()}, "
                f"{f[:, col].max()}]")
        return f

    def render(self, factors: object) -> np.ndarray:
        """Images of the given factor indices: factors (N, 5) -> X (N, size * size) in [0, 1]."""
        f = self.check_factors(factors)
        out = np.empty((f.shape[0], self.size * self.size), dtype=self.dtype)
        values = [self.factor_values(name) for name in FACTOR_NAMES]
        px, py = self._subpixel_points()
        chunk = max(1, (1 << 22) // px.size)  # bounded memory: ~4M points at a time
        for start in range(0, f.shape[0], chunk):
            rows = f[start:start + chunk]
            params = [v[rows[:, k]][:, None, None] for k, v in enumerate(values)]
            out[start:start + chunk] = self._coverage(px, py, *params).reshape(len(rows), -1)
        return out

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Every factor combination once, in C order (the last factor varies fastest):
        (X (n_images, size * size), factors (n_images, 5) int)."""
        factors = np.indices(tuple(self.factor_sizes)).reshape(len(FACTOR_NAMES), -1).T
        return self.render(factors), factors

    def sample(self, n: int, rng: np.random.Generator | int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` images with factors drawn independently and uniformly (with replacement):
        (X (n, size * size), factors (n, 5) int)."""
        n = check_positive_int(n, "n")
        rng = check_rng(rng)
        factors = np.stack([rng.integers(0, k, size=n) for k in self.factor_sizes], axis=1)
        return self.render(factors), factors

    # -- rendering ---------------------------------------------------------------------------
    def _subpixel_points(self) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates in [0, 1] of the supersample^2 points inside each pixel:
        px, py (size * s, size * s), rows = image rows (y grows down)."""
        s = self.supersample * self.size
        c = (np.arange(s) + 0.5) / s
        py, px = np.meshgrid(c, c, indexing="ij")
        return px, py

    def _coverage(self, px, py, shape, scale, rotation, cx, cy) -> np.ndarray:
        """Fraction of each pixel inside the shape: params (M, 1, 1) -> (M, size, size)."""
        dx, dy = px - cx, py - cy
        cos, sin = np.cos(rotation), np.sin(rotation)
        u = (cos * dx + sin * dy) / scale  # R(-theta) (p - c) / scale
        v = (-sin * dx + cos * dy) / scale
        inside = np.where(shape == 0, np.maximum(np.abs(u), np.abs(v)) <= 1.0,
                          np.where(shape == 1, u**2 + (v / ELLIPSE_RATIO) ** 2 <= 1.0,
                                   _heart(HEART_ZOOM * u, HEART_ZOOM * v)))
        m, k = inside.shape[0], self.supersample
        return inside.reshape(m, self.size, k, self.size, k).mean(axis=(2, 4))


def _heart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Inside the heart curve (a^2 + b^2 - 1)^3 - a^2 b^3 <= 0, b flipped (image rows grow
    downwards): the tip points down on screen."""
    b = -b
    return (a**2 + b**2 - 1.0) ** 3 - a**2 * b**3 <= 0.0


def _spaced(low: float, high: float, n: int) -> np.ndarray:
    """n values evenly spaced in [low, high] (the midpoint for n = 1)."""
    return np.array([(low + high) / 2.0]) if n == 1 else np.linspace(low, high, n)
