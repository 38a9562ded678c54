r"""Generating implied-vol surfaces from a trained :class:`~minivae.apps.volatility.VolSurfaceVAE`,
and the share of them free of static arbitrage.

A VAE is a generative model: decoding latent codes gives new surfaces (the generation setting
of Bergeron et al. 2021, which the review of Singh & Ogunfunmi, Entropy 2022, surveys).  Two
ways to pick codes:

- **prior**: ``z ~ N(0, I)``, what the ELBO's KL term pulls the aggregate posterior towards;
- **KDE of the training codes**: the posterior means ``mu(x_i)`` of the training surfaces,
  smoothed by a Gaussian kernel density estimate.  With bandwidth factor h (Scott's rule,
  ``h = n^(-1/(d + 4))`` for n codes in d dimensions) and the codes' sample covariance S the
  estimate is ``p(z) = 1/n sum_i N(z; mu_i, h^2 S)``; a draw picks a code uniformly and adds
  ``N(0, h^2 S)`` noise.  Its mean is the codes' mean and its covariance ``(1 + h^2) S``.

Nothing in the decoder enforces no-arbitrage, so each generated surface is checked with
:func:`~minivae.apps.volatility.calendar_arbitrage_free` (total variance non-decreasing in t)
and :func:`~minivae.apps.volatility.butterfly_ok` (Durrleman's g >= 0, a non-negative density);
:func:`arbitrage_shares` reports the share passing each and both.  A surface with a non-finite
or non-positive vol is not a surface: it fails both checks (it is counted, not dropped).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng, check_scalar
from minivae.apps.volatility import (
    DEFAULT_LOG_MONEYNESS,
    DEFAULT_MATURITIES,
    VolSurfaceVAE,
    butterfly_ok,
    calendar_arbitrage_free,
)

__all__ = [
    "GENERATION_SOURCES",
    "arbitrage_shares",
    "generate_vol_surfaces",
    "kde_sample",
    "scott_factor",
    "training_codes",
]

GENERATION_SOURCES = ("prior", "kde")


def scott_factor(n: int, d: int) -> float:
    """Scott's rule bandwidth factor ``n^(-1/(d + 4))`` for n samples in d dimensions; the
    kernel covariance is ``factor^2`` times the samples' covariance (Scott 1992)."""
    n = check_positive_int(n, "n")
    d = check_positive_int(d, "d")
    return float(n ** (-1.0 / (d + 4)))


def kde_sample(codes: np.ndarray, n: int, rng: np.random.Generator | int, *,
               factor: float | None = None) -> np.ndarray:
    """Draw n points from the Gaussian KDE of ``codes``.

    Inputs:
    - codes: (M, L) samples, M >= 2 (a covariance needs two).
    - n: number of draws.
    - rng: generator or seed.
    - factor: bandwidth factor h (default Scott's rule :func:`scott_factor`); kernel
      covariance ``h^2 cov(codes)``.

    Returns (n, L): ``codes[j] + h * chol(S) eps`` with j uniform and eps ~ N(0, I).
    """
    codes = check_array(codes, "codes", ndim=2, dtype=np.float64)
    if codes.shape[0] < 2:
        raise ValueError(f"codes must hold at least 2 samples (rows) for a covariance, "
                         f"got shape {codes.shape}")
    n = check_positive_int(n, "n")
    rng = check_rng(rng)
    M, L = codes.shape
    h = scott_factor(M, L) if factor is None else check_scalar(factor, "factor", low=0.0)
    S = np.atleast_2d(np.cov(codes, rowvar=False))
    # eigh instead of Cholesky: S may be singular (a collapsed latent dimension has variance
    # ~0), and a square root from the eigenvalues clipped at 0 still reproduces S.
    vals, vecs = np.linalg.eigh(S)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    pick = rng.integers(0, M, size=n)
    return codes[pick] + h * rng.standard_normal((n, L)) @ root.T


