"""The Heston (1993) stochastic-volatility model: option prices, implied volatilities, calibration.

The volatility experiment compares VAE completion of implied-volatility surfaces with a Heston
model calibrated to the same observed points, as Bergeron et al. (2021) do in the table the
review of Singh & Ogunfunmi (Entropy, 2022) reproduces as its Table 1.

Model (risk-neutral, forward measure)
-------------------------------------
::

    dS_t = (r - q) S_t dt + sqrt(v_t) S_t dW_t
    dv_t = kappa (theta - v_t) dt + sigma sqrt(v_t) dZ_t,      dW dZ = rho dt

with parameters ``v0`` (initial variance), ``theta`` (long-run variance), ``kappa`` (mean
reversion speed), ``sigma`` (vol of variance) and ``rho`` (correlation): :class:`HestonParams`.
Everything below works with the forward ``F = S exp((r - q) T)``, the discount factor
``D = exp(-r T)`` and the log-moneyness ``k = log(K / F)`` (the grid of
:mod:`minivae.apps.volatility`), so implied vols do not depend on r and q.

Characteristic function ("little Heston trap", Albrecher, Mayer, Schoutens & Tistaert 2007)
-------------------------------------------------------------------------------------------
For ``X = log(S_T / F)`` and ``beta = kappa - rho sigma i u``::

    d = sqrt(beta^2 + sigma^2 (u^2 + i u)),     g = (beta - d) / (beta + d)
    B = (beta - d) / sigma^2 * (1 - exp(-d T)) / (1 - g exp(-d T))
    A = kappa theta / sigma^2 * ((beta - d) T - 2 log((1 - g exp(-d T)) / (1 - g)))
    phi(u) = E[exp(i u X)] = exp(A + B v0)

This form (``exp(-d T)`` with ``Re d > 0``) never crosses the branch cut of the complex log,
unlike Heston's original.  We also write ``beta - d = -sigma^2 (u^2 + i u) / (beta + d)`` so the
sigma -> 0 limit (Black-Scholes with the deterministic variance) loses no digits.

Prices (Lewis 2000, single integral)
------------------------------------
The undiscounted call per unit forward is::

    c(k, T) = 1 - exp(k / 2) / pi * int_0^inf Re[exp(-i u k) phi(u - i/2)] / (u^2 + 1/4) du,

and the put ``p = c - 1 + exp(k)`` (parity); ``C = D F c``, ``P = D F p``.  The integrand
decays like ``exp(-w u^2 / 2)`` for moderate u (w: the expected integrated variance) and like
``exp(-C_inf u)``, ``C_inf = sqrt(1 - rho^2) (v0 + kappa theta T) / sigma``, for large u
(Kahl & Jaeckel 2005); we cut the integral at the larger of the two points where these reach
``exp(-36)`` (the neglected tail is far below 1e-12 of the forward) and integrate
``[0, U]`` with fixed Gauss-Legendre nodes (``numpy.polynomial.legendre.leggauss``),
vectorised over strikes, maturities and parameter sets.

Implied volatility
------------------
:func:`implied_volatility` inverts Black's formula on the out-of-the-money option (an
in-the-money price is converted by parity first; Black's put-call symmetry
``put(k, s) = e^k call(-k, s)`` then leaves one case, a call at ``x = |k|``) by Newton's method
on ``log price`` in ``s = sigma_imp sqrt(T)``, kept inside a bisection bracket, to a relative
step of 4e-16 in s.  The vol is as accurate as the price's out-of-the-money part: an
in-the-money price whose time value sits in its last digits gives a vol of few digits.  A
price outside the no-arbitrage bounds (undiscounted per unit forward:
``max(1 - e^k, 0) < c < 1`` for calls, ``max(e^k - 1, 0) < p < e^k`` for puts) has no
implied vol: by default that raises ``ValueError`` naming how many and the first; with
``invalid="nan"`` those entries are NaN.  The Heston pricer's absolute error is about 1e-15 of
the forward (48 nodes per panel), so :func:`heston_implied_vols` returns NaN where the
out-of-the-money price is below :data:`PRICE_FLOOR` = 1e-12 (deep out of the money at short
maturity) rather than a vol made of rounding error.

Calibration
-----------
:func:`calibrate_heston` fits the five parameters to the observed vols of a surface by least
squares in vol with :func:`minivae.apps.volatility._levenberg_marquardt` (the SSVI fit's
optimiser) from several starts, through a smooth map from R^5 onto a box of parameters
(:data:`PARAM_BOUNDS`).  The Feller condition ``2 kappa theta >= sigma^2`` (v never reaches 0) is
*reported* (:attr:`HestonParams.feller`), not enforced: fits to equity-like skews often violate it
and the pricer does not need it.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from minivae._validation import (
    check_array,
    check_no_overflow,
    check_positive_int,
    check_rng,
    check_scalar,
)
from minivae.apps.volatility import (
    DEFAULT_LOG_MONEYNESS,
    DEFAULT_MATURITIES,
    _check_observed,
    _grid,
    _levenberg_marquardt,
)

__all__ = [
    "HestonParams",
    "PARAM_BOUNDS",
    "PRICE_FLOOR",
    "black_price",
    "black_scholes_price",
    "calibrate_heston",
    "heston_charfn",
    "heston_forward_price",
    "heston_implied_vols",
    "heston_price",
    "implied_volatility",
    "implied_volatility_forward",
    "sample_heston_params",
]

KINDS = ("call", "put")
#: the box the calibration keeps each parameter in (open intervals)
PARAM_BOUNDS = {"v0": (1e-4, 1.0), "theta": (1e-4, 1.0), "kappa": (0.05, 20.0),
                "sigma": (0.01, 3.0), "rho": (-0.99, 0.99)}
_TAIL_LOG = 36.0  # the integrand is cut where its envelope reaches exp(-36) ~ 2e-16
#: out-of-the-money prices (per unit forward) below this have no reliable implied vol
PRICE_FLOOR = 1e-12
_N_PANELS = 12  # quadrature panels: [0, u0] and 11 geometric ones up to the cut-off


class HestonParams(NamedTuple):
    """Heston parameters, each a float or an array (broadcast against the option arrays)."""

    v0: Any  # initial variance (> 0), 0.04 = 20 % vol
    theta: Any  # long-run variance (> 0)
    kappa: Any  # mean-reversion speed (> 0), 1 / years
    sigma: Any  # volatility of variance (> 0)
    rho: Any  # correlation of the two Brownian motions, in (-1, 1)

    @property
    def feller(self) -> Any:
        """``2 kappa theta >= sigma^2``: the variance process never reaches zero."""
        return 2.0 * np.asarray(self.kappa) * np.asarray(self.theta) >= np.asarray(self.sigma) ** 2


def _check_params(params: object) -> HestonParams:
    if not isinstance(params, HestonParams):
        raise TypeError(f"params must be a HestonParams, got {type(params).__name__}")
    arrs = {}
    for name, value in zip(HestonParams._fields, params):
        a = check_array(value, f"params.{name}", dtype=np.float64)
        bad = (np.abs(a) >= 1) if name == "rho" else (a <= 0)
        if np.any(bad):
            want = "in (-1, 1)" if name == "rho" else "> 0"
            raise ValueError(f"params.{name} must be {want}, got {a.ravel()[bad.ravel()][0]:.6g}")
        arrs[name] = a
    return HestonParams(**arrs)


MAX_ABS_K = 50.0  # |log(K / F)| beyond this is no option anyone quotes (and exp(k) nears overflow)
MAX_T = 1000.0  # years


def _check_k(k: object, name: str = "k") -> np.ndarray:
    k = check_array(k, name, dtype=np.float64)
    if np.any(np.abs(k) > MAX_ABS_K):
        raise ValueError(f"{name} (log-moneyness log(K / F)) must be within +-{MAX_ABS_K:g}, "
                         f"got {k.ravel()[np.argmax(np.abs(k.ravel()))]:.4g}")
    return k


def _check_t(t: object, name: str = "t") -> np.ndarray:
    t = check_array(t, name, dtype=np.float64)
    if np.any(t <= 0) or np.any(t > MAX_T):
        raise ValueError(f"{name} (maturities in years) must be in (0, {MAX_T:g}], got values "
                         f"in [{t.min():.4g}, {t.max():.4g}]")
    return t


def _broadcast_shape(**arrays: Any) -> tuple[int, ...]:
    """The common shape of the arguments (name -> array), or an error naming them all."""
    try:
        return np.broadcast_shapes(*(np.shape(a) for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{n} {np.shape(a)}" for n, a in arrays.items())
        raise ValueError(f"{', '.join(arrays)} must broadcast against each other, got "
                         f"{shapes}") from None


def _norm_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = erfc(-x / sqrt 2) / 2, accurate in the left tail (``math.erfc`` elementwise)."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * np.asarray(_ERFC(-x / math.sqrt(2.0)), dtype=np.float64)


_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _norm_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


# ============================================================================ Heston prices
def heston_charfn(u: object, t: object, params: HestonParams) -> np.ndarray:
    """Characteristic function ``phi(u) = E[exp(i u log(S_T / F))]`` (little-trap form).

    u: complex or real array; t: maturities [years] (> 0); both and the parameters broadcast.
    Returns a complex array of the broadcast shape.  ``phi(0) = phi(-i) = 1`` (a martingale).
    """
    p = _check_params(params)
    t = _check_t(t)
    if not isinstance(u, (np.ndarray, list, tuple, int, float, complex, np.number)) or \
            isinstance(u, bool):
        raise TypeError(f"u must be a real or complex array, got {type(u).__name__}")
    u = np.asarray(u)
    if u.dtype.kind not in "iufc":
        raise TypeError(f"u must hold real or complex numbers, got dtype {u.dtype}")
    u = u.astype(np.complex128)
    if not np.all(np.isfinite(u)):
        raise ValueError("u must be finite")
    _broadcast_shape(u=u, t=t, **p._asdict())
    out = _charfn(u, t, p)
    check_no_overflow(out, "heston_charfn", u=np.abs(u), t=t)
    return out


def _charfn(u: np.ndarray, t: np.ndarray, p: HestonParams) -> np.ndarray:
    """The formula of :func:`heston_charfn` on checked arrays."""
    v0, theta, kappa, sigma, rho = p
    iu = 1j * u
    s2 = sigma * sigma
    beta = kappa - rho * sigma * iu
    d = np.sqrt(beta * beta + s2 * (u * u + iu))
    # beta - d = (beta^2 - d^2) / (beta + d) without cancellation when sigma is small
    bmd_s2 = -(u * u + iu) / (beta + d)  # (beta - d) / sigma^2
    g = s2 * bmd_s2 / (beta + d)
    e = np.exp(-d * t)
    B = bmd_s2 * (1.0 - e) / (1.0 - g * e)
    A = kappa * theta * (bmd_s2 * t - 2.0 * (np.log1p(-g * e) - np.log1p(-g)) / s2)
    return np.exp(A + B * v0)


def _expected_variance(t: np.ndarray, p: HestonParams) -> np.ndarray:
    """``w = int_0^T E[v_s] ds = theta T + (v0 - theta)(1 - exp(-kappa T)) / kappa``."""
    return p.theta * t + (p.v0 - p.theta) * (-np.expm1(-p.kappa * t)) / p.kappa


def _lewis_call(k: np.ndarray, t: np.ndarray, p: HestonParams, n_nodes: int) -> np.ndarray:
    """Undiscounted call per unit forward ``c(k, T)`` (Lewis) on broadcast checked arrays.

    The characteristic function does not depend on k, so it is evaluated on the broadcast
    shape of t and the parameters only (a grid ``t[:, None]``, ``k[None, :]`` costs one
    evaluation per maturity); the strikes enter through the phase ``exp(-i u k)``.
    """
    u, g = _lewis_weights(t, p, n_nodes)
    return _lewis_from_weights(k, u, g)


def _lewis_weights(t: np.ndarray, p: HestonParams, n_nodes: int) -> tuple[np.ndarray, ...]:
    """Nodes u and weights ``g = w_j phi(u_j - i/2) / (u_j^2 + 1/4)``, each (..., M), on the
    broadcast shape of t and the parameters."""
    shape = np.broadcast_shapes(t.shape, *(np.shape(a) for a in p))
    t = np.broadcast_to(t, shape)[..., None]
    p = HestonParams(*(np.broadcast_to(a, shape)[..., None] for a in p))
    # Cut-off U: where the Gaussian (moderate u) and the exponential (large u) envelopes of
    # the integrand fall below exp(-36): the larger of the two, capped at 64 U_gauss (reached
    # only at corners such as sigma = 3 with v0 = theta = 1e-4; the price loses digits there).
    w = _expected_variance(t, p)
    u_gauss = np.sqrt(2.0 * _TAIL_LOG / w)
    c_inf = np.sqrt(1.0 - p.rho**2) * (p.v0 + p.kappa * p.theta * t) / p.sigma
    U = np.minimum(np.maximum(u_gauss, _TAIL_LOG / c_inf), 64.0 * u_gauss)
    # Composite Gauss-Legendre on [0, u0] and geometric panels from u0 to U: the factor
    # 1 / (u^2 + 1/4) has poles at +-i/2, so the panels near 0 must be short (Gauss-Legendre
    # converges at a rate set by a panel's distance to the nearest pole relative to its width).
    u0 = np.minimum(0.5, 0.25 * U)
    ratio = (U / u0) ** (1.0 / (_N_PANELS - 1))
    edges = np.concatenate([np.zeros_like(U), u0 * ratio ** np.arange(_N_PANELS)], axis=-1)
    x, wts = _gauss_legendre(n_nodes)
    lo, half = edges[..., :-1, None], 0.5 * np.diff(edges, axis=-1)[..., None]
    u = (lo + half * (x + 1.0)).reshape(*shape, -1)  # (..., N_PANELS * n_nodes)
    weights = (half * wts).reshape(*shape, -1)
    return u, weights * _charfn(u - 0.5j, t, p) / (u * u + 0.25)


def _lewis_from_weights(k: np.ndarray, u: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``1 - e^{k/2} / pi * sum_j Re[exp(-i u_j k) g_j]``; k broadcasts against u[..., 0]."""
    uk = u * k[..., None]
    integral = np.sum(np.cos(uk) * g.real + np.sin(uk) * g.imag, axis=-1)
    return 1.0 - np.exp(0.5 * k) / math.pi * integral


