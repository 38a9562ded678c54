"""Judge two gradients entry by entry and build the :class:`GradCheckResult` that explains it."""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_scalar
from minivae.gradcheck.diagnosis import accumulation_hint, diagnose, shape_hint
from minivae.gradcheck.numerical import DEFAULT_TOL, TINY, relative_error
from minivae.gradcheck.result import GradCheckResult


def shape_mismatch(name: str, got: tuple[int, ...], want: tuple[int, ...],
                   tol: float) -> GradCheckResult:
    """A failed result for a gradient of shape ``got`` where ``want`` (the array's) belongs."""
    return GradCheckResult(
        name=name, shape=want, max_rel_error=float("inf"), worst_index=None,
        analytic=float("nan"), numeric=float("nan"), passed=False, tol=tol,
        hints=(shape_hint(name, got, want),),
    )


def compare(
    name: str,
    analytic: np.ndarray,
    numeric: np.ndarray,
    *,
    tol: float = DEFAULT_TOL,
    floor: float = TINY,
) -> GradCheckResult:
    """Build a :class:`GradCheckResult` from two gradients (NaN in ``numeric`` = not checked).

    The shapes must agree (a ValueError with the shape hint otherwise: :func:`check_gradient`
    turns a wrongly shaped analytic gradient into a failed result before it gets here)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be the gradient's name (str), got {type(name).__name__}")
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    floor = check_scalar(floor, "floor", low=0.0, low_inclusive=False)
    analytic = check_array(analytic, "analytic", dtype=np.float64, allow_nan=True,
                           allow_empty=True)
    numeric = check_array(numeric, "numeric", dtype=np.float64, allow_nan=True, allow_empty=True)
    if analytic.shape != numeric.shape:
        raise ValueError(f"analytic and numeric must have the same shape, got "
                         f"{analytic.shape} and {numeric.shape}: "
                         + shape_hint(name, analytic.shape, numeric.shape))
    checked = ~np.isnan(numeric)
    n_checked = int(np.count_nonzero(checked))
    if n_checked == 0:
        return GradCheckResult(name, numeric.shape, 0.0, None, float("nan"), float("nan"),
                               True, tol, 0, 0, floor)
    with np.errstate(invalid="ignore"):  # inf - inf in a broken analytic gradient
        rel = relative_error(analytic, np.where(checked, numeric, 0.0), floor=floor)
    rel = np.where(checked, rel, -1.0)
    # A NaN/inf analytic entry must count as a failure, not vanish from max().
    rel = np.where(checked & ~np.isfinite(rel), 1.0, rel)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(rel)), rel.shape))
    n_failed = int(np.count_nonzero(rel > tol))
    passed = n_failed == 0
    return GradCheckResult(
        name=name, shape=tuple(numeric.shape), max_rel_error=float(rel[worst]),
        worst_index=worst, analytic=float(analytic[worst]), numeric=float(numeric[worst]),
        passed=passed, tol=tol, n_checked=n_checked, n_failed=n_failed, floor=floor,
        hints=() if passed else diagnose(analytic, numeric, checked, floor, name=name),
    )


def compare_accumulation(name: str, g_twice: np.ndarray, g_once: np.ndarray,
                         tol: float) -> GradCheckResult:
    """Compare the gradient after two backward passes with twice the gradient after one.

    Backward must *add* into ``grads`` (Sequential chains, shared weights and time steps all
    contribute), so a second forward+backward without ``zero_grad`` doubles every gradient.
    Both gradients must be finite (a non-finite one is reported by the first check already).
    """
    g_twice = check_array(g_twice, "g_twice", dtype=np.float64, allow_empty=True)
    g_once = check_array(g_once, "g_once", dtype=np.float64, allow_empty=True)
    if g_twice.shape != g_once.shape:
        raise ValueError(f"g_twice and g_once must have the same shape, got {g_twice.shape} "
                         f"and {g_once.shape}")
    res = compare(f"{name} (accumulates)", g_twice, 2.0 * g_once, tol=tol)
    if not res.passed:
        res.hints = (accumulation_hint(name, g_twice, g_once),)
    return res
