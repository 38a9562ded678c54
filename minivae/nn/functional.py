"""Numerically stable elementwise functions shared by layers, losses and models."""

from __future__ import annotations

import numpy as np


def real_array(x: object, name: str = "x") -> np.ndarray:
    """``np.asarray(x)``, refusing anything but real numbers (complex, strings, None, objects)
    with a TypeError naming ``name``; ints and bools become float64.  No pass over the values:
    these functions run in the inner loops."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    return x.astype(np.float64) if x.dtype.kind in "iub" else x


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function 1 / (1 + exp(-x)), stable for every input.

    Inputs:
        x: array of any shape (integers and bools are computed in float64)
        out: optional array of x's shape to write the result into; may be ``x`` itself (an
            in-place sigmoid, what the LSTM does with its gate pre-activations)

    Returns an array of x's shape and floating dtype (``out`` if given; a scalar for a scalar).

    For x < -88 (float32) or x < -709 (float64) exp(-x) overflows to inf, and 1 / (1 + inf) = 0
    is the correct limit, so the overflow warning is silenced rather than avoided; for large
    positive x, exp(-x) underflows to 0 and the result is 1.  No NaN can arise from a non-NaN
    input.  Four passes over one buffer (negate, exp, add, reciprocal) and no temporaries: the
    LSTM calls this on its gates at every time step.
    """
    x = real_array(x)  # np.negative refuses bools; ints would stay integer
    if out is not None and not (isinstance(out, np.ndarray) and out.shape == x.shape
                                and out.dtype.kind == "f"):
        raise TypeError(f"out must be a float array of x's shape {x.shape}, got "
                        f"{type(out).__name__} {getattr(out, 'shape', '')}")
    result = np.empty_like(x) if out is None else out
    np.negative(x, out=result)
    with np.errstate(over="ignore"):
        np.exp(result, out=result)
    result += 1.0
    np.reciprocal(result, out=result)
    if out is None and result.ndim == 0:
        return result[()]  # a scalar in, a scalar out
    return result


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) computed as max(x, 0) + log1p(exp(-|x|)), finite for every finite x."""
    x = real_array(x)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return -softplus(-real_array(x))


def logsumexp(a: np.ndarray, axis: int | None = None, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(a))) along ``axis``, shifting by the max so nothing overflows."""
    a = real_array(a, "a")
    _check_axis(axis, a, allow_none=True)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):  # all -inf input: log(0) = -inf is the right answer
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return out


def log_mean_exp(a: np.ndarray, axis: int = 0) -> np.ndarray:
    """log(mean(exp(a))) along ``axis`` (the IWAE / reconstruction-probability average)."""
    a = real_array(a, "a")
    _check_axis(axis, a, allow_none=False)
    return logsumexp(a, axis=axis) - np.log(a.shape[axis])


def _check_axis(axis: object, a: np.ndarray, *, allow_none: bool) -> None:
    """An integer axis of ``a`` (or None where allowed) along which there is something to
    reduce."""
    if axis is None and allow_none:
        if a.size == 0:
            raise ValueError("a is empty; log-sum-exp of nothing is -inf, pass a non-empty array")
        return
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an integer, got {type(axis).__name__} {axis!r}")
    if not -a.ndim <= axis < a.ndim:
        raise ValueError(f"axis {axis} is out of range for a of shape {a.shape}")
    if a.shape[axis] == 0:
        raise ValueError(f"a is empty along axis {axis} (shape {a.shape}); nothing to reduce")
