"""VR-alpha / VR-max, STL, DReG, InfoVAE and WAE: what each bound and estimator promises.

The estimator tests use the linear-Gaussian model p(z) = N(0, 1), p(x | z) = N(z, 1), whose
posterior is N(x / 2, 1/2) and whose ELBO is known in closed form.  Stacking M copies of one
example as a batch of M rows gives M independent draws of each estimator at once (row n's
gradient, times M, is draw n, because the loss is the batch mean).
"""

import numpy as np
import pytest

from minivae.gradcheck import run_checks
from minivae.models import VAE
from minivae.nn.functional import log_mean_exp
from minivae.objectives.distributions import DiagonalGaussian
from minivae.objectives.elbo import negative_elbo_backward
from minivae.objectives.iwae import negative_iwae, negative_iwae_backward
from minivae.objectives.path_gradients import (
    dreg_backward,
    negative_elbo_stl,
    stl_backward,
)
from minivae.objectives.renyi import negative_vr, renyi_bound, renyi_weights

LOG_2PI = np.log(2.0 * np.pi)


# ------------------------------------------------------------------------------ VR bound
def test_vr_bound_equals_iwae_at_alpha_0_and_the_elbo_as_alpha_tends_to_1():
    log_w = np.random.default_rng(0).normal(-90.0, 2.0, size=(20, 7))
    np.testing.assert_allclose(renyi_bound(log_w, 0.0), log_mean_exp(log_w, axis=0), rtol=1e-14)
    mean, var = log_w.mean(axis=0), log_w.var(axis=0)
    gaps = []
    for alpha in (0.9, 0.99, 0.999, 0.9999):
        gap = renyi_bound(log_w, alpha) - mean
        gaps.append(np.abs(gap).max())
        # L_alpha = mean log w + (1 - alpha) var(log w) / 2 + O((1 - alpha)^2)
        np.testing.assert_allclose(gap / (1.0 - alpha), var / 2.0, rtol=30 * (1.0 - alpha))
    assert all(b < a / 5 for a, b in zip(gaps, gaps[1:]))  # shrinks like 1 - alpha
    np.testing.assert_allclose(renyi_bound(log_w, 1.0), mean, rtol=1e-14)
    np.testing.assert_array_equal(renyi_bound(log_w, -np.inf), log_w.max(axis=0))


def test_vr_bound_decreases_with_alpha_and_its_weights_are_a_softmax():
    log_w = np.random.default_rng(1).normal(0.0, 3.0, size=(10, 5))
    alphas = [-np.inf, -5.0, -1.0, 0.0, 0.5, 1.0, 3.0]
    bounds = np.array([renyi_bound(log_w, a) for a in alphas])
    assert np.all(np.diff(bounds, axis=0) <= 1e-12)  # Li & Turner: non-increasing in alpha
    for a in alphas:
        w = renyi_weights(log_w, a)
        np.testing.assert_allclose(w.sum(axis=0), 1.0, rtol=1e-12)
        assert np.all(w >= 0)
    np.testing.assert_allclose(renyi_weights(log_w, 1.0), 0.1)
    assert set(np.unique(renyi_weights(log_w, -np.inf))) == {0.0, 1.0}


def test_vr_objective_at_alpha_0_is_the_iwae_objective_in_the_model():
    X = np.random.default_rng(2).random((6, 5))
    losses, grads = [], []
    for objective, opts in (("iwae", {}), ("vr", {"alpha": 0.0})):
        m = VAE(5, [4], 3, objective=objective, k=4, rng=3, **opts)
        value, parts = m.loss(X, rng=7)
        m.backward()
        losses.append(value)
        grads.append(np.concatenate([g.ravel() for _, _, g in m.parameters()]))
        assert parts["loss"] == value
    assert losses[0] == pytest.approx(losses[1], rel=1e-13)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-11, atol=1e-13)


# --------------------------------------------------------------- STL and DReG estimators
def estimator_draws(mu0: float, logvar0: float, x: float, k: int, M: int, seed: int):
    """M draws (M, 2) of d loss / d(mu, logvar) of the IWAE loss (k samples) under each
    estimator, and of the ELBO loss for STL-ELBO / the closed-form-KL reparameterization."""
    rng = np.random.default_rng(seed)
    mu, lv = np.full((M, 1), mu0), np.full((M, 1), logvar0)
    inside = np.ones((M, 1), dtype=bool)
    q = DiagonalGaussian(mu, lv)
    z = q.rsample(rng, n_samples=k)
    rec, drec = 0.5 * (x - z[..., 0]) ** 2 + 0.5 * LOG_2PI, z - x
    _, _, g = negative_iwae(rec, z, q, 1.0)
    out = {name: M * fn(q, inside, z, g[..., None] * drec, g, 1.0) for name, fn in
           (("iwae", negative_iwae_backward), ("iwae_stl", stl_backward),
            ("iwae_dreg", dreg_backward))}
    _, _, g1 = negative_elbo_stl(rec, z, q, 1.0)
    out["elbo_stl"] = M * stl_backward(q, inside, z, g1[..., None] * drec, g1, 1.0)
    q1 = DiagonalGaussian(mu, lv)  # one sample, closed-form KL: the textbook estimator
    z1 = q1.rsample(rng)
    out["elbo"] = M * negative_elbo_backward(q1, inside, (z1 - x) / M, 1.0 / M)
    return out


def mean_and_sem(draws):
    return draws.mean(axis=0), draws.std(axis=0) / np.sqrt(draws.shape[0])


