"""The modified Bessel function of the first kind, I_v(kappa), in NumPy: its logarithm and the
ratio I_{v+1}(kappa) / I_v(kappa), for the von Mises-Fisher distribution
(:mod:`minivae.objectives.vmf`), whose normaliser is I_{m/2-1}(kappa) and whose mean resultant
length is A_m(kappa) = I_{m/2}(kappa) / I_{m/2-1}(kappa).

I_v grows like e^kappa / sqrt(2 pi kappa), so it overflows float64 beyond kappa ~ 700: we only
ever compute its logarithm and ratios.  Two regimes, each exact to float64 rounding where used
(tested against ``scipy.special.ive`` to 1e-10 for v in [0, 50], kappa in [1e-3, 1e4]):

* **Series** (kappa <= KAPPA_SERIES = 10), the definition (Abramowitz & Stegun 9.6.10):

      I_v(kappa) = (kappa/2)^v / Gamma(v+1) * S_v(kappa),
      S_v(kappa) = sum_k t_k,  t_0 = 1,  t_k = t_{k-1} (kappa^2/4) / (k (v + k)),

  all terms positive (no cancellation); at kappa = 10 about 35 terms reach float64 precision.
  We keep log S_v = log1p(sum_{k>=1} t_k) separately: the KL of a vMF to the uniform prior is
  kappa A - log S_v, of size kappa^2 / (2m) for small kappa, and would be lost in cancellation if
  it were formed from log I_v (of size |v log kappa|).

* **Uniform asymptotic expansion** (Debye; A & S 9.7.7) at a large order nu = v + n >= NU_MIN,
  brought down to v by the three-term recurrence.  With z = kappa / nu, t = sqrt(1 + z^2),
  p = 1 / t, eta = t + log(z / (1 + t)):

      log I_nu(nu z) = nu eta - log(2 pi nu) / 2 - log(t) / 2 + log(sum_k u_k(p) / nu^k),

  with the polynomials u_0..u_4 of A & S 9.3.9 (the first term left out is O(nu^-5): at
  nu >= 100 the measured worst relative error against scipy is 2e-12; at nu >= 50 it was 7e-11,
  hence NU_MIN = 100).  Then, downward from nu, with the ratio r_j = I_{j+1} / I_j:

      I_{j-1} = (2j / kappa) I_j + I_{j+1}   =>   r_{j-1} = 1 / (2j / kappa + r_j),
      log I_{j-1} = log I_j + log(2j / kappa + r_j).

  The downward recurrence adds positive numbers only, so relative errors do not grow (the
  upward one subtracts and is unstable).  It gives log I_v and the ratio r_v together.

``v`` is one number for the whole array (the vMF's order m/2 - 1 is fixed by the latent size);
the work is vectorised over ``kappa``.  Everything is computed in float64 and returned in it.
"""

from __future__ import annotations

import math

import numpy as np

from minivae._validation import check_array, check_scalar

KAPPA_SERIES = 10.0   # series at or below, asymptotic expansion above
NU_MIN = 100.0        # the order at which the uniform expansion is evaluated (>= this)
_SERIES_TERMS = 80    # enough for kappa <= 10 and any v >= 0 (checked at run time)

# A & S 9.3.9: u_k(p) as coefficient lists in powers of p (lowest power first) over a divisor.
_DEBYE_U = (
    ((0.0, 3.0, 0.0, -5.0), 24.0),
    ((0.0, 0.0, 81.0, 0.0, -462.0, 0.0, 385.0), 1152.0),
    ((0.0, 0.0, 0.0, 30375.0, 0.0, -369603.0, 0.0, 765765.0, 0.0, -425425.0), 414720.0),
    ((0.0, 0.0, 0.0, 0.0, 4465125.0, 0.0, -94121676.0, 0.0, 349922430.0, 0.0,
      -446185740.0, 0.0, 185910725.0), 39813120.0),
)


def _check_order_and_kappa(v: object, kappa: object) -> tuple[float, np.ndarray]:
    v = check_scalar(v, "v", low=0.0)
    kappa = check_array(kappa, "kappa").astype(np.float64, copy=False)
    if np.any(kappa <= 0):
        raise ValueError(f"kappa must be > 0 everywhere, got min {float(kappa.min()):.4g}")
    return v, kappa


