"""minivae.information: discrete measures against hand-computed cases and identities, Gaussian
closed forms against Monte Carlo / each other, KDE estimators converging to the closed forms of
the kernel-smoothed densities, and the gradient checks of the KDE measures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck.registry import run_checks
from minivae.information import discrete as dsc
from minivae.information import gaussian as gau
from minivae.information import kde

LOG2 = np.log(2.0)


# ============================================================================ discrete
def test_entropy_hand_computed():
    assert dsc.entropy([0.5, 0.5]) == pytest.approx(LOG2, rel=1e-15)
    assert dsc.entropy([1.0, 0.0, 0.0]) == 0.0
    p = [0.5, 0.25, 0.25]
    assert dsc.entropy(p) == pytest.approx(1.5 * LOG2, rel=1e-14)
    assert dsc.entropy(np.full(8, 1 / 8)) == pytest.approx(3 * LOG2, rel=1e-14)


def test_cross_entropy_and_kl_hand_computed():
    p, q = [0.5, 0.5], [0.25, 0.75]
    # H(p, q) = -(0.5 log 0.25 + 0.5 log 0.75)
    assert dsc.cross_entropy(p, q) == pytest.approx(-0.5 * np.log(0.25) - 0.5 * np.log(0.75))
    assert dsc.kl_divergence(p, q) == pytest.approx(
        0.5 * np.log(0.5 / 0.25) + 0.5 * np.log(0.5 / 0.75), rel=1e-14)
    assert dsc.kl_divergence(p, p) == 0.0
    assert dsc.kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert dsc.kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(LOG2)


def test_joint_conditional_mutual_information_hand_computed():
    # X = Y (a fair bit copied): H(X,Y) = log 2, H(Y|X) = 0, I = log 2.
    copy = np.array([[0.5, 0.0], [0.0, 0.5]])
    assert dsc.joint_entropy(copy) == pytest.approx(LOG2)
    assert dsc.conditional_entropy(copy) == pytest.approx(0.0, abs=1e-15)
    assert dsc.mutual_information(copy) == pytest.approx(LOG2)
    # independent fair bits: I = 0, H(Y|X) = H(Y) = log 2.
    indep = np.full((2, 2), 0.25)
    assert dsc.mutual_information(indep) == pytest.approx(0.0, abs=1e-15)
    assert dsc.conditional_entropy(indep) == pytest.approx(LOG2)


def _random_joint(rng: np.random.Generator, kx: int, ky: int) -> np.ndarray:
    pxy = rng.random((kx, ky)) ** 3  # skewed, some entries near 0
    pxy[rng.random((kx, ky)) < 0.2] = 0.0
    pxy[0, 0] += 0.1
    return pxy / pxy.sum()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 5), st.integers(1, 5))
def test_mutual_information_identities(seed, kx, ky):
    pxy = _random_joint(np.random.default_rng(seed), kx, ky)
    px, py = pxy.sum(axis=1), pxy.sum(axis=0)
    hx, hy, hxy = dsc.entropy(px), dsc.entropy(py), dsc.joint_entropy(pxy)
    mi = dsc.mutual_information(pxy)
    assert mi == pytest.approx(hx + hy - hxy, abs=1e-12)
    assert mi == pytest.approx(dsc.kl_divergence(pxy.ravel(), np.outer(px, py).ravel()),
                               abs=1e-12)
    assert dsc.conditional_entropy(pxy) == pytest.approx(hxy - hx, abs=1e-12)
    assert -1e-12 <= mi <= min(hx, hy) + 1e-12
    assert dsc.conditional_entropy(pxy) <= hy + 1e-12  # conditioning never increases entropy


def _pmf_pair(seed: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p, q = rng.random(k) + 1e-3, rng.random(k) + 1e-3
    return p / p.sum(), q / q.sum()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 8))
def test_kl_js_cross_entropy_properties(seed, k):
    p, q = _pmf_pair(seed, k)
    kl = dsc.kl_divergence(p, q)
    assert kl >= 0.0
    assert dsc.cross_entropy(p, q) == pytest.approx(dsc.entropy(p) + kl, abs=1e-12)
    js = dsc.js_divergence(p, q)
    assert js == pytest.approx(dsc.js_divergence(q, p), abs=1e-15)
    assert 0.0 <= js <= LOG2
    assert dsc.entropy(p) <= np.log(k) + 1e-12


def test_js_reaches_log2_on_disjoint_supports_and_zero_on_equal():
    assert dsc.js_divergence([0.5, 0.5, 0, 0], [0, 0, 0.3, 0.7]) == pytest.approx(LOG2)
    p = np.array([0.2, 0.3, 0.5])
    assert dsc.js_divergence(p, p) == 0.0


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.integers(2, 8))
def test_renyi_approaches_shannon_as_alpha_goes_to_one(seed, k):
    p, q = _pmf_pair(seed, k)
    for d in (1e-3, 1e-5):
        for a in (1 - d, 1 + d):
            # The error of the first-order expansion in (alpha - 1) is O(|alpha - 1|).
            assert dsc.renyi_entropy(p, a) == pytest.approx(dsc.entropy(p), abs=20 * d)
            assert dsc.renyi_cross_entropy(p, q, a) == pytest.approx(dsc.cross_entropy(p, q),
                                                                     abs=50 * d)
            assert dsc.renyi_divergence(p, q, a) == pytest.approx(dsc.kl_divergence(p, q),
                                                                  abs=50 * d)
    errs = [abs(dsc.renyi_entropy(p, 1 + d) - dsc.entropy(p)) for d in (1e-2, 1e-3, 1e-4)]
    assert errs[0] > errs[1] > errs[2]
    assert dsc.renyi_entropy(p, 1.0) == dsc.entropy(p)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.integers(2, 8))
def test_renyi_monotone_in_alpha_and_special_orders(seed, k):
    p, q = _pmf_pair(seed, k)
    alphas = [0.1, 0.5, 0.9, 1.0, 1.5, 2.0, 5.0]
    h = [dsc.renyi_entropy(p, a) for a in alphas]
    d = [dsc.renyi_divergence(p, q, a) for a in alphas]
    assert all(h1 >= h2 - 1e-12 for h1, h2 in zip(h, h[1:]))  # non-increasing
    assert all(d1 <= d2 + 1e-12 for d1, d2 in zip(d, d[1:]))  # non-decreasing
    assert min(d) >= 0.0
    assert dsc.renyi_entropy(p, 2.0) == pytest.approx(-np.log(np.sum(p**2)), rel=1e-13)
    assert dsc.renyi_entropy(p, 1e-9) == pytest.approx(np.log(k), abs=1e-6)  # Hartley
    assert dsc.renyi_divergence(p, p, 2.0) == pytest.approx(0.0, abs=1e-13)


def test_renyi_hand_computed():
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert dsc.renyi_divergence(p, q, 2.0) == pytest.approx(np.log(0.25 / 0.25 + 0.25 / 0.75))
    assert dsc.renyi_cross_entropy(p, q, 2.0) == pytest.approx(-np.log(0.5 * 0.25 + 0.5 * 0.75))
    assert dsc.renyi_divergence([0.5, 0.5], [1.0, 0.0], 2.0) == np.inf


@pytest.mark.parametrize("bad, match", [
    ([0.5, 0.6], "sum to 1"),
    ([1.5, -0.5], ">= 0"),
    ([[0.5, 0.5]], "1 dimensions"),
    ([np.nan, 1.0], "non-finite"),
    ([], "empty"),
])
def test_discrete_bad_pmfs(bad, match):
    with pytest.raises(ValueError, match=match):
        dsc.entropy(bad)


def test_discrete_bad_arguments():
    with pytest.raises(ValueError, match="same shape"):
        dsc.kl_divergence([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="alpha must be > 0"):
        dsc.renyi_entropy([0.5, 0.5], 0.0)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        dsc.renyi_entropy([0.5, 0.5], "2")
    with pytest.raises(ValueError, match="pxy must have 2 dimensions"):
        dsc.mutual_information([0.5, 0.5])


# ============================================================================ Gaussian
S1 = np.array([[1.0, 0.3], [0.3, 0.5]])
S2 = np.array([[0.6, -0.2], [-0.2, 1.4]])
M1, M2 = np.array([0.5, -0.2]), np.array([-0.3, 0.4])


def test_gaussian_closed_forms_against_monte_carlo():
    rng = np.random.default_rng(0)
    n = 400_000
    x = rng.multivariate_normal(M1, S1, n)

    def logpdf(x, m, S):
        d = x - m
        return -0.5 * (np.einsum("ni,ij,nj->n", d, np.linalg.inv(S), d)
                       + np.linalg.slogdet(2 * np.pi * S)[1])

    lp, lq = logpdf(x, M1, S1), logpdf(x, M2, S2)
    # Monte Carlo standard errors here are ~3e-3; tolerance 1e-2.
    assert gau.entropy(S1) == pytest.approx(-lp.mean(), abs=1e-2)
    assert gau.cross_entropy(M1, S1, M2, S2) == pytest.approx(-lq.mean(), abs=1e-2)
    assert gau.kl_divergence(M1, S1, M2, S2) == pytest.approx((lp - lq).mean(), abs=1e-2)
    # CIP = E_p[q(x)], QIP = E_p[p(x)]
    assert gau.cip(M1, S1, M2, S2) == pytest.approx(np.exp(lq).mean(), rel=1e-2)
    assert gau.qip(S1) == pytest.approx(np.exp(lp).mean(), rel=1e-2)
    a = 0.6  # D_a = 1/(a-1) log E_p[(q/p)^(1-a)]
    assert gau.renyi_divergence(M1, S1, M2, S2, a) == pytest.approx(
        np.log(np.mean(np.exp((1 - a) * (lq - lp)))) / (a - 1), abs=1e-2)


def test_gaussian_identities_and_limits():
    assert gau.renyi_entropy(S1, 2.0) == pytest.approx(gau.renyi_quadratic_entropy(S1), rel=1e-14)
    assert gau.renyi_entropy(S1, 1.0) == pytest.approx(gau.entropy(S1), rel=1e-14)
    for d in (1e-4, 1e-6):
        assert gau.renyi_entropy(S1, 1 + d) == pytest.approx(gau.entropy(S1), abs=10 * d)
        assert gau.renyi_divergence(M1, S1, M2, S2, 1 - d) == pytest.approx(
            gau.kl_divergence(M1, S1, M2, S2), abs=100 * d)
    assert gau.cs_divergence(M1, S1, M1, S1) == pytest.approx(0.0, abs=1e-14)
    assert gau.euclidean_divergence(M1, S1, M1, S1) == pytest.approx(0.0, abs=1e-14)
    for f in (gau.cs_divergence, gau.euclidean_divergence):
        assert f(M1, S1, M2, S2) > 0.0
        assert f(M1, S1, M2, S2) == pytest.approx(f(M2, S2, M1, S1), rel=1e-13)
    # 1-D: KL(N(0,1) || N(1, 4)) = log 2 + (1 + 1)/8 - 1/2
    assert gau.kl_divergence([0.0], [[1.0]], [1.0], [[4.0]]) == pytest.approx(
        np.log(2) + 2 / 8 - 0.5, rel=1e-14)
    # MI of a bivariate Gaussian with correlation r: -1/2 log(1 - r^2)
    r = 0.6
    assert gau.mutual_information(np.array([[1, r], [r, 1.0]]), 1) == pytest.approx(
        -0.5 * np.log(1 - r**2), rel=1e-14)


def test_gaussian_bad_input():
    with pytest.raises(ValueError, match="positive definite"):
        gau.entropy(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        gau.entropy(np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"S_q must have shape \(2, 2\)"):
        gau.kl_divergence(M1, S1, M2, np.eye(3))
    with pytest.raises(ValueError, match="infinite"):
        gau.renyi_divergence(M1, np.eye(2), M2, 0.1 * np.eye(2), 3.0)
    with pytest.raises(ValueError, match="split"):
        gau.mutual_information(S1, 2)


# ============================================================================ KDE
SIGMA = 0.4


def _closed_forms(sigma: float) -> dict[str, float]:
    """The measures of the kernel-smoothed densities N(m, S + sigma^2 I)."""
    A, B = gau.smoothed(S1, sigma), gau.smoothed(S2, sigma)
    return {
        "qip": gau.qip(A),
        "cip": gau.cip(M1, A, M2, B),
        "h2": gau.renyi_quadratic_entropy(A),
        "ed": gau.euclidean_divergence(M1, A, M2, B),
        "cs": gau.cs_divergence(M1, A, M2, B),
    }


def _estimates(n: int, seed: int, sigma: float) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    X, Y = rng.multivariate_normal(M1, S1, n), rng.multivariate_normal(M2, S2, n)
    return {
        "qip": kde.qip(X, sigma),
        "cip": kde.cip(X, Y, sigma),
        "h2": kde.renyi_quadratic_entropy(X, sigma),
        "ed": kde.euclidean_divergence(X, Y, sigma),
        "cs": kde.cs_divergence(X, Y, sigma),
    }


def test_kde_estimators_converge_to_the_smoothed_closed_forms():
    """Mean absolute error over 4 seeds, relative to the closed form: at N = 3000 below 5% for
    every measure (measured 0.3% for H_2 to 2.7% for D_CS), and smaller than at N = 100
    (measured 3.5-14%).
    The estimators are V-statistics: bias O(1/N) from the i = j pairs, noise O(1/sqrt N)."""
    exact = _closed_forms(SIGMA)
    err = {}
    for n in (100, 3000):
        runs = [_estimates(n, seed, SIGMA) for seed in range(4)]
        err[n] = {k: np.mean([abs(r[k] - exact[k]) for r in runs]) / abs(exact[k])
                  for k in exact}
    for k in exact:
        assert err[3000][k] < 0.05, (k, err)
        assert err[3000][k] < err[100][k], (k, err)


def test_kde_with_the_wrong_smoothing_is_far_off():
    """The limit is the closed form at S + sigma^2 I, not at S: with a wide kernel the two
    differ by far more than the estimator's error, so the convergence test can fail."""
    sigma = 1.0
    est = _estimates(2000, 0, sigma)
    assert est["qip"] == pytest.approx(_closed_forms(sigma)["qip"], rel=0.03)
    assert abs(est["qip"] - gau.qip(S1)) > 0.5 * gau.qip(S1)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 12), st.integers(1, 12), st.integers(1, 4),
       st.floats(0.05, 5.0))