_GL_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    if n not in _GL_CACHE:
        _GL_CACHE[n] = np.polynomial.legendre.leggauss(n)
    return _GL_CACHE[n]


def heston_forward_price(k: object, t: object, params: HestonParams, *, kind: str = "call",
                         n_nodes: int = 48) -> np.ndarray:
    """Undiscounted Heston price per unit forward, ``C / (D F)`` or ``P / (D F)``.

    Inputs:
    - k: log-moneyness ``log(K / F)``; t: maturities [years] (> 0); they and the parameters
      broadcast (e.g. ``t[:, None]`` and ``k[None, :]`` for a grid).
    - kind: "call" or "put"; n_nodes: Gauss-Legendre nodes on [0, U].

    Returns the price array of the broadcast shape.
    """
    p = _check_params(params)
    k, t = _check_k(k), _check_t(t)
    _broadcast_shape(k=k, t=t, **p._asdict())
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    n_nodes = check_positive_int(n_nodes, "n_nodes", minimum=8)
    c = _lewis_call(k, t, p, n_nodes)
    out = c if kind == "call" else c - 1.0 + np.exp(k + 0.0 * c)
    check_no_overflow(out, "heston_forward_price", k=k, t=t)
    return out


def _forward_and_discount(spot: object, strike: object, t: object, rate: float,
                          dividend: float) -> tuple[np.ndarray, ...]:
    spot = check_array(spot, "spot", dtype=np.float64)
    strike = check_array(strike, "strike", dtype=np.float64)
    t = _check_t(t)
    for name, a in (("spot", spot), ("strike", strike)):
        if np.any(a <= 0):
            raise ValueError(f"{name} must be > 0, got min {a.min():.6g}")
    _broadcast_shape(spot=spot, strike=strike, t=t)
    # rates as fractions per year: 1.0 = 100 %; beyond that exp(r t) overflows for long t
    rate = check_scalar(rate, "rate", low=-1.0, high=1.0)
    dividend = check_scalar(dividend, "dividend", low=-1.0, high=1.0)
    with np.errstate(over="ignore", divide="ignore"):
        F = spot * np.exp((rate - dividend) * t)
        k = np.log(strike / F)
    if not np.all(np.isfinite(k)) or np.any(np.abs(k) > MAX_ABS_K):
        raise ValueError(f"strike / spot too far apart: |log(strike / forward)| must be <= "
                         f"{MAX_ABS_K:g}, got {np.nanmax(np.abs(k)):.4g}")
    return k, t, F, np.exp(-rate * t)


