r"""Numerical gradients by central differences, and how far an analytic gradient may differ.

The idea
--------
A backward pass is correct when the gradient it returns (the *analytic* gradient) matches the
slope of the loss measured directly (the *numeric* gradient).  For every entry ``i`` of an array
``x`` the numeric gradient is the **central difference**

    dL/dx_i  ≈  (L(x + h e_i) - L(x - h e_i)) / (2 h),

whose error is O(h²) (the one-sided difference is only O(h)).  Each entry costs two evaluations
of the loss, so big arrays are checked on a seeded random subset of entries (``max_entries``).

How to read the relative error
------------------------------
Entry by entry we report

    rel_i = |a_i - n_i| / max(|a_i| + |n_i|, floor).

* The denominator ``|a| + |n|`` makes the number symmetric in ``a`` and ``n`` and bounded:
  ``rel <= 1``, and ``rel = 1`` exactly when one of them is zero or their signs differ.  For
  nearly equal values it is about half of ``|a - n| / |a|``.
* ``floor`` keeps the ratio defined.  In :func:`relative_error` it defaults to the smallest
  positive float64, so two exact zeros (a dead ReLU unit, a masked entry) give ``0 / tiny = 0``
  instead of ``0 / 0 = NaN``.
* The checkers raise the floor to the level of **finite-difference noise**.  ``L`` is computed in
  floating point, so each difference carries a rounding error of roughly ``eps·|L| / h``
  (``eps ≈ 2.2e-16`` for float64): with ``|L| ≈ 1`` and ``h = 1e-6`` that is ~1e-10 *absolute*
  error on every numeric entry.  An entry whose true value is 1e-4 can then never agree to a
  *relative* 1e-7, although backward may be perfect.  So the checkers use
  ``floor = atol / tol`` with ``atol = NOISE_FACTOR · eps · |L| / h`` (:func:`noise_floor`):
  entries far above the noise are judged by their relative error, entries at noise level by
  ``|a - n| <= atol``.  A real bug (a wrong sign, factor or transpose) moves entries by their
  own size and is still caught.

Rules of thumb (float64, ``h = 1e-6``): below 1e-7 the backward is correct; between 1e-7 and
1e-4 be suspicious (a kink, see below, or a subtle bug); above 1e-2 it is wrong.

**Kinks.**  ReLU, LeakyReLU, ``abs``, ``max`` and clipping are not differentiable at one point.
A central difference that straddles the kink averages the two slopes and disagrees with either
one, so gradient checks keep every input of such a function at least ``10·h`` away from its kink
(here: ``|x| > 10·h`` for ReLU/LeakyReLU).

**float64 only.**  float32 has about 7 significant digits: the rounding error ``eps·|L|/h``
becomes ~0.1·|L| with h = 1e-6, so a finite difference measures nothing.  Every checker refuses
float32 arrays; build layers and models with ``dtype=np.float64`` to check them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from minivae._validation import (
    check_array,
    check_callable,
    check_positive_int,
    check_rng,
    check_scalar,
)

EPS64 = float(np.finfo(np.float64).eps)
TINY = float(np.finfo(np.float64).tiny)
DEFAULT_H = 1e-6
DEFAULT_TOL = 1e-7
# Measured over 1,500 seeds of every built-in check (~35,000 gradients): the finite-difference
# error never exceeded 1.1·eps·|L|/h.  16 leaves a wide margin for deeper computations (LSTM,
# models) and is still only ~4e-9 absolute for |L| ~ 1.
NOISE_FACTOR = 16.0

Index = tuple[int, ...]


def check_float64(x: object, name: str) -> np.ndarray:
    """The array to be perturbed: a writable float64 ndarray, or an error that explains why not."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array (it is perturbed in place), "
                        f"got {type(x).__name__}")
    if x.dtype != np.float64:
        if x.dtype.kind == "f":
            raise TypeError(
                f"{name} has dtype {x.dtype}; gradient checks need float64. With "
                f"{x.dtype} the rounding error of a central difference (about "
                f"eps·|L|/h = {float(np.finfo(x.dtype).eps):.0e}·|L|/{DEFAULT_H:.0e}) swamps "
                "the gradient, so the comparison would be meaningless. Build the layer/model "
                "with dtype=np.float64 (or pass x.astype(np.float64)) for the check."
            )
        raise TypeError(f"{name} must be a float64 array, got dtype {x.dtype}")
    if not x.flags.writeable:
        raise ValueError(f"{name} is read-only; numerical_gradient perturbs it in place")
    if not np.isfinite(x).all():  # f(x +- h) at NaN/inf is no finite difference
        raise ValueError(f"{name} contains {int(x.size - np.count_nonzero(np.isfinite(x)))} "
                         "non-finite value(s); a gradient check needs a finite point")
    return x