def test_kde_symmetry_non_negativity_and_shapes(seed, n, m, d, sigma):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((n, d)), 2.0 * rng.standard_normal((m, d)) + 1.0
    for f in (kde.cs_divergence, kde.euclidean_divergence):
        v = f(X, Y, sigma)
        assert v >= -1e-12
        assert v == pytest.approx(f(Y, X, sigma), rel=1e-9, abs=1e-12)
        assert f(X, X, sigma) == pytest.approx(0.0, abs=1e-12)
    assert kde.cip(X, Y, sigma) == pytest.approx(kde.cip(Y, X, sigma), rel=1e-12)
    assert kde.cip(X, Y, sigma) ** 2 <= kde.qip(X, sigma) * kde.qip(Y, sigma) * (1 + 1e-12)
    c = kde.cip(X, Y, sigma)
    # A CIP below the smallest normal float is subnormal and has lost digits (e^-733 keeps
    # about 7 of them); an underflowed CIP is what log_cip exists for (tested below).
    if c > np.finfo(np.float64).tiny:
        assert np.log(c) == pytest.approx(kde.log_cip(X, Y, sigma), abs=1e-9)
    dX, dY = kde.cs_divergence_grad(X, Y, sigma)
    assert dX.shape == X.shape and dY.shape == Y.shape
    assert kde.qip_grad(X, sigma).shape == X.shape


