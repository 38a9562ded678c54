"""Maximum mean discrepancy (MMD; Gretton et al., 2012) between two sample sets, with its gradient
with respect to both sets.

For a kernel k and samples x_1..x_n ~ P, y_1..y_m ~ Q,

    MMD^2(P, Q) = E k(x, x') + E k(y, y') - 2 E k(x, y)

is the squared distance between the kernel mean embeddings of P and Q: zero iff P = Q for a
characteristic kernel (both kernels here are).  Two estimates:

* biased (V-statistic): the three expectations as plain means over all pairs, diagonal included
  (i = j).  Always >= 0; its mean is MMD^2 plus a positive O(1/n) term.
* unbiased (U-statistic): the within-set means leave out the diagonal, sum_{i != j} / (n(n-1));
  its expectation is exactly MMD^2, so an estimate can be negative when P = Q.

Kernels (both functions of the squared distance d = ||x - y||^2):

* ``"rbf"``:  k(d) = exp(-d / (2 sigma^2)),   bandwidth = sigma (InfoVAE: 2 sigma^2 = L);
* ``"imq"``:  k(d) = C / (C + d),             bandwidth = C (WAE-MMD: C = 2 L sigma_prior^2).

Gradients: with g_ij = dk/dd at d_ij, d k(x_i, y_j) / d x_i = 2 g_ij (x_i - y_j) and
d / d y_j = -2 g_ij (x_i - y_j); :func:`mmd_grad` sums these over the pairs of each term.
Shapes: x (n, L), y (m, L); every function works in x's floating dtype.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_magnitude, check_no_overflow, check_scalar

KERNELS = ("rbf", "imq")
#: the largest bandwidth accepted: its square (in the RBF kernel) is still a finite float64
MAX_BANDWIDTH = 1e150


def _check_samples(x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    x = check_array(x, "x", ndim=2)
    y = check_array(y, "y", ndim=2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same number of columns (dimensions), got "
                         f"x {x.shape} and y {y.shape}")
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    x, y = x, y.astype(x.dtype, copy=False)
    check_magnitude(x, "x")  # the kernels square the distances
    check_magnitude(y, "y")
    return x, y


def _check_kernel(kernel: str, bandwidth: float) -> float:
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    # bandwidth**2 must stay finite (above ~1.3e154 it overflows float64)
    return check_scalar(bandwidth, "bandwidth", low=0.0, low_inclusive=False, high=MAX_BANDWIDTH)


def squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d_ij = ||x_i - y_j||^2, (n, m), never negative (the expanded form can round below 0).
    x: (n, L), y: (m, L); an overflow (values near sqrt of the largest float) is refused."""
    x, y = _check_samples(x, y)
    with np.errstate(over="ignore", invalid="ignore"):
        d = np.sum(x**2, axis=1)[:, None] + np.sum(y**2, axis=1)[None, :] - 2.0 * (x @ y.T)
    check_no_overflow(d, "the squared distances", x=x, y=y)
    return np.maximum(d, 0.0)


