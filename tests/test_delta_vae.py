"""delta-VAE (Razavi et al. 2019): the KL of a diagonal Gaussian to the AR(1) prior against the
dense-matrix formula, its chain-rule terms, the committed rate delta(alpha) as the minimum over
every diagonal posterior, the inverse alpha_for_rate, the prior as a RhoGaussian, bad input.
(The gradients are checked by ``python -m minivae.gradcheck --only delta_vae``; here the test
calls that registration too.)"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck.registry import run_checks
from minivae.objectives.delta_vae import (
    ALPHA_MAX,
    alpha_for_rate,
    ar1_prior,
    committed_rate,
    delta_elbo_backward,
    delta_kl,
    delta_kl_grad,
)
from minivae.objectives.distributions import DiagonalGaussian


def _ar1(alpha: float, L: int) -> np.ndarray:
    i = np.arange(L)
    return alpha ** np.abs(i[:, None] - i[None, :])


def _dense_kl(mu: np.ndarray, logvar: np.ndarray, alpha: float) -> np.ndarray:
    """KL(N(mu, diag s) || N(0, T)) = 1/2 [tr(T^-1 S) + mu T^-1 mu - L + log det T - log det S]."""
    L = mu.shape[1]
    T = _ar1(alpha, L)
    P = np.linalg.inv(T)
    logdet = np.linalg.slogdet(T)[1]
    return np.array([0.5 * (np.trace(P @ np.diag(np.exp(lv))) + m @ P @ m - L + logdet - lv.sum())
                     for m, lv in zip(mu, logvar)])


@settings(max_examples=30, deadline=None)
@given(N=st.integers(1, 4), L=st.integers(1, 7), alpha=st.floats(0.0, 0.99),
       seed=st.integers(0, 2**16))
def test_kl_matches_the_dense_formula(N, L, alpha, seed):
    rng = np.random.default_rng(seed)
    mu, logvar = rng.standard_normal((N, L)), rng.uniform(-2, 1.5, (N, L))
    q = DiagonalGaussian(mu, logvar)
    terms = delta_kl(q, alpha, per_dimension=True)
    assert terms.shape == (N, L)
    assert np.all(terms >= -1e-12)  # each chain-rule term is an expected KL
    np.testing.assert_allclose(terms.sum(axis=1), _dense_kl(mu, logvar, alpha), rtol=1e-9,
                               atol=1e-10)
    np.testing.assert_allclose(delta_kl(q, alpha), terms.sum(axis=1), rtol=1e-13)


def test_alpha_zero_is_the_standard_normal_kl():
    rng = np.random.default_rng(1)
    q = DiagonalGaussian(rng.standard_normal((3, 5)), rng.standard_normal((3, 5)))
    np.testing.assert_allclose(delta_kl(q, 0.0, per_dimension=True),
                               q.kl_standard_normal(per_dimension=True), rtol=1e-13)
    assert committed_rate(0.0, 5) == 0.0


@pytest.mark.parametrize("L", [2, 3, 8, 32])
@pytest.mark.parametrize("alpha", [0.3, 0.8, 0.95])
def test_committed_rate_is_the_minimum_over_diagonal_posteriors(L, alpha):
    """At mu = 0, s_i = 1 / (T^-1)_ii the KL equals delta(alpha); the paper's closed form for
    L >= 2 agrees; random diagonal posteriors and nudges of the optimum all pay more."""
    delta = committed_rate(alpha, L)
    closed = 0.5 * ((L - 2) * np.log1p(alpha**2) - np.log1p(-alpha**2))
    assert delta == pytest.approx(closed, rel=1e-12)
    best_lv = -np.log(np.diag(np.linalg.inv(_ar1(alpha, L))))
    q = DiagonalGaussian(np.zeros((1, L)), best_lv[None])
    assert delta_kl(q, alpha)[0] == pytest.approx(delta, rel=1e-10)
    rng = np.random.default_rng(L)
    mu = 0.1 * rng.standard_normal((200, L))
    lv = best_lv + 0.3 * rng.standard_normal((200, L))
    assert np.all(delta_kl(DiagonalGaussian(mu, lv), alpha) > delta)
    # the gradient vanishes at the optimum
    dmu, dlv = delta_kl_grad(q, alpha)
    assert np.abs(dmu).max() < 1e-12 and np.abs(dlv).max() < 1e-12


def test_committed_rate_increases_with_alpha_and_latent_dim():
    a = np.linspace(0.0, 0.99, 30)
    r = [committed_rate(x, 6) for x in a]
    assert np.all(np.diff(r) > 0)
    assert committed_rate(0.7, 10) > committed_rate(0.7, 4)
    assert committed_rate(0.7, 1) == 0.0  # one dimension: the prior is N(0, 1)


@pytest.mark.parametrize("L", [2, 5, 16])
@pytest.mark.parametrize("delta", [0.01, 0.5, 3.0, 4.0])
def test_alpha_for_rate_inverts_the_committed_rate(L, delta):
    alpha = alpha_for_rate(delta, L)
    assert 0.0 < alpha < 1.0
    assert committed_rate(alpha, L) == pytest.approx(delta, rel=1e-10)
    if L == 2:  # delta = -1/2 log(1 - alpha^2)
        assert alpha == pytest.approx(np.sqrt(1.0 - np.exp(-2.0 * delta)), rel=1e-10)


def test_prior_is_the_ar1_process():
    prior = ar1_prior(0.6, 4, n=2)
    np.testing.assert_allclose(prior.covariance()[0], _ar1(0.6, 4), rtol=1e-12)
    z = prior.sample(np.random.default_rng(0), n_samples=20000)  # (K, 2, 4)
    emp = np.cov(z.reshape(-1, 4).T)
    np.testing.assert_allclose(emp, _ar1(0.6, 4), atol=0.03)


def test_elbo_backward_adds_the_sample_path():
    rng = np.random.default_rng(2)
    q = DiagonalGaussian(rng.standard_normal((3, 4)), rng.standard_normal((3, 4)))
    q.rsample(rng)
    dz = rng.standard_normal((3, 4))
    dmu, dlv = delta_elbo_backward(q, 0.5, dz, 0.25)
    kmu, klv = delta_kl_grad(q, 0.5, 0.25)
    smu, slv = q.rsample_backward(dz)
    np.testing.assert_allclose(dmu, smu + kmu)
    np.testing.assert_allclose(dlv, slv + klv)


def test_registered_gradient_checks_pass():
    results = run_checks(0, only="delta_vae*")
    assert len(results) >= 6 and all(r.passed for r in results)


def test_bad_input_is_named():
    q = DiagonalGaussian(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="alpha"):
        delta_kl(q, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        delta_kl(q, -0.1)
    with pytest.raises(TypeError, match="alpha"):
        committed_rate("0.5", 3)
    with pytest.raises(ValueError, match="delta"):
        alpha_for_rate(1e6, 3)
    with pytest.raises(ValueError, match="latent_dim"):
        alpha_for_rate(0.5, 1)
    with pytest.raises(ValueError, match="weights"):
        delta_kl_grad(q, 0.5, np.ones(4))
    assert ALPHA_MAX < 1.0
