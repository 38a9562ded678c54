"""Implied-volatility surfaces: SSVI generator, arbitrage checks, beta-VAEs and surface completion.

Bergeron, Fung, Hull & Poulos (2021, "Variational Autoencoders: A Hands-Off Approach to
Volatility") train VAEs on implied-volatility surfaces (FX options market data) and complete a
partially observed surface with the decoded surface that fits the available quotes as closely as
possible; finance is one of the application areas the review of Singh & Ogunfunmi (Entropy,
2022) surveys.  This module follows that idea with its own choices: every surface here is
*generated* (SSVI, below), so the true surface behind every set of quotes is known; completion
is a MAP estimate (the fit plus the prior term ``||z||^2 / 2``, under a stated quote noise) from
several starting points; the arbitrage checks and the baselines (an SSVI fit, interpolation) are
this module's.

Data: SSVI surfaces (Gatheral & Jacquier, 2014)
-----------------------------------------------
Total implied variance ``w(k, t) = sigma_imp(k, t)^2 t`` at log-moneyness ``k = log(K / F)``::

    w(k, t)    = theta_t / 2 * (1 + rho phi k + sqrt((phi k + rho)^2 + 1 - rho^2)),
    phi        = phi(theta_t)
    theta_t    = v_inf t + (v0 - v_inf) (1 - exp(-kappa t)) / kappa      (ATM total variance)
    phi(theta) = eta / (theta^gamma (1 + theta)^(1 - gamma))               (power law)

``theta_t`` is the integral of a positive "variance curve" decaying from ``v0`` to ``v_inf``, so it
increases with t: no calendar arbitrage.  With ``0 < gamma <= 1/2`` and ``eta (1 + |rho|) <= 2``
we get ``theta phi (1 + |rho|) < 2 < 4`` and ``theta phi^2 (1 + |rho|) <= 4``, the sufficient
conditions of G&J's Theorem 4.2 for no butterfly arbitrage; :func:`sample_ssvi_params` draws
parameters inside that region.  Surfaces live on a grid of maturities ``t: (n_t,)`` [years] and
log-moneyness ``k: (n_k,)``; an array ``iv: (n_t, n_k)`` (or ``(N, n_t, n_k)``) holds implied
vols as fractions (0.2 = 20 %; "vol points" below are percent, 0.01).

Arbitrage checks (any surface on a grid)
----------------------------------------
* :func:`calendar_arbitrage_free`: total variance is non-decreasing in t at every k.
* :func:`butterfly_ok`: Durrleman's condition ``g(k) >= 0`` on every maturity slice, with
  ``g = (1 - k w'/(2w))^2 - w'^2/4 (1/w + 1/4) + w''/2`` and the derivatives taken by
  second-order finite differences along the k grid (:func:`durrleman_g`); g is the risk-neutral
  density up to a positive factor.

Models
------
* **Grid form**: a :class:`~minivae.models.VAE` (Gaussian likelihood, fixed variance) on the
  flattened, standardised surface (n_t * n_k numbers in, the same out).  Both forms take
  ``beta`` and ``free_bits`` and train with :func:`minivae.train.loop.fit`.
* **Pointwise form**: :class:`PointwiseVAE`, whose encoder reads the surface but whose decoder
  takes ``[z, t~, k~]`` (t and k scaled to [-1, 1]) and returns *one* vol, so it can be asked for
  any (t, k), on the grid or not.

:class:`VolSurfaceVAE` wraps either form with the scaling and implements **completion**: given a
few observed vols ``y_obs`` (mask True), find the MAP latent code

    z* = argmin_z  sum_obs (dec(z)_j - y_j)^2 / (2 s^2) + ||z||^2 / 2      (s = noise_std, scaled)

by Adam on z (gradients through the decoder's backward pass), from several starting points,
and return ``dec(z*)`` everywhere.  Baselines: :func:`fit_ssvi` (least squares on the six SSVI
parameters, Levenberg-Marquardt) and :func:`interpolate_surface` (nearest, linear and
thin-plate, NumPy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from minivae._validation import (
    check_array,
    check_mask,
    check_no_overflow,
    check_positive_int,
    check_rng,
    check_scalar,
)
from minivae.apps.base_vae import ApplicationVAE, forward_with_vjp
from minivae.models.base import Model, check_hidden_sizes, inference_method, register_model
from minivae.models.vae import VAE
from minivae.nn.sequential import MLP
from minivae.objectives.losses import reconstruction_nll
from minivae.train.optim import Adam

__all__ = [
    "DEFAULT_LOG_MONEYNESS",
    "DEFAULT_MATURITIES",
    "FORMS",
    "PointwiseVAE",
    "SSVIParams",
    "VolSurfaceVAE",
    "atm_total_variance",
    "butterfly_ok",
    "calendar_arbitrage_free",
    "durrleman_g",
    "fit_ssvi",
    "generate_surfaces",
    "INTERPOLATIONS",
    "interpolate_surface",
    "mask_random_points",
    "rmse_vol_points",
    "sample_ssvi_params",
    "ssvi_phi",
    "ssvi_surface",
    "ssvi_total_variance",
]

#: maturities in years: 1, 2, 3, 6, 9 months, 1, 1.5, 2 years
DEFAULT_MATURITIES = np.array([1 / 12, 2 / 12, 3 / 12, 6 / 12, 9 / 12, 1.0, 1.5, 2.0])
#: log-moneyness log(K / F) from -0.4 to 0.4
DEFAULT_LOG_MONEYNESS = np.linspace(-0.4, 0.4, 11)
FORMS = ("grid", "pointwise")
N_SSVI_PARAMS = 6


# ============================================================================ SSVI
class SSVIParams(NamedTuple):
    """SSVI parameters, each a float or an array (N,) (one surface per entry)."""

    v0: Any  # short-end variance level (> 0), e.g. 0.04 = 20 % vol
    v_inf: Any  # long-run variance level (> 0)
    kappa: Any  # speed from v0 to v_inf (> 0), 1 / years
    rho: Any  # skew, in (-1, 1)
    eta: Any  # curvature level, > 0; no-arbitrage needs eta (1 + |rho|) <= 2
    gamma: Any  # power-law exponent in (0, 1/2]


def _grid(t: object, k: object) -> tuple[np.ndarray, np.ndarray]:
    t = check_array(t, "t", ndim=1, dtype=np.float64)
    k = check_array(k, "k", ndim=1, dtype=np.float64)
    if np.any(t <= 0):
        raise ValueError(f"maturities t must be > 0 (years), got min {t.min():.4g}")
    if np.any(np.diff(t) <= 0):
        raise ValueError("maturities t must be strictly increasing")
    if np.any(np.diff(k) <= 0):
        raise ValueError("log-moneyness k must be strictly increasing")
    return t, k


def atm_total_variance(t: np.ndarray, v0: Any, v_inf: Any, kappa: Any) -> np.ndarray:
    """``theta_t = v_inf t + (v0 - v_inf)(1 - exp(-kappa t)) / kappa``.

    t: (n_t,); parameters floats or (N,) -> theta: (n_t,) or (N, n_t).  Its slope
    ``v_inf + (v0 - v_inf) exp(-kappa t)`` is positive, so theta increases with t.
    """
    t = check_array(t, "t", ndim=1, dtype=np.float64)
    v0, v_inf, kappa = (check_array(a, name, ndim=(0, 1), dtype=np.float64)
                        for a, name in ((v0, "v0"), (v_inf, "v_inf"), (kappa, "kappa")))
    if np.any(kappa <= 0):
        raise ValueError(f"kappa must be > 0 (a mean-reversion speed), got min {kappa.min():.3g}")
    # A trailing axis on the parameters broadcasts (N,) parameters against (n_t,) maturities.
    v0, v_inf, kappa = (a[..., None] for a in (v0, v_inf, kappa))
    return v_inf * t + (v0 - v_inf) * (-np.expm1(-kappa * t)) / kappa


def ssvi_phi(theta: np.ndarray, eta: Any, gamma: Any) -> np.ndarray:
    """Power-law curvature ``phi(theta) = eta / (theta^gamma (1 + theta)^(1 - gamma))``."""
    theta = np.asarray(theta, dtype=np.float64)
    return eta / (theta**gamma * (1.0 + theta) ** (1.0 - gamma))


def ssvi_total_variance(k: np.ndarray, theta: np.ndarray, rho: Any, phi: np.ndarray) -> np.ndarray:
    """SSVI slice ``w(k) = theta/2 (1 + rho phi k + sqrt((phi k + rho)^2 + 1 - rho^2))``
    (broadcasting over all arguments)."""
    pk = phi * k
    return 0.5 * theta * (1.0 + rho * pk + np.sqrt((pk + rho) ** 2 + 1.0 - rho**2))


def _as_param_arrays(params: SSVIParams) -> SSVIParams:
    arrs = [np.atleast_1d(np.asarray(p, dtype=np.float64)) for p in params]
    n = max(a.shape[0] for a in arrs)
    for name, a in zip(SSVIParams._fields, arrs):
        if a.ndim != 1 or a.shape[0] not in (1, n):
            raise ValueError(f"params.{name} must be a float or shape ({n},), got {a.shape}")
    return SSVIParams(*(np.broadcast_to(a, (n,)) for a in arrs))


def ssvi_surface(params: SSVIParams, t: np.ndarray = DEFAULT_MATURITIES,
                 k: np.ndarray = DEFAULT_LOG_MONEYNESS) -> np.ndarray:
    """Implied vols ``sqrt(w(k, t) / t)`` of SSVI surfaces on the grid.

    Inputs:
    - params: :class:`SSVIParams` of floats (one surface) or arrays (N,).
    - t: (n_t,) maturities [years], increasing; k: (n_k,) log-moneyness, increasing.

    Returns:
    - iv: (n_t, n_k) for float parameters, else (N, n_t, n_k).
    """
    t, k = _grid(t, k)
    single = all(np.ndim(p) == 0 for p in params)
    p = _as_param_arrays(params)
    theta = atm_total_variance(t, p.v0, p.v_inf, p.kappa)  # (N, n_t)
    phi = ssvi_phi(theta, p.eta[:, None], p.gamma[:, None])
    w = ssvi_total_variance(k[None, None, :], theta[..., None], p.rho[:, None, None],
                            phi[..., None])
    iv = np.sqrt(w / t[None, :, None])
    return iv[0] if single else iv


def sample_ssvi_params(
    n: int,
    rng: np.random.Generator | int,
    *,
    v0: tuple[float, float] = (0.01, 0.16),
    v_inf: tuple[float, float] = (0.01, 0.09),
    kappa: tuple[float, float] = (0.5, 4.0),
    rho: tuple[float, float] = (-0.9, 0.2),
    gamma: tuple[float, float] = (0.2, 0.5),
    eta_fraction: tuple[float, float] = (0.2, 0.95),
) -> SSVIParams:
    """Random arbitrage-free SSVI parameters, each uniform in its range.

    ``eta = eta_fraction * 2 / (1 + |rho|)`` keeps ``eta (1 + |rho|) <= 2`` (no butterfly
    arbitrage with gamma <= 1/2); variances v0, v_inf of 0.01 .. 0.16 are 10 % .. 40 % vol.

    Returns :class:`SSVIParams` of arrays (n,).
    """
    n = check_positive_int(n, "n")
    rng = check_rng(rng)
    ranges = {"v0": v0, "v_inf": v_inf, "kappa": kappa, "rho": rho, "gamma": gamma,
              "eta_fraction": eta_fraction}
    # name -> (exclusive lower limit, upper limit, upper limit allowed)
    limits = {"v0": (0.0, np.inf, False), "v_inf": (0.0, np.inf, False),
              "kappa": (0.0, np.inf, False), "rho": (-1.0, 1.0, False),
              "gamma": (0.0, 0.5, True), "eta_fraction": (0.0, 1.0, True)}
    draws = {}
    for name, pair in ranges.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{name} must be a (low, high) pair, got {pair!r}")
        lo, hi = pair
        lo = check_scalar(lo, f"{name}[0]")
        hi = check_scalar(hi, f"{name}[1]")
        a, b, b_ok = limits[name]
        if not (a < lo <= hi and (hi < b or (b_ok and hi == b))):
            raise ValueError(f"{name} range must satisfy {a:g} < low <= high "
                             f"{'<=' if b_ok else '<'} {b:g}, got ({lo}, {hi})")
        draws[name] = rng.uniform(lo, hi, size=n)
    eta = draws["eta_fraction"] * 2.0 / (1.0 + np.abs(draws["rho"]))
    return SSVIParams(draws["v0"], draws["v_inf"], draws["kappa"], draws["rho"], eta,
                      draws["gamma"])


def generate_surfaces(
    n: int,
    rng: np.random.Generator | int,
    *,
    t: np.ndarray = DEFAULT_MATURITIES,
    k: np.ndarray = DEFAULT_LOG_MONEYNESS,
    **ranges: tuple[float, float],
) -> tuple[np.ndarray, SSVIParams]:
    """n random SSVI surfaces: returns (iv (n, n_t, n_k), their :class:`SSVIParams`)."""
    params = sample_ssvi_params(n, rng, **ranges)
    return ssvi_surface(params, t, k), params


# ============================================================================ arbitrage checks
def _surface(iv: object, t: np.ndarray, k: np.ndarray, name: str = "iv") -> np.ndarray:
    iv = check_array(iv, name, ndim=2, dtype=np.float64)
    if iv.shape != (t.shape[0], k.shape[0]):
        raise ValueError(f"{name} must have shape (n_t, n_k) = ({t.shape[0]}, {k.shape[0]}), "
                         f"got {iv.shape}")
    if np.any(iv <= 0):
        raise ValueError(f"{name} must be > 0 (implied vols), got min {iv.min():.4g}")
    return iv


def calendar_arbitrage_free(iv: np.ndarray, t: np.ndarray = DEFAULT_MATURITIES,
                            k: np.ndarray = DEFAULT_LOG_MONEYNESS, *, tol: float = 1e-12) -> bool:
    """True when total variance ``iv^2 t`` is non-decreasing in t at every k (within ``tol``).

    iv: (n_t, n_k).  At fixed log-moneyness (forward-moneyness) a longer option must not have
    less total variance, otherwise a calendar spread has a negative price.
    """
    t, k = _grid(t, k)
    iv = _surface(iv, t, k)
    tol = check_scalar(tol, "tol", low=0.0)
    w = iv**2 * t[:, None]
    return bool(np.all(np.diff(w, axis=0) >= -tol))


def durrleman_g(iv: np.ndarray, t: np.ndarray = DEFAULT_MATURITIES,
                k: np.ndarray = DEFAULT_LOG_MONEYNESS) -> np.ndarray:
    """Durrleman's function on every slice: (n_t, n_k).

    ``g(k) = (1 - k w' / (2 w))^2 - (w'^2 / 4)(1 / w + 1 / 4) + w'' / 2`` with w = iv^2 t, w'
    from second-order central differences (``np.gradient``) and w'' from the three-point
    stencil; uneven grids work.
    The call-price density is ``g / sqrt(2 pi w) * exp(-d_-^2 / 2)``, so ``g < 0`` anywhere is a
    butterfly arbitrage.
    """
    t, k = _grid(t, k)
    iv = _surface(iv, t, k)
    if k.shape[0] < 3:
        raise ValueError(f"need at least 3 log-moneyness points for w'', got {k.shape[0]}")
    w = iv**2 * t[:, None]
    w1 = np.gradient(w, k, axis=1, edge_order=2)
    # w'' from the compact three-point stencil (uneven spacing), not np.gradient twice: the
    # nested version spans five points and smears a one-strike kink; the edges reuse the
    # stencil of their neighbour.
    w2 = w @ _second_difference(k).T  # (n_t, n_k - 2)
    w2 = np.concatenate([w2[:, :1], w2, w2[:, -1:]], axis=1)
    return (1.0 - k * w1 / (2.0 * w)) ** 2 - 0.25 * w1**2 * (1.0 / w + 0.25) + 0.5 * w2


def butterfly_ok(iv: np.ndarray, t: np.ndarray = DEFAULT_MATURITIES,
                 k: np.ndarray = DEFAULT_LOG_MONEYNESS, *, tol: float = 0.0) -> bool:
    """True when Durrleman's g(k) >= -tol at every grid point (no butterfly arbitrage)."""
    tol = check_scalar(tol, "tol", low=0.0)
    return bool(np.all(durrleman_g(iv, t, k) >= -tol))