def heston_price(spot: object, strike: object, t: object, params: HestonParams, *,
                 rate: float = 0.0, dividend: float = 0.0, kind: str = "call",
                 n_nodes: int = 48) -> np.ndarray:
    """European Heston option prices ``D F c(k, T)`` (see the module docstring).

    spot, strike, t (> 0) and the parameters broadcast; rate r and dividend yield q are
    continuously compounded constants.  Returns prices of the broadcast shape.
    """
    k, t, F, D = _forward_and_discount(spot, strike, t, rate, dividend)
    out = D * F * heston_forward_price(k, t, params, kind=kind, n_nodes=n_nodes)
    check_no_overflow(out, "heston_price", spot=spot, strike=strike)
    return out


def heston_implied_vols(params: HestonParams, t: object = DEFAULT_MATURITIES,
                        k: object = DEFAULT_LOG_MONEYNESS, *, n_nodes: int = 48) -> np.ndarray:
    """The Heston implied-vol surface on a grid: t (n_t,), k (n_k,) -> (n_t, n_k); with
    parameters of shape (S, 1, 1) the result is (S, n_t, n_k).

    Each point is priced as its out-of-the-money option.  Where that price is below
    :data:`PRICE_FLOOR` (deep out of the money at short maturity: the quadrature's absolute
    error, ~1e-15 of the forward, would dominate it) the vol is NaN, not a number; so is a
    price at or above its upper bound (a numerical failure at extreme parameters).
    """
    t, k = _grid(t, k)
    n_nodes = check_positive_int(n_nodes, "n_nodes", minimum=8)
    kk, tt = k[None, :], t[:, None]
    q = _otm_price(kk, tt, _check_params(params), n_nodes)
    vol = _implied_vol_otm(np.maximum(q, PRICE_FLOOR), kk + 0.0 * q, tt + 0.0 * q, "nan")
    return np.where(q < PRICE_FLOOR, np.nan, vol)


