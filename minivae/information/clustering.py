"""Clustering in NumPy, and how to score it without labels: what a mixture-prior VAE's clusters
are compared against.

* :func:`hungarian` — the Kuhn-Munkres assignment (Kuhn 1955; Munkres 1957) in the O(n^2 m)
  shortest-augmenting-path form with row and column potentials (Jonker & Volgenant 1987):
  the rows and columns of a cost matrix (n, m) matched one-to-one at the least total cost;
* :func:`clustering_accuracy` — the unsupervised clustering accuracy of the deep-clustering
  papers (Xie et al. 2016; Jiang et al. 2017, "VaDE"): ACC = max over one-to-one maps g of
  (1/N) sum_n [y_n = g(c_n)], the best map found by :func:`hungarian` on the contingency table;
* :func:`kmeans` — Lloyd's algorithm with k-means++ seeding (Arthur & Vassilvitskii 2007);
* :func:`fit_gmm` — a Gaussian mixture with diagonal covariances fitted by EM (Dempster, Laird
  & Rubin 1977), started from k-means: what initialises VaDE's prior (Jiang et al. 2017).

Every random choice takes an explicit ``numpy.random.Generator`` (or int seed).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng, check_scalar
from minivae.nn.functional import logsumexp

__all__ = ["GaussianMixtureFit", "KMeansFit", "clustering_accuracy", "contingency",
           "fit_gmm", "gmm_log_responsibilities", "hungarian", "kmeans"]


# ------------------------------------------------------------------------------ assignment
def hungarian(cost: object) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one assignment of the rows and columns of ``cost`` (n, m).

    Returns (rows, cols), each of length min(n, m), rows increasing: row rows[i] goes to column
    cols[i] and ``cost[rows, cols].sum()`` is the least possible.  (The same answer as
    ``scipy.optimize.linear_sum_assignment`` up to ties.)

    Algorithm: rows are added one at a time; each finds the shortest augmenting path in the
    reduced costs cost[i, j] - u[i] - v[j] >= 0 (Dijkstra over columns) and flips it, then the
    potentials u, v are updated so the reduced costs stay >= 0.  n rows of O(n m) each: O(n^2 m).
    """
    cost = check_array(cost, "cost", ndim=2, dtype=np.float64)
    if cost.shape[0] > cost.shape[1]:  # the loop below needs n <= m: solve the transpose
        cols, rows = hungarian(cost.T)
        order = np.argsort(rows)
        return rows[order], cols[order]
    n, m = cost.shape
    cost = cost - cost.min()  # shifts every assignment's total alike; keeps the numbers small
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    match = np.zeros(m + 1, dtype=np.int64)  # match[j]: the row (1-based) on column j; 0 = free
    for i in range(1, n + 1):
        _augment(cost, i, u, v, match)
    cols = np.nonzero(match[1:])[0]
    rows = match[1:][cols] - 1
    order = np.argsort(rows)
    return rows[order], cols[order]


def _augment(cost: np.ndarray, i: int, u: np.ndarray, v: np.ndarray, match: np.ndarray) -> None:
    """Add row i (1-based): grow a shortest-path tree over columns from column 0 (a virtual
    column holding row i) until a free column is reached, then flip the path."""
    m = cost.shape[1]
    match[0] = i
    dist = np.full(m + 1, np.inf)  # tentative reduced-cost distance of each column
    prev = np.zeros(m + 1, dtype=np.int64)  # the column before j on its shortest path
    used = np.zeros(m + 1, dtype=bool)
    j0 = 0
    while match[j0] != 0:
        used[j0] = True
        i0 = match[j0]
        free = ~used[1:]
        reduced = cost[i0 - 1] - u[i0] - v[1:]  # reduced costs from row i0 to every column
        better = free & (reduced < dist[1:])
        dist[1:][better] = reduced[better]
        prev[1:][better] = j0
        candidates = np.where(free, dist[1:], np.inf)
        j1 = int(np.argmin(candidates)) + 1
        delta = candidates[j1 - 1]
        # tree columns (and their rows) move by delta; the others' distances shrink by it
        u[match[used]] += delta
        v[used] -= delta
        dist[1:][free] -= delta
        j0 = j1
    while j0 != 0:  # flip the augmenting path back to the virtual column
        j1 = prev[j0]
        match[j0] = match[j1]
        j0 = j1


