r"""Shannon and Renyi measures estimated from samples with a Gaussian Parzen window, and their
gradients with respect to the samples.

Samples are ``X: (N, D)`` and ``Y: (M, D)``; ``p(x) = 1/N sum_j G_sigma(x - x_j)`` and
``q(y) = 1/M sum_j G_sigma(y - y_j)`` are their Parzen estimates with the Gaussian kernel
``G_sigma(u) = (2 pi sigma^2)^(-D/2) exp(-|u|^2 / (2 sigma^2))``.  Every measure is the
*resubstitution plug-in* estimate: the expectation over p is replaced by the mean over the
samples x_i themselves, and the density by its Parzen estimate, including the sample's own
kernel (the term j = i; leave-one-out would drop it).  In nats:

    entropy             H(X)          = -1/N sum_i log p(x_i)
    cross-entropy       H(X; Y)       = -1/N sum_i log q(x_i)
    KL                  KL(X || Y)    = H(X; Y) - H(X)   = 1/N sum_i log p(x_i) / q(x_i)
    Renyi entropy       H_a(X)        = 1/(1 - a) log 1/N sum_i p(x_i)^(a - 1)
    Renyi cross-entropy H_a(X; Y)     = 1/(1 - a) log 1/N sum_i q(x_i)^(a - 1)
    Renyi divergence    D_a(X || Y)   = 1/(a - 1) log 1/N sum_i (p(x_i) / q(x_i))^(a - 1)
    Jensen-Shannon      JS(X, Y)      = 1/2 [1/N sum_i log p/m (x_i) + 1/M sum_j log q/m (y_j)],
                                        m = (p + q) / 2 the mixture
    mutual information  I(X; Y)       = H(X) + H(Y) - H(X, Y)   (paired rows; the joint kernel
                                        is the product G_sigma(x) G_sigma(y) = G_sigma((x, y)))

a > 0; a = 1 returns the Shannon measure (the limit a -> 1).

What they converge to.  As N, M grow, p -> p_s = p * G_sigma (the density convolved with the
kernel; for N(m, S) that is N(m, S + sigma^2 I)), but the mean over x_i stays an expectation
over the *unsmoothed* p.  So H(X) -> -E_p[log p_s] = H(p, p_s), the cross-entropy of p with its
smoothed version (``gaussian.cross_entropy(m, S, m, S + sigma^2 I)``), not H(p_s); each measure
is the corresponding functional of (p, p_s, q_s), and all approach the measures of p and q as
sigma -> 0.  The i = j term biases p(x_i) up by about G_sigma(0) / N.

Relation to the quadratic entropy of :mod:`.kde`.  At a = 2 the plug-in Renyi entropy is
``-log 1/N^2 sum_ij G_sigma(x_i - x_j)``, which is exactly ``kde.renyi_quadratic_entropy(X,
sigma / sqrt 2)``: the two definitions coincide once the bandwidths match (kde.py integrates the
square of a Parzen estimate, whose pairwise kernel is G_{sigma sqrt 2}; here the estimate is
evaluated at the samples, with the kernel G_sigma itself).

Signs.  Differential entropies can be negative.  The finite-sample KL, Renyi divergence,
Jensen-Shannon and mutual information estimates are not guaranteed >= 0 (e.g. X = {-1, 1},
Y = {0}, sigma = 1 gives KL(X || Y) = -0.066); JS is always <= log 2 (p / m <= 2), and
JS(X, Y) = JS(Y, X).

Gradients.  All reduce to the log-densities ``l_i = log p(a_i)`` of points ``a_i`` under the
Parzen estimate of samples ``b_j``, with softmax weights ``w_ij = G(a_i - b_j) / sum_k G(a_i -
b_k)``: ``dl_i/da_i = -sum_j w_ij (a_i - b_j) / sigma^2`` and ``dl_i/db_j = w_ij (a_i - b_j) /
sigma^2``.  Each measure supplies dF/dl_i (:func:`_log_density_vjp` does the rest); for the
Renyi measures that is -softmax_i((a - 1) l_i), the uniform 1/N at a = 1.  Everything is in the
log domain (log-sum-exp), so far-apart samples or high D never give log 0.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_scalar
from minivae.information.kde import check_pair, check_samples, log_kernel_matrix

__all__ = [
    "cross_entropy",
    "cross_entropy_grad",
    "entropy",
    "entropy_grad",
    "js_divergence",
    "js_divergence_grad",
    "kl_divergence",
    "kl_divergence_grad",
    "log_parzen_density",
    "mutual_information",
    "mutual_information_grad",
    "renyi_cross_entropy",
    "renyi_cross_entropy_grad",
    "renyi_divergence",
    "renyi_divergence_grad",
    "renyi_entropy",
    "renyi_entropy_grad",
]

Grads = tuple[np.ndarray, np.ndarray]


# ------------------------------------------------------------------------------ validation
def check_alpha(alpha: object) -> float:
    """Renyi's order: a finite number > 0 (alpha = 1 is the Shannon limit)."""
    return check_scalar(alpha, "alpha", low=0.0, low_inclusive=False)