def test_stl_elbo_is_unbiased_for_the_elbo_gradient():
    # Closed form: loss = 0.5 ((x - mu)^2 + var) + const + KL(N(mu, var) || N(0, 1)).
    mu, lv, x = 0.3, 0.4, 2.0
    var = np.exp(lv)
    exact = np.array([(mu - x) + mu, 0.5 * var + 0.5 * (var - 1.0)])
    draws = estimator_draws(mu, lv, x, k=1, M=100_000, seed=0)
    for name in ("elbo_stl", "elbo"):
        mean, sem = mean_and_sem(draws[name])
        assert np.all(np.abs(mean - exact) < 4.5 * sem), (name, mean, exact, sem)


def test_dreg_is_unbiased_for_the_iwae_encoder_gradient_and_has_less_variance():
    # The expectation of DReG equals that of the standard IWAE estimator: means of 200 000
    # draws (k = 5) within 4.5 combined standard errors (~1e-3 here).
    draws = estimator_draws(0.0, 0.5, 2.0, k=5, M=200_000, seed=1)
    m_iwae, s_iwae = mean_and_sem(draws["iwae"])
    m_dreg, s_dreg = mean_and_sem(draws["iwae_dreg"])
    assert np.all(np.abs(m_dreg - m_iwae) < 4.5 * np.hypot(s_iwae, s_dreg))
    assert np.all(s_dreg < s_iwae)


def test_stl_iwae_is_biased_as_tucker_et_al_show():
    # With q far from the posterior, STL-IWAE's mean differs from the IWAE gradient's (Tucker
    # et al., 2019, section 3): here by more than 20 standard errors in d/dmu.
    draws = estimator_draws(0.0, 0.5, 2.0, k=5, M=200_000, seed=2)
    m_iwae, s_iwae = mean_and_sem(draws["iwae"])
    m_stl, s_stl = mean_and_sem(draws["iwae_stl"])
    assert abs(m_stl[0] - m_iwae[0]) > 20 * np.hypot(s_iwae[0], s_stl[0])


def test_path_estimators_have_zero_variance_when_q_is_the_posterior():
    # q = N(x/2, 1/2) is the exact posterior: log w is constant in z, every STL / DReG draw is
    # exactly 0 (Roeder et al.'s "sticking the landing"); the standard estimator's is not.
    draws = estimator_draws(1.0, np.log(0.5), 2.0, k=4, M=1000, seed=3)
    for name in ("elbo_stl", "iwae_stl", "iwae_dreg"):
        np.testing.assert_allclose(draws[name], 0.0, atol=1e-10, err_msg=name)
    assert draws["iwae"].std(axis=0).min() > 0.1


# ---------------------------------------------------------------------- models and checks
@pytest.mark.parametrize("objective", ["elbo_stl", "iwae_stl", "iwae_dreg", "vr", "vr_max",
                                       "infovae", "wae"])
def test_every_objective_trains_replays_and_round_trips_its_config(objective):
    X = np.random.default_rng(4).random((8, 6))
    m = VAE(6, [5], 2, objective=objective, k=3, rng=0)
    value, parts = m.loss(X, rng=1)
    again, _ = m.loss(X, eps=m.last_eps)
    assert value == again and np.isfinite(value)
    assert {"loss", "reconstruction", "kl", "elbo"} <= set(parts)
    m.backward()
    assert all(np.all(np.isfinite(g)) for _, _, g in m.parameters())
    terms = m.per_example_loss(X, rng=2)
    assert terms["loss"].shape == (8,) and np.all(np.isfinite(terms["loss"]))
    clone = VAE(**m.config())
    assert clone.config() == m.config()


def test_objective_options_are_validated():
    with pytest.raises(ValueError, match="objective must be one of"):
        VAE(4, [3], 2, objective="vr-max")
    with pytest.raises(ValueError, match="takes no alpha"):
        VAE(4, [3], 2, objective="iwae", alpha=0.5)
    with pytest.raises(ValueError, match="kernel must be one of"):
        VAE(4, [3], 2, objective="wae", kernel="gauss")
    with pytest.raises(ValueError, match="MMD weight"):
        VAE(4, [3], 2, objective="infovae", alpha=-2.0, mmd_lambda=1.0)
    with pytest.raises(ValueError, match="alpha must be <= 1"):
        VAE(4, [3], 2, objective="infovae", alpha=1.5)
    with pytest.raises(ValueError, match="free_bits"):
        VAE(4, [3], 2, objective="iwae_dreg", free_bits=0.5)
    m = VAE(4, [3], 2, objective="infovae")
    with pytest.raises(TypeError, match="pair"):
        m.loss(np.zeros((2, 4)), eps=np.zeros((2, 2)))


def test_vr_loss_value_is_minus_the_bound():
    rng = np.random.default_rng(5)
    q = DiagonalGaussian(rng.standard_normal((3, 2)), 0.1 * rng.standard_normal((3, 2)))
    z = q.rsample(rng, n_samples=4)
    rec = rng.random((4, 3)) * 10
    value, parts, g = negative_vr(rec, z, q, 0.5)
    assert value == pytest.approx(-parts["vr_bound"])
    np.testing.assert_allclose(g.sum(axis=0), 1.0 / 3)


@pytest.mark.parametrize("pattern", ["objective.*", "vae_objective.*"])
def test_registered_gradient_checks_pass(pattern):
    results = run_checks(seed=1, only=pattern)
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]
    names = {r.check for r in results}
    expected = {"vr", "vr_max", "elbo_stl", "iwae_stl", "iwae_dreg", "wae"}
    assert {n.split(".")[-1] for n in names} >= expected