def _otm_price(k: np.ndarray, t: np.ndarray, p: HestonParams, n_nodes: int) -> np.ndarray:
    """Undiscounted out-of-the-money price per unit forward: call where k >= 0, else put."""
    c = _lewis_call(k, t, p, n_nodes)
    return np.where(k >= 0, c, c - 1.0 + np.exp(k))


# ============================================================================ Black-Scholes
def black_price(k: object, w: object, *, kind: str = "call") -> np.ndarray:
    """Black's undiscounted price per unit forward at log-moneyness k and total variance
    ``w = sigma^2 T`` (> 0): ``c = Phi(d1) - e^k Phi(d2)``, ``d1 = -k / sqrt(w) + sqrt(w) / 2``,
    ``d2 = d1 - sqrt(w)``; ``p = e^k Phi(-d2) - Phi(-d1)``.  Arrays broadcast."""
    k = _check_k(k)
    w = check_array(w, "w", dtype=np.float64)
    if np.any(w <= 0):
        raise ValueError(f"w (total variance) must be > 0, got min {w.min():.4g}")
    _broadcast_shape(k=k, w=w)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return _black(k, np.sqrt(w), kind == "call")


def _black(k: np.ndarray, s: np.ndarray, call: Any) -> np.ndarray:
    """Black's price with s = sqrt(w); ``call`` a bool or bool array."""
    d1 = -k / s + 0.5 * s
    d2 = d1 - s
    c = _norm_cdf(d1) - np.exp(k) * _norm_cdf(d2)
    p = np.exp(k) * _norm_cdf(-d2) - _norm_cdf(-d1)
    return np.where(call, c, p)