def _series(v: float, kappa: np.ndarray) -> np.ndarray:
    """sum_{k>=1} t_k of S_v(kappa) = 1 + sum_{k>=1} t_k (kappa <= KAPPA_SERIES)."""
    q = 0.25 * kappa**2
    term = np.ones_like(kappa)
    total = np.zeros_like(kappa)
    for k in range(1, _SERIES_TERMS + 1):
        term = term * q / (k * (v + k))
        total = total + term
        if np.all(term <= 1e-17 * (1.0 + total)):
            return total
    raise RuntimeError(f"the Bessel series did not converge in {_SERIES_TERMS} terms "
                       f"(max kappa {float(kappa.max()):.4g} > KAPPA_SERIES?)")


def _log_iv_debye(nu: float, kappa: np.ndarray) -> np.ndarray:
    """log I_nu(kappa) by the uniform asymptotic expansion (nu >= NU_MIN)."""
    z = kappa / nu
    t = np.hypot(1.0, z)  # sqrt(1 + z^2) without overflow for huge kappa
    p = 1.0 / t
    correction = np.ones_like(kappa)
    for k, (coeffs, divisor) in enumerate(_DEBYE_U, start=1):
        correction = correction + np.polynomial.polynomial.polyval(p, coeffs) / divisor / nu**k
    eta = t + np.log(z / (1.0 + t))
    return nu * eta - 0.5 * np.log(2.0 * np.pi * nu) - 0.5 * np.log(t) + np.log(correction)


def _log_iv_and_ratio_large(v: float, kappa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log I_v, I_{v+1}/I_v) from the expansion at nu = v + n >= NU_MIN and n downward steps."""
    n = max(0, math.ceil(NU_MIN - v))
    nu = v + n
    log_i = _log_iv_debye(nu, kappa)
    ratio = np.exp(_log_iv_debye(nu + 1.0, kappa) - log_i)  # r_nu
    for j in range(n, 0, -1):  # order v + j -> v + j - 1
        step = 2.0 * (v + j) / kappa + ratio
        log_i = log_i + np.log(step)
        ratio = 1.0 / step
    return log_i, ratio


def log_normalised_iv_and_ratio(v: float, kappa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log S_v(kappa), I_{v+1}(kappa) / I_v(kappa)), both with kappa's shape, where
    S_v = Gamma(v + 1) (2 / kappa)^v I_v(kappa) is the series (S_v(0) = 1, so log S_v ~
    kappa^2 / (4 (v + 1)) is small, and accurate, for small kappa).

    v: the order, a number >= 0; kappa: any shape, > 0.
    """
    v, kappa = _check_order_and_kappa(v, kappa)
    log_s = np.empty_like(kappa)
    ratio = np.empty_like(kappa)
    small = kappa <= KAPPA_SERIES
    if np.any(small):
        k = kappa[small]
        log_s[small] = np.log1p(_series(v, k))
        # I_{v+1}/I_v = kappa / (2 (v + 1)) * S_{v+1} / S_v
        ratio[small] = k / (2.0 * (v + 1.0)) * np.exp(np.log1p(_series(v + 1.0, k))
                                                       - log_s[small])
    if not np.all(small):
        k = kappa[~small]
        log_i, ratio[~small] = _log_iv_and_ratio_large(v, k)
        log_s[~small] = log_i + math.lgamma(v + 1.0) - v * np.log(0.5 * k)
    return log_s, ratio


def log_bessel_iv(v: float, kappa: np.ndarray) -> np.ndarray:
    """log I_v(kappa), the modified Bessel function of the first kind, for v >= 0 (one number)
    and kappa > 0 (any shape; returned in float64, same shape)."""
    v, kappa = _check_order_and_kappa(v, kappa)
    log_s, _ = log_normalised_iv_and_ratio(v, kappa)
    return log_s + v * np.log(0.5 * kappa) - math.lgamma(v + 1.0)


def bessel_iv_ratio(v: float, kappa: np.ndarray) -> np.ndarray:
    """I_{v+1}(kappa) / I_v(kappa) for v >= 0 (one number) and kappa > 0 (any shape): in (0, 1),
    ~ kappa / (2 (v + 1)) for small kappa and 1 - (2v + 1) / (2 kappa) for large."""
    return log_normalised_iv_and_ratio(v, kappa)[1]
