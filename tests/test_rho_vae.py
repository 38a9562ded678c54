"""The rho-VAE posterior (AR(1) covariance): the sampler's covariance (exactly, through its linear
map, and by Monte Carlo), the closed-form KL against the general Gaussian formula with the explicit
covariance and against Monte Carlo, log_prob against the dense density, the clip of rho_raw,
float32, the gradient checks, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck.checks import rho_vae  # noqa: F401  (registers the checks)
from minivae.gradcheck.registry import REGISTRY, run_checks
from minivae.objectives.distributions import LOGVAR_MAX, DiagonalGaussian
from minivae.objectives.rho_gaussian import (
    RHO_RAW_MAX,
    RhoGaussian,
    log_one_minus_tanh_sq,
    rho_encoder_backward,
    rho_encoder_posterior,
)

SETTINGS = settings(max_examples=40, deadline=None)
seeds = st.integers(0, 2**32 - 1)
# rho_raw over the whole clipped range, including rho within 1e-4 of +-1 and beyond the clip
rho_raws = st.floats(-RHO_RAW_MAX - 2.0, RHO_RAW_MAX + 2.0)


def params(seed: int, N: int, L: int, rho_raw=None):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-RHO_RAW_MAX, RHO_RAW_MAX, N) if rho_raw is None else np.full(N, rho_raw)
    return rng.standard_normal((N, L)), rng.uniform(-3.0, 3.0, N), a


def dense_kl(mu: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """KL(N(mu, S) || N(0, I)) = 1/2 [tr S + mu'mu - L - log det S], per example."""
    sign, logdet = np.linalg.slogdet(cov)
    assert np.all(sign > 0)
    L = mu.shape[-1]
    return 0.5 * (np.trace(cov, axis1=-2, axis2=-1) + np.sum(mu**2, -1) - L - logdet)


# -- the sampler's covariance is s T(rho) ----------------------------------------------------------
@SETTINGS
@given(L=st.integers(1, 12), rho_raw=rho_raws, seed=seeds)
def test_sampler_linear_map_has_covariance_s_T(L, rho_raw, seed):
    """u = A eps is linear in eps; feeding the unit vectors gives A, and A A' must be s T(rho)."""
    mu, logvar, a = params(seed, 1, L, rho_raw)
    q = RhoGaussian(np.zeros_like(mu), logvar, a)
    A = q.rsample(None, n_samples=L, eps=np.eye(L)[:, None, :])[:, 0, :].T  # column j: eps = e_j
    expected = q.covariance()[0]
    np.testing.assert_allclose(A @ A.T, expected, rtol=1e-12, atol=1e-12 * np.exp(logvar[0]))
    rho = np.tanh(np.clip(rho_raw, -RHO_RAW_MAX, RHO_RAW_MAX))
    i = np.arange(L)
    np.testing.assert_allclose(expected, np.exp(logvar[0]) * rho ** np.abs(i[:, None] - i),
                               rtol=1e-14)


@pytest.mark.parametrize("rho_raw", [-1.5, 0.0, 0.4, 2.5])
def test_sample_covariance_monte_carlo(rho_raw):
    """200k samples: the empirical mean and covariance match mu and s T to a few standard errors
    (each covariance entry's error is about s sqrt((1 + rho^2) / n) <= 0.0032 s)."""
    n = 200_000
    mu, logvar = np.array([[0.5, -1.0, 0.0, 2.0, 0.3]]), np.array([0.4])
    q = RhoGaussian(mu, logvar, np.array([rho_raw]))
    z = q.sample(np.random.default_rng(1), n_samples=n)[:, 0, :]
    s = np.exp(0.4)
    np.testing.assert_allclose(z.mean(0), mu[0], atol=5 * np.sqrt(s / n))
    np.testing.assert_allclose(np.cov(z.T), q.covariance()[0], atol=5 * 0.0032 * s)
    assert q.eps is None  # sample keeps no noise


def test_rho_zero_is_the_diagonal_gaussian():
    rng = np.random.default_rng(3)
    mu, logvar = rng.standard_normal((4, 3)), rng.standard_normal(4)
    eps = rng.standard_normal((4, 3))
    q = RhoGaussian(mu, logvar, np.zeros(4))
    d = DiagonalGaussian(mu, np.repeat(logvar[:, None], 3, 1))
    np.testing.assert_allclose(q.rsample(None, eps=eps), d.rsample(None, eps=eps), rtol=1e-15)
    np.testing.assert_allclose(q.kl_standard_normal(), d.kl_standard_normal(), rtol=1e-13)
    np.testing.assert_allclose(q.log_prob(mu + 0.3), d.log_prob(mu + 0.3), rtol=1e-13)


# -- KL ----------------------------------------------------------------------------------------
@SETTINGS
@given(N=st.integers(1, 3), L=st.integers(1, 12), rho_raw=st.one_of(st.none(), rho_raws),
       seed=seeds)
def test_kl_matches_general_gaussian_formula(N, L, rho_raw, seed):
    """The closed form against 1/2 [tr S + mu'mu - L - logdet S] with S = s T built explicitly,
    to 1e-10 relative, for rho up to the clip (|rho| <= tanh 5: cond(T) <= 2.2e4)."""
    mu, logvar, a = params(seed, N, L, rho_raw)
    q = RhoGaussian(mu, logvar, a)
    kl = q.kl_standard_normal()
    expected = dense_kl(mu, q.covariance())
    # the KL is a sum of terms of both signs: the reference's rounding is relative to their size
    scale = 0.5 * (L * np.exp(logvar) + np.sum(mu**2, -1) + L + L * np.abs(logvar)
                   + (L - 1) * np.abs(log_one_minus_tanh_sq(q.rho_raw)))
    assert np.all(np.abs(kl - expected) <= 1e-10 * scale)
    assert np.all(kl >= -1e-12 * scale)


@pytest.mark.parametrize("rho_raw", [-2.0, 0.7, 4.0])
def test_kl_matches_monte_carlo(rho_raw):
    """E_q[log q(z) - log N(z; 0, I)] over 100k samples, within 5 standard errors."""
    mu, logvar = np.array([[0.3, -0.8, 1.1, 0.0]]), np.array([-0.5])
    q = RhoGaussian(mu, logvar, np.array([rho_raw]))
    z = q.sample(np.random.default_rng(7), n_samples=100_000)
    log_p = -0.5 * np.sum(np.log(2 * np.pi) + z**2, axis=-1)
    terms = (q.log_prob(z) - log_p)[:, 0]
    se = terms.std() / np.sqrt(terms.size)
    assert abs(terms.mean() - q.kl_standard_normal()[0]) < 5 * se


@SETTINGS
@given(L=st.integers(1, 8), rho_raw=rho_raws, seed=seeds)
def test_log_prob_matches_dense_density(L, rho_raw, seed):
    mu, logvar, a = params(seed, 2, L, rho_raw)
    q = RhoGaussian(mu, logvar, a)
    z = mu + np.random.default_rng(seed).standard_normal((3, 2, L))
    cov = q.covariance()
    diff = z - mu
    quad = np.einsum("kni,nij,knj->kn", diff, np.linalg.inv(cov), diff)
    expected = -0.5 * (L * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1] + quad)
    np.testing.assert_allclose(q.log_prob(z), expected, rtol=1e-9)