def black_scholes_price(spot: object, strike: object, t: object, vol: object, *,
                        rate: float = 0.0, dividend: float = 0.0,
                        kind: str = "call") -> np.ndarray:
    """Black-Scholes(-Merton) prices ``D F black(k, vol^2 T)``; arrays broadcast, vol > 0."""
    k, t, F, D = _forward_and_discount(spot, strike, t, rate, dividend)
    vol = check_array(vol, "vol", dtype=np.float64)
    if np.any(vol <= 0) or np.any(vol > 100.0):
        raise ValueError(f"vol must be in (0, 100] (a fraction per sqrt(year)), got values in "
                         f"[{vol.min():.4g}, {vol.max():.4g}]")
    _broadcast_shape(spot=spot, strike=strike, t=t, vol=vol)
    out = D * F * black_price(k, vol**2 * t, kind=kind)
    check_no_overflow(out, "black_scholes_price", spot=spot, strike=strike)
    return out


# ============================================================================ implied vol
def implied_volatility_forward(price: object, k: object, t: object, *, kind: str = "call",
                               invalid: str = "raise") -> np.ndarray:
    """Implied vol of undiscounted prices per unit forward (see the module docstring).

    price, k (log-moneyness), t (> 0) broadcast; ``invalid``: "raise" (default) or "nan" for
    prices outside the no-arbitrage bounds.  Returns vols of the broadcast shape.
    """
    price = check_array(price, "price", dtype=np.float64)
    k, t = _check_k(k), _check_t(t)
    _broadcast_shape(price=price, k=k, t=t)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if invalid not in ("raise", "nan"):
        raise ValueError(f"invalid must be 'raise' or 'nan', got {invalid!r}")
    price, k, t = np.broadcast_arrays(price, k, t)
    # Convert to the out-of-the-money option by parity: its price carries all the digits.
    intrinsic = 1.0 - np.exp(k) if kind == "call" else np.exp(k) - 1.0
    otm = np.where((k >= 0) == (kind == "call"), price, price - intrinsic)
    return _implied_vol_otm(otm, k, t, invalid)


