"""FastICA (minivae.apps.ica): recovers a known mixing of generated non-Gaussian sources."""

from itertools import permutations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.apps.ica import fastica, whiten


def _sources(n: int, T: int, rng: np.random.Generator) -> np.ndarray:
    """n independent non-Gaussian sources: sine, sawtooth, Laplace noise, uniform noise, ..."""
    t = np.arange(T) / T
    pool = [
        np.sin(2 * np.pi * 7.3 * t),
        2.0 * ((5.1 * t) % 1.0) - 1.0,
        rng.laplace(size=T),
        rng.uniform(-1.0, 1.0, size=T),
        np.sign(np.sin(2 * np.pi * 3.7 * t)),
    ]
    return np.stack(pool[:n])


def _best_abs_corr(est: np.ndarray, true: np.ndarray) -> np.ndarray:
    """|correlation| of each true source with its estimate under the best permutation."""
    n = true.shape[0]
    corr = np.abs(np.corrcoef(est, true)[:n, n:])  # (est, true)
    best = max(permutations(range(n)), key=lambda p: sum(corr[p[j], j] for j in range(n)))
    return np.array([corr[best[j], j] for j in range(n)])


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_known_mixing(n, seed):
    rng = np.random.default_rng(seed)
    S = _sources(n, 5000, rng)
    A = np.array([[1.0, 0.8, 0.3], [-0.6, 1.0, 0.5], [0.4, -0.7, 1.0]])[:n, :n]
    A = A @ np.diag(rng.uniform(0.5, 2.0, n))  # known mixing, columns scaled per seed
    X = A @ S + rng.uniform(-3, 3, size=(n, 1))  # channel offsets: removed by centring
    res = fastica(X, rng=seed)
    assert res.converged
    assert np.all(_best_abs_corr(res.sources, S) > 0.99)
    # The factors are consistent: unit-variance sources, and mixing @ sources rebuilds X.
    np.testing.assert_allclose(res.sources.var(axis=1), 1.0, rtol=1e-8)
    np.testing.assert_allclose(res.mixing @ res.sources + res.mean[:, None], X, atol=1e-8)
    # The mixing really mixes: the channels themselves are far from the sources.
    assert np.min(_best_abs_corr(X, S)) < 0.9


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 4))
def test_recovers_random_mixings(seed, n):
    rng = np.random.default_rng(seed)
    S = _sources(n, 4000, rng)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(rng.uniform(0.5, 2.0, n))  # well conditioned, otherwise arbitrary
    res = fastica(A @ S, rng=seed)
    assert np.all(_best_abs_corr(res.sources, S) > 0.99)


def test_more_channels_than_sources():
    rng = np.random.default_rng(4)
    S = _sources(2, 4000, rng)
    X = rng.standard_normal((4, 2)) @ S
    res = fastica(X, n_components=2, rng=0)
    assert res.sources.shape == (2, 4000) and res.mixing.shape == (4, 2)
    assert np.all(_best_abs_corr(res.sources, S) > 0.99)
    with pytest.raises(ValueError, match="independent channels"):
        fastica(X, n_components=3)


def test_whiten_gives_identity_covariance():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 3)) @ _sources(3, 3000, rng) + 5.0
    z, K, mean = whiten(X, 3)
    np.testing.assert_allclose(z @ z.T / z.shape[1], np.eye(3), atol=1e-10)
    np.testing.assert_allclose(K @ (X - mean[:, None]), z)


def test_reproducible_by_seed():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((3, 3)) @ _sources(3, 2000, rng)
    a, b = fastica(X, rng=5), fastica(X, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.unmixing, b.unmixing)


def test_bad_inputs_are_named():
    X = np.random.default_rng(0).standard_normal((2, 100))
    with pytest.raises(ValueError, match="n_components"):
        fastica(X, n_components=3)
    with pytest.raises(ValueError, match="more samples than channels"):
        fastica(X.T[:2])
    with pytest.raises(ValueError, match="alpha"):
        fastica(X, alpha=5.0)
    with pytest.raises(ValueError, match="X must have 2 dimensions"):
        fastica(X[0])