def check_sigma(sigma: object) -> float:
    """The bandwidth: a finite number in [1e-100, 1e100], so that sigma^2 neither underflows
    to 0 nor overflows (the kernel and its gradient divide by it)."""
    return check_scalar(sigma, "sigma", low=1e-100, high=1e100)


def check_paired(X: object, Y: object) -> Grads:
    """Paired samples X: (N, Dx), Y: (N, Dy): the same N rows, any feature counts."""
    X, Y = check_samples(X, "X"), check_samples(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must be paired (the same number of rows N, axis 0), got "
                         f"X: {X.shape} and Y: {Y.shape}")
    return X, Y


# ------------------------------------------------------------------------------ building block
def _log_kernel(A: np.ndarray, B: np.ndarray, sigma: float) -> np.ndarray:
    """log G_sigma(a_i - b_j): (P, M).  kde's matrix is G_{s sqrt 2}; s = sigma / sqrt 2."""
    return log_kernel_matrix(A, B, sigma / np.sqrt(2.0))


def _log_density(A: np.ndarray, B: np.ndarray, sigma: float) -> np.ndarray:
    """l_i = log 1/M sum_j G_sigma(a_i - b_j): (P,), by log-sum-exp over j."""
    logK = _log_kernel(A, B, sigma)
    m = logK.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(logK - m).mean(axis=1, keepdims=True)))[:, 0]


def _log_density_vjp(A: np.ndarray, B: np.ndarray, sigma: float, c: np.ndarray) -> Grads:
    """(dF/dA: (P, D), dF/dB: (M, D)) of F = sum_i c_i l_i, l = _log_density(A, B, sigma).

    W_ij = c_i w_ij with w the softmax over j of the log kernel; the sums over the differences
    a_i - b_j are written as matrix products (no (P, M, D) array)."""
    logK = _log_kernel(A, B, sigma)
    w = np.exp(logK - logK.max(axis=1, keepdims=True))
    W = c[:, None] * w / w.sum(axis=1, keepdims=True)
    dA = -(W.sum(axis=1)[:, None] * A - W @ B) / sigma**2
    dB = (W.T @ A - W.sum(axis=0)[:, None] * B) / sigma**2
    return dA, dB


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max())
    return e / e.sum()


def _log_mean_exp(v: np.ndarray) -> float:
    m = float(v.max())
    return m + float(np.log(np.exp(v - m).mean()))


def log_parzen_density(points: object, X: object, sigma: float) -> np.ndarray:
    """log p(x) at ``points: (P, D)`` for the Parzen estimate of ``X: (N, D)`` -> (P,)."""
    points, X = check_pair(points, X)
    return _log_density(points, X, check_sigma(sigma))


# ------------------------------------------------------------------------------ Shannon
def entropy(X: object, sigma: float) -> float:
    """H(X) = -1/N sum_i log p(x_i), the resubstitution estimate (nats).  X: (N, D)."""
    return renyi_entropy(X, 1.0, sigma)


def entropy_grad(X: object, sigma: float) -> np.ndarray:
    """dH(X)/dX: (N, D)."""
    return renyi_entropy_grad(X, 1.0, sigma)