def implied_volatility(price: object, spot: object, strike: object, t: object, *,
                       rate: float = 0.0, dividend: float = 0.0, kind: str = "call",
                       invalid: str = "raise") -> np.ndarray:
    """Black-Scholes implied volatility of European option prices (arrays broadcast).

    The price is divided by ``D F`` and inverted by :func:`implied_volatility_forward`.
    """
    k, t, F, D = _forward_and_discount(spot, strike, t, rate, dividend)
    price = check_array(price, "price", dtype=np.float64)
    _broadcast_shape(price=price, spot=spot, strike=strike, t=t)
    return implied_volatility_forward(price / (D * F), k, t, kind=kind, invalid=invalid)


def _implied_vol_otm(q: np.ndarray, k: np.ndarray, t: np.ndarray, invalid: str) -> np.ndarray:
    """Vols for out-of-the-money prices q (call where k >= 0, put where k < 0)."""
    call = k >= 0
    upper = np.where(call, 1.0, np.exp(k))
    bad = ~((q > 0) & (q < upper))
    if invalid == "raise" and bad.any():
        i = np.flatnonzero(bad.ravel())[0]
        raise ValueError(f"{int(bad.sum())} price(s) outside the no-arbitrage bounds have no "
                         f"implied vol; first: price {q.ravel()[i]:.6g} (as the "
                         f"out-of-the-money option) at k={k.ravel()[i]:.4g}, needs "
                         f"0 < price < {upper.ravel()[i]:.6g}; pass invalid='nan' for NaN")
    # Put-call symmetry of Black's formula: put(k, s) = e^k call(-k, s), so every point becomes
    # an out-of-the-money call at x = |k| >= 0 with a price in (0, 1).
    target = np.where(bad, 0.5, np.where(call, q, q * np.exp(-k)))
    s = _invert_black_call(target, np.abs(k))
    return np.where(bad, np.nan, s / np.sqrt(t))


