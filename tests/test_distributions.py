"""DiagonalGaussian and Bernoulli: closed forms against Monte Carlo, gradients via the checker,
sampling reproducibility, stability and bad input; the normal quantile function norm_ppf."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck import check_function
from minivae.objectives import losses
from minivae.objectives.distributions import (
    LOGVAR_MAX,
    LOGVAR_MIN,
    Bernoulli,
    DiagonalGaussian,
    clamp_logvar,
    norm_ppf,
    standard_normal_log_prob,
)

LOG_2PI = np.log(2 * np.pi)
SETTINGS = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)
dims = st.integers(1, 4)


def assert_all_pass(results) -> None:
    failed = [str(r) for r in results if not r.passed]
    assert results and not failed, "\n".join(failed)


def gaussian(rng, shape, spread=1.0):
    return rng.standard_normal(shape), spread * rng.uniform(-1, 1, shape)


# ============================================================================ KL: Monte Carlo
def mc_kl(q: DiagonalGaussian, log_p, rng, K=200_000):
    """E_q[log q(z) - log p(z)] from K reparameterized samples; returns (estimate, std error)."""
    z = q.sample(rng, n_samples=K)  # (K, N, L)
    terms = q.log_prob(z) - log_p(z)  # (K, N)
    return terms.mean(axis=0), terms.std(axis=0, ddof=1) / np.sqrt(K)


def test_kl_standard_normal_matches_monte_carlo():
    rng = np.random.default_rng(0)
    q = DiagonalGaussian(np.array([[0.0, 0.0], [1.0, -0.5]]), np.array([[0.0, 0.0], [-1.0, 0.7]]))
    closed = q.kl_standard_normal()
    assert closed[0] == 0.0  # q = N(0, I) exactly
    est, se = mc_kl(q, standard_normal_log_prob, rng)
    assert np.all(np.abs(est - closed) <= 5 * se + 1e-12), (est, closed, se)
    # hand-worked: 0.5 * (mu^2 + var - 1 - logvar) per dimension
    expected = 0.5 * (1.0 + np.exp(-1.0) - 1 + 1.0) + 0.5 * (0.25 + np.exp(0.7) - 1 - 0.7)
    assert closed[1] == pytest.approx(expected)


def test_kl_between_gaussians_matches_monte_carlo():
    rng = np.random.default_rng(1)
    mu_p, lv_p = gaussian(rng, (3, 2))
    mu_q, lv_q = gaussian(rng, (3, 2))
    p, q = DiagonalGaussian(mu_p, lv_p), DiagonalGaussian(mu_q, lv_q)
    closed = p.kl(q)
    est, se = mc_kl(p, q.log_prob, rng)
    assert np.all(np.abs(est - closed) <= 5 * se), (est, closed, se)
    # KL to a standard normal is the special case other = N(0, I)
    std = DiagonalGaussian(np.zeros((3, 2)), np.zeros((3, 2)))
    np.testing.assert_allclose(p.kl(std), p.kl_standard_normal(), rtol=1e-12)


@SETTINGS
@given(N=dims, L=dims, seed=seeds)
def test_kl_properties(N, L, seed):
    rng = np.random.default_rng(seed)
    p = DiagonalGaussian(*gaussian(rng, (N, L), 3.0))
    q = DiagonalGaussian(*gaussian(rng, (N, L), 3.0))
    np.testing.assert_allclose(p.kl(p), 0.0, atol=1e-12)  # KL(p || p) = 0
    assert np.all(p.kl(q) >= -1e-12) and np.all(p.kl_standard_normal() >= -1e-12)
    per_dim = p.kl_standard_normal(per_dimension=True)
    assert per_dim.shape == (N, L)
    np.testing.assert_allclose(per_dim.sum(axis=-1), p.kl_standard_normal())


# ============================================================================ gradients
@SETTINGS
@given(N=dims, L=dims, seed=seeds)
def test_kl_gradients(N, L, seed):
    rng = np.random.default_rng(seed)
    mu_p, lv_p = gaussian(rng, (N, L))
    mu_q, lv_q = gaussian(rng, (N, L))
    assert_all_pass(check_function(
        lambda mu, logvar: float(np.sum(DiagonalGaussian(mu, logvar).kl_standard_normal())),
        {"mu": mu_p, "logvar": lv_p},
        lambda mu, logvar: DiagonalGaussian(mu, logvar).kl_standard_normal_grad()))
    assert_all_pass(check_function(
        lambda mu_p, logvar_p, mu_q, logvar_q: float(np.sum(
            DiagonalGaussian(mu_p, logvar_p).kl(DiagonalGaussian(mu_q, logvar_q)))),
        {"mu_p": mu_p, "logvar_p": lv_p, "mu_q": mu_q, "logvar_q": lv_q},
        lambda mu_p, logvar_p, mu_q, logvar_q: DiagonalGaussian(mu_p, logvar_p).kl_grad(
            DiagonalGaussian(mu_q, logvar_q))))


@SETTINGS
@given(N=dims, L=dims, K=st.one_of(st.none(), st.integers(1, 3)), seed=seeds)
def test_rsample_gradient_with_fixed_eps(N, L, K, seed):
    rng = np.random.default_rng(seed)
    mu, logvar = gaussian(rng, (N, L))
    shape = (N, L) if K is None else (K, N, L)
    eps, dz = rng.standard_normal(shape), rng.standard_normal(shape)

    def f(mu, logvar):
        return float(np.sum(DiagonalGaussian(mu, logvar).rsample(None, n_samples=K, eps=eps) * dz))

    def grad(mu, logvar):
        q = DiagonalGaussian(mu, logvar)
        q.rsample(None, n_samples=K, eps=eps)
        return q.rsample_backward(dz)

    z = mu + np.exp(0.5 * logvar) * eps
    assert_all_pass(check_function(f, {"mu": mu, "logvar": logvar}, grad,
                                   f_scale=float(np.sum(np.abs(z * dz)))))


@SETTINGS
@given(N=dims, L=dims, K=st.one_of(st.none(), st.integers(1, 3)), seed=seeds)
def test_log_prob_against_formula_and_gradient(N, L, K, seed):
    rng = np.random.default_rng(seed)
    mu, logvar = gaussian(rng, (N, L), 2.0)
    z = rng.standard_normal((N, L) if K is None else (K, N, L))
    q = DiagonalGaussian(mu, logvar)
    sd = np.exp(0.5 * logvar)
    density = np.exp(-0.5 * ((z - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(q.log_prob(z), np.log(density).sum(axis=-1), rtol=1e-10)
    assert_all_pass(check_function(
        lambda z, mu, logvar: float(np.sum(DiagonalGaussian(mu, logvar).log_prob(z))),
        {"z": z, "mu": mu, "logvar": logvar},
        lambda z, mu, logvar: DiagonalGaussian(mu, logvar).log_prob_grad(z)))


def test_log_prob_hand_worked_and_entropy():
    q = DiagonalGaussian(np.zeros((1, 2)), np.zeros((1, 2)))
    np.testing.assert_allclose(q.log_prob(np.zeros((1, 2))), [-LOG_2PI])
    np.testing.assert_allclose(standard_normal_log_prob(np.zeros((1, 2))), [-LOG_2PI])
    np.testing.assert_allclose(q.entropy(), [LOG_2PI + 1.0])
    # entropy = -E[log q(z)] by Monte Carlo
    rng = np.random.default_rng(2)
    q = DiagonalGaussian(np.array([[0.5, -1.0]]), np.array([[1.0, -2.0]]))
    lp = q.log_prob(q.sample(rng, n_samples=100_000))
    se = lp.std() / np.sqrt(lp.size)
    assert abs(-lp.mean() - q.entropy()[0]) < 5 * se


# ============================================================================ sampling
def test_rsample_is_seeded_keeps_eps_and_has_the_right_moments():
    mu, logvar = np.array([[1.0, -2.0]]), np.array([[0.0, np.log(4.0)]])
    q = DiagonalGaussian(mu, logvar)
    z1 = q.rsample(np.random.default_rng(5), n_samples=50_000)
    eps1 = q.eps.copy()
    z2 = DiagonalGaussian(mu, logvar).rsample(5, n_samples=50_000)  # int seed == same numbers
    np.testing.assert_array_equal(z1, z2)
    np.testing.assert_array_equal(z1, mu + np.exp(0.5 * logvar) * eps1)
    np.testing.assert_allclose(z1.mean(axis=0), mu, atol=0.05)
    np.testing.assert_allclose(z1.std(axis=0), [[1.0, 2.0]], rtol=0.02)
    # reusing eps reproduces the sample; sample() leaves the stored eps alone
    np.testing.assert_array_equal(q.rsample(None, n_samples=50_000, eps=eps1), z1)
    q.sample(np.random.default_rng(6))
    np.testing.assert_array_equal(q.eps, eps1)


def test_rsample_backward_hand_worked():
    q = DiagonalGaussian(np.zeros((1, 2)), np.log(np.array([[4.0, 1.0]])))
    q.rsample(None, eps=np.array([[1.0, -1.0]]))
    dmu, dlogvar = q.rsample_backward(np.array([[1.0, 2.0]]))
    np.testing.assert_allclose(dmu, [[1.0, 2.0]])
    # dz/dlogvar = 0.5 * std * eps = 0.5 * 2 * 1 and 0.5 * 1 * (-1)
    np.testing.assert_allclose(dlogvar, [[1.0, -1.0]])


def test_clamp_logvar():
    lv = np.array([-100.0, -30.0, 0.0, 20.0, 100.0])
    clipped, inside = clamp_logvar(lv)
    np.testing.assert_array_equal(clipped, [LOGVAR_MIN, LOGVAR_MIN, 0.0, LOGVAR_MAX, LOGVAR_MAX])
    np.testing.assert_array_equal(inside, [False, False, True, False, False])
    q = DiagonalGaussian(np.zeros(5), clipped)
    assert np.all(np.isfinite(q.std)) and np.all(q.std > 0)


# ============================================================================ Bernoulli
def test_bernoulli_distribution():
    logits = np.array([[-1000.0, 0.0, 1000.0, 2.0]])
    b = Bernoulli(logits)
    x = np.array([[0.0, 1.0, 1.0, 1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        lp = b.log_prob(x)
    np.testing.assert_allclose(lp, [np.log(0.5) + np.log(1 / (1 + np.exp(-2.0)))])
    np.testing.assert_allclose(lp, -losses.bernoulli_nll(logits, x, reduction="none"))
    np.testing.assert_array_equal(b.probs[0, [0, 2]], [0.0, 1.0])
    rng = np.random.default_rng(3)
    freq = Bernoulli(np.tile([0.0, 2.0], (20_000, 1))).sample(rng).mean(axis=0)
    np.testing.assert_allclose(freq, [0.5, 1 / (1 + np.exp(-2.0))], atol=0.015)  # ~4 SE
    s1, s2 = b.sample(7), b.sample(7)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(s1[0, [0, 2]], [0.0, 1.0])


# ============================================================================ bad input
def test_bad_input():
    with pytest.raises(ValueError, match="mu and logvar must have the same shape"):
        DiagonalGaussian(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="mu contains 1 non-finite"):
        DiagonalGaussian(np.array([[np.nan, 0.0]]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="empty"):
        DiagonalGaussian(np.zeros((0, 2)), np.zeros((0, 2)))
    q = DiagonalGaussian(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="eps must have shape"):
        q.rsample(None, eps=np.zeros((3, 2)))
    with pytest.raises(RuntimeError, match="before rsample"):
        q.rsample_backward(np.zeros((2, 3)))
    q.rsample(0)
    with pytest.raises(ValueError, match="dz must have shape"):
        q.rsample_backward(np.zeros((3, 2)))
    with pytest.raises(TypeError, match="Generator"):
        q.rsample("seed")
    with pytest.raises(ValueError, match="n_samples"):
        q.rsample(0, n_samples=0)
    with pytest.raises(ValueError, match="z must end with shape"):
        q.log_prob(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="DiagonalGaussian"):
        q.kl(Bernoulli(np.zeros((2, 3))))
    with pytest.raises(ValueError, match="same shape"):
        q.kl(DiagonalGaussian(np.zeros((2, 2)), np.zeros((2, 2))))
    with pytest.raises(ValueError, match="logits and x"):
        Bernoulli(np.zeros((2, 3))).log_prob(np.zeros((2, 2)))


def normal_cdf(x: float) -> float:
    """Phi(x) from the C library's erfc: independent of the rational approximation under test."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


