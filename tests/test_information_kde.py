"""minivae.information.kde_entropy: the Parzen plug-in Shannon/Renyi measures converge to their
large-sample limits (closed forms of the kernel-smoothed Gaussians, or 1-D quadrature where
there is none), Renyi -> Shannon as alpha -> 1, the alpha = 2 identity with kde.py's quadratic
entropy, symmetry/bounds/monotonicity, shapes and edges, bad input, and the gradient checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck.checkers import check_function
from minivae.gradcheck.registry import run_checks
from minivae.information import gaussian as gau
from minivae.information import kde
from minivae.information import kde_entropy as ke

SIGMA = 0.5
M1, S1 = np.array([0.0, 0.0]), np.array([[1.0, 0.5], [0.5, 1.5]])
M2, S2 = np.array([1.0, -0.5]), np.array([[2.0, 0.0], [0.0, 1.2]])
I2 = SIGMA**2 * np.eye(2)


# ============================================================================ convergence
def _limits() -> dict[str, float]:
    """Large-N limits for X ~ N(M1, S1), Y ~ N(M2, S2): functionals of p and the smoothed
    p_s = N(M1, S1 + sigma^2 I), q_s = N(M2, S2 + sigma^2 I) (module docstring of kde_entropy),
    all closed forms of gaussian.py."""
    out = {"H": gau.cross_entropy(M1, S1, M1, S1 + I2),
           "HC": gau.cross_entropy(M1, S1, M2, S2 + I2)}
    out["KL"] = out["HC"] - out["H"]
    # I(X1; X2) = H(X1) + H(X2) - H(X1, X2), each term a cross-entropy with its smoothing.
    marg = [gau.cross_entropy(M1[k:k + 1], S1[k:k + 1, k:k + 1], M1[k:k + 1],
                              S1[k:k + 1, k:k + 1] + SIGMA**2) for k in (0, 1)]
    out["MI"] = marg[0] + marg[1] - out["H"]
    for a in (0.5, 2.0, 3.0):
        out[f"H_{a}"] = gau.renyi_cross_entropy(M1, S1, M1, S1 + I2, a)
    for a in (0.75, 2.0, 3.0):
        out[f"HC_{a}"] = gau.renyi_cross_entropy(M1, S1, M2, S2 + I2, a)
    return out


def _estimates(N: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    X, Y = rng.multivariate_normal(M1, S1, N), rng.multivariate_normal(M2, S2, N)
    out = {"H": ke.entropy(X, SIGMA), "HC": ke.cross_entropy(X, Y, SIGMA),
           "KL": ke.kl_divergence(X, Y, SIGMA),
           "MI": ke.mutual_information(X[:, :1], X[:, 1:], SIGMA)}
    for a in (0.5, 2.0, 3.0):
        out[f"H_{a}"] = ke.renyi_entropy(X, a, SIGMA)
    for a in (0.75, 2.0, 3.0):
        out[f"HC_{a}"] = ke.renyi_cross_entropy(X, Y, a, SIGMA)
    return out


def _mean_abs_error(N: int, seeds: int = 3) -> dict[str, float]:
    exact = _limits()
    runs = [_estimates(N, s) for s in range(seeds)]
    return {k: float(np.mean([abs(r[k] - exact[k]) for r in runs])) for k in exact}


def test_estimators_converge_to_the_smoothed_closed_forms():
    """Mean absolute error over 3 seeds (nats), D = 2, sigma = 0.5: below 0.05 at N = 1000 for
    every measure and smaller than at N = 100 (measured at N = 1000: 0.008-0.015 for H, H(X;Y),
    KL, MI, H_2, H_3 and the Renyi cross-entropies, 0.041 for H_0.5; at N = 100: 0.05-0.28).
    Resubstitution bias O(1/(N sigma^D)) from the i = j kernel, noise O(1/sqrt N).  The Renyi
    cross-entropy is tested at alpha = 0.75, not 0.5: at 0.5 the variance of q(x)^(alpha - 1)
    under p is infinite for these covariances and the estimate converges too slowly to test."""
    small, large = _mean_abs_error(100), _mean_abs_error(1000)
    for k in large:
        assert large[k] < 0.05, (k, large[k])
        assert large[k] < small[k], (k, small[k], large[k])


def test_the_limit_is_not_the_entropy_of_the_smoothed_density():
    """Control: the resubstitution estimate converges to H(p, p_s), not to H(p_s) (the
    'sigma^2 added to the variances' formula of the quadratic measures): with sigma = 0.5 that
    is > 0.15 nats from the estimate at N = 1000, three times the tolerance above, so the
    convergence test would fail against it.  (H(p) itself is only 0.03 nats from the limit
    here: the smoothing enters H(p, p_s) at second order.)"""
    est = np.mean([ke.entropy(np.random.default_rng(s).multivariate_normal(M1, S1, 1000), SIGMA)
                   for s in range(3)])
    assert abs(est - _limits()["H"]) < 0.05
    assert abs(est - gau.entropy(S1 + I2)) > 0.15


MQ, VQ = 0.5, 1.5  # the 1-D q = N(0.5, 1.5); p = N(0, 1)


def _quad_limits(alpha: float) -> tuple[float, float]:
    """1-D p = N(0, 1), q = N(MQ, VQ), sigma = 0.5: the JS and D_alpha limits (functionals of
    p, q, p_s, q_s) by the trapezoid rule on a fine grid (the mixture has no closed form)."""
    x = np.linspace(-20.0, 20.0, 40001)
    dens = lambda m, v: np.exp(-0.5 * (x - m) ** 2 / v) / np.sqrt(2 * np.pi * v)  # noqa: E731
    p, q = dens(0.0, 1.0), dens(MQ, VQ)
    ps, qs = dens(0.0, 1.0 + SIGMA**2), dens(MQ, VQ + SIGMA**2)
    ms = 0.5 * (ps + qs)
    js = 0.5 * np.trapezoid(p * np.log(ps / ms), x) + 0.5 * np.trapezoid(q * np.log(qs / ms), x)
    da = np.log(np.trapezoid(p * (ps / qs) ** (alpha - 1.0), x)) / (alpha - 1.0)
    return float(js), float(da)


def _divergence_errors(alpha: float, N: int) -> tuple[float, float]:
    js, da = _quad_limits(alpha)
    err_js, err_da = [], []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((N, 1))
        Y = MQ + np.sqrt(VQ) * rng.standard_normal((N, 1))
        err_js.append(abs(ke.js_divergence(X, Y, SIGMA) - js))
        err_da.append(abs(ke.renyi_divergence(X, Y, alpha, SIGMA) - da))
    return float(np.mean(err_js)), float(np.mean(err_da))


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_js_and_renyi_divergence_converge(alpha):
    """1-D, 4 seeds, mean absolute error (nats) below 0.03 at N = M = 2000 and smaller than at
    N = 300 (measured at 2000: JS 0.003, D_0.5 0.009, D_2 0.012; at 300: 0.011, 0.027, 0.057;
    single seeds of D_2 reach 0.04: p / q is noisy where q's samples are sparse).  The
    quadrature agrees with the closed form H(p, q_s) - H(p, p_s) as alpha -> 1."""
    assert _quad_limits(1.0 + 1e-4)[1] == pytest.approx(
        gau.cross_entropy([0.0], [[1.0]], [MQ], [[VQ + SIGMA**2]])
        - gau.cross_entropy([0.0], [[1.0]], [0.0], [[1.0 + SIGMA**2]]), abs=1e-3)
    small, large = _divergence_errors(alpha, 300), _divergence_errors(alpha, 2000)
    assert max(large) < 0.03, large
    assert large[0] < small[0] and large[1] < small[1], (small, large)


# ============================================================================ identities
def test_alpha_two_is_kde_quadratic_entropy_at_bandwidth_over_sqrt2():
    """Plug-in H_2 with kernel G_sigma = kde.renyi_quadratic_entropy with G_{s sqrt 2}, s =
    sigma / sqrt 2 (the same double sum); at the same sigma they differ."""
    X = np.random.default_rng(0).standard_normal((30, 3))
    h2 = ke.renyi_entropy(X, 2.0, 0.7)
    assert h2 == pytest.approx(kde.renyi_quadratic_entropy(X, 0.7 / np.sqrt(2.0)), rel=1e-13)
    assert abs(h2 - kde.renyi_quadratic_entropy(X, 0.7)) > 0.1


def test_renyi_approaches_shannon_as_alpha_goes_to_one():
    """|H_a - H| shrinks linearly in |a - 1| (the derivative at a = 1 is finite) for the
    entropy, cross-entropy and divergence; a = 1 itself is the Shannon measure."""
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((40, 2)), 0.8 * rng.standard_normal((30, 2)) + 0.3
    pairs = [(lambda a: ke.renyi_entropy(X, a, 0.6), ke.entropy(X, 0.6)),
             (lambda a: ke.renyi_cross_entropy(X, Y, a, 0.6), ke.cross_entropy(X, Y, 0.6)),
             (lambda a: ke.renyi_divergence(X, Y, a, 0.6), ke.kl_divergence(X, Y, 0.6))]
    for f, shannon in pairs:
        gaps = [abs(f(1.0 + e) - shannon) for e in (1e-1, 1e-3, 1e-5)]
        assert gaps[0] > 10 * gaps[1] > 100 * gaps[2], gaps
        assert abs(f(1.0 - 1e-6) - shannon) < 1e-5
        assert f(1.0) == shannon


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 7), st.integers(1, 7), st.integers(1, 3),
       st.floats(0.05, 5.0))
def test_symmetry_bounds_monotonicity_and_shapes(seed, n, m, d, sigma):
    """JS symmetric, <= log 2; KL, D_a and JS zero for X = Y; H_a non-increasing and D_a
    non-decreasing in alpha (power means of p(x_i), exact for any sample); every gradient has its
    input's shape, and the measures are translation invariant, so each gradient of a measure of
    one set sums to 0 over the samples."""
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((n, d)), 2.0 * rng.standard_normal((m, d)) + 1.0
    js = ke.js_divergence(X, Y, sigma)
    assert js == pytest.approx(ke.js_divergence(Y, X, sigma), rel=1e-12, abs=1e-14)
    assert js <= np.log(2.0) + 1e-12
    for f in (ke.kl_divergence, ke.js_divergence):
        assert abs(f(X, X, sigma)) < 1e-12
    hs = [ke.renyi_entropy(X, a, sigma) for a in (0.3, 1.0, 2.0, 4.0)]
    ds = [ke.renyi_divergence(X, Y, a, sigma) for a in (0.3, 1.0, 2.0, 4.0)]
    assert np.all(np.diff(hs) <= 1e-10) and np.all(np.diff(ds) >= -1e-10), (hs, ds)
    assert ke.renyi_divergence(X, X, 2.5, sigma) == pytest.approx(0.0, abs=1e-12)
    g = ke.renyi_entropy_grad(X, 2.5, sigma)
    assert g.shape == X.shape and np.allclose(g.sum(axis=0), 0.0, atol=1e-9)
    for grad in (ke.js_divergence_grad, ke.kl_divergence_grad, ke.cross_entropy_grad):
        dX, dY = grad(X, Y, sigma)
        assert dX.shape == X.shape and dY.shape == Y.shape
        assert np.allclose(dX.sum(axis=0) + dY.sum(axis=0), 0.0, atol=1e-9)
    shift = rng.standard_normal(d)
    assert ke.js_divergence(X + shift, Y + shift, sigma) == pytest.approx(js, rel=1e-9, abs=1e-12)


def test_finite_sample_divergences_can_be_negative():
    """The documented counterexample: X = {-1, 1}, Y = {0}, sigma = 1.  p(1) = (G(0) + G(2)) / 2
    < q(1) = G(1), so KL(X || Y) = log(0.5677 / 0.6065) = -0.066 < 0 (the same for D_a)."""
    X, Y = np.array([[-1.0], [1.0]]), np.array([[0.0]])
    expected = np.log(0.5 * (1.0 + np.exp(-2.0)) / np.exp(-0.5))
    assert ke.kl_divergence(X, Y, 1.0) == pytest.approx(expected, rel=1e-12)
    assert ke.kl_divergence(X, Y, 1.0) < 0.0 and ke.renyi_divergence(X, Y, 2.0, 1.0) < 0.0


def test_mutual_information_of_independent_and_copied_coordinates():
    """sigma = 0.5, N = 800: independent columns give I near 0 (measured 0.011, a positive
    bias); a copied column gives I > 0.5 (measured 0.86; it grows without bound as sigma -> 0),
    and the MI of (X, Y) is symmetric."""
    rng = np.random.default_rng(3)
    X, Z = rng.standard_normal((800, 1)), rng.standard_normal((800, 1))
    assert abs(ke.mutual_information(X, Z, 0.5)) < 0.03
    assert ke.mutual_information(X, X, 0.5) > 0.5
    assert ke.mutual_information(X, Z, 0.5) == pytest.approx(
        ke.mutual_information(Z, X, 0.5), rel=1e-12)


def test_log_domain_survives_underflow():
    """Far-apart points in high D: every cross kernel underflows, the estimates stay finite and
    exact (log q(x) = log G(100) known in closed form)."""
    X, Y = np.zeros((2, 50)), np.full((1, 50), 10.0)
    D, s = 50, 0.1
    exact = 0.5 * D * np.log(2 * np.pi * s**2) + 50 * 100.0 / (2 * s**2)
    assert ke.cross_entropy(X, Y, s) == pytest.approx(exact, rel=1e-12)
    for g in ke.js_divergence_grad(X, Y, s) + ke.kl_divergence_grad(X, Y, s):
        assert np.all(np.isfinite(g))
    assert ke.js_divergence(X, Y, s) == pytest.approx(np.log(2.0), rel=1e-12)


# ============================================================================ bad input
def test_bad_input():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="same number of features"):
        ke.kl_divergence(X, np.zeros((3, 3)), 1.0)
    with pytest.raises(ValueError, match="paired"):
        ke.mutual_information(X, np.zeros((4, 1)), 1.0)
    for sigma in (0.0, -1.0, 1e-300):  # sigma^2 must not underflow (it divides)
        with pytest.raises(ValueError, match="sigma must be >= 1e-100"):
            ke.entropy(X, sigma)
    with pytest.raises(ValueError, match=r"sigma must be <= 1e\+100"):
        ke.renyi_entropy_grad(X, 2.0, 1e300)
    with pytest.raises(ValueError, match="sigma must be finite"):
        ke.js_divergence(X, X, float("nan"))
    for alpha in (0.0, -0.5):
        with pytest.raises(ValueError, match="alpha must be > 0"):
            ke.renyi_entropy(X, alpha, 1.0)
    with pytest.raises(ValueError, match="alpha must be finite"):
        ke.renyi_divergence(X, X, float("inf"), 1.0)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        ke.renyi_cross_entropy_grad(X, X, True, 1.0)
    bad = X.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="X"):
        ke.entropy_grad(bad, 1.0)
    with pytest.raises(ValueError, match="Y"):
        ke.js_divergence_grad(X, bad, 1.0)
    with pytest.raises(ValueError, match="X must have 2 dimensions"):
        ke.entropy(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="m_q must have shape"):
        gau.renyi_cross_entropy([0.0], [[1.0]], [0.0, 0.0], np.eye(2), 2.0)
    with pytest.raises(ValueError, match="infinite"):
        gau.renyi_cross_entropy([0.0], [[4.0]], [0.0], [[1.0]], 0.5)


# ============================================================================ gradients
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradients_pass_the_checker(seed):
    results = run_checks(seed=seed, only="kde_entropy.*")
    assert len(results) == 24
    assert all(r.passed for r in results), [str(r) for r in results if not r.passed]


def test_a_wrong_js_gradient_fails_the_checker():
    """Control: dropping the second half's contribution (the y_j half) is caught."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((4, 2)), rng.standard_normal((3, 2)) + 0.5
    wrong = lambda X, Y: ke._js_half_grad(X, Y, 0.8)  # noqa: E731
    results = check_function(lambda X, Y: ke.js_divergence(X, Y, 0.8), {"X": X, "Y": Y}, wrong)
    assert not all(r.passed for r in results)


def test_gaussian_renyi_cross_entropy_limits():
    """alpha = 1 is the cross-entropy, q = p gives the Renyi entropy, and alpha near 1 is close
    to the cross-entropy; Monte Carlo agreement at alpha = 2 within 3 standard errors."""
    S_p, S_q = np.array([[1.0, 0.3], [0.3, 0.8]]), np.array([[2.0, -0.2], [-0.2, 1.5]])
    m_p, m_q = np.array([0.3, -0.2]), np.array([-0.5, 0.4])
    ce = gau.cross_entropy(m_p, S_p, m_q, S_q)
    assert gau.renyi_cross_entropy(m_p, S_p, m_q, S_q, 1.0) == ce
    assert gau.renyi_cross_entropy(m_p, S_p, m_q, S_q, 1.0 + 1e-7) == pytest.approx(ce, abs=1e-6)
    assert gau.renyi_cross_entropy(m_p, S_p, m_p, S_p, 2.5) == pytest.approx(
        gau.renyi_entropy(S_p, 2.5), rel=1e-13)
    x = np.random.default_rng(0).multivariate_normal(m_p, S_p, 200_000)
    d = x - m_q
    q = np.exp(-0.5 * np.einsum("ni,ij,nj->n", d, np.linalg.inv(S_q), d)) / np.sqrt(
        np.linalg.det(2 * np.pi * S_q))
    mc, se = -np.log(q.mean()), q.std() / q.mean() / np.sqrt(q.size)
    assert abs(gau.renyi_cross_entropy(m_p, S_p, m_q, S_q, 2.0) - mc) < 3 * se