def takes_argument(f: Callable[..., Any]) -> bool:
    """True if ``f`` should be called as ``f(x)``, False for ``f()``."""
    check_callable(f, "f")
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):  # some builtins have no signature: assume f(x)
        return True
    for args in ((None,), ()):
        try:
            sig.bind(*args)
            return bool(args)
        except TypeError:
            continue
    raise TypeError(
        "f must take no argument (a closure over x, which is perturbed in place) or exactly one "
        f"(x itself); got signature {sig}"
    )


def scalar_loss(value: object) -> float:
    """The scalar loss returned by ``f``, or an error explaining what to return instead."""
    if isinstance(value, tuple):
        raise TypeError(
            "f returned a tuple; it must return only the scalar loss "
            "(e.g. lambda: model.loss(batch, eps=eps)[0])"
        )
    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(
            f"f must return a scalar loss, got an array of shape {arr.shape}; reduce it first, "
            "e.g. np.sum(y * dy) to check a layer output y against an upstream gradient dy"
        )
    return float(arr.reshape(()))


def sample_indices(
    shape: Sequence[int], max_entries: int | None, rng: np.random.Generator | int = 0
) -> list[Index]:
    """Indices to check: all of them (C order), or ``max_entries`` distinct ones drawn from ``rng``.

    The subset is sorted so that messages list entries in a readable order.
    """
    rng = check_rng(rng)  # checked even when every entry is used: a bad rng is a bug anyway
    shape = tuple(int(s) for s in shape)
    size = int(np.prod(shape, dtype=np.int64))
    if max_entries is not None:
        max_entries = check_positive_int(max_entries, "max_entries")
    if max_entries is None or size <= max_entries:
        return [tuple(int(i) for i in idx) for idx in np.ndindex(*shape)]
    flat = np.sort(rng.choice(size, size=max_entries, replace=False))
    return [tuple(int(i) for i in np.unravel_index(k, shape)) for k in flat]


