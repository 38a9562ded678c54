"""Numerically stable elementwise functions shared by layers, losses and models."""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function 1 / (1 + exp(-x)), stable for every input.

    For x < -709 (float64) exp(-x) overflows to inf and 1 / (1 + inf) = 0, which is the correct
    limit, so the overflow warning is silenced rather than avoided; no NaN can arise.  Computed
    in place in one buffer: the LSTM calls this on every gate at every step.
    """
    x = np.asarray(x)
    with np.errstate(over="ignore"):
        out = np.exp(-x)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) computed as max(x, 0) + log1p(exp(-|x|)), finite for every finite x."""
    x = np.asarray(x)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return -softplus(-np.asarray(x))


def logsumexp(a: np.ndarray, axis: int | None = None, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(a))) along ``axis``, shifting by the max so nothing overflows."""
    a = np.asarray(a)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):  # all -inf input: log(0) = -inf is the right answer
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return out


def log_mean_exp(a: np.ndarray, axis: int = 0) -> np.ndarray:
    """log(mean(exp(a))) along ``axis`` (the IWAE / reconstruction-probability average)."""
    a = np.asarray(a)
    return logsumexp(a, axis=axis) - np.log(a.shape[axis])