# ============================================================================ baselines
def _check_observed(values: object, mask: object, shape: tuple[int, ...],
                    min_observed: int) -> tuple[np.ndarray, np.ndarray]:
    """values with NaN allowed where mask is False; mask boolean of the same shape."""
    v = check_array(values, "observed", dtype=np.float64, allow_nan=True)
    if v.shape[-2:] != shape or v.ndim not in (2, 3):
        raise ValueError(f"observed must have shape {shape} or (N, *{shape}), got {v.shape}")
    mask = check_mask(mask, v, data="observed")
    counts = mask.reshape(-1, shape[0] * shape[1]).sum(axis=1)
    if np.any(counts < min_observed):
        raise ValueError(f"too few observed points: need at least {min_observed} per surface, "
                         f"got {int(counts.min())}")
    return v, mask


def mask_random_points(shape: tuple[int, ...], fraction: float,
                       rng: np.random.Generator | int) -> np.ndarray:
    """Boolean mask (True = observed) with ``round(fraction * n_t * n_k)`` observed points per
    surface, chosen uniformly; shape (n_t, n_k) or (N, n_t, n_k)."""
    fraction = check_scalar(fraction, "fraction", low=0.0, high=1.0, low_inclusive=False)
    rng = check_rng(rng)
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"shape must be (n_t, n_k) or (N, n_t, n_k), got {shape}")
    n_pts = shape[-1] * shape[-2]
    n_obs = max(1, int(round(fraction * n_pts)))
    n = 1 if len(shape) == 2 else shape[0]
    mask = np.zeros((n, n_pts), dtype=bool)
    for i in range(n):
        mask[i, rng.choice(n_pts, size=n_obs, replace=False)] = True
    return mask.reshape(shape)


