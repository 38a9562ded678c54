"""FastICA (Hyvarinen 1999): blind separation of multi-channel mixtures ``x = A s``.

Independent component analysis assumes C channels ``x(t) = A s(t)`` are an unknown, instantaneous
linear mixing of statistically independent, non-Gaussian sources.  FastICA (Hyvarinen, "Fast and
robust fixed-point algorithms for independent component analysis", IEEE Trans. Neural Networks
10(3), 1999) finds them in three steps:

1. **Centre and whiten.**  ``x <- x - mean``; with the covariance ``C_x = E D E^T`` keep the
   ``n`` largest eigen-directions and set ``z = D^{-1/2} E^T x``, so ``E[z z^T] = I``.  The
   unmixing left to find is then a rotation.
2. **Fixed-point iteration** for all rows of W at once, with the log-cosh contrast
   ``G(u) = log cosh(a u) / a``, ``g(u) = tanh(a u)``, ``g'(u) = a (1 - tanh(a u)^2)``::

       W <- E[g(W z) z^T] - diag(E[g'(W z)]) W

3. **Symmetric decorrelation** after every step, ``W <- (W W^T)^{-1/2} W`` (an eigen-
   decomposition of W W^T), so no component is favoured and the rows stay orthonormal.

It stops when every row has stopped turning, ``max_i | |<w_i_new, w_i_old>| - 1 | < tol``, or
after ``max_iter`` steps.  The sources come back in an arbitrary order, sign and scale (unit
variance): that ambiguity is inherent to ICA.  It needs at least as many channels as sources and
at most one Gaussian source, so it applies to multi-channel recordings, not to a single-channel
mixture like the spectrogram separators' (see :mod:`minivae.apps.separation`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minivae._validation import (
    check_array,
    check_magnitude,
    check_positive_int,
    check_rng,
    check_scalar,
)

__all__ = ["ICAResult", "fastica", "whiten"]


class ICAResult(NamedTuple):
    """What :func:`fastica` returns (n components, C channels, T samples)."""

    sources: np.ndarray  # (n, T) estimated sources, unit variance, zero mean
    unmixing: np.ndarray  # (n, C): sources = unmixing @ (x - mean)
    mixing: np.ndarray  # (C, n): x - mean ~ mixing @ sources
    mean: np.ndarray  # (C,) channel means
    n_iter: int  # fixed-point steps taken
    converged: bool  # the tolerance was reached within max_iter


def whiten(X: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre and whiten X: (C, T) -> (z (n, T) with identity covariance, K (n, C), mean (C,)),
    ``z = K (X - mean)``.  Raises if the covariance has fewer than n clearly nonzero eigenvalues
    (channels that are linear combinations of fewer than n signals)."""
    X = check_array(X, "X", ndim=2, dtype=np.float64)
    n_components = check_positive_int(n_components, "n_components")
    if n_components > X.shape[0]:
        raise ValueError(f"n_components must be <= the number of channels {X.shape[0]}, "
                         f"got {n_components}")
    check_magnitude(X, "X")  # the covariance squares X
    mean = X.mean(axis=1)
    Xc = X - mean[:, None]
    lam, E = np.linalg.eigh(Xc @ Xc.T / X.shape[1])
    lam, E = lam[::-1][:n_components], E[:, ::-1][:, :n_components]  # largest first
    if lam[-1] <= lam[0] * 1e-10:
        raise ValueError(
            f"X has fewer than n_components={n_components} independent channels "
            f"(covariance eigenvalues {lam}); reduce n_components")
    K = E.T / np.sqrt(lam)[:, None]
    return K @ Xc, K, mean


def _sym_decorrelate(W: np.ndarray) -> np.ndarray:
    """``(W W^T)^{-1/2} W``: the closest matrix with orthonormal rows."""
    lam, E = np.linalg.eigh(W @ W.T)
    return (E / np.sqrt(lam)) @ E.T @ W


def fastica(
    X: np.ndarray,
    n_components: int | None = None,
    *,
    alpha: float = 1.0,
    max_iter: int = 200,
    tol: float = 1e-6,
    rng: np.random.Generator | int = 0,
) -> ICAResult:
    """Symmetric FastICA with the log-cosh contrast (see the module docstring).

    Inputs:
    - X: (C, T) C channels of T samples each (C >= 2 is the useful case), T > C.
    - n_components: n <= C sources to extract (default C).
    - alpha: a in ``G(u) = log cosh(a u) / a``, in [1, 2] (Hyvarinen's recommendation).
    - max_iter, tol: iteration cap and convergence tolerance.
    - rng: seed or generator of the random initial rotation.

    Returns:
    - ICAResult(sources, unmixing, mixing, mean, n_iter, converged).
    """
    X = check_array(X, "X", ndim=2, dtype=np.float64)
    C, T = X.shape
    if T <= C:
        raise ValueError(f"X must have shape (channels, samples) with more samples than "
                         f"channels, got {X.shape}")
    n = C if n_components is None else check_positive_int(n_components, "n_components")
    if n > C:
        raise ValueError(f"n_components must be <= the number of channels {C}, got {n}")
    alpha = check_scalar(alpha, "alpha", low=1.0, high=2.0)
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    rng = check_rng(rng)

    z, K, mean = whiten(X, n)
    W = _sym_decorrelate(rng.standard_normal((n, n)))
    converged, n_done = False, 0
    while n_done < max_iter and not converged:
        n_done += 1
        gy = np.tanh(alpha * (W @ z))  # (n, T)
        g_prime = alpha * (1.0 - gy**2)
        W_new = _sym_decorrelate(gy @ z.T / T - g_prime.mean(axis=1)[:, None] * W)
        change = np.max(np.abs(np.abs(np.sum(W_new * W, axis=1)) - 1.0))
        W = W_new
        converged = change < tol
    unmixing = W @ K
    # W is orthogonal, so the whitening's pseudo-inverse gives the mixing matrix.
    mixing = np.linalg.pinv(unmixing)
    return ICAResult(unmixing @ (X - mean[:, None]), unmixing, mixing, mean, n_done, converged)