def cross_entropy(X: object, Y: object, sigma: float) -> float:
    """H(X; Y) = -1/N sum_i log q(x_i): the samples of X under the Parzen estimate of Y."""
    return renyi_cross_entropy(X, Y, 1.0, sigma)


def cross_entropy_grad(X: object, Y: object, sigma: float) -> Grads:
    """(dH(X; Y)/dX: (N, D), dH(X; Y)/dY: (M, D))."""
    return renyi_cross_entropy_grad(X, Y, 1.0, sigma)


def kl_divergence(X: object, Y: object, sigma: float) -> float:
    """KL(X || Y) = 1/N sum_i log p(x_i) / q(x_i) = H(X; Y) - H(X)."""
    return renyi_divergence(X, Y, 1.0, sigma)


def kl_divergence_grad(X: object, Y: object, sigma: float) -> Grads:
    """(dKL/dX: (N, D), dKL/dY: (M, D))."""
    return renyi_divergence_grad(X, Y, 1.0, sigma)


# ------------------------------------------------------------------------------ Renyi
def _renyi(l: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """1/(1 - a) log mean_i exp((a - 1) l_i) and its derivative -softmax((a - 1) l) w.r.t. l;
    a = 1 is the limit -mean(l) with derivative -1/N."""
    c = -_softmax((alpha - 1.0) * l)
    if alpha == 1.0:
        return -float(l.mean()), c
    return _log_mean_exp((alpha - 1.0) * l) / (1.0 - alpha), c


def renyi_entropy(X: object, alpha: float, sigma: float) -> float:
    """H_a(X) = 1/(1 - a) log 1/N sum_i p(x_i)^(a - 1); a = 1 gives :func:`entropy`, a = 2
    equals ``kde.renyi_quadratic_entropy(X, sigma / sqrt 2)`` (module docstring)."""
    X, alpha, sigma = check_samples(X), check_alpha(alpha), check_sigma(sigma)
    return _renyi(_log_density(X, X, sigma), alpha)[0]


def renyi_entropy_grad(X: object, alpha: float, sigma: float) -> np.ndarray:
    """dH_a(X)/dX: (N, D); x_i is both a point and a sample, so both gradients add."""
    X, alpha, sigma = check_samples(X), check_alpha(alpha), check_sigma(sigma)
    _, c = _renyi(_log_density(X, X, sigma), alpha)
    dA, dB = _log_density_vjp(X, X, sigma, c)
    return dA + dB


def renyi_cross_entropy(X: object, Y: object, alpha: float, sigma: float) -> float:
    """H_a(X; Y) = 1/(1 - a) log 1/N sum_i q(x_i)^(a - 1); a = 1 gives :func:`cross_entropy`."""
    (X, Y), alpha, sigma = check_pair(X, Y), check_alpha(alpha), check_sigma(sigma)
    return _renyi(_log_density(X, Y, sigma), alpha)[0]


def renyi_cross_entropy_grad(X: object, Y: object, alpha: float, sigma: float) -> Grads:
    """(dH_a(X; Y)/dX: (N, D), dH_a(X; Y)/dY: (M, D))."""
    (X, Y), alpha, sigma = check_pair(X, Y), check_alpha(alpha), check_sigma(sigma)
    _, c = _renyi(_log_density(X, Y, sigma), alpha)
    return _log_density_vjp(X, Y, sigma, c)


def _renyi_div(X: np.ndarray, Y: np.ndarray, alpha: float, sigma: float
               ) -> tuple[float, np.ndarray]:
    """D_a = -H_a applied to l_i = log p(x_i) - log q(x_i) (so the sign of c flips)."""
    value, c = _renyi(_log_density(X, X, sigma) - _log_density(X, Y, sigma), alpha)
    return -value, -c


def renyi_divergence(X: object, Y: object, alpha: float, sigma: float) -> float:
    """D_a(X || Y) = 1/(a - 1) log 1/N sum_i (p(x_i) / q(x_i))^(a - 1); a = 1 gives
    :func:`kl_divergence`.  Not symmetric; the finite-sample estimate can be < 0."""
    (X, Y), alpha, sigma = check_pair(X, Y), check_alpha(alpha), check_sigma(sigma)
    return _renyi_div(X, Y, alpha, sigma)[0]


def renyi_divergence_grad(X: object, Y: object, alpha: float, sigma: float) -> Grads:
    """(dD_a/dX: (N, D), dD_a/dY: (M, D)): +c through log p(x_i), -c through log q(x_i)."""
    (X, Y), alpha, sigma = check_pair(X, Y), check_alpha(alpha), check_sigma(sigma)
    _, c = _renyi_div(X, Y, alpha, sigma)
    dA, dB = _log_density_vjp(X, X, sigma, c)
    dX, dY = _log_density_vjp(X, Y, sigma, -c)
    return dA + dB + dX, dY


# ------------------------------------------------------------------------------ Jensen-Shannon
def _js_half(A: np.ndarray, B: np.ndarray, sigma: float) -> tuple[float, np.ndarray, np.ndarray]:
    """The half of JS estimated on the samples A (density a, the other b, m = (a + b) / 2):
    1/(2P) sum_i log a(a_i) / m(a_i), and its derivatives w.r.t. log a(a_i) and log b(a_i).
    log m = logaddexp(log a, log b) - log 2, so with r = b / (a + b) they are +-r / (2P)."""
    la, lb = _log_density(A, A, sigma), _log_density(A, B, sigma)
    lab = np.logaddexp(la, lb)
    r = np.exp(lb - lab) / (2.0 * A.shape[0])
    return float(np.mean(la - lab + np.log(2.0))) / 2.0, r, -r


def _js_half_grad(A: np.ndarray, B: np.ndarray, sigma: float) -> Grads:
    """(d/dA, d/dB) of :func:`_js_half`: A enters log a(a_i) twice (point and sample) and
    log b(a_i) as the points; B only as the samples of b."""
    _, c_a, c_b = _js_half(A, B, sigma)
    dA1, dA2 = _log_density_vjp(A, A, sigma, c_a)
    dA3, dB = _log_density_vjp(A, B, sigma, c_b)
    return dA1 + dA2 + dA3, dB


def js_divergence(X: object, Y: object, sigma: float) -> float:
    """JS(X, Y) = 1/2 KL(p || m) + 1/2 KL(q || m), each half estimated on its own samples;
    symmetric, <= log 2, 0 when X = Y; the finite-sample estimate is not guaranteed >= 0."""
    (X, Y), sigma = check_pair(X, Y), check_sigma(sigma)
    return _js_half(X, Y, sigma)[0] + _js_half(Y, X, sigma)[0]


def js_divergence_grad(X: object, Y: object, sigma: float) -> Grads:
    """(dJS/dX: (N, D), dJS/dY: (M, D)): the two halves' gradients added."""
    (X, Y), sigma = check_pair(X, Y), check_sigma(sigma)
    dX_x, dY_x = _js_half_grad(X, Y, sigma)
    dY_y, dX_y = _js_half_grad(Y, X, sigma)
    return dX_x + dX_y, dY_x + dY_y


# ------------------------------------------------------------------------------ mutual information
def mutual_information(X: object, Y: object, sigma: float) -> float:
    """I(X; Y) = H(X) + H(Y) - H(X, Y) of paired samples X: (N, Dx), Y: (N, Dy); the joint
    Parzen window is the product kernel, i.e. G_sigma on the rows (x_i, y_i)."""
    (X, Y), sigma = check_paired(X, Y), check_sigma(sigma)
    return entropy(X, sigma) + entropy(Y, sigma) - entropy(np.hstack([X, Y]), sigma)


def mutual_information_grad(X: object, Y: object, sigma: float) -> Grads:
    """(dI/dX: (N, Dx), dI/dY: (N, Dy)); the joint entropy's gradient split by columns."""
    (X, Y), sigma = check_paired(X, Y), check_sigma(sigma)
    dJ = entropy_grad(np.hstack([X, Y]), sigma)
    Dx = X.shape[1]
    return entropy_grad(X, sigma) - dJ[:, :Dx], entropy_grad(Y, sigma) - dJ[:, Dx:]