def test_log_one_minus_tanh_sq_is_stable():
    a = np.array([0.0, 0.3, -2.0, 19.0, -30.0, 400.0])
    with np.errstate(divide="ignore"):
        naive = np.log(1.0 - np.tanh(a) ** 2)
    got = log_one_minus_tanh_sq(a)
    np.testing.assert_allclose(got[:3], naive[:3], rtol=1e-13)
    np.testing.assert_allclose(got[3:], -2.0 * (np.abs(a[3:]) - np.log(2.0)), rtol=1e-13)
    assert np.all(np.isfinite(got))


# -- the clip of rho_raw -------------------------------------------------------------------------
def test_clip_bounds_rho_and_stops_the_gradient():
    rng = np.random.default_rng(0)
    mu, logvar = rng.standard_normal((3, 4)), rng.standard_normal(3)
    a = np.array([RHO_RAW_MAX + 3.0, -1e6, 1.0])
    q = RhoGaussian(mu, logvar, a)
    assert np.all(np.abs(q.rho) <= np.tanh(RHO_RAW_MAX))
    assert np.all(np.isfinite(q.kl_standard_normal()))
    at_bound = RhoGaussian(mu, logvar, np.array([RHO_RAW_MAX, -RHO_RAW_MAX, 1.0]))
    np.testing.assert_array_equal(q.kl_standard_normal(), at_bound.kl_standard_normal())
    eps = rng.standard_normal((3, 4))
    q.rsample(None, eps=eps)
    drho = q.rsample_backward(rng.standard_normal((3, 4)))[2]
    np.testing.assert_array_equal(drho[:2], 0.0)
    assert drho[2] != 0.0
    np.testing.assert_array_equal(q.kl_standard_normal_grad()[2][:2], 0.0)