INTERPOLATIONS = ("nearest", "linear", "thin_plate")


def _second_difference(x: np.ndarray) -> np.ndarray:
    """(n - 2, n) matrix of second divided differences on the (uneven) points x."""
    n = x.shape[0]
    h = np.diff(x)
    D = np.zeros((max(n - 2, 0), n))
    for j in range(1, n - 1):
        h1, h2 = h[j - 1], h[j]
        D[j - 1, j - 1:j + 2] = [2 / (h1 * (h1 + h2)), -2 / (h1 * h2), 2 / (h2 * (h1 + h2))]
    return D


def _roughness(ts: np.ndarray, ks: np.ndarray, order: int) -> np.ndarray:
    """Quadratic form A (D, D), D = n_t * n_k (row-major), of a discrete roughness penalty.

    order 1 (membrane): ``sum (dx/dt)^2 + (dx/dk)^2`` over grid edges;
    order 2 (thin plate): ``sum x_tt^2 + 2 x_tk^2 + x_kk^2``.
    """
    nt, nk = ts.shape[0], ks.shape[0]
    It, Ik = np.eye(nt), np.eye(nk)
    if order == 1:
        Dt = np.diff(It, axis=0) / np.diff(ts)[:, None]  # (nt - 1, nt) first differences
        Dk = np.diff(Ik, axis=0) / np.diff(ks)[:, None]
        ops = [np.kron(Dt, Ik), np.kron(It, Dk)]
    else:
        Dt1 = np.diff(It, axis=0) / np.diff(ts)[:, None]
        Dk1 = np.diff(Ik, axis=0) / np.diff(ks)[:, None]
        ops = [np.kron(_second_difference(ts), Ik), np.kron(It, _second_difference(ks)),
               np.sqrt(2.0) * np.kron(Dt1, Dk1)]
    return sum(op.T @ op for op in ops)