# ------------------------------------------------------------------------------ accuracy
def _check_labels(y: object, name: str) -> np.ndarray:
    """Integer-valued labels (N,): any real dtype whose values are whole numbers."""
    y = check_array(y, name, ndim=1)
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        raise ValueError(f"{name} must hold integer cluster / class labels, got non-integer "
                         f"values such as {float(y[y != np.round(y)][0])!r}")
    return y.astype(np.int64)


def contingency(y_true: object, y_pred: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The contingency table counts[a, b] = #{n: y_true[n] = classes[a], y_pred[n] =
    clusters[b]}, with the sorted distinct ``classes`` and ``clusters``.  y_true, y_pred: (N,)
    integer labels."""
    y_true, y_pred = _check_labels(y_true, "y_true"), _check_labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {y_true.shape[0]} "
                         f"and {y_pred.shape[0]}")
    classes, a = np.unique(y_true, return_inverse=True)
    clusters, b = np.unique(y_pred, return_inverse=True)
    counts = np.zeros((classes.size, clusters.size), dtype=np.int64)
    np.add.at(counts, (a, b), 1)
    return counts, classes, clusters


def clustering_accuracy(y_true: object, y_pred: object) -> float:
    """Unsupervised clustering accuracy: the fraction of examples whose cluster, mapped to a
    class by the best one-to-one map (:func:`hungarian` on the contingency table), is their
    class.  In [0, 1]; invariant to renaming the clusters.  With more clusters than classes
    the extra clusters map to nothing (their examples count as errors).
    y_true, y_pred: (N,) integer labels."""
    counts, _, _ = contingency(y_true, y_pred)
    rows, cols = hungarian(-counts.astype(np.float64))
    return float(counts[rows, cols].sum() / counts.sum())


# ------------------------------------------------------------------------------ k-means
class KMeansFit(NamedTuple):
    """centers (k, D), labels (N,), inertia (sum of squared distances to the centers),
    n_iter (Lloyd iterations run)."""

    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int


def _sq_distances(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """||x_n - c_k||^2 (N, k) as ||x||^2 - 2 x.c + ||c||^2 (one matrix product), >= 0."""
    d = np.sum(X**2, axis=1)[:, None] - 2.0 * X @ C.T + np.sum(C**2, axis=1)[None, :]
    return np.maximum(d, 0.0)


def _kmeans_pp(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: the first center uniformly, each next one with probability
    proportional to the squared distance to the nearest center chosen so far."""
    centers = [X[rng.integers(X.shape[0])]]
    nearest = _sq_distances(X, centers[0][None])[:, 0]
    for _ in range(1, k):
        total = nearest.sum()
        idx = rng.integers(X.shape[0]) if total <= 0 else rng.choice(X.shape[0],
                                                                      p=nearest / total)
        centers.append(X[idx])
        nearest = np.minimum(nearest, _sq_distances(X, X[idx][None])[:, 0])
    return np.array(centers)


def _check_points(X: object, k: int) -> np.ndarray:
    X = check_array(X, "X", ndim=2, dtype=np.float64)
    if X.shape[0] < k:
        raise ValueError(f"X must have at least k={k} rows to form k clusters, got {X.shape[0]}")
    if np.any(np.abs(X) > 1e150):
        raise ValueError("X has entries above 1e150 in magnitude: their squares overflow")
    return X


def kmeans(X: object, k: int, *, rng: np.random.Generator | int, n_init: int = 1,
           max_iter: int = 100, tol: float = 1e-8) -> KMeansFit:
    """k-means (Lloyd) on the rows of X (N, D) with k-means++ seeding; the best of ``n_init``
    runs (least inertia).  Stops when the inertia improves by less than ``tol`` (relative).
    An empty cluster is re-seeded at the point farthest from its center."""
    k = check_positive_int(k, "k")
    X = _check_points(X, k)
    rng = check_rng(rng)
    n_init = check_positive_int(n_init, "n_init")
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_scalar(tol, "tol", low=0.0)
    best = None
    for _ in range(n_init):
        fit = _lloyd(X, _kmeans_pp(X, k, rng), max_iter, tol)
        if best is None or fit.inertia < best.inertia:
            best = fit
    return best