def _black_call(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Black's undiscounted call per unit forward at log-moneyness x and s = sqrt(w) > 0."""
    d1 = -x / s + 0.5 * s
    return _norm_cdf(d1) - np.exp(x) * _norm_cdf(d1 - s)


def _invert_black_call(c: np.ndarray, x: np.ndarray, max_iter: int = 100) -> np.ndarray:
    """s = sqrt(w) > 0 with black_call(x, s) = c, for x >= 0 and 0 < c < 1.

    Newton's method on ``log black_call(x, s) - log c`` (far out of the money the price is
    ~ exp(-x^2 / (2 s^2)), whose log is nearly linear in 1 / s^2 where the price itself is
    flat), started at the inflection point ``s = sqrt(2 x)`` and kept inside a bisection
    bracket [lo, hi] that every evaluation narrows.
    """
    lo, hi = np.zeros(c.shape), np.ones(c.shape)
    for _ in range(64):  # grow hi until it brackets the root (the price tends to 1)
        short = _black_call(x, hi) < c
        if not short.any():
            break
        lo, hi = np.where(short, hi, lo), np.where(short, 2.0 * hi, hi)
    s = np.sqrt(2.0 * x)
    s = np.where((s <= lo) | (s >= hi), 0.5 * (lo + hi), s)
    log_c = np.log(c)
    for _ in range(max_iter):
        price = _black_call(x, s)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.log(price) - log_c
            lo, hi = np.where(f < 0, s, lo), np.where(f > 0, s, hi)
            vega = _norm_pdf(-x / s + 0.5 * s)  # d price / d s
            s_new = s - f * price / vega
        outside = ~np.isfinite(s_new) | (s_new <= lo) | (s_new >= hi)
        s_new = np.where(outside, 0.5 * (lo + hi), s_new)
        done = np.abs(s_new - s) <= 4e-16 * s
        s = s_new
        if done.all():
            break
    return s


# ============================================================================ calibration
def _from_raw(raw: np.ndarray) -> HestonParams:
    """Unconstrained (..., 5) -> parameters inside :data:`PARAM_BOUNDS` (a logistic per axis,
    on the log scale for the positive ones)."""
    out = []
    for j, (name, (a, b)) in enumerate(PARAM_BOUNDS.items()):
        sig = 1.0 / (1.0 + np.exp(-raw[..., j]))
        out.append(a + (b - a) * sig if name == "rho" else
                   np.exp(np.log(a) + (np.log(b) - np.log(a)) * sig))
    return HestonParams(*out)


def _to_raw(params: HestonParams) -> np.ndarray:
    cols = []
    for name, (a, b) in PARAM_BOUNDS.items():
        v = np.asarray(getattr(params, name), dtype=np.float64)
        frac = (v - a) / (b - a) if name == "rho" else (np.log(v) - np.log(a)) / (
            np.log(b) - np.log(a))
        frac = np.clip(frac, 1e-6, 1 - 1e-6)
        cols.append(np.log(frac / (1.0 - frac)))
    return np.stack(cols, axis=-1)


def sample_heston_params(n: int, rng: np.random.Generator | int) -> HestonParams:
    """n random parameter sets (arrays (n,)): vols 10-40 %, kappa 0.5-5, sigma 0.1-1,
    rho -0.9..0; the calibration's random starts and the tests' surfaces."""
    n = check_positive_int(n, "n")
    rng = check_rng(rng)
    return HestonParams(rng.uniform(0.1, 0.4, n) ** 2, rng.uniform(0.1, 0.4, n) ** 2,
                        rng.uniform(0.5, 5.0, n), rng.uniform(0.1, 1.0, n),
                        rng.uniform(-0.9, 0.0, n))


def calibrate_heston(observed_iv: object, mask: object, t: object = DEFAULT_MATURITIES,
                     k: object = DEFAULT_LOG_MONEYNESS, *, n_starts: int = 4, n_iter: int = 30,
                     n_nodes: int = 32, rng: np.random.Generator | int = 0,
                     ) -> tuple[np.ndarray, list[HestonParams]]:
    """Least-squares Heston fit to the observed vols of each surface; the completed surfaces.

    Minimises ``sum_obs (iv_heston(params) - y)^2`` over the five parameters (kept inside
    :data:`PARAM_BOUNDS` by a smooth map) with Levenberg-Marquardt from ``n_starts`` starts:
    one from the data (v0 from the shortest observed maturity, theta from the longest, at the
    observed k nearest 0) and the others random (:func:`sample_heston_params`).  The Feller
    condition is not enforced; read it from ``params.feller``.

    Inputs:
    - observed_iv: (n_t, n_k) or (N, n_t, n_k) vols, NaN allowed where mask is False.
    - mask: bool, same shape, True = observed; at least 5 observed points per surface.
    - t (n_t,), k (n_k,): the grid (maturities in years, log-moneyness log(K / F)).

    Returns:
    - completed: the fitted Heston implied-vol surfaces, same shape as observed_iv; NaN where
      the fitted out-of-the-money price is below :data:`PRICE_FLOOR` (see
      :func:`heston_implied_vols`).  In the fit such a point's model vol is taken as the vol of
      the floor price (an upper bound on it), so the residual stays continuous.
    - params: a list of :class:`HestonParams` of floats, one per surface.
    """
    t, k = _grid(t, k)
    shape = (t.shape[0], k.shape[0])
    obs = check_array(observed_iv, "observed_iv", ndim=(2, 3), dtype=np.float64, allow_nan=True)
    if obs.shape[-2:] != shape:
        raise ValueError(f"observed_iv must have shape {shape} or (N, *{shape}), got {obs.shape}")
    v, mask = _check_observed(obs, mask, shape, 5)
    n_starts = check_positive_int(n_starts, "n_starts")
    n_iter = check_positive_int(n_iter, "n_iter")
    n_nodes = check_positive_int(n_nodes, "n_nodes", minimum=8)
    rng = check_rng(rng)
    single = v.ndim == 2
    v, mask = v.reshape(-1, t.shape[0], k.shape[0]), mask.reshape(-1, t.shape[0], k.shape[0])
    out, fitted = np.empty(v.shape), []
    tt, kk = np.meshgrid(t, k, indexing="ij")
    for n in range(v.shape[0]):
        m = mask[n]
        y, k_obs = v[n][m], kk[m]
        t_u, t_idx = np.unique(tt[m], return_inverse=True)
        # Below the price floor the model vol is only known to be < floor_vol: use that bound
        # in the residual, which keeps it continuous.
        floor_vol = _implied_vol_otm(np.full(y.shape, PRICE_FLOOR), k_obs, tt[m], "raise")

        def residual(raw: np.ndarray, y=y, k_obs=k_obs, t_u=t_u, t_idx=t_idx,
                     floor_vol=floor_vol) -> np.ndarray:
            p = HestonParams(*(a[:, None] for a in _from_raw(raw)))  # (S, 1) against (n_t_u,)
            u, g = _lewis_weights(t_u, p, n_nodes)  # one CF per observed maturity: (S, n_t_u, M)
            c = _lewis_from_weights(k_obs, u[:, t_idx], g[:, t_idx])  # (S, n_obs)
            q = np.where(k_obs >= 0, c, c - 1.0 + np.exp(k_obs))
            t_obs = t_u[t_idx] + 0.0 * q
            iv = _implied_vol_otm(np.maximum(q, PRICE_FLOOR), k_obs + 0.0 * q, t_obs, "nan")
            return np.where(q < PRICE_FLOOR, floor_vol, iv) - y

        starts = _to_raw(sample_heston_params(n_starts, rng))
        starts[0] = _to_raw(_data_start(y, tt[m], k_obs))
        raw = _levenberg_marquardt(residual, starts, n_iter)
        cost = np.sum(residual(raw) ** 2, axis=1)
        params = HestonParams(*(float(a) for a in _from_raw(raw[int(np.argmin(cost))])))
        fitted.append(params)
        out[n] = heston_implied_vols(params, t, k)  # the completed surface at full accuracy
    return (out[0] if single else out), fitted


def _data_start(y: np.ndarray, t_obs: np.ndarray, k_obs: np.ndarray) -> HestonParams:
    """A starting point read off the quotes: the near-the-money vol at the shortest and the
    longest observed maturity as sqrt(v0) and sqrt(theta); kappa 1.5, sigma 0.5, rho -0.5."""
    def atm(t_sel: float) -> float:
        on = t_obs == t_sel
        return float(y[on][np.argmin(np.abs(k_obs[on]))])

    v0 = np.clip(atm(t_obs.min()) ** 2, 2e-4, 0.9)
    theta = np.clip(atm(t_obs.max()) ** 2, 2e-4, 0.9)
    return HestonParams(v0, theta, 1.5, 0.5, -0.5)