def training_codes(vae: VolSurfaceVAE, surfaces: np.ndarray) -> np.ndarray:
    """Posterior means ``mu(x)`` of surfaces (N, n_t, n_k) under a trained VAE -> (N, L)."""
    if not isinstance(vae, VolSurfaceVAE):
        raise TypeError(f"vae must be a VolSurfaceVAE, got {type(vae).__name__}")
    vae._need_fit()
    X = vae.scale(vae._surfaces(surfaces, "surfaces"))
    return vae.model.posterior(X)[0]


def generate_vol_surfaces(vae: VolSurfaceVAE, n: int, rng: np.random.Generator | int, *,
                          source: str = "prior", codes: np.ndarray | None = None,
                          factor: float | None = None) -> np.ndarray:
    """n new surfaces (n, n_t, n_k) decoded from latent codes drawn from ``source``.

    source "prior": z ~ N(0, I).  source "kde": z from the Gaussian KDE (:func:`kde_sample`,
    bandwidth ``factor``, Scott's rule by default) of ``codes`` (M, L), e.g. the
    :func:`training_codes`.  The surface is the decoder's mean (no observation noise).
    """
    if not isinstance(vae, VolSurfaceVAE):
        raise TypeError(f"vae must be a VolSurfaceVAE, got {type(vae).__name__}")
    if source not in GENERATION_SOURCES:
        raise ValueError(f"source must be one of {GENERATION_SOURCES}, got {source!r}")
    n = check_positive_int(n, "n")
    rng = check_rng(rng)
    vae._need_fit()
    if source == "prior":
        if codes is not None:
            raise ValueError("codes is only used with source='kde'; got codes with "
                             "source='prior'")
        z = rng.standard_normal((n, vae.latent_dim))
    else:
        if codes is None:
            raise ValueError("source='kde' needs codes (M, latent_dim), e.g. "
                             "training_codes(vae, train); got None")
        codes = check_array(codes, "codes", shape=(None, vae.latent_dim), dtype=np.float64)
        z = kde_sample(codes, n, rng, factor=factor)
    return vae.decode(z)


def arbitrage_shares(surfaces: np.ndarray, t: np.ndarray = DEFAULT_MATURITIES,
                     k: np.ndarray = DEFAULT_LOG_MONEYNESS, *, calendar_tol: float = 1e-10,
                     butterfly_tol: float = 0.0) -> dict[str, Any]:
    """Share of surfaces (N, n_t, n_k) passing the calendar check, the butterfly check, both.

    NaN / inf / non-positive vols are allowed in the input and count as failing both.
    Returns ``{"calendar": float, "butterfly": float, "both": float, "n": N}``.
    """
    iv = check_array(surfaces, "surfaces", ndim=3, dtype=np.float64, allow_nan=True)
    t = check_array(t, "t", ndim=1, dtype=np.float64)
    k = check_array(k, "k", ndim=1, dtype=np.float64)
    if iv.shape[1:] != (t.shape[0], k.shape[0]):
        raise ValueError(f"surfaces must have shape (N, {t.shape[0]}, {k.shape[0]}) to match "
                         f"t and k, got {iv.shape}")
    cal_tol = check_scalar(calendar_tol, "calendar_tol", low=0.0)
    fly_tol = check_scalar(butterfly_tol, "butterfly_tol", low=0.0)
    cal = np.zeros(len(iv), dtype=bool)
    fly = np.zeros(len(iv), dtype=bool)
    for i, s in enumerate(iv):
        if np.all(np.isfinite(s)) and np.all(s > 0):
            cal[i] = calendar_arbitrage_free(s, t, k, tol=cal_tol)
            fly[i] = butterfly_ok(s, t, k, tol=fly_tol)
    return {"calendar": float(cal.mean()), "butterfly": float(fly.mean()),
            "both": float((cal & fly).mean()), "n": int(len(iv))}