def test_latent_dim_one_has_no_rho_gradient():
    q = RhoGaussian(np.array([[0.5]]), np.array([0.2]), np.array([1.3]))
    q.rsample(None, eps=np.array([[0.7]]))
    assert q.rsample_backward(np.array([[2.0]]))[2][0] == 0.0
    assert q.kl_standard_normal_grad()[2][0] == 0.0


def test_float32_stays_float32_and_close_to_float64():
    rng = np.random.default_rng(2)
    mu, logvar, a = rng.standard_normal((3, 6)), rng.standard_normal(3), np.array([4.9, -4.9, 0.2])
    eps = rng.standard_normal((3, 6))
    q64 = RhoGaussian(mu, logvar, a)
    q32 = RhoGaussian(*(x.astype(np.float32) for x in (mu, logvar, a)))
    z32 = q32.rsample(None, eps=eps.astype(np.float32))
    assert z32.dtype == np.float32 and q32.kl_standard_normal().dtype == np.float32
    np.testing.assert_allclose(z32, q64.rsample(None, eps=eps), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(q32.kl_standard_normal(), q64.kl_standard_normal(), rtol=1e-5)


# -- gradients -----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_gradient_checks_pass(seed):
    names = [n for n in REGISTRY if n.startswith("rho_gaussian.")]
    assert len(names) == 4
    results = run_checks(seed, names=names)
    failed = [str(r) for r in results if not r.passed]
    assert len(results) >= 10 and not failed, "\n".join(failed)


def test_a_wrong_gradient_fails_the_check():
    """The check can fail: drop the reversed loop's carry (g_i = dz_i) and it must."""
    from minivae.gradcheck import check_function

    rng = np.random.default_rng(0)
    mu, logvar, a = rng.standard_normal((2, 4)), rng.standard_normal(2), np.array([1.0, -0.5])
    eps, dz = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))

    def f(mu, logvar, rho_raw):
        return float(np.sum(RhoGaussian(mu, logvar, rho_raw).rsample(None, eps=eps) * dz))

    def wrong(mu, logvar, rho_raw):
        q = RhoGaussian(mu, logvar, rho_raw)
        q.rsample(None, eps=eps)
        return (dz, 0.5 * np.exp(0.5 * logvar) * np.sum(dz * eps, -1), np.zeros_like(rho_raw))

    results = check_function(f, {"mu": mu, "logvar": logvar, "rho_raw": a}, wrong)
    assert not all(r.passed for r in results)