def interpolate_surface(observed: np.ndarray, mask: np.ndarray,
                        t: np.ndarray = DEFAULT_MATURITIES,
                        k: np.ndarray = DEFAULT_LOG_MONEYNESS, *,
                        method: str = "linear") -> np.ndarray:
    """Fill a surface from scattered grid points, in NumPy (the interpolation baselines).

    t and k are first scaled to [0, 1] so both directions count alike.

    - "nearest": every point takes the value of the nearest observed point.
    - "linear": membrane (harmonic) interpolation: the missing values minimise the sum of
      squared first differences between grid neighbours with the observed values held fixed.
      Along one line this *is* piecewise-linear interpolation (flat beyond the outermost
      points); on the grid it is the standard 2-D generalisation (each missing value is the
      average of its neighbours).
    - "thin_plate": the same with second differences (x_tt^2 + 2 x_tk^2 + x_kk^2), a discrete
      thin-plate spline: smooth, and it extrapolates linearly.

    observed: (n_t, n_k) or (N, n_t, n_k), NaN allowed where mask is False -> same shape.
    At least 1 observed point per surface ("nearest", "linear") or 3 ("thin_plate").
    """
    t, k = _grid(t, k)
    if method not in INTERPOLATIONS:
        raise ValueError(f"method must be one of {INTERPOLATIONS}, got {method!r}")
    shape = (t.shape[0], k.shape[0])
    v, mask = _check_observed(observed, mask, shape, 3 if method == "thin_plate" else 1)
    single = v.ndim == 2
    D = shape[0] * shape[1]
    v, mask = v.reshape(-1, D), mask.reshape(-1, D)
    ts = (t - t[0]) / (t[-1] - t[0]) if t.shape[0] > 1 else np.zeros(1)
    ks = (k - k[0]) / (k[-1] - k[0]) if k.shape[0] > 1 else np.zeros(1)
    out = np.empty(v.shape)
    if method == "nearest":
        tt, kk = (a.ravel() for a in np.meshgrid(ts, ks, indexing="ij"))
        d2 = (tt[:, None] - tt[None, :]) ** 2 + (kk[:, None] - kk[None, :]) ** 2  # (D, D)
        for n in range(v.shape[0]):
            obs = np.flatnonzero(mask[n])
            out[n] = v[n, obs[np.argmin(d2[:, obs], axis=1)]]
    else:
        A = _roughness(ts, ks, 1 if method == "linear" else 2)
        for n in range(v.shape[0]):
            obs, free = mask[n], ~mask[n]
            out[n, obs] = v[n, obs]
            if free.any():
                # Minimise x^T A x over the free entries: A_ff x_f = -A_fo x_o.
                A_ff = A[np.ix_(free, free)]
                rhs = -A[np.ix_(free, obs)] @ v[n, obs]
                out[n, free] = np.linalg.lstsq(A_ff, rhs, rcond=None)[0]
    out = out.reshape(-1, *shape)
    return out[0] if single else out


def _ssvi_from_raw(p: np.ndarray) -> SSVIParams:
    """Unconstrained (..., 6) -> SSVI parameters inside the no-arbitrage region."""
    rho = 0.999 * np.tanh(p[..., 3])
    return SSVIParams(np.exp(p[..., 0]), np.exp(p[..., 1]), np.exp(p[..., 2]), rho,
                      2.0 / (1.0 + np.abs(rho)) / (1.0 + np.exp(-p[..., 4])),
                      0.5 / (1.0 + np.exp(-p[..., 5])))


