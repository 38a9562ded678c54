r"""Information measures of discrete distributions (probability mass functions), in nats.

A PMF is a 1-D array ``p: (K,)`` of non-negative numbers summing to 1 (within 1e-9); a joint
PMF is a 2-D array ``pxy: (K_x, K_y)``, X along axis 0.  The convention ``0 log 0 = 0`` holds
throughout; a measure that is infinite (cross-entropy or KL with q = 0 where p > 0) returns
``inf``.  Definitions (Singh & Ogunfunmi, Entropy 2022, section 2.1; Principe, *Information
Theoretic Learning*, 2010):

    entropy                 H(X)       = -sum p log p
    joint entropy           H(X, Y)    = -sum_xy p(x, y) log p(x, y)
    conditional entropy     H(Y | X)   = H(X, Y) - H(X)
    cross-entropy           H(p, q)    = -sum p log q
    KL divergence           KL(p || q) = sum p log(p / q) = H(p, q) - H(p)
    mutual information      I(X; Y)    = KL(p(x, y) || p(x) p(y)) = H(X) + H(Y) - H(X, Y)
    Jensen-Shannon          JS(p, q)   = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q)/2
                                         (0 <= JS <= log 2)
    Renyi entropy           H_a(p)     = 1/(1 - a) log sum p^a
    Renyi cross-entropy     H_a(p; q)  = 1/(1 - a) log sum p q^(a - 1)
    Renyi (alpha-)divergence D_a(p || q) = 1/(a - 1) log sum p^a q^(1 - a)

for orders a > 0.  At a = 1 the Renyi quantities are their Shannon limits (H, H(p, q), KL),
which the functions return for ``alpha=1``; ``alpha=2`` gives the quadratic entropy
-log sum p^2 that the ITL estimators of :mod:`minivae.information.kde` work with.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_scalar

__all__ = [
    "conditional_entropy",
    "cross_entropy",
    "entropy",
    "js_divergence",
    "joint_entropy",
    "kl_divergence",
    "mutual_information",
    "renyi_cross_entropy",
    "renyi_divergence",
    "renyi_entropy",
]

PMF_ATOL = 1e-9


def check_pmf(p: object, name: str = "p", ndim: int = 1) -> np.ndarray:
    """A PMF as float64: ``ndim`` dimensions, entries >= 0, total 1 within 1e-9."""
    p = check_array(p, name, ndim=ndim, dtype=np.float64)
    if np.any(p < 0):
        raise ValueError(f"{name} must be a probability mass function with entries >= 0, got "
                         f"min {float(p.min()):.3g}")
    total = float(p.sum())
    if abs(total - 1.0) > PMF_ATOL:
        raise ValueError(f"{name} must sum to 1 (a probability mass function), got sum {total!r};"
                         " normalise it with p / p.sum()")
    return p


def _check_pair(p: object, q: object) -> tuple[np.ndarray, np.ndarray]:
    p, q = check_pmf(p, "p"), check_pmf(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must be PMFs over the same outcomes (same shape), got "
                         f"{p.shape} and {q.shape}")
    return p, q


def _alpha(alpha: object) -> float:
    return check_scalar(alpha, "alpha", low=0.0, low_inclusive=False)


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y) with 0 * log(anything) = 0, and -inf where x > 0 and y = 0."""
    out = np.zeros_like(x)
    pos = x > 0
    with np.errstate(divide="ignore"):
        out[pos] = x[pos] * np.log(y[pos])
    return out


# ------------------------------------------------------------------------------ Shannon
def entropy(p: object) -> float:
    """H(p) = -sum p log p (nats); 0 <= H <= log K."""
    p = check_pmf(p)
    return float(-_xlogy(p, p).sum())


def joint_entropy(pxy: object) -> float:
    """H(X, Y) of a joint PMF pxy: (K_x, K_y)."""
    pxy = check_pmf(pxy, "pxy", ndim=2)
    return float(-_xlogy(pxy, pxy).sum())