def test_elbo_backward_is_sample_plus_weighted_kl():
    rng = np.random.default_rng(4)
    q = RhoGaussian(rng.standard_normal((2, 3)), rng.standard_normal(2), rng.standard_normal(2))
    dz = rng.standard_normal((2, 3))
    q.rsample(rng)
    total = q.elbo_backward(dz, 0.25)
    for t, s, k in zip(total, q.rsample_backward(dz), q.kl_standard_normal_grad()):
        np.testing.assert_allclose(t, s + 0.25 * k, rtol=1e-15)


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("args, match", [
    ((np.zeros(3), np.zeros(1), np.zeros(1)), "mu must have 2 dimensions"),
    ((np.zeros((2, 3)), np.zeros(3), np.zeros(2)), r"logvar must have shape \(2\)"),
    ((np.zeros((2, 3)), np.zeros(2), np.zeros((2, 1))), r"rho_raw must have shape \(2\)"),
    ((np.zeros((2, 3)), np.zeros(2), np.array([0.0, np.nan])), "rho_raw"),
    ((np.full((2, 3), np.inf), np.zeros(2), np.zeros(2)), "mu"),
    ((np.zeros((0, 3)), np.zeros(0), np.zeros(0)), "mu is empty"),
])
def test_bad_parameters_are_named(args, match):
    with pytest.raises(ValueError, match=match):
        RhoGaussian(*args)


def test_bad_sampling_calls_are_named():
    q = RhoGaussian(np.zeros((2, 3)), np.zeros(2), np.zeros(2))
    with pytest.raises(RuntimeError, match="before rsample"):
        q.rsample_backward(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="rng"):
        q.rsample("seed")
    with pytest.raises(ValueError, match="n_samples"):
        q.rsample(0, n_samples=0)
    with pytest.raises(ValueError, match="eps must have shape"):
        q.rsample(None, eps=np.zeros((3, 2)))
    q.rsample(0)
    with pytest.raises(ValueError, match="dz must have shape"):
        q.rsample_backward(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="z must end with shape"):
        q.log_prob(np.zeros((2, 4)))
    with pytest.raises(TypeError, match="mu must hold real numbers"):
        RhoGaussian(np.zeros((2, 3), complex), np.zeros(2), np.zeros(2))


# -- from an encoder's output --------------------------------------------------------------------
def test_encoder_posterior_splits_and_clamps():
    rng = np.random.default_rng(5)
    h = rng.standard_normal((3, 6))
    h[0, 4] = LOGVAR_MAX + 5.0  # clamped log-variance: no gradient through it
    q, inside = rho_encoder_posterior(h)
    np.testing.assert_array_equal(q.mu, h[:, :4])
    np.testing.assert_array_equal(q.logvar, [LOGVAR_MAX, h[1, 4], h[2, 4]])
    np.testing.assert_array_equal(q.rho_raw, h[:, 5])
    np.testing.assert_array_equal(inside, [False, True, True])
    q.rsample(rng)
    dh = rho_encoder_backward(q, inside, rng.standard_normal((3, 4)), 0.5)
    assert dh.shape == h.shape and dh[0, 4] == 0.0 and np.all(dh[1:, 4] != 0.0)


def test_encoder_bad_input_is_named():
    with pytest.raises(ValueError, match="h must have L"):
        rho_encoder_posterior(np.zeros((2, 2)))
    q, inside = rho_encoder_posterior(np.zeros((2, 5)))
    q.rsample(0)
    with pytest.raises(TypeError, match="q must be a RhoGaussian"):
        rho_encoder_backward(DiagonalGaussian(np.zeros((2, 3)), np.zeros((2, 3))), inside,
                             np.zeros((2, 3)), 1.0)
    with pytest.raises(ValueError, match="inside must have shape"):
        rho_encoder_backward(q, np.ones((2, 3), bool), np.zeros((2, 3)), 1.0)
    with pytest.raises(ValueError, match="dkl"):
        rho_encoder_backward(q, inside, np.zeros((2, 3)), float("nan"))