def _ssvi_to_raw(params: SSVIParams) -> np.ndarray:
    p = _as_param_arrays(params)
    frac = np.clip(p.eta * (1.0 + np.abs(p.rho)) / 2.0, 1e-6, 1 - 1e-6)
    g = np.clip(2.0 * p.gamma, 1e-6, 1 - 1e-6)
    return np.stack([np.log(p.v0), np.log(p.v_inf), np.log(p.kappa),
                     np.arctanh(np.clip(p.rho / 0.999, -0.999999, 0.999999)),
                     np.log(frac / (1 - frac)), np.log(g / (1 - g))], axis=-1)


def fit_ssvi(observed: np.ndarray, mask: np.ndarray, t: np.ndarray = DEFAULT_MATURITIES,
             k: np.ndarray = DEFAULT_LOG_MONEYNESS, *, n_starts: int = 6, n_iter: int = 60,
             rng: np.random.Generator | int = 0) -> tuple[np.ndarray, list[SSVIParams]]:
    """Least-squares SSVI fit to the observed vols, the parametric baseline.

    Minimises ``sum_obs (iv_ssvi(params) - y)^2`` over the six parameters, written through a
    smooth map from R^6 onto the no-arbitrage region (so every fit is arbitrage free), with
    Levenberg-Marquardt (central-difference Jacobian) from ``n_starts`` random starts.

    observed: (n_t, n_k) or (N, n_t, n_k), NaN allowed where mask is False; at least 6 observed
    points per surface.  Returns (fitted surfaces, same shape; list of fitted params).
    """
    t, k = _grid(t, k)
    v, mask = _check_observed(observed, mask, (t.shape[0], k.shape[0]), N_SSVI_PARAMS)
    n_starts = check_positive_int(n_starts, "n_starts")
    n_iter = check_positive_int(n_iter, "n_iter")
    rng = check_rng(rng)
    single = v.ndim == 2
    v, mask = v.reshape(-1, t.shape[0], k.shape[0]), mask.reshape(-1, t.shape[0], k.shape[0])
    out, fitted = np.empty(v.shape), []
    for n in range(v.shape[0]):
        y = v[n][mask[n]]

        def residual(raw: np.ndarray, y=y, m=mask[n]) -> np.ndarray:
            return ssvi_surface(_ssvi_from_raw(raw), t, k)[..., m] - y  # (S, n_obs)

        starts = _ssvi_to_raw(sample_ssvi_params(n_starts, rng))
        raw = _levenberg_marquardt(residual, starts, n_iter)
        cost = np.sum(residual(raw) ** 2, axis=1)
        best = raw[int(np.argmin(cost))]
        params = SSVIParams(*(float(a) for a in _ssvi_from_raw(best)))
        fitted.append(params)
        out[n] = ssvi_surface(params, t, k)
    return (out[0] if single else out), fitted


def _levenberg_marquardt(residual: Callable[[np.ndarray], np.ndarray], x0: np.ndarray,
                         n_iter: int, h: float = 1e-6) -> np.ndarray:
    """Batched Levenberg-Marquardt: x0 (S, P) starting points, residual (S, P) -> (S, R).

    Each start keeps its own damping lambda: a step that lowers the cost is taken and lambda
    shrinks; otherwise lambda grows.  The Jacobian is central differences (2P residual calls).
    """
    x = x0.copy()
    S, P = x.shape
    lam = np.full(S, 1e-2)
    r = residual(x)
    cost = np.sum(r**2, axis=1)
    eye = np.eye(P)
    for _ in range(n_iter):
        J = np.empty((S, r.shape[1], P))
        for p in range(P):
            dx = np.zeros(P)
            dx[p] = h
            J[:, :, p] = (residual(x + dx) - residual(x - dx)) / (2 * h)
        JtJ = np.einsum("srp,srq->spq", J, J)
        Jtr = np.einsum("srp,sr->sp", J, r)
        A = JtJ + lam[:, None, None] * (np.einsum("spp->sp", JtJ)[:, :, None] * eye + 1e-9 * eye)
        step = np.linalg.solve(A, -Jtr[..., None])[..., 0]
        step = np.clip(step, -2.0, 2.0)  # raw parameters live on log/logit scales
        x_new = x + step
        r_new = residual(x_new)
        cost_new = np.sum(r_new**2, axis=1)
        better = np.isfinite(cost_new) & (cost_new < cost)
        x[better], r[better], cost[better] = x_new[better], r_new[better], cost_new[better]
        lam = np.where(better, lam * 0.3, lam * 10.0).clip(1e-9, 1e9)
    return x


def rmse_vol_points(estimate: np.ndarray, truth: np.ndarray,
                    where: np.ndarray | None = None) -> float:
    """Root-mean-square error in vol points (percent): ``100 * sqrt(mean((est - true)^2))``,
    over the entries where ``where`` is True (default: all)."""
    est = check_array(estimate, "estimate", dtype=np.float64)
    tru = check_array(truth, "truth", dtype=np.float64)
    if est.shape != tru.shape:
        raise ValueError(f"estimate and truth must have the same shape, got {est.shape} and "
                         f"{tru.shape}")
    if where is None:
        diff = est - tru
    else:
        if not isinstance(where, np.ndarray) or where.shape != est.shape or where.dtype != bool:
            raise ValueError(f"where must be a boolean array of shape {est.shape}")
        if not where.any():
            raise ValueError("where selects no entries")
        diff = (est - tru)[where]
    with np.errstate(over="ignore", invalid="ignore"):
        value = float(100.0 * np.sqrt(np.mean(diff**2)))
    check_no_overflow(value, "rmse_vol_points", estimate=est, truth=tru)
    return value