def conditional_entropy(pxy: object) -> float:
    """H(Y | X) = H(X, Y) - H(X), X along axis 0 of pxy: (K_x, K_y); 0 <= H(Y|X) <= H(Y)."""
    pxy = check_pmf(pxy, "pxy", ndim=2)
    px = pxy.sum(axis=1)
    return float(-_xlogy(pxy, pxy).sum() + _xlogy(px, px).sum())


def cross_entropy(p: object, q: object) -> float:
    """H(p, q) = -sum p log q >= H(p); inf if q = 0 where p > 0."""
    p, q = _check_pair(p, q)
    return float(-_xlogy(p, q).sum())


def kl_divergence(p: object, q: object) -> float:
    """KL(p || q) = sum p log(p / q) >= 0, 0 iff p = q; inf if q = 0 where p > 0."""
    p, q = _check_pair(p, q)
    return float(_xlogy(p, p).sum() - _xlogy(p, q).sum())


def mutual_information(pxy: object) -> float:
    """I(X; Y) = KL(pxy || px py) of a joint PMF pxy: (K_x, K_y); >= 0, 0 iff independent."""
    pxy = check_pmf(pxy, "pxy", ndim=2)
    px, py = pxy.sum(axis=1), pxy.sum(axis=0)
    # Where pxy > 0 both marginals are > 0, so the ratio is finite.
    return float(max(0.0, (_xlogy(pxy, pxy) - _xlogy(pxy, np.outer(px, py))).sum()))


def js_divergence(p: object, q: object) -> float:
    """JS(p, q) = (KL(p || m) + KL(q || m)) / 2, m = (p + q) / 2: symmetric, always finite,
    0 <= JS <= log 2 (= log 2 for disjoint supports)."""
    p, q = _check_pair(p, q)
    m = 0.5 * (p + q)
    js = 0.5 * (_xlogy(p, p) - _xlogy(p, m)).sum() + 0.5 * (_xlogy(q, q) - _xlogy(q, m)).sum()
    return float(min(max(js, 0.0), np.log(2.0)))  # rounding may step outside [0, log 2]


# ------------------------------------------------------------------------------ Renyi
def renyi_entropy(p: object, alpha: float) -> float:
    """H_alpha(p) = 1/(1 - alpha) log sum p^alpha, alpha > 0; alpha = 1 gives H(p).
    Non-increasing in alpha; alpha -> 0 gives log |support|, alpha = 2 the quadratic entropy."""
    p = check_pmf(p)
    alpha = _alpha(alpha)
    if alpha == 1.0:
        return entropy(p)
    s = np.sum(p[p > 0] ** alpha)
    return float(np.log(s) / (1.0 - alpha))


def renyi_cross_entropy(p: object, q: object, alpha: float) -> float:
    """H_alpha(p; q) = 1/(1 - alpha) log sum p q^(alpha - 1); alpha = 1 gives H(p, q).
    Infinite when q = 0 where p > 0 and alpha < 1."""
    p, q = _check_pair(p, q)
    alpha = _alpha(alpha)
    if alpha == 1.0:
        return cross_entropy(p, q)
    pos = p > 0
    with np.errstate(divide="ignore"):
        s = np.sum(p[pos] * q[pos] ** (alpha - 1.0))
        return float(np.log(s) / (1.0 - alpha))


def renyi_divergence(p: object, q: object, alpha: float) -> float:
    """D_alpha(p || q) = 1/(alpha - 1) log sum p^alpha q^(1 - alpha) >= 0; alpha = 1 gives
    KL(p || q); non-decreasing in alpha.  Terms with p = 0 contribute nothing for alpha > 0;
    q = 0 where p > 0 makes it infinite for alpha >= 1."""
    p, q = _check_pair(p, q)
    alpha = _alpha(alpha)
    if alpha == 1.0:
        return kl_divergence(p, q)
    pos = p > 0
    with np.errstate(divide="ignore"):
        s = np.sum(p[pos] ** alpha * q[pos] ** (1.0 - alpha))
        return float(max(0.0, np.log(s) / (alpha - 1.0)))
