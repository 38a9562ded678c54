"""A seeded second modality for digits: pen trajectories drawn from per-class templates.

Multimodal VAEs (e.g. the MMVAE, Shi et al. 2019) need two views of the same thing.  Here the
second view of an MNIST digit is a short time series generated from its *label* only: the pen
position (x_t, y_t), t = 0..T-1, tracing the digit.  Each class has one template, a polyline in
the box [-1, 1]^2 (y up) resampled to T points equally spaced along its length; every example
then gets its own handwriting:

    u      = warp(linspace(0, 1, T))          a random monotone time warp (speed changes)
    p_t    = template(u_t)                    the template at those arc-length positions
    p_t   <- A p_t + b                        random scale, rotation, shear, shift
    p_t   <- p_t + noise_t                    smooth noise (a random walk, pulled back to 0)

so the class is recoverable from the series while no two series are alike.  Everything is drawn
from the given generator: the same seed gives the same strokes.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import (
    as_dtype,
    check_array,
    check_positive_int,
    check_rng,
    check_scalar,
)

N_CLASSES = 10

#: One polyline per digit, (x, y) vertices in [-1, 1]^2 with y up, in drawing order.
TEMPLATES: dict[int, tuple[tuple[float, float], ...]] = {
    0: tuple((0.6 * np.cos(a), 0.9 * np.sin(a))
             for a in np.pi / 2 + np.linspace(0, 2 * np.pi, 17)),
    1: ((-0.3, 0.6), (0.1, 0.95), (0.1, -0.95)),
    2: ((-0.6, 0.5), (-0.3, 0.9), (0.3, 0.9), (0.6, 0.5), (0.4, 0.0), (-0.6, -0.9),
        (0.7, -0.9)),
    3: ((-0.6, 0.8), (0.3, 0.9), (0.6, 0.5), (0.0, 0.05), (0.6, -0.4), (0.3, -0.9),
        (-0.6, -0.8)),
    4: ((0.3, 0.95), (-0.7, -0.2), (0.7, -0.2), (0.35, -0.2), (0.35, 0.5), (0.35, -0.95)),
    5: ((0.6, 0.9), (-0.5, 0.9), (-0.6, 0.1), (0.2, 0.25), (0.6, -0.2), (0.4, -0.8),
        (-0.6, -0.8)),
    6: ((0.5, 0.9), (-0.3, 0.5), (-0.6, -0.3), (-0.3, -0.9), (0.3, -0.85), (0.5, -0.4),
        (0.1, -0.1), (-0.55, -0.3)),
    7: ((-0.6, 0.9), (0.7, 0.9), (-0.1, -0.95)),
    8: ((0.5, 0.7), (0.0, 0.95), (-0.5, 0.7), (0.5, -0.5), (0.0, -0.95), (-0.5, -0.5),
        (0.5, 0.7)),
    9: ((0.55, 0.5), (0.0, 0.95), (-0.5, 0.5), (0.0, 0.1), (0.55, 0.5), (0.5, -0.95)),
}


def _resample(vertices: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Points at arc-length fractions u (T,) in [0, 1] along the polyline ``vertices`` (V, 2)."""
    seg = np.sqrt(np.sum(np.diff(vertices, axis=0) ** 2, axis=1))
    s = np.concatenate([[0.0], np.cumsum(seg)]) / seg.sum()
    return np.stack([np.interp(u, s, vertices[:, 0]), np.interp(u, s, vertices[:, 1])], axis=1)


def stroke_template(digit: int, length: int = 32) -> np.ndarray:
    """The template of ``digit`` (0..9) as ``length`` points equally spaced along it: (T, 2)."""
    digit = check_positive_int(digit, "digit", minimum=0)
    if digit >= N_CLASSES:
        raise ValueError(f"digit must be in [0, 9], got {digit}")
    length = check_positive_int(length, "length", minimum=2)
    return _resample(np.asarray(TEMPLATES[digit]), np.linspace(0.0, 1.0, length))


def _check_labels(labels: object) -> np.ndarray:
    labels = check_array(labels, "labels", ndim=1)
    if labels.dtype.kind == "b":
        raise TypeError("labels must hold integer digits 0..9, got dtype bool")
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        raise ValueError("labels must hold integer digits 0..9, got non-integer values")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise ValueError(f"labels must lie in [0, 9], got values in "
                         f"[{labels.min()}, {labels.max()}]")
    return labels


def _random_affine(rng: np.random.Generator, jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """A (2, 2) matrix (scale, rotation, shear) and a shift (2,), their spread times jitter."""
    scale = 1.0 + jitter * rng.uniform(-0.15, 0.15, 2)
    angle, shear = jitter * rng.uniform(-0.2, 0.2), jitter * rng.uniform(-0.2, 0.2)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    A = rot @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag(scale)
    return A, jitter * rng.uniform(-0.1, 0.1, 2)


def _time_warp(rng: np.random.Generator, length: int, jitter: float) -> np.ndarray:
    """Monotone positions u (T,) from 0 to 1: equal steps, each scaled by a random speed."""
    speed = np.exp(jitter * 0.3 * rng.standard_normal(length - 1))
    return np.concatenate([[0.0], np.cumsum(speed)]) / speed.sum()


def make_strokes(labels: object, length: int = 32, *, rng: np.random.Generator | int,
                 noise: float = 0.02, jitter: float = 1.0,
                 dtype: object = np.float64) -> np.ndarray:
    """Pen trajectories for digit labels (module docstring): labels (N,) in 0..9 -> (N, T, 2).

    Args:
        labels: (N,) integer digits.
        length: T, points per trajectory (>= 2).
        rng: generator or seed of every random draw.
        noise: std of the steps of the smooth noise, in [0, 1] (0: none).
        jitter: scales the spread of the affine map and the time warp, in [0, 5] (0: the bare
            templates).
        dtype: float64 (default) or float32.
    """
    labels = _check_labels(labels)
    length = check_positive_int(length, "length", minimum=2)
    rng = check_rng(rng)
    noise = check_scalar(noise, "noise", low=0.0, high=1.0)
    jitter = check_scalar(jitter, "jitter", low=0.0, high=5.0)  # beyond 5: no digit left
    dtype = as_dtype(dtype)
    out = np.empty((labels.shape[0], length, 2))
    for i, digit in enumerate(labels):
        p = _resample(np.asarray(TEMPLATES[int(digit)]), _time_warp(rng, length, jitter))
        A, b = _random_affine(rng, jitter)
        walk = np.cumsum(noise * rng.standard_normal((length, 2)), axis=0)
        out[i] = p @ A.T + b + walk - walk.mean(axis=0)
    return out.astype(dtype)
