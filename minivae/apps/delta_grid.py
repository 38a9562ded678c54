r"""Implied-vol surfaces on a (maturity, delta) grid, as FX desks quote them (Bergeron et al. 2021).

A market quotes an FX smile not at fixed strikes but at fixed **deltas**: 10- and 25-delta puts,
at the money, 25- and 10-delta calls.  Here every node is expressed as a *call* delta
``Delta in (0, 1)`` (a 25-delta put is the 0.75-delta call), with the Black-Scholes forward delta
(zero rates, which is what undiscounted prices per unit forward assume; see
:mod:`minivae.apps.heston`)::

    Delta(k, t, sigma) = N(d1),     d1 = (-k + sigma^2 t / 2) / (sigma sqrt(t)),

at log-moneyness ``k = log(K / F)``.  Inverting for k at a given vol is explicit::

    k(Delta, t, sigma) = sigma^2 t / 2 - sigma sqrt(t) N^-1(Delta).

On a smile the vol itself depends on k, so the strike of a delta node solves the fixed point
``k = k(Delta, t, sigma(k, t))``: :func:`delta_nodes` iterates it (the map contracts when
``|sigma_k| (sigma t + sqrt(t) |N^-1(Delta)|) < 1``, true for the skews of equity and FX markets;
the iteration stops at 1e-12 and raises if it has not converged).  It does this for any smile
function ``vol_fn(k, t)``; :func:`ssvi_vol_fn` and :func:`heston_vol_fn` are the two used here.

The default grid is :data:`DEFAULT_DELTAS` = (0.1, 0.25, 0.5, 0.75, 0.9) times the eight
maturities of :data:`minivae.apps.volatility.DEFAULT_MATURITIES`: 40 points, the grid size of
Bergeron et al.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minivae._validation import check_array, check_callable, check_positive_int, check_scalar
from minivae.apps.heston import (
    HestonParams,
    _broadcast_shape,
    _norm_cdf,
    heston_forward_price,
    implied_volatility_forward,
)
from minivae.apps.volatility import (
    DEFAULT_MATURITIES,
    SSVIParams,
    atm_total_variance,
    ssvi_phi,
    ssvi_total_variance,
)
from minivae.objectives.distributions import norm_ppf

__all__ = ["DEFAULT_DELTAS", "call_delta", "delta_nodes", "heston_vol_fn",
           "log_moneyness_from_delta", "ssvi_vol_fn"]

#: call deltas of the grid: 10-delta put (0.9 call), 25-delta put, ATM, 25- and 10-delta calls,
#: written increasing (low call delta = high strike).
DEFAULT_DELTAS = np.array([0.1, 0.25, 0.5, 0.75, 0.9])


def _positive(x: object, name: str) -> np.ndarray:
    arr = check_array(x, name, dtype=np.float64)
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0, got min {arr.min():.4g}")
    return arr


def _deltas(delta: object, name: str = "delta") -> np.ndarray:
    d = check_array(delta, name, dtype=np.float64)
    if np.any((d <= 0) | (d >= 1)):
        raise ValueError(f"{name} must lie strictly between 0 and 1 (a call delta), got "
                         f"[{d.min():.4g}, {d.max():.4g}]")
    return d


def call_delta(k: np.ndarray, t: np.ndarray, vol: np.ndarray) -> np.ndarray:
    """Forward call delta ``N(d1)``, ``d1 = (-k + vol^2 t / 2) / (vol sqrt(t))``; k
    (log-moneyness), t (> 0, years) and vol (> 0) broadcast."""
    k = check_array(k, "k", dtype=np.float64)
    t, vol = _positive(t, "t"), _positive(vol, "vol")
    _broadcast_shape(k=k, t=t, vol=vol)
    s = vol * np.sqrt(t)
    return _norm_cdf((-k + 0.5 * s * s) / s)


def log_moneyness_from_delta(delta: np.ndarray, t: np.ndarray, vol: np.ndarray) -> np.ndarray:
    """The inverse of :func:`call_delta` at a fixed vol: ``k = vol^2 t / 2 - vol sqrt(t)
    N^-1(delta)``; delta in (0, 1), t > 0, vol > 0 broadcast."""
    delta = _deltas(delta)
    t, vol = _positive(t, "t"), _positive(vol, "vol")
    _broadcast_shape(delta=delta, t=t, vol=vol)
    s = vol * np.sqrt(t)
    return 0.5 * s * s - s * norm_ppf(delta)


def delta_nodes(vol_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
                t: np.ndarray = DEFAULT_MATURITIES, deltas: np.ndarray = DEFAULT_DELTAS, *,
                n_iter: int = 200, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Vols and strikes of a smile at the (maturity, delta) nodes.

    Inputs:
    - vol_fn: ``vol_fn(k, t) -> vol``, elementwise on arrays of shape (n_t, n_d).
    - t: (n_t,) maturities, increasing; deltas: (n_d,) call deltas in (0, 1), increasing.

    Returns:
    - iv: (n_t, n_d) vols at the nodes; k: (n_t, n_d) their log-moneyness (decreasing along
      a row: a higher call delta is a lower strike).

    Raises RuntimeError if the fixed point has not converged to ``tol`` in ``n_iter`` steps.
    """
    check_callable(vol_fn, "vol_fn")
    t = _positive(check_array(t, "t", ndim=1), "t")
    d = _deltas(check_array(deltas, "deltas", ndim=1), "deltas")
    if np.any(np.diff(t) <= 0) or np.any(np.diff(d) <= 0):
        raise ValueError("t and deltas must be strictly increasing")
    n_iter = check_positive_int(n_iter, "n_iter")
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    tt, dd = np.meshgrid(t, d, indexing="ij")
    k = np.zeros_like(tt)  # start at the forward
    for _ in range(n_iter):
        vol = np.asarray(vol_fn(k, tt), dtype=np.float64)
        if vol.shape != k.shape or not np.all(np.isfinite(vol) & (vol > 0)):
            raise ValueError("vol_fn must return positive finite vols of the shape of k")
        k_new = log_moneyness_from_delta(dd, tt, vol)
        done = np.max(np.abs(k_new - k)) < tol
        k = k_new
        if done:
            return np.asarray(vol_fn(k, tt), dtype=np.float64), k
    raise RuntimeError(f"strike <-> delta fixed point did not converge in {n_iter} steps")