def test_kde_log_domain_survives_underflow():
    """Far-apart samples: every kernel value underflows to 0, the log-domain CS stays finite
    (and equals its analytic value for single points: |x - y|^2 / (2 sigma^2))."""
    X, Y = np.array([[0.0, 0.0]]), np.array([[100.0, 0.0]])
    assert kde.cip(X, Y, 0.1) == 0.0
    assert kde.cs_divergence(X, Y, 0.1) == pytest.approx(100.0**2 / (2 * 0.1**2), rel=1e-12)
    assert np.all(np.isfinite(kde.cs_divergence_grad(X, Y, 0.1)[0]))


def test_parzen_density_integrates_and_matches_qip():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 1))
    grid = np.linspace(-8, 8, 4001)[:, None]
    p = kde.parzen_density(grid, X, 0.3)
    dx = grid[1, 0] - grid[0, 0]
    assert p.sum() * dx == pytest.approx(1.0, abs=1e-8)
    assert (p**2).sum() * dx == pytest.approx(kde.qip(X, 0.3), rel=1e-8)


def test_kde_bad_input():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="same number of features"):
        kde.cs_divergence(X, np.zeros((3, 3)), 1.0)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        kde.qip(X, 0.0)
    with pytest.raises(ValueError, match="X must have 2 dimensions"):
        kde.qip(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="Y contains 1 non-finite"):
        kde.cip(X, np.array([[np.nan, 0.0]]), 1.0)
    with pytest.raises(ValueError, match="X is empty"):
        kde.qip(np.zeros((0, 2)), 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kde_gradients_pass_the_checker(seed):
    results = run_checks(seed=seed, only="kde.*")
    assert len(results) == 11
    assert all(r.passed for r in results), [str(r) for r in results if not r.passed]


def test_a_wrong_gradient_fails_the_checker():
    """The registered check can fail: the QIP gradient without the factor 2 of the symmetric
    pair sum is caught."""
    from minivae.gradcheck.checkers import check_function

    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 2))
    bad = check_function(lambda X: kde.qip(X, 0.7), {"X": X},
                         lambda X: kde.cip_grad(X, X, 0.7)[0])
    assert not bad[0].passed
