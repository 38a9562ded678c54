"""Turning anomaly scores into binary decisions.

A threshold is fitted on scores of (mostly) *normal* data -- e.g. reconstruction errors or
negative ELBOs on a validation split -- and then applied to test scores.  A point is flagged
anomalous when its score is *strictly greater* than the threshold, so ``threshold_max`` flags
nothing on the data it was fitted on.

All functions accept scores of any shape (e.g. (T,) or (N, T)) and use all of them; NaN or
inf scores are refused, because a silently ignored NaN would shift every statistic.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_scalar

__all__ = [
    "threshold_mu_k_sigma",
    "threshold_percentile",
    "threshold_max",
    "fit_threshold",
    "apply_threshold",
    "THRESHOLD_METHODS",
]


def _scores(scores: object) -> np.ndarray:
    return check_array(scores, "scores", dtype=np.float64)


def threshold_mu_k_sigma(scores: object, k: float = 3.0) -> float:
    """mean(scores) + k * std(scores).

    The standard deviation is the population one (ddof = 0).  Assumes roughly Gaussian
    scores; for heavy-tailed scores prefer ``threshold_percentile``.

    Inputs:
    - scores: finite array, any shape.
    - k: number of standard deviations above the mean (any finite real).

    Returns:
    - the threshold, a float.
    """
    s = _scores(scores)
    kk = check_scalar(k, "k")
    return float(np.mean(s) + kk * np.std(s))


def threshold_percentile(scores: object, q: float = 99.0) -> float:
    """The q-th percentile of the scores (linear interpolation between order statistics).

    Inputs:
    - scores: finite array, any shape.
    - q: percentile in [0, 100]; e.g. 99 flags about 1 % of data distributed like ``scores``.

    Returns:
    - the threshold, a float.
    """
    s = _scores(scores)
    qq = check_scalar(q, "q", low=0.0, high=100.0)
    return float(np.percentile(s, qq))


def threshold_max(scores: object) -> float:
    """The largest score: nothing in ``scores`` itself is flagged (strict ``>``).

    Inputs:
    - scores: finite array, any shape.

    Returns:
    - the threshold, a float.
    """
    return float(np.max(_scores(scores)))


THRESHOLD_METHODS = {
    "mu_k_sigma": threshold_mu_k_sigma,
    "percentile": threshold_percentile,
    "max": threshold_max,
}


def fit_threshold(scores: object, method: str = "mu_k_sigma", **kwargs: float) -> float:
    """Fit a threshold with one of ``THRESHOLD_METHODS``.

    Inputs:
    - scores: finite array, any shape.
    - method: "mu_k_sigma" (kwarg ``k``), "percentile" (kwarg ``q``) or "max" (no kwargs).
    - kwargs: passed to the method; an unknown keyword raises a TypeError naming it.

    Returns:
    - the threshold, a float.
    """
    if method not in THRESHOLD_METHODS:
        raise ValueError(
            f"method must be one of {sorted(THRESHOLD_METHODS)}, got {method!r}"
        )
    allowed = {"mu_k_sigma": {"k"}, "percentile": {"q"}, "max": set()}[method]
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(
            f"fit_threshold(method={method!r}) got unexpected keyword(s) {unknown}; "
            f"allowed: {sorted(allowed)}"
        )
    return THRESHOLD_METHODS[method](scores, **kwargs)


def apply_threshold(scores: object, threshold: float) -> np.ndarray:
    """Binary predictions ``scores > threshold``.

    Inputs:
    - scores: finite array, any shape.
    - threshold: finite float.

    Returns:
    - int64 array of the same shape as ``scores`` with 1 = anomaly.
    """
    s = _scores(scores)
    thr = check_scalar(threshold, "threshold")
    return (s > thr).astype(np.int64)
