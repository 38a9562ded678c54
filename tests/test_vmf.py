"""The S-VAE's von Mises-Fisher posterior (minivae.objectives.vmf) and the Bessel functions under
it (minivae.objectives.bessel): log I_v against scipy (where installed), closed forms and a
direct numerical integral; Wood's sampler by Monte Carlo; the density's normalisation; the KL
against its Monte Carlo estimate; the registered gradient checks; the encoder map; the
"vmf" family in a VAE (training, bounds, checkpoint)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck.registry import run_checks
from minivae.models import VAE
from minivae.objectives import bessel
from minivae.objectives.bessel import bessel_iv_ratio, bessel_parts, log_bessel_iv
from minivae.objectives.posteriors import build_posterior
from minivae.objectives.vmf import (
    KAPPA_OFFSET,
    VonMisesFisher,
    log_uniform_sphere,
    vmf_encoder_backward,
    vmf_encoder_posterior,
    wood_eps,
)

KAPPAS = np.logspace(-3, 4, 400)
ORDERS = np.arange(0.0, 50.5, 0.5)


def _unit(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    g = rng.standard_normal(shape)
    return g / np.linalg.norm(g, axis=-1, keepdims=True)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    """Largest error relative to max(1, |b|) (log I_v crosses zero)."""
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


# -- Bessel functions ------------------------------------------------------------------------------
def test_log_bessel_matches_scipy_to_1e_10_over_the_whole_range():
    special = pytest.importorskip("scipy.special")
    for v in ORDERS:
        ive_v = special.ive(v, KAPPAS)
        assert _rel(log_bessel_iv(v, KAPPAS), np.log(ive_v) + KAPPAS) < 1e-10, v
        ratio = special.ive(v + 1.0, KAPPAS) / ive_v
        assert np.max(np.abs(bessel_iv_ratio(v, KAPPAS) / ratio - 1.0)) < 1e-10, v


@settings(max_examples=60, deadline=None, derandomize=True)
@given(v=st.floats(0.0, 60.0), log_kappa=st.floats(math.log(1e-3), math.log(1e4)))
def test_log_bessel_matches_scipy_at_any_order(v, log_kappa):
    special = pytest.importorskip("scipy.special")
    kappa = np.array([math.exp(log_kappa)])
    ref = np.log(special.ive(v, kappa)) + kappa
    assert _rel(log_bessel_iv(v, kappa), ref) < 1e-10


def test_half_integer_orders_match_their_closed_forms():
    """I_{1/2} = sqrt(2 / (pi k)) sinh k, I_{3/2} = sqrt(2 / (pi k)) (cosh k - sinh k / k): the
    vMF on S^2 (m = 3).  In log form, stable for large k; kappa where these forms are exact
    in float64 (no cancellation in cosh - sinh / k for k >= 1)."""
    k = np.logspace(-3, 2.5, 200)
    log_pref = 0.5 * np.log(2.0 / (np.pi * k))
    log_sinh = k + np.log1p(-np.exp(-2.0 * k)) - math.log(2.0)
    assert _rel(log_bessel_iv(0.5, k), log_pref + log_sinh) < 1e-12
    big = k[k >= 1.0]
    lp = 0.5 * np.log(2.0 / (np.pi * big))
    ref = lp + big - math.log(2.0) + np.log((1 + np.exp(-2 * big)) - (1 - np.exp(-2 * big)) / big)
    assert _rel(log_bessel_iv(1.5, big), ref) < 1e-12


def test_log_bessel_matches_a_direct_numerical_integral():
    """I_0(k) = (1/pi) int_0^pi exp(k cos t) dt, by the trapezoidal rule (exponentially
    accurate for a smooth periodic integrand), scaled by exp(-k); and integer orders
    I_v = (1/pi) int_0^pi exp(k cos t) cos(v t) dt where I_v / I_0 is not tiny (no cancellation)."""
    t = np.linspace(0.0, np.pi, 40001)
    weights = np.full(t.size, t[1])
    weights[[0, -1]] *= 0.5
    for k in np.logspace(-3, 4, 40):
        base = np.exp(k * (np.cos(t) - 1.0))
        for v in (0, 1, 2, 5):
            integral = np.sum(weights * base * np.cos(v * t)) / np.pi
            if v and integral < 1e-3:  # the oscillating part cancels: not a fair reference
                continue
            ref = math.log(integral) + k
            got = float(log_bessel_iv(float(v), np.array([k]))[0])
            assert abs(got - ref) / max(1.0, abs(ref)) < 1e-10, (v, k)


def test_both_regimes_agree_at_the_switch():
    """Series and asymptotic expansion (with its recurrence), both evaluated at kappa around
    KAPPA_SERIES, agree to ~1e-13: no step in the function where it changes method."""
    k = bessel.KAPPA_SERIES * np.array([0.9, 1.0, 1.1])
    for v in (0.0, 0.5, 4.0, 20.0, 60.0):
        log_s = np.log1p(bessel._series(v, k))
        ratio = k / (2 * (v + 1)) * np.exp(np.log1p(bessel._series(v + 1, k)) - log_s)
        log_ive, ratio_large, complement = bessel._large(v, k)
        log_s_large = log_ive + k + math.lgamma(v + 1) - v * np.log(k / 2)
        assert np.max(np.abs(log_s - log_s_large)) < 1e-12, v
        assert np.max(np.abs(ratio / ratio_large - 1)) < 1e-12, v
        assert np.max(np.abs((1 - ratio) / complement - 1)) < 1e-12, v


def test_complement_of_the_ratio_is_accurate_for_large_kappa():
    """1 - I_{v+1}/I_v against scipy's (ive(v) - ive(v+1)) / ive(v) where that is exact enough,
    and against its expansion (2v + 1) / (2 kappa) + O(kappa^-2) far beyond."""
    special = pytest.importorskip("scipy.special")
    k = np.logspace(1.5, 4, 50)
    for v in (0.0, 0.5, 9.0):
        ref = 1 - special.ive(v + 1, k) / special.ive(v, k)
        np.testing.assert_allclose(bessel_parts(v, k)[3], ref, rtol=1e-9)
    huge = np.array([1e8, 1e12, 1e100])
    for v in (0.0, 0.5, 9.0):
        lead = (2 * v + 1) / (2 * huge)
        np.testing.assert_allclose(bessel_parts(v, huge)[3], lead, rtol=1e-6)


def test_log_bessel_is_finite_and_right_for_huge_kappa():
    """log I_v(kappa) -> kappa - log(2 pi kappa) / 2 - (4v^2 - 1) / (8 kappa)."""
    k = np.array([1e6, 1e10, 1e100, 1e300])
    for v in (0.0, 0.5, 9.0):
        ref = k - 0.5 * np.log(2 * np.pi * k) - (4 * v * v - 1) / (8 * k)
        np.testing.assert_allclose(log_bessel_iv(v, k), ref, rtol=1e-15, atol=1e-9)


def test_ratio_limits_and_range():
    small, large = np.array([1e-3]), np.array([1e4])
    for v in (0.0, 1.5, 10.0):
        assert bessel_iv_ratio(v, small)[0] == pytest.approx(1e-3 / (2 * (v + 1)), rel=1e-6)
        # the next term of the expansion is O((2v + 1)^2 / kappa^2) ~ 5e-7 at v = 10
        assert bessel_iv_ratio(v, large)[0] == pytest.approx(1 - (2 * v + 1) / 2e4, rel=1e-6)
        r = bessel_iv_ratio(v, KAPPAS)
        assert np.all((r > 0) & (r < 1)) and np.all(np.diff(r) > 0)


@pytest.mark.parametrize("bad, match", [(-1.0, "v must be >= 0"), (float("nan"), "v")])
def test_bessel_refuses_a_bad_order(bad, match):
    with pytest.raises(ValueError, match=match):
        log_bessel_iv(bad, np.array([1.0]))


@pytest.mark.parametrize("kappa", [np.array([0.0, 1.0]), np.array([-2.0]), np.array([np.inf])])
def test_bessel_refuses_a_bad_kappa(kappa):
    with pytest.raises(ValueError, match="kappa"):
        log_bessel_iv(1.0, kappa)


# -- the sampler -------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, derandomize=True)
@given(m=st.integers(2, 12), log_kappa=st.floats(math.log(0.05), math.log(500.0)),
       seed=st.integers(0, 2**31))
def test_sampler_mean_resultant_length_within_three_standard_errors(m, log_kappa, seed):
    """E[mu^T z] = A_m(kappa) and E[(mu^T z)^2] = 1 - (m-1) A_m / kappa, each within 3 standard
    errors of a 4000-sample mean; every z on the sphere."""
    rng = np.random.default_rng(seed)
    kappa = math.exp(log_kappa)
    q = VonMisesFisher(_unit(rng, (1, m)), np.array([[kappa]]))
    z = q.sample(rng, 4000)[:, 0]  # (K, m)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-12)
    w = z @ q.mu[0]
    A = float(q.mean_resultant_length()[0, 0])
    assert abs(w.mean() - A) <= 3 * w.std() / math.sqrt(w.size)
    w2 = w**2
    assert abs(w2.mean() - (1 - (m - 1) * A / kappa)) <= 3 * w2.std() / math.sqrt(w.size)


def test_sample_mean_is_A_times_mu_in_every_coordinate():
    """The tangent part averages out: E[z] = A mu (checks the Householder step and v)."""
    rng = np.random.default_rng(3)
    mu = _unit(rng, (2, 5))
    q = VonMisesFisher(mu, np.array([[2.0], [30.0]]))
    z = q.sample(rng, 20000)  # (K, 2, 5)
    se = z.std(axis=0) / math.sqrt(z.shape[0])
    assert np.all(np.abs(z.mean(axis=0) - q.mean()) <= 4 * se)


def test_wood_eps_is_seeded_and_lies_in_the_unit_interval():
    kappa = np.array([[0.1], [5.0], [1e4]])
    a, b = wood_eps(4, kappa, 7), wood_eps(4, kappa, 7)
    assert np.array_equal(a, b) and a.shape == kappa.shape and np.all((a >= 0) & (a <= 1))


def test_rsample_replays_its_noise_and_keeps_the_generator_explicit():
    rng = np.random.default_rng(0)
    q = VonMisesFisher(_unit(rng, (3, 4)), np.array([[1.0], [10.0], [100.0]]))
    z1 = q.rsample(5, n_samples=2)
    assert z1.shape == (2, 3, 4) and q.eps.shape == (2, 3, 4)
    assert np.array_equal(q.rsample(None, n_samples=2, eps=q.eps), z1)
    assert np.array_equal(VonMisesFisher(q.mu, q.kappa).rsample(5, n_samples=2), z1)
    kept = q.eps.copy()
    q.sample(1)
    assert np.array_equal(q.eps, kept)  # sample() keeps no noise


def test_mu_equal_to_e1_needs_no_reflection():
    q = VonMisesFisher(np.array([[1.0, 0.0, 0.0]]), np.array([[3.0]]))
    z = q.rsample(0)
    assert np.all(np.isfinite(z)) and abs(np.linalg.norm(z) - 1) < 1e-12
    dmu, dkappa = q.rsample_backward(np.ones((1, 3)))
    assert np.all(np.isfinite(dmu)) and np.all(np.isfinite(dkappa))


# -- density and KL -----------------------------------------------------------------------------
@pytest.mark.parametrize("kappa", [0.01, 1.0, 40.0, 2000.0])
def test_log_prob_integrates_to_one_on_the_circle(kappa):
    theta = np.linspace(0.0, 2 * np.pi, 20001)[:-1]
    z = np.stack([np.cos(theta), np.sin(theta)], axis=1)[:, None, :]  # (K, 1, 2)
    q = VonMisesFisher(np.array([[0.6, 0.8]]), np.array([[kappa]]))
    mass = np.sum(np.exp(q.log_prob(z))) * (2 * np.pi / theta.size)
    assert mass == pytest.approx(1.0, rel=1e-9)


def test_kl_matches_the_closed_form_on_the_two_sphere():
    """m = 3: KL = kappa coth(kappa) - 1 - log(sinh(kappa) / kappa)."""
    k = np.logspace(-1, 2.5, 50)[:, None]
    q = VonMisesFisher(np.tile([[0.0, 0.0, 1.0]], (50, 1)), k)
    log_sinh_over_k = k + np.log1p(-np.exp(-2 * k)) - math.log(2.0) - np.log(k)
    ref = (k / np.tanh(k) - 1.0 - log_sinh_over_k)[:, 0]
    np.testing.assert_allclose(q.kl_uniform(), ref, rtol=1e-10)


def test_kl_is_accurate_and_positive_for_small_kappa():
    """KL ~ kappa^2 / (2m) as kappa -> 0: kept to full relative precision by the series."""
    for m in (2, 3, 10):
        q = VonMisesFisher(np.eye(m)[:1], np.array([[1e-3]]))
        assert q.kl_uniform()[0] == pytest.approx(1e-6 / (2 * m), rel=1e-3)
        assert q.kl_uniform()[0] > 0


@pytest.mark.parametrize("m, kappa", [(2, 3.0), (3, 0.5), (5, 20.0), (16, 200.0)])
def test_kl_matches_its_monte_carlo_estimate(m, kappa):
    rng = np.random.default_rng(m)
    q = VonMisesFisher(_unit(rng, (1, m)), np.array([[kappa]]))
    log_ratio = q.log_prob(q.sample(rng, 20000))[:, 0] - log_uniform_sphere(m)
    se = log_ratio.std() / math.sqrt(log_ratio.size)
    assert abs(log_ratio.mean() - q.kl_uniform()[0]) <= 4 * se + 1e-12


def test_uniform_sphere_area():
    assert math.exp(-log_uniform_sphere(2)) == pytest.approx(2 * math.pi)
    assert math.exp(-log_uniform_sphere(3)) == pytest.approx(4 * math.pi)


# -- gradients (the registered checks, a few seeds each) ----------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_registered_gradient_checks_pass(seed):
    results = run_checks(only="vmf.*", seed=seed) + run_checks(only="bessel.*", seed=seed)
    assert len(results) >= 10
    failed = [str(r) for r in results if not r.passed]
    assert not failed, "\n".join(failed)


def test_a_wrong_kappa_gradient_would_be_caught():
    """The check can fail: the sample's kappa-gradient with g_rep's sign flipped is refused."""
    from minivae.gradcheck.checkers import check_function

    rng = np.random.default_rng(1)
    mu, kappa = _unit(rng, (3, 4)), np.array([[0.7], [4.0], [25.0]])
    q = VonMisesFisher(mu, kappa)
    z = q.rsample(rng)
    eps, dz = q.eps, rng.standard_normal(z.shape)

    def f(kappa):
        return float(np.sum(VonMisesFisher(mu, kappa).rsample(None, eps=eps) * dz))

    def wrong(kappa):
        q = VonMisesFisher(mu, kappa)
        q.rsample(None, eps=eps)
        return -q.rsample_backward(dz)[1]

    assert not check_function(f, {"kappa": kappa}, wrong)[0].passed


# -- encoder map and bad input -------------------------------------------------------------------
def test_encoder_map_normalises_and_offsets_kappa():
    h = np.array([[3.0, 4.0, -50.0], [0.0, 0.0, 0.0], [1e200, -1e200, 2.0]])
    q, inside = vmf_encoder_posterior(h)
    np.testing.assert_allclose(q.mu, [[0.6, 0.8], [1.0, 0.0], [2**-0.5, -(2**-0.5)]])
    assert np.all(q.kappa >= KAPPA_OFFSET) and q.kappa[0, 0] == pytest.approx(1.0)
    q.rsample(0)
    dh = vmf_encoder_backward(q, inside, np.ones((3, 2)), 0.5)
    assert dh.shape == (3, 3) and np.all(np.isfinite(dh))
    assert np.all(dh[1, :2] == 0)  # the all-zero direction passes no gradient


@pytest.mark.parametrize("mu, kappa, match", [
    (np.array([[1.0, 1.0]]), np.array([[1.0]]), "mu's rows must be unit"),
    (np.array([[1.0]]), np.array([[1.0]]), "mu must have m >= 2"),
    (np.array([[1.0, 0.0]]), np.array([[0.0]]), "kappa must lie in"),
    (np.array([[1.0, 0.0]]), np.array([[1e12]]), "kappa must lie in"),
    (np.array([[1.0, 0.0]]), np.array([1.0]), "kappa must have shape"),
])
def test_bad_parameters_are_named(mu, kappa, match):
    with pytest.raises(ValueError, match=match):
        VonMisesFisher(mu, kappa)


def test_bad_noise_and_order_of_calls():
    q = VonMisesFisher(np.array([[0.0, 1.0, 0.0]]), np.array([[2.0]]))
    with pytest.raises(RuntimeError, match="before rsample"):
        q.rsample_backward(np.ones((1, 3)))
    with pytest.raises(ValueError, match="eps"):
        q.rsample(None, eps=np.array([[1.5, 1.0, 0.0]]))
    with pytest.raises(ValueError, match="eps"):
        q.rsample(None, eps=np.array([[0.5, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="z's rows must be unit"):
        q.log_prob(np.array([[0.0, 2.0, 0.0]]))
    with pytest.raises(ValueError, match="h must have"):
        vmf_encoder_posterior(np.ones((2, 2)))
    with pytest.raises(TypeError, match="q must be a VonMisesFisher"):
        vmf_encoder_backward("q", np.ones((1, 4)), np.ones((1, 3)), 1.0)


# -- the "vmf" family in a VAE -------------------------------------------------------------------
def _binary(n: int, d: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, d)) < 0.35).astype(np.float64)


def test_family_protocol():
    fam = build_posterior("vmf", 3, rng=0)
    assert fam.width == 4 and fam.analytic_kl
    q, _ = fam.make(np.array([[1.0, 2.0, 2.0, 0.5]]))
    assert fam.summary(q) is None and np.allclose(fam.code(q), [[1 / 3, 2 / 3, 2 / 3]])
    with pytest.raises(TypeError, match="q must be a VonMisesFisher"):
        fam.summary(None)
    with pytest.raises(ValueError, match=r"latent_dim \+ 1 = 4 columns"):
        fam.make(np.ones((2, 3)))
    z = fam.sample_prior(0, 5)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0)
    np.testing.assert_allclose(fam.log_prior(z[None]), -math.log(4 * math.pi))
    with pytest.raises(ValueError, match="latent_dim"):
        build_posterior("vmf", 1)


def test_svae_fits_and_round_trips_a_checkpoint(tmp_path):
    X = _binary(64, 12, 0)
    model = VAE(12, [16], 3, posterior="vmf", likelihood="bernoulli", rng=0)
    before = model.per_example_loss(X, rng=1)["loss"].mean()
    hist = model.fit(X, epochs=25, batch_size=16, lr=1e-2, rng=0, verbose=0)
    after = model.per_example_loss(X, rng=1)["loss"].mean()
    assert after < before - 0.5, (before, after)
    assert hist is not None
    q, _ = model._posterior(X, None, None)
    assert np.all(q.kappa >= 1.0) and np.all(model.per_example_loss(X, rng=1)["kl"] > 0)
    path = tmp_path / "svae.npz"
    model.save(path)
    loaded = VAE.load(path)
    assert loaded.posterior_name == "vmf" and loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.iwae_bound(X, 5, 2), model.iwae_bound(X, 5, 2))
    z = loaded.sample(4, 0)
    assert z.shape == (4, 12)