# ============================================================================ pointwise VAE
@register_model
class PointwiseVAE(ApplicationVAE):
    """VAE whose decoder returns the vol at one grid point: ``x(t, k) = dec([z, t~, k~])``.

    Encoder: the whole (scaled) surface X: (N, D) -> mu, logvar (N, L), D = number of grid
    points.  Decoder: one MLP applied to every (z_n, coords_j) pair, coords (D, 2) scaled grid
    coordinates; p(x_nj | z_n) = N(dec([z_n, coords_j]), var).  Loss per surface:
    ``sum_j (x_nj - dec_nj)^2 / (2 var) + const + beta * KL`` over the observed points (all by
    default; ``mask`` marks observed entries and the encoder sees missing ones as 0).  Loss,
    backward and free bits come from :class:`~minivae.apps.base_vae.ApplicationVAE`.

    Args:
        coords: (D, 2) decoder coordinates of the D inputs, e.g. (t, k) scaled to [-1, 1].
        hidden_sizes: encoder hidden widths.
        latent_dim: L.
        decoder_hidden: decoder hidden widths (default: hidden_sizes reversed).
        beta: KL weight; free_bits: nats per latent dimension granted free (0 = off);
        decoder_variance: the Gaussian variance (scaled units).
        activation: hidden activation ("tanh" keeps the surface smooth in t and k).
        rng: generator or seed for the weights.
    """

    def __init__(
        self,
        coords: np.ndarray,
        hidden_sizes: Sequence[int],
        latent_dim: int,
        *,
        decoder_hidden: Sequence[int] | None = None,
        beta: float = 1.0,
        free_bits: float = 0.0,
        decoder_variance: float = 0.01,
        activation: str = "tanh",
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
    ) -> None:
        coords = check_array(coords, "coords", ndim=2, dtype=dtype)
        if coords.shape[1] != 2:
            raise ValueError(f"coords must have shape (D, 2), got {coords.shape}")
        rng = check_rng(rng)
        super().__init__(coords.shape[0], hidden_sizes, latent_dim, beta=beta,
                         free_bits=free_bits, activation=activation, rng=rng, dtype=dtype)
        self.coords = coords
        self.decoder_hidden = (self.hidden_sizes[::-1] if decoder_hidden is None
                               else check_hidden_sizes(decoder_hidden, "decoder_hidden"))
        self.decoder_variance = check_scalar(decoder_variance, "decoder_variance", low=0.0,
                                             low_inclusive=False)
        self.decoder = MLP([self.latent_dim + 2, *self.decoder_hidden, 1],
                           activation=self.activation, rng=rng, dtype=self.dtype)

    def config(self) -> dict[str, Any]:
        return {"coords": self.coords.tolist(), "hidden_sizes": list(self.hidden_sizes),
                "latent_dim": self.latent_dim, "decoder_hidden": list(self.decoder_hidden),
                "beta": self.beta, "free_bits": self.free_bits,
                "decoder_variance": self.decoder_variance, "activation": self.activation,
                "dtype": self.dtype.name}

    # -- decoder over (z, coordinate) pairs -------------------------------------------------
    def _decode_at(self, z: np.ndarray, coords: np.ndarray) -> np.ndarray:
        """z (N, L), coords (M, 2) -> decoded values (N, M); caches for :meth:`_decode_back`."""
        N, M = z.shape[0], coords.shape[0]
        inp = np.concatenate([np.repeat(z, M, axis=0), np.tile(coords, (N, 1))], axis=1)
        return self.decoder.forward(inp).reshape(N, M)

    def _decode_back(self, dout: np.ndarray) -> np.ndarray:
        """dL/d(decoded) (N, M) -> dL/dz (N, L): each z_n fed M decoder rows, so sum them."""
        N, M = dout.shape
        dinp = self.decoder.backward(dout.reshape(N * M, 1))
        return dinp[:, : self.latent_dim].reshape(N, M, self.latent_dim).sum(axis=1)

    def _coords(self, coords: object) -> np.ndarray:
        if coords is None:
            return self.coords
        c = check_array(coords, "coords", ndim=2, dtype=self.dtype)
        if c.shape[1] != 2:
            raise ValueError(f"coords must have shape (M, 2), got {c.shape}")
        return c

    # -- the hooks of ApplicationVAE ---------------------------------------------------------
    def _split(self, batch: Any, mask: object) -> tuple[np.ndarray, np.ndarray, Any]:
        X, mask, _ = self.check_inputs(batch, mask=mask)
        return X, X, mask

    def _decode(self, z: np.ndarray) -> np.ndarray:
        return self._decode_at(z, self.coords)

    def _nll(self, out: np.ndarray, Y: np.ndarray, mask: Any, need_grad: bool):
        return reconstruction_nll("gaussian", out, Y, mask, need_grad=need_grad,
                                  variance=self.decoder_variance)

    # -- inference ----------------------------------------------------------------------------
    def encode(self, X: np.ndarray, *, mask: np.ndarray | None = None):
        """X (N, D) -> (mu, logvar), each (N, L)."""
        return self.posterior(X, mask=mask)

    @inference_method
    def decode(self, z: np.ndarray, coords: np.ndarray | None = None) -> np.ndarray:
        """z (N, L) -> decoded values (N, M) at ``coords`` (M, 2) (default: the grid)."""
        self._pending = None
        return self._decode_at(self._check_z(z), self._coords(coords))

    def decode_points_with_grad(self, z: np.ndarray, index: np.ndarray, coords: np.ndarray):
        """Values at scattered points, each with its own code, and their vjp.

        Inputs:
        - z: (N, L) codes; index: (P,) ints, the row of z for each point; coords: (P, 2).

        Returns:
        - values: (P,) ``dec([z[index[p]], coords[p]])``.
        - vjp: d_values (P,) -> dz (N, L) (contributions of a code's points summed).

        Completion uses this to evaluate the decoder at the observed points only.
        """
        self._pending = None
        z = self._check_z(z)
        index = np.asarray(index)
        coords = self._coords(coords)
        if index.shape != (coords.shape[0],):
            raise ValueError(f"index must have shape ({coords.shape[0]},), got {index.shape}")
        out, out_vjp = forward_with_vjp(self.decoder, np.concatenate([z[index], coords], axis=1))

        def vjp(dout: np.ndarray) -> np.ndarray:
            dinp = out_vjp(np.asarray(dout, dtype=self.dtype)[:, None])
            dz = np.zeros_like(z)
            np.add.at(dz, index, dinp[:, : self.latent_dim])
            return dz

        return out[:, 0], vjp

    def decode_with_grad(self, z: np.ndarray, coords: np.ndarray | None = None):
        """Decoded values (N, M) and ``vjp(d_values (N, M)) -> dz (N, L)`` (parameter gradients
        are cleared again; call vjp before the next forward pass)."""
        out = self.decode(z, coords)

        def vjp(dout: np.ndarray) -> np.ndarray:
            dz = self._decode_back(np.asarray(dout, dtype=self.dtype))
            self.decoder.zero_grad()
            return dz

        return out, vjp


