r"""Closed forms of the information measures for multivariate Gaussians N(m, S).

Every function takes means ``m: (D,)`` and covariances ``S: (D, D)`` (symmetric positive
definite) and returns nats.  With ``N(x; m, S)`` the density and ``|S|`` the determinant:

    entropy            H(p)        = 1/2 log |2 pi e S|
    cross-entropy      H(p, q)     = 1/2 [log |2 pi S_q| + tr(S_q^-1 S_p) + dm' S_q^-1 dm],
                                     dm = m_p - m_q
    KL                 KL(p || q)  = H(p, q) - H(p)
    Renyi entropy      H_a(p)      = 1/2 log |2 pi S| + D/2 * log(a) / (a - 1)   (a > 0, a != 1)
    Renyi cross-ent.   H_a(p; q)   = 1/(1 - a) log E_p[q^(a - 1)]
                                   = 1/2 [log |2 pi S_q| + log(|T| / |S_q|) / (a - 1)
                                          + dm' T^-1 dm],
                                     T = S_q + (a - 1) S_p (must be positive definite)
    Renyi divergence   D_a(p || q) = a/2 dm' S_a^-1 dm
                                     - 1/(2(a-1)) log(|S_a| / (|S_p|^(1-a) |S_q|^a)),
                       S_a = a S_q + (1 - a) S_p (must be positive definite)
    CIP                V(p, q)     = int p q = N(m_p; m_q, S_p + S_q)
    QIP                V(p)        = int p^2 = (4 pi)^(-D/2) |S|^(-1/2)
    quadratic entropy  H_2(p)      = -log V(p)
    Euclidean          D_ED        = V(p) + V(q) - 2 V(p, q)
    Cauchy-Schwarz     D_CS        = log V(p) + log V(q) - 2 log V(p, q)
    mutual information I(X; Y)     = 1/2 log(|S_xx| |S_yy| / |S|) for a jointly Gaussian (X, Y)

H_a -> H and D_a -> KL as a -> 1 (the a = 1 case returns them).  There is no closed form for the
Jensen-Shannon divergence of two Gaussians (their mixture is not Gaussian).

The Parzen estimators of :mod:`minivae.information.kde` with bandwidth sigma converge to these
formulas evaluated at ``S + sigma^2 I`` (the data density convolved with the kernel):
:func:`smoothed` returns that covariance.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_scalar

__all__ = [
    "cip",
    "cross_entropy",
    "cs_divergence",
    "entropy",
    "euclidean_divergence",
    "kl_divergence",
    "log_cip",
    "mutual_information",
    "qip",
    "renyi_cross_entropy",
    "renyi_divergence",
    "renyi_entropy",
    "renyi_quadratic_entropy",
    "smoothed",
]


# ------------------------------------------------------------------------------ validation
def check_mean(m: object, name: str, D: int | None = None) -> np.ndarray:
    return check_array(m, name, shape=(D,), dtype=np.float64)


def check_cov(S: object, name: str, D: int | None = None) -> np.ndarray:
    """A symmetric positive-definite (D, D) matrix (refused with a clear error otherwise)."""
    S = check_array(S, name, shape=(D, D) if D is not None else (None, None), dtype=np.float64)
    if S.shape[0] != S.shape[1]:
        raise ValueError(f"{name} must be a square (D, D) covariance matrix, got shape {S.shape}")
    if not np.allclose(S, S.T, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric, got max |S - S.T| = "
                         f"{float(np.max(np.abs(S - S.T))):.3g}")
    if np.min(np.linalg.eigvalsh(S)) <= 0.0:
        raise ValueError(f"{name} must be positive definite, got smallest eigenvalue "
                         f"{float(np.min(np.linalg.eigvalsh(S))):.3g}")
    return S


def _pair(m_p: object, S_p: object, m_q: object, S_q: object) -> tuple[np.ndarray, ...]:
    m_p = check_mean(m_p, "m_p")
    D = m_p.shape[0]
    return (m_p, check_cov(S_p, "S_p", D), check_mean(m_q, "m_q", D), check_cov(S_q, "S_q", D))


def _logdet(S: np.ndarray) -> float:
    return float(np.linalg.slogdet(S)[1])


def _check_alpha(alpha: object) -> float:
    return check_scalar(alpha, "alpha", low=0.0, low_inclusive=False)


def smoothed(S: object, sigma: float) -> np.ndarray:
    """S + sigma^2 I: the covariance of N(m, S) convolved with a Gaussian kernel of bandwidth
    sigma, the density whose measures a Parzen estimate with that bandwidth converges to."""
    S = check_cov(S, "S")
    sigma = check_scalar(sigma, "sigma", low=0.0, low_inclusive=False)
    return S + sigma**2 * np.eye(S.shape[0])


# ------------------------------------------------------------------------------ Shannon
def entropy(S: object) -> float:
    """H(N(m, S)) = 1/2 log |2 pi e S| (the mean does not matter)."""
    S = check_cov(S, "S")
    return 0.5 * (S.shape[0] * np.log(2.0 * np.pi * np.e) + _logdet(S))


def cross_entropy(m_p: object, S_p: object, m_q: object, S_q: object) -> float:
    """H(p, q) = -E_p[log q] for p = N(m_p, S_p), q = N(m_q, S_q)."""
    m_p, S_p, m_q, S_q = _pair(m_p, S_p, m_q, S_q)
    d = m_p - m_q
    D = m_p.shape[0]
    quad = float(np.trace(np.linalg.solve(S_q, S_p)) + d @ np.linalg.solve(S_q, d))
    return 0.5 * (D * np.log(2.0 * np.pi) + _logdet(S_q) + quad)


def kl_divergence(m_p: object, S_p: object, m_q: object, S_q: object) -> float:
    """KL(p || q) = H(p, q) - H(p) >= 0."""
    return cross_entropy(m_p, S_p, m_q, S_q) - entropy(S_p)


def mutual_information(S: object, split: int) -> float:
    """I(X; Y) of a jointly Gaussian vector (X, Y) with covariance S: (D, D), X the first
    ``split`` coordinates: 1/2 log(|S_xx| |S_yy| / |S|)."""
    S = check_cov(S, "S")
    D = S.shape[0]
    if isinstance(split, bool) or not isinstance(split, (int, np.integer)) or not 0 < split < D:
        raise ValueError(f"split must be an int with 0 < split < D = {D}, got {split!r}")
    return 0.5 * (_logdet(S[:split, :split]) + _logdet(S[split:, split:]) - _logdet(S))


# ------------------------------------------------------------------------------ Renyi
def renyi_entropy(S: object, alpha: float) -> float:
    """H_alpha(N(m, S)) = 1/2 log |2 pi S| + D/2 log(alpha) / (alpha - 1); alpha = 1 gives the
    Shannon entropy (the limit: log(a) / (a - 1) -> 1)."""
    S = check_cov(S, "S")
    alpha = _check_alpha(alpha)
    D = S.shape[0]
    ratio = 1.0 if alpha == 1.0 else np.log(alpha) / (alpha - 1.0)
    return 0.5 * (D * np.log(2.0 * np.pi) + _logdet(S)) + 0.5 * D * ratio


def renyi_cross_entropy(m_p: object, S_p: object, m_q: object, S_q: object,
                        alpha: float) -> float:
    """H_alpha(p; q) = 1/(1 - alpha) log E_p[q(x)^(alpha - 1)] (the module docstring's closed
    form, from the Gaussian integral of exp of a quadratic); alpha = 1 gives H(p, q).  It is
    the large-sample limit of the Parzen plug-in Renyi estimates (:mod:`.kde_entropy`) with q the
    smoothed density.  Infinite (raises) unless S_q + (alpha - 1) S_p is positive definite."""
    m_p, S_p, m_q, S_q = _pair(m_p, S_p, m_q, S_q)
    alpha = _check_alpha(alpha)
    if alpha == 1.0:
        return cross_entropy(m_p, S_p, m_q, S_q)
    T = S_q + (alpha - 1.0) * S_p
    if np.min(np.linalg.eigvalsh(T)) <= 0.0:
        raise ValueError(f"the Renyi cross-entropy of order alpha = {alpha} is infinite here: "
                         "S_q + (alpha - 1) * S_p is not positive definite")
    d = m_p - m_q
    D = m_p.shape[0]
    return 0.5 * (D * np.log(2.0 * np.pi) + _logdet(S_q) + float(d @ np.linalg.solve(T, d))
                  + (_logdet(T) - _logdet(S_q)) / (alpha - 1.0))


def renyi_divergence(m_p: object, S_p: object, m_q: object, S_q: object, alpha: float) -> float:
    """D_alpha(p || q) = 1/(alpha - 1) log int p^alpha q^(1 - alpha) (module docstring);
    alpha = 1 gives KL(p || q).  Finite only when alpha S_q + (1 - alpha) S_p is positive
    definite (always for 0 < alpha < 1); otherwise the integral diverges and this raises."""
    m_p, S_p, m_q, S_q = _pair(m_p, S_p, m_q, S_q)
    alpha = _check_alpha(alpha)
    if alpha == 1.0:
        return kl_divergence(m_p, S_p, m_q, S_q)
    S_a = alpha * S_q + (1.0 - alpha) * S_p
    if np.min(np.linalg.eigvalsh(S_a)) <= 0.0:
        raise ValueError(f"the Renyi divergence of order alpha = {alpha} is infinite here: "
                         "alpha * S_q + (1 - alpha) * S_p is not positive definite")
    d = m_p - m_q
    quad = float(d @ np.linalg.solve(S_a, d))
    logratio = _logdet(S_a) - (1.0 - alpha) * _logdet(S_p) - alpha * _logdet(S_q)
    return 0.5 * alpha * quad - logratio / (2.0 * (alpha - 1.0))


# ------------------------------------------------------------------------------ ITL measures
def log_cip(m_p: object, S_p: object, m_q: object, S_q: object) -> float:
    """log int p q = log N(m_p; m_q, S_p + S_q)."""
    m_p, S_p, m_q, S_q = _pair(m_p, S_p, m_q, S_q)
    S = S_p + S_q
    d = m_p - m_q
    D = m_p.shape[0]
    return -0.5 * (D * np.log(2.0 * np.pi) + _logdet(S) + float(d @ np.linalg.solve(S, d)))


def cip(m_p: object, S_p: object, m_q: object, S_q: object) -> float:
    """V(p, q) = int p q = N(m_p; m_q, S_p + S_q)."""
    return float(np.exp(log_cip(m_p, S_p, m_q, S_q)))


def qip(S: object) -> float:
    """V(p) = int p^2 = (4 pi)^(-D/2) |S|^(-1/2) (independent of the mean)."""
    S = check_cov(S, "S")
    return float(np.exp(-0.5 * (S.shape[0] * np.log(4.0 * np.pi) + _logdet(S))))


def renyi_quadratic_entropy(S: object) -> float:
    """H_2(p) = -log V(p) = 1/2 log |4 pi S|; equals :func:`renyi_entropy` at alpha = 2."""
    S = check_cov(S, "S")
    return 0.5 * (S.shape[0] * np.log(4.0 * np.pi) + _logdet(S))


def euclidean_divergence(m_p: object, S_p: object, m_q: object, S_q: object) -> float:
    """D_ED = int (p - q)^2 = V(p) + V(q) - 2 V(p, q)."""
    return qip(S_p) + qip(S_q) - 2.0 * cip(m_p, S_p, m_q, S_q)


def cs_divergence(m_p: object, S_p: object, m_q: object, S_q: object) -> float:
    """D_CS = log V(p) + log V(q) - 2 log V(p, q) >= 0, computed in the log domain."""
    return (-renyi_quadratic_entropy(S_p) - renyi_quadratic_entropy(S_q)
            - 2.0 * log_cip(m_p, S_p, m_q, S_q))
