"""Supervised non-negative matrix factorisation (NMF): the classic separation baseline.

A non-negative matrix ``V: (F, N)`` (a magnitude spectrogram with F frequency bins as rows and N
frames as columns, the NMF literature's layout) is approximated by ``V ~ W H`` with a dictionary
``W: (F, R)`` of R spectral templates and activations ``H: (R, N)``, both >= 0.  Lee & Seung
(NIPS 2001, "Algorithms for non-negative matrix factorization") give multiplicative updates that
never increase the divergence ``D(V | W H)``:

* Euclidean, ``D = 1/2 sum (V - WH)^2``::

      H <- H * (W^T V) / (W^T W H)          W <- W * (V H^T) / (W H H^T)

* generalised Kullback-Leibler, ``D = sum V log(V / WH) - V + WH``::

      H <- H * (W^T (V / WH)) / (W^T 1)     W <- W * ((V / WH) H^T) / (1 H^T)

A tiny ``_TINY`` in each denominator keeps 0/0 away; a factor that is exactly zero stays zero
(which is why the initialisation is strictly positive).

**Supervised separation** (Smaragdis, Raj & Shashanka 2007; Schmidt & Olsson 2006): learn one
dictionary ``W_k`` per source on that source's training spectrograms (``fit``); on a mixture,
fix the stacked dictionary ``W = [W_1 ... W_K]``, learn only the activations ``H = [H_1; ...;
H_K]``, and form Wiener-like masks from the per-source models ``W_k H_k`` (power 2 by default,
as :func:`minivae.apps.signal.wiener_masks`), applied to the mixture STFT with the mixture
phase.  The masks sum to one, so the estimates add up to the mixture.

Every fit runs at most ``n_iter`` iterations and stops early once the objective falls by less
than ``tol`` (relative) in one iteration; the random initialisation comes from a seeded
``numpy.random.Generator``.  Each dictionary column is scaled to unit sum after every W update
(H takes the inverse scale, so W H and the objective are unchanged): templates of different
sources then live on one scale.
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
from minivae.apps.signal import apply_masks, stft, wiener_masks

__all__ = ["DIVERGENCES", "NMFResult", "NMFSeparator", "nmf", "nmf_objective"]

DIVERGENCES = ("kl", "euclidean")
_TINY = 1e-12  # keeps the update denominators (and the KL's log) away from zero


class NMFResult(NamedTuple):
    """What :func:`nmf` returns."""

    W: np.ndarray  # (F, R) dictionary
    H: np.ndarray  # (R, N) activations
    objective: np.ndarray  # (n_done + 1,) divergence before the first and after every iteration


def nmf_objective(V: np.ndarray, WH: np.ndarray, divergence: str) -> float:
    """D(V | WH): ``1/2 ||V - WH||^2`` ("euclidean") or the generalised KL ("kl"), with the
    convention ``0 log 0 = 0``.  V, WH: (F, N), >= 0."""
    V = check_array(V, "V", ndim=2, dtype=np.float64)
    WH = check_array(WH, "WH", shape=V.shape, dtype=np.float64)
    for name, arr in (("V", V), ("WH", WH)):
        if np.any(arr < 0):
            raise ValueError(f"{name} must be non-negative, got min {arr.min():.3g}")
        check_magnitude(arr, name)  # the Euclidean objective squares it
    return _objective(V, WH, _check_divergence(divergence))


def _objective(V: np.ndarray, WH: np.ndarray, divergence: str) -> float:
    """:func:`nmf_objective` without the checks (called every iteration)."""
    if divergence == "euclidean":
        return 0.5 * float(np.sum((V - WH) ** 2))
    WH = WH + _TINY
    with np.errstate(divide="ignore", invalid="ignore"):
        vlog = np.where(V > 0, V * np.log(np.where(V > 0, V, 1.0) / WH), 0.0)
    return float(np.sum(vlog - V + WH))


def _update_H(V: np.ndarray, W: np.ndarray, H: np.ndarray, divergence: str) -> np.ndarray:
    if divergence == "euclidean":
        return H * (W.T @ V) / (W.T @ (W @ H) + _TINY)
    ratio = V / (W @ H + _TINY)
    return H * (W.T @ ratio) / (W.sum(axis=0)[:, None] + _TINY)


def _update_W(V: np.ndarray, W: np.ndarray, H: np.ndarray, divergence: str) -> np.ndarray:
    if divergence == "euclidean":
        return W * (V @ H.T) / ((W @ H) @ H.T + _TINY)
    ratio = V / (W @ H + _TINY)
    return W * (ratio @ H.T) / (H.sum(axis=1)[None, :] + _TINY)


def _check_divergence(divergence: object) -> str:
    if divergence not in DIVERGENCES:
        raise ValueError(f"divergence must be one of {DIVERGENCES}, got {divergence!r}")
    return str(divergence)


def nmf(
    V: np.ndarray,
    n_components: int | None = None,
    *,
    W: np.ndarray | None = None,
    divergence: str = "kl",
    n_iter: int = 200,
    tol: float = 1e-4,
    rng: np.random.Generator | int = 0,
) -> NMFResult:
    """Factorise ``V ~ W H`` by multiplicative updates (Lee & Seung 2001).

    Inputs:
    - V: (F, N) non-negative matrix (a magnitude spectrogram transposed: bins x frames).
    - n_components: R, the number of templates (learn W); omit it when W is given.
    - W: (F, R) a fixed dictionary: only H is learned (the separation step).
    - divergence: "kl" or "euclidean".
    - n_iter: at most this many iterations; tol: stop when one iteration lowers the
      objective by less than ``tol`` times its value (0 runs all n_iter).
    - rng: seed or generator of the positive random initialisation (uniform in [0.5, 1.5)
      times a scale matching V's mean).

    Returns:
    - NMFResult(W, H, objective); ``objective`` never increases (up to round-off).
    """
    V = check_array(V, "V", ndim=2, dtype=np.float64)
    if np.any(V < 0):
        raise ValueError(f"V must be non-negative, got min {V.min():.3g}; pass magnitudes")
    divergence = _check_divergence(divergence)
    n_iter = check_positive_int(n_iter, "n_iter")
    tol = check_scalar(tol, "tol", low=0.0)
    rng = check_rng(rng)
    learn_W = W is None
    if learn_W:
        if n_components is None:
            raise ValueError("give n_components (to learn W) or a fixed dictionary W")
        R = check_positive_int(n_components, "n_components")
        W = rng.uniform(0.5, 1.5, size=(V.shape[0], R))
        W /= W.sum(axis=0)
    else:
        W = check_array(W, "W", shape=(V.shape[0], None), dtype=np.float64).copy()
        if np.any(W < 0):
            raise ValueError(f"W must be non-negative, got min {W.min():.3g}")
        R = W.shape[1]
        if n_components is not None and check_positive_int(n_components, "n_components") != R:
            raise ValueError(f"n_components={n_components} but W has {R} columns")
    # Scale H so that W H starts at V's mean level (W's columns sum to about 1 or to W's own).
    level = V.mean() * V.shape[0] / max(float(W.sum(axis=0).mean()), _TINY) / R
    H = rng.uniform(0.5, 1.5, size=(R, V.shape[1])) * max(level, _TINY)
    history = [_objective(V, W @ H, divergence)]
    for _ in range(n_iter):
        H = _update_H(V, W, H, divergence)
        if learn_W:
            W = _update_W(V, W, H, divergence)
            norms = W.sum(axis=0) + _TINY  # unit-sum templates; W H unchanged
            W, H = W / norms, H * norms[:, None]
        history.append(_objective(V, W @ H, divergence))
        if history[-2] - history[-1] < tol * abs(history[-2]):
            break
    return NMFResult(W, H, np.asarray(history))


def _as_source_sets(sources: object) -> np.ndarray:
    """sources (K, T) or (M, K, T) -> (M, K, T) float64."""
    src = check_array(sources, "sources", ndim=(2, 3), dtype=np.float64)
    return src[None] if src.ndim == 2 else src


class NMFSeparator:
    """Supervised NMF separation on STFT magnitudes (see the module docstring).

    Args:
        fs: sampling rate [Hz].
        window_ms, overlap: the STFT frame (as :class:`~minivae.apps.separation.
            SpectrogramVAESeparator`: hop = window * (1 - overlap)).
        n_components: templates per source (R_k).
        divergence: "kl" or "euclidean".
        n_iter, tol: iteration budget and relative stopping tolerance of every NMF fit.
        mask_power: exponent p of the masks ``(W_k H_k)^p / sum_j (W_j H_j)^p``.
        rng: seed or generator of the initialisations.

    Shapes: sources (M, K, T) or (K, T); a mixture (T,).
    """

    def __init__(
        self,
        fs: float,
        *,
        window_ms: float = 64.0,
        overlap: float = 0.5,
        n_components: int = 16,
        divergence: str = "kl",
        n_iter: int = 200,
        tol: float = 1e-4,
        mask_power: float = 2.0,
        rng: np.random.Generator | int = 0,
    ) -> None:
        self.fs = check_scalar(fs, "fs", low=0.0, low_inclusive=False)
        self.window_ms = check_scalar(window_ms, "window_ms", low=0.0, low_inclusive=False)
        self.overlap = check_scalar(overlap, "overlap", low=0.0, high=1.0, high_inclusive=False)
        self.n_components = check_positive_int(n_components, "n_components")
        self.divergence = _check_divergence(divergence)
        self.n_iter = check_positive_int(n_iter, "n_iter")
        self.tol = check_scalar(tol, "tol", low=0.0)
        self.mask_power = check_scalar(mask_power, "mask_power", low=0.0, low_inclusive=False)
        self._rng = check_rng(rng)
        self.dictionaries: list[np.ndarray] = []  # K arrays (F, R), after fit

    @property
    def frame(self) -> dict[str, float]:
        """STFT keyword arguments (``window_ms``, ``hop_ms``)."""
        return {"window_ms": self.window_ms, "hop_ms": self.window_ms * (1.0 - self.overlap)}

    def _magnitude(self, x: np.ndarray, name: str) -> np.ndarray:
        """(T,) -> |STFT|^T: (F, n_frames)."""
        try:
            return np.abs(stft(x, self.fs, **self.frame)).T
        except ValueError as exc:  # say which argument was too short
            raise ValueError(f"{name}: {exc}") from None

    def fit(self, sources: np.ndarray) -> NMFSeparator:
        """Learn one dictionary per source from its training signals.

        Inputs:
        - sources: (M, K, T) M training recordings of K sources (or one (K, T)); the
          spectrograms of source k's recordings are concatenated along time.

        Returns self.
        """
        src = _as_source_sets(sources)
        self.dictionaries = []
        for k in range(src.shape[1]):
            V = np.concatenate([self._magnitude(src[m, k], f"sources[{m}, {k}]")
                                for m in range(src.shape[0])], axis=1)
            if not np.any(V > 0):
                raise ValueError(f"sources[:, {k}] is silent; cannot learn its dictionary")
            res = nmf(V, self.n_components, divergence=self.divergence, n_iter=self.n_iter,
                      tol=self.tol, rng=self._rng)
            self.dictionaries.append(res.W)
        return self

    def source_magnitudes(self, V: np.ndarray) -> np.ndarray:
        """Per-source models ``W_k H_k`` of a mixture magnitude V: (F, N) -> (K, F, N), with H
        learned on the fixed stacked dictionary."""
        if not self.dictionaries:
            raise RuntimeError("NMFSeparator is not trained: call fit() first")
        W = np.concatenate(self.dictionaries, axis=1)
        res = nmf(V, W=W, divergence=self.divergence, n_iter=self.n_iter, tol=self.tol,
                  rng=self._rng)
        sizes = np.cumsum([d.shape[1] for d in self.dictionaries])[:-1]
        return np.stack([Wk @ Hk for Wk, Hk in zip(self.dictionaries,
                                                   np.split(res.H, sizes, axis=0))])

    def separate(self, mixture: np.ndarray) -> np.ndarray:
        """Separate one mixture: (T,) -> estimates (K, T) that sum to the mixture."""
        x = check_array(mixture, "mixture", ndim=1, dtype=np.float64)
        X = stft(x, self.fs, **self.frame)  # (n_frames, F)
        if self.dictionaries and X.shape[1] != self.dictionaries[0].shape[0]:
            raise ValueError(
                f"mixture's STFT has {X.shape[1]} bins but the dictionaries have "
                f"{self.dictionaries[0].shape[0]}; use the same fs and window")
        models = self.source_magnitudes(np.abs(X).T)
        masks = wiener_masks(models.transpose(0, 2, 1), power=self.mask_power, eps=_TINY)
        return apply_masks(X, masks, self.fs, length=x.shape[0], **self.frame)
