"""The latent priors (samplers, log densities) and the ITL autoencoder (gradients, replay of the
prior samples, training pulls the codes towards the prior, checkpoints)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck.registry import run_checks
from minivae.information import kde
from minivae.models import ITLAutoencoder, Model
from minivae.objectives.priors import PRIORS, GaussianPrior, LaplacePrior, make_prior


# ============================================================================ priors
def test_prior_moments():
    rng = np.random.default_rng(0)
    g = GaussianPrior(3, scale=2.0).sample(200_000, rng)
    assert g.shape == (200_000, 3)
    np.testing.assert_allclose(g.std(axis=0), 2.0, rtol=1e-2)
    lap = LaplacePrior(2, scale=0.5).sample(200_000, rng)
    np.testing.assert_allclose(lap.var(axis=0), 2 * 0.5**2, rtol=2e-2)  # Var = 2 b^2
    roll = make_prior("swiss_roll", 2, noise=0.0).sample(50_000, rng)
    r = np.linalg.norm(roll, axis=1)
    # radius t * scale / t_max with t in [1.5 pi, 4.5 pi]: [2/3, 2]
    assert r.min() >= 2 / 3 - 1e-12 and r.max() <= 2.0 + 1e-12


@pytest.mark.parametrize("name", ["gaussian", "laplace"])
def test_prior_log_prob_integrates_to_one(name):
    prior = make_prior(name, 1, scale=0.7)
    grid = np.linspace(-30, 30, 600_001)[:, None]
    dx = grid[1, 0] - grid[0, 0]
    assert np.exp(prior.log_prob(grid)).sum() * dx == pytest.approx(1.0, abs=1e-6)
    # 2-D log density is the sum of the coordinates'
    z = np.array([[0.3, -1.2]])
    two = make_prior(name, 2, scale=0.7)
    assert two.log_prob(z)[0] == pytest.approx(prior.log_prob(z[:, :1])[0]
                                               + prior.log_prob(z[:, 1:])[0], rel=1e-14)


def test_prior_sampling_is_reproducible_and_config_round_trips():
    for name in PRIORS:
        prior = make_prior(name, 2)
        np.testing.assert_array_equal(prior.sample(5, 3), prior.sample(5, 3))
        assert make_prior(**prior.config()).config() == prior.config()


def test_prior_bad_input():
    with pytest.raises(ValueError, match="prior must be one of"):
        make_prior("cauchy", 2)
    with pytest.raises(ValueError, match="dim must be 2"):
        make_prior("swiss_roll", 3)
    with pytest.raises(ValueError, match="scale must be > 0"):
        make_prior("gaussian", 2, scale=0.0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        GaussianPrior(2).sample(3, rng=None)
    with pytest.raises(ValueError, match="n must be >= 1"):
        GaussianPrior(2).sample(0, rng=0)
    with pytest.raises(NotImplementedError, match="no closed-form log density"):
        make_prior("swiss_roll", 2).log_prob(np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"z must have shape \(\*, 2\)"):
        GaussianPrior(2).log_prob(np.zeros((1, 3)))


# ============================================================================ the model
def test_itl_gradients_pass_the_checker():
    results = run_checks(seed=0, only="itl_autoencoder.*")
    assert {r.check for r in results} == {f"itl_autoencoder.{d}.{p}"
                                          for d in ("cs", "euclidean") for p in PRIORS}
    assert all(r.passed for r in results), [str(r) for r in results if not r.passed]


def test_loss_is_reconstruction_plus_weighted_divergence_and_replays():
    rng = np.random.default_rng(0)
    X = rng.random((12, 5))
    model = ITLAutoencoder(5, [4], 2, lam=2.5, sigma=0.8, rng=1)
    value, parts = model.loss(X, rng=3)
    z_prior = model.last_eps
    assert z_prior.shape == (12, 2)
    z = model.encode(X)
    expected = kde.cs_divergence(z, z_prior, 0.8)
    assert parts["divergence"] == pytest.approx(expected, rel=1e-12)
    assert value == pytest.approx(parts["reconstruction"] + 2.5 * expected, rel=1e-12)
    assert model.loss(X, eps=z_prior)[0] == value
    assert model.per_example_loss(X)["loss"].mean() == pytest.approx(parts["reconstruction"])
    with pytest.raises(ValueError, match="pass rng="):
        model.loss(X)
    with pytest.raises(ValueError, match=r"eps must have shape \(\*, 2\)"):
        model.loss(X, eps=np.zeros((4, 3)))


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 9), st.integers(1, 4), st.sampled_from(["cs", "euclidean"]),
       st.one_of(st.none(), st.integers(1, 7)))
def test_shapes(n, latent, divergence, m):
    model = ITLAutoencoder(3, [4], latent, divergence=divergence, prior_samples=m, rng=0)
    X = np.random.default_rng(n).random((n, 3))
    value, _ = model.loss(X, rng=0)
    assert np.isfinite(value)
    assert model.last_eps.shape == (m or n, latent)
    model.zero_grad()
    model.backward()
    assert all(np.all(np.isfinite(g)) for _, _, g in model.parameters())


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="divergence must be one of"):
        ITLAutoencoder(3, [4], 2, divergence="kl")
    with pytest.raises(ValueError, match="sigma must be > 0"):
        ITLAutoencoder(3, [4], 2, sigma=-1.0)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        ITLAutoencoder(3, [4], 2, lam=-1.0)
    with pytest.raises(ValueError, match="dim must be 2"):
        ITLAutoencoder(3, [4], 3, prior="swiss_roll")
    with pytest.raises(TypeError, match="prior_kwargs must be a dict"):
        ITLAutoencoder(3, [4], 2, prior_kwargs=[("scale", 2.0)])


def test_training_pulls_codes_to_the_prior_and_checkpoint_round_trips(tmp_path):
    """Same data, same seed: the regularised model's codes end far closer (in CS divergence) to
    the prior N(0, I) than those of the model trained with lambda = 0 (measured 0.044 vs 0.149
    after 30 epochs)."""
    rng = np.random.default_rng(0)
    X = rng.random((256, 6))
    prior_kw = {"prior": "gaussian", "sigma": 0.3, "rng": 0, "activation": "tanh"}
    fitted = {}
    for lam in (0.0, 5.0):
        model = ITLAutoencoder(6, [32], 2, lam=lam, **prior_kw)
        model.fit(X, epochs=30, batch_size=64, lr=3e-3, rng=0, verbose=0, diagnostics=False)
        fitted[lam] = model
    z_prior = fitted[5.0].prior.sample(256, 1)
    d = {lam: kde.cs_divergence(m.encode(X), z_prior, 0.3) for lam, m in fitted.items()}
    assert d[5.0] < 0.5 * d[0.0], d
    path = tmp_path / "itl.npz"
    fitted[5.0].save(path)
    loaded = Model.load(path)
    assert isinstance(loaded, ITLAutoencoder) and loaded.config() == fitted[5.0].config()
    np.testing.assert_array_equal(loaded.encode(X), fitted[5.0].encode(X))