# ============================================================================ surface VAE wrapper
class VolSurfaceVAE:
    """A beta-VAE of implied-vol surfaces on a fixed grid, grid or pointwise form, with
    MAP completion from a few observed points (see the module docstring).

    Args:
        t, k: the grid, (n_t,) maturities [years] and (n_k,) log-moneyness.
        form: "grid" (a :class:`~minivae.models.VAE` on the flattened surface) or "pointwise"
            (a :class:`PointwiseVAE`).
        hidden_sizes, latent_dim, beta: architecture and KL weight.
        free_bits: nats per latent dimension granted free in the VAE's loss (0 = off).
        decoder_variance: Gaussian variance in *scaled* units (vols are standardised with the
            training mean and standard deviation).
        activation: hidden activation (default "relu" for grid, "tanh" for pointwise).
        decoder_hidden: pointwise form only: the decoder's hidden widths (default: hidden_sizes
            reversed).  It runs once per grid point, so it dominates the cost.
        rng: generator or seed for the weights.
    """

    def __init__(
        self,
        t: np.ndarray = DEFAULT_MATURITIES,
        k: np.ndarray = DEFAULT_LOG_MONEYNESS,
        *,
        form: str = "grid",
        hidden_sizes: Sequence[int] = (64, 64),
        latent_dim: int = 4,
        beta: float = 1.0,
        free_bits: float = 0.0,
        decoder_variance: float = 1e-3,
        activation: str | None = None,
        decoder_hidden: Sequence[int] | None = None,
        rng: np.random.Generator | int = 0,
    ) -> None:
        self.t, self.k = _grid(t, k)
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {form!r}")
        self.form = form
        self.shape = (self.t.shape[0], self.k.shape[0])
        D = self.shape[0] * self.shape[1]
        rng = check_rng(rng)
        if form == "grid":
            self.model: Model = VAE(D, list(hidden_sizes), latent_dim, beta=beta,
                                    free_bits=free_bits, likelihood="gaussian",
                                    decoder_variance=decoder_variance,
                                    activation=activation or "relu", rng=rng)
        else:
            self.model = PointwiseVAE(self.grid_coords(), hidden_sizes, latent_dim, beta=beta,
                                      free_bits=free_bits, decoder_hidden=decoder_hidden,
                                      decoder_variance=decoder_variance,
                                      activation=activation or "tanh", rng=rng)
        self.latent_dim = self.model.latent_dim
        self._coords_flat = self.grid_coords()
        self.mean: float | None = None
        self.std: float | None = None
        self.history: Any = None

    def scaled_coords(self, t: np.ndarray, k: np.ndarray) -> np.ndarray:
        """(M,) maturities and log-moneyness -> (M, 2) decoder coordinates, each grid axis
        mapped linearly onto [-1, 1]."""
        t = np.asarray(t, dtype=np.float64)
        k = np.asarray(k, dtype=np.float64)
        ts = 2.0 * (t - self.t[0]) / (self.t[-1] - self.t[0] or 1.0) - 1.0
        ks = 2.0 * (k - self.k[0]) / (self.k[-1] - self.k[0] or 1.0) - 1.0
        return np.stack([ts, ks], axis=-1)

    def grid_coords(self) -> np.ndarray:
        """(n_t * n_k, 2) coordinates of the grid, row-major (t outer, k inner)."""
        tt, kk = np.meshgrid(self.t, self.k, indexing="ij")
        return self.scaled_coords(tt.ravel(), kk.ravel())

    # -- scaling ------------------------------------------------------------------------------
    def _surfaces(self, iv: object, name: str, allow_nan: bool = False) -> np.ndarray:
        arr = check_array(iv, name, ndim=(2, 3), dtype=np.float64, allow_nan=allow_nan)
        if arr.shape[-2:] != self.shape:
            raise ValueError(f"{name} must have shape (N, {self.shape[0]}, {self.shape[1]}) "
                             f"(or one surface {self.shape}), got {arr.shape}")
        return arr.reshape(-1, self.shape[0] * self.shape[1])

    def _need_fit(self) -> None:
        if self.mean is None:
            raise RuntimeError("VolSurfaceVAE is not trained: call fit() first")

    def scale(self, iv: np.ndarray) -> np.ndarray:
        self._need_fit()
        return (iv - self.mean) / self.std

    def unscale(self, x: np.ndarray) -> np.ndarray:
        self._need_fit()
        return x * self.std + self.mean

    # -- training -----------------------------------------------------------------------------
    def fit(self, surfaces: np.ndarray, *, epochs: int = 50, batch_size: int = 64,
            lr: float = 2e-3, rng: np.random.Generator | int = 0,
            verbose: int | bool = 0) -> VolSurfaceVAE:
        """Train on surfaces (N, n_t, n_k) with :func:`minivae.train.loop.fit` (``rng`` seeds
        it); standardises with one mean and std (scalars)."""
        X = self._surfaces(surfaces, "surfaces")
        self.mean, self.std = float(X.mean()), float(X.std()) or 1.0
        self.history = self.model.fit(self.scale(X), epochs=epochs, batch_size=batch_size,
                                      lr=lr, rng=rng, verbose=verbose, diagnostics=False)
        return self

    # -- encode / decode ----------------------------------------------------------------------
    def _decode_with_grad(self, z: np.ndarray):
        """Scaled decoded surfaces (N, D) and vjp -> dz, for either form."""
        if self.form == "pointwise":
            return self.model.decode_with_grad(z)
        # Fixed decoder variance: the grid VAE's decoder outputs the mean itself.
        return forward_with_vjp(self.model.decoder, check_array(
            z, "z", shape=(None, self.latent_dim), dtype=np.float64))

    def decode(self, z: np.ndarray) -> np.ndarray:
        """z (N, L) -> surfaces (N, n_t, n_k) in vol units."""
        self._need_fit()
        out, _ = self._decode_with_grad(z)
        return self.unscale(out).reshape(-1, *self.shape)

    def decode_at(self, z: np.ndarray, t: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Pointwise form only: vols at arbitrary points, z (N, L), t and k (M,) -> (N, M)."""
        self._need_fit()
        if self.form != "pointwise":
            raise ValueError("decode_at needs form='pointwise' (the grid form only knows the "
                             "grid)")
        return self.unscale(self.model.decode(z, self.scaled_coords(t, k)))

    def reconstruct(self, surfaces: np.ndarray) -> np.ndarray:
        """decode(mu(x)) for surfaces (N, n_t, n_k) -> (N, n_t, n_k)."""
        self._need_fit()
        X = self.scale(self._surfaces(surfaces, "surfaces"))
        mu, _ = self.model.posterior(X)
        return self.decode(mu)

    # -- completion ---------------------------------------------------------------------------
    def completion_objective(self, z: np.ndarray, y: np.ndarray, mask: np.ndarray,
                             noise_std: float) -> tuple[np.ndarray, np.ndarray]:
        """MAP objective per surface and its gradient in z.

        Inputs:
        - z: (N, L) latent codes.
        - y: (N, D) *scaled* observed values (any finite number where mask is False).
        - mask: (N, D) bool, True = observed.
        - noise_std: s, observation noise in scaled units.

        Returns:
        - J: (N,) ``sum_obs (dec(z) - y)^2 / (2 s^2) + ||z||^2 / 2``.
        - dJ/dz: (N, L).
        """
        s2 = check_scalar(noise_std, "noise_std", low=0.0, low_inclusive=False) ** 2
        prior = 0.5 * np.sum(z * z, axis=1)
        if self.form == "pointwise":
            # Only the observed points enter J: evaluate the decoder there and nowhere else.
            rows, cols = np.nonzero(mask)
            out, vjp = self.model.decode_points_with_grad(z, rows, self._coords_flat[cols])
            resid = out - y[rows, cols]
            J = 0.5 * np.bincount(rows, resid**2, minlength=z.shape[0]) / s2 + prior
            return J, vjp(resid / s2) + z
        out, vjp = self._decode_with_grad(z)
        resid = np.where(mask, out - y, 0.0)
        J = 0.5 * np.sum(resid**2, axis=1) / s2 + prior
        return J, vjp(resid / s2) + z

    def complete(self, observed: np.ndarray, mask: np.ndarray, *, noise_std: float = 0.005,
                 n_steps: int = 300, lr: float = 0.05, n_restarts: int = 8,
                 min_observed: int = 3, rng: np.random.Generator | int = 0,
                 return_latent: bool = False):
        """Complete surfaces from observed points by MAP on z (see the module docstring).

        Inputs:
        - observed: (n_t, n_k) or (N, n_t, n_k) vols, NaN allowed where mask is False.
        - mask: bool, same shape, True = observed; >= ``min_observed`` points per surface.
        - noise_std: observation noise in vol units (0.005 = half a vol point).
        - n_steps, lr: Adam steps on z and their size; n_restarts: starting points (the
          encoder's code of the thin-plate interpolated quotes, z = 0, and draws from the
          prior); each surface keeps the code with the lowest objective.

        Returns:
        - completed: same shape as observed (the decoder's surface; observed points are
          smoothed too, not copied).  With ``return_latent``, also z (N, L).
        """
        self._need_fit()
        v, mask = _check_observed(observed, mask, self.shape, check_positive_int(
            min_observed, "min_observed"))
        n_steps = check_positive_int(n_steps, "n_steps")
        n_restarts = check_positive_int(n_restarts, "n_restarts")
        lr = check_scalar(lr, "lr", low=0.0, low_inclusive=False)
        noise = check_scalar(noise_std, "noise_std", low=0.0, low_inclusive=False) / self.std
        rng = check_rng(rng)
        single = v.ndim == 2
        D = self.shape[0] * self.shape[1]
        y = np.where(mask, self.scale(np.nan_to_num(v)), 0.0).reshape(-1, D)
        m = mask.reshape(-1, D)
        N, L = y.shape[0], self.latent_dim
        # All restarts of all surfaces run as one batch: rows r * N + n.  Start 0: the encoder's
        # code of the thin-plate interpolation of the quotes (a cheap amortised guess); start
        # 1: the prior mean; the others: draws from the prior.
        z = rng.standard_normal((n_restarts * N, L))
        if n_restarts > 1:
            z[N:2 * N] = 0.0
        filled = interpolate_surface(v.reshape(-1, *self.shape), mask.reshape(-1, *self.shape),
                                     self.t, self.k, method="thin_plate"
                                     if int(mask.reshape(N, -1).sum(1).min()) >= 3
                                     else "linear")
        z[:N] = self.model.posterior(self.scale(filled.reshape(N, -1)))[0]
        yy, mm = np.tile(y, (n_restarts, 1)), np.tile(m, (n_restarts, 1))
        grad = np.zeros_like(z)
        opt = Adam([("z", z, grad)], lr=lr)
        for _ in range(n_steps):
            _, grad[...] = self.completion_objective(z, yy, mm, noise)
            opt.step()
        J, _ = self.completion_objective(z, yy, mm, noise)
        best = np.argmin(J.reshape(n_restarts, N), axis=0)
        z_best = z.reshape(n_restarts, N, L)[best, np.arange(N)]
        completed = self.decode(z_best)
        completed = completed[0] if single else completed
        return (completed, z_best) if return_latent else completed