def kernel_of_distance(d: np.ndarray, kernel: str, bandwidth: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """k(d) and its derivative dk/dd, element by element (d: squared distances, >= 0)."""
    d = check_array(d, "d", allow_empty=True)
    if d.size and float(np.min(d)) < 0:
        raise ValueError(f"d must hold squared distances (>= 0), got a minimum of {np.min(d)}")
    bandwidth = _check_kernel(kernel, bandwidth)
    if kernel == "rbf":
        k = np.exp(-d / (2.0 * bandwidth**2))
        return k, -k / (2.0 * bandwidth**2)
    k = bandwidth / (bandwidth + d)
    return k, -k**2 / bandwidth


def kernel_matrix(x: np.ndarray, y: np.ndarray, kernel: str = "rbf",
                  bandwidth: float = 1.0) -> np.ndarray:
    """K_ij = k(x_i, y_j), (n, m).  x: (n, L), y: (m, L)."""
    x, y = _check_samples(x, y)
    bandwidth = _check_kernel(kernel, bandwidth)
    return kernel_of_distance(squared_distances(x, y), kernel, bandwidth)[0]


def _term_weights(n: int, m: int, unbiased: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """The weight of every pair in the three means: (n, n) for xx, (m, m) for yy, and the
    scalar -2 / (n m) for xy.  The unbiased estimate zeroes the diagonals and divides by
    n(n - 1); it needs at least two samples per set."""
    if unbiased:
        if n < 2 or m < 2:
            raise ValueError(f"the unbiased MMD needs at least 2 samples in each set, got "
                             f"x with {n} and y with {m}")
        wx = (1.0 - np.eye(n)) / (n * (n - 1))
        wy = (1.0 - np.eye(m)) / (m * (m - 1))
    else:
        wx = np.full((n, n), 1.0 / (n * n))
        wy = np.full((m, m), 1.0 / (m * m))
    return wx, wy, -2.0 / (n * m)


def mmd(x: np.ndarray, y: np.ndarray, kernel: str = "rbf", bandwidth: float = 1.0, *,
        unbiased: bool = False) -> float:
    """The MMD^2 estimate between samples x: (n, L) and y: (m, L) (see the module docstring).

    Returns a float: >= 0 for the biased estimate; the unbiased one may dip below 0.
    """
    x, y = _check_samples(x, y)
    bandwidth = _check_kernel(kernel, bandwidth)
    wx, wy, wxy = _term_weights(x.shape[0], y.shape[0], unbiased)
    kxx = kernel_of_distance(squared_distances(x, x), kernel, bandwidth)[0]
    kyy = kernel_of_distance(squared_distances(y, y), kernel, bandwidth)[0]
    kxy = kernel_of_distance(squared_distances(x, y), kernel, bandwidth)[0]
    return float(np.sum(wx * kxx) + np.sum(wy * kyy) + wxy * np.sum(kxy))


def _pair_grad(a: np.ndarray, b: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of sum_ij G_ij' k(d_ij) where G = weight * dk/dd at d_ij = ||a_i - b_j||^2:
    d/da_i = 2 sum_j G_ij (a_i - b_j),  d/db_j = -2 sum_i G_ij (a_i - b_j)."""
    da = 2.0 * (G.sum(axis=1)[:, None] * a - G @ b)
    db = 2.0 * (G.sum(axis=0)[:, None] * b - G.T @ a)
    return da, db


def mmd_grad(x: np.ndarray, y: np.ndarray, kernel: str = "rbf", bandwidth: float = 1.0, *,
             unbiased: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(d MMD^2 / dx, d MMD^2 / dy), shapes of x (n, L) and y (m, L), of :func:`mmd` with the
    same arguments.  Each within-set term has x on both sides of the kernel, so both of its
    pair gradients land on x."""
    x, y = _check_samples(x, y)
    bandwidth = _check_kernel(kernel, bandwidth)
    wx, wy, wxy = _term_weights(x.shape[0], y.shape[0], unbiased)
    gxx = wx * kernel_of_distance(squared_distances(x, x), kernel, bandwidth)[1]
    gyy = wy * kernel_of_distance(squared_distances(y, y), kernel, bandwidth)[1]
    gxy = wxy * kernel_of_distance(squared_distances(x, y), kernel, bandwidth)[1]
    dx1, dx2 = _pair_grad(x, x, gxx)
    dy1, dy2 = _pair_grad(y, y, gyy)
    dx3, dy3 = _pair_grad(x, y, gxy)
    return dx1 + dx2 + dx3, dy1 + dy2 + dy3


def default_bandwidth(kernel: str, latent_dim: int) -> float:
    """The bandwidths the papers use against a standard-normal prior in ``latent_dim``
    dimensions: RBF with 2 sigma^2 = L (Zhao et al.'s InfoVAE code), IMQ with C = 2 L
    (Tolstikhin et al., WAE, with sigma_prior^2 = 1)."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    return float(np.sqrt(latent_dim / 2.0)) if kernel == "rbf" else 2.0 * latent_dim
