r"""Information measures estimated from samples with a Parzen window (a Gaussian KDE), and their
gradients with respect to the samples.

Samples are ``X: (N, D)`` and ``Y: (M, D)``.  With the Gaussian kernel of bandwidth sigma,
``G_s(u) = (2 pi s^2)^(-D/2) exp(-|u|^2 / (2 s^2))``, the Parzen estimate of the density of X is
``p(x) = 1/N sum_i G_sigma(x - x_i)``.  Because the convolution of two Gaussian kernels is a
Gaussian kernel with the variances added, the integrals of products of two such estimates are
double sums over pairs of samples, with the wider kernel ``G_{sigma sqrt 2}`` (Principe's
information-theoretic learning; Singh & Ogunfunmi, Entropy 2022, section 2.1):

    QIP   V(X)    = int p(x)^2 dx   = 1/N^2  sum_i sum_j G_{sigma sqrt 2}(x_i - x_j)
    CIP   V(X, Y) = int p(x) q(x) dx = 1/(NM) sum_i sum_j G_{sigma sqrt 2}(x_i - y_j)
    Renyi's quadratic entropy  H_2(X) = -log V(X)
    Euclidean divergence       D_ED(X, Y) = V(X) + V(Y) - 2 V(X, Y)            (= int (p - q)^2)
    Cauchy-Schwarz divergence  D_CS(X, Y) = log V(X) + log V(Y) - 2 log V(X, Y)
                                          = -log( (int p q)^2 / (int p^2 int q^2) )

Both divergences are symmetric and >= 0 (D_CS by the Cauchy-Schwarz inequality), and zero
when the two estimates coincide.  They estimate the measures of the *kernel-smoothed* densities
``p * G_sigma`` and ``q * G_sigma``: for Gaussian data N(mu, S) the large-N limit is the closed
form of :mod:`minivae.information.gaussian` with ``S + sigma^2 I`` (the sums include the pairs
i = j, a bias of order 1/N).

Gradients.  With ``K_ij = G_{sigma sqrt 2}(x_i - y_j)``,
``d K_ij / d x_i = -K_ij (x_i - y_j) / (2 sigma^2)``, so

    dV(X, Y)/dx_i = -1/(NM) sum_j K_ij (x_i - y_j) / (2 sigma^2)     (and -that for y_j)
    dV(X)/dx_i    = -2/N^2  sum_j K_ij (x_i - x_j) / (2 sigma^2)     (x_i: row i and column i)

The logarithms (H_2, D_CS) are computed in the log domain (log-sum-exp over the pairs), so they
stay finite when every kernel value underflows (far-apart samples, high D); their gradients use
the normalised weights ``K_ij / sum K`` instead of K.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_scalar

__all__ = [
    "cip",
    "cip_grad",
    "cs_divergence",
    "cs_divergence_grad",
    "euclidean_divergence",
    "euclidean_divergence_grad",
    "log_cip",
    "log_cip_grad",
    "log_qip",
    "log_qip_grad",
    "parzen_density",
    "qip",
    "qip_grad",
    "renyi_quadratic_entropy",
    "renyi_quadratic_entropy_grad",
]


# ------------------------------------------------------------------------------ validation
def check_samples(X: object, name: str = "X") -> np.ndarray:
    """Samples as a float64 array (N, D), N >= 1, all finite."""
    return check_array(X, name, ndim=2, dtype=np.float64)


def check_pair(X: object, Y: object) -> tuple[np.ndarray, np.ndarray]:
    """Two sample sets (N, D) and (M, D) with the same D."""
    X, Y = check_samples(X, "X"), check_samples(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X and Y must have the same number of features D (axis 1), got "
                         f"X: {X.shape} and Y: {Y.shape}")
    return X, Y


def check_sigma(sigma: object) -> float:
    """The kernel bandwidth: a finite number > 0 and <= 1e150 (the kernel squares it: a
    larger sigma overflows float64)."""
    return check_scalar(sigma, "sigma", low=0.0, low_inclusive=False, high=1e150)


# ------------------------------------------------------------------------------ the kernel
def log_kernel_matrix(X: np.ndarray, Y: np.ndarray, sigma: float) -> np.ndarray:
    """log G_{sigma sqrt 2}(x_i - y_j): (N, M), the log of the pairwise kernel of the products.

    G_{sigma sqrt 2}(u) = (4 pi sigma^2)^(-D/2) exp(-|u|^2 / (4 sigma^2)).
    """
    D = X.shape[1]
    # |x - y|^2 = |x|^2 + |y|^2 - 2 x.y can come out slightly negative by rounding: clip at 0.
    sq = np.sum(X**2, axis=1)[:, None] + np.sum(Y**2, axis=1)[None, :] - 2.0 * X @ Y.T
    sq = np.maximum(sq, 0.0)
    return -sq / (4.0 * sigma**2) - 0.5 * D * np.log(4.0 * np.pi * sigma**2)


def _pull(W: np.ndarray, X: np.ndarray, Y: np.ndarray, sigma: float) -> tuple[np.ndarray, ...]:
    """d/dX and d/dY of sum_ij W_ij-weighted kernels: with W_ij = (weight of pair ij) * K_ij,
    returns (-sum_j W_ij (x_i - y_j), +sum_i W_ij (x_i - y_j)) / (2 sigma^2) without ever
    building the (N, M, D) array of differences."""
    dX = -(W.sum(axis=1)[:, None] * X - W @ Y) / (2.0 * sigma**2)
    dY = (W.T @ X - W.sum(axis=0)[:, None] * Y) / (2.0 * sigma**2)
    return dX, dY


def parzen_density(points: object, X: object, sigma: float) -> np.ndarray:
    """The Parzen estimate p(x) = 1/N sum_i G_sigma(x - x_i) at ``points: (P, D)`` -> (P,)."""
    points, X = check_pair(points, X)
    sigma = check_sigma(sigma)
    # G_sigma(u) = G_{s sqrt 2}(u) with s = sigma / sqrt 2.
    return np.exp(log_kernel_matrix(points, X, sigma / np.sqrt(2.0))).mean(axis=1)


# ------------------------------------------------------------------------------ CIP and QIP
def log_cip(X: object, Y: object, sigma: float) -> float:
    """log V(X, Y), computed with log-sum-exp over the N * M pairs (finite even when every
    kernel value underflows)."""
    X, Y = check_pair(X, Y)
    logK = log_kernel_matrix(X, Y, check_sigma(sigma))
    m = float(logK.max())
    return m + float(np.log(np.exp(logK - m).mean()))


def log_cip_grad(X: object, Y: object, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(d log V(X, Y)/dX: (N, D), d log V(X, Y)/dY: (M, D)): the CIP gradient divided by the
    CIP, i.e. the pairs weighted by the normalised kernel K_ij / sum K."""
    X, Y = check_pair(X, Y)
    sigma = check_sigma(sigma)
    logK = log_kernel_matrix(X, Y, sigma)
    W = np.exp(logK - logK.max())
    return _pull(W / W.sum(), X, Y, sigma)