def _lloyd(X: np.ndarray, centers: np.ndarray, max_iter: int, tol: float) -> KMeansFit:
    previous, it = np.inf, 0
    while it < max_iter:
        it += 1
        d = _sq_distances(X, centers)
        labels = np.argmin(d, axis=1)
        inertia = float(d[np.arange(X.shape[0]), labels].sum())
        counts = np.bincount(labels, minlength=centers.shape[0])
        sums = np.zeros_like(centers)
        np.add.at(sums, labels, X)
        for c in np.nonzero(counts == 0)[0]:  # re-seed an empty cluster at the worst point
            far = int(np.argmax(d[np.arange(X.shape[0]), labels]))
            sums[c], counts[c] = X[far], 1
        centers = sums / counts[:, None]
        if previous - inertia <= tol * max(inertia, 1e-300):
            break
        previous = inertia
    d = _sq_distances(X, centers)
    labels = np.argmin(d, axis=1)
    return KMeansFit(centers, labels, float(d[np.arange(X.shape[0]), labels].sum()), it)


# ------------------------------------------------------------------------------ Gaussian mixture
class GaussianMixtureFit(NamedTuple):
    """weights (k,), means (k, D), variances (k, D) (diagonal covariances), the mean
    log-likelihood per point of the last EM step, and the EM iterations run."""

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    log_likelihood: float
    n_iter: int


def gmm_log_responsibilities(X: object, weights: object, means: object,
                             variances: object) -> tuple[np.ndarray, np.ndarray]:
    """E step: (log p(c | x) (N, k), log p(x) (N,)) for the diagonal Gaussian mixture
    sum_c w_c N(x; m_c, diag(v_c)), by log-sum-exp over c."""
    means = check_array(means, "means", ndim=2, dtype=np.float64)
    k, D = means.shape
    X = check_array(X, "X", shape=(None, D), dtype=np.float64)
    weights = check_array(weights, "weights", shape=(k,), dtype=np.float64)
    variances = check_array(variances, "variances", shape=(k, D), dtype=np.float64)
    if np.any(weights <= 0) or np.any(variances <= 0):
        raise ValueError("weights and variances must be > 0")
    prec = 1.0 / variances
    sq = (X**2) @ prec.T - 2.0 * X @ (means * prec).T + np.sum(means**2 * prec, axis=1)
    log_joint = (np.log(weights) - 0.5 * (sq + np.sum(np.log(2.0 * np.pi * variances), axis=1)))
    log_px = logsumexp(log_joint, axis=1)
    return log_joint - log_px[:, None], log_px


def fit_gmm(X: object, k: int, *, rng: np.random.Generator | int, max_iter: int = 100,
            tol: float = 1e-6, min_variance: float = 1e-6) -> GaussianMixtureFit:
    """A k-component Gaussian mixture with diagonal covariances fitted to the rows of X (N, D)
    by EM, started from :func:`kmeans` (its clusters' fractions, means and variances).  Stops
    when the mean log-likelihood improves by less than ``tol``; variances are floored at
    ``min_variance`` (a component on one point would collapse to zero variance)."""
    k = check_positive_int(k, "k")
    X = _check_points(X, k)
    rng = check_rng(rng)
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_scalar(tol, "tol", low=0.0)
    floor = check_scalar(min_variance, "min_variance", low=0.0, low_inclusive=False)
    labels = kmeans(X, k, rng=rng).labels
    resp = np.eye(k)[labels]
    previous, it = -np.inf, 0
    while it < max_iter:
        it += 1
        weights, means, variances = _m_step(X, resp, floor)
        log_resp, log_px = gmm_log_responsibilities(X, weights, means, variances)
        resp = np.exp(log_resp)
        ll = float(log_px.mean())
        if ll - previous < tol:
            break
        previous = ll
    weights, means, variances = _m_step(X, resp, floor)
    return GaussianMixtureFit(weights, means, variances, ll, it)


def _m_step(X: np.ndarray, resp: np.ndarray, floor: float):
    """M step: the weighted fractions, means and diagonal variances of the components."""
    nk = resp.sum(axis=0) + 1e-12  # an empty component keeps finite (tiny-weight) parameters
    means = resp.T @ X / nk[:, None]
    variances = resp.T @ (X**2) / nk[:, None] - means**2
    return nk / nk.sum(), means, np.maximum(variances, floor)