# ============================================================================ norm_ppf

# Published quantiles of N(0, 1) (tables / R's qnorm, 16 significant digits).
KNOWN = [
    (0.5, 0.0),
    (0.975, 1.959963984540054),
    (0.95, 1.644853626951472),
    (0.995, 2.575829303548901),
    (0.999, 3.090232306167814),
    (0.8413447460685429, 1.0),  # Phi(1)
    (0.02275013194817921, -2.0),  # Phi(-2)
    (1e-10, -6.361340902404056),
    (1e-20, -9.262340089798408),
]


@pytest.mark.parametrize("p, x", KNOWN)
def test_norm_ppf_known_values(p, x):
    assert norm_ppf(p) == pytest.approx(x, rel=1e-12, abs=1e-12)


def test_norm_ppf_inverts_the_cdf_in_all_three_regions():
    # Central (|p - 0.5| <= 0.425), tail (r <= 5) and far tail (p < ~1.4e-11) all covered.
    ps = np.concatenate([np.logspace(-300, -1, 300), np.linspace(0.01, 0.5, 200)])
    xs = norm_ppf(ps)
    for p, x in zip(ps, xs):
        if x < -37.5:  # Phi(x) underflows below the smallest double; nothing to compare
            continue
        pdf = math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        # First-order error in x: (Phi(x) - p) / phi(x); the brief asks for ~1e-9.
        assert abs(normal_cdf(x) - p) / pdf < 1e-9 * max(1.0, abs(x)), (p, x)