def cip(X: object, Y: object, sigma: float) -> float:
    """The cross information potential V(X, Y) = 1/(NM) sum_ij G_{sigma sqrt 2}(x_i - y_j).

    X: (N, D), Y: (M, D); sigma > 0 the Parzen bandwidth.  Estimates int p q.
    """
    X, Y = check_pair(X, Y)
    return float(np.exp(log_kernel_matrix(X, Y, check_sigma(sigma))).mean())


def cip_grad(X: object, Y: object, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(dV(X, Y)/dX: (N, D), dV(X, Y)/dY: (M, D)); see the module docstring."""
    X, Y = check_pair(X, Y)
    sigma = check_sigma(sigma)
    K = np.exp(log_kernel_matrix(X, Y, sigma))
    return _pull(K / K.size, X, Y, sigma)


def qip(X: object, sigma: float) -> float:
    """The quadratic information potential V(X) = 1/N^2 sum_ij G_{sigma sqrt 2}(x_i - x_j).

    X: (N, D); estimates int p^2 (the "information potential" of Renyi's quadratic entropy).
    """
    X = check_samples(X)
    return cip(X, X, sigma)


def qip_grad(X: object, sigma: float) -> np.ndarray:
    """dV(X)/dX: (N, D).  Every x_i appears in row i and column i of the pair sum, so the
    gradient is the sum of the CIP's two gradients with Y = X: twice the row term."""
    X = check_samples(X)
    dX, dY = cip_grad(X, X, sigma)
    return dX + dY


def log_qip(X: object, sigma: float) -> float:
    """log V(X) via log-sum-exp."""
    X = check_samples(X)
    return log_cip(X, X, sigma)


def log_qip_grad(X: object, sigma: float) -> np.ndarray:
    """d log V(X)/dX: (N, D)."""
    X = check_samples(X)
    dX, dY = log_cip_grad(X, X, sigma)
    return dX + dY


# --------------------------------------------------------------------- entropy, divergences
def renyi_quadratic_entropy(X: object, sigma: float) -> float:
    """Renyi's quadratic entropy H_2(X) = -log V(X) of the Parzen estimate (nats)."""
    return -log_qip(X, sigma)


def renyi_quadratic_entropy_grad(X: object, sigma: float) -> np.ndarray:
    """dH_2/dX = -d log V(X)/dX: (N, D)."""
    return -log_qip_grad(X, sigma)


def euclidean_divergence(X: object, Y: object, sigma: float) -> float:
    """D_ED(X, Y) = V(X) + V(Y) - 2 V(X, Y): the integrated squared difference of the two
    Parzen estimates, int (p - q)^2 >= 0; symmetric."""
    X, Y = check_pair(X, Y)
    return qip(X, sigma) + qip(Y, sigma) - 2.0 * cip(X, Y, sigma)


def euclidean_divergence_grad(X: object, Y: object, sigma: float
                              ) -> tuple[np.ndarray, np.ndarray]:
    """(dD_ED/dX: (N, D), dD_ED/dY: (M, D))."""
    X, Y = check_pair(X, Y)
    dX, dY = cip_grad(X, Y, sigma)
    return qip_grad(X, sigma) - 2.0 * dX, qip_grad(Y, sigma) - 2.0 * dY


def cs_divergence(X: object, Y: object, sigma: float) -> float:
    """D_CS(X, Y) = log V(X) + log V(Y) - 2 log V(X, Y) = -log((int pq)^2 / (int p^2 int q^2)):
    >= 0 (Cauchy-Schwarz), symmetric, 0 iff the Parzen estimates are equal; invariant to
    scaling either density, which is what makes it insensitive to the sizes N and M."""
    X, Y = check_pair(X, Y)
    return log_qip(X, sigma) + log_qip(Y, sigma) - 2.0 * log_cip(X, Y, sigma)


def cs_divergence_grad(X: object, Y: object, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(dD_CS/dX: (N, D), dD_CS/dY: (M, D))."""
    X, Y = check_pair(X, Y)
    dX, dY = log_cip_grad(X, Y, sigma)
    return log_qip_grad(X, sigma) - 2.0 * dX, log_qip_grad(Y, sigma) - 2.0 * dY
