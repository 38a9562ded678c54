"""Simple anomaly scores that every experiment's table carries next to the learned models.

A learned detector's number means little without a simple method on the same split: if PCA
matches the VAE, the VAE has not earned its complexity.  All scores are *higher = more
anomalous* and are fitted on normal (or, for unsupervised data, unlabelled) training rows only.

* :class:`PCAScorer`: squared reconstruction error from the top-k principal components
  (k: the fewest explaining ``explained`` of the training variance, or given).  This is the
  linear autoencoder: an LSTM-AE / VAE should beat it to justify itself.
* :class:`ZScoreScorer`: the largest per-feature |z-score| against the training mean and std,
  ``max_d |x_d - mu_d| / sigma_d``: catches values outside a feature's usual range, blind to
  broken correlations between features.  On aligned windows (one heartbeat per row, flattened)
  it is the *beat z-score*: each sample against the normal beats' samples at the same
  position, the fair version of the rolling z-score (see :mod:`minivae.demo`).
"""

from __future__ import annotations

import numpy as np

from minivae._validation import (
    check_array,
    check_magnitude,
    check_no_inf,
    check_no_overflow,
    check_scalar,
)

__all__ = ["PCAScorer", "ZScoreScorer"]


class PCAScorer:
    """PCA reconstruction error: ``score(x) = mean_d (x - x_hat)_d^2`` with
    ``x_hat = mu + V_k V_k^T (x - mu)``, V_k the top-k right singular vectors of the centred
    training data.

    Args:
        n_components: k (int >= 1), or None to use ``explained``.
        explained: with ``n_components=None``: the fewest components whose share of the
            training variance reaches this fraction, in (0, 1].

    Attributes after :meth:`fit`: ``mean_`` (D,), ``components_`` (k, D), ``n_components_``.
    """

    def __init__(self, n_components: int | None = None, explained: float = 0.9) -> None:
        if n_components is not None and (isinstance(n_components, bool) or not isinstance(
                n_components, (int, np.integer)) or n_components < 1):
            raise ValueError(f"n_components must be an int >= 1 or None, got {n_components!r}")
        self.n_components = n_components
        self.explained = check_scalar(explained, "explained", low=0.0, high=1.0,
                                      low_inclusive=False)
        self.mean_: np.ndarray | None = None
        self.components_: np.ndarray | None = None
        self.n_components_: int | None = None

    def fit(self, X: object) -> PCAScorer:
        """X: (N, D) training rows (N >= 2)."""
        X = check_array(X, "X", ndim=2, dtype=np.float64)
        check_magnitude(X, "X")  # the SVD squares the data
        if X.shape[0] < 2:
            raise ValueError(f"X needs at least 2 rows to fit PCA, got shape {X.shape}")
        self.mean_ = X.mean(axis=0)
        _, s, vt = np.linalg.svd(X - self.mean_, full_matrices=False)
        var = s**2
        if self.n_components is not None:
            k = min(int(self.n_components), vt.shape[0])
        else:
            share = np.cumsum(var) / max(float(var.sum()), 1e-300)
            k = int(np.searchsorted(share, self.explained - 1e-12) + 1)
        self.n_components_ = min(k, vt.shape[0])
        self.components_ = vt[: self.n_components_]
        return self

    def score(self, X: object) -> np.ndarray:
        """X: (M, D) -> (M,) mean squared reconstruction error."""
        if self.components_ is None:
            raise RuntimeError("PCAScorer is not fitted yet; call fit(X_train) first")
        X = check_array(X, "X", shape=(None, self.mean_.shape[0]), dtype=np.float64)
        check_magnitude(X, "X")
        c = X - self.mean_
        with np.errstate(over="ignore", invalid="ignore"):
            resid = c - (c @ self.components_.T) @ self.components_
            out = np.mean(resid * resid, axis=1)
        check_no_overflow(out, "the reconstruction error", X=X)
        return out


class ZScoreScorer:
    """Largest per-feature |z-score| against the training rows' mean and std (ddof 0; a
    constant feature gets std 1 so it never divides by zero).

    Attributes after :meth:`fit`: ``mean_`` (D,), ``std_`` (D,).
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    def fit(self, X: object) -> ZScoreScorer:
        """X: (N, D) training rows; NaN = missing (ignored), but every feature needs at least
        one observed value."""
        X = check_array(X, "X", ndim=2, dtype=np.float64, allow_nan=True)
        check_no_inf(X, "X")
        check_magnitude(X, "X")  # the std squares the data
        empty = np.flatnonzero(np.all(np.isnan(X), axis=0))
        if empty.size:
            raise ValueError(f"X has no observed value in feature(s) {empty.tolist()[:10]} "
                             f"(shape {X.shape}); cannot estimate their mean and std")
        self.mean_ = np.nanmean(X, axis=0)
        std = np.nanstd(X, axis=0)
        self.std_ = np.where(std > 0, std, 1.0)
        return self

    def score_features(self, X: object) -> np.ndarray:
        """X: (M, D) -> (M, D) per-feature |x_d - mean_d| / std_d."""
        if self.mean_ is None:
            raise RuntimeError("ZScoreScorer is not fitted yet; call fit(X_train) first")
        X = check_array(X, "X", shape=(None, self.mean_.shape[0]), dtype=np.float64)
        return np.abs(X - self.mean_) / self.std_

    def score(self, X: object) -> np.ndarray:
        """X: (M, D) -> (M,) max_d |x_d - mean_d| / std_d."""
        return np.max(self.score_features(X), axis=1)