def _as_index(item: Any, shape: tuple[int, ...], size: int) -> Index:
    """One index tuple from a tuple or a flat (C-order) integer, range-checked (a ValueError
    naming ``indices`` otherwise)."""
    def is_int(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

    if is_int(item):
        k = int(item)
        if not 0 <= k < size:
            raise ValueError(f"indices: flat index {k} out of range for shape {shape}")
        return tuple(int(i) for i in np.unravel_index(k, shape))
    if not isinstance(item, (tuple, list)) or not all(is_int(i) for i in item):
        raise ValueError(f"indices must hold index tuples or flat integers, got {item!r:.40}")
    idx = tuple(int(i) for i in item)
    if len(idx) != len(shape) or any(not 0 <= i < s for i, s in zip(idx, shape)):
        raise ValueError(f"indices: index {idx} out of range for shape {shape}")
    return idx


def central_differences(
    f: Callable[..., Any], x: np.ndarray, h: float, indices: list[Index]
) -> tuple[np.ndarray, float]:
    """Numeric gradient at ``indices`` (NaN elsewhere) and the largest |f| seen (noise scale).

    The loop a lesson writes on the board: perturb one entry, evaluate, restore it.
    """
    check_callable(f, "f")
    x, h = check_float64(x, "x"), check_scalar(h, "h", low=0.0, low_inclusive=False)
    if isinstance(indices, (str, bytes)) or not isinstance(indices, (list, tuple)):
        raise TypeError(f"indices must be a list of index tuples, got {type(indices).__name__}")
    indices = [_as_index(item, x.shape, x.size) for item in indices]
    takes_x = takes_argument(f)
    grad = np.full(x.shape, np.nan)
    f_scale = 0.0
    for idx in indices:
        old = x[idx].copy()  # a float64 scalar; writing it back restores x bit for bit
        try:
            x[idx] = old + h
            x_plus = x[idx].copy()
            f_plus = scalar_loss(f(x) if takes_x else f())
            x[idx] = old - h
            x_minus = x[idx].copy()
            f_minus = scalar_loss(f(x) if takes_x else f())
        finally:
            x[idx] = old
        # Divide by the step actually taken: old ± h is rounded to float64, and using the stored
        # values instead of 2h removes that (small) error for free.
        grad[idx] = (f_plus - f_minus) / (x_plus - x_minus)
        f_scale = max(f_scale, abs(f_plus), abs(f_minus))
    return grad, f_scale


def numerical_gradient(
    f: Callable[..., Any],
    x: np.ndarray,
    *,
    h: float = DEFAULT_H,
    indices: Iterable[Any] | None = None,
    max_entries: int | None = None,
    rng: np.random.Generator | int = 0,
) -> np.ndarray:
    """Central-difference gradient of a scalar function w.r.t. the float64 array ``x``.

    Args:
        f: the scalar loss, either ``f()`` — a closure that reads ``x`` — or ``f(x)``.  Each entry
            of ``x`` is perturbed *in place* to ``x_i ± h``, ``f`` is evaluated, and ``x_i`` is
            restored exactly (bit for bit, also if ``f`` raises).
        x: float64 array of any shape (float32 is refused: see the module docstring).
        h: the step.  1e-6 balances truncation error (~h²) against rounding (~eps/h) in float64.
        indices: check only these entries (index tuples or flat C-order integers).
        max_entries: with ``indices=None``, check at most this many entries, chosen at random
            by ``rng`` (same seed -> same entries).  ``None`` checks every entry.
        rng: generator or int seed for the subset.

    Returns:
        grad: same shape as ``x``, float64.  Entries that were not checked are NaN, so they can
        never be mistaken for a measured zero.
    """
    check_callable(f, "f")
    x = check_float64(x, "x")
    h = check_scalar(h, "h", low=0.0, low_inclusive=False)
    if indices is None:
        idx = sample_indices(x.shape, max_entries, rng)
    else:
        size = int(np.prod(x.shape, dtype=np.int64))
        idx = [_as_index(item, x.shape, size) for item in indices]
    grad, _ = central_differences(f, x, h, idx)
    return grad


def relative_error(
    analytic: np.ndarray | float, numeric: np.ndarray | float, *, floor: float = TINY
) -> np.ndarray:
    """Elementwise ``|a - n| / max(|a| + |n|, floor)``.

    ``|a| + |n|`` (not ``|a|``) keeps the measure symmetric and within [0, 1]; 1 means "one is
    zero or the signs differ".  ``floor`` defaults to the smallest positive float64, which only
    turns the 0/0 of two exact zeros into 0; the checkers pass a larger floor equal to the
    finite-difference noise level divided by the tolerance (see the module docstring).
    """
    # NaN/inf allowed: a broken analytic gradient is what a check reports, not refuses
    a = check_array(analytic, "analytic", dtype=np.float64, allow_nan=True, allow_empty=True)
    n = check_array(numeric, "numeric", dtype=np.float64, allow_nan=True, allow_empty=True)
    if a.ndim and n.ndim and a.shape != n.shape:
        raise ValueError(f"analytic and numeric must have the same shape, got {a.shape} and "
                         f"{n.shape}")
    floor = check_scalar(floor, "floor", low=0.0, low_inclusive=False)
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)


def noise_floor(f_scale: float, h: float, tol: float) -> float:
    """Denominator floor ``NOISE_FACTOR·eps·|L|/h / tol`` used by the checkers (see module doc)."""
    f_scale = check_scalar(f_scale, "f_scale")
    h = check_scalar(h, "h", low=0.0, low_inclusive=False)
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    atol = NOISE_FACTOR * EPS64 * max(f_scale, 0.0) / h
    return max(TINY, atol / tol)
