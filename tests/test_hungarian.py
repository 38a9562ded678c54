"""Hungarian assignment, clustering accuracy, k-means and the Gaussian-mixture EM
(minivae.information.clustering)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from minivae.information.clustering import (
    clustering_accuracy,
    contingency,
    fit_gmm,
    gmm_log_responsibilities,
    hungarian,
    kmeans,
)


def brute_force(cost: np.ndarray) -> float:
    """Least total cost over every one-to-one assignment of min(n, m) rows and columns."""
    if cost.shape[0] > cost.shape[1]:
        return brute_force(cost.T)
    n, m = cost.shape
    return min(sum(cost[i, j] for i, j in zip(range(n), perm))
               for perm in itertools.permutations(range(m), n))


costs = st.tuples(st.integers(1, 5), st.integers(1, 5)).flatmap(
    lambda nm: arrays(np.float64, nm, elements=st.one_of(
        st.integers(-3, 3).map(float),  # ties
        st.floats(-100, 100, allow_nan=False, allow_infinity=False))))


@settings(max_examples=200, deadline=None)
@given(costs)
def test_hungarian_matches_brute_force(cost):
    rows, cols = hungarian(cost)
    k = min(cost.shape)
    assert rows.shape == cols.shape == (k,)
    assert len(set(rows.tolist())) == k and len(set(cols.tolist())) == k
    assert np.all(np.diff(rows) > 0)
    assert cost[rows, cols].sum() == pytest.approx(brute_force(cost), abs=1e-9)


def test_hungarian_matches_scipy_on_larger_matrices():
    scipy_opt = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(0)
    for n, m in ((40, 40), (25, 60), (60, 25), (100, 100)):
        cost = rng.random((n, m)) if n != 100 else rng.integers(0, 5, (n, m)).astype(float)
        rows, cols = hungarian(cost)
        r2, c2 = scipy_opt.linear_sum_assignment(cost)
        assert cost[rows, cols].sum() == pytest.approx(cost[r2, c2].sum(), abs=1e-9)


def test_hungarian_finds_a_hidden_permutation():
    perm = np.random.default_rng(1).permutation(30)
    cost = np.ones((30, 30))
    cost[np.arange(30), perm] = 0.0
    rows, cols = hungarian(cost)
    np.testing.assert_array_equal(cols, perm)


def test_hungarian_refuses_bad_costs():
    with pytest.raises(ValueError, match="cost"):
        hungarian(np.array([[0.0, np.inf]]))
    with pytest.raises(ValueError, match="cost"):
        hungarian(np.zeros(3))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000))
def test_clustering_accuracy_is_invariant_to_renaming(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, 30)
    pred = np.where(rng.random(30) < 0.7, y, rng.integers(0, 4, 30))
    renamed = rng.permutation(4)[pred] + 10
    assert clustering_accuracy(y, renamed) == pytest.approx(clustering_accuracy(y, pred))
    assert clustering_accuracy(y, rng.permutation(4)[y]) == 1.0
    # the best map is at least as good as the identity map
    assert clustering_accuracy(y, pred) >= np.mean(y == pred) - 1e-12


def test_clustering_accuracy_known_values():
    y = np.array([0, 0, 0, 1, 1, 1])
    assert clustering_accuracy(y, np.array([1, 1, 0, 0, 0, 0])) == pytest.approx(5 / 6)
    assert clustering_accuracy(y, np.zeros(6, dtype=int)) == pytest.approx(0.5)
    # more clusters than classes: extra clusters map to nothing
    assert clustering_accuracy(y, np.array([0, 1, 2, 3, 4, 5])) == pytest.approx(2 / 6)
    counts, classes, clusters = contingency(y, np.array([5, 5, 7, 7, 7, 7]))
    np.testing.assert_array_equal(counts, [[2, 1], [0, 3]])
    np.testing.assert_array_equal(clusters, [5, 7])


def test_clustering_accuracy_refuses_bad_labels():
    with pytest.raises(ValueError, match="y_pred"):
        clustering_accuracy(np.array([0, 1]), np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="same length"):
        clustering_accuracy(np.array([0, 1]), np.array([0, 1, 1]))


def _blobs(seed: int, k: int = 3, n: int = 60):
    rng = np.random.default_rng(seed)
    centers = 10.0 * rng.standard_normal((k, 2))
    y = np.repeat(np.arange(k), n)
    return centers[y] + rng.standard_normal((k * n, 2)), y, centers


def test_kmeans_recovers_separated_blobs_and_is_seeded():
    X, y, _ = _blobs(0)
    fit = kmeans(X, 3, rng=0, n_init=3)
    assert clustering_accuracy(y, fit.labels) > 0.95
    again = kmeans(X, 3, rng=0, n_init=3)
    np.testing.assert_array_equal(fit.labels, again.labels)
    d = ((X[:, None] - fit.centers[None]) ** 2).sum(-1)
    assert fit.inertia == pytest.approx(d.min(axis=1).sum())
    with pytest.raises(ValueError, match="k=4"):
        kmeans(X[:3], 4, rng=0)


def test_gmm_em_recovers_a_mixture():
    rng = np.random.default_rng(3)
    means = np.array([[0.0, 0.0], [6.0, 0.0]])
    stds = np.array([[1.0, 0.5], [0.5, 2.0]])
    c = rng.random(4000) < 0.3
    X = means[c.astype(int)] + stds[c.astype(int)] * rng.standard_normal((4000, 2))
    fit = fit_gmm(X, 2, rng=0)
    order = np.argsort(fit.means[:, 0])
    np.testing.assert_allclose(fit.weights[order], [0.7, 0.3], atol=0.03)
    np.testing.assert_allclose(fit.means[order], means, atol=0.15)
    np.testing.assert_allclose(np.sqrt(fit.variances[order]), stds, atol=0.1)
    log_resp, log_px = gmm_log_responsibilities(X, fit.weights, fit.means, fit.variances)
    np.testing.assert_allclose(np.exp(log_resp).sum(axis=1), 1.0, atol=1e-12)
    assert float(log_px.mean()) == pytest.approx(fit.log_likelihood, abs=1e-3)