def test_norm_ppf_matches_the_standard_library():
    nd = statistics.NormalDist()
    ps = np.linspace(1e-6, 1 - 1e-6, 101)
    np.testing.assert_allclose(norm_ppf(ps), [nd.inv_cdf(p) for p in ps], rtol=1e-14,
                               atol=1e-14)


def test_norm_ppf_shapes_end_points_and_errors():
    assert isinstance(norm_ppf(0.3), float)
    assert norm_ppf(np.full((2, 3), 0.5)).shape == (2, 3)
    assert norm_ppf([0.0, 1.0]).tolist() == [-math.inf, math.inf]
    with pytest.raises(ValueError, match=r"p must hold probabilities in \[0, 1\]"):
        norm_ppf([0.5, 1.5])
    with pytest.raises(ValueError, match="p contains 1 non-finite"):
        norm_ppf([0.5, np.nan])


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 2**30 - 1), st.integers(1, 2**30 - 1))
def test_norm_ppf_is_odd_and_increasing(i, j):
    # p = i / 2^30 and 1 - p are both exact doubles, so symmetry must hold to rounding.
    p, p2 = i / 2**30, j / 2**30
    assert norm_ppf(p) == pytest.approx(-norm_ppf(1.0 - p), rel=1e-13, abs=1e-15)
    if p < p2:
        assert norm_ppf(p) < norm_ppf(p2)