def ssvi_vol_fn(params: SSVIParams) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``vol_fn(k, t) = sqrt(w(k, t) / t)`` of one SSVI surface (float parameters)."""
    if not isinstance(params, SSVIParams) or any(np.ndim(p) != 0 for p in params):
        raise TypeError("params must be an SSVIParams of floats (one surface)")

    def vol_fn(k: np.ndarray, t: np.ndarray) -> np.ndarray:
        theta = atm_total_variance(t.ravel(), params.v0, params.v_inf,
                                   params.kappa).reshape(t.shape)
        phi = ssvi_phi(theta, params.eta, params.gamma)
        return np.sqrt(ssvi_total_variance(k, theta, params.rho, phi) / t)

    return vol_fn


def heston_vol_fn(params: HestonParams, n_nodes: int = 48
                  ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``vol_fn(k, t)``: the Heston implied vol at each (k, t) pair, priced as the
    out-of-the-money option (call for k >= 0, put below) by :func:`heston_forward_price`."""
    if not isinstance(params, HestonParams):
        raise TypeError(f"params must be HestonParams, got {type(params).__name__}")
    n_nodes = check_positive_int(n_nodes, "n_nodes", minimum=8)

    def vol_fn(k: np.ndarray, t: np.ndarray) -> np.ndarray:
        # implied_volatility_forward converts to the out-of-the-money option by parity.
        call = heston_forward_price(k, t, params, kind="call", n_nodes=n_nodes)
        return implied_volatility_forward(call, k, t, kind="call", invalid="nan")

    return vol_fn
